"""The Linux kernel's ``/sys/firmware/ibft`` view of a table (a renderer's input; pure).

``kernel_view(cfg)`` gives exactly the attributes ``drivers/firmware/iscsi_ibft.c`` would show and
formats each as it does (``iscsi_ibft.c``, ``iscsi_boot_sysfs.c``; ``docs/ibft.md``, "Consumers"):
IPv4-mapped addresses as ``%pI4``, others as uncompressed ``%pI6``; each LUN byte ``%x`` unpadded;
zero addresses hidden (except a target's ``ip-addr``); ``prefix-len``/``subnet-mask`` hidden for
prefix 0; ``hostname`` shown when its offset is set; CHAP secrets shown only with a CHAP name.
Tables the kernel refuses give no view at all.
``readdir_order`` gives the order the kernel lists such a directory in (kernfs name hash).

The way back (reading such a tree into a ``BootConfig``) is ``ibftkit.sources.ibft.sysfs``.
"""

from __future__ import annotations

import ipaddress

from ..model import (
    BootConfig,
    Initiator,
    IPAddress,
    Nic,
    TableHeader,
    Target,
    is_null_ip,
)

KernelView = dict[str, dict[str, str]]


def format_ip(ip: IPAddress | None) -> str:
    """The kernel's ``sprintf_ipaddr``: ``%pI4`` for IPv4-mapped, else ``%pI6`` (never compressed)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    return (ip or ipaddress.IPv6Address(0)).exploded


def subnet_mask(prefix: int) -> str:
    """``%pI4`` of ``~((1 << (32 - prefix)) - 1)``; since 07e0d99a2f70 a prefix above 32 gives all ones."""
    if prefix >= 32:
        return "255.255.255.255"
    return str(ipaddress.IPv4Address((~((1 << (32 - prefix)) - 1)) & 0xFFFFFFFF))


def _kstr(value: str) -> str:
    """``%.*s`` stops at the first NUL."""
    return value.split("\0", 1)[0]


def kernel_rejects(cfg: BootConfig) -> str | None:
    """Why Linux would show no ``/sys/firmware/ibft`` for this table, or ``None``."""
    h = cfg.header
    if h is not None:
        if h.checksum_ok is False:
            return "bad checksum (iBFT has incorrect checksum)"
        if h.revision != 1:
            return f"revision {h.revision} (iBFT module supports only revision 1)"
        if h.linux_rejects:
            return h.linux_rejects
    for kind, items in (("ethernet", cfg.nics), ("target", cfg.targets)):
        indices = [x.index for x in items]
        if len(set(indices)) != len(indices):
            return f"duplicate {kind} index: two kobjects with one name"
    return None


def _ips(pairs: tuple[tuple[str, IPAddress | None], ...]) -> dict[str, str]:
    """The address attributes the kernel shows: zero addresses hidden."""
    return {attr: format_ip(ip) for attr, ip in pairs if not is_null_ip(ip)}


def _initiator_view(i: Initiator) -> dict[str, str]:
    a = {"index": str(i.index), "flags": str(int(i.flags))}
    a.update(_ips((("isns-server", i.isns_server), ("slp-server", i.slp_server),
                   ("pri-radius-server", i.primary_radius_server),
                   ("sec-radius-server", i.secondary_radius_server))))
    if i.name:
        a["initiator-name"] = _kstr(i.name)
    return a


def _nic_view(n: Nic) -> dict[str, str]:
    a = {"index": str(n.index), "flags": str(int(n.flags)), "origin": str(n.stored_origin),
         "vlan": str(n.vlan), "mac": n.mac or "00:00:00:00:00:00"}
    a.update(_ips((("ip-addr", n.ip_address), ("gateway", n.gateway), ("primary-dns", n.primary_dns),
                   ("secondary-dns", n.secondary_dns), ("dhcp", n.dhcp_server))))
    if n.prefix_len:
        a["prefix-len"] = str(n.prefix_len)
        a["subnet-mask"] = subnet_mask(n.prefix_len)
    if n.hostname is not None:
        a["hostname"] = _kstr(n.hostname)
    return a


def _target_view(t: Target) -> dict[str, str]:
    a = {"index": str(t.index), "flags": str(int(t.flags)), "ip-addr": format_ip(t.ip_address),
         "port": str(t.port), "lun": t.lun.sysfs, "chap-type": str(int(t.chap_type)),
         "nic-assoc": str(t.nic_index)}
    if t.name:
        a["target-name"] = _kstr(t.name)
    if t.chap_name:
        a["chap-name"] = _kstr(t.chap_name)
        a["chap-secret"] = _kstr(t.chap_secret.reveal()) if t.chap_secret else ""
    if t.reverse_chap_name:
        a["rev-chap-name"] = _kstr(t.reverse_chap_name)
        a["rev-chap-name-secret"] = _kstr(t.reverse_chap_secret.reveal()) if t.reverse_chap_secret else ""
    return a


def kernel_view(cfg: BootConfig) -> KernelView:
    """``{kobject: {attribute: value}}`` as Linux shows it (values without the trailing newline);
    ``{}`` for a table the kernel refuses (``kernel_rejects``)."""
    if kernel_rejects(cfg):
        return {}
    h = cfg.header or TableHeader()
    skip = set(h.linux_skips)
    view: KernelView = {"acpi_header": {
        "signature": _kstr(h.signature[:4]),
        "oem_id": _kstr(h.oem_id[:6]),
        "oem_table_id": _kstr(h.oem_table_id[:8]),
    }}
    if cfg.initiator is not None and "initiator" not in skip:
        view["initiator"] = _initiator_view(cfg.initiator)
    for n in cfg.nics:
        if f"ethernet{n.index}" not in skip:
            view[f"ethernet{n.index}"] = _nic_view(n)
    for t in cfg.targets:
        if f"target{t.index}" not in skip:
            view[f"target{t.index}"] = _target_view(t)
    return view


SECRET_ATTRIBUTES = ("chap-secret", "rev-chap-name-secret")


def kernfs_hash(name: str) -> int:
    """``kernfs_name_hash`` (fs/kernfs/dir.c): the order ``readdir`` lists a sysfs directory in."""
    mask = (1 << 64) - 1
    h = 0
    for c in name.encode():
        h = ((h + (c << 4) + (c >> 4)) * 11) & mask  # partial_name_hash
    h = ((h * 0x61C8864680B583EB) & mask) >> 32  # end_name_hash = hash_long(h, 32)
    h &= 0x7FFFFFFF
    if h < 2:
        h += 2
    if h >= 0x7FFFFFFF:
        h = 0x7FFFFFFE
    return h


def readdir_order(names: list[str]) -> list[str]:
    return sorted(names, key=lambda n: (kernfs_hash(n), n))
