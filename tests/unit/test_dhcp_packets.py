"""``ibftkit.sources.dhcp.client`` without sockets: frames built and parsed with scapy, the BPF program run
by a small interpreter, and the RFC 2131 state machine driven by a simulated server and clock.

The same client against real servers is ``tests/netns/test_dhcp.py``.
"""

from __future__ import annotations

import ipaddress
import os
import random
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import TCP, IPOption
from scapy.layers.l2 import ARP
from scapy.packet import Raw

from ibftkit.infra.errors import DhcpError, DhcpTimeout
from ibftkit.sources.dhcp import client, packet
from ibftkit.sources.dhcp.client import (
    Exchange,
    build_message,
    carrier_order,
    load_scapy,
    parse_frame,
)
from ibftkit.sources.dhcp.lease import Lease
from ibftkit.sources.dhcp.options import MAGIC_COOKIE, MessageType
from ibftkit.sources.dhcp.packet import BPF_DHCP_CLIENT, check_interface

MAC = "02:1b:f7:00:00:20"
HW = bytes.fromhex(MAC.replace(":", ""))
SERVER = "10.99.0.1"
ROOT_PATH = b"iscsi:10.99.0.1::3260:1:iqn.2026-01.test.example:target0"

S = load_scapy()


def tlv(code: int, value: bytes) -> bytes:
    return bytes([code, len(value)]) + value


def server_frame(msg_type: int, xid: int, *, yiaddr: str = "10.99.0.77", chaddr: bytes = HW,
                 server: str = SERVER, options: bytes = b"", file: bytes = b"", sname: bytes = b"",
                 sport: int = 67, dport: int = 68, cookie: bytes = MAGIC_COOKIE) -> bytes:
    """A server reply with exactly the option bytes given (53 and 54 first)."""
    opts = tlv(53, bytes([msg_type])) + tlv(54, ipaddress.IPv4Address(server).packed) + options + b"\xff"
    pkt = (S.Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / S.IP(src=server, dst="255.255.255.255") /
           S.UDP(sport=sport, dport=dport) /
           S.BOOTP(op=2, xid=xid, chaddr=chaddr, yiaddr=yiaddr, file=file, sname=sname, options=cookie) /
           Raw(load=opts))
    return bytes(pkt)


def dhcp_options(frame: bytes) -> dict[Any, Any]:
    """scapy's own view of a client frame's options, as a dict."""
    out: dict[Any, Any] = {}
    for item in S.Ether(frame)[S.DHCP].options:
        if isinstance(item, tuple):
            out[item[0]] = item[1] if len(item) == 2 else item[1:]
    return out


# --- frames the client sends -----------------------------------------------------------------------


def test_discover() -> None:
    frame = build_message(MessageType.DISCOVER, mac=MAC, xid=0xCAFE0001, secs=3)
    pkt = S.Ether(frame)
    assert (pkt.src, pkt.dst) == (MAC, "ff:ff:ff:ff:ff:ff")
    assert (pkt[S.IP].src, pkt[S.IP].dst, pkt[S.UDP].sport, pkt[S.UDP].dport) == ("0.0.0.0", "255.255.255.255",
                                                                                 68, 67)
    b = pkt[S.BOOTP]
    assert (b.op, b.xid, b.secs, int(b.flags), b.chaddr[:6], b.ciaddr) == (1, 0xCAFE0001, 3, 0x8000, HW, "0.0.0.0")
    assert len(bytes(b)) >= 300  # RFC 1542 §2.1 minimum
    opts = dhcp_options(frame)
    assert opts["message-type"] == 1
    assert opts["client_id"] == b"\x01" + HW  # type 1 (Ethernet), RFC 2132 §9.14
    assert opts["vendor_class_id"] == b"ibftkit"
    assert opts["max_dhcp_size"] == 1500
    assert opts["param_req_list"] == [1, 3, 6, 12, 15, 17, 26, 28, 203]
    assert "requested_addr" not in opts and "server_id" not in opts


