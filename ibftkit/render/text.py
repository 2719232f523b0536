"""Renders for people (``text``) and tools (``json``)."""

from __future__ import annotations

import enum
import ipaddress
import json
from collections.abc import Mapping

from ..infra.log import REDACTED
from ..model import BootConfig, ChapType, IPAddress, Secret

_WIDTH = 14


def _flags(value: enum.IntFlag) -> str:
    names = [m.name.lower().replace("_", "-") for m in type(value) if m in value and m.name]
    unknown = int(value) & ~sum(int(m) for m in type(value))
    if unknown:
        names.append(f"0x{unknown:x}")
    return f"{int(value)} ({', '.join(names)})" if names else "0 (none)"


def _ip(ip: IPAddress | None) -> str:
    if ip is None:
        return "-"
    if isinstance(ip, ipaddress.IPv4Address) and int(ip) == 0:
        return "0.0.0.0 (null)"
    return str(ip)


def _secret(secret: Secret | None, show: bool) -> str:
    if secret is None:
        return "-"
    return secret.reveal() if show else REDACTED


def render_text(cfg: BootConfig, *, show_secrets: bool = False,
                mac_to_ifname: Mapping[str, str] | None = None) -> str:
    macs = {k.lower(): v for k, v in (mac_to_ifname or {}).items()}
    out: list[str] = []

    def row(key: str, value: object) -> None:
        out.append(f"  {key:<{_WIDTH}} {value}")

    h = cfg.header
    if h is not None:
        check = "ok" if h.checksum_ok else ("WRONG" if h.checksum_ok is False else "unknown")
        size = f"{h.length} bytes, " if h.length is not None else ""
        out.append(f"{h.signature} revision {h.revision}, {size}checksum {check}, "
                   f"OEM {h.oem_id or '-'}/{h.oem_table_id or '-'}")
    out.append(f"source: {cfg.source or '-'}")
    if cfg.warnings:
        out.append(f"warnings ({len(cfg.warnings)}):")
        out += [f"  ! {w}" for w in cfg.warnings]
    i = cfg.initiator
    if i is not None:
        out.append("initiator")
        row("name", i.name or "-")
        row("flags", _flags(i.flags))
        for key, ip in (("isns server", i.isns_server), ("slp server", i.slp_server),
                        ("radius 1", i.primary_radius_server), ("radius 2", i.secondary_radius_server)):
            if ip is not None:
                row(key, _ip(ip))
    for n in cfg.nics:
        here = macs.get((n.mac or "").lower())
        out.append(f"nic {n.index}" + (f" (this machine's {here})" if here else ""))
        row("flags", _flags(n.flags))
        row("mac", n.mac or "-")
        row("pci", n.pci_bdf or "-")
        address = f"{_ip(n.ip_address)}/{n.prefix_len}" if n.ip_address is not None else "-"
        row("address", f"{address}  origin {int(n.origin)} ({n.origin.name.lower()})")
        row("gateway", _ip(n.gateway))
        dns = [_ip(x) for x in (n.primary_dns, n.secondary_dns) if x is not None]
        row("dns", ", ".join(dns) or "-")
        row("dhcp server", _ip(n.dhcp_server))
        vlan = str(n.vlan) if n.vlan <= 4095 else f"{n.vlan} (TCI? VID {n.vlan_id})"
        row("vlan", vlan)
        row("hostname", n.hostname if n.hostname is not None else "-")
    for t in cfg.targets:
        out.append(f"target {t.index}")
        row("flags", _flags(t.flags))
        host = t.address or "-"
        if t.ip_address is not None and t.ip_address.version == 6:
            host = f"[{host}]"
        row("portal", f"{host}:{t.port}")
        row("name", t.name or "-")
        row("lun", f"{t.lun.linux} (RFC 4173 {t.lun.text}, bytes {t.lun.hex})")
        row("nic", t.nic_index)
        chap = {ChapType.NONE: "none", ChapType.CHAP: "one-way", ChapType.MUTUAL: "mutual"}.get(
            t.chap_type, f"unknown ({int(t.chap_type)})")
        row("chap", chap)
        if t.chap_name is not None or t.chap_secret is not None:
            row("chap user", t.chap_name or "-")
            row("chap secret", _secret(t.chap_secret, show_secrets))
        if t.reverse_chap_name is not None or t.reverse_chap_secret is not None:
            row("reverse user", t.reverse_chap_name or "-")
            row("reverse secret", _secret(t.reverse_chap_secret, show_secrets))
    return "\n".join(out) + "\n"


def render_json(cfg: BootConfig, *, show_secrets: bool = False,
                mac_to_ifname: Mapping[str, str] | None = None) -> str:
    return json.dumps(cfg.to_dict(show_secrets=show_secrets), indent=2) + "\n"
