"""``ibftkit.network.linkup``: which links ibftkit-init sets up before anything else (a fake sysfs tree)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibftkit.cli import init
from ibftkit.network import linkup as early
from ibftkit.network.linkup import firmware_links


def _link(root: Path, name: str, mac: str, uevent: str = "") -> None:
    d = root / "sys/class/net" / name
    d.mkdir(parents=True)
    (d / "address").write_text(mac + "\n")
    (d / "uevent").write_text(f"INTERFACE={name}\n{uevent}")


def test_the_kernels_ibft_macs_name_the_links(tmp_path: Path) -> None:
    fw, net = tmp_path / "fw", tmp_path / "net"
    for n, mac in (("ethernet0", "52:54:00:12:34:56"), ("ethernet1", "00:00:00:00:00:00")):
        (fw / "sys/firmware/ibft" / n).mkdir(parents=True)
        (fw / "sys/firmware/ibft" / n / "mac").write_text(mac + "\n")
    (fw / "sys/firmware/ibft/target0").mkdir()
    _link(net, "eth0", "52:54:00:12:34:56")
    _link(net, "eth0.299", "52:54:00:12:34:56", "DEVTYPE=vlan\n")  # borrows the MAC: never the firmware NIC
    _link(net, "eth1", "52:54:00:ab:cd:ef")
    _link(net, "lo", "00:00:00:00:00:00")
    assert firmware_links(str(fw), str(net)) == ("eth0",)


def test_no_ibft_view_no_links(tmp_path: Path) -> None:
    _link(tmp_path, "eth0", "52:54:00:12:34:56")
    assert firmware_links(str(tmp_path), str(tmp_path)) == ()
    (tmp_path / "sys/firmware/ibft").mkdir(parents=True)
    assert firmware_links(str(tmp_path), str(tmp_path)) == ()


@pytest.mark.parametrize("argv, early_root", [
    ([], "/"), (["--verbose", "--interface", "eth0"], "/"), (["--firmware-root", "/fw"], "/fw"),
    (["--firmware-root=/fw2"], "/fw2"), (["--dry-run"], None), (["--dry"], None), (["--ibft", "t.bin"], None),
    (["--root-path=iscsi:10.0.0.1::::iqn.2026-01.x:t"], None), (["--root"], None), (["-h"], None),
])
def test_ibftkit_init_sets_links_up_early_only_for_a_real_firmware_run(
        argv: list[str], early_root: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    monkeypatch.setattr(early, "firmware_links", lambda root: seen.append(root) or ("eth0",))
    monkeypatch.setattr(early, "raise_links", lambda names: tuple(names))
    assert init._early_links(argv) == (("eth0",) if early_root else ())
    assert seen == ([early_root] if early_root else [])
