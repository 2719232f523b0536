"""Installer renders: Anaconda kickstart lines and a dracut kernel command line, from the model.

Whatever the source (iBFT, root path, DHCP), the same ``BootConfig`` gives:

``kickstart`` (pykickstart ``commands/iscsiname.py``, ``iscsi.py``, ``network.py``;
``docs/rootpath.md``, "Sources"): ``iscsiname`` first (it must precede ``iscsi``), one
``network`` line per NIC a valid target uses (``--device`` is the interface name when known,
else the MAC, which Anaconda also accepts), then one ``iscsi --ipaddr --port --target`` line per
valid target, boot target first. Kickstart has no LUN option (Anaconda logs in to the target and
sees all its LUNs): the boot LUN is a comment. A ``%pre`` script writes these lines to a file
for ``%include``.

``dracut`` (dracut.cmdline(7); ``parse_iscsi_root`` in dracut's ``modules.d/40network/net-lib.sh``):
``rd.iscsi.initiator=``, one
``netroot=iscsi:[user:password[:ruser:rpassword]@]server::port:lun:target`` per target,
``ip=<ip>::<gw>:<netmask>:<hostname>:<dev>:none[:<dns1>[:<dns2>]]`` (or ``ip=<dev>:dhcp``) per
NIC, ``ifname=ibft<N>:<mac>`` when the interface name is not known, ``vlan=<dev>.<vid>:<dev>``,
``rd.route=<target>/<len>:<gw>:<dev>`` for a target off its NIC's subnet, and ``rd.neednet=1``.
The LUN is written in **decimal** because dracut reads that field as a decimal by-path suffix
(its own host-only generator writes decimal LUNs), not as RFC 4173 hexadecimal; 0 is left empty,
and so is a LUN of 256 or more (by-path calls it ``lun-0x…``), with a comment; dracut logs in to
the whole target either way.

CHAP secrets are left out unless ``show_secrets``; a ``#`` comment then says what was left out
(remove comment lines before using the dracut output as a kernel command line). Note that with
secrets the dracut form puts them on the kernel command line, readable in ``/proc/cmdline``.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Mapping

from ..model import BootConfig, ChapType, Nic, Target, TargetPath, is_null_ip, target_path


def _q(value: object) -> str:
    return shlex.quote(str(value))


def _iface_key(nic: Nic, macs: Mapping[str, str]) -> tuple[str, int]:
    """One interface: its name when known, else its MAC, with the VLAN it carries."""
    return (_device(nic, macs) or (nic.mac or "").lower() or f"#{nic.index}", nic.vlan_id)


def _interfaces(cfg: BootConfig, macs: Mapping[str, str]) -> tuple[list[Nic], dict[int, int], list[str]]:
    """The NICs to configure, one per interface (boot NIC first), the NIC index each used NIC
    maps to, and notes on NIC structures that repeat an interface.

    Firmware that writes one NIC structure per target or per attempt (iPXE after several
    ``sanhook`` commands, EDK2 per attempt) names one interface several times; configuring it
    once is what the network plan does, and what dracut needs (one ``ifname=`` per MAC)."""
    first: dict[tuple[str, int], Nic] = {}
    alias: dict[int, int] = {}
    notes: list[str] = []
    for nic in cfg.used_nics():
        key = _iface_key(nic, macs)
        keep = first.setdefault(key, nic)
        alias[nic.index] = keep.index
        if keep is not nic:
            same = (nic.ip_address, nic.prefix_len, nic.is_dhcp) == (keep.ip_address, keep.prefix_len, keep.is_dhcp)
            what = "same address" if same else f"a different address ({nic.ip_address}/{nic.prefix_len}), not used"
            notes.append(f"# NIC[{nic.index}] names the interface of NIC[{keep.index}] again (MAC {nic.mac}, "
                         f"{what}): configured once, as NIC[{keep.index}]")
    return list(first.values()), alias, notes


def _device(nic: Nic, macs: Mapping[str, str]) -> str | None:
    if nic.ifname:
        return nic.ifname
    if nic.mac:
        return macs.get(nic.mac.lower())
    return None


def _has_chap(t: Target) -> bool:
    return t.chap_type in (ChapType.CHAP, ChapType.MUTUAL) and t.chap_secret is not None and len(t.chap_secret) > 0


def _mutual(t: Target) -> bool:
    return (t.chap_type == ChapType.MUTUAL and t.reverse_chap_secret is not None
            and len(t.reverse_chap_secret) > 0)


def _dns(nic: Nic) -> list[str]:
    return [str(d) for d in (nic.primary_dns, nic.secondary_dns) if not is_null_ip(d)]


def _gateway(nic: Nic) -> str | None:
    gw = nic.gateway_address
    return None if gw is None else str(gw)


def _boot_nic_index(cfg: BootConfig) -> int | None:
    nic = cfg.boot_nic()
    return None if nic is None else nic.index


# --- kickstart -----------------------------------------------------------------------------------


def _kickstart_nic(nic: Nic, boot_nic: int | None) -> list[str]:
    """The ``network`` options for one NIC, in the forms pykickstart documents
    (``pykickstart/commands/network.py``: ``--bootproto`` is IPv4 only; ``--noipv4`` with
    ``--ipv6=<addr>/<prefix>``, ``--ipv6=dhcp`` (DHCPv6) or ``--ipv6=auto`` (SLAAC))."""
    iface = None if is_null_ip(nic.ip_address) else nic.interface
    gw = _gateway(nic) if nic.index == boot_nic else None
    args: list[str] = []
    dynamic = nic.is_dhcp or nic.is_slaac or iface is None
    if nic.family == 6 and dynamic:
        args += ["--noipv4", "--ipv6=dhcp" if nic.is_dhcp or iface is None else "--ipv6=auto"]
    elif dynamic:
        args.append("--bootproto=dhcp")
    elif isinstance(iface, ipaddress.IPv4Interface):
        args += ["--bootproto=static", f"--ip={iface.ip}", f"--netmask={iface.netmask}"]
        if gw:
            args.append(f"--gateway={gw}")
    else:
        args += ["--noipv4", f"--ipv6={iface}"]
        if gw:
            args.append(f"--ipv6gateway={gw}")
    dns = _dns(nic)
    if dns and not dynamic:
        args.append(f"--nameserver={','.join(dns)}")
    if nic.hostname:
        args.append(f"--hostname={_q(nic.hostname)}")
    if nic.vlan_id:
        args.append(f"--vlanid={nic.vlan_id}")
    return args


def render_kickstart(cfg: BootConfig, *, show_secrets: bool = False,
                     mac_to_ifname: Mapping[str, str] | None = None) -> str:
    macs = {k.lower(): v for k, v in (mac_to_ifname or {}).items()}
    targets = cfg.login_order()
    out = [f"# iSCSI boot disk, generated by ibftkit from {cfg.source or 'the boot configuration'}"]
    name = cfg.initiator.name if cfg.initiator is not None else None
    if name:
        out.append(f"iscsiname {_q(name)}")
    else:
        out.append("# no initiator name in the boot configuration: add an 'iscsiname' line")
    boot_nic = _boot_nic_index(cfg)
    nics, alias, repeats = _interfaces(cfg, macs)
    out += repeats
    for nic in nics:
        device = _device(nic, macs) or nic.mac
        if device is None:
            out.append(f"# NIC[{nic.index}] has neither an interface name nor a MAC: no network line")
            continue
        out.append("network " + " ".join([f"--device={_q(device)}", *_kickstart_nic(nic, boot_nic)]))
    devices = {n.index: _device(n, macs) or n.mac or f"NIC[{n.index}]" for n in nics}
    for t in targets:
        if t.ip_address is not None and t.ip_address.is_link_local:
            dev = devices.get(alias.get(t.nic_index, -1), f"NIC[{t.nic_index}]")
            out.append(_LINK_LOCAL.format(t=t, dev=dev))
        args = [f"--ipaddr={_q(t.address)}", f"--port={t.port}"]
        if t.name:
            args.append(f"--target={_q(t.name)}")
        if _has_chap(t):
            assert t.chap_secret is not None
            if show_secrets:
                if t.chap_name:
                    args.append(f"--user={_q(t.chap_name)}")
                args.append(f"--password={_q(t.chap_secret.reveal())}")
                if _mutual(t):
                    assert t.reverse_chap_secret is not None
                    if t.reverse_chap_name:
                        args.append(f"--reverse-user={_q(t.reverse_chap_name)}")
                    args.append(f"--reverse-password={_q(t.reverse_chap_secret.reveal())}")
            else:
                kind = "mutual CHAP" if _mutual(t) else "CHAP"
                out.append(f"# target[{t.index}] uses {kind}: credentials left out (ibftkit kickstart "
                           "--show-secrets includes them)")
        role = "boot target" if t is targets[0] else "another path"
        out.append(f"# target[{t.index}]: {role}, LUN {t.lun.linux} (kickstart logs in to every LUN)")
        out.append("iscsi " + " ".join(args))
    if not targets:
        out.append("# no valid target in the boot configuration")
    return "\n".join(out) + "\n"


# --- dracut --------------------------------------------------------------------------------------


def _host(address: str | None) -> str:
    a = address or ""
    return f"[{a}]" if ":" in a else a


def _netroot(t: Target, show_secrets: bool) -> str:
    creds = ""
    if _has_chap(t) and show_secrets:
        assert t.chap_secret is not None
        parts = [t.chap_name or "", t.chap_secret.reveal()]
        if _mutual(t):
            assert t.reverse_chap_secret is not None
            parts += [t.reverse_chap_name or "", t.reverse_chap_secret.reveal()]
        creds = ":".join(parts) + "@"
    port = "" if t.port == 3260 else str(t.port)
    lun = "" if t.lun.linux == 0 or t.lun.linux >= 256 else str(t.lun.linux)
    return f"netroot=iscsi:{creds}{_host(t.address)}::{port}:{lun}:{t.name or ''}"


def _dracut_ip(nic: Nic, l3: str, boot_nic: int | None) -> str:
    """``ip=`` for one NIC in the forms dracut.cmdline(7) and ``modules.d/40network/net-lib.sh``
    (``ibft_to_cmdline``, ``ip_to_var``) read: ``<dev>:dhcp``/``dhcp6``/``auto6``, or
    ``<ip>::<gw>:<netmask>:<host>:<dev>:none[:<dns1>[:<dns2>]]`` with IPv6 addresses in
    brackets and the IPv6 prefix length as the netmask."""
    iface = None if is_null_ip(nic.ip_address) else nic.interface
    if nic.is_dhcp or iface is None:
        return f"ip={l3}:{'dhcp6' if nic.family == 6 else 'dhcp'}"
    if nic.is_slaac:
        return f"ip={l3}:auto6"
    gw = _gateway(nic) if nic.index == boot_nic else None
    if isinstance(iface, ipaddress.IPv4Interface):
        ip, mask = str(iface.ip), str(iface.netmask)
    else:
        ip, mask = f"[{iface.ip}]", str(iface.network.prefixlen)
    gw_text = "" if gw is None else _host(gw)
    fields = [ip, "", gw_text, mask, nic.hostname or "", l3, "none"] + [_host(d) for d in _dns(nic)]
    return "ip=" + ":".join(fields)


_LINK_LOCAL = ("# target[{t.index}] {t.ip_address} is link-local: it is reached only through {dev}, and a "
               "connection to it needs that zone ({t.ip_address}%{dev}, RFC 4007 §11), which this form cannot carry")


def _rd_routes(path: TargetPath, dev: str) -> list[str]:
    """``rd.route=<net>/<len>:[<gw>]:<dev>`` (dracut.cmdline(7); ``net-lib.sh`` ``route_to_var``
    and ``setup_net``: an empty gateway gives ``ip route add <net> dev <dev>``): the target's
    host route, after an on-link route to a gateway outside the NIC's prefix."""
    out = []
    if path.gateway is not None and path.gateway_onlink:
        out.append(f"rd.route={_host(str(path.gateway))}/{path.gateway.max_prefixlen}::{dev}")
    gw = "" if path.gateway is None else _host(str(path.gateway))
    out.append(f"rd.route={_host(str(path.dst.network_address))}/{path.dst.prefixlen}:{gw}:{dev}")
    return out


