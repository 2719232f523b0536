"""Every path through the NIC the firmware named, by routes the kernel accepts: one namespace test per
address layout (on-link, off-link, /31, /32 with the gateway outside the prefix, IPv6 /128, link-local)
and two NICs on one subnet (field case 06), each applying the plan for real.

A client namespace (the machine being booted) is joined by veth pairs to a server namespace that holds
the gateway and the targets. The plan comes from ``plan_network`` and is applied with ``apply_plan``;
the test then asks the kernel (``ip route get``) which device, gateway and source it uses for each
target, makes a real TCP round trip to a listener on the target address, and undoes the run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from nettools import Namespaces, namespaces, sh  # tests/nettools.py (tests/ is on sys.path via its conftest)

from ibftkit.login.argv import login_address, with_zones
from ibftkit.model import BootConfig, Initiator, Nic, NicFlags, Target, TargetFlags, parse_ip
from ibftkit.network.apply import apply_plan, list_links, undo
from ibftkit.network.plan import NetPlan, plan_network

pytestmark = pytest.mark.netns

MAC0 = "52:54:00:12:34:00"
MAC1 = "52:54:00:12:34:01"
MACP = "52:54:00:12:34:99"  # the PXE NIC of field case 06: not in the table


@dataclass
class Net:
    ns: Namespaces
    client: str
    server: str


@pytest.fixture
def net() -> Iterator[Net]:
    with namespaces() as ns:
        client, server = ns.add("ibrc"), ns.add("ibrs")
        for name in (client, server):  # no tentative (DAD) link-local addresses on the links made below
            for conf in ("all", "default"):
                sh("sysctl", "-qw", f"net.ipv6.conf.{conf}.accept_dad=0", ns=name)
        ns.veth(client, "c0", server, "s0", mac_a=MAC0)
        yield Net(ns, client, server)


def server_addr(n: Net, cidr: str, dev: str = "s0") -> None:
    sh("ip", "addr", "add", cidr, "dev", dev, *(("nodad",) if ":" in cidr else ()), ns=n.server)


def config(*nics: Nic, targets: tuple[Target, ...]) -> BootConfig:
    return BootConfig(initiator=Initiator("iqn.2026-11.org.example:initiator01"), nics=nics, targets=targets,
                      source="netns-routes")


def nic(ip: str, prefix: int, gw: str | None, *, index: int = 0, mac: str = MAC0) -> Nic:
    return Nic(index=index, flags=NicFlags.VALID | NicFlags.BOOT_SELECTED, ip_address=parse_ip(ip),
               prefix_len=prefix, gateway=parse_ip(gw), mac=mac)


def target(ip: str, index: int = 0, nic_index: int = 0) -> Target:
    flags = TargetFlags.VALID | (TargetFlags.BOOT_SELECTED if index == 0 else TargetFlags(0))
    return Target(index=index, flags=flags, ip_address=parse_ip(ip), nic_index=nic_index,
                  name="iqn.2026-11.org.example:disk0")


def route_get(n: Net, dst: str) -> str:
    return sh("ip", "route", "get", dst, ns=n.client).stdout.split("\n")[0]


def routes(n: Net) -> str:
    return sh("ip", "route", "show", ns=n.client).stdout + sh("ip", "-6", "route", "show", ns=n.client).stdout


def tcp_round_trip(n: Net, listen: str, connect: str, port: int = 3260) -> str:
    """Listen on ``listen`` in the server namespace and connect to ``connect`` (which may carry a
    ``%zone``) from the client; returns the client's source address as the server saw it."""
    family = "socket.AF_INET6" if ":" in listen else "socket.AF_INET"
    listener = subprocess.Popen(["ip", "netns", "exec", n.server, sys.executable, "-c", textwrap.dedent(f"""
        import socket
        info = socket.getaddrinfo({listen!r}, {port}, {family}, socket.SOCK_STREAM)[0]
        s = socket.socket(info[0], socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(info[4]); s.listen(1)
        print('ready', flush=True); c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
        code = ("import socket, sys; c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); "
                "print(c.recv(100).decode())")
        got = sh(sys.executable, "-c", code, connect, str(port), ns=n.client, check=False)
        assert got.returncode == 0, got.stderr
        return got.stdout.strip()
    finally:
        listener.kill()
        listener.wait()


def apply(n: Net, cfg: BootConfig) -> tuple[NetPlan, object]:
    plan = plan_network(cfg, links=list_links(n.client), set_hostname=False)
    return plan, apply_plan(plan, netns=n.client, resolv_conf="/dev/null/never-written")


def state(n: Net) -> str:
    addrs = [ln for ln in sh("ip", "-o", "addr", "show", ns=n.client).stdout.splitlines() if "scope link" not in ln]
    return "\n".join(addrs) + routes(n)


# --- one test per layout ----------------------------------------------------------------------------


def test_on_link_target_host_route_dev_with_the_nics_source(net: Net) -> None:
    server_addr(net, "192.0.2.10/24")
    before = state(net)
    _, result = apply(net, config(nic("192.0.2.20", 24, "192.0.2.1"), targets=(target("192.0.2.10"),)))
    assert "192.0.2.10 dev c0 proto static scope link src 192.0.2.20" in routes(net)
    assert route_get(net, "192.0.2.10").startswith("192.0.2.10 dev c0 src 192.0.2.20")
    assert tcp_round_trip(net, "192.0.2.10", "192.0.2.10") == "192.0.2.20"
    assert undo(result) == []  # type: ignore[arg-type]
    assert state(net) == before


def test_off_link_target_via_the_gateway(net: Net) -> None:
    server_addr(net, "192.0.2.1/24")
    server_addr(net, "198.51.100.10/32", "lo")
    _, result = apply(net, config(nic("192.0.2.20", 24, "192.0.2.1"), targets=(target("198.51.100.10"),)))
    assert route_get(net, "198.51.100.10").startswith("198.51.100.10 via 192.0.2.1 dev c0 src 192.0.2.20")
    assert tcp_round_trip(net, "198.51.100.10", "198.51.100.10") == "192.0.2.20"
    undo(result)  # type: ignore[arg-type]


def test_rfc3021_slash31_peer_on_link_and_beyond_it(net: Net) -> None:
    server_addr(net, "192.0.2.21/31")
    server_addr(net, "198.51.100.10/32", "lo")
    cfg = config(nic("192.0.2.20", 31, "192.0.2.21"),
                 targets=(target("192.0.2.21"), target("198.51.100.10", 1)))
    _, result = apply(net, cfg)
    assert route_get(net, "192.0.2.21").startswith("192.0.2.21 dev c0 src 192.0.2.20")
    assert route_get(net, "198.51.100.10").startswith("198.51.100.10 via 192.0.2.21 dev c0 src 192.0.2.20")
    assert tcp_round_trip(net, "192.0.2.21", "192.0.2.21") == "192.0.2.20"
    assert tcp_round_trip(net, "198.51.100.10", "198.51.100.10") == "192.0.2.20"
    undo(result)  # type: ignore[arg-type]


def test_slash32_lease_with_the_gateway_outside_the_prefix(net: Net) -> None:
    """A cloud-style /32 lease: the kernel takes `via 192.0.2.1` only after an on-link route to it."""
    server_addr(net, "192.0.2.1/24")
    server_addr(net, "198.51.100.10/32", "lo")
    before = state(net)
    plan, result = apply(net, config(nic("192.0.2.20", 32, "192.0.2.1"), targets=(target("198.51.100.10"),)))
    described = plan.describe()
    assert described.index(next(d for d in described if d.startswith("add route 192.0.2.1/32 dev c0"))) < \
        described.index(next(d for d in described if d.startswith("add route default via 192.0.2.1")))
    assert "default via 192.0.2.1 dev c0" in routes(net)
    assert route_get(net, "198.51.100.10").startswith("198.51.100.10 via 192.0.2.1 dev c0 src 192.0.2.20")
    assert tcp_round_trip(net, "198.51.100.10", "198.51.100.10") == "192.0.2.20"
    assert undo(result) == []  # type: ignore[arg-type]
    assert state(net) == before


def test_ipv6_slash128_with_the_gateway_outside_the_prefix(net: Net) -> None:
    server_addr(net, "2001:db8::1/64")
    server_addr(net, "2001:db8:1::10/128", "lo")
    _, result = apply(net, config(nic("2001:db8::20", 128, "2001:db8::1"), targets=(target("2001:db8:1::10"),)))
    got = route_get(net, "2001:db8:1::10")
    assert "via 2001:db8::1 dev c0" in got and "src 2001:db8::20" in got
    assert tcp_round_trip(net, "2001:db8:1::10", "2001:db8:1::10") == "2001:db8::20"
    undo(result)  # type: ignore[arg-type]


def test_link_local_portal_through_its_nics_link_with_the_zone(net: Net) -> None:
    server_addr(net, "fe80::5054:ff:fe12:3401/64")
    cfg = config(nic("fe80::5054:ff:fe12:3400", 64, None), targets=(target("fe80::5054:ff:fe12:3401"),))
    plan, result = apply(net, cfg)
    zoned = with_zones(cfg, plan.steps)
    address = login_address(zoned.targets[0])
    assert address == "fe80::5054:ff:fe12:3401%c0"
    assert "fe80::5054:ff:fe12:3401 dev c0" in routes(net)
    peer = tcp_round_trip(net, "fe80::5054:ff:fe12:3401%s0", address)
    assert peer.startswith("fe80::5054:ff:fe12:3400")
    undo(result)  # type: ignore[arg-type]


# --- two NICs on one subnet (field case 06) -----------------------------------------------------------


def counters(n: Net, dev: str) -> int:
    return int(sh("cat", f"/sys/class/net/{dev}/statistics/tx_bytes", ns=n.client).stdout)


def sysctl(n: Net, dev: str, key: str) -> str:
    return sh("cat", f"/proc/sys/net/ipv4/conf/{dev}/{key}", ns=n.client).stdout.strip()


def test_two_nics_one_subnet_each_session_leaves_by_its_own_nic(net: Net) -> None:
    """Field case 06: NIC0 192.0.2.20 → target0 192.0.2.10, NIC1 192.0.2.21 → target1 192.0.2.11, and
    a PXE NIC on the same subnet that the table does not name; each session's bytes leave by its NIC."""
    for conf in ("all", "default"):  # IPv4 only here: no IPv6 chatter (MLD, router solicitations) in the counters
        sh("sysctl", "-qw", f"net.ipv6.conf.{conf}.disable_ipv6=1", ns=net.client)
    net.ns.veth(net.client, "c1", net.server, "s1", mac_a=MAC1)
    net.ns.veth(net.client, "pxe0", net.server, "sp", mac_a=MACP)
    sh("ip", "addr", "add", "192.0.2.30/24", "dev", "pxe0", ns=net.client)  # the PXE NIC, first on the subnet
    server_addr(net, "192.0.2.10/24", "s0")
    server_addr(net, "192.0.2.11/24", "s1")
    server_addr(net, "192.0.2.1/24", "sp")
    for ip, dev in (("192.0.2.20", "s0"), ("192.0.2.21", "s1"), ("192.0.2.30", "sp")):  # the array's own paths
        sh("ip", "route", "add", ip, "dev", dev, ns=net.server)
    before = {d: sysctl(net, d, k) for d in ("c0", "c1") for k in ("arp_ignore", "arp_announce")}
    cfg = config(nic("192.0.2.20", 24, "192.0.2.1"), nic("192.0.2.21", 24, "192.0.2.1", index=1, mac=MAC1),
                 targets=(target("192.0.2.10"), target("192.0.2.11", 1, 1)))
    plan, result = apply(net, cfg)
    assert route_get(net, "192.0.2.10").startswith("192.0.2.10 dev c0 src 192.0.2.20")
    assert route_get(net, "192.0.2.11").startswith("192.0.2.11 dev c1 src 192.0.2.21")
    assert [sysctl(net, d, k) for d in ("c0", "c1") for k in ("arp_ignore", "arp_announce")] == ["1", "2", "1", "2"]
    for ip, own, other in (("192.0.2.10", "c0", "c1"), ("192.0.2.11", "c1", "c0")):
        sent = {d: counters(net, d) for d in ("c0", "c1", "pxe0")}
        assert tcp_round_trip(net, ip, ip) == ("192.0.2.20" if own == "c0" else "192.0.2.21")
        grew = {d: counters(net, d) - sent[d] for d in sent}
        assert grew[own] > 0 and grew["pxe0"] == 0 and grew[other] < grew[own], grew
    undo(result)  # type: ignore[arg-type]
    assert {d: sysctl(net, d, k) for d in ("c0", "c1") for k in ("arp_ignore", "arp_announce")} == before
