"""Reading a ``/sys/firmware/ibft`` tree (the kernel's, or a copy) back into a ``BootConfig``.

``load_sysfs_tree(path)`` reads the attributes ``drivers/firmware/iscsi_ibft.c`` shows, formatted as
it formats them (``docs/ibft.md``, "Consumers"); the other direction, a table's kernel view, is
``ibftkit.render.kernel_view``.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from ...infra.errors import DecodeError, NoTableError
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
    Secret,
    TableHeader,
    Target,
    TargetFlags,
    is_null_ip,
    parse_ip,
)


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


#: Attributes ``drivers/firmware/iscsi_ibft.c`` always shows (``ibft_check_*_for``): their absence
#: means a hand-edited or partial tree. Each gets one rule (the value used) and a warning.
ALWAYS_SHOWN: dict[str, dict[str, str | None]] = {
    "initiator": {"index": "0", "flags": "3"},
    "ethernet": {"index": None, "flags": "3", "origin": "0", "vlan": "0"},
    "target": {"index": None, "flags": "3", "ip-addr": None, "port": "3260", "lun": "00000000", "chap-type": "0",
               "nic-assoc": "0"},
}


def _fill_absent(v: dict[str, str], kind: str, name: str, warnings: list[str]) -> dict[str, str]:
    """``v`` with each always-shown attribute that is absent filled by its rule, and a warning.

    ``index`` comes from the directory name (the kernel names ``ethernet<index>``/``target<index>``
    after it); an ``index`` that contradicts the name is kept (it is the table's field) and warned
    about; absent ``flags`` read as 3 (valid, boot-selected: open-iscsi's ``sysfs_get_int`` reads an
    absent integer as -1, all bits set)."""
    out = dict(v)
    digits = name[len(kind):] if kind != "initiator" else "0"
    for attr, default in ALWAYS_SHOWN[kind].items():
        if attr in out:
            continue
        if attr == "index":
            default = digits if digits.isdigit() else "0"
        if default is None:
            warnings.append(f"{name}/{attr}: absent (the kernel always shows it): left unset")
            continue
        warnings.append(f"{name}/{attr}: absent (the kernel always shows it): read as {default}")
        out[attr] = default
    if kind != "initiator" and digits.isdigit() and out.get("index", digits).strip() != digits:
        warnings.append(f"{name}/index: {out['index'].strip()} contradicts the directory name; "
                        f"the attribute (the table's field) is used")
    return out


def _prefix(v: dict[str, str], name: str, ip: IPAddress | None, warnings: list[str]) -> int:
    """The NIC's prefix: ``prefix-len`` when present; else from ``subnet-mask`` (a kernel before the
    2010 sysfs rework, RHEL 5 / SLES 10-11, shows only the mask; open-iscsi ``fwparam_sysfs.c`` and
    dracut ``net-lib.sh`` ``ibft_to_cmdline`` read the mask too); else 0 (the kernel hides both for
    prefix 0). A mask that is not contiguous, or that contradicts ``prefix-len``, is warned about."""
    mask_text = v.get("subnet-mask")
    prefix = _int(v, "prefix-len", name, -1) if "prefix-len" in v else None
    from_mask = None
    mask_text = None if mask_text is None else mask_text
    if mask_text is not None:
        try:
            mask = int(ipaddress.IPv4Address(mask_text))
        except ValueError:
            raise DecodeError(f"{mask_text!r} is not a dotted-quad mask", structure=name, field="subnet-mask") from None
        from_mask = bin(mask).count("1")
        if mask != (0xFFFFFFFF << (32 - from_mask)) & 0xFFFFFFFF:
            warnings.append(f"{name}/subnet-mask: {mask_text} is not contiguous; read as /{from_mask} "
                            "(its count of one bits)")
    if prefix is not None:
        if from_mask is not None and from_mask != prefix and not (prefix > 32 and from_mask == 32):
            warnings.append(f"{name}: prefix-len {prefix} contradicts subnet-mask {mask_text!r} (/{from_mask}); "
                            "prefix-len (the table's field) is used")
        return prefix
    if from_mask is not None:
        if ip is not None and ip.version == 6:
            warnings.append(f"{name}: IPv6 address with subnet-mask {mask_text!r} and no prefix-len: the mask "
                            "cannot give an IPv6 prefix; read as 0")
            return 0
        warnings.append(f"{name}: no prefix-len (a kernel before the 2010 iBFT sysfs rework shows only "
                        f"subnet-mask); prefix /{from_mask} read from subnet-mask {mask_text}, as "
                        "open-iscsi and dracut read it")
        return from_mask
    if ip is not None and not is_null_ip(ip):
        warnings.append(f"{name}: ip-addr {ip} with neither prefix-len nor subnet-mask: read as prefix 0 "
                        "(the kernel hides both for prefix 0)")
    return 0


def load_sysfs_tree(root: Path) -> BootConfig:
    """Read a ``/sys/firmware/ibft``-style tree into the model (lossy where the kernel's view is).

    Trees from support tickets are often partial, hand-edited or from old kernels: every absent
    or contradictory attribute gets one rule and a warning (``ALWAYS_SHOWN``, ``_prefix``)."""
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
        v = _fill_absent(_read_dir(dirs["initiator"]), "initiator", "initiator", warnings)
        initiator = Initiator(
            name=v.get("initiator-name"), index=_int(v, "index", "initiator"),
            flags=InitiatorFlags(_int(v, "flags", "initiator", 3)),
            isns_server=_ip(v, "isns-server", "initiator"), slp_server=_ip(v, "slp-server", "initiator"),
            primary_radius_server=_ip(v, "pri-radius-server", "initiator"),
            secondary_radius_server=_ip(v, "sec-radius-server", "initiator"))
    nics, targets = [], []
    for name in sorted(dirs):
        if name.startswith("ethernet"):
            v = _fill_absent(_read_dir(dirs[name]), "ethernet", name, warnings)
            if "mac" not in v:
                warnings.append(f"{name}/mac: absent (the kernel always shows it): no MAC to find the link by")
            ip = _ip(v, "ip-addr", name)
            nics.append(Nic(
                index=_int(v, "index", name), flags=NicFlags(_int(v, "flags", name)),
                ip_address=ip, prefix_len=_prefix(v, name, ip, warnings),
                origin=Origin(_int(v, "origin", name)), gateway=_ip(v, "gateway", name),
                primary_dns=_ip(v, "primary-dns", name), secondary_dns=_ip(v, "secondary-dns", name),
                dhcp_server=_ip(v, "dhcp", name), vlan=_int(v, "vlan", name),
                mac=v.get("mac"), hostname=v.get("hostname")))
        elif name.startswith("target"):
            v = _fill_absent(_read_dir(dirs[name]), "target", name, warnings)
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
