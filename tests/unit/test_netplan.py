"""The network plan: pure, so every rule is checked here without root (the netns tier applies it)."""

from __future__ import annotations

import dataclasses
import ipaddress
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibftkit.infra.errors import NetError
from ibftkit.model import BootConfig, Initiator, Nic, NicFlags, Origin, PciAddress, Target, TargetFlags, parse_ip
from ibftkit.network.links import LinkInfo
from ibftkit.network.plan import (
    DHCP_NOTE,
    AddAddress,
    AddRoute,
    CreateVlan,
    LinkUp,
    NetPlan,
    RunDhcp,
    SetDns,
    SetHostname,
    WaitCarrier,
    find_link,
    plan_network,
)

MAC0 = "02:00:00:00:00:a0"
MAC1 = "02:00:00:00:00:a1"
LINKS = [LinkInfo("lo", None, 1), LinkInfo("eth0", MAC0, 2), LinkInfo("eth1", MAC1, 3)]
NOT_BOOT = TargetFlags.VALID


def nic(index: int = 0, ip: str | None = "10.99.0.2", prefix: int = 24, gw: str | None = "10.99.0.1",
        mac: str | None = MAC0, **kw: object) -> Nic:
    return Nic(index=index, ip_address=parse_ip(ip), prefix_len=prefix, gateway=parse_ip(gw), mac=mac, **kw)  # type: ignore[arg-type]


def target(ip: str | None, index: int = 0, nic_index: int = 0, **kw: object) -> Target:
    return Target(index=index, ip_address=parse_ip(ip), nic_index=nic_index, name=f"iqn.2026-01.test:t{index}",
                  **kw)  # type: ignore[arg-type]


def cfg(nics: tuple[Nic, ...], targets: tuple[Target, ...]) -> BootConfig:
    return BootConfig(initiator=Initiator("iqn.2026-01.test:init"), nics=nics, targets=targets, source="unit")


def routes(plan: NetPlan) -> list[AddRoute]:
    return [s for s in plan.steps if isinstance(s, AddRoute)]


def test_one_nic_target_on_link() -> None:
    plan = plan_network(cfg((nic(primary_dns=parse_ip("10.99.0.53")),), (target("10.99.0.1"),)), links=LINKS)
    assert plan.steps == (
        LinkUp("eth0"),
        WaitCarrier("eth0"),
        AddAddress("eth0", ipaddress.ip_interface("10.99.0.2/24"), 0),
        AddRoute(ipaddress.ip_network("0.0.0.0/0"), parse_ip("10.99.0.1"), "eth0", "boot NIC[0]"),
        AddRoute(ipaddress.ip_network("10.99.0.1/32"), None, "eth0", "target[0] is on-link in 10.99.0.2/24",
                 parse_ip("10.99.0.2")),
        SetDns((ipaddress.ip_address("10.99.0.53"),)),
    )


def test_target_off_subnet_gets_host_route_via_gateway() -> None:
    plan = plan_network(cfg((nic(),), (target("10.99.7.7"),)), links=LINKS)
    default, host = routes(plan)
    assert default.is_default
    assert host.dst == ipaddress.ip_network("10.99.7.7/32")
    assert (str(host.gateway), host.ifname) == ("10.99.0.1", "eth0")
    assert "10.99.7.7/32 via 10.99.0.1 dev eth0" in host.describe()


def test_multipath_two_nics_each_target_through_its_own_nic() -> None:
    nics = (nic(0, "10.99.0.2", gw="10.99.0.1", mac=MAC0), nic(1, "10.98.0.2", gw="10.98.0.1", mac=MAC1))
    targets = (target("10.50.0.10", 0, 0), target("10.51.0.10", 1, 1, flags=NOT_BOOT))
    plan = plan_network(cfg(nics, targets), links=LINKS)
    rs = routes(plan)
    defaults = [r for r in rs if r.is_default]
    hosts = {str(r.dst): (str(r.gateway), r.ifname) for r in rs if not r.is_default}
    assert len(defaults) == 1 and defaults[0].ifname == "eth0"
    assert hosts == {"10.50.0.10/32": ("10.99.0.1", "eth0"), "10.51.0.10/32": ("10.98.0.1", "eth1")}
    addrs = [(s.ifname, str(s.address)) for s in plan.steps if isinstance(s, AddAddress)]
    assert addrs == [("eth0", "10.99.0.2/24"), ("eth1", "10.98.0.2/24")]
    assert plan.interfaces() == ["eth0", "eth1"]


