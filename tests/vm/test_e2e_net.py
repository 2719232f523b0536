"""ibftkit-init boots a real VM when the network is less simple: a target off the NIC's subnet, a VLAN.

Both pass only when ibftkit-init exits 0 and the target's marker is read from the disk (as in
``test_e2e.py``); see docs/vm-e2e.md "Off-subnet target and VLAN".

- **Off-subnet**: real iPXE (SeaBIOS) with a static 10.0.2.20/24 and gateway 10.0.2.2 ``sanhook``s a
  target at 192.168.77.1. QEMU's user network turns the guest's connection into a real connect() from
  the case's namespace, where that address is on ``lo`` with a tgtd portal. ibftkit-init must add the
  host route 192.168.77.1 via 10.0.2.2 dev eth0 (docs/net.md, rule 7).
- **VLAN**: a table from ibftkit's encoder (NIC on VLAN 299, static 10.99.0.20/24, target 10.99.0.1)
  placed in guest memory by QEMU's loader, the kernel booted directly; the e1000's frames go through
  ``vmharness/vlanswitch.py``, which passes only frames tagged with VID 299 to the tap where tgtd
  listens. ibftkit-init must create ``eth0.299`` and put the address on it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from vmharness import capture, pyguest, vlanswitch

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def net_initrd(capture_ready, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The e2e image plus 8021q (one image for both cases)."""
    path = tmp_path_factory.mktemp("e2e-net") / "initrd.gz"
    pyguest.build_initrd(capture_ready, path, modules=vlanswitch.VLAN_MODULES)
    return path


def _routes(net: str) -> list[str]:
    return [" ".join(line.split()) for line in net.splitlines() if " dev " in line and not line.startswith(" ")]


def _addresses(net: str) -> dict[str, list[str]]:
    """``ip addr`` (busybox) as link name -> its IPv4 addresses ("a.b.c.d/n")."""
    out: dict[str, list[str]] = {}
    link = None
    for line in net.splitlines():
        m = re.match(r"^\d+: ([^:@]+)(?:@\S+)?:", line)
        if m:
            link = m.group(1)
            out[link] = []
        elif link and line.strip().startswith("inet "):
            out[link].append(line.split()[1])
    return out


def test_off_subnet_target(capture_ready, net_initrd: Path, tmp_path: Path) -> None:
    case = capture.CASES["ipxe-bios-off-subnet"]
    assert case.targets[0].host == capture.OFF_SUBNET
    r = pyguest.run_e2e(capture_ready, case, initrd=net_initrd, keep_log=tmp_path / "serial.log")
    assert capture.leftovers() == []
    assert r.rc == 0 and len(r.disks) == 1  # run_e2e raised unless the marker was read
    assert f"at {capture.OFF_SUBNET}:3260" in r.output
    assert _addresses(r.net)["eth0"] == ["10.0.2.20/24"]
    routes = _routes(r.net)
    # the host route leaves with the NIC's own address as source (as iscsistart -N; docs/net.md)
    assert f"{capture.OFF_SUBNET} via {capture.HOST} dev eth0 src 10.0.2.20" in routes, r.net
    assert f"default via {capture.HOST} dev eth0" in routes, r.net


def test_vlan(capture_ready, net_initrd: Path, tmp_path: Path) -> None:
    r, counters = vlanswitch.run_vlan_e2e(capture_ready, initrd=net_initrd, keep_log=tmp_path / "serial.log")
    assert capture.leftovers() == []
    assert r.rc == 0 and len(r.disks) == 1  # the marker came through the switch
    vlan_link = f"eth0.{vlanswitch.VID}"
    addresses = _addresses(r.net)
    assert addresses.get(vlan_link) == [f"{vlanswitch.NET}.20/24"], r.net
    assert addresses["eth0"] == [], r.net  # the address is on the VLAN link only
    assert f"{vlanswitch.NET}.0/24 dev {vlan_link} scope link src {vlanswitch.NET}.20" in _routes(r.net), r.net
    # The switch forwarded tagged frames both ways and never saw another VID; whatever the guest sent
    # untagged (its IPv6 link-local chatter on eth0) was dropped, so the login used the VLAN.
    assert counters.tagged_forwarded > 0 and counters.to_guest > 0, counters
    assert counters.other_vid_dropped == 0 and counters.tap_write_errors == 0, counters
