"""The only place ibftkit starts a process.

Rules (after mkosi's ``run.py`` and cloud-init's ``subp``):

- argv lists only, never a shell;
- a clean environment built from nothing (``PATH`` and ``LC_ALL=C``): no variable of the caller
  reaches the child, so no secret can travel there, and the child's messages are in English for
  the error mapping;
- stdin is ``/dev/null``; stdout and stderr are captured (in unlinked temporary files, so a
  daemon left behind cannot hold the wait open) and returned with every registered secret
  replaced by ``<redacted>`` (``iscsistart`` echoes an over-long ``-w`` value in its error);
- every run has a timeout; the child runs in its own session and the whole process group is
  killed when it expires (``iscsistart`` forks an embedded iscsid);
- the wait ends when the child does: on Linux >= 5.3 a pidfd (``pidfd_open(2)``) polled until it is
  readable, which the kernel makes it when the process exits; elsewhere ``Popen.wait(timeout=)``,
  which polls ``waitpid`` with sleeps growing to 50 ms (CPython ``Lib/subprocess.py``,
  ``Popen._wait``), so a login was noticed up to 50 ms after it ended;
- under ``--debug`` each command is logged as ``+ argv`` with secrets redacted;
- failures become ``CommandError`` with ``kind`` ``missing`` / ``not-executable`` / ``timeout``,
  or a ``Result`` with the exit status for the caller to judge.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, NamedTuple

from .errors import EXIT_LOGIN, IbftkitError
from .log import REDACTED, Logger, redact

if TYPE_CHECKING:
    import subprocess

CLEAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"



class CommandError(IbftkitError):
    """A command could not be run to completion: missing, not executable, or timed out."""

    exit_status = EXIT_LOGIN  # the commands ibftkit-init runs are the login's

    def __init__(self, message: str, *, kind: str, argv0: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind
        self.argv0 = argv0


class Result(NamedTuple):
    argv: tuple[str, ...]  # as run (holds secrets where the command takes them: never print it)
    shown: str  # the redacted command line, for messages
    returncode: int
    stdout: str  # redacted
    stderr: str  # redacted
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def last_line(self) -> str:
        """The last non-empty line of stderr (else stdout): what to quote in a one-line error."""
        for text in (self.stderr, self.stdout):
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            if lines:
                return lines[-1]
        return ""


def clean_env() -> dict[str, str]:
    """The whole environment a child gets."""
    return {"PATH": CLEAN_PATH, "LC_ALL": "C"}


def shown(argv: Sequence[str], secrets: Sequence[str] = ()) -> str:
    """``argv`` as a shell-quoted line with every secret replaced (each argument is redacted before
    quoting, so quoting cannot hide a secret from the redaction)."""
    parts = []
    for a in argv:
        r = redact(a, secrets)
        parts.append(r if r == REDACTED else shlex.quote(r))
    return " ".join(parts)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def prepare() -> None:
    """Import what :func:`run` needs (subprocess, tempfile: 30-50 ms in the TCG guest of the VM
    tests), ahead of the first run, while something else waits (``ibftkit-init``: the portal
    probe's connect, ``ibftkit.login.retry.tcp_probe``)."""
    import subprocess  # noqa: F401
    import tempfile  # noqa: F401


def _pidfd(pid: int) -> int | None:
    """A pidfd for child ``pid`` (``pidfd_open(2)``, Linux >= 5.3), or ``None`` where there is none
    (older kernels: ``ENOSYS``; a seccomp filter; other systems: no ``os.pidfd_open``)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _ended(proc: subprocess.Popen[bytes], pidfd: int | None, seconds: float) -> bool:
    """Wait at most ``seconds`` for ``proc`` to end; ``True`` (and the child reaped) when it did.
    With a pidfd the wait returns when the child exits (poll(2) reports the pidfd readable then);
    without one, ``Popen.wait(timeout=)``."""
    import subprocess

    if pidfd is None:
        try:
            proc.wait(timeout=seconds)
            return True
        except subprocess.TimeoutExpired:
            return False
    import math
    import select

    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    if not poller.poll(math.ceil(seconds * 1000)):  # milliseconds, rounded up: never early
        return False
    proc.wait()  # exited: waitpid returns at once
    return True


class Running:
    """A command started by :func:`start`: :meth:`finish` waits for it (at most ``timeout`` s from
    its start) and returns its ``Result``; :meth:`stop` kills its process group. Its output goes to
    unlinked temporary files, not pipes: a daemon the command leaves behind (iscsid daemonizing,
    iscsistart's forked event loop) may keep inherited descriptors open, and waiting for a pipe's
    end would then wait for that daemon."""

    def __init__(self, argv: list[str], line: str, secrets: Sequence[str], log: Logger | None,
                 proc: subprocess.Popen[bytes], files: tuple[IO[bytes], IO[bytes]], start: float) -> None:
        self.argv, self.line, self.secrets, self.log = argv, line, tuple(secrets), log
        self.proc, self.files, self.start = proc, files, start

    def finish(self, *, timeout: float, on_wait: Callable[[float], None] | None = None,
               wait_every: float = 5.0) -> Result:
        """Wait until the command ends, at most ``timeout`` s from its start (then its group is
        killed and ``CommandError(kind="timeout")`` raised); ``on_wait(elapsed)`` every
        ``wait_every`` s while it runs."""
        proc, start = self.proc, self.start
        deadline = start + timeout
        next_wait = start + wait_every
        pidfd = _pidfd(proc.pid)
        try:
            while True:
                now = time.monotonic()
                step = max(0.0, min(deadline, next_wait if on_wait else deadline) - now)
                if _ended(proc, pidfd, step):
                    break
                now = time.monotonic()
                if now >= deadline:
                    _kill_group(proc)
                    proc.wait()
                    raise CommandError(f"{self.line}: no result after {timeout:g} s; stopped", kind="timeout",
                                       argv0=self.argv[0]) from None
                if on_wait is not None and now >= next_wait:
                    on_wait(now - start)
                    next_wait += wait_every
            out_f, err_f = self.files
            out_f.seek(0)
            err_f.seek(0)
            out, err = out_f.read(), err_f.read()
        finally:
            if pidfd is not None:
                os.close(pidfd)
            self._close()
        seconds = time.monotonic() - start
        secrets, log = self.secrets, self.log
        result = Result(tuple(self.argv), self.line, proc.returncode, redact(out.decode("utf-8", "replace"), secrets),
                        redact(err.decode("utf-8", "replace"), secrets), seconds)
        if log is not None:
            log.debug(f"  exit {result.returncode} after {seconds:.2f} s")
            for text in (result.stdout, result.stderr):
                for ln in text.splitlines():
                    if ln.strip():
                        log.debug(f"  | {ln.rstrip()}")
        return result

    def stop(self) -> None:
        """Kill the command's process group and reap it (its output is dropped)."""
        try:
            if self.proc.poll() is None:
                _kill_group(self.proc)
            self.proc.wait()
        finally:
            self._close()

    def _close(self) -> None:
        for f in self.files:
            f.close()


def start(argv: Sequence[str], *, secrets: Sequence[str] = (), log: Logger | None = None) -> Running:
    """Start ``argv`` (the rules above) and return at once; raises ``CommandError`` (``missing``,
    ``not-executable``) when it cannot be started."""
    import subprocess  # here, not at the top: ibftkit-init --dry-run never runs anything
    import tempfile

    argv = [str(a) for a in argv]
    line = shown(argv, secrets)
    if log is not None:
        log.debug(f"+ {line}")
    files = (tempfile.TemporaryFile(), tempfile.TemporaryFile())
    begun = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=files[0], stderr=files[1], env=clean_env(),
                                close_fds=True, start_new_session=True, cwd="/")
    except OSError as e:
        for f in files:
            f.close()
        if isinstance(e, FileNotFoundError):
            raise CommandError(f"{argv[0]}: command not found", kind="missing", argv0=argv[0]) from None
        if isinstance(e, PermissionError):
            raise CommandError(f"{argv[0]}: permission denied (not executable?)", kind="not-executable",
                               argv0=argv[0]) from None
        raise CommandError(f"{argv[0]}: cannot run ({e.strerror or e})", kind="not-executable",
                           argv0=argv[0]) from None
    return Running(argv, line, secrets, log, proc, files, begun)


def run(argv: Sequence[str], *, timeout: float, secrets: Sequence[str] = (), log: Logger | None = None,
        on_wait: Callable[[float], None] | None = None, wait_every: float = 5.0) -> Result:
    """Run ``argv`` and wait at most ``timeout`` seconds. ``on_wait(elapsed)`` is called every
    ``wait_every`` seconds while the command runs (one progress line per wait)."""
    return start(argv, secrets=secrets, log=log).finish(timeout=timeout, on_wait=on_wait, wait_every=wait_every)