def test_request_selecting_and_init_reboot() -> None:
    frame = build_message(MessageType.REQUEST, mac=MAC, xid=7, requested=ipaddress.IPv4Address("10.99.0.77"),
                          server_id=ipaddress.IPv4Address(SERVER))
    opts = dhcp_options(frame)
    assert (opts["message-type"], opts["requested_addr"], opts["server_id"]) == (3, "10.99.0.77", SERVER)
    reboot = dhcp_options(build_message(MessageType.REQUEST, mac=MAC, xid=7,
                                        requested=ipaddress.IPv4Address("10.99.0.77")))
    assert reboot["requested_addr"] == "10.99.0.77" and "server_id" not in reboot  # RFC 2131 Table 5


def test_frames_are_scapys_own_composition() -> None:
    """The layers joined in place give the bytes scapy's "/" composition gives (checksums, lengths,
    the padding to 300 octets), for a DISCOVER and a REQUEST."""
    for msg, extra in ((MessageType.DISCOVER, []), (MessageType.REQUEST, [("requested_addr", "10.99.0.77"),
                                                                          ("server_id", SERVER)])):
        options: list[Any] = [("message-type", int(msg)), ("client_id", b"\x01" + HW), ("vendor_class_id", b"ibftkit"),
                              ("max_dhcp_size", 1500), *extra, ("param_req_list", [1, 3, 6, 12, 15, 17, 26, 28, 203]),
                              "end"]
        bootp = S.BOOTP(op=1, chaddr=HW, xid=9, secs=2, flags=0x8000)
        options += ["pad"] * (300 - len(bytes(bootp / S.DHCP(options=options))))
        want = bytes(S.Ether(src=MAC, dst="ff:ff:ff:ff:ff:ff") / S.IP(src="0.0.0.0", dst="255.255.255.255")
                     / S.UDP(sport=68, dport=67) / bootp / S.DHCP(options=options))
        kw: dict[str, Any] = {} if not extra else {"requested": ipaddress.IPv4Address("10.99.0.77"),
                                                   "server_id": ipaddress.IPv4Address(SERVER)}
        assert build_message(msg, mac=MAC, xid=9, secs=2, **kw) == want


def test_secs_is_clamped() -> None:
    assert S.Ether(build_message(MessageType.DISCOVER, mac=MAC, xid=1, secs=10**6))[S.BOOTP].secs == 0xFFFF


# --- frames the client reads -----------------------------------------------------------------------


def test_parse_offer() -> None:
    reply = parse_frame(server_frame(2, 0x42, options=tlv(17, ROOT_PATH) + tlv(203, b"iqn.x")))
    assert reply is not None
    assert (reply.msg_type, reply.xid, reply.chaddr[:6], str(reply.yiaddr)) == (2, 0x42, HW, "10.99.0.77")
    assert str(reply.server_id) == SERVER and str(reply.source_ip) == SERVER
    assert reply.options[17] == ROOT_PATH and reply.options[203] == b"iqn.x"


def test_parse_agrees_with_scapy_option_list() -> None:
    frame = server_frame(5, 1, options=tlv(1, b"\xff\xff\xff\x00") + tlv(3, b"\x0a\x63\x00\x01") +
                         tlv(17, ROOT_PATH) + tlv(203, b"iqn.x"))
    reply = parse_frame(frame)
    assert reply is not None
    theirs = {k: v for k, v in ((i[0], i[1]) for i in S.Ether(frame)[S.DHCP].options if isinstance(i, tuple))}
    assert theirs["root_disk_path"] == reply.options[17]  # scapy's name for option 17
    assert theirs[203] == reply.options[203]
    assert theirs["router"] == str(ipaddress.IPv4Address(reply.options[3]))


def test_parse_root_path_split_in_two_instances() -> None:
    """RFC 3396 §7: the reply carries option 17 twice; scapy lists two entries, the client joins them."""
    head, tail = ROOT_PATH[:20], ROOT_PATH[20:]
    frame = server_frame(5, 1, options=tlv(17, head) + tlv(3, b"\x0a\x63\x00\x01") + tlv(17, tail))
    assert [i[1] for i in S.Ether(frame)[S.DHCP].options if isinstance(i, tuple) and i[0] == "root_disk_path"] == [
        head, tail]
    reply = parse_frame(frame)
    assert reply is not None and reply.options[17] == ROOT_PATH


