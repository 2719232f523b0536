"""Link enumeration from a fake /sys tree, and the ``plan`` CLI on top of it (no sockets, no root)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ibftkit.cli.main import main
from ibftkit.model import PciAddress
from ibftkit.network import links as links_mod
from ibftkit.network.links import LinkInfo, by_mac, list_links


def make_link(root: Path, name: str, *, mac: str | None, ifindex: int, carrier: str | None = "1",
              operstate: str = "up", device: str | None = None, devtype: str | None = None) -> None:
    """One /sys/class/net/<name> directory, as the kernel lays it out (device symlinked into /sys/devices)."""
    d = root / "sys/devices/virtual/net" / name if device is None else root / device / "net" / name
    d.mkdir(parents=True)
    if mac is not None:
        (d / "address").write_text(mac + "\n")
    (d / "ifindex").write_text(f"{ifindex}\n")
    if carrier is not None:
        (d / "carrier").write_text(carrier + "\n")
    (d / "operstate").write_text(operstate + "\n")
    (d / "uevent").write_text(f"INTERFACE={name}\nIFINDEX={ifindex}\n" + (f"DEVTYPE={devtype}\n" if devtype else ""))
    if device is not None:
        os.symlink(os.path.relpath(root / device, d), d / "device")
    cls = root / "sys/class/net"
    cls.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(d, cls), cls / name)


@pytest.fixture
def sysroot(tmp_path: Path) -> Path:
    make_link(tmp_path, "lo", mac="00:00:00:00:00:00", ifindex=1, operstate="unknown")
    # e1000 straight on PCI, and virtio-net whose device is virtio0 under its PCI function
    make_link(tmp_path, "eth0", mac="52:54:00:12:34:00", ifindex=2, device="sys/devices/pci0000:00/0000:00:03.0")
    make_link(tmp_path, "eth1", mac="52:54:00:12:34:01", ifindex=3, carrier=None, operstate="down",
              device="sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.1/virtio0")
    make_link(tmp_path, "eth0.42", mac="52:54:00:12:34:00", ifindex=4, devtype="vlan")
    make_link(tmp_path, "veth9", mac="02:AA:BB:CC:DD:EE", ifindex=5, carrier="0", operstate="lowerlayerdown")
    (tmp_path / "sys/class/net/bonding_masters").write_text("\n")
    return tmp_path


def test_list_links(sysroot: Path) -> None:
    got = list_links(sysroot)
    assert [x.ifname for x in got] == ["lo", "eth0", "eth1", "eth0.42", "veth9"]
    lo, eth0, eth1, vlan, veth = got
    assert lo.mac is None
    assert eth0 == LinkInfo("eth0", "52:54:00:12:34:00", 2, True, "up", PciAddress(0, 3, 0), has_device=True)
    assert eth1.pci_bdf == PciAddress(2, 0, 1) and eth1.carrier is None and eth1.operstate == "down"
    assert vlan.devtype == "vlan" and vlan.stacked and vlan.pci_bdf is None
    assert veth.mac == "02:aa:bb:cc:dd:ee" and veth.carrier is False and not veth.stacked


def test_by_mac_skips_stacked_links(sysroot: Path) -> None:
    assert [x.ifname for x in by_mac(list_links(sysroot), "52-54-00-12-34-00")] == ["eth0"]


def test_missing_tree_is_empty(tmp_path: Path) -> None:
    assert list_links(tmp_path) == []


def test_to_dict() -> None:
    d = LinkInfo("eth0", "52:54:00:12:34:00", 2, True, "up", PciAddress(0, 3, 0)).to_dict()
    assert d["pci_bdf"] == "00:03.0" and d["carrier"] is True


# --- the plan CLI over fake links ----------------------------------------------------------------


@pytest.fixture
def fake_links(monkeypatch: pytest.MonkeyPatch, sysroot: Path) -> None:
    monkeypatch.setattr(links_mod, "list_links", lambda root="/": list_links(sysroot))


def test_plan_cli_text(fake_links: None, samples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--ibft", str(samples_dir / "dracut-test30.bin")]) == 0
    out = capsys.readouterr().out
    assert "  1. set link eth0 up\n" in out
    assert "add address 192.168.50.101/24 to eth0 (NIC[0]; address came from DHCP in firmware" in out
    assert "set hostname client" in out


def test_plan_cli_json_and_no_hostname(fake_links: None, samples_dir: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--ibft", str(samples_dir / "dracut-test30.bin"), "--json", "--no-hostname",
                 "--dhcp-rerun"]) == 0
    d = json.loads(capsys.readouterr().out)
    kinds = [s["step"] for s in d["steps"]]
    assert "set_hostname" not in kinds and "run_dhcp" in kinds and "add_address" not in kinds


def test_plan_cli_no_matching_nic(fake_links: None, samples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--ibft", str(samples_dir / "ipxe-bios-dhcp.bin")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ibftkit: NIC[0]: no link has MAC 52:54:00:12:34:56") and err.count("\n") == 1


def test_plan_cli_root_path(fake_links: None, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", "--root-path", "iscsi:10.77.0.7::3260:1:iqn.2026-01.test:disk", "--interface", "eth1",
            "--address", "10.98.0.2/24", "--gateway", "10.98.0.1", "--dns", "10.98.0.53", "--hostname", "boot1"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1:] == [
        "  1. set link eth1 up",
        "  2. wait for carrier on eth1",
        "  3. add address 10.98.0.2/24 to eth1 (NIC[0])",
        "  4. add route default via 10.98.0.1 dev eth1 (boot NIC[0])",
        "  5. add route 10.77.0.7/32 via 10.98.0.1 dev eth1 src 10.98.0.2 (target[0] is off NIC[0]'s subnet)",
        "  6. write resolv.conf with nameserver 10.98.0.53",
        "  7. set hostname boot1",
    ]
    assert "warning: no initiator name" in err


@pytest.mark.parametrize("argv, message", [
    (["plan", "--address", "10.0.0.2/24"], "--address: only valid with --root-path"),
    (["plan", "--root-path", "iscsi:10.0.0.1::::iqn.2026-01.test:t"], "needs --interface"),
    (["plan", "--root-path", "iscsi:10.0.0.1::::iqn.2026-01.test:t", "--ibft", "x", "--interface", "eth0"],
     "either --ibft or --root-path"),
    (["plan", "--root-path", "iscsi:10.0.0.1::::iqn.2026-01.test:t", "--interface", "eth0", "--address", "10.0.0.2"],
     "give the prefix length too"),
    (["net"], "give a verb"),
    (["net", "apply", "--carrier-timeout", "-1"], "--carrier-timeout: '-1': expected a number of seconds >= 0"),
])
def test_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_which_links_are_nics(tmp_path: Path) -> None:
    """A device behind it, or a device-less Ethernet link that does ARP (a veth end); never ifb/dummy
    (IFF_NOARP), loopback or stacked links."""
    from ibftkit.network.links import is_nic

    make_link(tmp_path, "lo", mac="00:00:00:00:00:00", ifindex=1, operstate="unknown")
    make_link(tmp_path, "eth0", mac="52:54:00:12:34:00", ifindex=2, device="sys/devices/pci0000:00/0000:00:03.0")
    make_link(tmp_path, "ifb0", mac="e2:db:aa:3d:f4:ff", ifindex=3)
    make_link(tmp_path, "c0", mac="02:aa:bb:cc:dd:ee", ifindex=4)
    make_link(tmp_path, "eth0.7", mac="52:54:00:12:34:00", ifindex=5, devtype="vlan")
    (tmp_path / "sys/devices/virtual/net/ifb0/flags").write_text("0x1082\n")  # BROADCAST|NOARP|…
    (tmp_path / "sys/devices/virtual/net/c0/flags").write_text("0x1003\n")
    assert [x.ifname for x in list_links(tmp_path) if is_nic(x)] == ["eth0", "c0"]
