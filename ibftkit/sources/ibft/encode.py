"""Encode a ``BootConfig`` as iBFT bytes, byte for byte as a given producer lays it out.

Layouts (``docs/ibft.md``, "Producers and how they lay the table out"):

``ipxe``    iPXE ``ibft_install``: 16-byte alignment; ``max(2, n)`` NIC/target pairs whose unused
            slots stay zeroed; initiator, all NICs, all targets, then the strings packed upwards
            (initiator name, NIC hostnames, then each target's name and CHAP strings).
``edk2``    EDK2 ``IScsiIbft.c``: 8-byte alignment; initiator right after the control structure,
            then NIC0, Target0, NIC1, Target1 …; strings written downwards from offset 2048;
            the table length is always 2048.
``ibftpl``  dracut's ``test/TEST-30-ISCSI/ibft.pl``: 8-byte alignment; all NICs then all targets;
            expansion slots list the extra NICs first, then the extra targets.

The model holds what the table holds, so ``decode_table(encode_table(m)) == m`` (apart from
``source``, ``warnings`` and the header's computed length and checksum).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ...infra.errors import EncodeError
from ...model import BootConfig, Initiator, Nic, TableHeader, Target, ip_to_packed16
from . import layout as L
from . import spec as S

LAYOUT_NAMES = ("ipxe", "edk2", "ibftpl")
_DEFAULT_OEM = {"ipxe": ("FENSYS", "iPXE"), "edk2": ("BOCHS", "BXPCFACP"), "ibftpl": ("DRACUT", "TEST")}


def _align(value: int, to: int) -> int:
    return (value + to - 1) // to * to


def _text(value: str, what: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise EncodeError(f"{what}: {value!r} has characters an iBFT string cannot hold") from None


def _u(value: int, bits: int, what: str) -> int:
    if not 0 <= value < 1 << bits:
        raise EncodeError(f"{what}: {value} does not fit in {bits} bits")
    return value


@dataclass
class _Heap:
    """The string area: packed upwards from ``start`` or downwards from ``top``."""

    start: int
    down: bool = False
    top: int = 0
    items: list[tuple[int, bytes]] = field(default_factory=list)
    cursor: int = 0

    def __post_init__(self) -> None:
        self.cursor = self.top if self.down else self.start

    def add(self, value: str | None, what: str) -> dict[str, int]:
        if value is None:
            return {"length": 0, "offset": 0}
        raw = _text(value, what)
        _u(len(raw), 16, f"{what} length")
        if self.down:
            self.cursor -= len(raw) + 1
            off = self.cursor
            if off < self.start:
                raise EncodeError(f"{what}: the strings do not fit below offset 0x{self.top:x} "
                                  f"(they would reach 0x{off:x}, structures end at 0x{self.start:x})")
        else:
            off = self.cursor
            self.cursor += len(raw) + 1
        self.items.append((off, raw + b"\0"))
        return {"length": len(raw), "offset": _u(off, 16, f"{what} offset")}

    @property
    def end(self) -> int:
        return self.top if self.down else self.cursor


def _hdr(sid: int, size: int, index: int, flags: int, what: str) -> dict[str, int]:
    return {"id": sid, "version": 1, "length": size, "index": _u(index, 8, f"{what} index"),
            "flags": _u(int(flags), 8, f"{what} flags")}


def _initiator(i: Initiator, heap: _Heap) -> bytes:
    return bytes(L.Initiator.build({
        "hdr": _hdr(S.ID_INITIATOR, S.INITIATOR_SIZE, i.index, i.flags, "initiator"),
        "isns_server": ip_to_packed16(i.isns_server),
        "slp_server": ip_to_packed16(i.slp_server),
        "primary_radius_server": ip_to_packed16(i.primary_radius_server),
        "secondary_radius_server": ip_to_packed16(i.secondary_radius_server),
        "name": heap.add(i.name, "initiator.name"),
    }))


def _nic(n: Nic, hostname: dict[str, int]) -> bytes:
    what = f"nic[{n.index}]"
    mac = bytes.fromhex(n.mac.replace(":", "")) if n.mac else bytes(6)
    return bytes(L.Nic.build({
        "hdr": _hdr(S.ID_NIC, S.NIC_SIZE, n.index, n.flags, what),
        "ip_address": ip_to_packed16(n.ip_address),
        "prefix_len": _u(n.prefix_len, 8, f"{what}.prefix_len"),
        "origin": _u(n.stored_origin, 8, f"{what}.origin"),
        "gateway": ip_to_packed16(n.gateway),
        "primary_dns": ip_to_packed16(n.primary_dns),
        "secondary_dns": ip_to_packed16(n.secondary_dns),
        "dhcp_server": ip_to_packed16(n.dhcp_server),
        "vlan": _u(n.vlan, 16, f"{what}.vlan"),
        "mac": mac,
        "pci_bdf": n.pci_bdf.to_int() if n.pci_bdf else 0,
        "hostname": hostname,
    }))


def _target_strings(t: Target, heap: _Heap) -> dict[str, dict[str, int]]:
    what = f"target[{t.index}]"
    secret = t.chap_secret.reveal() if t.chap_secret is not None else None
    rsecret = t.reverse_chap_secret.reveal() if t.reverse_chap_secret is not None else None
    return {
        "name": heap.add(t.name, f"{what}.name"),
        "chap_name": heap.add(t.chap_name, f"{what}.chap_name"),
        "chap_secret": heap.add(secret, f"{what}.chap_secret"),
        "reverse_chap_name": heap.add(t.reverse_chap_name, f"{what}.reverse_chap_name"),
        "reverse_chap_secret": heap.add(rsecret, f"{what}.reverse_chap_secret"),
    }


def _target(t: Target, strings: dict[str, dict[str, int]]) -> bytes:
    what = f"target[{t.index}]"
    if t.ip_address is None and t.server_name:
        raise EncodeError(f"{what}: server {t.server_name!r} is a name; an iBFT holds only IP addresses")
    return bytes(L.Target.build({
        "hdr": _hdr(S.ID_TARGET, S.TARGET_SIZE, t.index, t.flags, what),
        "ip_address": ip_to_packed16(t.ip_address),
        "port": _u(t.port, 16, f"{what}.port"),
        "lun": t.lun.raw,
        "chap_type": _u(int(t.chap_type), 8, f"{what}.chap_type"),
        "nic_assoc": _u(t.nic_index, 8, f"{what}.nic_index"),
        **strings,
    }))


@dataclass
class _Placement:
    """Where each structure goes and which control slot points at it."""

    control_len: int
    initiator_at: int
    nic_at: list[int]
    target_at: list[int]
    heap: _Heap
    slots: list[int]  # offsets in control order after initiator_off (0 = unused)
    length: Callable[[], int]
    order: str  # "grouped" (initiator, NIC hostnames, targets) or "pairs" (per NIC/target pair)


def _place_ipxe(cfg: BootConfig) -> _Placement:
    pairs = max(2, len(cfg.nics), len(cfg.targets))
    control_len = S.CONTROL_SIZE + 4 * (pairs - 2)
    off = _align(S.HEADER_SIZE + control_len, 16)
    initiator_at = off
    off += _align(S.INITIATOR_SIZE, 16)
    nic_at = [off + i * _align(S.NIC_SIZE, 16) for i in range(pairs)]
    off += pairs * _align(S.NIC_SIZE, 16)
    target_at = [off + i * _align(S.TARGET_SIZE, 16) for i in range(pairs)]
    off += pairs * _align(S.TARGET_SIZE, 16)
    heap = _Heap(start=off)
    slots = []
    for i in range(pairs):
        slots += [nic_at[i] if i < len(cfg.nics) else 0, target_at[i] if i < len(cfg.targets) else 0]
    return _Placement(control_len, initiator_at, nic_at, target_at, heap, slots, lambda: heap.end, "grouped")


def _place_edk2(cfg: BootConfig) -> _Placement:
    pairs = max(len(cfg.nics), len(cfg.targets))
    control_len = S.CONTROL_SIZE + 2 * max(0, 2 * pairs - 4)
    initiator_at = S.HEADER_SIZE + _align(control_len, 8)
    off = initiator_at + _align(S.INITIATOR_SIZE, 8)
    nic_at, target_at = [], []
    for _ in range(pairs):
        nic_at.append(off)
        off += _align(S.NIC_SIZE, 8)
        target_at.append(off)
        off += _align(S.TARGET_SIZE, 8)
    heap = _Heap(start=off, down=True, top=S.EDK2_TABLE_LENGTH)
    slots = []
    for i in range(max(2, pairs)):
        slots += [nic_at[i] if i < len(cfg.nics) else 0, target_at[i] if i < len(cfg.targets) else 0]
    return _Placement(control_len, initiator_at, nic_at, target_at, heap, slots,
                      lambda: S.EDK2_TABLE_LENGTH, "pairs")


def _place_ibftpl(cfg: BootConfig) -> _Placement:
    n, t = len(cfg.nics), len(cfg.targets)
    control_len = S.CONTROL_SIZE + 2 * max(0, n - 2) + 2 * max(0, t - 2)
    off = _align(S.HEADER_SIZE + control_len, 8)
    initiator_at = off
    off += _align(S.INITIATOR_SIZE, 8)
    nic_at = [off + i * _align(S.NIC_SIZE, 8) for i in range(n)]
    off += n * _align(S.NIC_SIZE, 8)
    target_at = [off + i * _align(S.TARGET_SIZE, 8) for i in range(t)]
    off += t * _align(S.TARGET_SIZE, 8)
    heap = _Heap(start=off)

    def at(lst: list[int], i: int) -> int:
        return lst[i] if i < len(lst) else 0

    slots = [at(nic_at, 0), at(target_at, 0), at(nic_at, 1), at(target_at, 1)]
    slots += nic_at[2:] + target_at[2:]
    return _Placement(control_len, initiator_at, nic_at, target_at, heap, slots, lambda: heap.end, "grouped")


_PLACERS = {"ipxe": _place_ipxe, "edk2": _place_edk2, "ibftpl": _place_ibftpl}


def encode_table(cfg: BootConfig, layout: str = "ipxe") -> bytes:
    """The table bytes for ``cfg``, with length and checksum computed last."""
    if layout not in _PLACERS:
        raise EncodeError(f"layout {layout!r} is unknown (expected one of {', '.join(LAYOUT_NAMES)})")
    p = _PLACERS[layout](cfg)
    heap = p.heap
    blobs: list[tuple[int, bytes]] = []
    if cfg.initiator is not None:
        blobs.append((p.initiator_at, _initiator(cfg.initiator, heap)))
    nic_strings = []
    target_strings = []
    if p.order == "grouped":
        nic_strings = [heap.add(n.hostname, f"nic[{n.index}].hostname") for n in cfg.nics]
        target_strings = [_target_strings(t, heap) for t in cfg.targets]
    else:
        for i in range(max(len(cfg.nics), len(cfg.targets))):
            if i < len(cfg.nics):
                n = cfg.nics[i]
                nic_strings.append(heap.add(n.hostname, f"nic[{n.index}].hostname"))
            if i < len(cfg.targets):
                target_strings.append(_target_strings(cfg.targets[i], heap))
    for i, n in enumerate(cfg.nics):
        blobs.append((p.nic_at[i], _nic(n, nic_strings[i])))
    for i, t in enumerate(cfg.targets):
        blobs.append((p.target_at[i], _target(t, target_strings[i])))
    length = p.length()
    _u(length, 16, "table length")  # every offset in the table is 16 bits

    h = cfg.header or TableHeader()
    oem_id, oem_table_id = (h.oem_id, h.oem_table_id) if cfg.header else _DEFAULT_OEM[layout]
    if len(h.signature) != 4:
        raise EncodeError(f"header.signature {h.signature!r} must be 4 characters")
    buf = bytearray(length)
    buf[:S.HEADER_SIZE] = L.Header.build({
        "signature": _text(h.signature, "header.signature"),
        "length": length,
        "revision": _u(h.revision, 8, "header.revision"),
        "checksum": 0,
        "oem_id": _text(oem_id, "header.oem_id")[:6].ljust(6, b"\0"),
        "oem_table_id": _text(oem_table_id, "header.oem_table_id")[:8].ljust(8, b"\0"),
        "oem_revision": _u(h.oem_revision, 32, "header.oem_revision"),
        "creator_id": _u(h.creator_id, 32, "header.creator_id"),
        "creator_revision": _u(h.creator_revision, 32, "header.creator_revision"),
        "reserved": bytes(12),
    })
    control = bytearray(p.control_len)
    control[:6] = L.StructHeader.build({"id": S.ID_CONTROL, "version": 1, "length": p.control_len,
                                        "index": 0, "flags": _u(h.control_flags, 8, "control flags")})
    offsets = [p.initiator_at if cfg.initiator is not None else 0, *p.slots]
    for k, value in enumerate(offsets):
        control[8 + 2 * k:10 + 2 * k] = value.to_bytes(2, "little")
    buf[S.CONTROL_OFFSET:S.CONTROL_OFFSET + p.control_len] = control
    for off, blob in blobs + heap.items:
        buf[off:off + len(blob)] = blob
    buf[S.CHECKSUM_OFFSET] = (-sum(buf)) & 0xFF
    return bytes(buf)
