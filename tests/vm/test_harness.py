"""The harness's own pure parts (no guest): serial protocol, cpio writer, module order, iPXE scripts.

Not marked ``vm``: these run in the default suite and need nothing installed.
"""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from vmharness import capture, initramfs, serial
from vmharness.assets import module_paths

ROOT = Path(__file__).resolve().parents[2]
GUEST_INIT = ROOT / "tools" / "vm" / "guest" / "init"


def _block(name: str, data: bytes, rc: int = 0) -> str:
    b64 = base64.encodebytes(data).decode()
    return f"@@IBFTKIT-VM begin {name}\r\n{b64.replace(chr(10), chr(13) + chr(10))}@@IBFTKIT-VM end {name} rc={rc}\r\n"


def test_serial_parse_blocks_times_notes_across_kernel_noise() -> None:
    sysfs = b"acpi_header/signature=iBFT\nethernet0/subnet-mask=255.255.255.0\n" * 5
    log = ("SeaBIOS ...\r\n\x1b[2J@@IBFTKIT-VM time init 3.17\r\n"
           "[    4.1] e1000: eth0 NIC Link is Up\r\n"
           + _block("sysfs", sysfs) + _block("empty", b"", 21)
           + "@@IBFTKIT-VM note table source mem:0x9e620 length 583\r\n@@IBFTKIT-VM done\r\n")
    rep = serial.parse(log)
    assert rep.blobs == {"sysfs": sysfs, "empty": b""}
    assert rep.rcs == {"sysfs": 0, "empty": 21}
    assert rep.times == {"init": 3.17}
    assert rep.notes == ["table source mem:0x9e620 length 583"]
    assert rep.done


def test_serial_parse_rejects_kernel_text_inside_a_block() -> None:
    log = "@@IBFTKIT-VM begin t\nQUJD\n[ 1.0] oops: something\n@@IBFTKIT-VM end t rc=0\n"
    with pytest.raises(serial.ProtocolError, match="not clean base64"):
        serial.parse(log)


def test_missing_block_names_what_was_there() -> None:
    with pytest.raises(serial.ProtocolError, match="no 'sysfs' block"):
        serial.parse("@@IBFTKIT-VM note no /sys/firmware/ibft\n").blob("sysfs")


