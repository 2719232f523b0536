"""The VM harness's userspace 802.1Q switch (tools/vm/vmharness/vlanswitch.py): frame handling and the
VLAN case's table. The switch's sockets and tap are exercised in tests/vm/test_e2e_net.py."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "vm"))

from vmharness import qemu, vlanswitch  # noqa: E402

from ibftkit.sources.ibft.decode import decode_table  # noqa: E402

ARP = (bytes.fromhex("ffffffffffff525400123456") + b"\x08\x06"
       + bytes.fromhex("0001080006040001525400123456") + bytes([10, 99, 0, 20]) + bytes(6) + bytes([10, 99, 0, 1]))


def test_tag_inserts_tpid_and_vid_after_the_source_mac() -> None:
    tagged = vlanswitch.tag(ARP, 299)
    assert tagged[:12] == ARP[:12]
    assert tagged[12:16] == struct.pack("!HH", 0x8100, 299) == bytes.fromhex("8100012b")
    assert tagged[16:] == ARP[12:]


def test_untag_forwards_only_the_case_vid() -> None:
    assert vlanswitch.untag(vlanswitch.tag(ARP, 299), 299) == (ARP, "tagged_forwarded")
    assert vlanswitch.untag(vlanswitch.tag(ARP, 298), 299) == (None, "other_vid_dropped")
    assert vlanswitch.untag(ARP, 299) == (None, "untagged_dropped")
    assert vlanswitch.untag(ARP[:12] + b"\x81\x00", 299) == (None, "runt_dropped")
    assert vlanswitch.untag(b"\xff" * 6, 299) == (None, "untagged_dropped")


def test_untag_ignores_priority_and_dei_bits() -> None:
    pcp7 = ARP[:12] + struct.pack("!HH", 0x8100, 0xF000 | 299) + ARP[12:]
    assert vlanswitch.untag(pcp7, 299) == (ARP, "tagged_forwarded")


def test_counters_note_what_was_dropped() -> None:
    c = vlanswitch.Counters()
    for frame in (ARP, vlanswitch.tag(ARP, 299)):
        c.count(vlanswitch.untag(frame, 299)[1], frame)
    assert (c.untagged_dropped, c.tagged_forwarded) == (1, 1)
    assert c.first_untagged == ["type 0x0806 to ff:ff:ff:ff:ff:ff"]


def test_vlan_table_names_the_vid_the_address_and_qemus_nic() -> None:
    cfg = decode_table(vlanswitch.vlan_table())
    assert not cfg.warnings
    (nic,) = cfg.nics
    assert (nic.vlan, str(nic.ip_address), nic.prefix_len, nic.gateway) == (vlanswitch.VID, "10.99.0.20", 24, None)
    assert nic.mac == qemu.DEFAULT_MAC and str(nic.pci_bdf) == f"00:{qemu.NIC_SLOT:02x}.0"
    (target,) = cfg.targets
    assert (str(target.ip_address), target.port, target.name) == ("10.99.0.1", 3260, vlanswitch.CASE.targets[0].iqn)
    assert cfg.initiator is not None and cfg.initiator.name == vlanswitch.CASE.initiator
