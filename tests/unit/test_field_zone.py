"""IPv6 past the static global address: a link-local portal is logged in to with its zone (the link
the plan routes it through, ``fe80::…%eth0``, RFC 4007 §11) or refused in one line (field case 12)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from ibftkit.cli.init import main
from ibftkit.infra.errors import IscsiLoginError
from ibftkit.login.argv import iscsistart_argv, node_record, with_zones
from ibftkit.model import BootConfig, Initiator, Nic, Target, parse_ip
from ibftkit.network.links import LinkInfo
from ibftkit.network.plan import plan_network
from ibftkit.sources.ibft.decode import decode_table

FIELD = Path(__file__).resolve().parents[2] / "fixtures" / "field"
CASE = FIELD / "12-link-local" / "link-local.bin"
MAC = "52:54:00:12:34:00"


def cfg(nic_ip: str, prefix: int, target_ip: str, vlan: int = 0) -> BootConfig:
    return BootConfig(initiator=Initiator(name="iqn.2026-11.org.example:initiator01"),
                      nics=(Nic(index=0, ip_address=parse_ip(nic_ip), prefix_len=prefix, mac=MAC, vlan=vlan),),
                      targets=(Target(index=0, ip_address=parse_ip(target_ip), name="iqn.2026-11.org.example:d"),))


def argv_a(c: BootConfig, links: list[LinkInfo]) -> str:
    zoned = with_zones(c, plan_network(c, links=links).steps)
    argv = iscsistart_argv(zoned, zoned.targets[0])
    return argv[argv.index("-a") + 1]


@pytest.mark.parametrize("nic_ip, prefix, target_ip, vlan, ifname, expected", [
    ("fe80::5054:ff:fe12:3400", 64, "fe80::5054:ff:fe12:3401", 0, "eth0", "fe80::5054:ff:fe12:3401%eth0"),
    ("fe80::5054:ff:fe12:3400", 64, "fe80::5054:ff:fe12:3401", 0, "enp1s0", "fe80::5054:ff:fe12:3401%enp1s0"),
    ("2001:db8::20", 64, "fe80::1", 0, "eth0", "fe80::1%eth0"),                 # global NIC, link-local portal
    ("fe80::5054:ff:fe12:3400", 64, "fe80::5054:ff:fe12:3401", 12, "eth0", "fe80::5054:ff:fe12:3401%eth0.12"),
    ("2001:db8::20", 64, "2001:db8::10", 0, "eth0", "2001:db8::10"),           # global: no zone
    ("192.0.2.20", 24, "169.254.1.1", 0, "eth0", "169.254.1.1"),               # IPv4 link-local: no zone
])
def test_link_local_portal_gets_the_zone_of_its_nics_link(nic_ip: str, prefix: int, target_ip: str, vlan: int,
                                                          ifname: str, expected: str) -> None:
    assert argv_a(cfg(nic_ip, prefix, target_ip, vlan), [LinkInfo(ifname, MAC, 2)]) == expected


def test_field_12_table_gives_the_zone() -> None:
    c = decode_table(CASE.read_bytes())
    assert argv_a(c, [LinkInfo("eth0", MAC, 2)]) == "fe80::5054:ff:fe12:3401%eth0"
    zoned = with_zones(c, plan_network(c, links=[LinkInfo("eth0", MAC, 2)]).steps)
    assert "node.conn[0].address = fe80::5054:ff:fe12:3401%eth0" in node_record(zoned, zoned.targets[0])


def test_link_local_portal_without_a_zone_is_refused_in_one_line() -> None:
    c = decode_table(CASE.read_bytes())
    with pytest.raises(IscsiLoginError) as e:
        iscsistart_argv(c, c.targets[0])
    assert "\n" not in str(e.value) and "needs its zone" in str(e.value) and "RFC 4007" in str(e.value)


def test_ibftkit_init_dry_run_prints_the_zoned_portal(tmp_path: Path) -> None:
    links = tmp_path / "links.json"  # `ip -j -d link show` of the machine: eth0 with the NIC's MAC
    lo = {"ifindex": 1, "ifname": "lo", "address": "00:00:00:00:00:00", "link_type": "loopback"}
    links.write_text(json.dumps([lo, {"ifindex": 2, "ifname": "eth0", "address": MAC, "link_type": "ether"}]))
    (tmp_path / "fw").mkdir()
    (tmp_path / "cmdline").write_text("quiet\n")
    (tmp_path / "kmsg").write_text("")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--firmware-root", str(tmp_path / "fw"), "--cmdline", str(tmp_path / "cmdline"),
                     "--kmsg", str(tmp_path / "kmsg"), "--initiatorname-file", str(tmp_path / "iname"),
                     "--dry-run", "--links", str(links), "--ibft", str(CASE), "--iscsistart", "/opt/iscsistart"])
    assert code == 0, err.getvalue()
    assert "-a fe80::5054:ff:fe12:3401%eth0 -p 3260" in out.getvalue()
