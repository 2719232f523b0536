"""A DHCPv6 client (RFC 8415) for one IA_NA, DNS (option 23) and the Boot File URL (option 59).

scapy builds the messages (``scapy.layers.dhcp6``, imported through the same diet as the DHCPv4
client, ``docs/dhcp.md``); ``ibftkit.sources.dhcp.lease6`` checks and decodes what comes back. A kernel UDP
socket bound to port 546 on the interface moves them, from the interface's link-local address to
All_DHCP_Relay_Agents_and_Servers, ``ff02::1:2`` port 547 (RFC 8415 §7.1, §13.1): the kernel picks
the link-local source and answers the server's neighbour solicitation for it. While that address
is still tentative (duplicate address detection, RFC 4862 §5.4, about 1 s after link-up) the kernel
refuses to send (``EADDRNOTAVAIL``); the client then polls until it may, within the deadline.

The exchange (RFC 8415 §18.2.1, §18.2.2, §18.2.10):

1. Solicit with Rapid Commit (§21.14), our DUID-LL, an empty IA_NA and the option request;
2. a Reply with Rapid Commit ends it at once (§18.2.1); otherwise Advertises are collected until
   the first retransmission time, or at once when one carries preference 255 (§18.2.1); the best
   is taken: one that offers an address, then one whose option 59 is an ``iscsi:`` root path,
   then the highest preference (§18.2.9 lets the client weigh what is offered);
3. Request to that server (its Server Identifier, the offered address), then the Reply.

Retransmission is RFC 8415 §15: ``RT = IRT + RAND*IRT`` then ``2*RTprev + RAND*RTprev``, RAND
uniform in ±0.1 (strictly positive for the first Solicit, §18.2.1), capped at MRT; Requests stop
after ``REQ_MAX_RC`` and the client solicits again. No wait runs past the caller's deadline.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import os
import random
import select
import socket
import struct
import threading
import time
import types
from collections.abc import Callable
from typing import Any, Protocol

from ...infra.errors import DhcpError, DhcpTimeout
from ...model import normalize_mac
from .lease6 import (
    ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
    CLIENT_PORT,
    IAID,
    REQ_MAX_RC,
    REQ_MAX_RT,
    REQ_TIMEOUT,
    REQUESTED_OPTIONS,
    SERVER_PORT,
    SOL_MAX_RT,
    SOL_TIMEOUT,
    Lease6,
    Message6,
    MessageType6,
    Option6,
    Status,
    check_message6,
    duid_ll,
    lease_from_reply6,
    parse_message6,
    status_text,
)

Progress = Callable[[str], None]

#: How often to retry a send while the link-local address is tentative (RFC 4862 DAD).
LINK_LOCAL_POLL = 0.05
#: How long to wait after the Reply for a router advertisement's on-link prefix (the kernel sends
#: its first Router Solicitation once the link-local address is usable, before the first Solicit).
RA_WAIT = 2.0

_scapy: types.SimpleNamespace | None = None


def load_scapy6() -> types.SimpleNamespace:
    """Import ``scapy.layers.dhcp6`` once, under the DHCPv4 client's import diet
    (``ibftkit.sources.dhcp.client.scapy_diet``), and return the layers the client builds with."""
    global _scapy
    if _scapy is not None:
        return _scapy
    from .client import scapy_diet

    with scapy_diet():
        from scapy.layers import dhcp6
    _scapy = types.SimpleNamespace(
        Solicit=dhcp6.DHCP6_Solicit, Request=dhcp6.DHCP6_Request, ClientId=dhcp6.DHCP6OptClientId,
        ServerId=dhcp6.DHCP6OptServerId, DUID_LL=dhcp6.DUID_LL, ElapsedTime=dhcp6.DHCP6OptElapsedTime,
        IA_NA=dhcp6.DHCP6OptIA_NA, IAAddress=dhcp6.DHCP6OptIAAddress, OptReq=dhcp6.DHCP6OptOptReq,
        RapidCommit=dhcp6.DHCP6OptRapidCommit)
    return _scapy


# --- messages --------------------------------------------------------------------------------------


def build_message6(msg_type: MessageType6, *, mac: str, trid: int, elapsed: float = 0.0,
                   server_id: bytes | None = None, address: ipaddress.IPv6Address | None = None,
                   rapid_commit: bool = True) -> bytes:
    """A Solicit or Request (RFC 8415 §18.2.1, §18.2.2) as UDP payload bytes.

    Options: Client Identifier (our DUID-LL, §11.4), Elapsed Time in hundredths of a second
    (§21.9, capped at 0xffff), IA_NA with IAID 1 (and the offered address in a Request), the
    Option Request (23, 24, 59), Server Identifier in a Request, Rapid Commit in a Solicit.
    """
    s = load_scapy6()
    if not 0 <= trid < 1 << 24:
        raise DhcpError(f"DHCPv6 transaction id {trid} does not fit in 3 bytes")
    cls = {MessageType6.SOLICIT: s.Solicit, MessageType6.REQUEST: s.Request}[msg_type]
    pkt: Any = cls(trid=trid) / s.ClientId(duid=s.DUID_LL(lladdr=mac))
    if server_id is not None:
        pkt /= s.ServerId(struct.pack("!HH", int(Option6.SERVERID), len(server_id)) + server_id)
    ia_opts = [] if address is None else [s.IAAddress(addr=str(address), preflft=0, validlft=0)]
    pkt /= s.IA_NA(iaid=IAID, T1=0, T2=0, ianaopts=ia_opts)
    pkt /= s.ElapsedTime(elapsedtime=min(max(int(elapsed * 100), 0), 0xFFFF))
    pkt /= s.OptReq(reqopts=[int(o) for o in REQUESTED_OPTIONS])
    if msg_type == MessageType6.SOLICIT and rapid_commit:
        pkt /= s.RapidCommit()
    return bytes(pkt)


# --- the link --------------------------------------------------------------------------------------


class LinkLocalNotReady(Exception):
    """The kernel cannot send from the link-local address yet (tentative, or IPv6 is off)."""


class Transport6(Protocol):
    def send(self, data: bytes) -> None: ...

    def recv(self, timeout: float) -> tuple[bytes, str] | None: ...

    def close(self) -> None: ...


class UdpSocket6:
    """A UDP socket on ``[::]:546`` bound to one interface, sending to ``ff02::1:2`` port 547.

    No ``SO_REUSEADDR``: with another client on port 546 the kernel would hand it the Replies, so
    the bind fails instead (``EADDRINUSE``) and says so."""

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        try:
            self.index = socket.if_nametoindex(ifname)
            self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        except OSError as e:
            raise DhcpError(f"interface {ifname}: cannot open an IPv6 UDP socket: {os.strerror(e.errno or 0)}"
                            + ("" if e.errno != errno.EAFNOSUPPORT else " (kernel without IPv6)")) from None
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.index)
            self.sock.bind(("::", CLIENT_PORT))
        except OSError as e:
            self.sock.close()
            hint = {errno.EACCES: " (needs root: port 546 is privileged)", errno.EPERM: " (needs root)",
                    errno.EADDRINUSE: " (another DHCPv6 client is running: it would take the Replies)"}.get(
                        e.errno or 0, "")
            raise DhcpError(f"interface {ifname}: cannot bind UDP port {CLIENT_PORT}: "
                            f"{os.strerror(e.errno or 0)}{hint}") from None
        self.sock.setblocking(False)

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendto(data, (ALL_DHCP_RELAY_AGENTS_AND_SERVERS, SERVER_PORT, 0, self.index))
        except OSError as e:
            if e.errno in (errno.EADDRNOTAVAIL, errno.ENETUNREACH, errno.EHOSTUNREACH):
                raise LinkLocalNotReady(os.strerror(e.errno or 0)) from None
            raise DhcpError(f"interface {self.ifname}: cannot send a DHCPv6 message: "
                            f"{os.strerror(e.errno or 0)}") from None

    def recv(self, timeout: float) -> tuple[bytes, str] | None:
        ready, _, _ = select.select([self.sock], [], [], max(timeout, 0.0))
        if not ready:
            return None
        try:
            data, address = self.sock.recvfrom(65535)
        except BlockingIOError:
            return None
        except OSError as e:
            raise DhcpError(f"interface {self.ifname}: cannot receive: {os.strerror(e.errno or 0)}") from None
        if address[1] != SERVER_PORT:
            return None
        return data, str(address[0])

    def close(self) -> None:
        self.sock.close()


def ipv6_disabled(ifname: str, *, proc: str = "/proc/sys/net/ipv6/conf") -> bool:
    """``disable_ipv6`` is 1 for the interface (or IPv6 is absent from the kernel)."""
    try:
        with open(f"{proc}/{ifname}/disable_ipv6") as f:
            return f.read().strip() == "1"
    except OSError:
        return True


# --- the exchange ----------------------------------------------------------------------------------


class Exchange6:
    """One interface's DHCPv6 exchange (RFC 8415 §18.2) over any ``Transport6``.

    ``clock``, ``sleep`` and ``rng`` are injectable so that unit tests can drive the §15 schedule
    against a simulated server.
    """

    def __init__(self, transport: Transport6, *, interface: str, mac: str, timeout: float,
                 progress: Progress | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None,
                 rapid_commit: bool = True) -> None:
        self.transport = transport
        self.interface = interface
        self.mac = mac
        self.duid = duid_ll(mac)
        self.timeout = timeout
        self.progress = progress or (lambda _message: None)
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.rapid_commit = rapid_commit
        self.start = clock()
        self.deadline = self.start + timeout
        self.sent = {MessageType6.SOLICIT: 0, MessageType6.REQUEST: 0}
        self.advertised: list[str] = []
        self.refusals: list[str] = []
        self.waited_link_local = False

    # §15 retransmission
    def _rand(self) -> float:
        return self.rng.uniform(-0.1, 0.1)

    def first_rt(self, irt: float, *, solicit: bool) -> float:
        """``IRT + RAND*IRT``; for the first Solicit RAND is strictly positive (RFC 8415 §18.2.1)."""
        rand = (self.rng.uniform(0.0, 0.1) or 0.05) if solicit else self._rand()
        return irt + rand * irt

    def next_rt(self, prev: float, mrt: float) -> float:
        """``2*RTprev + RAND*RTprev``, and ``MRT + RAND*MRT`` past MRT (RFC 8415 §15)."""
        rt = 2 * prev + self._rand() * prev
        if mrt and rt > mrt:
            rt = mrt + self._rand() * mrt
        return rt

    def _send(self, msg_type: MessageType6, trid: int, **kw: Any) -> None:
        data = build_message6(msg_type, mac=self.mac, trid=trid, elapsed=self.clock() - self.start,
                              rapid_commit=self.rapid_commit, **kw)
        while True:
            try:
                self.transport.send(data)
                break
            except LinkLocalNotReady as e:
                if not self.waited_link_local:
                    self.progress(f"{self.interface}: waiting for its IPv6 link-local address (duplicate "
                                  f"address detection; {e})")
                    self.waited_link_local = True
                if self.clock() + LINK_LOCAL_POLL >= self.deadline:
                    raise DhcpTimeout(f"no usable IPv6 link-local address on {self.interface} within "
                                      f"{round(self.timeout, 1):g} s to send DHCPv6 from (RFC 8415 §13.1; {e})"
                                      ) from None
                self.sleep(LINK_LOCAL_POLL)
        self.sent[msg_type] += 1

    def _receive(self, until: float, trid: int) -> Message6 | None:
        """The next Advertise or Reply for us before ``until``, else ``None``."""
        while True:
            left = min(until, self.deadline) - self.clock()
            if left <= 0:
                return None
            got = self.transport.recv(left)
            if got is None:
                continue
            data, source = got
            try:
                msg = parse_message6(data, source=source)
                why = None if msg is None else check_message6(msg, trid=trid, client_duid=self.duid)
            except DhcpError as e:
                self.progress(f"ignored a malformed DHCPv6 message from {source}: {e}")
                continue
            if msg is None:
                continue
            if why is not None:
                self.progress(f"ignored a DHCPv6 message from {source}: {why}")
                continue
            return msg

    def _timeout(self) -> DhcpTimeout:
        sol, req = self.sent[MessageType6.SOLICIT], self.sent[MessageType6.REQUEST]
        what = (f"no DHCPv6 Advertise or Reply on {self.interface} within {round(self.timeout, 1):g} s ({sol} Solicit"
                f"{'s' if sol != 1 else ''} sent to {ALL_DHCP_RELAY_AGENTS_AND_SERVERS}")
        if self.advertised:
            n = len(self.advertised)
            servers = ", ".join(sorted(set(self.advertised)))
            what = (f"no DHCPv6 Reply on {self.interface} within {round(self.timeout, 1):g} s ({n} Advertise"
                    f"{'s' if n != 1 else ''} from {servers}, {req} Request{'s' if req != 1 else ''} sent")
        if self.refusals:
            what += f"; {'; '.join(dict.fromkeys(self.refusals))}"
        return DhcpTimeout(what + ")")

    def _offers_address(self, msg: Message6) -> bool:
        code, text = msg.status
        ia = msg.ia_na()
        if code != Status.SUCCESS or ia is None or ia.status[0] != Status.SUCCESS or not ia.addresses:
            why = status_text(code, text) if code != Status.SUCCESS else (
                "no IA_NA" if ia is None else status_text(*ia.status) if ia.status[0] else "no address")
            self.refusals.append(f"server {msg.server_id.hex()}: {why}")
            return False
        return True

    @staticmethod
    def _rank(msg: Message6) -> tuple[int, int]:
        url = (msg.boot_file_url() or "").lower()
        return (1 if url.startswith("iscsi:") else 0, msg.preference)

    def run(self) -> Lease6:
        """Solicit until a lease (or the deadline): ``DhcpTimeout``/``DhcpError`` say why not."""
        while True:
            trid = self.rng.getrandbits(24)
            got = self._solicit(trid)
            if got.msg_type == MessageType6.REPLY:
                return self._lease(got, rapid=True)
            lease = self._request(trid, got)
            if lease is not None:
                return lease

    def _lease(self, reply: Message6, *, rapid: bool) -> Lease6:
        lease = lease_from_reply6(reply, interface=self.interface, mac=self.mac)
        how = " (Rapid Commit)" if rapid else ""
        self.progress(f"DHCPv6 Reply{how}: {lease.address} from server {lease.server_id.hex()}"
                      + (f", valid {lease.valid_lifetime} s" if lease.valid_lifetime is not None else ""))
        return lease

    def _solicit(self, trid: int) -> Message6:
        """Solicit (retransmitted per §15, same transaction id) until a usable Advertise or a Rapid
        Commit Reply. Advertises are collected for the first RT (§18.2.1) unless one has preference
        255; after that, the first usable Advertise ends the wait."""
        rt = self.first_rt(SOL_TIMEOUT, solicit=True)
        best: Message6 | None = None
        first_round = True
        while True:
            now = self.clock()
            if now >= self.deadline:
                raise self._timeout()
            self._send(MessageType6.SOLICIT, trid)
            if first_round:
                self.progress(f"DHCPv6 Solicit on {self.interface} ({self.mac}, transaction 0x{trid:06x})")
            else:
                self.progress(f"no DHCPv6 Advertise on {self.interface} after {now - self.start:.1f} s; "
                              f"Solicit {self.sent[MessageType6.SOLICIT]}")
            retransmit = now + rt
            while (msg := self._receive(retransmit, trid)) is not None:
                if msg.msg_type == MessageType6.REPLY:
                    # §18.2.1: a Reply to a Solicit counts only with Rapid Commit.
                    if msg.rapid_commit and self._offers_address(msg):
                        return msg
                    continue
                self.advertised.append(msg.server_id.hex())
                if not self._offers_address(msg):
                    self.progress(f"DHCPv6 Advertise from server {msg.server_id.hex()} offers no address: ignored")
                    continue
                ia = msg.ia_na()
                iscsi = self._rank(msg)[0]
                self.progress(f"DHCPv6 Advertise of {ia.addresses[0].address if ia else '?'} from server "
                              f"{msg.server_id.hex()} (preference {msg.preference}"
                              + (")" if iscsi else "; no iscsi: Boot File URL)"))
                if msg.preference == 255 or not first_round:
                    return msg
                if best is None or self._rank(msg) > self._rank(best):
                    best = msg
            if best is not None:
                return best
            first_round = False
            rt = self.next_rt(rt, SOL_MAX_RT)

    def _request(self, trid: int, advertise: Message6) -> Lease6 | None:
        """Request the advertised address from its server (§18.2.2): the lease, or ``None`` to solicit
        again (no answer after ``REQ_MAX_RC`` tries, or a NotOnLink/NoAddrsAvail status)."""
        ia = advertise.ia_na()
        address = ia.addresses[0].address if ia is not None and ia.addresses else None
        server = advertise.server_id
        rt = self.first_rt(REQ_TIMEOUT, solicit=False)
        trid = self.rng.getrandbits(24)  # a new exchange, a new transaction id (§16.1)
        for attempt in range(REQ_MAX_RC):
            now = self.clock()
            if now >= self.deadline:
                raise self._timeout()
            self._send(MessageType6.REQUEST, trid, server_id=server, address=address)
            self.progress(f"DHCPv6 Request of {address} to server {server.hex()}"
                          + (f" ({attempt + 1})" if attempt else ""))
            until = now + rt
            while True:
                reply = self._receive(until, trid)
                if reply is None or reply.msg_type != MessageType6.REPLY or reply.server_id != server:
                    break
                code, text = reply.status
                ia_reply = reply.ia_na()
                ia_code = ia_reply.status[0] if ia_reply is not None else Status.SUCCESS
                if code in (Status.NOT_ON_LINK, Status.NO_ADDRS_AVAIL) or ia_code in (
                        Status.NOT_ON_LINK, Status.NO_ADDRS_AVAIL):
                    why = status_text(code, text) if code else status_text(*ia_reply.status)  # type: ignore[union-attr]
                    self.refusals.append(f"server {server.hex()}: {why}")
                    self.progress(f"DHCPv6 Reply from server {server.hex()}: {why}; soliciting again")
                    return None
                return self._lease(reply, rapid=False)
            if reply is not None:
                continue
            rt = self.next_rt(rt, REQ_MAX_RT)
        self.progress(f"no DHCPv6 Reply from server {server.hex()} after {REQ_MAX_RC} Requests; soliciting again")
        return None


# --- public entry point ----------------------------------------------------------------------------


def acquire_lease6(interface: str, *, timeout: float = 30.0, progress: Progress | None = None,
                   mac: str | None = None, sysfs: str = "/sys/class/net", rapid_commit: bool = True,
                   ra_wait: float = RA_WAIT, stop: threading.Event | None = None) -> Lease6:
    """Run DHCPv6 on ``interface`` until a Reply or ``timeout`` seconds; configures nothing.

    Then the on-link prefix and default router from router advertisements (``link_facts``, up to
    ``ra_wait`` s more, within the deadline) complete the lease: an IA_NA address has no prefix.

    ``mac`` overrides the interface's MAC for the DUID-LL. Raises ``DhcpTimeout`` when no lease
    came in time (no Advertise, no Reply, no usable link-local address), ``DhcpError`` for a
    missing, down or non-Ethernet interface, IPv6 disabled on it, or a Reply with no address;
    ``DhcpStopped`` (within 0.1 s) once ``stop`` is set from another thread, before scapy's IPv6
    layers are imported if it is set by then.
    """
    if not timeout > 0:
        raise DhcpError(f"DHCPv6 timeout {timeout!r}: expected a number of seconds > 0")
    from .packet import DhcpStopped, StopAware, check_interface

    link = check_interface(interface, sysfs=sysfs)
    try:
        hw = normalize_mac(mac) if mac is not None else link.mac
    except ValueError as e:
        raise DhcpError(str(e)) from None
    if hw == "00:00:00:00:00:00":
        raise DhcpError(f"interface {interface} has no MAC address")
    if ipv6_disabled(interface):
        raise DhcpError(f"IPv6 is disabled on {interface} (net.ipv6.conf.{interface}.disable_ipv6 is 1, or the "
                        "kernel has no IPv6): no DHCPv6")
    if progress is not None and not link.carrier:
        progress(f"no carrier on {interface} yet; sending anyway")
    if stop is not None and stop.is_set():
        raise DhcpStopped("stopped: the other address family's lease came first")
    load_scapy6()
    start = time.monotonic()
    transport: Transport6 = UdpSocket6(interface)
    if stop is not None:
        transport = StopAware(transport, stop)
    try:
        lease = Exchange6(transport, interface=interface, mac=hw, timeout=timeout, progress=progress,
                          rapid_commit=rapid_commit).run()
    finally:
        transport.close()
    return link_facts(lease, wait=min(ra_wait, max(timeout - (time.monotonic() - start), 0.0)), progress=progress)


def link_facts(lease: Lease6, *, wait: float, progress: Progress | None = None, proc: str = "/proc",
               clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Lease6:
    """``lease`` with the on-link prefix holding its address and the default router, as router
    advertisements gave them to the kernel (``ibftkit.sources.dhcp.slaac``); waits up to ``wait``
    seconds for an on-link prefix. Without one the address stays ``/128``, with a warning."""
    from .slaac import default_gateway, onlink_prefixes

    end = clock() + wait
    while True:
        prefixes = [p for p in onlink_prefixes(lease.interface, proc=proc) if lease.address.ip in p]
        if prefixes or clock() >= end:
            break
        sleep(LINK_LOCAL_POLL)
    got = lease.with_link(prefixes, default_gateway(lease.interface, proc=proc))
    if not prefixes:
        return dataclasses.replace(got, warnings=got.warnings + (
            f"no on-link prefix for {lease.address.ip} from router advertisements on {lease.interface} within "
            f"{wait:g} s: the address stays /128 (RFC 8415 gives no prefix length)",))
    if progress is not None:
        progress(f"router advertisements on {lease.interface}: on-link {prefixes[0]}"
                 + (f", default router {got.gateway}" if got.gateway is not None else ", no default router"))
    return got
