"""Stopping what the harness started: one way for every daemon (tgtd, dnsmasq, the VLAN switch).

Each is started with ``start_new_session=True``, so its process group is its own: after a polite
request and a grace period, SIGKILL goes to the whole group (a daemon's helpers too) and the child
is reaped, so nothing outlives a test (``docs/vm-harness.md``, "The recipe").
"""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any


def end_group(proc: subprocess.Popen[Any], *, grace: float, term: bool = True) -> None:
    """SIGTERM (unless ``term`` is false: the caller asked another way) and up to ``grace`` seconds
    to exit, then SIGKILL for the process group, then reap."""
    try:
        if proc.poll() is None:
            if term:
                proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
