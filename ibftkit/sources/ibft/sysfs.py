"""Reading a ``/sys/firmware/ibft`` tree (the kernel's, or a copy) back into a ``BootConfig``.

``load_sysfs_tree(path)`` reads the attributes ``drivers/firmware/iscsi_ibft.c`` shows, formatted as
it formats them (``shared/reference/ibft.md`` §4); the other direction, a table's kernel view, is
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
