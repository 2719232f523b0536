"""``ibftkit.sources.dhcp.{lease6,client6,slaac}`` without sockets: option decoding, messages built with
scapy, the RFC 8415 exchange and §15 schedule against a simulated server and clock, and the SLAAC
wait over fake ``/proc`` files.

The same code against a real dnsmasq is ``tests/netns/test_dhcp6_dnsmasq.py``.
"""

from __future__ import annotations

import ipaddress
import random
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibftkit.infra.errors import DhcpError, DhcpTimeout, RootPathError
from ibftkit.sources.dhcp import lease6 as L
from ibftkit.sources.dhcp.client6 import Exchange6, LinkLocalNotReady, build_message6, load_scapy6
from ibftkit.sources.dhcp.slaac import default_gateway, global_addresses, ra_refused, wait_slaac

MAC = "02:1b:f7:00:00:60"
DUID = bytes.fromhex("00030001021bf7000060")
SERVER_DUID = bytes.fromhex("000100013200000102000000aa01")
ROOT_PATH = b"iscsi:[fd00:99::1]::3260:1:iqn.2026-01.test.example:target0"

S6 = load_scapy6()  # at collection: scapy reads the interface list (netlink) when first imported


def opt(code: int, value: bytes) -> bytes:
    return struct.pack("!HH", code, len(value)) + value


def ia_na(*addresses: str, iaid: int = 1, status: int | None = None, pref: int = 3600, valid: int = 3600) -> bytes:
    body = struct.pack("!III", iaid, 1800, 2880)
    for a in addresses:
        body += opt(5, ipaddress.IPv6Address(a).packed + struct.pack("!II", pref, valid))
    if status is not None:
        body += opt(13, struct.pack("!H", status) + b"no luck")
    return opt(3, body)


def message(msg_type: int, trid: int, *options: bytes, client: bytes = DUID, server: bytes = SERVER_DUID) -> bytes:
    return bytes([msg_type]) + trid.to_bytes(3, "big") + opt(1, client) + opt(2, server) + b"".join(options)


# --- pure decoding ---------------------------------------------------------------------------------


def test_duid_ll_is_type_3_ethernet_then_mac() -> None:
    assert L.duid_ll(MAC) == DUID
    with pytest.raises(DhcpError, match="6 bytes"):
        L.duid_ll("02:1b")


def test_decode_options_keeps_repeats_and_refuses_overruns() -> None:
    data = opt(23, b"a" * 16) + opt(23, b"b" * 16) + opt(14, b"")
    assert L.decode_options6(data) == {23: [b"a" * 16, b"b" * 16], 14: [b""]}
    with pytest.raises(DhcpError, match="option 59 at offset 0 claims 9 bytes, only 2 left"):
        L.decode_options6(struct.pack("!HH", 59, 9) + b"ab")
    with pytest.raises(DhcpError, match="stray"):
        L.decode_options6(b"\x00\x01")


@given(st.dictionaries(st.integers(0, 0xFFFF), st.lists(st.binary(max_size=40), min_size=1, max_size=3), max_size=6))
def test_decode_options_round_trip(options: dict[int, list[bytes]]) -> None:
    data = b"".join(opt(code, v) for code, values in options.items() for v in values)
    assert L.decode_options6(data) == options


def test_ia_na_addresses_status_and_invalid_lifetimes() -> None:
    ia = L.decode_ia_na(ia_na("fd00:99::77")[4:])
    assert (ia.iaid, ia.t1, ia.t2) == (1, 1800, 2880)
    assert ia.addresses == (L.IaAddress(ipaddress.IPv6Address("fd00:99::77"), 3600, 3600),)
    # RFC 8415 §21.6: preferred > valid is discarded
    assert L.decode_ia_na(ia_na("fd00:99::77", pref=10, valid=5)[4:]).addresses == ()
    assert L.decode_ia_na(ia_na(status=2)[4:]).status == (2, "no luck")
    with pytest.raises(DhcpError, match="at least 12"):
        L.decode_ia_na(b"\x00" * 8)


def test_dns_servers_and_domain_list() -> None:
    assert L.decode_dns_servers(ipaddress.IPv6Address("fd00::53").packed) == (ipaddress.IPv6Address("fd00::53"),)
    with pytest.raises(DhcpError, match="multiple of 16"):
        L.decode_dns_servers(b"\x00" * 15)
    assert L.decode_domain_list(b"\x07example\x04test\x00\x01a\x00") == ("example.test", "a")
    with pytest.raises(DhcpError, match="bad label length"):
        L.decode_domain_list(b"\x09abc")


