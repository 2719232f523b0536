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

import os
import socket
from collections.abc import Sequence

IFF_UP = 0x1
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914  # netdevice(7)
_IFREQ = "16sH22x"  # struct ifreq: ifr_name[IFNAMSIZ], ifr_flags (short), padding to 40 bytes


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip().lower()
    except OSError:
        return None


def firmware_links(firmware_root: str = "/", net_root: str = "/") -> tuple[str, ...]:
    """The links whose MAC is a NIC's in the kernel's iBFT view (``/sys/firmware/ibft``), if any.

    ``firmware_root`` is where ``sys/firmware`` is (``ibftkit-init --firmware-root``, for tests and
    captured systems); the links are this system's (``net_root``)."""
    ibft = os.path.join(firmware_root, "sys/firmware/ibft")
    try:
        entries = sorted(e for e in os.listdir(ibft) if e.startswith("ethernet"))
    except OSError:
        return ()
    macs = {m for m in (_read(os.path.join(ibft, e, "mac")) for e in entries) if m and m != "00:00:00:00:00:00"}
    if not macs:
        return ()
    net = os.path.join(net_root, "sys/class/net")
    try:
        names = sorted(os.listdir(net))
    except OSError:
        return ()
    # A VLAN or bridge shows its lower link's MAC (its uevent has a DEVTYPE): never the firmware NIC.
    return tuple(n for n in names if _read(os.path.join(net, n, "address")) in macs
                 and "devtype=" not in (_read(os.path.join(net, n, "uevent")) or ""))


def _set_up(sock: socket.socket, ifname: str, up: bool) -> bool:
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
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        return ()
    with sock:
        for ifname in names:
            try:
                if _set_up(sock, ifname, True):
                    raised.append(ifname)
            except (OSError, ValueError):
                continue
    return tuple(raised)


def lower_links(names: Sequence[str]) -> None:
    """Set the links ``names`` down again (the undo of :func:`raise_links`); best effort."""
    if not names:
        return
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        return
    with sock:
        for ifname in names:
            try:
                _set_up(sock, ifname, False)
            except (OSError, ValueError):
                continue
