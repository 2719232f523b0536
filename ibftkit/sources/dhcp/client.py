"""A DHCPv4 client (RFC 2131) that asks for the root path (17) and initiator name (203).

scapy builds and dissects the frames; a plain ``AF_PACKET`` socket bound to the interface, with a
hand-written classic BPF filter, moves them (no libpcap, no scapy interface cache). Every frame
is checked again in Python (xid, ``chaddr``, message type, server). The exchange is RFC 2131
§3.1/§4.4.1 (DISCOVER, OFFER, REQUEST with options 50/54, ACK; a NAK restarts, too many is an
error) with §4.1 retransmissions (``first_timeout`` doubling to 64 s, ±1 s at the RFC's 4 s base,
never past the caller's deadline). scapy is imported only by ``load_scapy()`` (``docs/dhcp.md``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib
import ipaddress
import os
import random
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ...infra.errors import DhcpError, DhcpTimeout, RootPathError
from ...infra.lazyimport import deferred
from ...infra.sysfs import read_attr
from ...model import normalize_mac
from .lease import Lease, decode_options, lease_from_reply, message_text
from .options import (
    CLIENT_PORT,
    MAGIC_COOKIE,
    MAX_MESSAGE_SIZE,
    PARAMETER_REQUEST_LIST,
    SERVER_PORT,
    VENDOR_CLASS,
    MessageType,
    Option,
)
from .packet import SYSFS_NET, DhcpStopped, PacketSocket, StopAware, Transport, check_interface

Progress = Callable[[str], None]


#: RFC 2131 §4.1: waits double "up to a maximum of 64 seconds".
MAX_WAIT = 64.0
#: DHCPNAKs in a row before giving up (each restarts at DHCPDISCOVER, RFC 2131 §3.1 step 5).
MAX_NAKS = 3
#: DHCPREQUESTs sent for one offer before going back to DHCPDISCOVER (RFC 2131 §4.4.1).
MAX_REQUESTS = 4
#: INIT-REBOOT DHCPREQUESTs before falling back to DHCPDISCOVER (RFC 2131 §3.2 step 5 lets the client choose).
REBOOT_REQUESTS = 2
#: When the first offer has no root path, how long to wait for another server's offer with one.
OFFER_WINDOW = 0.5
#: RFC 1542 §2.1: BOOTP messages shorter than 300 octets may be dropped by relays and old servers.
MIN_BOOTP_SIZE = 300
#: RFC 2131 §2: the BOOTP fields before the options (236 octets) and the magic cookie (4).
BOOTP_FIXED = 240



# --- scapy, imported on demand ---------------------------------------------------------------------

_NO_CACHE_DIR = "/dev/null/ibftkit-no-scapy-cache"  # can never be created: scapy writes nothing
#: scapy data tables the client never reads (MAC vendor names, Bluetooth company ids); without a
#: warm cache scapy rebuilds them on every import (~0.2 s), so the import sees empty stand-ins.
_UNUSED_SCAPY_TABLES = {"scapy.libs.manuf": "", "scapy.libs.bluetoothids": {}}
#: Optional modules scapy probes at import and the client never uses: ``cryptography`` (for TLS
#: and IPsec layers; 7-20 ms of its Rust bindings), ``pyx`` (PostScript drawings, tried three times:
#: ``scapy/packet.py``, ``scapy/plist.py``, ``scapy/libs/test_pyx.py``), and the probes for other
#: platforms' modules that scapy and the standard library make on the way (``__pypy__``,
#: ``scapy/config.py``; Jython's ``org.python.core``, ``Lib/pickle.py``; ``msvcrt``,
#: ``Lib/subprocess.py``). Hidden during the import, as if not installed (never a built-in module),
#: so that none is looked for along ``sys.path``.
_UNUSED_OPTIONAL_MODULES = ("cryptography", "pyx", "__pypy__", "org", "msvcrt")
#: scapy's own rtnetlink dissector (``scapy/arch/linux/rtnetlink.py``, two dozen packet classes),
#: which ``scapy.arch.linux`` imports only to re-export the four readers below; the client reads no
#: interface list and no route (``_no_network_reads``). During the import the module is a stand-in
#: whose readers import the real module when first called.
_RTNETLINK = "scapy.arch.linux.rtnetlink"
_RTNETLINK_READERS = ("read_routes", "read_routes6", "in6_getifaddr", "_get_if_list")

#: Standard-library modules scapy imports but uses only in functions the client never calls (cache
#: names, ``hexdiff``, HTML themes, ``Packet.json``, the shell; ``platform.system()``/``release()``
#: are answered from ``os.uname()``): stand-ins during the import (``lazyimport.deferred``) that
#: import the real module on first use (docs/dhcp.md, "Import diet").
_DEFERRED_STDLIB = ("hashlib", "difflib", "html", "json", "locale", "code", "codeop", "getopt", "glob",
                    "traceback", "textwrap", "base64", "platform")

_scapy: types.SimpleNamespace | None = None


def _no_routes() -> list[Any]:
    return []


#: One import of scapy at a time: the diet swaps process-wide state (environment, ``sys.modules``,
#: scapy's hooks), and the DHCPv6 client may import its layers on its own thread.
_IMPORT_LOCK = threading.Lock()


def _no_interfaces() -> None:
    return None


def _rtnetlink_reader(name: str) -> Callable[..., Any]:
    """``scapy.arch.linux.rtnetlink.<name>``, imported when first called (``_RTNETLINK``)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        module = sys.modules.get(_RTNETLINK)
        if module is None or getattr(module, "_ibftkit_stand_in", False):
            sys.modules.pop(_RTNETLINK, None)
            module = importlib.import_module(_RTNETLINK)
        return getattr(module, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def _rtnetlink_stand_in() -> types.ModuleType:
    stub = types.ModuleType(_RTNETLINK, "stand-in loaded by ibftkit.sources.dhcp.client: readers import the real one")
    stub._ibftkit_stand_in = True  # type: ignore[attr-defined]
    for name in _RTNETLINK_READERS:
        setattr(stub, name, _rtnetlink_reader(name))
    return stub


@contextlib.contextmanager
def _nothing_unused() -> Iterator[None]:
    """Before scapy's first import: no cache directory, no data tables, no optional modules the
    client never uses (each restored afterwards, so a later explicit import gets the real one)."""
    saved = {k: os.environ.get(k) for k in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")}
    stubs: list[str] = []
    if "scapy.config" in sys.modules:
        saved = {}
    for key in saved:
        os.environ[key] = _NO_CACHE_DIR
    for name, data in _UNUSED_SCAPY_TABLES.items() if saved else ():
        if name not in sys.modules:
            stub = types.ModuleType(name, "empty stand-in loaded by ibftkit.sources.dhcp.client")
            stub.DATA = data  # type: ignore[attr-defined]
            sys.modules[name] = stub
            stubs.append(name)
    for name in _UNUSED_OPTIONAL_MODULES if saved else ():
        if name not in sys.modules and name not in sys.builtin_module_names:
            sys.modules[name] = None  # type: ignore[assignment]  # "import cryptography" -> ImportError
            stubs.append(name)
    if saved and _RTNETLINK not in sys.modules and sys.platform.startswith("linux"):
        sys.modules[_RTNETLINK] = _rtnetlink_stand_in()
        stubs.append(_RTNETLINK)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for name in stubs:
            sys.modules.pop(name, None)


@contextlib.contextmanager
def _no_network_reads(*, ipv6: bool) -> Iterator[None]:
    """Before scapy.arch/scapy.route/scapy.layers.inet are first imported: no interface table, no
    routing tables, and (``ipv6=False``) no IPv6 layers; each hook restored afterwards."""
    ifaces: Any = None
    routes: tuple[Any, ...] = ()
    ipv6_was: bool | None = None
    try:
        if "scapy.arch" not in sys.modules:
            # scapy.arch reads every interface and its addresses at import (conf.ifaces.reload(),
            # through scapy's own rtnetlink dissector: hundreds of packets dissected); the client
            # names its interface and opens its own socket, so the table stays empty now and
            # scapy fills it on first use (scapy.interfaces.resolve_iface reloads when a name is
            # unknown), or at conf.ifaces.reload().
            import scapy.interfaces

            ifaces = scapy.interfaces.IFACES
            ifaces.reload = _no_interfaces
        if "scapy.route" not in sys.modules:
            # scapy.route and scapy.route6 read the routing tables when imported, through scapy's
            # own netlink dissector (~45 ms); the client never routes (it names the interface and
            # both addresses), so they read nothing now and can be filled by conf.route.resync().
            import scapy.arch

            routes = (scapy.arch.read_routes, scapy.arch.read_routes6)
            scapy.arch.read_routes = scapy.arch.read_routes6 = _no_routes
        if not ipv6 and "scapy.layers.inet" not in sys.modules:
            from scapy.config import conf

            ipv6_was, conf.ipv6_enabled = conf.ipv6_enabled, False
        yield
    finally:
        if ipv6_was is not None:
            from scapy.config import conf

            conf.ipv6_enabled = ipv6_was
        if ifaces is not None:
            del ifaces.reload  # the class's method again
        if routes:
            import scapy.arch

            scapy.arch.read_routes, scapy.arch.read_routes6 = routes
            route6 = sys.modules.get("scapy.route6")
            if route6 is not None:  # it imported the name; give it the real one back for resync()
                route6.read_routes6 = routes[1]  # type: ignore[attr-defined]


@contextlib.contextmanager
def scapy_diet(*, ipv6: bool = True) -> Iterator[None]:
    """Import scapy layers inside this block with the diet ``load_scapy`` describes.

    No-op parts when scapy is already imported (it is then used as it is). The DHCPv6 client
    (``ibftkit.sources.dhcp.client6``) imports its own layers through the same block, possibly on
    another thread (one import at a time). With ``ipv6=False``, ``scapy.layers.inet`` does not
    import ``scapy.layers.inet6`` (scapy imports it only when ``conf.ipv6_enabled``,
    ``scapy/layers/inet.py``); ``conf.ipv6_enabled`` is restored after the block.
    """
    with _IMPORT_LOCK:
        collecting = gc.isenabled()
        gc.disable()  # ~30,000 long-lived objects: no collection during the import can free any
        try:
            with deferred(*_DEFERRED_STDLIB), _nothing_unused(), _no_network_reads(ipv6=ipv6):
                yield
        finally:
            # scapy's import leaves ~33,000 objects (layer classes, fields, tables) alive for the life
            # of the process. Moved to the permanent generation, no later collection walks them
            # again, including the ones at interpreter exit (~30 ms of every 'ibftkit dhcp' run here).
            gc.freeze()
            if collecting:
                gc.enable()


def load_scapy() -> types.SimpleNamespace:
    """Import ``scapy.layers.{l2,inet,dhcp}`` once (never ``scapy.all``) and return the layers.

    During the import (``scapy_diet``) the XDG directories point to a path that cannot exist (no
    ``~/.cache/scapy``, no 2.8 MB of pickles written on every boot), the data tables the client
    never reads are empty, ``cryptography`` looks absent, scapy's interface table and
    ``conf.route``/``conf.route6`` start empty (filled on first use, or by ``conf.ifaces.reload()``
    and ``resync()``), the IPv6 layers are left for the DHCPv6 client (``load_scapy6``), and the
    cyclic garbage collector is off. If scapy is already imported, it is used as it is.
    """
    global _scapy
    if _scapy is not None:
        return _scapy
    with scapy_diet(ipv6=False):
        from scapy.layers.dhcp import BOOTP, DHCP
        from scapy.layers.inet import IP, UDP
        from scapy.layers.l2 import Ether
    _scapy = types.SimpleNamespace(Ether=Ether, IP=IP, UDP=UDP, BOOTP=BOOTP, DHCP=DHCP)
    return _scapy


# --- frames ----------------------------------------------------------------------------------------


def _mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def build_message(msg_type: MessageType, *, mac: str, xid: int, secs: int = 0,
                  requested: ipaddress.IPv4Address | None = None,
                  server_id: ipaddress.IPv4Address | None = None) -> bytes:
    """One client message as an Ethernet frame: broadcast, from 0.0.0.0:68 to 255.255.255.255:67.

    Options (RFC 2132): 53 message type, 61 client identifier (type 1 = Ethernet, then the MAC,
    §9.14), 60 vendor class ``ibftkit``, 57 maximum size, 50/54 when given, 55 the request list.
    The BOOTP broadcast flag is set (RFC 2131 §4.1: the client cannot receive unicast yet).
    """
    s = load_scapy()
    hw = _mac_bytes(mac)
    options: list[Any] = [
        ("message-type", int(msg_type)),
        ("client_id", b"\x01" + hw),
        ("vendor_class_id", VENDOR_CLASS),
        ("max_dhcp_size", MAX_MESSAGE_SIZE),
    ]
    if requested is not None:
        options.append(("requested_addr", str(requested)))
    if server_id is not None:
        options.append(("server_id", str(server_id)))
    options += [("param_req_list", [int(o) for o in PARAMETER_REQUEST_LIST]), "end"]
    dhcp = s.DHCP(options=options)
    # The BOOTP header with its magic cookie is BOOTP_FIXED bytes; pad options make it MIN_BOOTP_SIZE.
    short = MIN_BOOTP_SIZE - BOOTP_FIXED - len(bytes(dhcp))
    if short > 0:
        dhcp.options = options + ["pad"] * short
    # Layers joined in place (Packet.add_payload): the "/" operator copies both sides at every step.
    frame = s.Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
    for layer in (s.IP(src="0.0.0.0", dst="255.255.255.255"), s.UDP(sport=CLIENT_PORT, dport=SERVER_PORT),
                  s.BOOTP(op=1, chaddr=hw, xid=xid, secs=min(max(secs, 0), 0xFFFF), flags=0x8000), dhcp):
        frame.lastlayer().add_payload(layer)
    return bytes(frame)


@dataclasses.dataclass(frozen=True)
class Reply:
    """A server message to a client port, as far as the client needs it."""

    msg_type: int | None
    xid: int
    chaddr: bytes
    yiaddr: ipaddress.IPv4Address
    source_ip: ipaddress.IPv4Address
    options: Mapping[int, bytes]

    @property
    def server_id(self) -> ipaddress.IPv4Address:
        raw = self.options.get(Option.SERVER_ID)
        if raw is not None and len(raw) == 4:
            return ipaddress.IPv4Address(raw)
        return self.source_ip


def parse_frame(frame: bytes) -> Reply | None:
    """A BOOTREPLY carrying DHCP options from ``frame``, else ``None`` (not for a DHCP client).

    Raises ``DhcpError`` when the frame is a DHCP reply whose options cannot be decoded.
    """
    s = load_scapy()
    try:
        pkt = s.Ether(frame)
    except Exception:  # scapy dissectors raise assorted errors on junk
        return None
    if s.BOOTP not in pkt or s.UDP not in pkt or s.IP not in pkt:
        return None
    udp = pkt[s.UDP]
    if udp.sport != SERVER_PORT or udp.dport != CLIENT_PORT:
        return None
    bootp = pkt[s.BOOTP]
    raw = bytes(bootp.original or b"")
    if bootp.op != 2 or len(raw) < 240 or raw[236:240] != MAGIC_COOKIE:
        return None
    options = decode_options(raw[240:], file=raw[108:236], sname=raw[44:108])
    mtype = options.get(Option.MESSAGE_TYPE)
    return Reply(
        msg_type=mtype[0] if mtype is not None and len(mtype) == 1 else None,
        xid=int(bootp.xid),
        chaddr=raw[28:44],
        yiaddr=ipaddress.IPv4Address(raw[16:20]),
        source_ip=ipaddress.IPv4Address(pkt[s.IP].src),
        options=options,
    )


# --- the exchange ----------------------------------------------------------------------------------


class Exchange:
    """One interface's DHCP state machine (RFC 2131 §4.4), over any ``Transport``.

    ``clock`` and ``rng`` are injectable so that unit tests can drive the retransmission
    schedule with a simulated server.
    """

    def __init__(self, transport: Transport, *, interface: str, mac: str, timeout: float,
                 first_timeout: float = 1.0, progress: Progress | None = None,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None,
                 offer_window: float = OFFER_WINDOW, carrier: bool = True) -> None:
        self.transport = transport
        self.interface = interface
        self.mac = mac
        self.hw = _mac_bytes(mac)
        self.timeout = timeout
        self.first_timeout = first_timeout
        self.progress = progress or (lambda _message: None)
        self.clock = clock
        self.rng = rng or random.Random()
        self.offer_window = offer_window
        self.carrier = carrier
        self.start = clock()
        self.deadline = self.start + timeout
        self.discovers = 0
        self.requests = 0
        self.offers: list[ipaddress.IPv4Address] = []
        self.naks: list[str] = []

    # retransmission schedule (RFC 2131 §4.1)
    def wait(self, attempt: int) -> float:
        base: float = min(self.first_timeout * 2.0 ** attempt, MAX_WAIT)
        jitter = self.rng.uniform(-1.0, 1.0) * min(1.0, base / 4.0)
        return max(base + jitter, min(base, 0.1))

    def _secs(self) -> int:
        return int(self.clock() - self.start)

    def _send(self, msg_type: MessageType, xid: int, **kw: Any) -> None:
        self.transport.send(build_message(msg_type, mac=self.mac, xid=xid, secs=self._secs(), **kw))

    def _receive(self, until: float, xid: int, wanted: set[int],
                 server: ipaddress.IPv4Address | None = None) -> Reply | None:
        """The next reply for us of a wanted type before ``until``, else ``None``."""
        while True:
            left = min(until, self.deadline) - self.clock()
            if left <= 0:
                return None
            frame = self.transport.recv(left)
            if frame is None:
                continue
            try:
                reply = parse_frame(frame)
            except DhcpError as e:
                self.progress(f"ignored a malformed DHCP reply on {self.interface}: {e}")
                continue
            if (reply is None or reply.xid != xid or reply.chaddr[:6] != self.hw or reply.msg_type not in wanted
                    or (server is not None and reply.server_id != server)):
                continue
            return reply

    def run(self, *, reboot_address: ipaddress.IPv4Address | None = None) -> Lease:
        """DISCOVER until a lease; with ``reboot_address`` first ask for that address (INIT-REBOOT)."""
        if reboot_address is not None:
            xid = self.rng.getrandbits(32)
            lease = self._request(xid, reboot_address, None, tries=REBOOT_REQUESTS)
            if lease is not None:
                return lease
        while True:
            xid = self.rng.getrandbits(32)
            offer = self._select(xid)
            lease = self._request(xid, offer.yiaddr, offer.server_id)
            if lease is not None:
                return lease

    def _timeout(self) -> DhcpTimeout:
        what = f"no DHCP reply on {self.interface} within {round(self.timeout, 1):g} s ({self.discovers} DISCOVER" \
               f"{'s' if self.discovers != 1 else ''} sent"
        if self.offers:
            servers = ", ".join(sorted({str(o) for o in self.offers}))
            what = (f"no DHCPACK on {self.interface} within {round(self.timeout, 1):g} s ({len(self.offers)} OFFER"
                    f"{'s' if len(self.offers) != 1 else ''} from {servers}, {self.requests} REQUEST"
                    f"{'s' if self.requests != 1 else ''} sent")
        if not self.carrier:
            what += f"; {self.interface} had no carrier"
        return DhcpTimeout(what + ")")

    def _select(self, xid: int) -> Reply:
        """SELECTING: DISCOVER until an offer; prefer one that carries a root path."""
        attempt = 0
        while True:
            now = self.clock()
            if now >= self.deadline:
                raise self._timeout()
            self._send(MessageType.DISCOVER, xid)
            self.discovers += 1
            if attempt == 0:
                self.progress(f"DHCPDISCOVER on {self.interface} ({self.mac}, xid 0x{xid:08x})")
            else:
                self.progress(f"no DHCPOFFER on {self.interface} after {now - self.start:.1f} s; "
                              f"DHCPDISCOVER {attempt + 1}")
            retransmit = now + self.wait(attempt)
            attempt += 1
            first: Reply | None = None
            window_end = 0.0
            while True:
                until = retransmit if first is None else window_end
                offer = self._receive(until, xid, {MessageType.OFFER})
                if offer is None:
                    if first is not None:
                        return first
                    break
                self.offers.append(offer.server_id)
                self.progress(f"DHCPOFFER of {offer.yiaddr} from {offer.server_id}"
                              + ("" if Option.ROOT_PATH in offer.options else " (no root path)"))
                if Option.ROOT_PATH in offer.options:
                    return offer
                if first is None:
                    first = offer
                    window_end = self.clock() + self.offer_window

    def _request(self, xid: int, address: ipaddress.IPv4Address, server: ipaddress.IPv4Address | None,
                 *, tries: int = MAX_REQUESTS) -> Lease | None:
        """REQUESTING (``server`` set, RFC 2131 §4.3.2 SELECTING) or INIT-REBOOT (``server`` None, no
        option 54): the lease, or ``None`` to restart at DISCOVER (a NAK, or no answer)."""
        to = f" to {server}" if server is not None else " (INIT-REBOOT)"
        for attempt in range(tries):
            now = self.clock()
            if now >= self.deadline:
                raise self._timeout()
            self._send(MessageType.REQUEST, xid, requested=address, server_id=server)
            self.requests += 1
            self.progress(f"DHCPREQUEST of {address}{to}" + (f" ({attempt + 1})" if attempt else ""))
            reply = self._receive(now + self.wait(attempt), xid, {MessageType.ACK, MessageType.NAK}, server)
            if reply is None:
                continue
            if reply.msg_type == MessageType.NAK:
                text = message_text(reply.options)
                self.naks.append(text or "")
                self.progress(f"DHCPNAK from {reply.server_id}" + (f": {text}" if text else "") + "; restarting")
                if len(self.naks) >= MAX_NAKS:
                    last = f" (last: {text!r})" if text else ""
                    raise DhcpError(f"DHCP on {self.interface}: {len(self.naks)} DHCPNAKs in a row from "
                                    f"{reply.server_id}, giving up{last}")
                return None
            server = reply.server_id
            lease = lease_from_reply(interface=self.interface, mac=self.mac, xid=xid, yiaddr=reply.yiaddr,
                                     options=reply.options, source_ip=reply.source_ip)
            self.progress(f"DHCPACK of {lease.address} from {server}"
                          + (f", lease {lease.lease_time} s" if lease.lease_time is not None else ""))
            return lease
        self.progress(f"no DHCPACK{to} after {tries} DHCPREQUESTs; restarting at DHCPDISCOVER")
        return None


# --- public entry points ---------------------------------------------------------------------------


def acquire_lease(interface: str, *, timeout: float = 30.0, first_timeout: float = 1.0,
                  progress: Progress | None = None, mac: str | None = None,
                  reboot_address: str | ipaddress.IPv4Address | None = None, sysfs: str = SYSFS_NET,
                  stop: threading.Event | None = None) -> Lease:
    """Run DHCP on ``interface`` until a DHCPACK or ``timeout`` seconds; configures nothing.

    ``mac`` overrides the interface's MAC as ``chaddr``, client identifier and frame source.
    ``reboot_address`` (an address this client had, e.g. the firmware's) is asked for first,
    as RFC 2131 §3.2 INIT-REBOOT does; a DHCPNAK or silence falls back to DHCPDISCOVER.
    Raises ``DhcpTimeout`` when no lease came in time, ``DhcpError`` for a missing, down or
    non-Ethernet interface, a NAK loop, or an ACK that cannot be decoded; ``DhcpStopped``
    (within 0.1 s) once ``stop`` is set from another thread.
    """
    if not timeout > 0:
        raise DhcpError(f"DHCP timeout {timeout!r}: expected a number of seconds > 0")
    if not first_timeout > 0:
        raise DhcpError(f"DHCP first retransmission timeout {first_timeout!r}: expected seconds > 0")
    link = check_interface(interface, sysfs=sysfs)
    reboot = None
    if reboot_address is not None:
        try:
            reboot = ipaddress.IPv4Address(str(reboot_address).split("/")[0])
        except ValueError:
            raise DhcpError(f"INIT-REBOOT address {reboot_address!r} is not an IPv4 address") from None
    try:
        hw = normalize_mac(mac) if mac is not None else link.mac
    except ValueError as e:
        raise DhcpError(str(e)) from None
    if hw == "00:00:00:00:00:00":
        raise DhcpError(f"interface {interface} has no MAC address")
    if progress is not None and not link.carrier:
        progress(f"no carrier on {interface} yet; sending anyway")
    load_scapy()
    transport: Transport = PacketSocket(interface)
    if stop is not None:
        transport = StopAware(transport, stop)
    try:
        return Exchange(transport, interface=interface, mac=hw, timeout=timeout, first_timeout=first_timeout,
                        progress=progress, carrier=link.carrier).run(reboot_address=reboot)
    finally:
        transport.close()


def carrier_order(interfaces: Sequence[str], *, sysfs: str = SYSFS_NET) -> list[str]:
    """Interfaces with carrier first, each group in the given order (a stable sort)."""

    def has_carrier(name: str) -> bool:
        return read_attr(os.path.join(sysfs, name, "carrier")) == "1"

    return sorted(dict.fromkeys(interfaces), key=lambda name: 0 if has_carrier(name) else 1)


def acquire_first(interfaces: Sequence[str], *, timeout: float, first_timeout: float = 1.0,
                  progress: Progress | None = None, sysfs: str = SYSFS_NET,
                  acquire: Callable[..., Lease] | None = None, stop: threading.Event | None = None) -> Lease:
    """The first lease, over ``interfaces``, whose root path is usable (parses, names a server).

    Interfaces are tried one at a time, carrier first, otherwise in the given order. Each gets
    an equal share of the time still left (so one that fails fast leaves more to the next).
    When none gives a usable lease, ``DhcpError`` names every interface and why it failed.
    ``stop`` is handed to ``acquire`` (``acquire_lease``); once set, ``DhcpStopped`` ends the run.
    """
    names = carrier_order(interfaces, sysfs=sysfs)
    if not names:
        raise DhcpError("no interface to run DHCP on")
    get = acquire or acquire_lease
    deadline = time.monotonic() + timeout
    failures: list[str] = []
    more: dict[str, Any] = {} if stop is None else {"stop": stop}
    for k, name in enumerate(names):
        left = deadline - time.monotonic()
        if left <= 0:
            failures.append(f"{name}: not tried (time ran out)")
            continue
        share = left / (len(names) - k)
        try:
            lease = get(name, timeout=share, first_timeout=min(first_timeout, share), progress=progress,
                        sysfs=sysfs, **more)
            lease.usable_root_path()
        except DhcpStopped:
            raise
        except (DhcpError, RootPathError) as e:
            failures.append(f"{name}: {e}")
            if progress is not None:
                progress(f"{name}: {e}")
            continue
        return lease
    raise DhcpError(f"no usable DHCP lease on {len(names)} interface{'s' if len(names) != 1 else ''}: "
                    + "; ".join(failures))