def test_message_checks() -> None:
    msg = L.parse_message6(message(7, 0xABCDEF, opt(14, b"")), source="fe80::1")
    assert msg is not None and msg.rapid_commit and msg.server_id == SERVER_DUID
    assert L.check_message6(msg, trid=0xABCDEF, client_duid=DUID) is None
    assert L.check_message6(msg, trid=1, client_duid=DUID) == "transaction id 0xabcdef is not ours"
    assert L.check_message6(msg, trid=0xABCDEF, client_duid=b"x") == "client identifier is not ours"
    assert L.parse_message6(b"\x01abc") is None  # a Solicit is not for a client
    no_server = L.parse_message6(bytes([2, 0, 0, 1]) + opt(1, DUID))
    assert no_server is not None and L.check_message6(no_server, trid=1, client_duid=DUID) == "no server identifier"


def reply(*extra: bytes, trid: int = 1) -> L.Message6:
    msg = L.parse_message6(message(7, trid, *extra), source="fe80::1")
    assert msg is not None
    return msg


def test_lease_json_and_boot_config() -> None:
    dns = ipaddress.IPv6Address("fd00::53").packed + ipaddress.IPv6Address("fd00::54").packed
    lease = L.lease_from_reply6(reply(ia_na("fd00:99::77"), opt(23, dns), opt(59, ROOT_PATH), opt(14, b"")),
                                interface="c0", mac=MAC)
    data = lease.to_json_dict()
    assert data["address"] == "fd00:99::77/128" and data["dns"] == ["fd00::53", "fd00::54"]
    assert data["server_id"] == SERVER_DUID.hex() and data["root_path"] == ROOT_PATH.decode()
    assert data["target"]["server"] == "fd00:99::1" and data["rapid_commit"] is True
    assert data["gateway"] is None and data["initiator_name"] is None
    cfg = lease.to_boot_config(initiator_name="iqn.2026-01.test.example:init")
    (nic,) = cfg.nics
    assert str(nic.ip_address) == "fd00:99::77" and nic.prefix_len == 128 and str(nic.dhcp_server) == "fe80::1"
    (target,) = cfg.targets
    assert str(target.ip_address) == "fd00:99::1" and target.name == "iqn.2026-01.test.example:target0"
    assert cfg.source == "dhcp6:c0"


def test_lease_root_path_cases() -> None:
    none = L.lease_from_reply6(reply(ia_na("fd00::7")), interface="c0", mac=MAC)
    assert none.root_path is None and none.to_boot_config().targets == ()
    with pytest.raises(DhcpError, match=r"has no root path \(DHCPv6 option 59, Boot File URL\)"):
        none.usable_root_path()
    http = L.lease_from_reply6(reply(ia_na("fd00::7"), opt(59, b"http://x/boot")), interface="c0", mac=MAC)
    assert http.root_path is None and "is not an iscsi: root path" in http.no_root_path()
    bad = L.lease_from_reply6(reply(ia_na("fd00::7"), opt(59, b"iscsi:[fd00::1]:17:3260:1:iqn.x")),
                              interface="c0", mac=MAC)
    with pytest.raises(RootPathError, match="protocol"):
        bad.to_json_dict()


@pytest.mark.parametrize(("extra", "why"), [
    ((opt(13, b"\x00\x01oops"),), "UNSPEC_FAIL ('oops')"),
    ((), "has no IA_NA (option 3) for IAID 1: no address"),
    ((ia_na(status=2),), "gave no address (NO_ADDRS_AVAIL ('no luck'))"),
    ((ia_na(),), "IA_NA holds no usable address"),
    ((ia_na("fe80::5"),), "expected a unicast, non-link-local address"),
])
def test_reply_without_a_usable_address(extra: tuple[bytes, ...], why: str) -> None:
    with pytest.raises(DhcpError) as e:
        L.lease_from_reply6(reply(*extra), interface="c0", mac=MAC)
    assert why in str(e.value) and "\n" not in str(e.value)


# --- messages built with scapy ---------------------------------------------------------------------