def render_dracut(cfg: BootConfig, *, show_secrets: bool = False,
                  mac_to_ifname: Mapping[str, str] | None = None) -> str:
    macs = {k.lower(): v for k, v in (mac_to_ifname or {}).items()}
    targets = cfg.login_order()
    comments: list[str] = []
    args: list[str] = []
    name = cfg.initiator.name if cfg.initiator is not None else None
    if name:
        args.append(f"rd.iscsi.initiator={name}")
    else:
        comments.append("# no initiator name in the boot configuration: add rd.iscsi.initiator=")
    nics, alias, repeats = _interfaces(cfg, macs)
    comments += repeats
    devices, words, notes = _dracut_interfaces(nics, macs, _boot_nic_index(cfg))
    args += words
    comments += notes
    devices.update({i: devices[k] for i, k in alias.items() if k in devices})
    by_index = {n.index: n for n in nics}
    routed: set[str] = set()
    for t in targets:
        args.append(_netroot(t, show_secrets))
        tnic = by_index.get(alias.get(t.nic_index, -1))
        if t.ip_address is not None and t.ip_address.is_link_local and tnic is not None and tnic.index in devices:
            comments.append(_LINK_LOCAL.format(t=t, dev=devices[tnic.index]))
        if tnic is None or tnic.index not in devices or tnic.is_dhcp or tnic.is_slaac:
            continue  # a DHCP NIC's address, and so its routes, come from its lease
        path = target_path(tnic, t)
        if isinstance(path, str):
            comments.append(f"# {path}: no rd.route=")
            continue
        for route in _rd_routes(path, devices[tnic.index]):
            if route not in routed:
                routed.add(route)
                args.append(route)
    comments += _dracut_target_notes(targets, show_secrets)
    if targets:
        args.append("rd.neednet=1")
    return "".join(c + "\n" for c in comments) + (" ".join(args) + "\n" if args else "")