def test_parse_overloaded_file_field() -> None:
    """Option 52 = 1: the root path continues in the BOOTP 'file' field (scapy does not decode this)."""
    frame = server_frame(5, 1, options=tlv(52, b"\x01") + tlv(17, ROOT_PATH[:10]),
                         file=tlv(17, ROOT_PATH[10:]) + b"\xff")
    reply = parse_frame(frame)
    assert reply is not None and reply.options[17] == ROOT_PATH


@pytest.mark.parametrize("frame", [
    server_frame(2, 1, sport=53),                       # not from the server port
    server_frame(2, 1, dport=69),                       # not to the client port
    server_frame(2, 1, cookie=b"\x00\x00\x00\x00"),     # plain BOOTP, no DHCP options
    bytes(S.Ether(dst="ff:ff:ff:ff:ff:ff") / ARP()),  # not IP
    b"\x01\x02",                                        # junk
    build_message(MessageType.DISCOVER, mac=MAC, xid=1),  # another client's request
])
def test_parse_ignores_what_is_not_a_reply(frame: bytes) -> None:
    assert parse_frame(frame) is None


def test_parse_truncated_options_is_an_error() -> None:
    frame = server_frame(5, 1, options=b"\x11\x40abc")  # option 17 claims 64 bytes
    with pytest.raises(DhcpError, match="option 17 at offset 9 claims 64 bytes"):
        parse_frame(frame)


# --- the kernel filter -----------------------------------------------------------------------------


def run_bpf(program: tuple[tuple[int, int, int, int], ...], pkt: bytes) -> int:
    """A classic BPF interpreter for the opcodes the client's program uses."""
    a = x = pc = 0
    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        if code == 0x28:    # ldh [k]
            a = struct.unpack_from("!H", pkt, k)[0]
        elif code == 0x30:  # ldb [k]
            a = pkt[k]
        elif code == 0x48:  # ldh [x + k]
            a = struct.unpack_from("!H", pkt, x + k)[0]
        elif code == 0xB1:  # ldxb 4*([k]&0xf)
            x = 4 * (pkt[k] & 0xF)
        elif code == 0x15:  # jeq #k
            pc += jt if a == k else jf
        elif code == 0x45:  # jset #k
            pc += jt if a & k else jf
        elif code == 0x06:  # ret #k
            return k
        else:
            raise AssertionError(f"opcode 0x{code:x} not modelled")


def test_bpf_accepts_server_replies_only() -> None:
    offer = server_frame(2, 1)
    router_alert = IPOption(b"\x94\x04\x00\x00")
    with_ip_options = bytes(S.Ether() / S.IP(src=SERVER, dst="255.255.255.255", options=[router_alert]) /
                            S.UDP(sport=67, dport=68) / Raw(b"x" * 20))
    assert run_bpf(BPF_DHCP_CLIENT, offer) > 0
    assert run_bpf(BPF_DHCP_CLIENT, with_ip_options) > 0  # the UDP header found after 24 bytes of IP
    for frame in (build_message(MessageType.DISCOVER, mac=MAC, xid=1),
                  bytes(S.Ether() / S.IP() / S.UDP(sport=53, dport=68) / Raw(b"x" * 8)),
                  bytes(S.Ether() / S.IP() / TCP(sport=67, dport=68)),
                  bytes(S.Ether() / S.IP(frag=10) / S.UDP(sport=67, dport=68) / Raw(b"x" * 8)),
                  bytes(S.Ether() / ARP())):
        assert run_bpf(BPF_DHCP_CLIENT, frame + bytes(64)) == 0


