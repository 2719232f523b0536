"""The one boot model: what the iBFT and the DHCP path both produce, and every renderer reads.

Frozen dataclasses with plain Python names. Addresses are ``ipaddress`` objects; an
IPv4-mapped IPv6 address (how the iBFT stores IPv4) is held as IPv4. ``None`` means the
table stored 16 zero bytes (or the source had no value); ``IPv4Address('0.0.0.0')`` means it
stored ``::ffff:0.0.0.0`` (EDK2's null), so that a decoded table re-encodes byte for byte.

``to_dict``/``from_dict`` give the JSON form documented in ``docs/model.md``; CHAP secrets
are redacted there unless asked for.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from .infra.log import REDACTED

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address



# --- addresses -----------------------------------------------------------------------------------

_MAPPED_PREFIX = bytes(10) + b"\xff\xff"


def normalize_ip(ip: IPAddress) -> IPAddress:
    """IPv4-mapped IPv6 becomes IPv4; anything else is returned unchanged."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def parse_ip(text: str | None) -> IPAddress | None:
    """Text to an address (brackets allowed around IPv6); ``None``/empty gives ``None``."""
    if text is None or text == "":
        return None
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return normalize_ip(ipaddress.ip_address(text))


def ip_from_packed16(raw: bytes) -> IPAddress | None:
    """A 16-byte iBFT address field: all zero is ``None``, ``::ffff:a.b.c.d`` is IPv4."""
    if raw == bytes(16):
        return None
    if raw[:12] == _MAPPED_PREFIX:
        return ipaddress.IPv4Address(raw[12:16])
    return ipaddress.IPv6Address(raw)


def ip_to_packed16(ip: IPAddress | None) -> bytes:
    if ip is None:
        return bytes(16)
    if isinstance(ip, ipaddress.IPv4Address):
        return _MAPPED_PREFIX + ip.packed
    return ip.packed


def is_null_ip(ip: IPAddress | None) -> bool:
    """The kernel's notion of a null address: all zero or ``::ffff:0.0.0.0``."""
    return ip is None or (isinstance(ip, ipaddress.IPv4Address) and int(ip) == 0)


# --- enums ---------------------------------------------------------------------------------------


class Origin(enum.IntEnum):
    """NIC address origin: Microsoft's NL_PREFIX_ORIGIN, as EDK2 and open-iscsi use it.

    15 (iPXE's header constant) is accepted as UNCHANGED; any other unknown byte is kept as a
    pseudo-member ``UNKNOWN_<n>`` so that the table still decodes and re-encodes.
    """

    OTHER = 0
    MANUAL = 1
    WELL_KNOWN = 2
    DHCP = 3
    ROUTER_ADVERTISEMENT = 4
    UNCHANGED = 16

    @classmethod
    def _missing_(cls, value: object) -> Origin | None:
        if value == 15:
            return cls.UNCHANGED
        if isinstance(value, int) and 0 <= value <= 255:
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            return member
        return None

    @property
    def known(self) -> bool:
        return self._name_ in type(self).__members__


class ChapType(enum.IntEnum):
    NONE = 0
    CHAP = 1
    MUTUAL = 2

    @classmethod
    def _missing_(cls, value: object) -> ChapType | None:
        if isinstance(value, int) and 0 <= value <= 255:
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            return member
        return None


class InitiatorFlags(enum.IntFlag):
    VALID = 1
    BOOT_SELECTED = 2


class NicFlags(enum.IntFlag):
    VALID = 1
    BOOT_SELECTED = 2
    GLOBAL = 4


class TargetFlags(enum.IntFlag):
    VALID = 1
    BOOT_SELECTED = 2
    RADIUS_CHAP = 4
    RADIUS_RCHAP = 8


# --- small value types ---------------------------------------------------------------------------