def test_boot_nic_is_the_boot_selected_targets_nic() -> None:
    nics = (nic(0, "10.99.0.2", gw="10.99.0.1", mac=MAC0), nic(1, "10.98.0.2", gw="10.98.0.1", mac=MAC1))
    targets = (target("10.99.0.9", 0, 0, flags=NOT_BOOT), target("10.98.0.9", 1, 1))
    plan = plan_network(cfg(nics, targets), links=LINKS)
    (default,) = [r for r in routes(plan) if r.is_default]
    assert default.ifname == "eth1" and str(default.gateway) == "10.98.0.1"
    assert plan.steps[0] == LinkUp("eth1")  # the boot NIC comes first


def test_ipv6_nic_and_off_link_target() -> None:
    n = nic(ip="2001:db8:1::2", prefix=64, gw="2001:db8:1::1", primary_dns=parse_ip("2001:db8:1::53"))
    plan = plan_network(cfg((n,), (target("2001:db8:9::10"),)), links=LINKS)
    default, host = routes(plan)
    assert default.dst == ipaddress.ip_network("::/0")
    assert host.dst == ipaddress.ip_network("2001:db8:9::10/128")
    assert str(host.gateway) == "2001:db8:1::1"
    assert AddAddress("eth0", ipaddress.ip_interface("2001:db8:1::2/64"), 0) in plan.steps
    assert "default (::/0)" in default.describe()


def test_vlan_nic_gets_its_own_link_carrying_address_and_routes() -> None:
    plan = plan_network(cfg((nic(vlan=42),), (target("10.99.7.7"),)), links=LINKS)
    assert plan.steps[:5] == (LinkUp("eth0"), WaitCarrier("eth0"), CreateVlan("eth0.42", "eth0", 42),
                              LinkUp("eth0.42"), AddAddress("eth0.42", ipaddress.ip_interface("10.99.0.2/24"), 0))
    assert {r.ifname for r in routes(plan)} == {"eth0.42"}
    assert "802.1Q" in plan.steps[2].describe()


def test_vlan_tci_uses_the_vid_and_says_so() -> None:
    plan = plan_network(cfg((nic(vlan=0x2000 | 42),), (target("10.99.0.1"),)), links=LINKS)
    assert CreateVlan("eth0.42", "eth0", 42) in plan.steps
    assert any("TCI" in n for n in plan.notes)


def test_vlan_name_too_long() -> None:
    links = [LinkInfo("enp0s20f0u1u2", MAC0, 2)]
    with pytest.raises(NetError, match=r"enp0s20f0u1u2\.4000 is longer than 15"):
        plan_network(cfg((nic(vlan=4000),), (target("10.99.0.1"),)), links=links)


def test_no_link_with_the_mac_names_mac_and_nic() -> None:
    with pytest.raises(NetError) as e:
        plan_network(cfg((nic(mac="52:54:00:12:34:99"),), (target("10.99.0.1"),)), links=LINKS)
    assert str(e.value).startswith("NIC[0]: no link has MAC 52:54:00:12:34:99")
    assert "eth0 " + MAC0 in str(e.value) and "\n" not in str(e.value)


def test_stacked_links_never_match_the_mac() -> None:
    links = [LinkInfo("eth0.42", MAC0, 5, devtype="vlan"), LinkInfo("br0", MAC0, 6, devtype="bridge"),
             LinkInfo("eth0", MAC0, 2)]
    assert find_link(nic(), links).ifname == "eth0"


