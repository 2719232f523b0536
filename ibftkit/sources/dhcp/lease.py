"""A DHCP lease as ibftkit uses it, and the pure decoding of the options it comes from.

No sockets and no scapy here: the client (``ibftkit.sources.dhcp.client``) hands over the BOOTP fields
and the raw option bytes of a DHCPACK, and this module turns them into a ``Lease``, its JSON form
(``ibftkit dhcp --json``) and a ``BootConfig``.

Option bytes are decoded as RFC 2131 §4.1 and RFC 2132 describe them, with two rules scapy's own
option list does not apply:

- RFC 3396 §7: an option that appears several times is one option whose values are concatenated
  in order, so a root path longer than 255 bytes (sent as several option-17 instances) is whole;
- RFC 2132 §9.3: when option 52 (overload) says so, the BOOTP ``file`` and then ``sname`` fields
  hold more options, which continue the ones in the options field (RFC 3396 §7 gives the order:
  options, file, sname).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...infra.errors import DhcpError
from ...model import BootConfig, Nic, NicFlags, Origin
from .options import Option, Overload

if TYPE_CHECKING:
    from ..rootpath import RootPath

IPv4 = ipaddress.IPv4Address

#: RFC 2131 §3.3: 0xffffffff means an infinite lease.
INFINITE_LEASE = 0xFFFFFFFF


# --- option bytes ----------------------------------------------------------------------------------


def _scan(data: bytes, out: dict[int, bytearray], where: str) -> None:
    """Add the TLV options of one field to ``out`` (RFC 2132 §2), concatenating repeats (RFC 3396)."""
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == Option.PAD:
            i += 1
            continue
        if code == Option.END:
            return
        if i + 1 >= n:
            raise DhcpError(f"DHCP options ({where} field): option {code} at offset {i} has no length byte")
        length = data[i + 1]
        if i + 2 + length > n:
            raise DhcpError(f"DHCP options ({where} field): option {code} at offset {i} claims {length} bytes, "
                            f"only {n - i - 2} left")
        out.setdefault(code, bytearray()).extend(data[i + 2:i + 2 + length])
        i += 2 + length
    # A field without an END option is accepted: the data simply ran out (lenient, as dnsmasq is).


def decode_options(options: bytes, *, file: bytes = b"", sname: bytes = b"") -> dict[int, bytes]:
    """The options of a DHCP message as ``{code: value}``.

    ``options`` is the options field after the magic cookie; ``file`` and ``sname`` are the BOOTP
    fields, read only when option 52 says they are overloaded (RFC 2132 §9.3). Repeated codes
    are concatenated (RFC 3396 §7). Raises ``DhcpError`` for an option that overruns its field.
    """
    found: dict[int, bytearray] = {}
    _scan(options, found, "options")
    overload = found.get(Option.OVERLOAD)
    if overload is not None:
        if len(overload) != 1 or not 1 <= overload[0] <= 3:
            raise DhcpError(f"DHCP option 52 (overload) is {bytes(overload).hex()} (expected one byte 1, 2 or 3)")
        flags = Overload(overload[0])
        if flags & Overload.FILE:
            _scan(file, found, "file")
        if flags & Overload.SNAME:
            _scan(sname, found, "sname")
    return {code: bytes(value) for code, value in found.items()}


def _ip(value: bytes, what: str) -> IPv4:
    if len(value) != 4:
        raise DhcpError(f"DHCP option {what}: {len(value)} bytes (expected 4, an IPv4 address)")
    return IPv4(value)


def _ips(value: bytes, what: str) -> tuple[IPv4, ...]:
    if not value or len(value) % 4:
        raise DhcpError(f"DHCP option {what}: {len(value)} bytes (expected a multiple of 4, IPv4 addresses)")
    return tuple(IPv4(value[i:i + 4]) for i in range(0, len(value), 4))


def _uint(value: bytes, size: int, what: str) -> int:
    if len(value) != size:
        raise DhcpError(f"DHCP option {what}: {len(value)} bytes (expected {size})")
    return int.from_bytes(value, "big")


def option_text(value: bytes) -> str:
    """Option data as text: UTF-8 (RFC 3720 §3.2.6 iSCSI names are UTF-8; NVT ASCII is a subset),
    undecodable bytes shown as ``\\xNN`` so that an error message can name them."""
    return value.decode("utf-8", "backslashreplace")


def _name_text(value: bytes) -> str | None:
    """Host or domain name: trailing NULs dropped (RFC 2132 §2 says receivers MUST)."""
    text = option_text(value).rstrip("\x00")
    return text or None


def mask_to_prefix(mask: IPv4) -> int:
    """The prefix length of a contiguous netmask; ``DhcpError`` for ``255.0.255.0`` and the like."""
    bits = int(mask)
    prefix = bin(bits).count("1")
    if bits != (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF:
        raise DhcpError(f"DHCP option 1 (subnet mask): {mask} is not a contiguous netmask")
    return prefix


def classful_prefix(address: IPv4) -> int:
    """The RFC 791 class prefix, what a client assumes when the server sends no subnet mask."""
    first = address.packed[0]
    return 8 if first < 128 else 16 if first < 192 else 24


def message_text(options: Mapping[int, bytes]) -> str | None:
    """Option 56 (a server's message, e.g. with a DHCPNAK), or ``None``."""
    value = options.get(Option.MESSAGE)
    return None if value is None else (_name_text(value) or None)


# --- the lease -------------------------------------------------------------------------------------



def with_server(rp: RootPath, root_path: str | None, interface: str) -> RootPath:
    """``rp`` when it names a server; ``DhcpError`` when it asks for RFC 4173 discovery by target
    name (not supported), for the DHCPv4 and DHCPv6 leases alike."""
    if rp.needs_discovery:
        raise DhcpError(f"root path {root_path!r} on {interface} names no server (RFC 4173 discovery "
                        "by target name is not supported)")
    return rp

@dataclasses.dataclass(frozen=True)
class Lease:
    """What a DHCPACK gave one interface. ``root_path`` and ``initiator_name`` are the raw option
    17 and 203 texts (``None`` when the server sent none)."""

    interface: str
    mac: str
    address: ipaddress.IPv4Interface
    gateway: IPv4 | None = None
    dns: tuple[IPv4, ...] = ()
    hostname: str | None = None
    domain: str | None = None
    broadcast: IPv4 | None = None
    mtu: int | None = None
    server_id: IPv4 | None = None
    lease_time: int | None = None
    root_path: str | None = None
    initiator_name: str | None = None
    xid: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def ip_address(self) -> IPv4:
        return self.address.ip

    @property
    def prefix_len(self) -> int:
        return self.address.network.prefixlen

    def parse_root_path(self) -> RootPath | None:
        """Option 17 parsed strictly (RFC 4173); ``None`` without one; ``RootPathError`` when malformed."""
        if self.root_path is None:
            return None
        from ..rootpath import parse_root_path

        return parse_root_path(self.root_path)

    def usable_root_path(self) -> RootPath:
        """The parsed root path, or ``DhcpError``/``RootPathError`` saying why there is no target to log in to."""
        rp = self.parse_root_path()
        if rp is None:
            raise DhcpError(f"the lease on {self.interface} ({self.address} from {self.server_id or 'unknown server'}) "
                            f"has no root path (DHCP option {int(Option.ROOT_PATH)})")
        return with_server(rp, self.root_path, self.interface)

    def to_json_dict(self) -> dict[str, Any]:
        """The ``ibftkit dhcp --json`` object. Raises ``RootPathError`` for a malformed option 17."""
        rp = self.parse_root_path()
        return {
            "interface": self.interface,
            "address": str(self.address),
            "gateway": None if self.gateway is None else str(self.gateway),
            "dns": [str(d) for d in self.dns],
            "hostname": self.hostname,
            "server_id": None if self.server_id is None else str(self.server_id),
            "lease_time": self.lease_time,
            "root_path": self.root_path,
            "initiator_name": self.initiator_name,
            "target": None if rp is None else rp.to_json_dict(),
        }

    def to_nic(self, index: int = 0) -> Nic:
        """The NIC as an iBFT NIC structure would describe it, origin DHCP."""
        return Nic(
            index=index,
            flags=NicFlags.VALID | NicFlags.BOOT_SELECTED,
            ip_address=self.address.ip,
            prefix_len=self.prefix_len,
            origin=Origin.DHCP,
            gateway=self.gateway,
            primary_dns=self.dns[0] if self.dns else None,
            secondary_dns=self.dns[1] if len(self.dns) > 1 else None,
            dhcp_server=self.server_id,
            mac=self.mac,
            hostname=self.hostname,
            ifname=self.interface,
        )

    def to_boot_config(self, *, initiator_name: str | None = None) -> BootConfig:
        """The lease in the one boot model: NIC 0 and the target from option 17.

        ``initiator_name`` overrides option 203. Without option 17 the config has the NIC, no
        target and a warning; a malformed option 17 raises ``RootPathError``; an invalid
        initiator name raises ``IscsiNameError`` (both from ``ibftkit.sources.rootpath``).
        """
        nic = self.to_nic()
        source = f"dhcp:{self.interface}"
        name = initiator_name
        if name is None and self.initiator_name is not None:
            name = self.initiator_name.rstrip("\x00").strip() or None
        rp = self.parse_root_path()
        if rp is None:
            from ...model import Initiator

            return BootConfig(initiator=Initiator(name=name) if name else None, nics=(nic,), source=source,
                              warnings=self.warnings + (f"no root path (DHCP option {int(Option.ROOT_PATH)}) "
                                                        "in the lease: no target",))
        from ..rootpath import config_from_root_path

        cfg = config_from_root_path(rp, initiator_name=name, nic=nic, source=source)
        return cfg.replace(warnings=self.warnings + cfg.warnings)


def lease_from_reply(*, interface: str, mac: str, xid: int, yiaddr: IPv4, options: Mapping[int, bytes],
                     source_ip: IPv4 | None = None) -> Lease:
    """Build a ``Lease`` from a DHCPACK's ``yiaddr`` and decoded options (``decode_options``).

    ``source_ip`` (the IP source of the ACK) stands in for a missing option 54.
    Raises ``DhcpError`` for an option whose length or value cannot be right.
    """
    if int(yiaddr) == 0 or yiaddr.is_multicast or yiaddr == IPv4("255.255.255.255"):
        raise DhcpError(f"DHCPACK on {interface} offers address {yiaddr} (expected a unicast address)")
    warnings: list[str] = []
    opt = options.get
    mask = opt(Option.SUBNET_MASK)
    if mask is not None:
        prefix = mask_to_prefix(_ip(mask, "1 (subnet mask)"))
    else:
        prefix = classful_prefix(yiaddr)
        warnings.append(f"no subnet mask (DHCP option 1) in the lease; assumed /{prefix} (the address class)")
    routers = opt(Option.ROUTER)
    dns = opt(Option.DOMAIN_NAME_SERVER)
    broadcast = opt(Option.BROADCAST_ADDRESS)
    mtu = opt(Option.INTERFACE_MTU)
    server = opt(Option.SERVER_ID)
    lease_time = opt(Option.LEASE_TIME)
    root_path = opt(Option.ROOT_PATH)
    initiator = opt(Option.ISCSI_INITIATOR_IQN)
    return Lease(
        interface=interface,
        mac=mac,
        address=ipaddress.IPv4Interface(f"{yiaddr}/{prefix}"),
        gateway=None if routers is None else _ips(routers, "3 (router)")[0],
        dns=() if dns is None else _ips(dns, "6 (DNS servers)"),
        hostname=None if opt(Option.HOST_NAME) is None else _name_text(opt(Option.HOST_NAME) or b""),
        domain=None if opt(Option.DOMAIN_NAME) is None else _name_text(opt(Option.DOMAIN_NAME) or b""),
        broadcast=None if broadcast is None else _ip(broadcast, "28 (broadcast address)"),
        mtu=None if mtu is None else _uint(mtu, 2, "26 (interface MTU)"),
        server_id=source_ip if server is None else _ip(server, "54 (server identifier)"),
        lease_time=None if lease_time is None else _uint(lease_time, 4, "51 (lease time)"),
        root_path=None if root_path is None else option_text(root_path),
        initiator_name=None if initiator is None else option_text(initiator),
        xid=xid,
        warnings=tuple(warnings),
    )