class Secret:
    """A CHAP secret: its repr and str never show the value; ``reveal()`` does."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __len__(self) -> int:
        return len(self._value)


@dataclasses.dataclass(frozen=True)
class Lun:
    """The boot LUN as the exact 8 bytes of the SAM LUN structure.

    Views: ``levels`` (four big-endian 16-bit groups), ``linux`` (the kernel's
    ``scsilun_to_int``: level0 | level1<<16 | level2<<32 | level3<<48), ``text`` (RFC 4173
    hexadecimal levels, trailing zero levels dropped) and ``sysfs`` (the kernel iBFT
    attribute: each byte ``%x`` with no padding).
    """

    raw: bytes = bytes(8)

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != 8:
            raise ValueError(f"LUN must be exactly 8 bytes, got {self.raw!r}")

    @classmethod
    def from_levels(cls, levels: Iterable[int]) -> Lun:
        lv = list(levels)
        if len(lv) > 4 or any(not 0 <= x <= 0xFFFF for x in lv):
            raise ValueError(f"LUN levels must be at most four 16-bit values, got {lv}")
        lv += [0] * (4 - len(lv))
        return cls(b"".join(x.to_bytes(2, "big") for x in lv))

    @classmethod
    def from_linux(cls, value: int) -> Lun:
        if not 0 <= value < 1 << 64:
            raise ValueError(f"Linux LUN {value} out of range 0..2**64-1")
        return cls.from_levels((value >> (16 * i)) & 0xFFFF for i in range(4))

    @classmethod
    def from_hex(cls, text: str) -> Lun:
        """16 hexadecimal digits, as ``lun_bytes`` in the JSON form."""
        raw = bytes.fromhex(text)
        if len(raw) != 8:
            raise ValueError(f"lun_bytes must be 16 hex digits, got {text!r}")
        return cls(raw)

    @property
    def levels(self) -> tuple[int, int, int, int]:
        r = self.raw
        return (int.from_bytes(r[0:2], "big"), int.from_bytes(r[2:4], "big"),
                int.from_bytes(r[4:6], "big"), int.from_bytes(r[6:8], "big"))

    @property
    def linux(self) -> int:
        a, b, c, d = self.levels
        return a | b << 16 | c << 32 | d << 48

    @property
    def text(self) -> str:
        lv = list(self.levels)
        while len(lv) > 1 and lv[-1] == 0:
            lv.pop()
        return "-".join(f"{x:x}" for x in lv)

    @property
    def sysfs(self) -> str:
        return "".join(f"{b:x}" for b in self.raw)

    @property
    def hex(self) -> str:
        return self.raw.hex()

    def __str__(self) -> str:
        return self.text


@dataclasses.dataclass(frozen=True)  # not order=True: nothing sorts them; its 4 methods cost 2 M instructions
class PciAddress:
    """PCI bus/device/function as the iBFT stores it: ``bus<<8 | dev<<3 | fn`` (no segment). Compared
    by value; to order them, sort by ``to_int()``."""

    bus: int
    device: int
    function: int

    def __post_init__(self) -> None:
        if not (0 <= self.bus <= 255 and 0 <= self.device <= 31 and 0 <= self.function <= 7):
            raise ValueError(f"PCI address out of range: {self.bus}:{self.device}.{self.function}")

    @classmethod
    def from_int(cls, value: int) -> PciAddress:
        return cls(value >> 8 & 0xFF, value >> 3 & 0x1F, value & 0x7)

    @classmethod
    def parse(cls, text: str) -> PciAddress:
        """``bb:dd.f`` in hexadecimal (a ``0000:`` segment prefix is accepted)."""
        t = text.strip()
        parts = t.split(":")
        if len(parts) == 3:
            if int(parts[0], 16) != 0:
                raise ValueError(f"PCI segment {parts[0]} cannot be stored in an iBFT")
            parts = parts[1:]
        if len(parts) != 2 or "." not in parts[1]:
            raise ValueError(f"PCI address {text!r} is not bb:dd.f")
        dev, fn = parts[1].split(".", 1)
        return cls(int(parts[0], 16), int(dev, 16), int(fn, 16))

    def to_int(self) -> int:
        return self.bus << 8 | self.device << 3 | self.function

    def __str__(self) -> str:
        return f"{self.bus:02x}:{self.device:02x}.{self.function:x}"


def normalize_mac(text: str) -> str:
    """``AA-BB-CC-DD-EE-FF`` or ``aabb.ccdd.eeff`` etc. to lower-case colon form."""
    digits = "".join(c for c in text if c not in ":-. ").lower()
    if len(digits) != 12 or any(c not in "0123456789abcdef" for c in digits):
        raise ValueError(f"MAC address {text!r} is not 6 hexadecimal bytes")
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


# --- the structures ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TableHeader:
    """What the iBFT's own header says; ``None`` on a ``BootConfig`` that came from DHCP."""

    signature: str = "iBFT"
    revision: int = 1
    oem_id: str = ""
    oem_table_id: str = ""
    oem_revision: int = 0
    creator_id: int = 0
    creator_revision: int = 0
    length: int | None = None
    checksum: int | None = None
    checksum_ok: bool | None = None
    control_flags: int = 0
    # Why the Linux kernel would refuse the table (it then shows no /sys/firmware/ibft at all),
    # beyond checksum and revision: set by the decoder.
    linux_rejects: str | None = None
    # Structures Linux skips (wrong length, a slot offset it does not read): their kobject names.
    linux_skips: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Initiator:
    """The initiator structure (ID 2; iBFT 1.02 §3.5, ``docs/ibft.md``): the host's iSCSI name and flags."""

    name: str | None = None
    index: int = 0
    flags: InitiatorFlags = InitiatorFlags.VALID | InitiatorFlags.BOOT_SELECTED
    isns_server: IPAddress | None = None
    slp_server: IPAddress | None = None
    primary_radius_server: IPAddress | None = None
    secondary_radius_server: IPAddress | None = None


