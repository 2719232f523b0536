"""iBFT constants (iSCSI Boot Firmware Table 1.03) that need no byte layout: signatures, structure
IDs, sizes, offsets, the legacy scan window and the structures' names. Plain values, no construct,
so that finding and decoding a table at boot loads nothing else (``layout.py`` holds the construct
declarations of the same structures; ``flat.py`` the ``struct`` formats generated from them).

Sizes and offsets follow the spec as quoted by the Linux kernel (``include/linux/iscsi_ibft.h``,
``drivers/firmware/iscsi_ibft.c``, ``drivers/firmware/iscsi_ibft_find.c``), EDK2
(``IScsiBootFirmwareTable.h``) and iPXE (``ibft.h``); see ``docs/ibft.md``, "The structures";
section numbers below are the spec's, as version 1.02 numbers them. tests/unit/test_decode_batch.py
checks each size against the construct layout's.
"""

from __future__ import annotations

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
HEADER_SIZE = 48
CHECKSUM_OFFSET = 9

# Common structure header (iBFT 1.02 §3.2).
STRUCT_HEADER_SIZE = 6

# Control structure (iBFT 1.02 §3.4, §3.4.3; length >= 18; expansion offsets follow, 2 bytes each).
CONTROL_OFFSET = HEADER_SIZE
CONTROL_SIZE = 18
CONTROL_SLOT_NAMES = ("initiator_off", "nic0_off", "target0_off", "nic1_off", "target1_off")
FIRST_SLOT_OFFSET = CONTROL_OFFSET + 8  # table offset of initiator_off

# Initiator, NIC and target structures (iBFT 1.02 §3.5, §3.6, §3.7).
INITIATOR_SIZE = 74
NIC_SIZE = 102
TARGET_SIZE = 54
STRUCT_SIZES = {ID_INITIATOR: INITIATOR_SIZE, ID_NIC: NIC_SIZE, ID_TARGET: TARGET_SIZE}

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
