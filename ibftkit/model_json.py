"""The JSON form of a ``BootConfig`` (``ibftkit decode --format json``, ``ibftkit encode`` input).

``config_to_dict(cfg, show_secrets=False)`` gives plain JSON types (addresses as text, LUNs as
``"0-1-0-0"`` text, flags as integers, CHAP secrets redacted unless shown); ``config_from_dict(d)``
is its inverse and raises ``ModelError`` naming the key at fault. The field names are
``docs/model.md``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .infra.errors import ModelError
from .infra.log import REDACTED
from .model import (
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
    normalize_mac,
    parse_ip,
)

#: id(value) -> (the value, its text), for addresses and PCI addresses: the decoder hands out one
#: object per distinct value, so a fleet of tables formats each gateway, DNS server and portal once;
#: holding the value keeps its id from being reused while the entry lives
_TEXT: dict[int, tuple[object, str]] = {}


def _text(value: IPAddress | PciAddress | None) -> str | None:
    """``str(value)`` (``None`` stays ``None``), formatted once per object."""
    if value is None:
        return None
    hit = _TEXT.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    if len(_TEXT) >= 4096:
        _TEXT.clear()
    text = str(value)
    _TEXT[id(value)] = (value, text)
    return text


_ip_text = _text


_LUN_LINUX: dict[bytes, int] = {}


def _lun_linux(lun: Lun) -> int:
    """``lun.linux``, computed once per distinct LUN (a fleet boots from a handful)."""
    value = _LUN_LINUX.get(lun.raw)
    if value is None:
        if len(_LUN_LINUX) >= 4096:
            _LUN_LINUX.clear()
        value = _LUN_LINUX[lun.raw] = lun.linux
    return value


def _secret_text(secret: Secret | None, show: bool) -> str | None:
    if secret is None:
        return None
    return secret.reveal() if show else REDACTED


def config_to_dict(cfg: BootConfig, *, show_secrets: bool = False) -> dict[str, Any]:
    h = cfg.header
    header = None if h is None else {
        "signature": h.signature,
        "length": h.length,
        "revision": h.revision,
        "checksum_ok": h.checksum_ok,
        "oem_id": h.oem_id,
        "oem_table_id": h.oem_table_id,
    }
    i = cfg.initiator
    initiator = None if i is None else {
        "index": i.index,
        "flags": int(i.flags),
        "name": i.name,
        "isns_server": _ip_text(i.isns_server),
        "slp_server": _ip_text(i.slp_server),
        "primary_radius_server": _ip_text(i.primary_radius_server),
        "secondary_radius_server": _ip_text(i.secondary_radius_server),
    }
    nics = [{
        "index": n.index,
        "flags": int(n.flags),
        "ip_address": _ip_text(n.ip_address),
        "prefix_len": n.prefix_len,
        "origin": int(n.origin),
        "gateway": _ip_text(n.gateway),
        "primary_dns": _ip_text(n.primary_dns),
        "secondary_dns": _ip_text(n.secondary_dns),
        "dhcp_server": _ip_text(n.dhcp_server),
        "vlan": n.vlan,
        "mac": n.mac,
        "pci_bdf": _text(n.pci_bdf),
        "hostname": n.hostname,
    } for n in cfg.nics]
    targets = [{
        "index": t.index,
        "flags": int(t.flags),
        "ip_address": t.server_name if t.ip_address is None else _text(t.ip_address),  # t.address
        "port": t.port,
        "lun": _lun_linux(t.lun),
        "lun_bytes": t.lun.hex,
        "chap_type": int(t.chap_type),
        "nic_index": t.nic_index,
        "name": t.name,
        "chap_name": t.chap_name,
        "chap_secret": _secret_text(t.chap_secret, show_secrets),
        "reverse_chap_name": t.reverse_chap_name,
        "reverse_chap_secret": _secret_text(t.reverse_chap_secret, show_secrets),
    } for t in cfg.targets]
    return {
        "source": cfg.source,
        "header": header,
        "initiator": initiator,
        "nics": nics,
        "targets": targets,
        "warnings": list(cfg.warnings),
    }


def _get(d: Mapping[str, Any], key: str, where: str, default: Any = None) -> Any:
    if not isinstance(d, Mapping):
        raise ModelError(f"{where}: expected an object, got {type(d).__name__}")
    return d.get(key, default)


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    """``nics``/``targets``: a JSON array (absent or null: none)."""
    value = _get(data, key, "model") or []
    if not isinstance(value, list):
        raise ModelError(f"{key}: expected a list, got {type(value).__name__}")
    return value


def _int(value: Any, where: str, lo: int, hi: int, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelError(f"{where}: expected an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ModelError(f"{where}: {value} out of range {lo}..{hi}")
    return value


def _str(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ModelError(f"{where}: expected text, got {value!r}")
    return value


def _ip(value: Any, where: str) -> IPAddress | None:
    text = _str(value, where)
    try:
        return parse_ip(text)
    except ValueError:
        raise ModelError(f"{where}: {text!r} is not an IP address") from None


def _secret(value: Any, where: str) -> Secret | None:
    text = _str(value, where)
    if text == REDACTED:
        raise ModelError(f"{where}: the secret is redacted; use the output of 'decode --show-secrets'")
    return None if text is None else Secret(text)


def config_from_dict(data: Mapping[str, Any]) -> BootConfig:
    """The inverse of ``config_to_dict`` (with secrets shown). Raises ``ModelError`` naming the key."""
    h = _get(data, "header", "model")
    header = None
    if h is not None:
        header = TableHeader(
            signature=_str(_get(h, "signature", "header"), "header.signature") or "iBFT",
            revision=_int(_get(h, "revision", "header"), "header.revision", 0, 255, 1),
            oem_id=_str(_get(h, "oem_id", "header"), "header.oem_id") or "",
            oem_table_id=_str(_get(h, "oem_table_id", "header"), "header.oem_table_id") or "",
            length=_get(h, "length", "header"),
            checksum_ok=_get(h, "checksum_ok", "header"),
        )
    i = _get(data, "initiator", "model")
    initiator = None
    if i is not None:
        initiator = Initiator(
            index=_int(_get(i, "index", "initiator"), "initiator.index", 0, 255),
            flags=InitiatorFlags(_int(_get(i, "flags", "initiator"), "initiator.flags", 0, 255, 3)),
            name=_str(_get(i, "name", "initiator"), "initiator.name"),
            isns_server=_ip(_get(i, "isns_server", "initiator"), "initiator.isns_server"),
            slp_server=_ip(_get(i, "slp_server", "initiator"), "initiator.slp_server"),
            primary_radius_server=_ip(_get(i, "primary_radius_server", "initiator"),
                                      "initiator.primary_radius_server"),
            secondary_radius_server=_ip(_get(i, "secondary_radius_server", "initiator"),
                                        "initiator.secondary_radius_server"),
        )
    nics = []
    for k, n in enumerate(_list(data, "nics")):
        w = f"nics[{k}]"
        mac = _str(_get(n, "mac", w), f"{w}.mac")
        bdf = _str(_get(n, "pci_bdf", w), f"{w}.pci_bdf")
        try:
            mac = None if mac is None else normalize_mac(mac)
            pci = None if bdf is None else PciAddress.parse(bdf)
        except ValueError as e:
            raise ModelError(f"{w}: {e}") from None
        nics.append(Nic(
            index=_int(_get(n, "index", w), f"{w}.index", 0, 255),
            flags=NicFlags(_int(_get(n, "flags", w), f"{w}.flags", 0, 255, 3)),
            ip_address=_ip(_get(n, "ip_address", w), f"{w}.ip_address"),
            prefix_len=_int(_get(n, "prefix_len", w), f"{w}.prefix_len", 0, 255),
            origin=Origin(_int(_get(n, "origin", w), f"{w}.origin", 0, 255, 1)),
            gateway=_ip(_get(n, "gateway", w), f"{w}.gateway"),
            primary_dns=_ip(_get(n, "primary_dns", w), f"{w}.primary_dns"),
            secondary_dns=_ip(_get(n, "secondary_dns", w), f"{w}.secondary_dns"),
            dhcp_server=_ip(_get(n, "dhcp_server", w), f"{w}.dhcp_server"),
            vlan=_int(_get(n, "vlan", w), f"{w}.vlan", 0, 0xFFFF),
            mac=mac,
            pci_bdf=pci,
            hostname=_str(_get(n, "hostname", w), f"{w}.hostname"),
        ))
    targets = []
    for k, t in enumerate(_list(data, "targets")):
        w = f"targets[{k}]"
        addr = _str(_get(t, "ip_address", w), f"{w}.ip_address")
        try:
            ip, server_name = parse_ip(addr), None
        except ValueError:
            ip, server_name = None, addr
        lun_bytes = _str(_get(t, "lun_bytes", w), f"{w}.lun_bytes")
        try:
            if lun_bytes is not None:
                lun = Lun.from_hex(lun_bytes)
            else:
                lun = Lun.from_linux(_int(_get(t, "lun", w), f"{w}.lun", 0, (1 << 64) - 1))
        except ValueError as e:
            raise ModelError(f"{w}.lun_bytes: {e}") from None
        targets.append(Target(
            index=_int(_get(t, "index", w), f"{w}.index", 0, 255),
            flags=TargetFlags(_int(_get(t, "flags", w), f"{w}.flags", 0, 255, 3)),
            ip_address=ip,
            server_name=server_name,
            port=_int(_get(t, "port", w), f"{w}.port", 0, 0xFFFF, 3260),
            lun=lun,
            chap_type=ChapType(_int(_get(t, "chap_type", w), f"{w}.chap_type", 0, 255)),
            nic_index=_int(_get(t, "nic_index", w), f"{w}.nic_index", 0, 255),
            name=_str(_get(t, "name", w), f"{w}.name"),
            chap_name=_str(_get(t, "chap_name", w), f"{w}.chap_name"),
            chap_secret=_secret(_get(t, "chap_secret", w), f"{w}.chap_secret"),
            reverse_chap_name=_str(_get(t, "reverse_chap_name", w), f"{w}.reverse_chap_name"),
            reverse_chap_secret=_secret(_get(t, "reverse_chap_secret", w), f"{w}.reverse_chap_secret"),
        ))
    warnings = _get(data, "warnings", "model", []) or []
    return BootConfig(
        initiator=initiator,
        nics=tuple(nics),
        targets=tuple(targets),
        source=_str(_get(data, "source", "model"), "source") or "",
        warnings=tuple(str(w) for w in warnings),
        header=header,
    )
