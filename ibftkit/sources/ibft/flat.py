"""GENERATED from ibftkit/sources/ibft/layout.py by ``python3 -m ibftkit.sources.ibft.layout
--write-flat``: do not edit by hand; change layout.py and run that command again
(tests/unit/test_decode_batch.py fails while this file differs from what layout.py gives).

Each iBFT structure as one little-endian ``struct`` format and its field names in order (a nested
structure's fields as ``outer_inner``): ``layout.flat_layout`` of its construct declaration,
written out so that decoding a table (``decode.py``) does not import construct.
"""

from __future__ import annotations

#: layout name in layout.py -> (struct format, field names in order)
FLAT: dict[str, tuple[str, tuple[str, ...]]] = {
    "Header": ("<4sLBB6s8sLLL12s", (
        "signature", "length", "revision", "checksum", "oem_id", "oem_table_id", "oem_revision",
        "creator_id", "creator_revision", "reserved",
    )),
    "StructHeader": ("<BBHBB", (
        "id", "version", "length", "index", "flags",
    )),
    "Control": ("<BBHBBHHHHHH", (
        "hdr_id", "hdr_version", "hdr_length", "hdr_index", "hdr_flags", "extensions_off", "initiator_off",
        "nic0_off", "target0_off", "nic1_off", "target1_off",
    )),
    "Initiator": ("<BBHBB16s16s16s16sHH", (
        "hdr_id", "hdr_version", "hdr_length", "hdr_index", "hdr_flags", "isns_server", "slp_server",
        "primary_radius_server", "secondary_radius_server", "name_length", "name_offset",
    )),
    "Nic": ("<BBHBB16sBB16s16s16s16sH6sHHH", (
        "hdr_id", "hdr_version", "hdr_length", "hdr_index", "hdr_flags", "ip_address", "prefix_len",
        "origin", "gateway", "primary_dns", "secondary_dns", "dhcp_server", "vlan", "mac", "pci_bdf",
        "hostname_length", "hostname_offset",
    )),
    "Target": ("<BBHBB16sH8sBBHHHHHHHHHH", (
        "hdr_id", "hdr_version", "hdr_length", "hdr_index", "hdr_flags", "ip_address", "port", "lun",
        "chap_type", "nic_assoc", "name_length", "name_offset", "chap_name_length", "chap_name_offset",
        "chap_secret_length", "chap_secret_offset", "reverse_chap_name_length", "reverse_chap_name_offset",
        "reverse_chap_secret_length", "reverse_chap_secret_offset",
    )),
}

#: structure ID (spec.ID_*) -> the name of its layout (layout.LAYOUTS)
BY_ID: dict[int, str] = {2: "Initiator", 3: "Nic", 4: "Target"}
