"""The Linux kernel's ``/sys/firmware/ibft`` view of a table, both ways.

``kernel_view(cfg)`` gives exactly the attributes ``drivers/firmware/iscsi_ibft.c`` would show and
formats each as it does (``shared/reference/ibft.md`` §4): IPv4-mapped addresses as ``%pI4``, others
as uncompressed ``%pI6``; each LUN byte ``%x`` unpadded; zero addresses hidden (except a target's
``ip-addr``); ``prefix-len``/``subnet-mask`` hidden for prefix 0; ``hostname`` shown when its offset
is set; CHAP secrets shown only with a CHAP name. Tables the kernel refuses give no view at all.

``load_sysfs_tree(path)`` reads such a tree (the kernel's, or a copy) back into a ``BootConfig``.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from ..errors import DecodeError, NoTableError
from ..model import (
    BootConfig,
    ChapType,
    Initiator,
    InitiatorFlags,
    IPAddress,
    Lun,
    Nic,
    NicFlags,
    Origin,
    Secret,
    TableHeader,
    Target,
    TargetFlags,
    is_null_ip,
    parse_ip,
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


def kernel_view(cfg: BootConfig) -> KernelView:
    """``{kobject: {attribute: value}}`` as Linux shows it (values without the trailing newline)."""
    if kernel_rejects(cfg):
        return {}
    view: KernelView = {}
    h = cfg.header or TableHeader()
    skip = set(h.linux_skips)
    view["acpi_header"] = {
        "signature": _kstr(h.signature[:4]),
        "oem_id": _kstr(h.oem_id[:6]),
        "oem_table_id": _kstr(h.oem_table_id[:8]),
    }
    i = cfg.initiator
    if i is not None and "initiator" not in skip:
        a = {"index": str(i.index), "flags": str(int(i.flags))}
        for attr, ip in (("isns-server", i.isns_server), ("slp-server", i.slp_server),
                         ("pri-radius-server", i.primary_radius_server),
                         ("sec-radius-server", i.secondary_radius_server)):
            if not is_null_ip(ip):
                a[attr] = format_ip(ip)
        if i.name:
            a["initiator-name"] = _kstr(i.name)
        view["initiator"] = a
    for n in cfg.nics:
        if f"ethernet{n.index}" in skip:
            continue
        a = {"index": str(n.index), "flags": str(int(n.flags)), "origin": str(int(n.origin)),
             "vlan": str(n.vlan), "mac": n.mac or "00:00:00:00:00:00"}
        for attr, ip in (("ip-addr", n.ip_address), ("gateway", n.gateway), ("primary-dns", n.primary_dns),
                         ("secondary-dns", n.secondary_dns), ("dhcp", n.dhcp_server)):
            if not is_null_ip(ip):
                a[attr] = format_ip(ip)
        if n.prefix_len:
            a["prefix-len"] = str(n.prefix_len)
            a["subnet-mask"] = subnet_mask(n.prefix_len)
        if n.hostname is not None:
            a["hostname"] = _kstr(n.hostname)
        view[f"ethernet{n.index}"] = a
    for t in cfg.targets:
        if f"target{t.index}" in skip:
            continue
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
        view[f"target{t.index}"] = a
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


# --- reading a tree back -------------------------------------------------------------------------


def _read_dir(d: Path) -> dict[str, str]:
    out = {}
    for f in sorted(d.iterdir()):
        if f.is_file() and not f.is_symlink():
            try:
                text = f.read_text("latin-1")
            except OSError as e:
                raise NoTableError(f"{f}: cannot read ({e.strerror}); reading iBFT attributes needs root "
                                   "(CAP_SYS_ADMIN)") from None
            out[f.name] = text[:-1] if text.endswith("\n") else text
    return out


def parse_kernel_lun(text: str) -> tuple[Lun, bool]:
    """Undo the kernel's unpadded ``%x`` per byte; returns (LUN, ambiguous)."""
    text = text.strip().lower()

    def splits(s: str, n: int) -> list[list[int]]:
        if n == 0:
            return [[]] if not s else []
        out = []
        if s and s[0] in "0123456789abcdef":
            out += [[int(s[0], 16), *rest] for rest in splits(s[1:], n - 1)]
        if len(s) >= 2 and s[0] != "0" and all(c in "0123456789abcdef" for c in s[:2]):
            out += [[int(s[:2], 16), *rest] for rest in splits(s[2:], n - 1)]
        return out

    options = splits(text, 8) if len(text) <= 16 else []
    if not options:
        raise ValueError(f"lun {text!r} is not 8 unpadded hex bytes")
    return Lun(bytes(options[0])), len(options) > 1


