"""One-line progress for ``ibftkit-init``: stderr and, when writable, the kernel log.

An initramfs has no syslog: ``/dev/kmsg`` is where boot messages outlive the console
(``Documentation/ABI/testing/dev-kmsg``: each ``write(2)`` is one record; a leading ``<N>``
sets the syslog priority, RFC 5424 §6.2.1 severities 0-7). Every message is one line tagged
``ibftkit:`` there and ``<prog>:`` on stderr.

Levels: ``QUIET`` shows errors only, ``NORMAL`` adds warnings and progress during waits,
``VERBOSE`` adds each step, ``DEBUG`` adds the exact commands (``+ argv``). The kernel log gets
everything up to ``NORMAL`` whatever the level, so a quiet boot still leaves a trace in ``dmesg``.

No CHAP secret is ever written: every message passes through ``redact``, which replaces each
secret registered with ``add_secrets`` (longest first) by ``<redacted>``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Protocol, TextIO

#: What stands for a CHAP secret in every output of ibftkit (messages, renders, JSON, argv shown).
REDACTED = "<redacted>"

QUIET, NORMAL, VERBOSE, DEBUG = 0, 1, 2, 3

# syslog severities (RFC 5424 §6.2.1) used as the /dev/kmsg record prefix
_KMSG_ERR, _KMSG_WARNING, _KMSG_NOTICE, _KMSG_INFO, _KMSG_DEBUG = 3, 4, 5, 6, 7
KMSG_PATH = "/dev/kmsg"
KMSG_TAG = "ibftkit"


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret replaced by ``REDACTED``, longest first (so that a
    secret that contains another is replaced whole)."""
    for s in sorted((s for s in secrets if s), key=len, reverse=True):
        if s in text:
            text = text.replace(s, REDACTED)
    return text


class Logger(Protocol):
    """What library code logs through (``Log`` is the one implementation; tests pass their own)."""

    def progress(self, text: str) -> None: ...
    def info(self, text: str) -> None: ...
    def warning(self, text: str) -> None: ...
    def debug(self, text: str) -> None: ...


class Log:
    """Progress and errors for one run. ``kmsg`` is a path (default ``/dev/kmsg``) or ``None``."""

    def __init__(self, *, prog: str = "ibftkit", level: int = NORMAL, stream: TextIO | None = None,
                 kmsg: str | None = KMSG_PATH) -> None:
        self.prog = prog
        self.level = level
        self.stream = stream if stream is not None else sys.stderr
        self._kmsg_path = kmsg
        self._kmsg_fd: int | None = None
        self._kmsg_tried = kmsg is None
        self._secrets: list[str] = []

    def set_kmsg(self, path: str | None) -> None:
        """Change the kernel-log path (``None``: off) before the first message."""
        self.close()
        self._kmsg_path = path
        self._kmsg_tried = path is None

    def reopen_kmsg(self) -> None:
        """In a forked child: its own kernel-log descriptor from the next message on. The kernel
        limits the records written to ``/dev/kmsg`` per open file (10 per 5 s:
        ``kernel/printk/printk.c``, ``devkmsg_open``/``devkmsg_write``), so a child writing
        through its parent's descriptor shares what the parent's lines left of that budget."""
        self.set_kmsg(self._kmsg_path)

    # --- secrets -----------------------------------------------------------------------------

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Register strings that must never appear in any message (CHAP secrets)."""
        for s in secrets:
            if s and s not in self._secrets:
                self._secrets.append(s)
        self._secrets.sort(key=len, reverse=True)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self._secrets)

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def line(self, text: str) -> str:
        """One redacted line: control characters and newlines become spaces."""
        text = self.redact(text)
        return "".join(c if c.isprintable() else " " for c in text).strip()

    # --- output ------------------------------------------------------------------------------

    def _kmsg(self, severity: int, text: str) -> None:
        if not self._kmsg_tried:
            self._kmsg_tried = True
            assert self._kmsg_path is not None
            try:
                # O_APPEND: a regular file given for tests is appended to, /dev/kmsg ignores it.
                self._kmsg_fd = os.open(self._kmsg_path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                self._kmsg_fd = None
        if self._kmsg_fd is None:
            return
        try:
            os.write(self._kmsg_fd, f"<{severity}>{KMSG_TAG}: {text}\n".encode("utf-8", "replace")[:1000])
        except OSError:
            pass  # EAGAIN/EPERM (printk.devkmsg=off or ratelimit): the console line is what counts

    def _emit(self, level: int, severity: int, text: str, prefix: str = "") -> None:
        text = self.line(text)
        if level <= NORMAL:
            self._kmsg(severity, prefix + text)
        if level <= self.level:
            try:
                self.stream.write(f"{self.prog}: {prefix}{text}\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass

    def error(self, text: str) -> None:
        self._emit(QUIET, _KMSG_ERR, text)

    def warning(self, text: str) -> None:
        self._emit(NORMAL, _KMSG_WARNING, text, "warning: ")

    def progress(self, text: str) -> None:
        """A line during a wait (carrier, DHCP, login) or a result worth a line in a normal run."""
        self._emit(NORMAL, _KMSG_NOTICE, text)

    def report(self, text: str) -> None:
        """A line the user asked for by an option (``--timings``): shown even with ``--quiet``."""
        self._emit(QUIET, _KMSG_INFO, text)

    def info(self, text: str) -> None:
        """A step that went as expected (``--verbose``)."""
        self._emit(VERBOSE, _KMSG_INFO, text)

    def debug(self, text: str) -> None:
        """Commands and details (``--debug``); never sent to the kernel log."""
        self._emit(DEBUG, _KMSG_DEBUG, text)

    def close(self) -> None:
        if self._kmsg_fd is not None:
            try:
                os.close(self._kmsg_fd)
            except OSError:
                pass
            self._kmsg_fd = None


def level_from_flags(*, quiet: bool = False, verbose: bool = False, debug: bool = False) -> int:
    if debug:
        return DEBUG
    if verbose:
        return VERBOSE
    if quiet:
        return QUIET
    return NORMAL
