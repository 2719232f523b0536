"""What ``ibftkit-init`` does before anything else: set the firmware's NICs up.

A NIC needs time after it is set up before it has carrier: auto-negotiation takes one to three
seconds on real hardware, and QEMU's emulated e1000 ignores received frames for a second after its
receive control register is written, which happens when the link goes up (docs/vm-e2e.md). Python
needs about as long to import what ``ibftkit-init`` uses under emulation. So the NICs go up first,
by one ``ioctl(SIOCSIFFLAGS)`` each (netdevice(7)), and the imports overlap the wait.

Which NICs: the ones the kernel's ``iscsi_ibft`` module shows in ``/sys/firmware/ibft/ethernet*/mac``,
matched to ``/sys/class/net/*/address`` -- read without decoding the table, so before construct or
pyroute2 is imported. The network step counts these links as set up by this run: they are set down
again if the run fails before the network is configured, or if the configuration found in the end
names other NICs. Standard library only: this module is imported at start-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ..infra.sysfs import Sysfs

IFF_UP = 0x1
IFF_LOWER_UP = 0x10000  # include/uapi/linux/if.h: beyond the 16 bits of ifr_flags
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914  # netdevice(7)
_IFREQ = "16sH22x"  # struct ifreq: ifr_name[IFNAMSIZ], ifr_flags (short), padding to 40 bytes


def firmware_links(firmware_root: str = "/", net_root: str = "/") -> tuple[str, ...]:
    """The links whose MAC is a NIC's in the kernel's iBFT view (``/sys/firmware/ibft``), if any;
    never a stacked link (VLAN, bridge, …: ``ibftkit.infra.sysfs.STACKED_DEVTYPES``) that borrows it.

    ``firmware_root`` is where ``sys/firmware`` is (``ibftkit-init --firmware-root``, for tests and
    captured systems); the links are this system's (``net_root``)."""
    macs = Sysfs(firmware_root).ibft_macs()
    if not macs:
        return ()
    net = Sysfs(net_root)
    return tuple(n for n in net.links()
                 if (net.link_attr(n, "address") or "").lower() in macs and not net.stacked(n))


def wait_carrier(names: Sequence[str], *, timeout: float, read: Callable[[str], bool | None],
                 progress: Callable[[str], None] | None = None, grace: float | None = None,
                 poll: float = 0.05) -> list[str]:
    """The one carrier wait: poll ``read(name)`` (carrier: ``True``) until every link in ``names`` has
    carrier, or (with ``grace``) the first one has had it for ``grace`` s, or ``timeout`` s passed.

    Returns the links with carrier, in the order of ``names`` (empty: none in time). One progress
    line a second: ``waiting for carrier on A, B (1.0 s of 10 s)``. ``read`` says how carrier is
    seen: ``Sysfs.carrier`` (``/sys/class/net/<if>/carrier``) or netlink's ``IFF_LOWER_UP``."""
    start = time.monotonic()
    first: float | None = None
    next_report = 1.0
    while True:
        elapsed = time.monotonic() - start
        up = [n for n in names if read(n)]
        if up and first is None:
            first = elapsed
        if len(up) == len(names) or (grace is not None and first is not None and elapsed - first >= grace):
            return up
        if elapsed >= timeout:
            return up
        if progress is not None and elapsed >= next_report:
            progress(f"waiting for carrier on {', '.join(n for n in names if n not in up)} "
                     f"({elapsed:.1f} s of {timeout:g} s)")
            next_report += 1.0
        time.sleep(min(poll, max(0.0, timeout - elapsed)))


def _ioctl_socket() -> Any:
    """An ``AF_INET`` datagram socket for ``ioctl`` (netdevice(7)), to be closed by the caller;
    ``OSError`` if none can be opened. From ``_socket``, the C module that ``socket.socket`` subclasses (CPython
    ``Lib/socket.py``): an ioctl needs only its descriptor, and ``ibftkit-init`` calls this at its
    start, before anything else needs the ``socket`` module, whose import (``selectors``, its enum
    classes built from every constant of ``_socket``) then runs later, in the network phase."""
    import _socket

    return _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)


