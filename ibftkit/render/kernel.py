"""What Linux and open-iscsi make of a table: the sysfs view and ``iscsistart -f`` records.

``render_iscsistart`` reads the emulated kernel view exactly as open-iscsi's
``usr/fwparam_ibft/fwparam_sysfs.c`` reads ``/sys/firmware/ibft`` and prints as
``fw_entry.c fw_print_entry`` does (``docs/ibft.md``, "Consumers"): targets in ``readdir``
order; a target is skipped when its flags are 0, it has no name, its ``nic-assoc`` names no NIC,
or that NIC has flags 0; a missing ``prefix-len`` reads as -1.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from .. import __version__
from ..infra.log import REDACTED
from ..model import BootConfig
from .kernel_view import SECRET_ATTRIBUTES, kernel_view, readdir_order


def render_sysfs(cfg: BootConfig, *, show_secrets: bool = False,
                 mac_to_ifname: Mapping[str, str] | None = None) -> str:
    view = kernel_view(cfg)
    lines: list[tuple[str, str]] = []
    for kobj, attrs in view.items():
        for attr, value in attrs.items():
            if attr in SECRET_ATTRIBUTES and not show_secrets:
                value = REDACTED
            lines.append((f"{kobj}/{attr}", value))
    lines.sort()  # by path, as `find /sys/firmware/ibft -type f | sort` lists them
    return "".join(f"{path}={value}\n" for path, value in lines)


def _int(value: str | None) -> int:
    """open-iscsi ``sysfs_get_int``: -1 when the attribute is missing, else ``atoi``."""
    if value is None:
        return -1
    digits = value.strip()
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    n = ""
    for c in digits:
        if not c.isdigit():
            break
        n += c
    return sign * int(n) if n else 0


def _optional(rec: list[tuple[str, str]]) -> Callable[[str, str | None], None]:
    """open-iscsi prints most keys only ``if (strlen(value))``."""

    def opt(key: str, value: str | None) -> None:
        if value:
            rec.append((key, value))

    return opt


NO_TARGETS = "Could not get list of targets from firmware."


def iscsistart_drops_nic_warning(nic_index: int, bdf: str, why: str) -> str:
    """The one warning for a NIC whose PCI address names a device with no network interface."""
    return (f"NIC[{nic_index}]: PCI address {bdf} {why}: the kernel links ethernet{nic_index}/device to it and "
            f"iscsistart -f drops the NIC (\"{NO_TARGETS}\", exit 21); ibftkit-init, which passes -t/-a, "
            "is not affected")


def iscsistart_records(cfg: BootConfig, *, show_secrets: bool = False,
                       mac_to_ifname: Mapping[str, str] | None = None,
                       messages: list[str] | None = None,
                       netless_pci: Collection[str] = ()) -> list[list[tuple[str, str]]]:
    """One ``[(key, value), ...]`` list per record ``iscsistart -f`` would print; the lines it
    prints instead of a record (``Invalid nic-assoc …``) are appended to ``messages``.

    ``netless_pci``: PCI addresses (``bb:dd.f``) that name a device on this machine with no network
    interface (driver not loaded, a NIC on another PCI segment — the iBFT has none —, the host
    bridge at 00:00.0). The kernel links ``ethernetN/device`` to such a device and open-iscsi's
    ``fwparam_sysfs.c`` (``get_iface_from_device``) then finds no interface and drops the NIC."""
    messages = [] if messages is None else messages
    view = kernel_view(cfg)
    if "initiator" not in view:
        return []
    macs = {k.lower(): v for k, v in (mac_to_ifname or {}).items()}
    initiator = view["initiator"]
    nic_dirs = [d for d in readdir_order(list(view)) if "ethernet" in d]
    records = []
    for tdir in (d for d in readdir_order(list(view)) if "target" in d):
        t = view[tdir]
        if _int(t.get("flags")) == 0 or "target-name" not in t or "ip-addr" not in t:
            continue
        assoc = _int(t.get("nic-assoc"))
        ndir = next((d for d in nic_dirs if _int(view[d].get("index")) == assoc), None)
        if ndir is None:
            messages.append(f"Invalid nic-assoc of {assoc}. Max id {len(nic_dirs)}.")
            continue
        n = view[ndir]
        if _int(n.get("flags")) == 0 or "mac" not in n:
            continue
        nic = cfg.nic_by_index(assoc)
        if nic is not None and nic.pci_bdf is not None and str(nic.pci_bdf) in netless_pci:
            continue
        rec: list[tuple[str, str]] = []
        opt = _optional(rec)
        opt("iface.initiatorname", initiator.get("initiator-name"))
        opt("iface.isid", initiator.get("isid"))
        rec.append(("iface.transport_name", "tcp"))
        opt("iface.hwaddress", n.get("mac"))
        dhcp = n.get("dhcp", "")
        proto = "DHCP" if _int(n.get("origin")) == 3 or (dhcp and dhcp != "0.0.0.0") else "STATIC"
        rec.append(("iface.bootproto", proto))
        opt("iface.ipaddress", n.get("ip-addr"))
        prefix = _int(n.get("prefix-len"))
        if prefix:
            rec.append(("iface.prefix_len", str(prefix)))
        opt("iface.subnet_mask", n.get("subnet-mask"))
        opt("iface.gateway", n.get("gateway"))
        opt("iface.primary_dns", n.get("primary-dns"))
        opt("iface.secondary_dns", n.get("secondary-dns"))
        opt("iface.vlan_id", n.get("vlan"))
        opt("iface.net_ifacename", macs.get(n.get("mac", "").lower()))
        opt("node.name", t.get("target-name"))
        opt("node.conn[0].address", t.get("ip-addr"))
        rec.append(("node.conn[0].port", str(_int(t["port"]) if "port" in t else 3260)))
        opt("node.session.auth.username", t.get("chap-name"))
        secret = t.get("chap-secret")
        opt("node.session.auth.password", secret if show_secrets or not secret else REDACTED)
        opt("node.session.auth.username_in", t.get("rev-chap-name"))
        rsecret = t.get("rev-chap-name-secret")
        opt("node.session.auth.password_in", rsecret if show_secrets or not rsecret else REDACTED)
        opt("node.boot_lun", t.get("lun"))
        records.append(rec)
    return records


def render_iscsistart(cfg: BootConfig, *, show_secrets: bool = False,
                      mac_to_ifname: Mapping[str, str] | None = None, netless_pci: Collection[str] = ()) -> str:
    """Records as ``iscsistart -f`` prints them to stdout on this machine, its own messages included
    (``netless_pci``: see ``iscsistart_records``)."""
    out: list[str] = []
    messages: list[str] = []
    records = iscsistart_records(cfg, show_secrets=show_secrets, mac_to_ifname=mac_to_ifname, messages=messages,
                                 netless_pci=netless_pci)
    out += [f"{m}\n" for m in messages]
    if not records:
        out.append(f"{NO_TARGETS}\n")
    for rec in records:
        out.append(f"# BEGIN RECORD ibftkit-{__version__}\n")
        out += [f"{k} = {v}\n" for k, v in rec]
        out.append("# END RECORD\n")
    return "".join(out)
