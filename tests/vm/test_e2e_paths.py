"""Two NICs on one subnet, one target per NIC: each session's traffic crosses its own NIC.

The layout is ``tools/vm/vmharness/pathsnet.py`` (docs/vm-e2e.md "Two NICs on one subnet"): a bridge in
a private namespace holding both portals (10.0.2.2 and 10.0.2.3, one /24) of one tgtd, two taps on
it, the guest's two e1000s one per tap, and an ibftkit-encoded table naming NIC0 10.0.2.15/24 for
target0 (10.0.2.2) and NIC1 10.0.2.16/24 for target1 (10.0.2.3). Each disk is 8 MiB and the guest
reads each whole, so each session carries at least 8 MiB toward the guest.

Two boots, the same layout:

1. ibftkit-init with ``--wait-for-all-paths`` (both sessions up before it returns);
2. the open-iscsi anchor: ``iscsistart -N`` then ``iscsistart -b``.

For both, the host's per-tap counters (``/sys/class/net/<tap>/statistics/{rx,tx}_bytes`` in the
namespace, after minus before) must show each tap carrying one disk's worth toward the guest, not
two and not none, and the guest's own view must agree: the TCP connection to each portal has its
NIC's address as the local address, and ``ip route get <portal>`` leaves through that NIC. Where the
two tools differ (ibftkit's host routes carry ``src`` and it sets ``arp_ignore=1``/``arp_announce=2``
on NICs sharing a subnet; ``iscsistart -N`` adds bare host routes and leaves ARP alone), the test
states what each does; and a duplicate-address probe (``arping -D``) for each NIC's address, sent out
of that NIC and flooded by the bridge to the other, shows whether the other NIC answers ARP for an
address it does not hold (ibftkit-init: no; ``iscsistart -N``, Linux's defaults: yes).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from vmharness import capture, pathsnet
from vmharness.pathsnet import DISK_MIB, GUESTS, MACS, PORTALS, TAPS

pytestmark = pytest.mark.vm

DISK = DISK_MIB << 20




def check_split(run: pathsnet.PathsRun) -> None:
    """Each tap carried exactly one session's disk toward the guest; the guest agrees on which."""
    figures = run.by_tap()
    print(f"per-tap bytes during the boot: {figures}")  # shown with -s (docs/vm-e2e.md quotes them)
    for tap in TAPS:
        # one whole disk plus protocol overhead; a tap carrying both sessions would show >= 2 disks
        assert DISK <= run.taps[tap].tx < DISK * 3 // 2, figures
        # the NIC on it sent that session's commands and ACKs: more than ARP and IPv6 chatter
        assert run.taps[tap].rx > 4096, figures
    # relative to each other: the two taps carried about the same, each one disk
    tx0, tx1 = (run.taps[tap].tx for tap in TAPS)
    assert 0.8 < tx0 / tx1 < 1.25, figures
    rep = run.report
    assert [line.split()[-1] for line in rep.streamed()] == ["0", "0"], rep.streamed()
    assert rep.nic_macs() == {"eth0": MACS[0], "eth1": MACS[1]}, rep.sections.get("nic")  # ethI is on tapI
    assert pathsnet.session_split(run) == {PORTALS[0]: GUESTS[0], PORTALS[1]: GUESTS[1]}, rep.sections.get("tcp")
    for i, portal in enumerate(PORTALS):
        assert f"dev eth{i} src {GUESTS[i]}" in rep.route_get(portal), rep.sections.get("route-get")
    # iscsi_tcp's host ipaddress is its connection's local address: one session per NIC address
    assert sorted(line.split()[-1] for line in rep.sections["host"]) == sorted(GUESTS), rep.sections["host"]


def _routes(run: pathsnet.PathsRun) -> list[str]:
    return [" ".join(line.split()) for line in run.report.sections["route"]]


def test_ibftkit_init_each_session_on_its_own_nic(capture_ready, e2e_initrd: Path, tmp_path: Path) -> None:
    run = pathsnet.run_init(capture_ready, initrd=e2e_initrd, keep_log=tmp_path / "serial.log")
    assert capture.leftovers() == []
    assert run.e2e is not None and run.e2e.rc == 0  # run_init raised unless both markers were read
    check_split(run)
    routes = _routes(run)
    # the plan's host routes: on-link, the NIC's address as source (docs/net.md, rule 7)
    for i, portal in enumerate(PORTALS):
        assert f"{portal} dev eth{i} scope link src {GUESTS[i]}" in routes, routes
    # and the ARP settings for NICs sharing a subnet (docs/net.md, rule 7)
    assert run.report.arp() == {f"eth{i}": {"arp_ignore": 1, "arp_announce": 2} for i in (0, 1)}, run.report.arp()
    # so neither NIC answers ARP for the other's address: a duplicate-address probe for each NIC's
    # address, sent out of that NIC and flooded by the bridge to the other one, gets no answer
    assert run.report.flux() == {f"eth{i}": (GUESTS[i], 0, "") for i in (0, 1)}, run.report.sections.get("flux")


def test_iscsistart_each_session_on_its_own_nic(capture_ready, anchor_initrd: Path, tmp_path: Path) -> None:
    run = pathsnet.run_anchor(capture_ready, initrd=anchor_initrd, keep_log=tmp_path / "serial.log")
    assert capture.leftovers() == []
    assert run.serial.rcs.get("iscsistart-N") == 0 and run.serial.rcs.get("iscsistart-b") == 0, run.serial.rcs
    check_split(run)
    routes = _routes(run)
    # iscsistart -N (usr/iscsi_net_util.c): a host route per target on its NIC, with no source
    # address (the kernel picks the NIC's own), and no ARP settings: Linux's defaults stay
    for i, portal in enumerate(PORTALS):
        assert f"{portal} dev eth{i} scope link" in routes, routes
    assert run.report.arp() == {f"eth{i}": {"arp_ignore": 0, "arp_announce": 0} for i in (0, 1)}, run.report.arp()
    # with Linux's arp_ignore=0 each NIC answers ARP for the other's address ("ARP flux",
    # Documentation/networking/ip-sysctl.rst): the probe for eth0's address is answered by eth1's MAC
    # and the other way round. The sessions above stayed split only because the target side learned
    # each address from the ARP request that NIC itself sent (docs/vm-e2e.md).
    assert run.report.flux() == {"eth0": (GUESTS[0], 1, MACS[1]), "eth1": (GUESTS[1], 1, MACS[0])}, \
        run.report.sections.get("flux")