def test_solicit_and_request_bytes() -> None:
    sol = build_message6(L.MessageType6.SOLICIT, mac=MAC, trid=0x123456, elapsed=1.234)
    assert sol[:4] == bytes([1, 0x12, 0x34, 0x56])
    opts = L.decode_options6(sol[4:])
    assert opts[1] == [DUID] and opts[8] == [struct.pack("!H", 123)] and opts[14] == [b""]
    assert opts[6] == [struct.pack("!HHH", 23, 24, 59)] and 2 not in opts
    assert L.decode_ia_na(opts[3][0]) == L.IaNa(1, 0, 0, ())
    req = build_message6(L.MessageType6.REQUEST, mac=MAC, trid=7, server_id=SERVER_DUID,
                         address=ipaddress.IPv6Address("fd00::77"), elapsed=1000)
    ropts = L.decode_options6(req[4:])
    assert req[0] == 3 and ropts[2] == [SERVER_DUID] and 14 not in ropts
    assert ropts[8] == [b"\xff\xff"]  # elapsed time is capped (RFC 8415 §21.9)
    (iaaddr,) = L.decode_options6(ropts[3][0][12:])[5]  # lifetimes 0: a hint (RFC 8415 §18.2.2)
    assert iaaddr == ipaddress.IPv6Address("fd00::77").packed + bytes(8)
    assert load_scapy6() is S6


# --- the exchange against a simulated server -------------------------------------------------------

Server = Callable[[int, int, dict[int, list[bytes]]], list[tuple[float, bytes]]]


class SimNet:
    """Transport and clock: what the client sends goes to ``server``, which returns
    ``(delay, message)`` replies; ``recv`` advances simulated time instead of sleeping."""

    def __init__(self, server: Server, *, tentative_for: float = 0.0) -> None:
        self.server = server
        self.now = 50.0
        self.ready_at = self.now + tentative_for
        self.sent: list[tuple[float, int, int, dict[int, list[bytes]]]] = []
        self.queue: list[tuple[float, bytes]] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def send(self, data: bytes) -> None:
        if self.now < self.ready_at:
            raise LinkLocalNotReady("Cannot assign requested address")
        trid = int.from_bytes(data[1:4], "big")
        opts = L.decode_options6(data[4:])
        self.sent.append((self.now, data[0], trid, opts))
        self.queue += [(self.now + d, m) for d, m in self.server(data[0], trid, opts)]
        self.queue.sort(key=lambda item: item[0])

    def recv(self, timeout: float) -> tuple[bytes, str] | None:
        if self.queue and self.queue[0][0] <= self.now + timeout:
            due, data = self.queue.pop(0)
            self.now = max(self.now, due)
            return data, "fe80::1"
        self.now += timeout
        return None

    def close(self) -> None:
        pass


def exchange(net: SimNet, *, timeout: float = 30.0, seed: int = 1, **kw: Any) -> Exchange6:
    return Exchange6(net, interface="c0", mac=MAC, timeout=timeout, clock=net.clock, sleep=net.sleep,
                     rng=random.Random(seed), **kw)


def dnsmasq_like(*, rapid: bool = True, boot: bytes = ROOT_PATH, server: bytes = SERVER_DUID,
                 pref: int = 0, delay: float = 0.003) -> Server:
    def answer(kind: int, trid: int, opts: dict[int, list[bytes]]) -> list[tuple[float, bytes]]:
        common = (ia_na("fd00:99::77"), opt(7, bytes([pref])), opt(59, boot))
        if kind == 1 and rapid and 14 in opts:
            return [(delay, message(7, trid, opt(14, b""), *common, server=server))]
        if kind == 1:
            return [(delay, message(2, trid, *common, server=server))]
        if kind == 3 and opts[2] == [server]:
            return [(delay, message(7, trid, *common, server=server))]
        return []
    return answer


def test_rapid_commit_is_one_round_trip() -> None:
    net = SimNet(dnsmasq_like())
    lease = exchange(net).run()
    assert [k for _, k, _, _ in net.sent] == [1] and lease.rapid_commit and str(lease.address) == "fd00:99::77/128"


def test_four_messages_wait_for_the_first_rt_then_request() -> None:
    net = SimNet(dnsmasq_like(rapid=False))
    ex = exchange(net)
    lease = ex.run()
    kinds = [k for _, k, _, _ in net.sent]
    assert kinds == [1, 3]
    # §18.2.1: Advertises are collected for the first RT, IRT + RAND*IRT with 0 < RAND <= 0.1
    waited = net.sent[1][0] - net.sent[0][0]
    assert 1.0 < waited <= 1.1
    assert net.sent[1][2] != net.sent[0][2]  # a new transaction for the Request
    assert not lease.rapid_commit and lease.root_path == ROOT_PATH.decode()


def test_preference_255_is_taken_at_once() -> None:
    net = SimNet(dnsmasq_like(rapid=False, pref=255))
    exchange(net).run()
    assert net.sent[1][0] - net.sent[0][0] < 0.01


