"""The plan's rules one at a time (``ibftkit.network.plan.rule_*``): each gives (steps, notes)."""

from __future__ import annotations

import ipaddress

import pytest

from ibftkit.infra.errors import NetError
from ibftkit.model import Nic, Origin, parse_ip
from ibftkit.network.links import LinkInfo
from ibftkit.network.plan import (
    MAXNS,
    AddAddress,
    AddRoute,
    CreateVlan,
    LinkUp,
    RunDhcp,
    SetDns,
    SetHostname,
    WaitCarrier,
    _NicState,
    rule_address,
    rule_default_route,
    rule_dns,
    rule_hostname,
    rule_links,
)

MAC = "52:54:00:12:34:56"


def state(index: int = 0, *, gateway: str | None = "10.0.0.1", dns: tuple[str, ...] = (),
          hostname: str | None = None, l3: str = "eth0") -> _NicState:
    nic = Nic(index=index, mac=MAC, ip_address=parse_ip("10.0.0.5"), prefix_len=24, gateway=parse_ip(gateway),
              primary_dns=parse_ip(dns[0]) if dns else None,
              secondary_dns=parse_ip(dns[1]) if len(dns) > 1 else None, hostname=hostname)
    return _NicState(nic, LinkInfo("eth0", MAC, 2), l3, ipaddress.ip_interface("10.0.0.5/24"), nic.gateway)


def test_links_once_per_link_and_a_vlan_link() -> None:
    up: set[str] = set()
    steps, notes, l3 = rule_links(Nic(index=0, mac=MAC, vlan=5), LinkInfo("eth0", MAC, 2), up)
    assert (steps, notes, l3) == ([LinkUp("eth0"), WaitCarrier("eth0"), CreateVlan("eth0.5", "eth0", 5),
                                   LinkUp("eth0.5")], [], "eth0.5")
    assert rule_links(Nic(index=1, mac=MAC), LinkInfo("eth0", MAC, 2), up) == ([], [], "eth0")
    with pytest.raises(NetError, match="longer than 15"):
        rule_links(Nic(index=0, mac=MAC, vlan=4000), LinkInfo("enp0s31f6abcd", MAC, 2), set())


def test_address_static_dhcp_rerun_and_none() -> None:
    iface = ipaddress.ip_interface("10.0.0.5/24")
    seen: set[tuple[str, str]] = set()
    assert rule_address(Nic(index=0), "eth0", iface, dhcp_rerun=False, addressed=seen) == \
        ([AddAddress("eth0", iface, 0, "")], [])
    assert rule_address(Nic(index=1), "eth0", iface, dhcp_rerun=False, addressed=seen) == ([], [])
    dhcp = Nic(index=2, origin=Origin.DHCP)
    assert rule_address(dhcp, "eth1", iface, dhcp_rerun=True, addressed=seen) == ([RunDhcp("eth1", 2, iface)], [])
    steps, notes = rule_address(Nic(index=3), "eth2", None, dhcp_rerun=False, addressed=seen)
    assert steps == [] and notes == ["NIC[3] has no address: eth2 keeps the addresses it has"]


def test_default_route_only_with_a_gateway() -> None:
    steps, notes = rule_default_route(state())
    assert steps == [AddRoute(ipaddress.ip_network("0.0.0.0/0"), parse_ip("10.0.0.1"), "eth0", "boot NIC[0]")]
    assert notes == []
    assert rule_default_route(state(gateway=None)) == ([], ["boot NIC[0] has no gateway: no default route"])
    assert rule_default_route(None) == ([], [])


def test_dns_boot_nic_first_no_repeats_at_most_maxns() -> None:
    ordered = [state(0, dns=("10.0.0.53", "10.0.0.54")), state(1, dns=("10.0.0.54", "10.0.1.53")),
               state(2, dns=("10.0.2.53",))]
    steps, notes = rule_dns(ordered)
    assert steps == [SetDns(tuple(parse_ip(a) for a in ("10.0.0.53", "10.0.0.54", "10.0.1.53")))]
    assert MAXNS == 3 and notes == ["4 DNS servers; resolv.conf uses the first 3: 10.0.2.53 left out"]
    assert rule_dns([state()]) == ([], [])


def test_hostname_first_valid_or_a_note() -> None:
    assert rule_hostname([state(hostname="host-a"), state(1, hostname="b")], set_hostname=True) == \
        ([SetHostname("host-a")], [])
    assert rule_hostname([state(hostname="host-a")], set_hostname=False) == \
        ([], ["hostname 'host-a' not set (--no-hostname)"])
    assert rule_hostname([state(hostname="-bad-")], set_hostname=True) == \
        ([], ["hostname '-bad-' is not a valid host name (RFC 1123): not set"])
    assert rule_hostname([state()], set_hostname=True) == ([], [])
