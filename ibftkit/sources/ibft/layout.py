"""iBFT byte layout (iSCSI Boot Firmware Table 1.03), as construct definitions: the one place the
structures' fields are declared; ``flat_layout`` derives one ``struct`` format for a whole structure
from its definition, and ``python3 -m ibftkit.sources.ibft.layout --write-flat`` writes those
formats into ``flat.py``, which the decoder reads (so that a boot does not import construct).

Sizes and offsets follow the spec as quoted by the Linux kernel (``include/linux/iscsi_ibft.h``,
``drivers/firmware/iscsi_ibft.c``), EDK2 (``IScsiBootFirmwareTable.h``) and iPXE (``ibft.h``); see
``docs/ibft.md``, "The structures"; section numbers below are the spec's, as version 1.02 numbers
them. All integers are little-endian; every offset stored in the table is relative to the start of
the table; every address field is 16 bytes (IPv4 as ``::ffff:a.b.c.d``). The plain constants (IDs,
sizes, offsets, signatures) live in ``spec.py``.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import Any

from ...infra.lazyimport import deferred
from .spec import ID_INITIATOR, ID_NIC, ID_TARGET

# construct imports pdb, inspect and traceback (its Debugger), hashlib (Checksum), pickle (Pickled)
# and platform (to ask whether it runs on Windows) at start-up; none is used here, and together they
# are more than half of construct's import time (ibftkit.infra.lazyimport).
with deferred("pdb", "inspect", "traceback", "hashlib", "pickle", "platform"):
    from construct import Bytes, FormatField, Int8ul, Int16ul, Int32ul, Struct
    from construct import ConstructError as ConstructError  # decode.ConstructError: construct loads here only

# Table header (iBFT 1.02 §3.3): the ACPI description header plus 12 reserved bytes.
Header = Struct(
    "signature" / Bytes(4),
    "length" / Int32ul,
    "revision" / Int8ul,
    "checksum" / Int8ul,
    "oem_id" / Bytes(6),
    "oem_table_id" / Bytes(8),
    "oem_revision" / Int32ul,
    "creator_id" / Int32ul,
    "creator_revision" / Int32ul,
    "reserved" / Bytes(12),
)

# Common structure header (iBFT 1.02 §3.2).
StructHeader = Struct(
    "id" / Int8ul,
    "version" / Int8ul,
    "length" / Int16ul,
    "index" / Int8ul,
    "flags" / Int8ul,
)

# Control structure (iBFT 1.02 §3.4, §3.4.3; length >= 18; expansion offsets follow, 2 bytes each).
Control = Struct(
    "hdr" / StructHeader,
    "extensions_off" / Int16ul,
    "initiator_off" / Int16ul,
    "nic0_off" / Int16ul,
    "target0_off" / Int16ul,
    "nic1_off" / Int16ul,
    "target1_off" / Int16ul,
)

# A (length, offset) reference to a string in the heap.
HeapRef = Struct("length" / Int16ul, "offset" / Int16ul)

# Initiator structure (iBFT 1.02 §3.5).
Initiator = Struct(
    "hdr" / StructHeader,
    "isns_server" / Bytes(16),
    "slp_server" / Bytes(16),
    "primary_radius_server" / Bytes(16),
    "secondary_radius_server" / Bytes(16),
    "name" / HeapRef,
)

# NIC structure (iBFT 1.02 §3.6).
Nic = Struct(
    "hdr" / StructHeader,
    "ip_address" / Bytes(16),
    "prefix_len" / Int8ul,
    "origin" / Int8ul,
    "gateway" / Bytes(16),
    "primary_dns" / Bytes(16),
    "secondary_dns" / Bytes(16),
    "dhcp_server" / Bytes(16),
    "vlan" / Int16ul,
    "mac" / Bytes(6),
    "pci_bdf" / Int16ul,
    "hostname" / HeapRef,
)

# Target structure (iBFT 1.02 §3.7).
Target = Struct(
    "hdr" / StructHeader,
    "ip_address" / Bytes(16),
    "port" / Int16ul,
    "lun" / Bytes(8),
    "chap_type" / Int8ul,
    "nic_assoc" / Int8ul,
    "name" / HeapRef,
    "chap_name" / HeapRef,
    "chap_secret" / HeapRef,
    "reverse_chap_name" / HeapRef,
    "reverse_chap_secret" / HeapRef,
)

LAYOUTS = {ID_INITIATOR: Initiator, ID_NIC: Nic, ID_TARGET: Target}


def flat_layout(layout: Any) -> tuple[struct.Struct, tuple[str, ...]]:
    """One ``struct.Struct`` for a fixed-size construct ``Struct`` (``layout.py``), and its field
    names in order (a nested structure's fields as ``outer_inner``). One ``unpack_from`` reads a
    whole structure: 0.3 µs for a NIC structure, where construct's compiled parser
    (``Struct.compile()``) takes 11 µs and the interpreted one 43 µs. Raises ``TypeError`` for a
    field that is not a little-endian ``FormatField``, a fixed ``Bytes`` or a nested ``Struct``."""
    fmt, names = ["<"], []

    def walk(s: Any, prefix: str) -> None:
        for sub in s.subcons:
            inner, name = sub.subcon, prefix + sub.name
            if isinstance(inner, Struct):
                walk(inner, name + "_")
            elif isinstance(inner, FormatField) and inner.fmtstr[0] == "<":
                fmt.append(inner.fmtstr[1:])
                names.append(name)
            elif isinstance(inner, Bytes) and isinstance(inner.length, int):
                fmt.append(f"{inner.length}s")
                names.append(name)
            else:
                raise TypeError(f"{name}: {inner!r} has no fixed struct format")

    walk(layout, "")
    flat = struct.Struct("".join(fmt))
    if flat.size != layout.sizeof():
        raise TypeError(f"flat format {flat.format!r} is {flat.size} bytes, the layout {layout.sizeof()}")
    return flat, tuple(names)


#: The layouts ``flat.py`` holds, by their names in this module, in the order it lists them.
FLAT_LAYOUTS = ("Header", "StructHeader", "Control", "Initiator", "Nic", "Target")
FLAT_PATH = Path(__file__).with_name("flat.py")
_FLAT_HEADER = '''"""GENERATED from ibftkit/sources/ibft/layout.py by ``python3 -m ibftkit.sources.ibft.layout
--write-flat``: do not edit by hand; change layout.py and run that command again
(tests/unit/test_decode_batch.py fails while this file differs from what layout.py gives).

Each iBFT structure as one little-endian ``struct`` format and its field names in order (a nested
structure's fields as ``outer_inner``): ``layout.flat_layout`` of its construct declaration,
written out so that decoding a table (``decode.py``) does not import construct.
"""

from __future__ import annotations
'''


def _wrapped(words: list[str], indent: str, width: int = 110) -> list[str]:
    lines, line = [], indent
    for word in words:
        if line != indent and len(line) + len(word) + 1 > width:
            lines.append(line.rstrip())
            line = indent
        line += word + " "
    return [*lines, line.rstrip()]


def render_flat() -> str:
    """The text of ``flat.py``: for each layout of ``FLAT_LAYOUTS``, its ``flat_layout`` (struct
    format, field names), and the layout name of each structure ID of ``LAYOUTS``."""
    out = [_FLAT_HEADER, "#: layout name in layout.py -> (struct format, field names in order)",
           "FLAT: dict[str, tuple[str, tuple[str, ...]]] = {"]
    for name in FLAT_LAYOUTS:
        flat, names = flat_layout(globals()[name])
        out.append(f'    "{name}": ("{flat.format}", (')
        out.extend(_wrapped([f'"{n}",' for n in names], " " * 8))
        out.append("    )),")
    out.append("}")
    by_name = {id(v): k for k, v in globals().items() if k in FLAT_LAYOUTS}
    ids = ", ".join(f'{sid}: "{by_name[id(layout)]}"' for sid, layout in LAYOUTS.items())
    out += ["", "#: structure ID (spec.ID_*) -> the name of its layout (layout.LAYOUTS)",
            f"BY_ID: dict[int, str] = {{{ids}}}", ""]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    """``--write-flat``: write ``flat.py`` from this module; ``--check-flat``: exit 1 if it differs."""
    if argv == ["--write-flat"]:
        FLAT_PATH.write_text(render_flat())
        print(f"wrote {FLAT_PATH}", file=sys.stderr)
        return 0
    if argv == ["--check-flat"]:
        same = FLAT_PATH.exists() and FLAT_PATH.read_text() == render_flat()
        print(f"{FLAT_PATH}: {'up to date' if same else 'differs from layout.py (run --write-flat)'}",
              file=sys.stderr)
        return 0 if same else 1
    print("usage: python3 -m ibftkit.sources.ibft.layout --write-flat|--check-flat", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
