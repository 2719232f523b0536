"""ibftkit-init boots a real VM from the kernel command line alone: no iBFT, no DHCP.

Both cases pass only when ibftkit-init, run with no options, exits 0 and the target's marker is read
from the disk (``pyguest.check_e2e``); tgtd admits only the initiator name the command line gives.
The guest kernel has the ``8021q`` and ``bonding`` modules (this host's kernel has neither, so the
namespace tier proves MTU, rename and bridge, and these boots prove VLAN and bond). See
``tools/vm/vmharness/cmdlinenet.py`` and docs/vm-e2e.md "From the kernel command line alone".

- **VLAN**: ``ifname=bootnet:<MAC>`` renames the e1000, ``vlan=bootnet.299:bootnet`` stacks VLAN
  299 on it, and a static ``ip=`` with MTU 1400 goes on the VLAN link. The userspace switch passes
  only frames tagged 299, and reports the largest frame each way: at most 1400 + 14 bytes, so the
  MTU the command line asked for is the one on the wire (the tap's own MTU is 1500).
- **Bond**: ``bond=bond0:eth0,eth1:mode=active-backup`` over two e1000s on one QEMU hub with the
  target's tap, a static ``ip=`` on ``bond0``. The bonding driver's own report must show
  active-backup, MII monitoring and both slaves.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from vmharness import capture, cmdlinenet, pyguest
from vmharness.cmdlinenet import GUEST, MTU, VID

pytestmark = pytest.mark.vm

ETHERNET_HEADER = 14  # destination, source, EtherType (the switch counts frames without the 802.1Q tag)


@pytest.fixture(scope="module")
def cmdline_initrd(capture_ready, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The e2e image plus 8021q and bonding (one image for both cases)."""
    path = tmp_path_factory.mktemp("e2e-cmdline") / "initrd.gz"
    pyguest.build_initrd(capture_ready, path, modules=cmdlinenet.MODULES)
    return path


def test_vlan_from_the_command_line_alone(capture_ready, cmdline_initrd: Path, tmp_path: Path) -> None:
    case = cmdlinenet.CASES["cmdline-vlan"]
    r, counters = cmdlinenet.run_e2e(capture_ready, case, initrd=cmdline_initrd, keep_log=tmp_path / "serial.log")
    assert capture.leftovers() == []
    assert r.rc == 0 and len(r.disks) == 1  # run_e2e raised unless the marker was read
    links = cmdlinenet.guest_links(r.net)
    vlan = links[f"bootnet.{VID}"]
    assert "eth0" not in links and links["bootnet"].addresses == (), r.net  # renamed; the address on the VLAN
    assert vlan.addresses == (f"{GUEST}/24",) and vlan.mtu == MTU, r.net
    assert counters is not None
    assert counters.tagged_forwarded > 0 and counters.other_vid_dropped == 0, counters
    # The disk's data came in full-size frames, each within the MTU: the guest's MSS followed it.
    assert MTU // 2 < counters.largest_to_guest <= MTU + ETHERNET_HEADER, counters
    assert counters.largest_from_guest <= MTU + ETHERNET_HEADER, counters


def test_active_backup_bond_of_two_nics(capture_ready, cmdline_initrd: Path, tmp_path: Path) -> None:
    case = cmdlinenet.CASES["cmdline-bond"]
    r, _ = cmdlinenet.run_e2e(capture_ready, case, initrd=cmdline_initrd, keep_log=tmp_path / "serial.log")
    assert capture.leftovers() == []
    assert r.rc == 0 and len(r.disks) == 1
    links = cmdlinenet.guest_links(r.net)
    assert links["bond0"].addresses == (f"{GUEST}/24",), r.net
    assert links["eth0"].master == "bond0" and links["eth1"].master == "bond0", r.net
    assert links["eth0"].addresses == () and links["eth1"].addresses == (), r.net
    # /proc/net/bonding/bond0, as the bonding driver reports it
    assert "Bonding Mode: fault-tolerance (active-backup)" in r.net, r.net
    assert "MII Polling Interval (ms): 100" in r.net, r.net
    assert "Slave Interface: eth0" in r.net and "Slave Interface: eth1" in r.net, r.net