def test_pci_breaks_a_mac_tie() -> None:
    links = [LinkInfo("eth0", MAC0, 2, pci_bdf=PciAddress(0, 3, 0)), LinkInfo("eth1", MAC0, 3,
                                                                               pci_bdf=PciAddress(0, 4, 0))]
    assert find_link(nic(pci_bdf=PciAddress(0, 4, 0)), links).ifname == "eth1"
    with pytest.raises(NetError, match="no PCI address to choose"):
        find_link(nic(), links)
    with pytest.raises(NetError, match="PCI 00:05.0 matches none"):
        find_link(nic(pci_bdf=PciAddress(0, 5, 0)), links)


def test_mac_spelling_does_not_matter() -> None:
    assert find_link(nic(mac="02-00-00-00-00-A0"), LINKS).ifname == "eth0"


def test_interface_by_name_for_root_path_nics() -> None:
    n = nic(mac=None, ifname="eth1")
    plan = plan_network(cfg((n,), (target("10.99.0.1"),)), links=LINKS)
    assert plan.steps[0] == LinkUp("eth1")
    with pytest.raises(NetError, match="no interface named eth7"):
        plan_network(cfg((nic(mac=None, ifname="eth7"),), (target("10.99.0.1"),)), links=LINKS)
    with pytest.raises(NetError, match="has MAC 02:00:00:00:00:a1, not"):
        plan_network(cfg((nic(mac=MAC0, ifname="eth1"),), (target("10.99.0.1"),)), links=LINKS)
    with pytest.raises(NetError, match="neither a MAC"):
        plan_network(cfg((nic(mac=None),), (target("10.99.0.1"),)), links=LINKS)


def test_off_subnet_target_without_gateway_is_an_error() -> None:
    with pytest.raises(NetError, match=r"target\[0\] 10.50.0.1 is outside NIC\[0\]'s subnet 10.99.0.0/24 "
                                       r"and NIC\[0\] has no gateway"):
        plan_network(cfg((nic(gw=None),), (target("10.50.0.1"),)), links=LINKS)


@pytest.mark.parametrize("gw", [None, "0.0.0.0", "255.255.255.255"])
def test_null_gateways_give_no_default_route(gw: str | None) -> None:
    plan = plan_network(cfg((nic(gw=gw),), (target("10.99.0.1"),)), links=LINKS)
    assert not [r for r in routes(plan) if r.is_default or r.gateway is not None]
    assert any("no default route" in n for n in plan.notes)


def test_gateway_outside_subnet_is_planned_with_a_warning() -> None:
    plan = plan_network(cfg((nic(gw="172.16.0.1"),), (target("10.50.0.1"),)), links=LINKS)
    assert [r.describe().split(" (")[0] for r in routes(plan)] == [
        "add route 172.16.0.1/32 dev eth0 src 10.99.0.2",  # the gateway on-link first
        "add route default via 172.16.0.1 dev eth0",
        "add route 10.50.0.1/32 via 172.16.0.1 dev eth0 src 10.99.0.2"]
    assert any("172.16.0.1 is outside 10.99.0.0/24" in n for n in plan.notes)


def test_origin_dhcp_applied_statically_by_default_and_rerun_on_request() -> None:
    c = cfg((nic(origin=Origin.DHCP),), (target("10.99.0.1"),))
    plan = plan_network(c, links=LINKS)
    (addr,) = [s for s in plan.steps if isinstance(s, AddAddress)]
    assert addr.note == DHCP_NOTE and "--dhcp-rerun" in addr.describe()
    rerun = plan_network(c, links=LINKS, dhcp_rerun=True)
    assert not [s for s in rerun.steps if isinstance(s, AddAddress)]
    assert RunDhcp("eth0", 0, ipaddress.ip_interface("10.99.0.2/24")) in rerun.steps
    manual = plan_network(cfg((nic(),), (target("10.99.0.1"),)), links=LINKS, dhcp_rerun=True)
    assert any("--dhcp-rerun does not apply" in n for n in manual.notes)