def test_collect_window_prefers_an_iscsi_boot_file_url() -> None:
    other = bytes.fromhex("00030001020000000099")
    plain, iscsi = dnsmasq_like(rapid=False, boot=b"http://x/", pref=9), dnsmasq_like(rapid=False, server=other)

    def two(kind: int, trid: int, opts: dict[int, list[bytes]]) -> list[tuple[float, bytes]]:
        return plain(kind, trid, opts) + [(d + 0.2, m) for d, m in iscsi(kind, trid, opts)]

    net = SimNet(two)
    lease = exchange(net).run()
    assert net.sent[1][3][2] == [other] and lease.server_id == other


@pytest.mark.parametrize("seed", range(20))
def test_silent_server_schedule_follows_rfc8415_section_15(seed: int) -> None:
    net = SimNet(lambda *_: [])
    with pytest.raises(DhcpTimeout) as e:
        exchange(net, timeout=40.0, seed=seed).run()
    times = [t - 50.0 for t, _, _, _ in net.sent]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert 1.0 < gaps[0] <= 1.1
    for prev, gap in zip(gaps, gaps[1:], strict=False):
        assert 1.9 * prev - 1e-9 <= gap <= 2.1 * prev + 1e-9
    assert net.now == pytest.approx(90.0)  # returns exactly at the deadline
    assert str(e.value) == f"no DHCPv6 Advertise or Reply on c0 within 40 s ({len(times)} Solicits sent to ff02::1:2)"
    assert len({trid for _, _, trid, _ in net.sent}) == 1  # retransmissions keep the transaction id


def test_request_retransmits_then_solicits_again() -> None:
    answer = dnsmasq_like(rapid=False)

    def no_reply(kind: int, trid: int, opts: dict[int, list[bytes]]) -> list[tuple[float, bytes]]:
        return answer(kind, trid, opts) if kind == 1 else []

    net = SimNet(no_reply)
    with pytest.raises(DhcpTimeout, match=r"no DHCPv6 Reply on c0 within 200 s \(\d+ Advertises? from "):
        exchange(net, timeout=200.0).run()
    kinds = [k for _, k, _, _ in net.sent]
    assert kinds[:1 + L.REQ_MAX_RC] == [1] + [3] * L.REQ_MAX_RC and kinds[1 + L.REQ_MAX_RC] == 1


def test_no_addresses_available_is_named() -> None:
    def refuse(kind: int, trid: int, opts: dict[int, list[bytes]]) -> list[tuple[float, bytes]]:
        return [(0.01, message(2, trid, opt(13, b"\x00\x02no addresses")))]

    with pytest.raises(DhcpTimeout) as e:
        exchange(SimNet(refuse), timeout=3.0).run()
    assert f"server {SERVER_DUID.hex()}: NO_ADDRS_AVAIL ('no addresses')" in str(e.value)


def test_foreign_messages_are_ignored() -> None:
    answer = dnsmasq_like()

    def noisy(kind: int, trid: int, opts: dict[int, list[bytes]]) -> list[tuple[float, bytes]]:
        return [(0.001, message(7, trid ^ 1, opt(14, b""))), (0.001, message(7, trid, opt(14, b""), client=b"x")),
                (0.001, b"\x07\x00"), (0.001, message(7, trid, b"\x00\x17\x00\x09ab"))] + answer(kind, trid, opts)

    notes: list[str] = []
    lease = exchange(SimNet(noisy), progress=notes.append).run()
    assert lease.rapid_commit
    assert any("not ours" in n for n in notes) and any("malformed" in n for n in notes)


def test_waits_for_a_tentative_link_local_address() -> None:
    net = SimNet(dnsmasq_like(), tentative_for=0.9)
    notes: list[str] = []
    exchange(net, progress=notes.append).run()
    assert net.sent[0][0] >= 50.9 and any("waiting for its IPv6 link-local address" in n for n in notes)
    with pytest.raises(DhcpTimeout, match="no usable IPv6 link-local address on c0 within 0.5 s"):
        exchange(SimNet(dnsmasq_like(), tentative_for=5), timeout=0.5).run()


# --- SLAAC over fake /proc ---------------------------------------------------------------------------

IF_INET6 = """\
00000000000000000000000000000001 01 80 10 80       lo
fe80000000000000001bf7fffe000060 02 40 20 80       c0
fd00009900000000001bf7fffe000060 02 40 00 {flags}       c0
fd00009900000000000000000000aaaa 03 40 00 00       c1
"""
ROUTE = ("00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
         "fe80000000000000acedcffffeba6f40 00000400 00000001 00000000 00000003 {dev}\n")


