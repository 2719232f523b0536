"""Where an iBFT lives, and loading it into the model.

- a raw table file (the table starts at byte 0);
- a memory image (``scan=True``): a dump of the first MiB or more is read with offsets as physical
  addresses and judged against Linux's window (``linux_misses``), a shorter one scanned in 16-byte
  steps; ``/dev/mem`` is read only in the
  legacy window 0x80000–0xFFFFF, skipping the VGA hole 0xA0000–0xBFFFF, where BIOS firmware such
  as iPXE leaves the table (it is then *not* among the ACPI tables);
- ``/sys/firmware/acpi/tables/{IBFT,iBFT,BIFT}``;
- the kernel's ``/sys/firmware/ibft`` tree (a directory path);
- with no path, the running system in the kernel's order (``iscsi_ibft_find.c``): the memory scan
  unless booted by EFI, then ACPI; the kernel's sysfs tree when neither raw form can be read.

``root`` (default ``/``) lets tests point at a fake system tree.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from ...infra.errors import DecodeError, NoTableError, StrictError
from ...model import BootConfig, TableHeader
from . import spec as L
from .decode import decode_table

ACPI_TABLES = "sys/firmware/acpi/tables"
SYSFS_IBFT = "sys/firmware/ibft"


@dataclass(frozen=True)
class Candidate:
    """A signature found in a memory window: where, which, and the length field after it."""

    offset: int  # address (for /dev/mem) or file offset
    signature: str
    length: int


def scan_image(image: bytes, base: int = 0, *, skip_vga: bool = False, aligned: bool = True) -> list[Candidate]:
    """Every ``iBFT``/``BIFT`` signature in ``image`` (which starts at address ``base``): only at
    16-byte boundaries (as Linux scans) unless ``aligned`` is false."""
    found = []
    for signature in L.MEMORY_SIGNATURES:  # bytes.find, not a Python loop over 32768 slots (0.1 s in a guest)
        pos = image.find(signature)
        while 0 <= pos < len(image) - 7:
            addr = base + pos
            if (not aligned or addr % L.SCAN_STEP == 0) and not (skip_vga and L.VGA_START <= addr < L.VGA_END):
                found.append(Candidate(addr, signature.decode(), int.from_bytes(image[pos + 4:pos + 8], "little")))
            pos = image.find(signature, pos + 1)
    return sorted(found, key=lambda c: c.offset)


#: How the window is named in warnings (iBFT 1.03 §1.4.3.2; Linux ``drivers/firmware/iscsi_ibft_find.c``).
WINDOW = (f"0x{L.SCAN_START:x}-0x{L.SCAN_END - 1:x} less the VGA hole 0x{L.VGA_START:x}-0x{L.VGA_END - 1:x}, "
          f"at {L.SCAN_STEP}-byte steps")


def linux_misses(c: Candidate) -> str | None:
    """Why Linux's low-memory scan (``reserve_ibft_region``) would not find a table at physical
    address ``c.offset``, or ``None`` when it would: outside 0x80000–0xFFFFF, inside the VGA hole,
    not on a 16-byte boundary, or running past 0xFFFFF (``pos + len <= IBFT_END - 1``)."""
    addr = c.offset
    if not L.SCAN_START <= addr < L.SCAN_END:
        where = "below" if addr < L.SCAN_START else "above"
        return f"it lies {where} the window Linux scans ({WINDOW})"
    if L.VGA_START <= addr < L.VGA_END:
        return f"it lies in the VGA hole, which Linux skips (window {WINDOW})"
    if addr % L.SCAN_STEP:
        return f"it is not on a {L.SCAN_STEP}-byte boundary (window {WINDOW})"
    if addr + c.length > L.SCAN_END - 1:
        return f"its length {c.length} runs past 0x{L.SCAN_END - 1:x} (window {WINDOW})"
    return None


def decode_scan(image: bytes, *, base: int = 0, skip_vga: bool = False, label: str,
                strict: bool = False, physical: bool = False) -> BootConfig:
    """Decode the first candidate that decodes, as Linux takes the first hit; report the others.

    ``physical``: the image's offsets are physical addresses (a dump of low memory from 0, as
    ``pmemsave 0 0x100000`` or ``dd if=/dev/mem bs=1M count=1`` saves it). Every signature is
    then considered, and a table Linux's scan would not find (see ``linux_misses``) is decoded
    with a warning naming the window, a kernel view that is empty (the OS will not see it) and,
    under ``strict``, a ``StrictError``; one that Linux finds is preferred.
    """
    candidates = scan_image(image, base, skip_vga=skip_vga, aligned=not physical)
    if physical:
        candidates.sort(key=lambda c: (linux_misses(c) is not None, c.offset))
    if not candidates:
        raise NoTableError(f"{label}: no iBFT signature at any 16-byte boundary "
                           f"({len(image)} bytes from 0x{base:x})")
    notes: list[str] = []
    for i, cand in enumerate(candidates):
        pos = cand.offset - base
        try:
            cfg = decode_table(image[pos:], source=f"{label}@0x{cand.offset:x}", strict=strict)
        except DecodeError as e:
            notes.append(f"{label}@0x{cand.offset:x}: candidate {cand.signature} skipped: {e}")
            continue
        others = [f"{label}: another {c.signature} signature at 0x{c.offset:x} (ignored)"
                  for c in candidates[i + 1:]]
        missed = linux_misses(cand) if physical else None
        if missed is not None:
            warning = f"{label}: table at 0x{cand.offset:x}: the OS will not find it: {missed}"
            if strict:
                raise StrictError(f"strict: {warning}")
            header = cfg.header or TableHeader()
            cfg = cfg.replace(header=dataclasses.replace(
                header, linux_rejects=header.linux_rejects or f"not found by Linux's memory scan: {missed}"))
            notes.append(warning)
        return cfg.replace(warnings=(*notes, *cfg.warnings, *others))
    raise NoTableError(f"{label}: {len(candidates)} signature(s) found, none decodes; first: "
                       + notes[0].split(": ", 1)[1])


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError:
        raise NoTableError(f"{path}: permission denied (reading firmware tables needs root)") from None
    except OSError as e:
        raise NoTableError(f"{path}: cannot read ({e.strerror or e})") from None


def read_dev_mem(path: Path) -> bytes:
    """0x80000–0xFFFFF of physical memory (the legacy iBFT window)."""
    try:
        with open(path, "rb", buffering=0) as f:
            f.seek(L.SCAN_START)
            return f.read(L.SCAN_END - L.SCAN_START)
    except PermissionError:
        raise NoTableError(f"{path}: permission denied (reading /dev/mem needs root)") from None
    except OSError as e:
        raise NoTableError(f"{path}: cannot read ({e.strerror or e})") from None


def load_path(path: str | Path, *, scan: bool = False, strict: bool = False) -> BootConfig:
    """A table file, a memory image (``scan``), ``/dev/mem`` or a sysfs tree directory."""
    p = Path(path)
    if p.is_dir():
        from .sysfs import load_sysfs_tree  # here: only a sysfs tree needs it (start-up)

        return load_sysfs_tree(p)
    if not p.exists():
        raise NoTableError(f"{p}: no such file")
    if scan or str(p) == "/dev/mem":
        if str(p) == "/dev/mem" or p.is_char_device():
            return decode_scan(read_dev_mem(p), base=L.SCAN_START, skip_vga=True, label=f"memory:{p}",
                               strict=strict)
        image = _read(p)
        return decode_scan(image, label=f"image:{p}", strict=strict, physical=len(image) >= L.SCAN_END)
    return decode_file(p, _read(p), strict=strict)


def decode_file(path: str | Path, data: bytes, *, strict: bool = False) -> BootConfig:
    """The bytes of table file ``path``, decoded (a memory image given without ``--scan`` is
    refused with a hint); raises ``DecodeError``/``StrictError`` as ``decode_table`` does."""
    if data[:4] not in L.SIGNATURES and scan_image(data):
        raise DecodeError(f"signature {data[:4]!r} is not an iBFT, but one is at offset "
                          f"0x{scan_image(data)[0].offset:x}", structure="header", field="signature", offset=0,
                          hint="this looks like a memory image: add --scan")
    return decode_table(data, source=f"file:{path}", strict=strict)


def load_running_system(*, root: str | Path = "/", strict: bool = False) -> BootConfig:
    """The running system's table, in the Linux kernel's order, saying which source was used."""
    r = Path(root)
    tried: list[str] = []
    efi = (r / "sys/firmware/efi").exists()
    if not efi:
        mem = r / "dev/mem"
        try:
            return decode_scan(read_dev_mem(mem), base=L.SCAN_START, skip_vga=True, label=f"memory:{mem}",
                               strict=strict)
        except NoTableError as e:
            tried.append(str(e))
    else:
        tried.append("low-memory scan skipped: booted by EFI (iBFT 1.03 §1.4.3.1: ACPI only)")
    for sig in ("IBFT", "iBFT", "BIFT"):
        t = r / ACPI_TABLES / sig
        if t.exists():
            cfg = decode_table(_read(t), source=f"acpi:{t}", strict=strict)
            return cfg
    tried.append(f"no {r / ACPI_TABLES}/{{IBFT,iBFT,BIFT}}")
    tree = r / SYSFS_IBFT
    if tree.is_dir() and any(tree.iterdir()):
        from .sysfs import load_sysfs_tree

        return load_sysfs_tree(tree)
    tried.append(f"no {tree}")
    raise NoTableError("no iBFT on this system: " + "; ".join(tried))


def load_config(path: str | Path | None = None, *, scan: bool = False, strict: bool = False,
                root: str | Path = "/") -> BootConfig:
    """The contract other modules use: a path (file, image, directory) or the running system."""
    if path is None:
        return load_running_system(root=root, strict=strict)
    return load_path(os.fspath(path), scan=scan, strict=strict)