def test_bpf_program_packs_as_struct_sock_filter() -> None:
    packed = b"".join(struct.pack("=HBBI", *insn) for insn in BPF_DHCP_CLIENT)
    assert len(packed) == 8 * len(BPF_DHCP_CLIENT)
    for i, (code, jt, jf, _k) in enumerate(BPF_DHCP_CLIENT):  # every jump lands inside the program
        if code in (0x15, 0x45):
            assert i + 1 + max(jt, jf) < len(BPF_DHCP_CLIENT)


# --- the state machine, against a simulated server ---------------------------------------------------


Server = Callable[[dict[Any, Any], int], list[tuple[float, bytes]]]


class SimNet:
    """A transport and clock: frames the client sends go to ``server``, which returns
    ``(delay, frame)`` replies; ``recv`` advances simulated time instead of sleeping."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.now = 100.0
        self.sent: list[tuple[float, dict[Any, Any], int]] = []
        self.queue: list[tuple[float, bytes]] = []

    def clock(self) -> float:
        return self.now

    def send(self, frame: bytes) -> None:
        opts = dhcp_options(frame)
        xid = S.Ether(frame)[S.BOOTP].xid
        self.sent.append((self.now, opts, xid))
        self.queue += [(self.now + delay, reply) for delay, reply in self.server(opts, xid)]
        self.queue.sort(key=lambda item: item[0])

    def recv(self, timeout: float) -> bytes | None:
        if self.queue and self.queue[0][0] <= self.now + timeout:
            due, frame = self.queue.pop(0)
            self.now = max(self.now, due)
            return frame
        self.now += timeout
        return None

    def close(self) -> None:
        pass

    def kinds(self) -> list[int]:
        return [opts["message-type"] for _, opts, _ in self.sent]


def exchange(net: SimNet, *, timeout: float = 30.0, first_timeout: float = 1.0, seed: int = 1,
             **kw: Any) -> Exchange:
    return Exchange(net, interface="c0", mac=MAC, timeout=timeout, first_timeout=first_timeout,
                    clock=net.clock, rng=random.Random(seed), **kw)


def good_server(opts: dict[Any, Any], xid: int) -> list[tuple[float, bytes]]:
    if opts["message-type"] == 1:
        return [(0.01, server_frame(2, xid, options=tlv(17, ROOT_PATH)))]
    if opts["message-type"] == 3:
        return [(0.01, server_frame(5, xid, options=tlv(1, b"\xff\xff\xff\x00") + tlv(17, ROOT_PATH)))]
    return []


def test_dora() -> None:
    net = SimNet(good_server)
    notes: list[str] = []
    lease = exchange(net, progress=notes.append).run()
    assert isinstance(lease, Lease)
    assert str(lease.address) == "10.99.0.77/24" and lease.root_path == ROOT_PATH.decode()
    assert net.kinds() == [1, 3]
    (_, discover, xid1), (_, request, xid2) = net.sent
    assert xid1 == xid2 == lease.xid  # the REQUEST reuses the OFFER's xid (RFC 2131 Table 5)
    assert (request["requested_addr"], request["server_id"]) == ("10.99.0.77", SERVER)
    assert notes[0].startswith("DHCPDISCOVER on c0 (02:1b:f7:00:00:20, xid 0x")
    assert notes[-1] == "DHCPACK of 10.99.0.77/24 from 10.99.0.1"


def test_silent_network_backoff_and_deadline() -> None:
    """RFC 2131 §4.1 with the RFC's own 4 s base: waits 4, 8, 16 (±1 s), none past the deadline."""
    net = SimNet(lambda opts, xid: [])
    ex = exchange(net, timeout=45.0, first_timeout=4.0)
    with pytest.raises(DhcpTimeout) as info:
        ex.run()
    times = [t - 100.0 for t, _, _ in net.sent]
    waits = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(waits) == 3
    for wait, base in zip(waits, (4, 8, 16), strict=True):
        assert base - 1 <= wait <= base + 1
    assert net.now == pytest.approx(145.0)  # returned exactly at the deadline
    assert str(info.value) == "no DHCP reply on c0 within 45 s (4 DISCOVERs sent)"
    assert len({xid for _, _, xid in net.sent}) == 1  # retransmissions keep the xid
    assert [opts["message-type"] for _, opts, _ in net.sent] == [1, 1, 1, 1]