def fake_proc(tmp_path: Path, *, flags: str = "00", route_dev: str | None = "c0", accept_ra: str = "1") -> Path:
    (tmp_path / "net").mkdir(parents=True, exist_ok=True)
    (tmp_path / "net/if_inet6").write_text(IF_INET6.format(flags=flags))
    (tmp_path / "net/ipv6_route").write_text(ROUTE.format(dev=route_dev) if route_dev else "")
    conf = tmp_path / "sys/net/ipv6/conf/c0"
    conf.mkdir(parents=True, exist_ok=True)
    for name, value in (("disable_ipv6", "0"), ("accept_ra", accept_ra), ("forwarding", "0"), ("autoconf", "1")):
        (conf / name).write_text(value + "\n")
    sysfs = tmp_path / "class/net/c0"
    sysfs.mkdir(parents=True, exist_ok=True)
    (sysfs / "flags").write_text("0x1003\n")
    return tmp_path


def test_slaac_reads_proc(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path)
    assert global_addresses("c0", proc=str(proc)) == (ipaddress.IPv6Interface("fd00:99::1b:f7ff:fe00:60/64"),)
    assert str(default_gateway("c0", proc=str(proc))) == "fe80::aced:cfff:feba:6f40"
    assert default_gateway("c1", proc=str(proc)) is None
    assert global_addresses("c0", proc=str(fake_proc(tmp_path, flags="40"))) == ()  # tentative
    assert ra_refused("c0", proc=str(fake_proc(tmp_path, accept_ra="0"))) is not None


def test_wait_slaac(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path)
    clock = [0.0]

    def sleep(s: float) -> None:
        clock[0] += s

    kw: dict[str, Any] = {"proc": str(proc), "sysfs": str(proc / "class/net"), "clock": lambda: clock[0],
                          "sleep": sleep}
    got = wait_slaac("c0", timeout=5, **kw)
    assert got.gateway is not None and got.elapsed == 0 and got.warnings == ()
    fake_proc(tmp_path, route_dev=None)
    no_route = wait_slaac("c0", timeout=2, **kw)
    assert no_route.gateway is None and "no IPv6 default route on c0" in no_route.warnings[0]
    assert clock[0] == pytest.approx(2.0)
    fake_proc(tmp_path, flags="40")
    with pytest.raises(DhcpTimeout, match="no global IPv6 address on c0 from router advertisements within 1 s"):
        wait_slaac("c0", timeout=1, **kw)
    fake_proc(tmp_path, accept_ra="0")
    with pytest.raises(DhcpError, match=r"no SLAAC on c0: c0 ignores router advertisements \(.*accept_ra=0"):
        wait_slaac("c0", timeout=1, **kw)


# --- both families at once ---------------------------------------------------------------------------


def test_families_for_ip_methods() -> None:
    from ibftkit.sources.dhcp.dual import families_for

    assert families_for([]) == (4, 6) and families_for(["static"]) == (4, 6)
    assert families_for(["dhcp"]) == (4,) and families_for(["dhcp6"]) == (6,) and families_for(["either6"]) == (6,)
    assert families_for(["dhcp", "dhcp6"]) == (4, 6)


def test_acquire_any_first_usable_family_wins_and_failures_are_named() -> None:
    from ibftkit.sources.dhcp.dual import acquire_any

    def fake(v4: object, v6: object) -> Callable[..., object]:
        def first(interfaces: list[str], *, timeout: float, progress: object = None, acquire: object = None,
                  **_: object) -> object:
            result = v4 if acquire is None else v6
            if isinstance(result, Exception):
                raise result
            return result
        return first

    assert acquire_any(["c0"], timeout=1, first=fake(DhcpTimeout("v4 silent"), "lease6")) == "lease6"
    assert acquire_any(["c0"], timeout=1, families=(4,), first=fake("lease4", "lease6")) == "lease4"
    with pytest.raises(DhcpError) as e:
        acquire_any(["c0"], timeout=1, first=fake(DhcpTimeout("v4 silent"), DhcpError("v6 no address")))
    assert str(e.value) == "no usable lease by DHCPv4 or DHCPv6: DHCPv4: v4 silent; DHCPv6: v6 no address"