@dataclasses.dataclass(frozen=True)
class Nic:
    """One NIC structure (ID 3; iBFT 1.02 §3.6): address, prefix, gateway, DNS, DHCP server, VLAN, MAC, PCI address."""

    index: int = 0
    flags: NicFlags = NicFlags.VALID | NicFlags.BOOT_SELECTED
    ip_address: IPAddress | None = None
    prefix_len: int = 0
    origin: Origin = Origin.MANUAL
    gateway: IPAddress | None = None
    primary_dns: IPAddress | None = None
    secondary_dns: IPAddress | None = None
    dhcp_server: IPAddress | None = None
    vlan: int = 0
    mac: str | None = None
    pci_bdf: PciAddress | None = None
    hostname: str | None = None
    # Not in the table: the interface name when the source knows it (DHCP path, --interface).
    ifname: str | None = dataclasses.field(default=None, compare=True)
    # The origin byte exactly as the table stored it when ``origin`` interprets it (15, iPXE's
    # "unchanged", is read as 16): what the kernel shows and a re-encode writes.
    origin_byte: int | None = dataclasses.field(default=None, compare=False)

    @property
    def stored_origin(self) -> int:
        """The origin byte as stored (``origin_byte``), else ``int(origin)``."""
        return int(self.origin) if self.origin_byte is None else self.origin_byte

    @property
    def valid(self) -> bool:
        return bool(self.flags & NicFlags.VALID)

    @property
    def boot_selected(self) -> bool:
        return bool(self.flags & NicFlags.BOOT_SELECTED)

    @property
    def interface(self) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface | None:
        """Address with prefix, or ``None`` when the NIC has no usable address."""
        if is_null_ip(self.ip_address):
            return None
        assert self.ip_address is not None
        return ipaddress.ip_interface(f"{self.ip_address}/{self.prefix_len}")

    @property
    def vlan_id(self) -> int:
        """The 802.1Q VID (the low 12 bits; some firmware stores the whole TCI)."""
        return self.vlan & 0x0FFF

    @property
    def is_dhcp(self) -> bool:
        """The firmware got this NIC's address by DHCP: origin 3 **or** a DHCP-server field set.

        Firmware is unreliable about the origin byte (gPXE/iPXE wrote 0 for a DHCP lease), so
        every consumer takes either signal: dracut ``modules.d/40network/net-lib.sh``
        ``ibft_to_cmdline`` (``[ -n "$dhcp" ] || [ "$origin" -eq 3 ]``), open-iscsi
        ``usr/fwparam_ibft/fw_entry.c`` (origin 3 or ``dhcp`` not ``0.0.0.0``) and wicked's
        ``extensions/ibft``. A null DHCP server (all zero or ``::ffff:0.0.0.0``, which the
        kernel hides) does not count. Every render and the network plan use this one rule.
        """
        return self.origin == Origin.DHCP or not is_null_ip(self.dhcp_server)

    @property
    def is_slaac(self) -> bool:
        """An IPv6 address from router advertisements (origin 4): NetworkManager's ``auto``."""
        return self.origin == Origin.ROUTER_ADVERTISEMENT and self.family == 6 and not self.is_dhcp

    @property
    def gateway_address(self) -> IPAddress | None:
        """The gateway to route through: ``None`` when the field is null, ``255.255.255.255``
        (written by some firmware for "none") or of the other family than the NIC's address."""
        gw = self.gateway
        if is_null_ip(gw) or str(gw) == "255.255.255.255":
            return None
        assert gw is not None
        if not is_null_ip(self.ip_address) and self.ip_address is not None \
                and gw.version != self.ip_address.version:
            return None
        return gw

    @property
    def family(self) -> int:
        """4 or 6: the family of the address, else of the DHCP server or gateway; 4 when none is set."""
        for ip in (self.ip_address, self.dhcp_server, self.gateway):
            if not is_null_ip(ip):
                assert ip is not None
                return ip.version
        return 4