def test_dns_boot_nic_first_deduplicated_and_at_most_three() -> None:
    d = parse_ip
    nics = (nic(0, primary_dns=d("10.0.0.53"), secondary_dns=d("10.0.0.54")),
            nic(1, "10.98.0.2", gw="10.98.0.1", mac=MAC1, primary_dns=d("10.0.0.53"), secondary_dns=d("10.9.9.9")),)
    targets = (target("10.98.0.9", 1, 1, flags=NOT_BOOT), target("10.99.0.9", 0, 0))
    plan = plan_network(cfg(nics, targets), links=LINKS)
    (dns,) = [s for s in plan.steps if isinstance(s, SetDns)]
    assert [str(s) for s in dns.servers] == ["10.0.0.53", "10.0.0.54", "10.9.9.9"]
    many = nics[:1] + (dataclasses.replace(nics[1], primary_dns=d("10.7.7.7"), secondary_dns=d("10.8.8.8")),)
    plan = plan_network(cfg(many, targets), links=LINKS)
    assert any("resolv.conf uses the first 3" in n for n in plan.notes)


def test_no_dns_when_all_null() -> None:
    plan = plan_network(cfg((nic(primary_dns=parse_ip("0.0.0.0")),), (target("10.99.0.1"),)), links=LINKS)
    assert not [s for s in plan.steps if isinstance(s, SetDns)]


def test_hostname_only_when_given_and_allowed() -> None:
    c = cfg((nic(hostname="client"),), (target("10.99.0.1"),))
    assert plan_network(c, links=LINKS).steps[-1] == SetHostname("client")
    off = plan_network(c, links=LINKS, set_hostname=False)
    assert not [s for s in off.steps if isinstance(s, SetHostname)]
    assert any("--no-hostname" in n for n in off.notes)
    bad = plan_network(cfg((nic(hostname="bad name!"),), (target("10.99.0.1"),)), links=LINKS)
    assert not [s for s in bad.steps if isinstance(s, SetHostname)]
    none = plan_network(cfg((nic(),), (target("10.99.0.1"),)), links=LINKS)
    assert not [s for s in none.steps if isinstance(s, SetHostname)]


def test_target_naming_a_missing_nic() -> None:
    with pytest.raises(NetError, match=r"target\[0\] names NIC index 3, which unit does not have"):
        plan_network(cfg((nic(),), (target("10.99.0.1", nic_index=3),)), links=LINKS)


def test_target_on_an_invalid_nic() -> None:
    with pytest.raises(NetError, match="not marked valid"):
        plan_network(cfg((nic(flags=NicFlags(0)),), (target("10.99.0.1"),)), links=LINKS)


def test_address_family_mismatch() -> None:
    with pytest.raises(NetError, match="is IPv6 but its NIC"):
        plan_network(cfg((nic(),), (target("2001:db8::1"),)), links=LINKS)


def test_invalid_prefix() -> None:
    with pytest.raises(NetError, match=r"prefix length 33 is invalid for 10.99.0.2 \(expected 1..32\)"):
        plan_network(cfg((nic(prefix=33),), (target("10.99.0.1"),)), links=LINKS)


def test_invalid_targets_and_unused_nics_are_left_alone() -> None:
    nics = (nic(), nic(1, "10.98.0.2", gw="10.98.0.1", mac=MAC1))
    targets = (target("10.99.0.1"), target("10.98.0.1", 1, 1, flags=TargetFlags(0)))
    plan = plan_network(cfg(nics, targets), links=LINKS)
    assert plan.interfaces() == ["eth0"]
    assert any("target[1] is not marked valid" in n for n in plan.notes)
    assert any("NIC[1] is used by no valid target" in n for n in plan.notes)


def test_same_target_address_twice_is_routed_once() -> None:
    nics = (nic(0, mac=MAC0), nic(1, "10.98.0.2", gw="10.98.0.1", mac=MAC1))
    targets = (target("10.50.0.1", 0, 0), target("10.50.0.1", 1, 1, flags=NOT_BOOT))
    plan = plan_network(cfg(nics, targets), links=LINKS)
    assert len([r for r in routes(plan) if not r.is_default]) == 1
    assert any("needs policy routing" in n for n in plan.notes)


