"""The harness's own network namespace: every VM that talks to a target runs inside one.

QEMU's user network turns the guest's connections to 10.0.2.2 into connections to 127.0.0.1 of
the namespace QEMU runs in; running QEMU and ``tgtd`` in a fresh namespace (only ``lo``, up) keeps
all traffic there, frees the standard iSCSI port 3260 for the portal, and leaves the guest no way
out. ``close`` kills whatever still runs inside (by the PIDs ``ip netns pids`` lists) and deletes it.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

_counter = itertools.count()


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], text=True, capture_output=True, check=check, timeout=30)


def exec_prefix(name: str) -> list[str]:
    return ["ip", "netns", "exec", name]


@contextmanager
def private_netns(prefix: str = "ibkvm") -> Iterator[str]:
    name = f"{prefix}{os.getpid()}n{next(_counter)}"
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        for pid in _ip("netns", "pids", name, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        _ip("netns", "del", name, check=False)


class NetnsError(RuntimeError):
    """An ``ip`` command inside a harness namespace failed; the message is the command and its error."""


def ip_in(ns: str, *args: str) -> None:
    """``ip -n NS ARGS``, raising :class:`NetnsError` with ip's own message when it fails."""
    done = _ip("-n", ns, *args, check=False)
    if done.returncode != 0:
        raise NetnsError(f"ip -n {ns} {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")


def add_tap(ns: str, name: str, address: str) -> None:
    """A tap device in ``ns`` with ``address`` (a/len), up; it has carrier once QEMU or the VLAN
    switch opens it."""
    ip_in(ns, "tuntap", "add", "dev", name, "mode", "tap")
    ip_in(ns, "addr", "add", address, "dev", name)
    ip_in(ns, "link", "set", name, "up")
