"""One truth per fact: the model's rules (NIC is DHCP, usable targets, boot NIC, the path to a
target) and every render that reads them, with the field cases in ``fixtures/field/`` and other
instances of each kind."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from ibftkit.model import (
    BootConfig,
    Initiator,
    Nic,
    NicFlags,
    Origin,
    Target,
    TargetFlags,
    TargetPath,
    parse_ip,
    target_path,
)
from ibftkit.render import render
from ibftkit.sources.ibft.decode import decode_table
from ibftkit.sources.ibft.encode import encode_table

FIELD = Path(__file__).resolve().parents[2] / "fixtures" / "field"


def nic(index: int = 0, ip: str | None = "192.0.2.20", prefix: int = 24, *, origin: Origin = Origin.MANUAL,
        dhcp: str | None = None, gw: str | None = "192.0.2.1", mac: str = "52:54:00:12:34:00",
        flags: NicFlags = NicFlags.VALID | NicFlags.BOOT_SELECTED) -> Nic:
    return Nic(index=index, flags=flags, ip_address=parse_ip(ip), prefix_len=prefix, origin=origin,
               dhcp_server=parse_ip(dhcp), gateway=parse_ip(gw), mac=mac)


def target(index: int = 0, ip: str = "192.0.2.10", nic_index: int = 0,
           flags: TargetFlags = TargetFlags.VALID | TargetFlags.BOOT_SELECTED) -> Target:
    return Target(index=index, flags=flags, ip_address=parse_ip(ip), nic_index=nic_index,
                  name=f"iqn.2026-11.org.example:disk{index}")


def cfg(nics: tuple[Nic, ...], targets: tuple[Target, ...]) -> BootConfig:
    return BootConfig(initiator=Initiator(name="iqn.2026-11.org.example:initiator01"), nics=nics,
                      targets=targets, source="test")


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln and not ln.startswith("#")]


def dracut_args(c: BootConfig) -> list[str]:
    return " ".join(lines(render(c, "dracut"))).split()


# --- NIC is DHCP: origin 3 OR the DHCP-server field set ----------------------------------------


@pytest.mark.parametrize("origin, dhcp, expected", [
    (Origin.DHCP, "192.0.2.1", True),      # field case 03, origin3.bin
    (Origin.OTHER, "192.0.2.1", True),     # field case 03, origin0-dhcp.bin (gPXE/iPXE wrote 0)
    (Origin.MANUAL, "192.0.2.1", True),    # any origin with a DHCP server set
    (Origin.DHCP, None, True),             # iPXE since 2014: origin set, server not
    (Origin.MANUAL, None, False),
    (Origin.OTHER, "0.0.0.0", False),      # Broadcom's null DHCP server (fw_entry.c), hidden by the kernel
    (Origin.WELL_KNOWN, None, False),
])
def test_nic_is_dhcp_rule(origin: Origin, dhcp: str | None, expected: bool) -> None:
    assert nic(origin=origin, dhcp=dhcp).is_dhcp is expected


@pytest.mark.parametrize("name", ["origin3", "origin0-dhcp"])
def test_field_03_every_render_and_the_plan_say_dhcp(name: str) -> None:
    from ibftkit.network.links import LinkInfo
    from ibftkit.network.plan import RunDhcp, plan_network

    c = decode_table((FIELD / "03-dhcp-origin" / f"{name}.bin").read_bytes())
    assert c.nics[0].is_dhcp
    assert "iface.bootproto = DHCP" in render(c, "iscsistart")
    assert "ip=ibft0:dhcp" in dracut_args(c)
    assert not any(a.startswith("ip=192.") for a in dracut_args(c))
    ks = [ln for ln in lines(render(c, "kickstart")) if ln.startswith("network ")]
    assert ks == ["network --device=52:54:00:12:34:00 --bootproto=dhcp"]
    link = LinkInfo(ifname="eth0", ifindex=2, mac="52:54:00:12:34:00")
    plan = plan_network(c, links=[link], dhcp_rerun=True)
    firmware = ipaddress.ip_interface("192.0.2.20/24")
    assert [s for s in plan.steps if isinstance(s, RunDhcp)] == [RunDhcp("eth0", 0, firmware)]
    plan = plan_network(c, links=[link])
    assert any("came from DHCP" in d for d in plan.describe())


@pytest.mark.parametrize("dhcp, origin", [("192.0.2.1", Origin.OTHER), (None, Origin.DHCP),
                                          ("198.51.100.1", Origin.UNCHANGED)])
def test_dhcp_rule_other_instances_all_renders_agree(dhcp: str | None, origin: Origin) -> None:
    c = cfg((nic(origin=origin, dhcp=dhcp, ip="198.51.100.7"),), (target(ip="198.51.100.10"),))
    assert "iface.bootproto = DHCP" in render(c, "iscsistart")
    assert "ip=ibft0:dhcp" in dracut_args(c)
    assert "--bootproto=dhcp" in render(c, "kickstart")


def test_static_nic_stays_static_everywhere() -> None:
    c = cfg((nic(),), (target(),))
    assert "iface.bootproto = STATIC" in render(c, "iscsistart")
    assert "ip=192.0.2.20::192.0.2.1:255.255.255.0::ibft0:none" in dracut_args(c)
    assert "--bootproto=static" in render(c, "kickstart")


# --- usable targets and the boot NIC -----------------------------------------------------------


def test_usable_targets_need_the_valid_bit_and_an_address() -> None:
    a = target(0, flags=TargetFlags.BOOT_SELECTED)  # boot-selected but not valid
    b = target(1, ip="192.0.2.11")
    c = cfg((nic(),), (a, b))
    assert c.usable_targets() == [b] and c.login_order() == [b] and c.boot_target() == b
    assert "192.0.2.10" not in render(c, "dracut") and "192.0.2.10" not in render(c, "kickstart")


def test_boot_nic_is_the_boot_targets_nic() -> None:
    n0, n1 = nic(0), nic(1, ip="192.0.2.21", mac="52:54:00:12:34:01")
    c = cfg((n0, n1), (target(0, nic_index=1, flags=TargetFlags.VALID), target(1, nic_index=0)))
    assert c.boot_target() is not None and c.boot_target().index == 1  # type: ignore[union-attr]
    assert c.boot_nic() == n0 and c.used_nics() == [n0, n1]
    ks = render(c, "kickstart")
    assert "--ip=192.0.2.20 --netmask=255.255.255.0 --gateway=192.0.2.1" in ks
    assert "--ip=192.0.2.21 --netmask=255.255.255.0\n" in ks


# --- one interface named by several NIC structures (same MAC) -----------------------------------


def test_same_mac_nics_give_one_ifname_ip_and_network_line() -> None:
    nics = tuple(nic(i, mac="52:54:00:12:34:00") for i in range(3))
    targets = tuple(target(i, ip=f"192.0.2.1{i}", nic_index=i,
                           flags=TargetFlags.VALID | (TargetFlags.BOOT_SELECTED if i == 0 else 0))
                    for i in range(3))
    c = cfg(nics, targets)
    args = dracut_args(c)
    assert [a for a in args if a.startswith("ifname=")] == ["ifname=ibft0:52:54:00:12:34:00"]
    assert [a for a in args if a.startswith("ip=")] == ["ip=192.0.2.20::192.0.2.1:255.255.255.0::ibft0:none"]
    assert [a for a in args if a.startswith("rd.route=")] == [
        "rd.route=192.0.2.10/32::ibft0", "rd.route=192.0.2.11/32::ibft0", "rd.route=192.0.2.12/32::ibft0"]
    text = render(c, "kickstart")
    assert len([ln for ln in lines(text) if ln.startswith("network ")]) == 1
    assert len([ln for ln in lines(text) if ln.startswith("iscsi ")]) == 3
    notes = [ln for ln in render(c, "dracut").splitlines() if ln.startswith("# NIC[")]
    assert len(notes) == 2 and "configured once, as NIC[0]" in notes[0]
    for note in notes:
        assert "iPXE" not in note and "EDK2" not in note  # neutral: the decoder names the producers


def test_same_mac_nics_from_an_encoded_table_keep_decoder_warning_neutral() -> None:
    nics = tuple(nic(i) for i in range(2))
    c = cfg(nics, (target(0, nic_index=0), target(1, "192.0.2.11", 1, TargetFlags.VALID)))
    decoded = decode_table(encode_table(c, layout="edk2"))
    warning = next(w for w in decoded.warnings if "repeats" in w)
    assert "one NIC structure per target or per attempt" in warning


def test_same_mac_different_vlans_are_two_interfaces() -> None:
    a = nic(0)
    b = Nic(index=1, flags=NicFlags.VALID, ip_address=parse_ip("198.51.100.5"), prefix_len=24,
            mac="52:54:00:12:34:00", vlan=7)
    c = cfg((a, b), (target(0), target(1, "198.51.100.10", 1, TargetFlags.VALID)))
    args = dracut_args(c)
    assert "vlan=ibft1.7:ibft1" in args and len([a for a in args if a.startswith("ip=")]) == 2


# --- the path to a target: one rule for the plan and rd.route= -----------------------------------


@pytest.mark.parametrize("addr, prefix, gw, tip, expected", [
    ("192.0.2.20", 24, "192.0.2.1", "192.0.2.10", ("192.0.2.10/32", None, False)),          # on-link
    ("192.0.2.20", 24, "192.0.2.1", "198.51.100.10", ("198.51.100.10/32", "192.0.2.1", False)),  # off-link
    ("192.0.2.20", 31, "192.0.2.21", "192.0.2.21", ("192.0.2.21/32", None, False)),         # RFC 3021 peer
    ("192.0.2.20", 31, "192.0.2.21", "198.51.100.10", ("198.51.100.10/32", "192.0.2.21", False)),
    ("192.0.2.20", 32, "192.0.2.1", "198.51.100.10", ("198.51.100.10/32", "192.0.2.1", True)),  # /32 lease
    ("192.0.2.20", 32, "192.0.2.1", "192.0.2.10", ("192.0.2.10/32", "192.0.2.1", True)),
    ("2001:db8::20", 128, "fe80::1", "2001:db8:1::10", ("2001:db8:1::10/128", "fe80::1", False)),
    ("2001:db8::20", 128, "2001:db8::1", "2001:db8:1::10", ("2001:db8:1::10/128", "2001:db8::1", True)),
    ("2001:db8::20", 64, "2001:db8::1", "2001:db8::10", ("2001:db8::10/128", None, False)),
    ("fe80::5054:ff:fe12:3400", 64, None, "fe80::5054:ff:fe12:3401",
     ("fe80::5054:ff:fe12:3401/128", None, False)),                                          # link-local
    ("2001:db8::20", 64, None, "fe80::1", ("fe80::1/128", None, False)),                    # LL portal, global NIC
])
def test_target_path_layouts(addr: str, prefix: int, gw: str | None, tip: str,
                             expected: tuple[str, str | None, bool]) -> None:
    p = target_path(nic(ip=addr, prefix=prefix, gw=gw), target(ip=tip))
    assert isinstance(p, TargetPath)
    assert (str(p.dst), None if p.gateway is None else str(p.gateway), p.gateway_onlink) == expected
    assert str(p.source) == addr


def test_target_path_refusals_name_the_reason() -> None:
    assert "has no gateway" in str(target_path(nic(gw=None), target(ip="198.51.100.10")))
    assert "is IPv6" in str(target_path(nic(), target(ip="2001:db8::10")))
    assert "no usable address" in str(target_path(nic(ip=None), target()))


def test_field_06_dracut_routes_each_target_through_its_own_nic() -> None:
    c = decode_table((FIELD / "06-same-subnet" / "same-subnet.bin").read_bytes())
    args = dracut_args(c)
    assert "rd.route=192.0.2.10/32::ibft0" in args and "rd.route=192.0.2.11/32::ibft1" in args


def test_dracut_gateway_outside_prefix_is_reached_on_link_first() -> None:
    c = cfg((nic(prefix=32),), (target(ip="198.51.100.10"),))
    routes = [a for a in dracut_args(c) if a.startswith("rd.route=")]
    assert routes == ["rd.route=192.0.2.1/32::ibft0", "rd.route=198.51.100.10/32:192.0.2.1:ibft0"]


# --- IPv6 past the static global address ---------------------------------------------------------


def v6nic(origin: Origin, ip: str | None = "2001:db8::20", dhcp: str | None = None) -> Nic:
    return nic(ip=ip, prefix=64, origin=origin, dhcp=dhcp, gw="2001:db8::1")


@pytest.mark.parametrize("n", [v6nic(Origin.DHCP), v6nic(Origin.OTHER, dhcp="2001:db8::2"),
                               v6nic(Origin.DHCP, ip=None)])
def test_ipv6_dhcp_nic_is_never_ipv4_dhcp(n: Nic) -> None:
    c = cfg((n,), (target(ip="2001:db8::10"),))
    assert "ip=ibft0:dhcp6" in dracut_args(c) and "ip=ibft0:dhcp" not in dracut_args(c)
    net = next(ln for ln in lines(render(c, "kickstart")) if ln.startswith("network "))
    assert net == "network --device=52:54:00:12:34:00 --noipv4 --ipv6=dhcp"


def test_ipv6_router_advertisement_nic_is_auto6() -> None:
    c = cfg((v6nic(Origin.ROUTER_ADVERTISEMENT),), (target(ip="2001:db8::10"),))
    assert "ip=ibft0:auto6" in dracut_args(c)
    assert "--noipv4 --ipv6=auto" in render(c, "kickstart")


def test_ipv6_forms_parse_with_pykickstart() -> None:
    parser = pytest.importorskip("pykickstart.parser")
    version = pytest.importorskip("pykickstart.version")
    for n in (v6nic(Origin.DHCP), v6nic(Origin.ROUTER_ADVERTISEMENT), v6nic(Origin.MANUAL)):
        ks = parser.KickstartParser(version.makeVersion())
        ks.readKickstartFromString(render(cfg((n,), (target(ip="2001:db8::10"),)), "kickstart"))
        (net,) = ks.handler.network.network
        assert net.noipv4 and net.ipv6 in ("dhcp", "auto", "2001:db8::20/64")


def test_field_12_link_local_portal_renders_say_the_zone() -> None:
    c = decode_table((FIELD / "12-link-local" / "link-local.bin").read_bytes())
    for fmt in ("dracut", "kickstart"):
        assert "fe80::5054:ff:fe12:3401%" in render(c, fmt)


# --- the plan: every path through the NIC the firmware named ----------------------------------------


def test_field_06_plan_routes_each_target_through_its_own_nic_with_arp_settings() -> None:
    from ibftkit.network.links import LinkInfo
    from ibftkit.network.plan import AddRoute, SetSysctl, plan_network

    c = decode_table((FIELD / "06-same-subnet" / "same-subnet.bin").read_bytes())
    links = [LinkInfo("pxe0", "52:54:00:12:34:99", 2), LinkInfo("eth0", "52:54:00:12:34:00", 3),
             LinkInfo("eth1", "52:54:00:12:34:01", 4)]
    plan = plan_network(c, links=links)
    text = plan.describe()
    assert any(d.startswith("add route 192.0.2.10/32 dev eth0 src 192.0.2.20") for d in text)
    assert any(d.startswith("add route 192.0.2.11/32 dev eth1 src 192.0.2.21") for d in text)
    hosts = [s for s in plan.steps if isinstance(s, AddRoute) and not s.is_default]
    assert all(r.gateway is None for r in hosts) and "pxe0" not in plan.interfaces()
    sysctls = {(s.ifname, s.key, s.value) for s in plan.steps if isinstance(s, SetSysctl)}
    assert sysctls == {("eth0", "arp_ignore", 1), ("eth0", "arp_announce", 2),
                       ("eth1", "arp_ignore", 1), ("eth1", "arp_announce", 2)}


def test_nics_on_different_subnets_get_no_arp_settings() -> None:
    from ibftkit.network.links import LinkInfo
    from ibftkit.network.plan import SetSysctl, plan_network

    c = cfg((nic(0), nic(1, ip="198.51.100.21", gw="198.51.100.1", mac="52:54:00:12:34:01")),
            (target(0), target(1, "198.51.100.10", 1, TargetFlags.VALID)))
    links = [LinkInfo("eth0", "52:54:00:12:34:00", 3), LinkInfo("eth1", "52:54:00:12:34:01", 4)]
    assert not [s for s in plan_network(c, links=links).steps if isinstance(s, SetSysctl)]


def test_claimed_identical_renders_show_the_stored_origin_byte() -> None:
    """Origin 15 (iPXE's "unchanged") is read as 16 by the model; the kernel shows 15."""
    n = Nic(index=0, ip_address=parse_ip("192.0.2.20"), prefix_len=24, origin=Origin.UNCHANGED, mac="52:54:00:12:34:00")
    raw = bytearray(encode_table(cfg((n,), (target(),)), layout="ipxe"))
    decoded = decode_table(bytes(raw))
    assert decoded.nics[0].origin == Origin.UNCHANGED
    # write 15 at the NIC's origin byte and fix the checksum
    nic_at = next(i for i in range(48, len(raw) - 2) if raw[i] == 3 and raw[i + 2:i + 4] == (102).to_bytes(2, "little"))
    raw[nic_at + 23] = 15
    raw[9] = (raw[9] - sum(raw)) & 0xFF
    decoded = decode_table(bytes(raw))
    assert decoded.nics[0].origin == Origin.UNCHANGED and decoded.nics[0].stored_origin == 15
    assert "ethernet0/origin=15" in render(decoded, "sysfs")
    assert encode_table(decoded, layout="ipxe") == bytes(raw)


@pytest.mark.parametrize("n", [v6nic(Origin.DHCP), v6nic(Origin.OTHER, dhcp="2001:db8::2"),
                               v6nic(Origin.DHCP, ip=None, dhcp="2001:db8::2")])
def test_dhcp_rerun_of_an_ipv6_dhcp_nic_asks_dhcpv6(n: Nic) -> None:
    from ibftkit.network.links import LinkInfo
    from ibftkit.network.plan import RunDhcp, plan_network

    c = cfg((n,), (target(ip="2001:db8::10"),))
    (step,) = [s for s in plan_network(c, links=[LinkInfo("eth0", "52:54:00:12:34:00", 2)], dhcp_rerun=True).steps
               if isinstance(s, RunDhcp)]
    assert step.family == 6 and "DHCPv6" in step.describe()