def test_short_first_timeout_scales_the_jitter_and_caps_at_64() -> None:
    ex = exchange(SimNet(lambda o, x: []), first_timeout=1.0, seed=3)
    for attempt, base in enumerate((1, 2, 4, 8, 16, 32, 64, 64, 64)):
        wait = ex.wait(attempt)
        assert base - min(1, base / 4) <= wait <= base + min(1, base / 4)


@pytest.mark.parametrize("seed", range(20))
def test_deadline_always_holds(seed: int) -> None:
    net = SimNet(lambda o, x: [])
    with pytest.raises(DhcpTimeout):
        exchange(net, timeout=7.3, first_timeout=0.7, seed=seed).run()
    assert net.now == pytest.approx(107.3)
    assert all(t < 107.3 for t, _, _ in net.sent)


def test_nak_loop() -> None:
    def naks(opts: dict[Any, Any], xid: int) -> list[tuple[float, bytes]]:
        if opts["message-type"] == 1:
            return [(0.01, server_frame(2, xid))]
        return [(0.01, server_frame(6, xid, yiaddr="0.0.0.0", options=tlv(56, b"wrong network")))]

    net = SimNet(naks)
    with pytest.raises(DhcpError) as info:
        exchange(net).run()
    assert str(info.value) == ("DHCP on c0: 3 DHCPNAKs in a row from 10.99.0.1, giving up "
                               "(last: 'wrong network')")
    assert net.kinds() == [1, 3, 1, 3, 1, 3]
    assert len({xid for _, _, xid in net.sent}) == 3  # a new xid after each NAK


def test_nak_once_then_lease() -> None:
    nakked: list[int] = []

    def once(opts: dict[Any, Any], xid: int) -> list[tuple[float, bytes]]:
        if opts["message-type"] == 3 and not nakked:
            nakked.append(xid)
            return [(0.01, server_frame(6, xid, yiaddr="0.0.0.0"))]
        return good_server(opts, xid)

    net = SimNet(once)
    assert str(exchange(net).run().address) == "10.99.0.77/24"
    assert net.kinds() == [1, 3, 1, 3]


def test_replies_for_others_are_ignored() -> None:
    def noisy(opts: dict[Any, Any], xid: int) -> list[tuple[float, bytes]]:
        if opts["message-type"] == 1:
            return [(0.01, server_frame(2, xid ^ 1)),                         # another xid
                    (0.02, server_frame(2, xid, chaddr=b"\x02" * 6)),          # another client
                    (0.03, server_frame(5, xid)),                             # an ACK while selecting
                    (0.04, server_frame(2, xid, yiaddr="10.99.0.88", options=tlv(17, ROOT_PATH)))]
        return [(0.01, server_frame(5, xid, server="10.99.0.2")),             # ACK from another server
                (0.02, server_frame(5, xid, yiaddr="10.99.0.88", options=tlv(1, b"\xff\xff\xff\x00")))]

    lease = exchange(SimNet(noisy)).run()
    assert str(lease.address) == "10.99.0.88/24" and lease.server_id == ipaddress.IPv4Address(SERVER)


def test_malformed_reply_is_skipped_with_a_note() -> None:
    def bad_then_good(opts: dict[Any, Any], xid: int) -> list[tuple[float, bytes]]:
        first = [(0.005, server_frame(2, xid, options=b"\x11\x40abc"))] if opts["message-type"] == 1 else []
        return first + good_server(opts, xid)

    notes: list[str] = []
    exchange(SimNet(bad_then_good), progress=notes.append).run()
    assert any(n.startswith("ignored a malformed DHCP reply on c0: DHCP options (options field): option 17")
               for n in notes)


