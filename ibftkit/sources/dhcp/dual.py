"""DHCPv4 and DHCPv6 side by side: the first usable lease of either family, for links whose
family nobody named (``ibftkit-init`` with no ``ip=``; an IPv6-only network has no DHCPv4 server).

Both clients run at once, each over every interface (``acquire_first``: carrier first, an equal
share of the time left each), in two daemon threads; the first lease whose root path is usable
wins. The other client is not interrupted: it stops at its own deadline (it configures nothing,
and its socket is closed when it ends). ``families_for`` reads the kernel command line's ``ip=``
methods (dracut.cmdline(7): ``dhcp``/``on``/``any`` is DHCPv4; ``dhcp6``, ``either6`` are DHCPv6).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ...infra.errors import DhcpError, IbftkitError

Progress = Callable[[str], None]

V4_METHODS = frozenset({"dhcp", "on", "any", "single-dhcp", "bootp", "both"})
V6_METHODS = frozenset({"dhcp6", "either6"})


def families_for(methods: Iterable[str]) -> tuple[int, ...]:
    """Which DHCP families to run for these ``ip=`` methods: only the ones named, both when none is."""
    named = set(methods)
    out = tuple(f for f, m in ((4, V4_METHODS), (6, V6_METHODS)) if named & m)
    return out or (4, 6)


def _v6(name: str, *, timeout: float, progress: Progress | None = None, sysfs: str = "/sys/class/net",
        **_: Any) -> Any:
    from .client6 import acquire_lease6

    return acquire_lease6(name, timeout=timeout, progress=progress, sysfs=sysfs)


def acquire_any(interfaces: Sequence[str], *, timeout: float, families: Sequence[int] = (4, 6),
                progress: Progress | None = None, first: Callable[..., Any] | None = None) -> Any:
    """The first usable lease (``Lease`` or ``Lease6``) over ``interfaces`` from the ``families`` asked.

    Raises ``DhcpError`` naming each family's failure when none gives one. ``first`` stands in
    for ``ibftkit.sources.dhcp.client.acquire_first`` (tests).
    """
    from .client import acquire_first, load_scapy

    run = first or acquire_first
    fams = tuple(dict.fromkeys(families))
    if fams == (4,):
        return run(interfaces, timeout=timeout, progress=progress)
    if fams == (6,):
        return run(interfaces, timeout=timeout, progress=progress, acquire=_v6)
    if first is None:  # scapy's import is not thread-safe (the diet swaps global state): both now
        from .client6 import load_scapy6

        load_scapy()
        load_scapy6()
    results: queue.Queue[tuple[int, Any, str | None]] = queue.Queue()

    def worker(family: int) -> None:
        try:
            kw: dict[str, Any] = {} if family == 4 else {"acquire": _v6}
            results.put((family, run(interfaces, timeout=timeout, progress=progress, **kw), None))
        except IbftkitError as e:
            results.put((family, None, str(e)))
        except Exception as e:  # a bug in one family must not hang the other's caller
            results.put((family, None, f"{type(e).__name__}: {e}"))

    for family in fams:
        threading.Thread(target=worker, args=(family,), name=f"ibftkit-dhcp{family}", daemon=True).start()
    failures: dict[int, str] = {}
    while len(failures) < len(fams):
        family, lease, why = results.get()
        if lease is not None:
            return lease
        failures[family] = why or "no lease"
    raise DhcpError("no usable lease by DHCPv4 or DHCPv6: " + "; ".join(
        f"{'DHCPv4' if f == 4 else 'DHCPv6'}: {failures[f]}" for f in fams))
