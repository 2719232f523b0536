"""Decode iBFT bytes into a ``BootConfig`` (pure: bytes in, model out).

Lenient by design, because the point is to read tables from machines that did not boot: an odd
field (bad checksum, unknown origin, wrong version, duplicate index …) becomes a warning on the
result and decoding goes on. Anything that would make us read outside the table (a structure or
string past its end, a truncated header) is a ``DecodeError`` naming the structure, the field and
the table offset. ``strict=True`` turns the first warning into a ``StrictError``.

Structures are found by their ID, not by which control slot points at them (producers disagree on
slot order: ``docs/ibft.md``, "Quirks ibftkit handles"), exactly as the Linux kernel does.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ...infra.errors import DecodeError, StrictError
from ...model import (
    BootConfig,
    ChapType,
    Initiator,
    InitiatorFlags,
    IPAddress,
    Lun,
    Nic,
    NicFlags,
    Origin,
    PciAddress,
    Secret,
    TableHeader,
    Target,
    TargetFlags,
    ip_from_packed16,
)
from . import layout as L
from .layout import ConstructError


def checksum_of(table: bytes) -> int:
    """The 8-bit sum of the table; 0 for a valid table."""
    return sum(table) & 0xFF


_PRINTABLE = bytes(range(0x20, 0x7F))

#: id(layout) -> construct's compiled parser of it (``use_compiled_parsers``); empty: interpreted
_COMPILED: dict[int, Any] = {}


def use_compiled_parsers() -> None:
    """Parse with construct's compiled parsers (``Struct.compile()``, construct 2.10) from now on in
    this process. Compiling the six layouts costs about 30 ms once and makes a decode about 2x
    faster, so it pays for a batch of tables (``ibftkit decode --format json PATH…``), not for the
    one table of a boot. Same fields, same checks, same errors and warnings: bounds are checked
    before any parser runs (tests/unit/test_decode_batch.py compares both paths)."""
    from io import BytesIO

    from construct import Container

    for struct in (L.Header, L.StructHeader, L.Control, L.Initiator, L.Nic, L.Target):
        if id(struct) not in _COMPILED:
            _COMPILED[id(struct)] = _Compiled(struct.compile().parsefunc, BytesIO, Container)


class _Compiled:
    """A compiled parser called as ``Construct.parse_stream`` calls it (the same context keys),
    without the two wrapper frames per structure that cost as much as the parse itself."""

    def __init__(self, func: Any, stream: Any, container: Any) -> None:
        self.func, self.stream, self.container = func, stream, container

    def parse(self, data: bytes) -> Any:
        context = self.container(_parsing=True, _building=False, _sizing=False)
        context._params = context
        return self.func(self.stream(data), context)


def _parser(struct: Any) -> Any:
    return _COMPILED.get(id(struct), struct)


def decode_table(data: bytes, *, source: str = "", strict: bool = False) -> BootConfig:
    """Decode one table that starts at ``data[0]``; bytes past the header's length are ignored."""
    return _Decoder(bytes(data), source).run(strict=strict)


