"""ibftkit.handoff: what ibftkit-init --handoff leaves in /run for the installed system."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from ibftkit.login import handoff
from ibftkit.login.handoff import NicState, NodeRecord

ip = ipaddress.ip_address
NIC = NicState("ens3", (ipaddress.ip_interface("10.0.2.15/24"),), ip("10.0.2.2"))
NIC2 = NicState("ens4", (ipaddress.ip_interface("10.0.3.15/24"),))
REC = NodeRecord("iqn.2026-11.org.example:disk", "10.0.2.2", 3260, 1,
                 "# BEGIN RECORD 2.1.8\nnode.startup = onboot\n# END RECORD\n")


def test_net_conf_is_klibc_ipconfig_format() -> None:
    text = handoff.net_conf(NIC, (ip("10.0.2.3"),), "rr-host")
    rows = dict(line.split("=", 1) for line in text.splitlines())
    assert rows["DEVICE"] == "'ens3'" and rows["PROTO"] == "'none'"
    assert rows["IPV4ADDR"] == "'10.0.2.15'" and rows["IPV4NETMASK"] == "'255.255.255.0'"
    assert rows["IPV4BROADCAST"] == "'10.0.2.255'" and rows["IPV4GATEWAY"] == "'10.0.2.2'"
    assert rows["IPV4DNS0"] == "'10.0.2.3'" and rows["IPV4DNS1"] == "''" and rows["HOSTNAME"] == "'rr-host'"


def test_networkd_file_keeps_the_configuration() -> None:
    text = handoff.networkd_file(NIC, (ip("10.0.2.3"),))
    for line in ("Name=ens3", "Address=10.0.2.15/24", "Gateway=10.0.2.2", "DNS=10.0.2.3", "DHCP=no",
                 "KeepConfiguration=yes", "IgnoreCarrierLoss=yes"):
        assert line in text.splitlines()


def test_files_and_write(tmp_path: Path) -> None:
    written = handoff.write(tmp_path, [REC], [NIC, NIC2], (ip("10.0.2.3"),), "rr-host")
    rel = {str(p.relative_to(tmp_path)) for p in written}
    assert "run/initramfs/ibftkit/nodes/iqn.2026-11.org.example:disk/10.0.2.2,3260,1/default" in rel
    rec = tmp_path / REC.path
    assert stat.S_IMODE(rec.stat().st_mode) == 0o600 and "node.startup = onboot" in rec.read_text()
    assert stat.S_IMODE(rec.parent.stat().st_mode) == 0o700
    unit = tmp_path / "run/systemd/system" / handoff.UNIT
    assert "ExecStart=/bin/cp -a /run/initramfs/ibftkit/nodes/. /etc/iscsi/nodes/" in unit.read_text()
    assert "Before=iscsid.service" in unit.read_text()
    wants = tmp_path / "run/systemd/system/sysinit.target.wants" / handoff.UNIT
    assert str(wants.readlink()) == f"../{handoff.UNIT}"
    for name in ("ens3", "ens4"):
        assert str((tmp_path / f"run/systemd/system/ifup@{name}.service").readlink()) == "/dev/null"
        assert (tmp_path / f"run/net-{name}.conf").exists()
        assert (tmp_path / f"run/systemd/network/10-ibftkit-{name}.network").exists()
    drop = (tmp_path / "run/systemd/system/networking.service.d/ibftkit.conf").read_text()
    assert 'Environment="EXCLUDE_INTERFACES=ens3 ens4"' in drop


def test_existing_net_conf_is_left_alone(tmp_path: Path) -> None:
    conf = tmp_path / "run/net-ens3.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("DEVICE='ens3'\nPROTO='dhcp'\n")
    handoff.write(tmp_path, [], [NIC], (), None)
    assert conf.read_text() == "DEVICE='ens3'\nPROTO='dhcp'\n"
    # Twice is the same as once (symlinks and records replaced, not stacked).
    handoff.write(tmp_path, [REC], [NIC], (), None)
    handoff.write(tmp_path, [REC], [NIC], (), None)


def test_no_sessions_no_unit(tmp_path: Path) -> None:
    assert not any(k.startswith("run/systemd/system/ibftkit") for k in handoff.files([], [NIC], (), None))


def _session(root: Path, n: int, target: str, addr: str, port: int, tpgt: int) -> None:
    s = root / f"sys/class/iscsi_session/session{n}"
    s.mkdir(parents=True)
    (s / "targetname").write_text(target + "\n")
    (s / "tpgt").write_text(f"{tpgt}\n")
    c = root / f"sys/class/iscsi_connection/connection{n}:0"
    c.mkdir(parents=True)
    (c / "persistent_address").write_text(addr + "\n")
    (c / "persistent_port").write_text(f"{port}\n")


def test_session_tpgt_from_sysfs(tmp_path: Path) -> None:
    _session(tmp_path, 1, "iqn.a", "10.0.2.2", 3260, 1)
    _session(tmp_path, 2, "iqn.a", "10.0.3.2", 3260, 7)
    assert handoff.session_tpgt("iqn.a", "10.0.3.2", 3260, sys_root=str(tmp_path)) == 7
    assert handoff.session_tpgt("iqn.a", "10.0.2.2", 3260, sys_root=str(tmp_path)) == 1
    assert handoff.session_tpgt("iqn.b", "10.0.2.2", 3260, sys_root=str(tmp_path)) is None
    assert handoff.session_tpgt("iqn.a", "10.0.2.2", 3260, sys_root=str(tmp_path / "none")) is None
