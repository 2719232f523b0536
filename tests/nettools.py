"""Helpers for the netns tier: namespaces and veth pairs that a test creates and always removes.

Every address used lives only inside namespaces made here; nothing touches the host's links.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

_counter = itertools.count()


def sh(*argv: str, ns: str | None = None, check: bool = True, timeout: float = 30,
       **kw: object) -> subprocess.CompletedProcess[str]:
    """Run argv (inside namespace ``ns`` when given) and capture its text output."""
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
    return subprocess.run(cmd, check=check, text=True, capture_output=True, timeout=timeout, **kw)  # type: ignore[call-overload]


def unique(prefix: str) -> str:
    """A short unique name (interface names are limited to 15 bytes)."""
    return f"{prefix}{os.getpid() % 10000}x{next(_counter)}"


class Namespaces:
    """Creates namespaces and veth pairs; ``close()`` deletes every namespace it made."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add(self, prefix: str = "ibk") -> str:
        name = unique(prefix)
        sh("ip", "netns", "add", name)
        self.names.append(name)
        sh("ip", "link", "set", "lo", "up", ns=name)
        return name

    def veth(self, ns_a: str, if_a: str, ns_b: str, if_b: str, *, mac_a: str | None = None,
             mac_b: str | None = None, up: bool = True) -> None:
        """A veth pair with one end in each namespace (created inside ns_a: the host never sees it)."""
        cmd = ["ip", "link", "add", if_a]
        if mac_a:
            cmd += ["address", mac_a]
        cmd += ["type", "veth", "peer", "name", if_b, "netns", ns_b]
        if mac_b:
            cmd += ["address", mac_b]
        sh(*cmd, ns=ns_a)
        if up:
            sh("ip", "link", "set", if_a, "up", ns=ns_a)
            sh("ip", "link", "set", if_b, "up", ns=ns_b)

    def close(self) -> None:
        for name in reversed(self.names):
            # Kill anything still running inside, then delete.
            pids = sh("ip", "netns", "pids", name, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
            sh("ip", "netns", "del", name, check=False)
        self.names.clear()


@contextmanager
def namespaces() -> Iterator[Namespaces]:
    ns = Namespaces()
    try:
        yield ns
    finally:
        ns.close()