def offers_server(first_delay: float, second_delay: float) -> Server:
    """Server A offers .77 without a root path; server B offers .88 with one."""

    def serve(opts: dict[Any, Any], xid: int) -> list[tuple[float, bytes]]:
        if opts["message-type"] == 1:
            return [(first_delay, server_frame(2, xid)),
                    (second_delay, server_frame(2, xid, yiaddr="10.99.0.88", server="10.99.0.2",
                                                options=tlv(17, ROOT_PATH)))]
        server = opts["server_id"]
        return [(0.01, server_frame(5, xid, yiaddr=opts["requested_addr"], server=server,
                                    options=tlv(17, ROOT_PATH) if server == "10.99.0.2" else b""))]

    return serve


def test_offer_with_root_path_preferred_within_the_window() -> None:
    lease = exchange(SimNet(offers_server(0.01, 0.3))).run()
    assert str(lease.server_id) == "10.99.0.2" and lease.root_path is not None


def test_first_offer_taken_when_the_window_ends() -> None:
    lease = exchange(SimNet(offers_server(0.01, 0.9))).run()
    assert str(lease.server_id) == SERVER and lease.root_path is None


def test_request_unanswered_goes_back_to_discover_then_times_out() -> None:
    def offers_only(opts: dict[Any, Any], xid: int) -> list[tuple[float, bytes]]:
        return [(0.01, server_frame(2, xid))] if opts["message-type"] == 1 else []

    net = SimNet(offers_only)
    with pytest.raises(DhcpTimeout) as info:
        exchange(net, timeout=40.0).run()
    assert net.kinds()[:6] == [1, 3, 3, 3, 3, 1]  # four REQUESTs (RFC 2131 §4.4.1), then INIT again
    assert str(info.value).startswith("no DHCPACK on c0 within 40 s (")
    assert "OFFERs from 10.99.0.1" in str(info.value)


def test_init_reboot_ack() -> None:
    def reboot(opts: dict[Any, Any], xid: int) -> list[tuple[float, bytes]]:
        assert "server_id" not in opts
        return [(0.01, server_frame(5, xid, yiaddr=opts["requested_addr"], options=tlv(1, b"\xff\xff\xff\x00")))]

    net = SimNet(reboot)
    lease = exchange(net).run(reboot_address=ipaddress.IPv4Address("10.99.0.50"))
    assert str(lease.address) == "10.99.0.50/24" and net.kinds() == [3]


def test_init_reboot_silence_falls_back_to_discover() -> None:
    def no_reboot(opts: dict[Any, Any], xid: int) -> list[tuple[float, bytes]]:
        return [] if "server_id" not in opts and opts["message-type"] == 3 else good_server(opts, xid)

    net = SimNet(no_reboot)
    exchange(net).run(reboot_address=ipaddress.IPv4Address("10.99.0.50"))
    assert net.kinds() == [3, 3, 1, 3]


# --- the interface, from sysfs ----------------------------------------------------------------------


def fake_link(root: Path, name: str, *, flags: str = "0x1003", carrier: str | None = "1", hwtype: str = "1",
              mac: str = MAC) -> None:
    d = root / name
    d.mkdir(parents=True)
    (d / "flags").write_text(flags + "\n")
    (d / "type").write_text(hwtype + "\n")
    (d / "address").write_text(mac + "\n")
    if carrier is not None:
        (d / "carrier").write_text(carrier + "\n")


def test_check_interface(tmp_path: Path) -> None:
    fake_link(tmp_path, "eth0")
    fake_link(tmp_path, "eth1", flags="0x1002", carrier=None)
    fake_link(tmp_path, "eth2", carrier="0", mac="02:1B:F7:00:00:2A")
    fake_link(tmp_path, "ib0", hwtype="32")
    assert check_interface("eth0", sysfs=str(tmp_path)) == packet.LinkState(MAC, True)
    assert check_interface("eth2", sysfs=str(tmp_path)) == packet.LinkState("02:1b:f7:00:00:2a", False)
    with pytest.raises(DhcpError, match=r"^interface eth1 is down; bring it up first \(ip link set eth1 up\)$"):
        check_interface("eth1", sysfs=str(tmp_path))
    with pytest.raises(DhcpError, match=f"^interface eth9 not found \\(no {tmp_path}/eth9\\)$"):
        check_interface("eth9", sysfs=str(tmp_path))
    with pytest.raises(DhcpError, match="not Ethernet"):
        check_interface("ib0", sysfs=str(tmp_path))
    with pytest.raises(DhcpError, match="not a Linux interface name"):
        check_interface("../etc", sysfs=str(tmp_path))