@dataclasses.dataclass(frozen=True)
class Target:
    """One target structure (ID 4; iBFT 1.02 §3.7): portal, LUN, name, NIC index, CHAP, boot selection."""

    index: int = 0
    flags: TargetFlags = TargetFlags.VALID | TargetFlags.BOOT_SELECTED
    ip_address: IPAddress | None = None
    port: int = 3260
    lun: Lun = Lun()
    chap_type: ChapType = ChapType.NONE
    nic_index: int = 0
    name: str | None = None
    chap_name: str | None = None
    chap_secret: Secret | None = None
    reverse_chap_name: str | None = None
    reverse_chap_secret: Secret | None = None
    # Not in the table: a DNS server name from a root path, used when there is no IP.
    server_name: str | None = None
    # Not in the table: for a link-local IPv6 portal, the interface it is reached through (its
    # zone, RFC 4007 §11), once the network plan has found the NIC's link.
    zone: str | None = None

    @property
    def valid(self) -> bool:
        return bool(self.flags & TargetFlags.VALID)

    @property
    def boot_selected(self) -> bool:
        return bool(self.flags & TargetFlags.BOOT_SELECTED)

    @property
    def address(self) -> str | None:
        """What to connect to: the IP as text, else the DNS name."""
        if self.ip_address is not None:
            return str(self.ip_address)
        return self.server_name

    def secrets(self) -> list[str]:
        return [s.reveal() for s in (self.chap_secret, self.reverse_chap_secret) if s is not None and len(s)]


@dataclasses.dataclass(frozen=True, eq=False)  # read field by field, never compared: no __eq__/__hash__
class TargetPath:
    """How one target is reached through the NIC the firmware named for it (compared by identity).

    ``dst`` is the target's host prefix (/32 or /128); ``gateway`` is ``None`` when the target is
    on-link (inside the NIC's prefix, or link-local), else the NIC's gateway; ``gateway_onlink``
    says the gateway lies outside the NIC's prefix (a /32 lease, RFC 3021 aside), so the kernel
    accepts a route through it only after an on-link route to the gateway itself.
    ``source`` is the NIC's address (the route's preferred source).
    """

    dst: ipaddress.IPv4Network | ipaddress.IPv6Network
    nic_index: int
    gateway: IPAddress | None
    source: IPAddress | None
    gateway_onlink: bool = False

    @property
    def on_link(self) -> bool:
        return self.gateway is None


def gateway_needs_onlink_route(gw: IPAddress, iface: ipaddress.IPv4Interface | ipaddress.IPv6Interface) -> bool:
    """The gateway lies outside the NIC's prefix (a /32 lease with a gateway elsewhere, common on
    cloud bare metal) and is not link-local: the kernel refuses ``via <gw>`` ("Network is
    unreachable") until an on-link route to the gateway itself exists."""
    return gw not in iface.network and not gw.is_link_local