def _read_newc(blob: bytes) -> dict[str, tuple[int, bytes]]:
    """A minimal newc reader (the kernel's format) to check the writer."""
    out, pos = {}, 0
    while True:
        assert blob[pos:pos + 6] == b"070701"
        fields = [int(blob[pos + 6 + 8 * i: pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = blob[pos + 110: pos + 110 + namesize - 1].decode()
        pos = (pos + 110 + namesize + 3) & ~3
        data = blob[pos:pos + size]
        pos = (pos + size + 3) & ~3
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, data)


def test_cpio_newc_entries_parents_and_reproducibility() -> None:
    img = initramfs.Cpio()
    img.add_file("etc/ibftkit-vm/modules", b"a.ko\nb.ko\n")
    img.add_symlink("bin/sh", "busybox")
    img.add_file("init", b"#!/bin/sh\n", 0o755)
    entries = _read_newc(img.to_bytes())
    assert entries["etc/ibftkit-vm/modules"] == (stat.S_IFREG | 0o644, b"a.ko\nb.ko\n")
    assert entries["bin/sh"] == (stat.S_IFLNK | 0o777, b"busybox")
    assert stat.S_ISDIR(entries["etc"][0]) and stat.S_ISDIR(entries["etc/ibftkit-vm"][0])
    assert entries["init"][0] == stat.S_IFREG | 0o755
    assert img.to_bytes() == img.to_bytes()


def test_module_order_puts_dependencies_first(tmp_path: Path) -> None:
    (tmp_path / "modules.dep").write_text(
        "kernel/drivers/scsi/iscsi_tcp.ko: kernel/drivers/scsi/libiscsi_tcp.ko kernel/drivers/scsi/libiscsi.ko"
        " kernel/drivers/scsi/scsi_transport_iscsi.ko kernel/drivers/scsi/scsi_mod.ko\n"
        "kernel/drivers/scsi/libiscsi_tcp.ko: kernel/drivers/scsi/libiscsi.ko"
        " kernel/drivers/scsi/scsi_transport_iscsi.ko kernel/drivers/scsi/scsi_mod.ko\n"
        "kernel/drivers/scsi/libiscsi.ko: kernel/drivers/scsi/scsi_transport_iscsi.ko kernel/drivers/scsi/scsi_mod.ko\n"
        "kernel/drivers/scsi/scsi_transport_iscsi.ko: kernel/drivers/scsi/scsi_mod.ko\n"
        "kernel/drivers/scsi/scsi_mod.ko:\n"
        "kernel/lib/crc-t10dif.ko:\n")
    names = [p.name for p in module_paths(tmp_path, ["iscsi-tcp", "crc_t10dif", "scsi_mod"])]
    assert names == ["scsi_mod.ko", "scsi_transport_iscsi.ko", "libiscsi.ko", "libiscsi_tcp.ko", "iscsi_tcp.ko",
                     "crc-t10dif.ko"]


def test_ipxe_script_resets_chap_between_targets_and_uses_hex_luns() -> None:
    a = capture.TargetSpec("a", lun=0x10, chap=capture.Account("u", "p"))
    b = capture.TargetSpec("b", lun=2)
    case = capture.Case("x", "bios", (a, b), "iqn.2026-11.org.example:i")
    lines = case.ipxe_script().splitlines()
    first, second = lines.index(f"sanhook --drive 0x80 {a.uri()} || goto fail"), \
        lines.index(f"sanhook --drive 0x81 {b.uri()} || goto fail")
    assert "set username u" in lines[:first] and "clear username" in lines[first:second]
    assert a.uri() == "iscsi:10.0.2.2::3260:10:iqn.2026-11.org.example:a"
    assert "dhcp || goto fail" in lines


def test_every_case_has_a_unique_fixture_name_and_known_firmware() -> None:
    assert all(c.firmware in ("bios", "uefi") for c in capture.CASES.values())
    assert len({c.initiator for c in capture.CASES.values()}) == len(capture.CASES)


def test_guest_init_is_posix_sh_with_the_markers() -> None:
    text = GUEST_INIT.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert "@@IBFTKIT-VM" in text and serial.MARK == "@@IBFTKIT-VM"


# The paths report of a real ibftkit-init boot of pathsnet.CASE (tools/vm/guest/paths-report), cut down.
PATHS_REPORT = """== stream
sda 0:0:0:1 0
sdb 1:0:0:1 0
== tcp
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0F02000A:C546 0202000A:0CBC 06 00000000:00000000 03:00001623 00000000     0        0 0 3 00000000d68ccb5e
   1: 1002000A:9F8C 0302000A:0CBC 01 00000000:00000000 00:00000000 00000000     0        0 10202 3 00000000ee0d2f0c
   2: 0F02000A:C54C 0202000A:0CBC 01 00000000:00000000 00:00000000 00000000     0        0 10032 1 00000000fdfd5a5f
== route
10.0.2.0/24 dev eth0 scope link  src 10.0.2.15
10.0.2.2 dev eth0 scope link  src 10.0.2.15
== route-get
10.0.2.2 dev eth0  src 10.0.2.15
10.0.2.3 dev eth1  src 10.0.2.16
== arp
eth0 arp_ignore=1 arp_announce=2
eth1 arp_ignore=1 arp_announce=2
== nic
eth0 52:54:00:12:34:56 rx_bytes=8816642 tx_bytes=30446
eth1 52:54:00:12:34:57 rx_bytes=8816576 tx_bytes=30384
== flux
eth0 10.0.2.15 rc=1 52:54:00:12:34:57
eth1 10.0.2.16 rc=0
"""


def test_paths_report_connections_routes_arp() -> None:
    from vmharness import pathsnet

    rep = pathsnet.PathsReport.parse(PATHS_REPORT)
    # only established connections (state 01) count; /proc/net/tcp's IPv4 is little-endian hex
    assert rep.connections() == [pathsnet.Connection("10.0.2.16", 0x9F8C, "10.0.2.3", 3260),
                                 pathsnet.Connection("10.0.2.15", 0xC54C, "10.0.2.2", 3260)]
    assert rep.route_get("10.0.2.3") == "10.0.2.3 dev eth1 src 10.0.2.16"
    assert rep.route_get("10.0.2.9") == ""
    assert rep.arp()["eth1"] == {"arp_ignore": 1, "arp_announce": 2}
    assert rep.nic_macs() == {"eth0": "52:54:00:12:34:56", "eth1": "52:54:00:12:34:57"}
    assert [line.split()[-1] for line in rep.streamed()] == ["0", "0"]
    assert rep.flux() == {"eth0": ("10.0.2.15", 1, "52:54:00:12:34:57"), "eth1": ("10.0.2.16", 0, "")}


def test_paths_table_names_one_nic_per_target() -> None:
    from vmharness import pathsnet

    from ibftkit.sources.ibft.decode import decode_table

    cfg = decode_table(pathsnet.paths_table())
    assert [(str(n.ip_address), n.prefix_len, n.mac) for n in cfg.nics] == [
        (g, 24, m) for g, m in zip(pathsnet.GUESTS, pathsnet.MACS, strict=True)]
    assert [(str(t.ip_address), t.nic_index) for t in cfg.targets] == [(pathsnet.PORTALS[0], 0),
                                                                       (pathsnet.PORTALS[1], 1)]