def _dracut_interfaces(nics: list[Nic], macs: Mapping[str, str],
                       boot_nic: int | None) -> tuple[dict[int, str], list[str], list[str]]:
    """``(devices, words, comments)``: NIC index → the link that carries its address, and the
    ``ifname=``/``vlan=``/``ip=`` words for each NIC."""
    devices: dict[int, str] = {}
    args: list[str] = []
    comments: list[str] = []
    for nic in nics:
        dev = _device(nic, macs)
        if dev is None:
            if not nic.mac:
                comments.append(f"# NIC[{nic.index}] has neither an interface name nor a MAC: no ip=")
                continue
            dev = f"ibft{nic.index}"
            args.append(f"ifname={dev}:{nic.mac.lower()}")
        l3 = dev
        if nic.vlan_id:
            l3 = f"{dev}.{nic.vlan_id}"
            args.append(f"vlan={l3}:{dev}")
        devices[nic.index] = l3
        args.append(_dracut_ip(nic, l3, boot_nic))
    return devices, args, comments


def _dracut_target_notes(targets: list[Target], show_secrets: bool) -> list[str]:
    """Comments on what the ``netroot=`` words cannot say (CHAP text dracut splits, wide LUNs, CHAP
    left out, no target)."""
    notes: list[str] = []
    if show_secrets and any(c in s for t in targets if _has_chap(t) for s in _chap_texts(t) for c in ":@"):
        notes.append("# a CHAP name or secret holds ':' or '@', which dracut's netroot= parser splits on "
                     "(its parse_iscsi_root): use rd.iscsi.username=/rd.iscsi.password= instead")
    wide = [t for t in targets if t.lun.linux >= 256]
    if wide:
        notes.append(f"# LUN {wide[0].lun.text} (Linux {wide[0].lun.linux}) left out of netroot=: dracut matches "
                     "that field as a short decimal by-path suffix; it logs in to every LUN of the target anyway")
    if _any_chap(targets) and not show_secrets:
        notes.append("# CHAP credentials left out (ibftkit dracut --show-secrets includes them, as "
                     "netroot=iscsi:user:password@…, readable in /proc/cmdline)")
    if not targets:
        notes.append("# no valid target in the boot configuration")
    return notes


def _chap_texts(t: Target) -> list[str]:
    out = [t.chap_name or "", t.chap_secret.reveal() if t.chap_secret is not None else ""]
    if _mutual(t):
        out += [t.reverse_chap_name or "", t.reverse_chap_secret.reveal() if t.reverse_chap_secret else ""]
    return out


def _any_chap(targets: list[Target]) -> bool:
    return any(_has_chap(t) for t in targets)
