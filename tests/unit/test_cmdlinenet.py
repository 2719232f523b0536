"""The VM harness's command-line boots (tools/vm/vmharness/cmdlinenet.py): the cases' words, QEMU's hub
wiring and the reading of the guest's ``ip addr``. The boots themselves are tests/vm/test_e2e_cmdline.py."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "vm"))

from vmharness import cmdlinenet  # noqa: E402

# busybox ip addr in the bond guest (shortened)
NET = """\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
2: eth0: <BROADCAST,MULTICAST,SLAVE,UP,LOWER_UP> mtu 1500 qdisc fq_codel master bond0 qlen 1000
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
3: bootnet.299@bootnet: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc noqueue qlen 1000
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
    inet 10.99.0.20/24 scope global bootnet.299
       valid_lft forever preferred_lft forever
    inet6 fe80::5054:ff:fe12:3456/64 scope link
default via 10.99.0.1 dev bootnet.299
10.99.0.0/24 dev bootnet.299 scope link  src 10.99.0.20
    inet 192.0.2.1/24 not a link line
"""


def test_guest_links_reads_flags_mtu_master_and_addresses() -> None:
    links = cmdlinenet.guest_links(NET)
    assert sorted(links) == ["bootnet.299", "eth0", "lo"]
    assert links["eth0"].master == "bond0" and "SLAVE" in links["eth0"].flags and links["eth0"].addresses == ()
    vlan = links["bootnet.299"]
    assert vlan.mtu == 1400 and vlan.master is None and vlan.addresses == ("10.99.0.20/24",)
    assert links["lo"].addresses == ("127.0.0.1/8",)  # the indented line after the routes belongs to no link


def test_hub_nics_put_both_nics_and_the_tap_on_one_hub() -> None:
    argv = cmdlinenet.hub_nics("tap0", ("52:54:00:00:00:01", "52:54:00:00:00:02"))
    netdevs = [argv[i + 1] for i, a in enumerate(argv) if a == "-netdev"]
    assert netdevs == ["tap,id=t0,ifname=tap0,script=no,downscript=no", "hubport,id=h0,hubid=0,netdev=t0",
                       "hubport,id=h1,hubid=0", "hubport,id=h2,hubid=0"]
    devices = [argv[i + 1] for i, a in enumerate(argv) if a == "-device"]
    assert devices == ["e1000,netdev=h1,mac=52:54:00:00:00:01,addr=0x3,romfile=",
                       "e1000,netdev=h2,mac=52:54:00:00:00:02,addr=0x4,romfile="]


def test_cases_use_dracut_words_only() -> None:
    vlan, bond = cmdlinenet.CASES["cmdline-vlan"], cmdlinenet.CASES["cmdline-bond"]
    assert vlan.words.split() == [
        f"ifname=bootnet:{cmdlinenet.MAC0}", "vlan=bootnet.299:bootnet",
        "ip=10.99.0.20::10.99.0.1:255.255.255.0:cmdline-vlan:bootnet.299:none:1400",
        "rd.iscsi.initiator=iqn.2026-11.org.example:initiator31",
        "netroot=iscsi:10.99.0.1::3260:1:iqn.2026-11.org.example:cmdline-vlan.disk"]
    assert bond.words.split()[:2] == ["bond=bond0:eth0,eth1:mode=active-backup",
                                      "ip=10.99.0.20::10.99.0.1:24::bond0:none"]
    assert not [w for c in (vlan, bond) for w in c.words.split() if w.startswith("ibftkit.")]
    assert vlan.fixture == "cmdline-vlan" and vlan.targets == (vlan.target,)
