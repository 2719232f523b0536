"""``ibftkit.infra.sysfs``: the one sysfs reader (injectable root), and the one carrier wait
(``ibftkit.network.linkup.wait_carrier``) with a fake carrier reader."""

from __future__ import annotations

from pathlib import Path

from ibftkit.infra.sysfs import Sysfs, devtype_of, read_attr
from ibftkit.network.linkup import wait_carrier


def link(root: Path, name: str, **attrs: str) -> None:
    d = root / "sys/class/net" / name
    d.mkdir(parents=True)
    for k, v in attrs.items():
        (d / k).write_text(v + "\n")


def test_links_attributes_carrier_and_stacked(tmp_path: Path) -> None:
    link(tmp_path, "eth0", address="52:54:00:12:34:56", carrier="1", uevent="INTERFACE=eth0")
    link(tmp_path, "eth0.5", address="52:54:00:12:34:56", uevent="INTERFACE=eth0.5\nDEVTYPE=vlan")
    link(tmp_path, "wlan0", carrier="0", uevent="DEVTYPE=wlan")
    (tmp_path / "sys/class/net/bonding_masters").write_text("\n")
    s = Sysfs(tmp_path)
    assert s.links() == ["eth0", "eth0.5", "wlan0"]
    assert s.link_attr("eth0", "address") == "52:54:00:12:34:56"
    assert (s.carrier("eth0"), s.carrier("wlan0"), s.carrier("eth0.5"), s.carrier("nope")) == (True, False, None, None)
    assert (s.stacked("eth0"), s.stacked("eth0.5"), s.stacked("wlan0")) == (False, True, False)
    assert Sysfs(tmp_path / "none").links() == [] and read_attr(tmp_path / "none") is None
    assert devtype_of("A=1\nDEVTYPE=bond\n") == "bond" and devtype_of(None) is None


def test_ibft_macs(tmp_path: Path) -> None:
    for n, mac in (("ethernet0", "52:54:00:AA:BB:CC"), ("ethernet1", "00:00:00:00:00:00")):
        d = tmp_path / "sys/firmware/ibft" / n
        d.mkdir(parents=True)
        (d / "mac").write_text(mac + "\n")
    (tmp_path / "sys/firmware/ibft/target0").mkdir()
    assert Sysfs(tmp_path).ibft_macs() == {"52:54:00:aa:bb:cc"}


def test_wait_carrier_all_up_grace_and_timeout() -> None:
    assert wait_carrier(["a", "b"], timeout=1.0, read=lambda n: True) == ["a", "b"]
    # only "a" ever gets carrier: with a grace the wait ends soon after, without it at the timeout
    assert wait_carrier(["a", "b"], timeout=5.0, read=lambda n: n == "a", grace=0.05, poll=0.01) == ["a"]
    lines: list[str] = []
    assert wait_carrier(["c0"], timeout=1.2, read=lambda n: None, progress=lines.append, poll=0.05) == []
    assert lines and lines[0].startswith("waiting for carrier on c0 (") and lines[0].endswith("of 1.2 s)")