def local_flags(ifname: str) -> int:
    """The flags of link ``ifname`` in this process's network namespace, as rtnetlink's ``ifi_flags``
    gives them (``RTM_GETLINK``) up to ``IFF_LOWER_UP``, read without a netlink message.

    Both come from the kernel's ``dev_get_flags()`` (net/core/dev.c), which ``rtnl_fill_ifinfo()``
    (net/core/rtnetlink.c) puts in ``ifi_flags``: its low 16 bits by ``ioctl(SIOCGIFFLAGS)``
    (net/core/dev_ioctl.c: ``ifr_flags = (short)dev_get_flags(dev)``; netdevice(7)), and
    ``IFF_LOWER_UP``, which that short cannot hold, from ``/sys/class/net/<if>/carrier``
    (net/core/net-sysfs.c, ``carrier_show``: ``netif_carrier_ok()`` while the link runs, ``EINVAL``
    otherwise -- ``dev_get_flags()`` sets ``IFF_LOWER_UP`` on the same two conditions). ``/sys`` is
    taken to show this namespace's links, as everywhere on the boot path (``links.list_links``).
    Bits above ``IFF_LOWER_UP`` (``IFF_DORMANT``, ``IFF_ECHO``) are not given.

    Raises ``OSError``: no such link (``ENODEV``; also a name longer than ``IFNAMSIZ`` - 1, which
    ``ifr_name`` cannot hold), or ``carrier`` unreadable other than by ``EINVAL``.
    """
    import errno
    import fcntl
    import struct

    name = ifname.encode()
    if not name or len(name) >= 16 or b"/" in name:
        raise OSError(errno.ENODEV, f"no link named {ifname!r} for SIOCGIFFLAGS")
    sock = _ioctl_socket()
    try:
        out = fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack(_IFREQ, name, 0))
    finally:
        sock.close()
    (flags,) = struct.unpack_from("16xH", out)
    try:
        with open(f"/sys/class/net/{ifname}/carrier", "rb") as f:
            carrier = f.read().strip() == b"1"
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
        carrier = False
    return int(flags) | (IFF_LOWER_UP if carrier else 0)


def _set_up(sock: Any, ifname: str, up: bool) -> bool:
    """Set or clear ``IFF_UP`` on ``ifname``; ``True`` when that changed something."""
    import fcntl
    import struct

    name = ifname.encode()
    (flags,) = struct.unpack_from("16xH", fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack(_IFREQ, name, 0)))
    if bool(flags & IFF_UP) == up:
        return False
    fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(_IFREQ, name, (flags | IFF_UP) if up else (flags & ~IFF_UP)))
    return True


def raise_links(names: Sequence[str]) -> tuple[str, ...]:
    """Set the links ``names`` up now, by ``ioctl(SIOCSIFFLAGS)``.

    Best effort: a link that is missing or refuses is left for ``apply_plan``'s own step to report.
    Returns the links this call set up; pass them to ``apply_plan(raised=...)``, which counts them
    as its own change (undone on failure), or to :func:`lower_links`.
    """
    raised = []
    try:
        sock = _ioctl_socket()
    except OSError:
        return ()
    try:
        for ifname in names:
            try:
                if _set_up(sock, ifname, True):
                    raised.append(ifname)
            except (OSError, ValueError):
                continue
    finally:
        sock.close()
    return tuple(raised)


def lower_links(names: Sequence[str]) -> None:
    """Set the links ``names`` down again (the undo of :func:`raise_links`); best effort."""
    if not names:
        return
    try:
        sock = _ioctl_socket()
    except OSError:
        return
    try:
        for ifname in names:
            try:
                _set_up(sock, ifname, False)
            except (OSError, ValueError):
                continue
    finally:
        sock.close()
