"""Where ``ibftkit-init``'s time goes (``--timings``): seconds per phase, from the process's start.

Boot time is what an initramfs waits for, so the report starts where the kernel started the process
(``/proc/self/stat`` field 22, ``starttime``, in clock ticks since boot, proc(5)), not where ``main``
began: Python's own start-up and the first imports are part of the cost. Both ends are read on
``CLOCK_BOOTTIME``, the clock ``starttime`` counts on. Stdlib only: this is imported first.
"""

from __future__ import annotations

import os
import time


def _now() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def process_start(stat_path: str = "/proc/self/stat") -> float | None:
    """Seconds since boot at which this process started, or ``None`` when ``/proc`` does not say."""
    try:
        with open(stat_path) as f:
            fields = f.read().rsplit(")", 1)[1].split()  # the command name may hold spaces and ')'
        return int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22; fields[0] is field 3
    except (OSError, ValueError, IndexError):
        return None


class Phases:
    """Consecutive named phases: ``begin("source")`` ends the running phase and starts the next."""

    def __init__(self, first: str = "options", *, started: float | None = None, now: float | None = None) -> None:
        now = _now() if now is None else now
        started = process_start() if started is None else started
        self.start = started if started is not None and started <= now else now
        self.done: list[tuple[str, float]] = [("start-up", now - self.start)]
        self.current, self.since = first, now

    def begin(self, name: str, *, now: float | None = None) -> None:
        now = _now() if now is None else now
        self.done.append((self.current, now - self.since))
        self.current, self.since = name, now

    def summary(self, *, now: float | None = None) -> str:
        """``start-up 0.21 s, options 0.05 s, source 0.40 s, ..., total 2.87 s (4.02-6.89 s since
        boot)``: the running phase (the one that failed, after a failure) ends ``now``; the clock
        is /proc/uptime's (CLOCK_BOOTTIME), as close to ``dmesg``'s as a boot needs."""
        now = _now() if now is None else now
        parts = [*self.done, (self.current, now - self.since)]
        return (", ".join(f"{name} {s:.2f} s" for name, s in parts)
                + f", total {now - self.start:.2f} s ({self.start:.2f}-{now:.2f} s since boot)")


def collect_again() -> None:
    """The cyclic garbage collector back on if the start-up turned it off (``ibftkit.cli.init:entry``
    does, until the logins), with every object made so far (modules, classes: they live as long as
    the process) frozen out of its scans (``gc.freeze``). Called before anything that may run for
    long and make garbage: a DHCP exchange, the logins. No-op when it is on."""
    import gc

    if not gc.isenabled():
        gc.freeze()
        gc.enable()
