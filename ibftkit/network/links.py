"""The machine's network links, read from ``/sys/class/net`` (no pyroute2, no sockets).

The plan (``ibftkit.network.plan``) needs only MAC → interface name, the PCI bus/device/function
behind each link (the iBFT NIC structure stores ``PciAddress`` as ``bus<<8 | dev<<3 | fn``,
iBFT 1.02 §3.6; ``docs/ibft.md``) and whether a link is a stacked device that merely borrows its parent's
MAC (a VLAN, a bridge, a bond). All of that is in sysfs (``Documentation/ABI/testing/sysfs-class-net``):

- ``address``: the MAC, lower-case colon form;
- ``ifindex``: the kernel's interface index;
- ``carrier``: ``1``/``0``, and ``EINVAL`` while the link is administratively down;
- ``operstate``: RFC 2863 ``IF-MIB::ifOperStatus`` text (``up``, ``down``, ``lowerlayerdown``…);
- ``uevent``: ``DEVTYPE=vlan|bridge|bond|…`` for stacked devices (absent for Ethernet, veth);
- ``device``: a symlink into ``/sys/devices``; for a PCI NIC some component of its target is
  ``DDDD:BB:DD.F`` (directly, or the parent of e.g. ``virtio0``).

``root`` is injectable so unit tests build a fake tree. Under ``ip netns exec`` the process gets a
``/sys`` of that namespace, so this module then sees the namespace's links.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from pathlib import Path

from ..infra.sysfs import STACKED_DEVTYPES, Sysfs, devtype_of, read_attr
from ..model import PciAddress, normalize_mac

#: ``DEVTYPE`` values of stacked links that copy their lower link's MAC: never the firmware NIC.

_PCI_COMPONENT = re.compile(r"^([0-9a-fA-F]{4,}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$")


@dataclasses.dataclass(frozen=True)
class LinkInfo:
    """One network link as the plan sees it."""

    ifname: str
    mac: str | None = None
    ifindex: int = 0
    carrier: bool | None = None  # None: unknown (link administratively down, or not readable)
    operstate: str = "unknown"
    pci_bdf: PciAddress | None = None
    pci_segment: int = 0
    devtype: str | None = None  # from uevent DEVTYPE; None for plain Ethernet and veth
    #: rtnetlink IFLA_INFO_KIND (``ip -d``: ``linkinfo.info_kind``: veth, ifb, dummy…); from sysfs, for a
    #: link with no device: ``noarp`` (IFF_NOARP: ifb, dummy) or ``ether``; ``None``: backed by a device
    kind: str | None = None
    has_device: bool | None = None  # a ``device`` symlink (PCI, virtio, USB…); None: unknown

    @property
    def stacked(self) -> bool:
        """A VLAN/bridge/bond…: it shows its lower link's MAC, so a MAC match on it means nothing."""
        return self.devtype in STACKED_DEVTYPES

    def to_dict(self) -> dict[str, object]:
        return {
            "ifname": self.ifname,
            "mac": self.mac,
            "ifindex": self.ifindex,
            "carrier": self.carrier,
            "operstate": self.operstate,
            "pci_bdf": None if self.pci_bdf is None else str(self.pci_bdf),
            "devtype": self.devtype,
        }


def _read(path: Path) -> str | None:
    return read_attr(path)


def _pci_of(device_link: Path) -> tuple[PciAddress | None, int]:
    """The PCI function behind a ``device`` symlink: the nearest ``DDDD:BB:DD.F`` component."""
    if not os.path.lexists(device_link):
        return None, 0  # virtual links (veth, bridge, lo) have no device
    try:
        target = Path(os.path.realpath(device_link))
    except OSError:
        return None, 0
    for part in reversed(target.parts):
        m = _PCI_COMPONENT.match(part)
        if m:
            seg, bus, dev, fn = (int(x, 16) for x in m.groups())
            try:
                return PciAddress(bus, dev, fn), seg
            except ValueError:
                return None, 0
    return None, 0


def read_link(directory: Path) -> LinkInfo:
    """One ``/sys/class/net/<ifname>`` directory."""
    mac_text = _read(directory / "address")
    try:
        mac = normalize_mac(mac_text) if mac_text else None
    except ValueError:
        mac = None  # not Ethernet-like (e.g. a tunnel with a 4-byte address)
    if mac == "00:00:00:00:00:00":
        mac = None
    ifindex_text = _read(directory / "ifindex")
    carrier_text = _read(directory / "carrier")
    pci, segment = _pci_of(directory / "device")
    has_device = os.path.lexists(directory / "device")
    kind = None
    if not has_device:  # a virtual link: ifb and dummy set IFF_NOARP (0x80); a veth end does not
        try:
            flags = int(_read(directory / "flags") or "0", 16)
        except ValueError:
            flags = 0
        kind = "noarp" if flags & 0x80 else "ether"
    return LinkInfo(
        ifname=directory.name,
        mac=mac,
        ifindex=int(ifindex_text) if ifindex_text and ifindex_text.isdigit() else 0,
        carrier=None if carrier_text not in ("0", "1") else carrier_text == "1",
        operstate=_read(directory / "operstate") or "unknown",
        pci_bdf=pci,
        pci_segment=segment,
        devtype=devtype_of(_read(directory / "uevent")),
        kind=kind,
        has_device=has_device,
    )