@dataclass
class _Decoder:
    """One decode of one table: the bytes, where they came from, and the warnings so far."""

    data: bytes
    source: str
    warnings: list[str] = field(default_factory=list)
    table: bytes = b""
    linux_rejects: str | None = None
    linux_skips: list[str] = field(default_factory=list)

    def rejects(self, reason: str) -> None:
        """Record the first reason the Linux kernel would refuse the whole table."""
        if self.linux_rejects is None:
            self.linux_rejects = reason

    # --- helpers ---------------------------------------------------------------------------------

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{where}: {message}")

    def parse(self, struct: Any, offset: int, size: int, structure: str) -> Any:
        if offset + size > len(self.table):
            raise DecodeError(f"{size}-byte structure runs past the end of the table "
                              f"(0x{offset:x}+{size} > length 0x{len(self.table):x})",
                              structure=structure, offset=offset)
        try:
            return _parser(struct).parse(self.table[offset:offset + size])
        except ConstructError as e:  # cannot happen with enough bytes; kept as a boundary
            raise DecodeError(f"cannot parse: {e}", structure=structure, offset=offset) from None

    def string(self, ref: Any, structure: str, name: str, ref_offset: int) -> str | None:
        """A heap string: ``None`` when the offset is 0 (the kernel's "absent")."""
        length, off = ref.length, ref.offset
        if off == 0:
            if length:
                self.warn(f"{structure}.{name} at 0x{ref_offset:x}",
                          f"length {length} with offset 0 (ignored)")
            return None
        end = off + length
        if end > len(self.table):
            raise DecodeError(f"string at 0x{off:x}+{length} runs past the end of the table "
                              f"(length 0x{len(self.table):x})",
                              structure=structure, field=name, offset=ref_offset)
        if off < L.HEADER_SIZE:
            self.warn(f"{structure}.{name} at 0x{ref_offset:x}", f"string at 0x{off:x} lies inside the header")
        raw = self.table[off:end]
        if end >= len(self.table) or self.table[end] != 0:
            self.warn(f"{structure}.{name} at 0x{ref_offset:x}",
                      f"string at 0x{off:x} is not followed by a NUL (iBFT 1.03 §1.3.5)")
        if b"\0" in raw:
            self.warn(f"{structure}.{name} at 0x{ref_offset:x}",
                      f"string at 0x{off:x} holds a NUL before its length {length}")
        if raw.replace(b"\0", b"").translate(None, _PRINTABLE):  # a byte outside 0x20..0x7e
            self.warn(f"{structure}.{name} at 0x{ref_offset:x}", "string has non-printable or non-ASCII bytes")
        if length >= 256 - 1:
            self.warn(f"{structure}.{name} at 0x{ref_offset:x}",
                      f"string of {length} bytes: open-iscsi reads values of 256 bytes or more as missing")
        return raw.decode("latin-1")

    # --- the table -------------------------------------------------------------------------------

    def header(self) -> TableHeader:
        data = self.data
        if not data:
            raise DecodeError("empty input, no table", structure="header", offset=0)
        sig = data[:4]
        if sig not in L.SIGNATURES:
            raise DecodeError(f"signature {sig!r} is not an iBFT (expected iBFT, IBFT or BIFT)",
                              structure="header", field="signature", offset=0)
        if len(data) < L.HEADER_SIZE:
            raise DecodeError(f"table truncated inside its {L.HEADER_SIZE}-byte header ({len(data)} bytes)",
                              structure="header", offset=len(data))
        h = _parser(L.Header).parse(data[:L.HEADER_SIZE])
        if h.length < L.HEADER_SIZE + L.CONTROL_SIZE:
            raise DecodeError(f"length {h.length} is too small for a header and a control structure "
                              f"(at least {L.HEADER_SIZE + L.CONTROL_SIZE})",
                              structure="header", field="length", offset=4)
        if h.length > len(data):
            raise DecodeError(f"length {h.length} but only {len(data)} bytes are present (truncated table)",
                              structure="header", field="length", offset=4)
        self.table = data[:h.length]
        if h.revision != 1:
            self.warn("header.revision at 0x8", f"revision {h.revision} (expected 1; Linux rejects others)")
        total = checksum_of(self.table)
        if total:
            want = (h.checksum - total) & 0xFF
            self.warn("header.checksum at 0x9", f"checksum 0x{h.checksum:02x} is wrong (sum 0x{total:02x}; "
                      f"expected 0x{want:02x}); Linux ignores such a table")
        if sig != b"iBFT":
            self.warn("header.signature at 0x0",
                      f"signature {sig.decode()}: Linux finds it only through ACPI"
                      + (" (BIFT: Broadcom offload)" if sig == b"BIFT" else ""))
        return TableHeader(
            signature=sig.decode("latin-1"),
            revision=h.revision,
            oem_id=h.oem_id.split(b"\0", 1)[0].decode("latin-1"),
            oem_table_id=h.oem_table_id.split(b"\0", 1)[0].decode("latin-1"),
            oem_revision=h.oem_revision,
            creator_id=h.creator_id,
            creator_revision=h.creator_revision,
            length=h.length,
            checksum=h.checksum,
            checksum_ok=total == 0,
        )

    def control(self) -> tuple[int, list[tuple[str, int, int]]]:
        """Control flags and the list of (slot name, table offset of the slot, value)."""
        c = self.parse(L.Control, L.CONTROL_OFFSET, L.CONTROL_SIZE, "control")
        where = f"control at 0x{L.CONTROL_OFFSET:x}"
        if c.hdr.id != L.ID_CONTROL:
            raise DecodeError(f"structure id {c.hdr.id} (expected {L.ID_CONTROL}, control)",
                              structure="control", field="id", offset=L.CONTROL_OFFSET)
        length = c.hdr.length
        if length < L.CONTROL_SIZE:
            raise DecodeError(f"length {length} (expected at least {L.CONTROL_SIZE})",
                              structure="control", field="length", offset=L.CONTROL_OFFSET + 2)
        if L.CONTROL_OFFSET + length > len(self.table):
            raise DecodeError(f"length {length} runs past the end of the table (0x{len(self.table):x})",
                              structure="control", field="length", offset=L.CONTROL_OFFSET + 2)
        if length % 2:
            self.warn(where, f"odd length {length}; the last byte is ignored")
        if c.hdr.version != 1:
            self.warn(where, f"version {c.hdr.version} (expected 1)")
        if c.hdr.index != 0:
            self.warn(where, f"index {c.hdr.index} (expected 0; Linux rejects the table)")
            self.rejects(f"control index {c.hdr.index} (Linux: Control header is invalid)")
        if c.extensions_off:
            self.warn(where, f"extensions offset 0x{c.extensions_off:x} (no known producer writes one; ignored)")
        slots = [(name, L.FIRST_SLOT_OFFSET + 2 * i, c[name]) for i, name in enumerate(L.CONTROL_SLOT_NAMES)]
        end = L.CONTROL_OFFSET + length - length % 2
        pos, n = L.CONTROL_OFFSET + L.CONTROL_SIZE, 2
        while pos + 2 <= end:
            kind = "nic" if (pos - L.CONTROL_OFFSET - L.CONTROL_SIZE) % 4 == 0 else "target"
            slots.append((f"expansion[{(pos - L.CONTROL_OFFSET - L.CONTROL_SIZE) // 2}]({kind}{n}?)",
                          pos, int.from_bytes(self.table[pos:pos + 2], "little")))
            if kind == "target":
                n += 1
            pos += 2
        return c.hdr.flags, slots

    def run(self, *, strict: bool) -> BootConfig:
        header = self.header()
        control_flags, slots = self.control()
        initiator: Initiator | None = None
        nics: list[Nic] = []
        targets: list[Target] = []
        seen_offsets: dict[int, str] = {}
        for slot, slot_at, off in slots:
            if off == 0:
                continue
            where = f"control.{slot} at 0x{slot_at:x}"
            if off < L.HEADER_SIZE or off + L.STRUCT_HEADER_SIZE > len(self.table):
                raise DecodeError(f"offset 0x{off:x} lies outside the table (0x{L.HEADER_SIZE:x}.."
                                  f"0x{len(self.table):x})", structure="control", field=slot, offset=slot_at)
            if off in seen_offsets:
                self.warn(where, f"offset 0x{off:x} already given by {seen_offsets[off]}; read once")
                self.rejects(f"two control slots point at 0x{off:x}: one kobject registered twice")
                continue
            seen_offsets[off] = slot
            if off % 8:
                self.warn(where, f"structure at 0x{off:x} is not 8-byte aligned (iBFT 1.03 §1.4.4.4)")
            hdr = _parser(L.StructHeader).parse(self.table[off:off + L.STRUCT_HEADER_SIZE])
            sid = hdr.id
            if sid not in L.STRUCT_SIZES:
                what = "extensions" if sid == L.ID_EXTENSIONS else ("control" if sid == 1 else "unknown")
                self.warn(where, f"structure at 0x{off:x} has id {sid} ({what}); skipped")
                continue
            name = L.STRUCTURE_NAMES[sid]
            expected_slot = "initiator" if slot.startswith("initiator") else (
                "nic" if "nic" in slot else "target")
            if expected_slot != name:
                self.warn(where, f"slot points at a {name} structure (id {sid}); used as a {name}")
            size = L.STRUCT_SIZES[sid]
            label = "initiator" if sid == L.ID_INITIATOR else f"{name}[{hdr.index}]"
            kobject = "initiator" if sid == L.ID_INITIATOR else (
                f"ethernet{hdr.index}" if sid == L.ID_NIC else f"target{hdr.index}")
            if hdr.length != size:
                self.warn(f"{label} at 0x{off:x}", f"length {hdr.length} (expected {size}); read as {size} "
                          "bytes; Linux ignores this structure")
                self.linux_skips.append(kobject)
            elif off >= len(self.table) - L.HEADER_SIZE:
                self.warn(where, f"offset 0x{off:x} is at or past length-48 (0x{len(self.table) - 48:x}): "
                          "Linux does not read this structure")
                self.linux_skips.append(kobject)
            if hdr.version != 1:
                self.warn(f"{label} at 0x{off:x}", f"version {hdr.version} (expected 1)")
            raw = self.parse(L.LAYOUTS[sid], off, size, label)
            if sid == L.ID_INITIATOR:
                if initiator is not None:
                    self.warn(f"{label} at 0x{off:x}", "a second initiator structure; ignored "
                              "(Linux fails to register both)")
                    self.rejects("two initiator structures")
                    continue
                initiator = self.initiator(raw, off)
            elif sid == L.ID_NIC:
                nics.append(self.nic(raw, off, label))
            else:
                targets.append(self.target(raw, off, label))
        self.cross_checks(initiator, nics, targets)
        if strict and self.warnings:
            more = f" (and {len(self.warnings) - 1} more)" if len(self.warnings) > 1 else ""
            raise StrictError(f"strict: {self.warnings[0]}{more}")
        return BootConfig(
            initiator=initiator,
            nics=tuple(nics),
            targets=tuple(targets),
            source=self.source,
            warnings=tuple(self.warnings),
            header=TableHeader(**{**header.__dict__, "control_flags": control_flags,
                                  "linux_rejects": self.linux_rejects,
                                  "linux_skips": tuple(self.linux_skips)}),
        )

    # --- structures ------------------------------------------------------------------------------

    def addresses(self, raw: Any, names: tuple[str, ...]) -> dict[str, IPAddress | None]:
        return {n: ip_from_packed16(raw[n]) for n in names}

    def initiator(self, raw: Any, off: int) -> Initiator:
        addrs = self.addresses(raw, ("isns_server", "slp_server", "primary_radius_server",
                                     "secondary_radius_server"))
        name = self.string(raw.name, "initiator", "name", off + 70)
        if not name:
            self.warn(f"initiator at 0x{off:x}", "no initiator name")
        return Initiator(name=name, index=raw.hdr.index, flags=InitiatorFlags(raw.hdr.flags), **addrs)

    def nic(self, raw: Any, off: int, label: str) -> Nic:
        where = f"{label} at 0x{off:x}"
        addrs = self.addresses(raw, ("ip_address", "gateway", "primary_dns", "secondary_dns", "dhcp_server"))
        ip = addrs["ip_address"]
        prefix = raw.prefix_len
        limit = 32 if isinstance(ip, ipaddress.IPv4Address) else 128
        if prefix > limit:
            self.warn(where, f"prefix_len {prefix} (expected 0..{limit} for IPv{4 if limit == 32 else 6})")
        origin_byte = raw.origin
        origin = Origin(origin_byte)
        if origin_byte == 15:
            self.warn(where, "origin 15 (iPXE's constant for 'unchanged') read as 16 (the kernel's view and "
                      "iscsistart show 15)")
        elif not origin.known:
            self.warn(where, f"origin {origin_byte} is unknown (expected 0-4 or 16)")
        if ip is not None and prefix == 0 and origin != Origin.DHCP:
            self.warn(where, "prefix_len 0 on an address: the kernel hides prefix-len and subnet-mask")
        if raw.vlan > 4095:
            self.warn(where, f"vlan {raw.vlan} is above 4095: probably a full 802.1Q TCI "
                      f"(VID {raw.vlan & 0xFFF}, PCP {raw.vlan >> 13}, DEI {raw.vlan >> 12 & 1})")
        flags = NicFlags(raw.hdr.flags)
        if not flags:
            self.warn(where, "flags 0: open-iscsi ignores this NIC")
        return Nic(
            index=raw.hdr.index,
            flags=flags,
            prefix_len=prefix,
            origin=origin,
            origin_byte=origin_byte if origin_byte != int(origin) else None,
            vlan=raw.vlan,
            mac=":".join(f"{b:02x}" for b in raw.mac),
            pci_bdf=PciAddress.from_int(raw.pci_bdf),
            hostname=self.string(raw.hostname, label, "hostname", off + 98),
            ip_address=ip,
            gateway=addrs["gateway"],
            primary_dns=addrs["primary_dns"],
            secondary_dns=addrs["secondary_dns"],
            dhcp_server=addrs["dhcp_server"],
        )

    def target(self, raw: Any, off: int, label: str) -> Target:
        where = f"{label} at 0x{off:x}"
        ref = L.HEAP_FIELD_OFFSETS[L.ID_TARGET]
        s = {n: self.string(raw[n], label, n, off + ref[n]) for n in ref}
        chap_type = ChapType(raw.chap_type)
        if raw.chap_type not in (0, 1, 2):
            self.warn(where, f"chap_type {raw.chap_type} is unknown (expected 0, 1 or 2)")
        if chap_type >= ChapType.CHAP and not s["chap_name"]:
            self.warn(where, f"chap_type {int(chap_type)} but no CHAP name (the kernel shows no secret then)")
        if chap_type == ChapType.MUTUAL and not s["reverse_chap_name"]:
            self.warn(where, "mutual CHAP but no reverse CHAP name")
        if not s["name"]:
            self.warn(where, "no target name")
        flags = TargetFlags(raw.hdr.flags)
        if not flags:
            self.warn(where, "flags 0: open-iscsi ignores this target")
        ip = ip_from_packed16(raw.ip_address)
        if ip is None or (isinstance(ip, ipaddress.IPv4Address) and int(ip) == 0):
            self.warn(where, "no target IP address")
        if raw.port == 0:
            self.warn(where, "port 0")
        return Target(
            index=raw.hdr.index,
            flags=flags,
            ip_address=ip,
            port=raw.port,
            lun=Lun(bytes(raw.lun)),
            chap_type=chap_type,
            nic_index=raw.nic_assoc,
            name=s["name"],
            chap_name=s["chap_name"],
            chap_secret=None if s["chap_secret"] is None else Secret(s["chap_secret"]),
            reverse_chap_name=s["reverse_chap_name"],
            reverse_chap_secret=None if s["reverse_chap_secret"] is None else Secret(s["reverse_chap_secret"]),
        )

    def cross_checks(self, initiator: Initiator | None, nics: list[Nic], targets: list[Target]) -> None:
        if initiator is None:
            self.warn("control", "no initiator structure")
        if not nics:
            self.warn("control", "no NIC structure")
        if not targets:
            self.warn("control", "no target structure")
        for kind, items in (("NIC", nics), ("target", targets)):
            seen: set[int] = set()
            for item in items:
                if item.index in seen:
                    self.warn(f"{kind.lower()}[{item.index}]", f"duplicate {kind} index {item.index}: "
                              "Linux cannot register both and drops the whole sysfs view")
                seen.add(item.index)
        macs: dict[str, int] = {}
        for nic in nics:
            if nic.mac in macs:
                self.warn(f"nic[{nic.index}]", f"MAC {nic.mac} repeats nic[{macs[nic.mac]}]: one interface "
                          "named twice (firmware that writes one NIC structure per target or per attempt, "
                          "as iPXE after several sanhook commands and EDK2 do); configured once")
            else:
                macs[nic.mac or ""] = nic.index
        for nic in nics:
            if nic.pci_bdf is not None and nic.pci_bdf.to_int() == 0 and nic.flags:
                self.warn(f"nic[{nic.index}]", "PCI address 00:00.0 (zero; the host bridge on PC hardware, no network "
                          f"interface): the kernel links ethernet{nic.index}/device to it and iscsistart -f drops the "
                          "NIC (\"Could not get list of targets from firmware.\", exit 21); ibftkit-init, which "
                          "passes -t/-a, is not affected")
        indices = {n.index for n in nics}
        for t in targets:
            if t.nic_index not in indices:
                self.warn(f"target[{t.index}]", f"nic_assoc {t.nic_index} names no NIC "
                          "(open-iscsi drops the target: 'Invalid nic-assoc')")
        if targets and not any(t.boot_selected for t in targets):
            self.warn("targets", "no target has the boot-selected flag (iscsistart -b finds no boot entry)")
