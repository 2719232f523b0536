"""Writing files all or nothing: the one atomic write of ibftkit.

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

import itertools
import os
from pathlib import Path

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