def list_links(root: str | os.PathLike[str] = "/") -> list[LinkInfo]:
    """Every link under ``<root>/sys/class/net``, ordered by ifindex (then name)."""
    sysfs = Sysfs(root)
    links = [read_link(Path(sysfs.path("class/net", n))) for n in sysfs.links()
             if os.path.isdir(sysfs.path("class/net", n))]
    return sorted(links, key=lambda link: (link.ifindex, link.ifname))


def by_mac(links: Sequence[LinkInfo], mac: str) -> list[LinkInfo]:
    """Links whose MAC is ``mac`` (any spelling), stacked ones excluded."""
    want = normalize_mac(mac)
    return [link for link in links if link.mac == want and not link.stacked]


def links_from_ip_json(data: object, *, where: str = "links") -> list[LinkInfo]:
    """Links from the JSON that ``ip -j -d link show`` prints (iproute2): ``ifname``, ``ifindex``,
    ``address``, ``flags`` (``LOWER_UP`` is carrier), ``operstate``, ``linkinfo.info_kind`` (the
    link kind; absent for a device), ``parentbus``/``parentdev`` (``pci`` and ``DDDD:BB:DD.F``).
    Raises ``ValueError`` naming the entry that is not such a link."""
    if not isinstance(data, list):
        raise ValueError(f"{where}: expected the JSON list that 'ip -j -d link show' prints")
    out: list[LinkInfo] = []
    for k, entry in enumerate(data):
        if not isinstance(entry, dict) or not isinstance(entry.get("ifname"), str):
            raise ValueError(f"{where}[{k}]: expected an object with an 'ifname'")
        if "mac" in entry and "address" not in entry and "flags" not in entry:
            raise ValueError(f"{where}[{k}]: this is what 'ibftkit net links --json' prints; --links reads what "
                             "'ip -j -d link show' prints (each link's flags, kind and device)")
        name = entry["ifname"].split("@", 1)[0]
        mac_text = entry.get("address")
        try:
            mac = normalize_mac(mac_text) if isinstance(mac_text, str) and entry.get("link_type", "ether") == "ether" \
                else None
        except ValueError:
            mac = None
        if mac == "00:00:00:00:00:00":
            mac = None
        flags = entry.get("flags") or []
        raw_info = entry.get("linkinfo")
        info: dict[str, object] = raw_info if isinstance(raw_info, dict) else {}
        raw_kind = info.get("info_kind")
        kind = raw_kind if isinstance(raw_kind, str) else None
        pci, seg = None, 0
        if entry.get("parentbus") == "pci" and isinstance(entry.get("parentdev"), str):
            m = _PCI_COMPONENT.match(entry["parentdev"])
            if m:
                s_, bus, dev, fn = (int(x, 16) for x in m.groups())
                pci, seg = PciAddress(bus, dev, fn), s_
        devtype = kind if kind in STACKED_DEVTYPES else None
        if name == "lo" or entry.get("link_type") == "loopback":
            kind = "loopback"
        out.append(LinkInfo(
            ifname=name, mac=mac, ifindex=int(entry.get("ifindex") or 0),
            carrier=("LOWER_UP" in flags) if "UP" in flags else None,
            operstate=str(entry.get("operstate", "unknown")).lower(), pci_bdf=pci, pci_segment=seg,
            devtype=devtype, kind=kind, has_device="parentbus" in entry))
    return sorted(out, key=lambda link: (link.ifindex, link.ifname))


def load_links_file(path: str | os.PathLike[str]) -> list[LinkInfo]:
    """``--links FILE``: another machine's links, as ``ip -j -d link show`` printed them there.
    Raises ``ValueError`` saying what is wrong with the file."""
    import json

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"--links {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"--links {path}: not JSON (byte 0x{e.object[e.start]:02x} at offset {e.start} "
                         "is not UTF-8 text; expected what 'ip -j -d link show' prints)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"--links {path}: not JSON ({e.msg} at line {e.lineno})") from None
    return links_from_ip_json(data, where=f"--links {path}")


def is_nic(link: LinkInfo) -> bool:
    """Whether ``link`` is a NIC for "every NIC" (DHCP on every NIC, ``ip=dhcp``): a link backed by a
    device — as dracut's ``modules.d/35network-legacy/net-genrules.sh`` matches ``DRIVERS=="?*"`` — or a
    device-less Ethernet link that does ARP (a veth end: the cable namespaces and containers get);
    never loopback, a link without a MAC, a stacked link (VLAN, bond, bridge) or ``ifb``/``dummy``
    (``IFF_NOARP``, or their ``linkinfo.info_kind`` in ``ip -j -d link show``)."""
    if link.ifname == "lo" or not link.mac or link.stacked:
        return False
    return link.kind in (None, "veth", "ether")