def test_two_nics_on_one_link_bring_it_up_once() -> None:
    nics = (nic(0, mac=MAC0), nic(1, "10.98.0.2", gw="10.98.0.1", mac=MAC0))
    targets = (target("10.99.0.1", 0, 0), target("10.98.0.1", 1, 1, flags=NOT_BOOT))
    plan = plan_network(cfg(nics, targets), links=LINKS)
    assert [s for s in plan.steps if isinstance(s, LinkUp)] == [LinkUp("eth0")]
    assert len([s for s in plan.steps if isinstance(s, AddAddress)]) == 2


def test_json_and_text_forms() -> None:
    plan = plan_network(cfg((nic(hostname="client", vlan=7),), (target("10.50.0.1"),)), links=LINKS)
    d = json.loads(json.dumps(plan.to_dict(), sort_keys=True))
    assert d["version"] == 1 and d["source"] == "unit"
    assert [s["step"] for s in d["steps"]] == ["link_up", "wait_carrier", "create_vlan", "link_up", "add_address",
                                               "add_route", "add_route", "set_hostname"]
    assert d["steps"][5]["dst"] == "0.0.0.0/0" and d["steps"][6]["dst"] == "10.50.0.1/32"
    assert all(s["describe"] for s in d["steps"])
    text = plan.render_text()
    assert len(plan.describe()) == len(plan.steps)
    assert "  1. set link eth0 up" in text and text.endswith("\n")


def test_sample_three_target_table(samples_dir) -> None:  # type: ignore[no-untyped-def]
    from ibftkit.sources.ibft.locate import load_config

    c = load_config(samples_dir / "lkml-3targets.bin")
    links = [LinkInfo("eth0", "52:54:00:12:34:00", 2), LinkInfo("eth1", "52:54:00:12:34:01", 3)]
    plan = plan_network(c, links=links)
    hosts = sorted(str(r.dst) for r in routes(plan) if not r.is_default)
    assert hosts == ["192.168.50.1/32", "192.168.51.1/32", "192.168.52.1/32"]  # every nic_assoc is 0: eth0
    assert {r.ifname for r in routes(plan)} == {"eth0"}


# --- properties ----------------------------------------------------------------------------------

octet = st.integers(1, 254)


@st.composite
def configs(draw: st.DrawFn) -> BootConfig:
    nics = []
    for i in range(draw(st.integers(1, 2))):
        net = draw(st.sampled_from(["10.1", "10.2", "10.3"]))
        nics.append(nic(i, f"{net}.0.{draw(octet)}", 24, f"{net}.0.1", mac=(MAC0, MAC1)[i]))
    targets = []
    for i in range(draw(st.integers(1, 4))):
        net = draw(st.sampled_from(["10.1", "10.2", "10.3", "10.4"]))
        flags = TargetFlags.VALID | (TargetFlags.BOOT_SELECTED if draw(st.booleans()) else 0)
        targets.append(target(f"{net}.0.{draw(octet)}", i, draw(st.integers(0, len(nics) - 1)), flags=flags))
    return cfg(tuple(nics), tuple(targets))


@settings(max_examples=200, deadline=None)
@given(configs())
def test_route_rules_hold_for_any_table(c: BootConfig) -> None:
    plan = plan_network(c, links=LINKS)
    rs = routes(plan)
    assert len([r for r in rs if r.is_default]) <= 1
    assert len({r.dst for r in rs}) == len(rs)  # nothing planned twice
    paths: dict[str, list[tuple[str, str]]] = {}  # target address -> (ifname, gateway) of the NICs naming it
    for t in c.targets:
        n = c.nic_for(t)
        assert n is not None and n.interface is not None
        gw = "None" if t.ip_address in n.interface.network else str(n.gateway)
        paths.setdefault(str(t.ip_address), []).append((find_link(n, LINKS).ifname, gw))
    hosts = [r for r in rs if not r.is_default]
    for r in hosts:
        assert r.dst.prefixlen == 32
        # out of the NIC of a target with that address: dev on-link, via that NIC's gateway off-link
        assert (r.ifname, str(r.gateway)) in paths[str(r.dst.network_address)]
        assert r.source is not None and r.source in {n.ip_address for n in c.nics}
    assert {str(r.dst.network_address) for r in hosts} == set(paths)  # every target is pinned
