"""Locators: memory images, /dev/mem's window, ACPI tables, the kernel's sysfs tree, the running system."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibftkit.infra.errors import NoTableError
from ibftkit.render import render
from ibftkit.render.kernel_view import kernel_view
from ibftkit.sources.ibft import spec as L
from ibftkit.sources.ibft.decode import decode_table
from ibftkit.sources.ibft.locate import decode_scan, load_config, scan_image
from ibftkit.sources.ibft.sysfs import parse_kernel_lun

ROOT = Path(__file__).resolve().parents[2]
TABLE = (ROOT / "fixtures" / "ibft" / "ibftkit-mutual-chap.bin").read_bytes()


def low_memory(table: bytes, at: int) -> bytes:
    """A 0x80000–0xFFFFF image with ``table`` at address ``at`` (as BIOS iPXE leaves it)."""
    image = bytearray(L.SCAN_END - L.SCAN_START)
    image[at - L.SCAN_START:at - L.SCAN_START + len(table)] = table
    return bytes(image)


def test_scan_finds_the_table_at_a_16_byte_step() -> None:
    image = low_memory(TABLE, 0x9A010)
    assert [(c.offset, c.signature) for c in scan_image(image, L.SCAN_START)] == [(0x9A010, "iBFT")]
    cfg = decode_scan(image, base=L.SCAN_START, skip_vga=True, label="memory:/dev/mem")
    assert cfg.source == "memory:/dev/mem@0x9a010"
    assert cfg.targets[0].name == decode_table(TABLE).targets[0].name


def test_scan_ignores_unaligned_and_vga_hole() -> None:
    image = bytearray(low_memory(b"", L.SCAN_START))
    image[0x1008:0x1008 + len(TABLE)] = TABLE  # not on a 16-byte boundary
    vga = L.VGA_START - L.SCAN_START
    image[vga:vga + len(TABLE)] = TABLE  # inside 0xA0000–0xBFFFF
    with pytest.raises(NoTableError, match="no iBFT signature"):
        decode_scan(bytes(image), base=L.SCAN_START, skip_vga=True, label="memory:/dev/mem")


def test_scan_skips_a_broken_candidate_and_reports_others() -> None:
    image = bytearray(low_memory(TABLE, 0x9B000))
    image[0x90000 - L.SCAN_START:0x90000 - L.SCAN_START + 8] = b"iBFT\xff\xff\x00\x00"  # length past the end
    image[0xE0000 - L.SCAN_START:0xE0000 - L.SCAN_START + len(TABLE)] = TABLE
    cfg = decode_scan(bytes(image), base=L.SCAN_START, skip_vga=True, label="m")
    assert cfg.source == "m@0x9b000"
    assert any("0x90000: candidate iBFT skipped" in w for w in cfg.warnings)
    assert any("another iBFT signature at 0xe0000" in w for w in cfg.warnings)


def test_memory_image_file_with_scan(tmp_path: Path) -> None:
    f = tmp_path / "mem.img"
    f.write_bytes(bytes(0x30) + TABLE + bytes(100))
    cfg = load_config(f, scan=True)
    assert cfg.source == f"image:{f}@0x30"


def fake_system(tmp_path: Path, *, efi: bool, acpi: str | None = None, mem_at: int | None = None) -> Path:
    root = tmp_path / "root"
    (root / "sys/firmware/acpi/tables").mkdir(parents=True)
    (root / "dev").mkdir()
    if efi:
        (root / "sys/firmware/efi").mkdir()
    if acpi:
        (root / "sys/firmware/acpi/tables" / acpi).write_bytes(TABLE)
    mem = bytearray(L.SCAN_END)
    if mem_at is not None:
        mem[mem_at:mem_at + len(TABLE)] = TABLE
    (root / "dev/mem").write_bytes(bytes(mem))
    return root


def test_running_system_bios_prefers_the_memory_scan(tmp_path: Path) -> None:
    root = fake_system(tmp_path, efi=False, acpi="iBFT", mem_at=0x98000)
    assert load_config(root=root).source == f"memory:{root}/dev/mem@0x98000"


def test_running_system_efi_uses_acpi_only(tmp_path: Path) -> None:
    root = fake_system(tmp_path, efi=True, acpi="IBFT", mem_at=0x98000)
    assert load_config(root=root).source == f"acpi:{root}/sys/firmware/acpi/tables/IBFT"


def test_running_system_without_table_says_where_it_looked(tmp_path: Path) -> None:
    root = fake_system(tmp_path, efi=True)
    with pytest.raises(NoTableError) as e:
        load_config(root=root)
    msg = str(e.value)
    assert "booted by EFI" in msg and "IBFT,iBFT,BIFT" in msg and "sys/firmware/ibft" in msg


def write_tree(view: dict[str, dict[str, str]], root: Path) -> Path:
    """A /sys/firmware/ibft copy: one file per attribute with the kernel's trailing newline."""
    for kobj, attrs in view.items():
        (root / kobj).mkdir(parents=True)
        for name, value in attrs.items():
            (root / kobj / name).write_text(value if name == "subnet-mask" else value + "\n")
    return root


@pytest.mark.parametrize("name", ["ibftkit-mutual-chap", "ibftkit-ipv6", "ibftkit-3targets-edk2",
                                  "ibftkit-vlan", "ibftkit-wide-lun"])
def test_sysfs_tree_reads_back_the_same_view(tmp_path: Path, name: str) -> None:
    cfg = decode_table((ROOT / "fixtures" / "ibft" / f"{name}.bin").read_bytes())
    tree = write_tree(kernel_view(cfg), tmp_path / "ibft")
    again = load_config(tree)
    assert again.source == f"sysfs:{tree}"
    assert render(again, "sysfs", show_secrets=True) == render(cfg, "sysfs", show_secrets=True)
    assert [t.lun for t in again.targets] == [t.lun for t in cfg.targets]


def test_kernel_lun_text_is_ambiguous_sometimes() -> None:
    assert parse_kernel_lun("01000000") == (decode_table(TABLE).targets[0].lun, False)
    lun, ambiguous = parse_kernel_lun("111000000")
    assert ambiguous and lun.sysfs == "111000000"  # 11 01 …, 01 11 … and 01 01 10 … all print so
    with pytest.raises(ValueError):
        parse_kernel_lun("zz")


def test_empty_sysfs_tree_is_no_table(tmp_path: Path) -> None:
    (tmp_path / "ibft").mkdir()
    with pytest.raises(NoTableError, match="modprobe iscsi_ibft"):
        load_config(tmp_path / "ibft")