def test_carrier_order_is_stable(tmp_path: Path) -> None:
    fake_link(tmp_path, "a", carrier="0")
    fake_link(tmp_path, "b", carrier="1")
    fake_link(tmp_path, "c", carrier=None)
    fake_link(tmp_path, "d", carrier="1")
    assert carrier_order(["a", "b", "c", "d", "b", "zz"], sysfs=str(tmp_path)) == ["b", "d", "a", "c", "zz"]


def test_acquire_lease_checks_before_loading_anything(tmp_path: Path) -> None:
    fake_link(tmp_path, "eth1", flags="0x1002")
    with pytest.raises(DhcpError, match="eth1 is down"):
        client.acquire_lease("eth1", timeout=1, sysfs=str(tmp_path))
    with pytest.raises(DhcpError, match="timeout 0"):
        client.acquire_lease("eth1", timeout=0, sysfs=str(tmp_path))


def test_acquire_first_order_budget_and_report(tmp_path: Path) -> None:
    for name, carrier in (("e0", "0"), ("e1", "1"), ("e2", "1")):
        fake_link(tmp_path, name, carrier=carrier)
    calls: list[tuple[str, float]] = []

    def fake(name: str, *, timeout: float, **kw: Any) -> Lease:
        calls.append((name, timeout))
        if name == "e1":
            raise DhcpTimeout("no DHCP reply on e1 within 4 s (2 DISCOVERs sent)")
        root = {"e2": None, "e0": "iscsi:10.0.0.1::::iqn.2026-01.x:t"}[name]
        return Lease(interface=name, mac=MAC, address=ipaddress.IPv4Interface("10.0.0.5/24"), root_path=root)

    lease = client.acquire_first(["e0", "e1", "e2"], timeout=12, sysfs=str(tmp_path), acquire=fake)
    assert lease.interface == "e0"
    assert [n for n, _ in calls] == ["e1", "e2", "e0"]  # carrier first, given order within each group
    assert calls[0][1] == pytest.approx(4, abs=0.1)  # a third of 12 s
    assert calls[1][1] == pytest.approx(6, abs=0.1)  # e1 failed at once: half of what is left


def test_acquire_first_all_fail(tmp_path: Path) -> None:
    fake_link(tmp_path, "e0")

    def fake(name: str, **kw: Any) -> Lease:
        return Lease(interface=name, mac=MAC, address=ipaddress.IPv4Interface("10.0.0.5/24"),
                     root_path="nfs:10.0.0.1:/x")

    with pytest.raises(DhcpError) as info:
        client.acquire_first(["e0", "e9"], timeout=5, sysfs=str(tmp_path), acquire=fake)
    message = str(info.value)
    assert message.startswith("no usable DHCP lease on 2 interfaces: e0: root path scheme")
    assert "; e9: root path scheme" in message


# --- the scapy import ------------------------------------------------------------------------------


@pytest.mark.allow_subprocess
def test_load_scapy_writes_nothing_and_restores_the_environment(tmp_path: Path) -> None:
    code = ("import os, sys; from ibftkit.sources.dhcp.client import load_scapy; s = load_scapy();"
            "print(sorted(k for k in os.environ if k.startswith('XDG_')));"
            "print('scapy.all' in sys.modules, 'scapy.libs.manuf' in sys.modules, 'cryptography' in sys.modules);"
            "import scapy.libs.manuf; print(len(scapy.libs.manuf.DATA) > 1000);"
            "import scapy.arch, scapy.route6; from scapy.config import conf;"
            "print(conf.route.routes, scapy.arch.read_routes.__name__, scapy.arch.read_routes6.__name__,"
            " scapy.route6.read_routes6 is scapy.arch.read_routes6)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.splitlines() == ["['XDG_DATA_HOME']", "False False False", "True",
                                     "[] read_routes read_routes6 True"]  # empty table, real readers back
    assert list(tmp_path.iterdir()) == []  # no ~/.cache/scapy, no ~/.config/scapy, no pickles


