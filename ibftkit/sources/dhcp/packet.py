"""The DHCP client's link: an ``AF_PACKET`` socket on one interface, BPF-filtered, and the sysfs
check that the interface is an Ethernet link that is up (packet(7), ``Documentation/networking/filter.rst``).

The client sends and receives whole Ethernet frames because the interface has no address yet (RFC 2131
§4.1: a client without an address uses the link layer); the kernel's filter passes only UDP from port
67 to port 68, so the socket sees DHCP replies and little else.
"""

from __future__ import annotations

import array
import dataclasses
import select
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from ...infra.errors import DhcpError, errno_text
from ...infra.sysfs import read_attr
from ...model import normalize_mac
from .options import CLIENT_PORT, SERVER_PORT

SYSFS_NET = "/sys/class/net"
ETH_P_IP = 0x0800
ARPHRD_ETHER = 1
IFF_UP = 0x1
PACKET_OUTGOING = 4
SO_ATTACH_FILTER = 26  # <asm-generic/socket.h>

#: ``tcpdump -dd 'ip and udp src port 67 and udp dst port 68'`` as (code, jt, jf, k), written out
#: by hand: load ethertype, IPv4? protocol UDP? not a later fragment? source port 67? dest 68?
BPF_DHCP_CLIENT: tuple[tuple[int, int, int, int], ...] = (
    (0x28, 0, 0, 12),          # 0  ldh [12]               ethertype
    (0x15, 0, 10, 0x0800),     # 1  jeq #0x800    jf 12
    (0x30, 0, 0, 23),          # 2  ldb [23]               IP protocol
    (0x15, 0, 8, 17),          # 3  jeq #17       jf 12
    (0x28, 0, 0, 20),          # 4  ldh [20]               flags + fragment offset
    (0x45, 6, 0, 0x1FFF),      # 5  jset #0x1fff  jt 12
    (0xB1, 0, 0, 14),          # 6  ldxb 4*([14]&0xf)      IP header length
    (0x48, 0, 0, 14),          # 7  ldh [x + 14]           UDP source port
    (0x15, 0, 3, SERVER_PORT),  # 8  jeq #67       jf 12
    (0x48, 0, 0, 16),          # 9  ldh [x + 16]           UDP destination port
    (0x15, 0, 1, CLIENT_PORT),  # 10 jeq #68       jf 12
    (0x06, 0, 0, 0x40000),     # 11 ret #262144            accept
    (0x06, 0, 0, 0),           # 12 ret #0                 drop
)


# --- the link --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LinkState:
    """What ``check_interface`` reads: the MAC (``aa:bb:…``, lower case) and whether there is carrier."""

    mac: str
    carrier: bool


def check_interface(ifname: str, *, sysfs: str = SYSFS_NET) -> LinkState:
    """The interface's MAC and carrier; ``DhcpError`` when it is missing, down or not Ethernet."""
    if not ifname or "/" in ifname or ifname in (".", "..") or len(ifname) > 15:
        raise DhcpError(f"interface name {ifname!r} is not a Linux interface name")
    base = Path(sysfs) / ifname
    try:
        flags = int((base / "flags").read_text().strip(), 16)
        hwtype = int((base / "type").read_text().strip())
        mac = (base / "address").read_text().strip()
    except FileNotFoundError:
        raise DhcpError(f"interface {ifname} not found (no {base})") from None
    except (OSError, ValueError) as e:
        raise DhcpError(f"interface {ifname}: cannot read {base}: {e}") from None
    if hwtype != ARPHRD_ETHER:
        raise DhcpError(f"interface {ifname} is not Ethernet (ARPHRD type {hwtype}; DHCP here needs type 1)")
    if not flags & IFF_UP:
        raise DhcpError(f"interface {ifname} is down; bring it up first (ip link set {ifname} up)")
    return LinkState(mac=normalize_mac(mac), carrier=read_attr(base / "carrier") == "1")


