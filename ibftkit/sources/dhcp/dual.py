"""DHCPv4 and DHCPv6 side by side: the first usable lease of either family, for links whose
family nobody named (``ibftkit-init`` with no ``ip=``; an IPv6-only network has no DHCPv4 server).

Both clients run over every interface (``acquire_first``: carrier first, an equal share of the
time left each), in two daemon threads; the first lease whose root path is usable wins, and the
other client is stopped (``threading.Event``; it configures nothing, its socket is closed).
DHCPv4 starts at once; DHCPv6 starts when DHCPv4 has ended without a usable lease, or
``V6_HEAD_START`` seconds after it started, whichever comes first: RFC 8415 §18.2.1 delays the
first Solicit by up to ``SOL_MAX_DELAY`` (1 s, §7.6) anyway, and the kernel's duplicate address
detection keeps the link-local address (the Solicit's source, §13.1) tentative for about as long
(RFC 4862 §5.4). So when DHCPv4 answers within that second, neither the DHCPv6 client nor scapy's
IPv6 layers are imported (seconds in a slow guest). ``families_for`` reads the kernel command
line's ``ip=`` methods (dracut.cmdline(7): ``dhcp``/``on``/``any`` is DHCPv4; ``dhcp6``, ``either6``
are DHCPv6).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ...infra.errors import DhcpError, IbftkitError

Progress = Callable[[str], None]

V4_METHODS = frozenset({"dhcp", "on", "any", "single-dhcp", "bootp", "both"})
V6_METHODS = frozenset({"dhcp6", "either6"})
#: Seconds DHCPv4 runs alone before DHCPv6 starts beside it (RFC 8415 §7.6 ``SOL_MAX_DELAY``).
V6_HEAD_START = 1.0


def families_for(methods: Iterable[str]) -> tuple[int, ...]:
    """Which DHCP families to run for these ``ip=`` methods: only the ones named, both when none is."""
    named = set(methods)
    out = tuple(f for f, m in ((4, V4_METHODS), (6, V6_METHODS)) if named & m)
    return out or (4, 6)


class _Outcomes:
    """Each worker's ``(family, lease or None, why)``, in the order they came: a list and a
    semaphore (``queue.Queue`` would import the queue module, its three classes and ``heapq``, for
    two items)."""

    def __init__(self) -> None:
        self.items: list[tuple[int, Any, str | None]] = []
        self.arrived = threading.Semaphore(0)

    def put(self, outcome: tuple[int, Any, str | None]) -> None:
        self.items.append(outcome)
        self.arrived.release()

    def get(self) -> tuple[int, Any, str | None]:
        self.arrived.acquire()
        return self.items.pop(0)


def _v6(name: str, *, timeout: float, progress: Progress | None = None, sysfs: str = "/sys/class/net",
        stop: threading.Event | None = None, **_: Any) -> Any:
    from .client6 import acquire_lease6

    return acquire_lease6(name, timeout=timeout, progress=progress, sysfs=sysfs, stop=stop)


def acquire_any(interfaces: Sequence[str], *, timeout: float, families: Sequence[int] = (4, 6),
                progress: Progress | None = None, first: Callable[..., Any] | None = None,
                head_start: float = V6_HEAD_START) -> Any:
    """The first usable lease (``Lease`` or ``Lease6``) over ``interfaces`` from the ``families`` asked,
    within ``timeout`` seconds; with both families DHCPv6 starts up to ``head_start`` s after DHCPv4.

    Raises ``DhcpError`` naming each family's failure when none gives one. ``first`` stands in
    for ``ibftkit.sources.dhcp.client.acquire_first`` (tests).
    """
    if first is None:
        from .client import acquire_first, load_scapy

        run: Callable[..., Any] = acquire_first
    else:
        run = first
    fams = tuple(dict.fromkeys(families))
    if fams == (4,):
        return run(interfaces, timeout=timeout, progress=progress)
    if fams == (6,):
        return run(interfaces, timeout=timeout, progress=progress, acquire=_v6)
    if first is None:  # the DHCPv4 layers before the threads start (DHCPv6 imports its own later)
        load_scapy()
    deadline = time.monotonic() + timeout
    stop = threading.Event()  # a usable lease came: the other family stops
    v4_over = threading.Event()
    results = _Outcomes()

    def worker(family: int) -> None:
        try:
            kw: dict[str, Any] = {"stop": stop}
            if family == 6:
                v4_over.wait(head_start)
                if stop.is_set():
                    return
                kw["acquire"] = _v6
            left = deadline - time.monotonic()
            if left <= 0:
                results.put((family, None, f"not started: no time left of {timeout:g} s"))
                return
            lease = run(interfaces, timeout=left, progress=progress, **kw)
            stop.set()  # before DHCPv6 can wake up to DHCPv4's end
            results.put((family, lease, None))
        except IbftkitError as e:
            results.put((family, None, str(e)))
        except Exception as e:  # a bug in one family must not hang the other's caller
            results.put((family, None, f"{type(e).__name__}: {e}"))
        finally:
            if family == 4:
                v4_over.set()

    for family in fams:
        threading.Thread(target=worker, args=(family,), name=f"ibftkit-dhcp{family}", daemon=True).start()
    failures: dict[int, str] = {}
    while len(failures) < len(fams):
        family, lease, why = results.get()
        if lease is not None:
            stop.set()
            return lease
        failures[family] = why or "no lease"
    raise DhcpError("no usable lease by DHCPv4 or DHCPv6: " + "; ".join(
        f"{'DHCPv4' if f == 4 else 'DHCPv6'}: {failures[f]}" for f in fams))