def _ip(v: dict[str, str], key: str, where: str) -> IPAddress | None:
    text = v.get(key)
    if text is None:
        return None
    try:
        return parse_ip(text)
    except ValueError:
        raise DecodeError(f"{text!r} is not an IP address", structure=where, field=key) from None


def _int(v: dict[str, str], key: str, where: str, default: int = 0) -> int:
    text = v.get(key)
    if text is None:
        return default
    try:
        return int(text, 10)
    except ValueError:
        raise DecodeError(f"{text!r} is not a number", structure=where, field=key) from None


def load_sysfs_tree(root: Path) -> BootConfig:
    """Read a ``/sys/firmware/ibft``-style tree into the model (lossy where the kernel's view is)."""
    root = Path(root)
    if not root.is_dir():
        raise NoTableError(f"{root}: no such directory")
    warnings: list[str] = [f"{root}: read from the kernel's sysfs view; the raw table "
                           "(/sys/firmware/acpi/tables/iBFT or a memory scan) holds more"]
    dirs = {d.name: d for d in root.iterdir() if d.is_dir()}
    if not dirs:
        raise NoTableError(f"{root}: empty; is the iscsi_ibft module loaded (modprobe iscsi_ibft)?")
    hv = _read_dir(dirs["acpi_header"]) if "acpi_header" in dirs else {}
    header = TableHeader(signature=hv.get("signature", "iBFT"), oem_id=hv.get("oem_id", ""),
                         oem_table_id=hv.get("oem_table_id", ""))
    initiator = None
    if "initiator" in dirs:
        v = _read_dir(dirs["initiator"])
        initiator = Initiator(
            name=v.get("initiator-name"), index=_int(v, "index", "initiator"),
            flags=InitiatorFlags(_int(v, "flags", "initiator", 3)),
            isns_server=_ip(v, "isns-server", "initiator"), slp_server=_ip(v, "slp-server", "initiator"),
            primary_radius_server=_ip(v, "pri-radius-server", "initiator"),
            secondary_radius_server=_ip(v, "sec-radius-server", "initiator"))
    nics, targets = [], []
    for name in sorted(dirs):
        v = _read_dir(dirs[name]) if name.startswith(("ethernet", "target")) else {}
        if name.startswith("ethernet"):
            nics.append(Nic(
                index=_int(v, "index", name), flags=NicFlags(_int(v, "flags", name)),
                ip_address=_ip(v, "ip-addr", name), prefix_len=_int(v, "prefix-len", name),
                origin=Origin(_int(v, "origin", name)), gateway=_ip(v, "gateway", name),
                primary_dns=_ip(v, "primary-dns", name), secondary_dns=_ip(v, "secondary-dns", name),
                dhcp_server=_ip(v, "dhcp", name), vlan=_int(v, "vlan", name),
                mac=v.get("mac"), hostname=v.get("hostname")))
        elif name.startswith("target"):
            try:
                lun, ambiguous = parse_kernel_lun(v.get("lun", "00000000"))
            except ValueError as e:
                raise DecodeError(str(e), structure=name, field="lun") from None
            if ambiguous:
                warnings.append(f"{name}.lun: {v.get('lun')!r} is ambiguous in the kernel's format; "
                                f"read as {lun.hex}")
            secret, rsecret = v.get("chap-secret"), v.get("rev-chap-name-secret")
            ip = _ip(v, "ip-addr", name)
            if ip is not None and is_null_ip(ip) and isinstance(ip, ipaddress.IPv6Address):
                ip = None
            targets.append(Target(
                index=_int(v, "index", name), flags=TargetFlags(_int(v, "flags", name)),
                ip_address=ip, port=_int(v, "port", name, 3260), lun=lun,
                chap_type=ChapType(_int(v, "chap-type", name)), nic_index=_int(v, "nic-assoc", name),
                name=v.get("target-name"), chap_name=v.get("chap-name"),
                chap_secret=None if secret is None else Secret(secret),
                reverse_chap_name=v.get("rev-chap-name"),
                reverse_chap_secret=None if rsecret is None else Secret(rsecret)))
    nics.sort(key=lambda n: n.index)
    targets.sort(key=lambda t: t.index)
    return BootConfig(initiator=initiator, nics=tuple(nics), targets=tuple(targets),
                      source=f"sysfs:{root}", warnings=tuple(warnings), header=header)