class Transport(Protocol):
    def send(self, frame: bytes) -> None: ...

    def recv(self, timeout: float) -> bytes | None: ...

    def close(self) -> None: ...


class DhcpStopped(DhcpError):
    """The exchange was stopped from outside: the other address family's lease came first
    (``ibftkit.sources.dhcp.dual``)."""


class StopAware:
    """``transport`` (a ``Transport`` or ``client6.Transport6``), ended from another thread by ``stop``.

    ``send`` and ``recv`` raise ``DhcpStopped`` once ``stop`` is set; ``recv`` waits in slices of
    ``poll`` seconds so that it notices within one (a frame still returns as soon as it arrives).
    """

    def __init__(self, transport: Any, stop: threading.Event, *, poll: float = 0.1) -> None:
        self.transport, self.stop, self.poll = transport, stop, poll

    def _check(self) -> None:
        if self.stop.is_set():
            raise DhcpStopped("stopped: the other address family's lease came first")

    def send(self, frame: bytes) -> None:
        self._check()
        self.transport.send(frame)

    def recv(self, timeout: float) -> Any:
        end = time.monotonic() + timeout
        while True:
            self._check()
            left = end - time.monotonic()
            got = self.transport.recv(min(max(left, 0.0), self.poll))
            if got is not None or left <= self.poll:
                return got

    def close(self) -> None:
        self.transport.close()


def attach_filter(sock: socket.socket) -> None:
    """Attach ``BPF_DHCP_CLIENT`` with ``SO_ATTACH_FILTER`` (no libpcap needed)."""
    program = array.array("B", b"".join(struct.pack("=HBBI", *insn) for insn in BPF_DHCP_CLIENT))
    address, _ = program.buffer_info()
    fprog = struct.pack("HL", len(BPF_DHCP_CLIENT), address)  # struct sock_fprog {u16 len; *filter}
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


class PacketSocket:
    """An ``AF_PACKET`` raw socket bound to one interface, IPv4 frames only, BPF-filtered."""

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        try:
            # Protocol 0 at creation, the real one at bind(): the kernel then registers its packet
            # hook once instead of twice (each unregister waits for an RCU grace period, ~10 ms).
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError:
            raise DhcpError("a DHCP client needs a raw packet socket: run as root (CAP_NET_RAW)") from None
        try:
            self.sock.bind((ifname, ETH_P_IP))
            try:
                attach_filter(self.sock)
            except OSError:
                pass  # every frame is checked in Python as well
            self.sock.setblocking(False)
            while True:  # drop what queued before the filter was in place
                try:
                    self.sock.recv(4096)
                except BlockingIOError:
                    break
        except OSError as e:
            self.sock.close()
            raise DhcpError(f"interface {ifname}: cannot open a packet socket: {errno_text(e)}") from None

    def send(self, frame: bytes) -> None:
        try:
            self.sock.send(frame)
        except OSError as e:
            raise DhcpError(f"interface {self.ifname}: cannot send: {errno_text(e, ifname=self.ifname)}") from None

    def recv(self, timeout: float) -> bytes | None:
        try:
            ready, _, _ = select.select([self.sock], [], [], max(timeout, 0.0))
            if not ready:
                return None
            data, address = self.sock.recvfrom(65535)
        except BlockingIOError:
            return None
        except OSError as e:
            raise DhcpError(f"interface {self.ifname}: cannot receive: {errno_text(e, ifname=self.ifname)}") from None
        if address[2] == PACKET_OUTGOING:
            return None
        return data

    def close(self) -> None:
        """Close without waiting: releasing a packet socket waits for an RCU grace period in the
        kernel (``packet_release`` calls ``synchronize_net``, 10-15 ms here), which the lease
        does not need, so it happens on a daemon thread while the caller goes on."""
        sock, self.sock = self.sock, None  # type: ignore[assignment]
        if sock is not None:
            threading.Thread(target=sock.close, name="ibftkit-dhcp-close", daemon=True).start()