def target_path(nic: Nic, target: Target) -> TargetPath | str:
    """The route to ``target`` through ``nic``, or one line saying why there is none.

    The rule of open-iscsi's ``iscsistart -N`` (``usr/iscsi_net_util.c``
    ``net_setup_netdev_ipv4``): a host route to every target, ``dev <nic>`` when the target is on
    the NIC's subnet, ``via <gateway>`` otherwise. Link-local targets (``fe80::/10``,
    ``169.254.0.0/16``) are on-link by definition (RFC 4291 §2.5.6, RFC 3927). The plan
    (``plan_network``) and the dracut render (``rd.route=``) both take their routes from here.
    """
    who = f"target[{target.index}]"
    ip = target.ip_address
    if ip is None:
        return f"{who}: server {target.server_name!r} is a name, not an address"
    iface = None
    if not is_null_ip(nic.ip_address):
        try:
            iface = nic.interface
        except ValueError:
            iface = None
    if iface is None:
        return f"{who} {ip}: NIC[{nic.index}] has no usable address to judge on-link"
    if ip.version != iface.version:
        return f"{who} {ip} is IPv{ip.version} but its NIC[{nic.index}] address {iface} is IPv{iface.version}"
    dst = ipaddress.ip_network(f"{ip}/{ip.max_prefixlen}")
    if ip in iface.network or ip.is_link_local:
        return TargetPath(dst, nic.index, None, iface.ip)
    gw = nic.gateway_address
    if gw is None:
        return f"{who} {ip} is outside NIC[{nic.index}]'s subnet {iface.network} and NIC[{nic.index}] has no gateway"
    return TargetPath(dst, nic.index, gw, iface.ip, gateway_onlink=gateway_needs_onlink_route(gw, iface))



@dataclasses.dataclass(frozen=True)
class BootConfig:
    """Everything needed to reach the boot disk, whatever the source."""

    initiator: Initiator | None = None
    nics: tuple[Nic, ...] = ()
    targets: tuple[Target, ...] = ()
    source: str = ""
    warnings: tuple[str, ...] = ()
    header: TableHeader | None = None

    def nic_by_index(self, index: int) -> Nic | None:
        for nic in self.nics:
            if nic.index == index:
                return nic
        return None

    def nic_for(self, target: Target) -> Nic | None:
        return self.nic_by_index(target.nic_index)

    def usable_targets(self) -> list[Target]:
        """The targets to use, in table order: the valid flag (bit 0, iBFT 1.03 §1.4.3.3) set and
        an address to connect to. Every render and the plan use this one rule; only the
        claimed-identical ``iscsistart`` render applies open-iscsi's own (flags non-zero)."""
        return [t for t in self.targets if t.valid and t.address]

    def login_order(self) -> list[Target]:
        """``usable_targets()``, boot-selected first, then the rest in table order (multipath)."""
        return sorted(self.usable_targets(), key=lambda t: 0 if t.boot_selected else 1)

    def boot_target(self) -> Target | None:
        """The first boot-selected usable target, else the first usable one; ``None`` if none."""
        order = self.login_order()
        return order[0] if order else None

    def boot_nic(self) -> Nic | None:
        """The NIC the boot target names (its ``nic_assoc``): the one that gets the default route."""
        t = self.boot_target()
        return None if t is None else self.nic_for(t)

    def used_nics(self) -> list[Nic]:
        """The NICs the usable targets name, in login order, each once (boot NIC first)."""
        out: list[Nic] = []
        for t in self.login_order():
            nic = self.nic_for(t)
            if nic is not None and nic not in out:
                out.append(nic)
        return out

    def secrets(self) -> list[str]:
        return [s for t in self.targets for s in t.secrets()]

    def replace(self, **changes: Any) -> BootConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self, *, show_secrets: bool = False) -> dict[str, Any]:
        """The JSON form (``ibftkit.model_json.config_to_dict``); secrets redacted unless shown."""
        from .model_json import config_to_dict

        return config_to_dict(self, show_secrets=show_secrets)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BootConfig:
        """The inverse of ``to_dict`` (``ibftkit.model_json.config_from_dict``); raises ``ModelError``."""
        from .model_json import config_from_dict

        return config_from_dict(data)
