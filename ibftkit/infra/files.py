"""Files the user names, and writing files all or nothing: the one atomic write of ibftkit.

``check_input``/``check_output`` check a path given on a command line (an option's argument or an
operand) before anything is done with it, so that a missing, unreadable or empty file, or a
directory where a file belongs, is one line naming the option, the path and why (the errno's
text, strerror(3)) and exit status 2, never an empty read or a half-done run.

``write_atomic(path, data, mode=0o644)`` writes a temporary file in the same directory (opened
``O_CREAT | O_EXCL``, so never someone else's file), sets ``mode`` on it with ``fchmod`` (the umask
does not apply), ``fsync``s it, then ``rename(2)``s it over ``path``: a reader sees the old file or
the new one, never a part (POSIX ``rename``; ext4 and xfs order the data before the rename after
the ``fsync``). On any error the temporary file is removed and the error raised (``OSError``).

Modes: :data:`PUBLIC` (0644) for tables, renders and resolv.conf; :data:`SECRET` (0600) only where
a CHAP secret is written (node records). Standard library only, and no ``tempfile`` (it imports
``random`` and ``shutil``: a tenth of a second of ``ibftkit-init``'s start-up in a guest).
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
from pathlib import Path

from .errors import UsageError, errno_text

#: Mode of a file anyone may read: tables, renders, resolv.conf.
PUBLIC = 0o644
#: Mode of a file that holds a secret (a CHAP secret in a node record): the owner only.
SECRET = 0o600

_serial = itertools.count()


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, mode: int = PUBLIC) -> None:
    """Replace ``path`` with ``data`` (``str`` is written as UTF-8), mode exactly ``mode``.

    Raises ``OSError`` (the directory missing or not writable, disk full); ``path`` is then as it was.
    """
    target = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{next(_serial)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _where(path: str | os.PathLike[str], option: str) -> str:
    return f"{option} {os.fspath(path)}" if option else os.fspath(path)


def check_input(path: str | os.PathLike[str], *, option: str = "", directory: bool = False, empty: bool = True,
                expected: str = "", hint: str | None = None) -> None:
    """Check a file the user named, before it is read: it opens for reading and is not a directory
    (unless ``directory``) nor an empty regular file (unless ``empty``; a file under ``/proc`` whose
    size says 0 is read to tell).

    Raises ``UsageError`` (exit 2) ``"OPTION PATH: why"`` (``why``: the errno's text, "empty file"),
    with `` (expected …)`` when ``expected`` is given, and ``hint`` on a permission error.
    """
    where = _where(path, option)
    tail = f" (expected {expected})" if expected else ""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # (a FIFO: no wait for a writer)
    except OSError as e:
        denied = e.errno in (errno.EACCES, errno.EPERM)
        raise UsageError(f"{where}: {errno_text(e)}{tail}", hint=hint if denied else None) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode) and not directory:
            raise UsageError(f"{where}: {os.strerror(errno.EISDIR)}{tail}")
        if not empty and stat.S_ISREG(st.st_mode) and st.st_size == 0 and not os.read(fd, 1):
            raise UsageError(f"{where}: empty file{tail}")
    except OSError as e:  # a read error (EIO; EISDIR from an odd file system)
        raise UsageError(f"{where}: {errno_text(e)}{tail}") from None
    finally:
        os.close(fd)


def check_writable(path: str | os.PathLike[str], *, option: str = "") -> None:
    """Check a file the user named to be appended to (a log device such as ``/dev/kmsg``), which
    must exist: it opens for writing (``O_APPEND``, never created). Raises ``UsageError`` (exit 2)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_CLOEXEC))
    except OSError as e:
        raise UsageError(f"{_where(path, option)}: {errno_text(e)}") from None


def check_output(path: str | os.PathLike[str], *, option: str = "") -> None:
    """Check a file the user asked to be written, before any work: not a directory, and its
    directory exists and is writable. Raises ``UsageError`` (exit 2) ``"OPTION PATH: why"``."""
    where = _where(path, option)
    target = Path(path)
    parent = target.parent
    if target.is_dir():
        raise UsageError(f"{where}: {os.strerror(errno.EISDIR)}")
    if not parent.exists():
        raise UsageError(f"{where}: {os.strerror(errno.ENOENT)} (no directory {parent})")
    if not parent.is_dir():
        raise UsageError(f"{where}: {os.strerror(errno.ENOTDIR)} ({parent} is not a directory)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{where}: {os.strerror(errno.EACCES)} (cannot create files in {parent})")
