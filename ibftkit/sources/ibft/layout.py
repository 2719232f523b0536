"""iBFT byte layout (iSCSI Boot Firmware Table 1.03), as construct definitions, and ``flat_layout``:
one ``struct`` format for a whole structure, derived from its definition.

Sizes and offsets follow the spec as quoted by the Linux kernel (``include/linux/iscsi_ibft.h``,
``drivers/firmware/iscsi_ibft.c``), EDK2 (``IScsiBootFirmwareTable.h``) and iPXE (``ibft.h``); see
``docs/ibft.md``, "The structures"; section numbers below are the spec's, as version 1.02 numbers
them. All integers are little-endian; every offset stored in the table is relative to the start of
the table; every address field is 16 bytes (IPv4 as ``::ffff:a.b.c.d``).
"""

from __future__ import annotations

import struct
from typing import Any

from ...infra.lazyimport import deferred

# construct imports pdb, inspect and traceback (its Debugger), hashlib (Checksum), pickle (Pickled)
# and platform (to ask whether it runs on Windows) at start-up; none is used here, and together they
# are more than half of construct's import time (ibftkit.infra.lazyimport).
with deferred("pdb", "inspect", "traceback", "hashlib", "pickle", "platform"):
    from construct import Bytes, FormatField, Int8ul, Int16ul, Int32ul, Struct
    from construct import ConstructError as ConstructError  # for decode.py: construct loads here only

SIGNATURES = (b"iBFT", b"IBFT", b"BIFT")  # spec table, ACPI pointer spelling, Broadcom offload
MEMORY_SIGNATURES = (b"iBFT", b"BIFT")  # what Linux's low-memory scan looks for

# Legacy (BIOS) placement: Linux scans 0x80000..0xFFFFF in 16-byte steps, skipping the VGA hole.
SCAN_START = 0x80000
SCAN_END = 0x100000
VGA_START = 0xA0000
VGA_END = 0xC0000
SCAN_STEP = 16

# Structure IDs (iBFT 1.02 §3.4.1; Linux enum ibft_id).
ID_CONTROL = 1
ID_INITIATOR = 2
ID_NIC = 3
ID_TARGET = 4
ID_EXTENSIONS = 5
STRUCTURE_NAMES = {ID_CONTROL: "control", ID_INITIATOR: "initiator", ID_NIC: "nic",
                   ID_TARGET: "target", ID_EXTENSIONS: "extensions"}

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
HEADER_SIZE = 48
CHECKSUM_OFFSET = 9

# Common structure header (iBFT 1.02 §3.2).
StructHeader = Struct(
    "id" / Int8ul,
    "version" / Int8ul,
    "length" / Int16ul,
    "index" / Int8ul,
    "flags" / Int8ul,
)
STRUCT_HEADER_SIZE = 6

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
CONTROL_OFFSET = HEADER_SIZE
CONTROL_SIZE = 18
CONTROL_SLOT_NAMES = ("initiator_off", "nic0_off", "target0_off", "nic1_off", "target1_off")
FIRST_SLOT_OFFSET = CONTROL_OFFSET + 8  # table offset of initiator_off

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
INITIATOR_SIZE = 74

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
NIC_SIZE = 102

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
TARGET_SIZE = 54

STRUCT_SIZES = {ID_INITIATOR: INITIATOR_SIZE, ID_NIC: NIC_SIZE, ID_TARGET: TARGET_SIZE}
LAYOUTS = {ID_INITIATOR: Initiator, ID_NIC: Nic, ID_TARGET: Target}

# Byte offsets of each heap reference inside its structure, for error messages.
HEAP_FIELD_OFFSETS = {
    ID_INITIATOR: {"name": 70},
    ID_NIC: {"hostname": 98},
    ID_TARGET: {"name": 34, "chap_name": 38, "chap_secret": 42, "reverse_chap_name": 46,
                "reverse_chap_secret": 50},
}

# EDK2 writes the heap downwards from here and always reports this table length.
EDK2_TABLE_LENGTH = 2048
# iPXE's BIOS real-mode buffer (int13.c XBFTAB_SIZE): a larger table cannot be described.
IPXE_BIOS_MAX = 768


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
