"""Reading sysfs with an injectable root: the one reader of ``/sys/class/net`` and ``/sys/firmware``.

``Sysfs(root)`` reads ``<root>/sys/...``: ``/`` on a running system, a copied or synthetic tree in
tests and for captured systems (``ibftkit-init --firmware-root``). Attributes are read as the kernel
shows them (one value, newline-terminated; Documentation/filesystems/sysfs.rst), stripped; a file
that is missing or unreadable reads as ``None`` (``carrier`` gives ``EINVAL`` while the link is
administratively down: ``Documentation/ABI/testing/sysfs-class-net``).

A link is *stacked* (a VLAN, bridge, bond, … that borrows its lower link's MAC, so never the
firmware's NIC) when its ``uevent`` names a ``DEVTYPE`` in :data:`STACKED_DEVTYPES`. Standard
library only: ``ibftkit.network.linkup`` uses this at start-up.
"""

from __future__ import annotations

import os

#: ``DEVTYPE`` values (``uevent``) of links stacked on another link's MAC.
STACKED_DEVTYPES = frozenset({"vlan", "bridge", "bond", "team", "macvlan", "macvtap", "ipvlan", "vrf"})
#: Entries of ``/sys/class/net`` that are not links.
NOT_LINKS = frozenset({"bonding_masters"})


def read_attr(path: str | os.PathLike[str]) -> str | None:
    """One sysfs attribute, stripped; ``None`` when it cannot be read (missing, EINVAL, not text)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def devtype_of(uevent: str | None) -> str | None:
    """The ``DEVTYPE=`` of a ``uevent`` text, if any."""
    for line in (uevent or "").splitlines():
        key, _, value = line.partition("=")
        if key == "DEVTYPE":
            return value.strip() or None
    return None


class Sysfs:
    """The sysfs tree under ``root`` (``/``: this system's)."""

    def __init__(self, root: str | os.PathLike[str] = "/") -> None:
        self.root = os.fspath(root)

    def path(self, *parts: str) -> str:
        """``<root>/sys/<parts…>``."""
        return os.path.join(self.root, "sys", *parts)

    def read(self, *parts: str) -> str | None:
        return read_attr(self.path(*parts))

    def listdir(self, *parts: str) -> list[str]:
        """The directory's entries, sorted; ``[]`` when it cannot be read."""
        try:
            return sorted(os.listdir(self.path(*parts)))
        except OSError:
            return []

    # --- /sys/class/net ----------------------------------------------------------------------

    def links(self) -> list[str]:
        """The link names in ``/sys/class/net``, sorted."""
        return [n for n in self.listdir("class/net") if n not in NOT_LINKS]

    def link_attr(self, ifname: str, attr: str) -> str | None:
        return self.read("class/net", ifname, attr)

    def carrier(self, ifname: str) -> bool | None:
        """``True``/``False`` from ``carrier``; ``None`` when unknown (link down, missing)."""
        text = self.link_attr(ifname, "carrier")
        return None if text not in ("0", "1") else text == "1"

    def devtype(self, ifname: str) -> str | None:
        return devtype_of(self.link_attr(ifname, "uevent"))

    def stacked(self, ifname: str) -> bool:
        return self.devtype(ifname) in STACKED_DEVTYPES

    # --- /sys/firmware/ibft --------------------------------------------------------------------

    def ibft_macs(self) -> set[str]:
        """The MACs (lower case) of the NICs the kernel's ``iscsi_ibft`` shows, without 00:…:00."""
        ibft = ("firmware", "ibft")
        macs = (self.read(*ibft, e, "mac") for e in self.listdir(*ibft) if e.startswith("ethernet"))
        return {m.lower() for m in macs if m and m.lower() != "00:00:00:00:00:00"}
