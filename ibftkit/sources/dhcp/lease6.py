"""A DHCPv6 lease as ibftkit uses it, and the pure decoding of the options it comes from.

No sockets and no scapy here: the client (``ibftkit.sources.dhcp.client6``) hands over a message's type,
transaction id and raw option bytes, and this module checks and decodes them (RFC 8415 §21), turns
a Reply into a ``Lease6``, its JSON form (``ibftkit dhcp --family 6 --json``) and a ``BootConfig``.

Codes and constants:

- message types and option codes: RFC 8415 §7.3 and §21; option 23 (DNS recursive name servers)
  and 24 (domain search list): RFC 3646 §3 and §4; option 59 (Boot File URL): RFC 5970 §3.1;
- transmission parameters: RFC 8415 §7.6 (``SOL_TIMEOUT`` …); status codes: §21.13;
- DUID-LL: RFC 8415 §11.4 (type 3, hardware type 1 = Ethernet, then the MAC).

The iSCSI root path travels in option 59 as an RFC 4173 ``iscsi:`` URL (IPv6 servers in brackets,
RFC 4173 §5); there is no DHCPv6 counterpart of option 203, so the initiator name comes from the
usual places (``rd.iscsi.initiator=``, ``/etc/iscsi/initiatorname.iscsi``).
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import struct
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...infra.errors import DhcpError
from ...model import BootConfig, Nic, NicFlags, Origin

if TYPE_CHECKING:
    from ..rootpath import RootPath

IPv6 = ipaddress.IPv6Address

CLIENT_PORT = 546  # RFC 8415 §7.2
SERVER_PORT = 547
ALL_DHCP_RELAY_AGENTS_AND_SERVERS = "ff02::1:2"  # RFC 8415 §7.1

# RFC 8415 §7.6, seconds
SOL_TIMEOUT = 1.0
SOL_MAX_RT = 3600.0
REQ_TIMEOUT = 1.0
REQ_MAX_RT = 30.0
REQ_MAX_RC = 10


class MessageType6(enum.IntEnum):
    """DHCPv6 message types (RFC 8415 §7.3)."""

    SOLICIT = 1
    ADVERTISE = 2
    REQUEST = 3
    CONFIRM = 4
    RENEW = 5
    REBIND = 6
    REPLY = 7
    RELEASE = 8
    DECLINE = 9
    RECONFIGURE = 10
    INFORMATION_REQUEST = 11


class Option6(enum.IntEnum):
    """DHCPv6 option codes the client sends or reads."""

    CLIENTID = 1        # RFC 8415 §21.2
    SERVERID = 2        # §21.3
    IA_NA = 3           # §21.4
    IAADDR = 5          # §21.6
    ORO = 6             # §21.7 option request
    PREFERENCE = 7      # §21.8
    ELAPSED_TIME = 8    # §21.9
    STATUS_CODE = 13    # §21.13
    RAPID_COMMIT = 14   # §21.14
    VENDOR_CLASS = 16   # §21.16
    DNS_SERVERS = 23    # RFC 3646 §3
    DOMAIN_LIST = 24    # RFC 3646 §4
    BOOTFILE_URL = 59   # RFC 5970 §3.1


class Status(enum.IntEnum):
    """Status codes (RFC 8415 §21.13)."""

    SUCCESS = 0
    UNSPEC_FAIL = 1
    NO_ADDRS_AVAIL = 2
    NO_BINDING = 3
    NOT_ON_LINK = 4
    USE_MULTICAST = 5


#: What the client asks for in option 6 (RFC 8415 §18.2.1 lets a client request what it needs;
#: dnsmasq sends option 59 only when it is requested).
REQUESTED_OPTIONS: tuple[Option6, ...] = (Option6.DNS_SERVERS, Option6.DOMAIN_LIST, Option6.BOOTFILE_URL)

#: RFC 8415 §21.1: "the value of the IAID ... MUST be consistent across restarts"; one IA_NA per
#: interface, so a constant is enough.
IAID = 1


def duid_ll(mac: str) -> bytes:
    """The DUID-LL for an Ethernet MAC (RFC 8415 §11.4): type 3, hardware type 1, the 6 bytes."""
    hw = bytes.fromhex(mac.replace(":", ""))
    if len(hw) != 6:
        raise DhcpError(f"MAC {mac!r}: expected 6 bytes for a DUID-LL")
    return struct.pack("!HH", 3, 1) + hw


# --- option bytes ----------------------------------------------------------------------------------


def decode_options6(data: bytes, *, where: str = "message") -> dict[int, list[bytes]]:
    """The options of a DHCPv6 message or of an encapsulating option, as ``{code: [value, …]}``.

    Each option is code (2 bytes), length (2 bytes), value (RFC 8415 §21.1); an option that appears
    several times keeps each value in order. Raises ``DhcpError`` for an option that overruns.
    """
    out: dict[int, list[bytes]] = {}
    i, n = 0, len(data)
    while i < n:
        if i + 4 > n:
            raise DhcpError(f"DHCPv6 options ({where}): {n - i} stray byte(s) at offset {i} (an option header is 4)")
        code, length = struct.unpack_from("!HH", data, i)
        if i + 4 + length > n:
            raise DhcpError(f"DHCPv6 options ({where}): option {code} at offset {i} claims {length} bytes, "
                            f"only {n - i - 4} left")
        out.setdefault(code, []).append(bytes(data[i + 4:i + 4 + length]))
        i += 4 + length
    return out


def decode_status(value: bytes) -> tuple[int, str]:
    """Option 13: ``(code, message)`` (RFC 8415 §21.13; the message is UTF-8)."""
    if len(value) < 2:
        raise DhcpError(f"DHCPv6 option 13 (status code) is {len(value)} bytes (expected at least 2)")
    return struct.unpack_from("!H", value)[0], value[2:].decode("utf-8", "replace")


def status_text(code: int, message: str) -> str:
    try:
        name = Status(code).name
    except ValueError:
        name = f"status {code}"
    return f"{name}" + (f" ({message!r})" if message else "")


@dataclasses.dataclass(frozen=True)
class IaAddress:
    """One IA Address option (RFC 8415 §21.6); lifetimes in seconds (0xffffffff: infinity)."""

    address: IPv6
    preferred_lifetime: int
    valid_lifetime: int


@dataclasses.dataclass(frozen=True)
class IaNa:
    """One IA_NA option (RFC 8415 §21.4): IAID, T1/T2 in seconds, addresses and its status."""

    iaid: int
    t1: int
    t2: int
    addresses: tuple[IaAddress, ...]
    status: tuple[int, str] = (Status.SUCCESS, "")


def decode_ia_na(value: bytes) -> IaNa:
    """Option 3 with its IA Address (5) and Status Code (13) sub-options.

    Addresses whose preferred lifetime exceeds the valid one are dropped (RFC 8415 §21.6:
    "the client MUST discard any addresses for which the preferred lifetime is greater than the
    valid lifetime"). Raises ``DhcpError`` when the option is too short or a sub-option overruns.
    """
    if len(value) < 12:
        raise DhcpError(f"DHCPv6 option 3 (IA_NA) is {len(value)} bytes (expected at least 12)")
    iaid, t1, t2 = struct.unpack_from("!III", value)
    subs = decode_options6(value[12:], where="IA_NA")
    addresses = []
    for raw in subs.get(Option6.IAADDR, []):
        if len(raw) < 24:
            raise DhcpError(f"DHCPv6 option 5 (IA address) is {len(raw)} bytes (expected at least 24)")
        pref, valid = struct.unpack_from("!II", raw, 16)
        if pref <= valid and valid > 0:
            addresses.append(IaAddress(IPv6(raw[:16]), pref, valid))
    status = decode_status(subs[Option6.STATUS_CODE][0]) if Option6.STATUS_CODE in subs else (Status.SUCCESS, "")
    return IaNa(iaid=iaid, t1=t1, t2=t2, addresses=tuple(addresses), status=status)


def decode_dns_servers(value: bytes) -> tuple[IPv6, ...]:
    """Option 23: a list of 16-byte addresses (RFC 3646 §3)."""
    if len(value) % 16:
        raise DhcpError(f"DHCPv6 option 23 (DNS servers) is {len(value)} bytes (expected a multiple of 16)")
    return tuple(IPv6(value[i:i + 16]) for i in range(0, len(value), 16))


def decode_domain_list(value: bytes) -> tuple[str, ...]:
    """Option 24: domain names in DNS wire form, uncompressed (RFC 3646 §4, RFC 1035 §3.1)."""
    names: list[str] = []
    labels: list[str] = []
    i = 0
    while i < len(value):
        n = value[i]
        if n == 0:
            names.append(".".join(labels))
            labels = []
            i += 1
            continue
        if n > 63 or i + 1 + n > len(value):
            raise DhcpError(f"DHCPv6 option 24 (domain search list): bad label length {n} at offset {i}")
        labels.append(value[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    if labels:  # a final name without its root label: accepted, as most clients do
        names.append(".".join(labels))
    return tuple(names)


# --- a checked message -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Message6:
    """A server message (Advertise or Reply) as far as the client needs it (RFC 8415 §16)."""

    msg_type: int
    trid: int
    options: Mapping[int, Sequence[bytes]]
    source: str = ""

    def first(self, code: int) -> bytes | None:
        values = self.options.get(code)
        return values[0] if values else None

    @property
    def server_id(self) -> bytes:
        return self.first(Option6.SERVERID) or b""

    @property
    def preference(self) -> int:
        raw = self.first(Option6.PREFERENCE)
        return raw[0] if raw is not None and len(raw) == 1 else 0

    @property
    def rapid_commit(self) -> bool:
        return Option6.RAPID_COMMIT in self.options

    @property
    def status(self) -> tuple[int, str]:
        raw = self.first(Option6.STATUS_CODE)
        return decode_status(raw) if raw is not None else (Status.SUCCESS, "")

    def ia_na(self, iaid: int = IAID) -> IaNa | None:
        """Our IA_NA (by IAID), or ``None`` when the message has none."""
        for raw in self.options.get(Option6.IA_NA, []):
            ia = decode_ia_na(raw)
            if ia.iaid == iaid:
                return ia
        return None

    def boot_file_url(self) -> str | None:
        raw = self.first(Option6.BOOTFILE_URL)
        return None if raw is None else raw.decode("utf-8", "replace")


def parse_message6(data: bytes, *, source: str = "") -> Message6 | None:
    """A server-to-client message (type, 3-byte transaction id, options; RFC 8415 §8), else ``None``.

    Raises ``DhcpError`` when the options cannot be decoded.
    """
    if len(data) < 4 or data[0] not in (MessageType6.ADVERTISE, MessageType6.REPLY):
        return None
    trid = int.from_bytes(data[1:4], "big")
    return Message6(msg_type=data[0], trid=trid, options=decode_options6(data[4:]), source=source)


def check_message6(msg: Message6, *, trid: int, client_duid: bytes) -> str | None:
    """Why ``msg`` must be discarded (RFC 8415 §16.4, §16.10), or ``None`` when it is ours."""
    if msg.trid != trid:
        return f"transaction id 0x{msg.trid:06x} is not ours"
    if msg.first(Option6.CLIENTID) != client_duid:
        return "client identifier is not ours"
    if not msg.server_id:
        return "no server identifier"
    return None


# --- the lease -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Lease6:
    """What a DHCPv6 Reply gave: the address, DNS, the Boot File URL, and who gave it.

    RFC 8415 leases carry no prefix length and no router: the on-link prefix and the default router
    come from router advertisements (RFC 4861 §6.3.4), which the kernel processes. ``address`` is
    ``/128`` from the Reply alone; ``with_link`` gives it the on-link prefix that contains it and
    sets ``gateway``, from what the kernel learnt."""

    interface: str
    mac: str
    address: ipaddress.IPv6Interface
    gateway: IPv6 | None = None  # the default router, from router advertisements (``with_link``)
    dns: tuple[IPv6, ...] = ()
    domain_search: tuple[str, ...] = ()
    server_id: bytes = b""
    server_address: str | None = None
    preferred_lifetime: int | None = None
    valid_lifetime: int | None = None
    boot_file_url: str | None = None
    rapid_commit: bool = False
    trid: int = 0
    warnings: tuple[str, ...] = ()

    family = 6
    hostname = None
    initiator_name = None

    @property
    def ip_address(self) -> IPv6:
        return self.address.ip

    @property
    def prefix_len(self) -> int:
        return self.address.network.prefixlen

    @property
    def root_path(self) -> str | None:
        """Option 59 when it is an ``iscsi:`` URL (RFC 4173), else ``None``."""
        url = self.boot_file_url
        if url is None:
            return None
        text = url.rstrip("\x00").strip()
        return text if text[:6].lower() == "iscsi:" else None

    def parse_root_path(self) -> RootPath | None:
        """The root path parsed strictly (RFC 4173); ``None`` without one; ``RootPathError`` when malformed."""
        if self.root_path is None:
            return None
        from ..rootpath import parse_root_path

        return parse_root_path(self.root_path)

    def no_root_path(self) -> str:
        """Why there is no root path, as a phrase."""
        if self.boot_file_url is None:
            return f"no root path (DHCPv6 option {int(Option6.BOOTFILE_URL)}, Boot File URL)"
        return f"Boot File URL {self.boot_file_url!r} (DHCPv6 option 59) is not an iscsi: root path"

    def usable_root_path(self) -> RootPath:
        """The parsed root path, or ``DhcpError``/``RootPathError`` saying why there is no target."""
        rp = self.parse_root_path()
        if rp is None:
            raise DhcpError(f"the DHCPv6 lease on {self.interface} ({self.address} from server "
                            f"{self.server_id.hex()}) has {self.no_root_path()}")
        from .lease import with_server

        return with_server(rp, self.root_path, self.interface)

    def to_json_dict(self) -> dict[str, Any]:
        """The ``ibftkit dhcp --family 6 --json`` object (the DHCPv4 keys where they apply).

        Raises ``RootPathError`` for a malformed ``iscsi:`` Boot File URL.
        """
        rp = self.parse_root_path()
        return {
            "interface": self.interface,
            "family": 6,
            "address": str(self.address),
            "gateway": None if self.gateway is None else str(self.gateway),
            "dns": [str(d) for d in self.dns],
            "domain_search": list(self.domain_search),
            "hostname": None,
            "server_id": self.server_id.hex(),
            "server_address": self.server_address,
            "lease_time": self.valid_lifetime,
            "preferred_lifetime": self.preferred_lifetime,
            "rapid_commit": self.rapid_commit,
            "boot_file_url": self.boot_file_url,
            "root_path": self.root_path,
            "initiator_name": None,
            "target": None if rp is None else rp.to_json_dict(),
        }

    def to_nic(self, index: int = 0) -> Nic:
        """The NIC as an iBFT NIC structure would describe it, origin DHCP (address /128)."""
        server = None
        if self.server_address:
            try:
                server = IPv6(self.server_address.split("%")[0])
            except ValueError:
                server = None
        return Nic(
            index=index,
            flags=NicFlags.VALID | NicFlags.BOOT_SELECTED,
            ip_address=self.address.ip,
            prefix_len=self.prefix_len,
            origin=Origin.DHCP,
            gateway=self.gateway,
            primary_dns=self.dns[0] if self.dns else None,
            secondary_dns=self.dns[1] if len(self.dns) > 1 else None,
            dhcp_server=server,
            mac=self.mac,
            ifname=self.interface,
        )

    def with_link(self, prefixes: Sequence[ipaddress.IPv6Network], gateway: IPv6 | None) -> Lease6:
        """The lease with the longest of ``prefixes`` that holds the address (else ``/128``) and the
        default router ``gateway``, as router advertisements told the kernel."""
        holding = [p for p in prefixes if self.address.ip in p]
        plen = max((p.prefixlen for p in holding), default=self.address.network.prefixlen)
        return dataclasses.replace(self, address=ipaddress.IPv6Interface(f"{self.address.ip}/{plen}"),
                                   gateway=gateway)

    def to_boot_config(self, *, initiator_name: str | None = None) -> BootConfig:
        """The lease in the one boot model: NIC 0 and the target from option 59.

        Without an ``iscsi:`` option 59 the config has the NIC, no target and a warning; a
        malformed one raises ``RootPathError``; an invalid initiator name ``IscsiNameError``.
        """
        nic = self.to_nic()
        source = f"dhcp6:{self.interface}"
        rp = self.parse_root_path()
        if rp is None:
            from ...model import Initiator

            return BootConfig(initiator=Initiator(name=initiator_name) if initiator_name else None, nics=(nic,),
                              source=source, warnings=self.warnings + (f"{self.no_root_path()} in the lease: "
                                                                       "no target",))
        from ..rootpath import config_from_root_path

        cfg = config_from_root_path(rp, initiator_name=initiator_name, nic=nic, source=source)
        return cfg.replace(warnings=self.warnings + cfg.warnings)


def lease_from_reply6(msg: Message6, *, interface: str, mac: str, iaid: int = IAID) -> Lease6:
    """Build a ``Lease6`` from a checked Reply (``check_message6``).

    Raises ``DhcpError`` when the Reply carries a failure status (top level or in our IA_NA), no
    address, or an option whose length cannot be right.
    """
    code, text = msg.status
    if code != Status.SUCCESS:
        raise DhcpError(f"DHCPv6 Reply on {interface} from server {msg.server_id.hex()}: {status_text(code, text)}")
    ia = msg.ia_na(iaid)
    if ia is None:
        raise DhcpError(f"DHCPv6 Reply on {interface} from server {msg.server_id.hex()} has no IA_NA "
                        f"(option 3) for IAID {iaid}: no address")
    if ia.status[0] != Status.SUCCESS:
        raise DhcpError(f"DHCPv6 on {interface}: server {msg.server_id.hex()} gave no address "
                        f"({status_text(*ia.status)})")
    if not ia.addresses:
        raise DhcpError(f"DHCPv6 Reply on {interface} from server {msg.server_id.hex()}: IA_NA holds no "
                        "usable address (option 5)")
    best = ia.addresses[0]
    if best.address.is_multicast or best.address.is_unspecified or best.address.is_link_local:
        raise DhcpError(f"DHCPv6 Reply on {interface} offers address {best.address} (expected a unicast, "
                        "non-link-local address)")
    warnings: list[str] = []
    if len(ia.addresses) > 1:
        warnings.append(f"{len(ia.addresses)} addresses in the IA_NA; using the first, {best.address}")
    dns_raw = msg.first(Option6.DNS_SERVERS)
    domains = msg.first(Option6.DOMAIN_LIST)
    return Lease6(
        interface=interface,
        mac=mac,
        address=ipaddress.IPv6Interface(f"{best.address}/128"),
        dns=() if dns_raw is None else decode_dns_servers(dns_raw),
        domain_search=() if domains is None else decode_domain_list(domains),
        server_id=msg.server_id,
        server_address=msg.source or None,
        preferred_lifetime=best.preferred_lifetime,
        valid_lifetime=best.valid_lifetime,
        boot_file_url=msg.boot_file_url(),
        rapid_commit=msg.rapid_commit,
        trid=msg.trid,
        warnings=tuple(warnings),
    )