@pytest.mark.allow_subprocess
def test_load_scapy_leaves_ipv6_and_the_interface_table_for_later() -> None:
    """The DHCPv4 layers without scapy's IPv6 layers or the DHCPv6 modules, the interface table empty
    until first use, the collector on again; then the DHCPv6 layers on top, IPv6 as scapy has it."""
    code = ("import gc, sys; from ibftkit.sources.dhcp.client import load_scapy; s = load_scapy();"
            "from scapy.config import conf;"
            "print([m for m in ('scapy.layers.inet6', 'scapy.layers.dhcp6', 'ibftkit.sources.dhcp.lease6',"
            " 'ibftkit.sources.dhcp.client6') if m in sys.modules], conf.ipv6_enabled, len(conf.ifaces),"
            " gc.isenabled(), 'reload' in vars(conf.ifaces));"
            "from scapy.interfaces import resolve_iface; print(resolve_iface('lo').name, len(conf.ifaces) > 0);"
            "from ibftkit.sources.dhcp.client6 import load_scapy6; load_scapy6();"
            "from scapy.layers.inet6 import IPv6; from scapy.layers.inet import UDP;"
            "p = IPv6(bytes(IPv6(src='fe80::1', dst='ff02::1:2') / UDP(sport=546, dport=547) / b'x'));"
            "print(conf.ipv6_enabled, p[UDP].chksum not in (0, None))")  # computed over IPv6
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[] True 0 True False", "lo True", "True True"]


@pytest.mark.allow_subprocess
def test_load_scapy_leaves_the_stdlib_modules_scapy_does_not_use_for_later() -> None:
    """After ``ibftkit.cli.init`` (as ``ibftkit-init`` starts), the DHCP modules load neither
    ``queue`` nor ``inspect``; the standard-library modules scapy imports but the client never uses,
    optional ``pyx`` and scapy's rtnetlink dissector are not loaded by ``load_scapy()`` (no ``site``:
    its ``.pth`` files import more); scapy's references to them work, each loading the real module
    on first use."""
    import site

    code = ("import os, sys; sys.path[:0] = [sys.argv[1]]; sys.path += sys.argv[2].split(os.pathsep);"
            "import ibftkit.cli.init; pre = set(sys.modules);"
            "import ibftkit.sources.dhcp.dual;"
            "from ibftkit.sources.dhcp.client import _DEFERRED_STDLIB, build_message, load_scapy;"
            "print([m for m in ('queue', 'heapq', 'inspect', 'ast', 'dis') if m in sys.modules and m not in pre]);"
            "load_scapy();"
            "build_message(1, mac='52:54:00:12:34:56', xid=1);"
            "print([m for m in (*_DEFERRED_STDLIB, 'pyx', 'scapy.arch.linux.rtnetlink') if m in sys.modules"
            " and m not in pre]);"
            "import scapy.data, scapy.utils, scapy.consts, platform;"
            "print(scapy.utils.difflib.SequenceMatcher.__name__, scapy.data.hashlib.sha256(b'').hexdigest()[:8],"
            " 'difflib' in sys.modules, platform.release() == os.uname().release, scapy.consts.WINDOWS_XP);"
            "import scapy.arch.linux; ifs = scapy.arch.linux._get_if_list().values();"
            "print(any(i['name'] == 'lo' for i in ifs), 'scapy.arch.linux.rtnetlink' in sys.modules,"
            " type(scapy.arch.read_routes()).__name__)")
    sites = os.pathsep.join([*site.getsitepackages(), site.getusersitepackages()])
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, root, sites], capture_output=True, text=True,
                         check=True)
    assert out.stdout.splitlines() == ["[]", "[]", "SequenceMatcher e3b0c442 True True False", "True True list"]