def test_acquire_any_dhcpv6_starts_after_a_head_start_unless_dhcpv4_ends_first() -> None:
    """DHCPv6 waits up to the head start (RFC 8415 SOL_MAX_DELAY) for DHCPv4: a quick DHCPv4 lease means
    it never starts; a quick DHCPv4 failure starts it at once; the loser is stopped by the event."""
    import threading
    import time

    from ibftkit.sources.dhcp.dual import V6_HEAD_START, acquire_any

    assert V6_HEAD_START == 1.0
    calls: list[tuple[str, float]] = []
    stops: list[threading.Event] = []

    def fake(v4: object, v6: object, v4_delay: float = 0.0) -> Callable[..., object]:
        def first(interfaces: list[str], *, timeout: float, progress: object = None, acquire: object = None,
                  stop: threading.Event | None = None) -> object:
            family = "v4" if acquire is None else "v6"
            calls.append((family, time.monotonic()))
            assert stop is not None
            stops.append(stop)
            if family == "v4":
                time.sleep(v4_delay)
            result = v4 if family == "v4" else v6
            if isinstance(result, Exception):
                raise result
            return result
        return first

    assert acquire_any(["c0"], timeout=5, first=fake("lease4", "lease6"), head_start=0.3) == "lease4"
    time.sleep(0.5)
    assert [c[0] for c in calls] == ["v4"] and stops[0].is_set()  # DHCPv6 never started

    calls.clear()
    t0 = time.monotonic()
    assert acquire_any(["c0"], timeout=5, first=fake(DhcpTimeout("v4 silent"), "lease6"), head_start=5.0) == "lease6"
    assert [c[0] for c in calls] == ["v4", "v6"] and calls[1][1] - t0 < 4.0  # not the whole head start

    calls.clear()
    t0 = time.monotonic()
    assert acquire_any(["c0"], timeout=5, first=fake("lease4", "lease6", v4_delay=2.0), head_start=0.3) == "lease6"
    assert [c[0] for c in calls] == ["v4", "v6"] and 0.25 < calls[1][1] - t0 < 1.9  # DHCPv4 still running


def test_stop_aware_transport_ends_a_wait_from_another_thread() -> None:
    import threading
    import time

    from ibftkit.sources.dhcp.packet import DhcpStopped, StopAware

    class Silent:
        closed = False

        def send(self, frame: bytes) -> None:
            pass

        def recv(self, timeout: float) -> bytes | None:
            time.sleep(timeout)
            return None

        def close(self) -> None:
            self.closed = True

    stop = threading.Event()
    t = StopAware(Silent(), stop, poll=0.05)
    assert t.recv(0.12) is None  # times out as the transport would
    threading.Timer(0.1, stop.set).start()
    start = time.monotonic()
    with pytest.raises(DhcpStopped):
        t.recv(10.0)
    assert time.monotonic() - start < 0.5
    with pytest.raises(DhcpStopped):
        t.send(b"x")
    t.close()
    assert t.transport.closed


def test_lease_with_link_facts_from_router_advertisements(tmp_path: Path) -> None:
    from ibftkit.sources.dhcp.client6 import link_facts
    from ibftkit.sources.dhcp.slaac import onlink_prefixes

    proc = fake_proc(tmp_path)
    (proc / "net/ipv6_route").write_text(
        ROUTE.format(dev="c0")
        + "fd000099000000000000000000000000 40 00000000000000000000000000000000 00 "
          "00000000000000000000000000000000 00000100 00000001 00000000 00040001 c0\n"
        + "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
          "00000000000000000000000000000000 00000100 00000001 00000000 00000001 c0\n")
    assert onlink_prefixes("c0", proc=str(proc)) == (ipaddress.IPv6Network("fd00:99::/64"),)
    lease = L.lease_from_reply6(reply(ia_na("fd00:99::77")), interface="c0", mac=MAC)
    got = link_facts(lease, wait=1, proc=str(proc))
    assert str(got.address) == "fd00:99::77/64" and str(got.gateway) == "fe80::aced:cfff:feba:6f40"
    assert got.to_json_dict()["gateway"] == "fe80::aced:cfff:feba:6f40" and got.to_nic().gateway == got.gateway
    clock = [0.0]
    other = L.lease_from_reply6(reply(ia_na("fd00:5::7")), interface="c0", mac=MAC)
    alone = link_facts(other, wait=1, proc=str(proc), clock=lambda: clock[0],
                       sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    assert str(alone.address) == "fd00:5::7/128" and "no on-link prefix for fd00:5::7" in alone.warnings[-1]
    assert clock[0] == pytest.approx(1.0, abs=0.06)
