"""The network plan the kernel command line's network words ask for (pure: no pyroute2, no sockets).

Input: the parsed command line (``ibftkit.sources.cmdline.Cmdline``: ``ip=``, ``ifname=``, ``vlan=``,
``bond=``, ``bridge=``, ``rd.route=``, ``nameserver=``, ``BOOTIF=``, ``bootdev=``) and the
machine's links. Output: a ``NetPlan`` whose steps ``ibftkit.network.apply.apply_plan`` carries out, in this
order, one rule per function:

1. ``rename_link`` for each ``ifname=<name>:<mac>`` (dracut.cmdline(7): the NIC with that MAC
   gets that name; later words use the new name);
2. ``create_bond``, ``create_bridge``, ``create_vlan`` (the VID from the name, decimal);
3. per configured interface: ``set_mac`` and ``set_mtu`` (the ``ip=`` fields), ``link_up``,
   ``wait_carrier``, then ``add_address`` (static), ``run_dhcp`` with ``family`` 4 or 6
   (``dhcp``, ``dhcp6``), ``run_slaac`` (``auto6``; ``either6`` also asks DHCPv6);
4. one default route, through the boot interface (``bootdev=``, else the first static ``ip=``
   with a gateway); ``rd.route=`` routes;
5. ``set_dns`` (the ``ip=`` DNS fields, then ``nameserver=``, at most three), ``set_hostname``.

"Every NIC" (``ip=dhcp`` with no interface, or no ``ip=`` at all when the command line names a
target) means the links backed by a device — as dracut's ``net-genrules.sh`` matches
``DRIVERS=="?*"`` — or a device-less Ethernet link that does ARP (one end of a veth pair, the cable
namespaces and containers get); never ``lo``, ``ifb`` or ``dummy`` (``IFF_NOARP``), tunnels or
stacked links; ``BOOTIF=`` narrows it to the link with that MAC. Bond slaves and bridge ports are
configured through their master.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Collection, Sequence
from typing import Any, ClassVar

from ..infra.errors import NetError
from ..model import BootConfig, gateway_needs_onlink_route
from ..sources.cmdline import Cmdline
from ..sources.cmdline_net import IPAddress, IPInterface, IPNetwork, IpWord
from .links import LinkInfo, is_nic
from .plan import (
    MAXNS,
    AddAddress,
    AddRoute,
    CreateVlan,
    LinkUp,
    NetPlan,
    RunDhcp,
    SetDns,
    SetHostname,
    SetSysctl,
    Step,
    WaitCarrier,
    _valid_hostname,
    interface_of,
    plan_network,
)

# --- the new steps ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RunSlaac(Step):
    """IPv6 stateless autoconfiguration (RFC 4862): wait for a global address from router advertisements."""

    kind: ClassVar[str] = "run_slaac"
    exchanges_packets: ClassVar[bool] = True
    ifname: str

    def describe(self) -> str:
        return f"wait for an IPv6 address from router advertisements on {self.ifname} (SLAAC)"


@dataclasses.dataclass(frozen=True)
class SetMtu(Step):
    """Set the link's MTU (bytes)."""

    kind: ClassVar[str] = "set_mtu"
    ifname: str
    mtu: int

    def describe(self) -> str:
        return f"set MTU {self.mtu} on {self.ifname}"


@dataclasses.dataclass(frozen=True)
class SetMac(Step):
    """Set the link's MAC address (the ``<macaddr>`` field of ``ip=``)."""

    kind: ClassVar[str] = "set_mac"
    ifname: str
    address: str

    def describe(self) -> str:
        return f"set MAC {self.address} on {self.ifname}"


@dataclasses.dataclass(frozen=True)
class CreateBond(Step):
    """Create a bonding master and enslave ``slaves`` (kernel ``Documentation/networking/bonding.rst``)."""

    kind: ClassVar[str] = "create_bond"
    ifname: str
    slaves: tuple[str, ...]
    mode: str
    options: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["options"] = {k: v for k, v in self.options}
        return out

    def describe(self) -> str:
        opts = "".join(f", {k}={v}" for k, v in self.options)
        return f"create bond {self.ifname} (mode {self.mode}{opts}) over {', '.join(self.slaves)}"


@dataclasses.dataclass(frozen=True)
class CreateBridge(Step):
    """Create a bridge with ``ports``."""

    kind: ClassVar[str] = "create_bridge"
    ifname: str
    ports: tuple[str, ...]

    def describe(self) -> str:
        return f"create bridge {self.ifname} with ports {', '.join(self.ports)}"


@dataclasses.dataclass(frozen=True)
class RenameLink(Step):
    """Rename a link (``ifname=<new_name>:<mac>``)."""

    kind: ClassVar[str] = "rename_link"
    ifname: str
    new_name: str

    def describe(self) -> str:
        return f"rename link {self.ifname} to {self.new_name}"


# --- which links are NICs --------------------------------------------------------------------------


# --- building the plan -----------------------------------------------------------------------------


class _Builder:
    """The plan while it is built: the links by their (new) names and the steps so far."""

    def __init__(self, links: Sequence[LinkInfo]) -> None:
        self.links: dict[str, LinkInfo] = {x.ifname: x for x in links}
        self.created: dict[str, str] = {}  # name → bond | bridge | vlan
        self.steps: list[Step] = []
        self.notes: list[str] = []
        self.up: set[str] = set()

    def names(self) -> str:
        return ", ".join(self.links) or "none"

    def exists(self, name: str, word: str) -> None:
        if name not in self.links and name not in self.created:
            raise NetError(f"{word}: no link named {name} (links: {self.names()})")

    def by_mac(self, mac: str, word: str) -> str:
        found = [x.ifname for x in self.links.values() if x.mac == mac and not x.stacked]
        if not found:
            macs = ", ".join(f"{x.ifname} {x.mac}" for x in self.links.values() if x.mac) or "none with a MAC"
            raise NetError(f"{word}: no link has MAC {mac} (links: {macs})")
        return found[0]

    def bring_up(self, name: str, *, carrier: bool = True) -> None:
        if name in self.up:
            return
        self.up.add(name)
        self.steps.append(LinkUp(name))
        if carrier:
            self.steps.append(WaitCarrier(name))


def _renames(b: _Builder, cl: Cmdline) -> None:
    for w in cl.ifnames:
        word = f"ifname={w.name}:{w.mac}"
        old = b.by_mac(w.mac, word)
        if old == w.name:
            continue
        if w.name in b.links:
            raise NetError(f"{word}: the name {w.name} is taken by the link with MAC {b.links[w.name].mac}")
        b.steps.append(RenameLink(old, w.name))
        b.links = {(w.name if k == old else k): (dataclasses.replace(v, ifname=w.name) if k == old else v)
                   for k, v in b.links.items()}


def _virtual_links(b: _Builder, cl: Cmdline) -> set[str]:
    """Bonds, bridges and VLANs; returns the links that became ports or slaves."""
    enslaved: set[str] = set()
    for bond in cl.bonds:
        for s in bond.slaves:
            b.exists(s, f"bond={bond.name}")
        b.steps.append(CreateBond(bond.name, bond.slaves, bond.mode, bond.options))
        if bond.mtu:
            b.steps.append(SetMtu(bond.name, bond.mtu))
        b.created[bond.name] = "bond"
        enslaved.update(bond.slaves)
    for br in cl.bridges:
        for p in br.ports:
            b.exists(p, f"bridge={br.name}")
        b.steps.append(CreateBridge(br.name, br.ports))
        b.created[br.name] = "bridge"
        enslaved.update(br.ports)
        for p in br.ports:
            b.bring_up(p, carrier=False)
    for v in cl.vlans:
        b.exists(v.parent, f"vlan={v.name}:{v.parent}")
        b.bring_up(v.parent, carrier=v.parent not in b.created)
        b.steps.append(CreateVlan(v.name, v.parent, v.vlan_id))
        b.created[v.name] = "vlan"
    return enslaved


def _split_words(b: _Builder, cl: Cmdline, *, skip: Collection[str],
                 generic_words: bool) -> tuple[list[tuple[str, IpWord]], list[IpWord]]:
    """``ip=`` words that name their interface (resolved), and those that name none."""
    named: list[tuple[str, IpWord]] = []
    generic: list[IpWord] = []
    for w in cl.ip:
        if w.device_mac:
            named.append((b.by_mac(w.device_mac, f"ip={w.value}"), w))
        elif w.device:
            b.exists(w.device, f"ip={w.value}")
            named.append((w.device, w))
        elif generic_words:
            generic.append(w)
        else:
            b.notes.append(f"ip={w.value}: names no interface; the boot NICs come from "
                           f"{', '.join(skip) or 'the source'}")
    return named, generic


def _targets_of_words(b: _Builder, cl: Cmdline, enslaved: set[str], *, interfaces: Sequence[str],
                      skip: Collection[str], default_dhcp: bool,
                      generic_words: bool = True) -> list[tuple[str, IpWord]]:
    """``(ifname, word)`` for every interface an ``ip=`` word configures, in the words' order."""
    named, generic = _split_words(b, cl, skip=skip, generic_words=generic_words)
    taken = {n for n, _ in named} | set(skip)
    candidates: list[str]
    if interfaces:
        candidates = list(interfaces)
    elif cl.bootif:
        candidates = [b.by_mac(cl.bootif, f"BOOTIF={cl.bootif}")]
    else:
        candidates = [n for n, x in b.links.items() if is_nic(x) and n not in enslaved]
        candidates += [n for n, kind in b.created.items() if kind != "vlan" or not generic]
    candidates = [c for c in candidates if c not in taken and c not in enslaved]
    out = list(named)
    parents = {v.parent for v in cl.vlans}
    masters_unnamed = [n for n in b.created if n not in taken and n not in parents]
    if not generic and masters_unnamed:  # a bond/bridge/VLAN no ip= names: DHCP on it (NetworkManager)
        out += [(n, IpWord(f"{n}:dhcp", ("dhcp",), device=n)) for n in masters_unnamed]
        candidates = [c for c in candidates if c not in masters_unnamed]
    if not generic_words:
        return out
    if not generic and cl.bootif and not interfaces:  # BOOTIF alone: DHCP on that link
        out += [(c, IpWord(f"{c}:dhcp", ("dhcp",), device=c)) for c in candidates]
    elif not generic and default_dhcp and not named and not masters_unnamed:
        generic = [IpWord("dhcp", ("dhcp",))]
        b.notes.append("no ip= on the kernel command line: DHCP on every NIC, as dracut does for netroot=")
    for w in generic:
        if w.address is not None:
            if len(candidates) != 1:
                raise NetError(f"ip={w.value}: a static address with no interface, and this machine has "
                               f"{len(candidates)} NICs ({', '.join(candidates) or 'none'}): name the interface")
            out.append((candidates[0], w))
            continue
        if not candidates:
            raise NetError(f"ip={w.value}: no NIC to configure (links: {b.names()})")
        out += [(c, w) for c in candidates]
    return out


def _configure(b: _Builder, k: int, ifname: str, w: IpWord) -> None:
    link = b.links.get(ifname)
    if w.mac and (link is None or link.mac != w.mac):
        b.steps.append(SetMac(ifname, w.mac))
    if w.mtu:
        b.steps.append(SetMtu(ifname, w.mtu))
    b.bring_up(ifname, carrier=b.created.get(ifname) != "vlan")
    if w.address is not None:
        b.steps.append(AddAddress(ifname, w.address, k, f"ip= #{k + 1}"))
    for m in w.methods:
        if m == "dhcp":
            b.steps.append(RunDhcp(ifname, k, None, 4))
        elif m == "dhcp6":
            b.steps.append(RunDhcp(ifname, k, None, 6))
        elif m == "auto6":
            b.steps.append(RunSlaac(ifname))
        elif m == "either6":
            b.steps.append(RunSlaac(ifname))
            b.steps.append(RunDhcp(ifname, k, None, 6))
            b.notes.append(f"ip={w.value}: either6: SLAAC, then DHCPv6 (dracut: \"if auto6 fails, then dhcp6\")")
        elif m == "link6":
            b.notes.append(f"ip={w.value}: link6: {ifname} keeps only its IPv6 link-local address")


def _routes(b: _Builder, cl: Cmdline, configured: list[tuple[str, IpWord]]) -> list[AddRoute]:
    statics = [(n, w) for n, w in configured if w.address is not None]
    routes: dict[IPNetwork, AddRoute] = {}
    boot = None
    if cl.bootdev:
        boot = next(((n, w) for n, w in statics if n == cl.bootdev and w.gateway), None)
    if boot is None:
        boot = next(((n, w) for n, w in statics if w.gateway is not None), None)
    if boot is not None:
        name, w = boot
        assert w.gateway is not None
        dst = ipaddress.ip_network("0.0.0.0/0" if w.gateway.version == 4 else "::/0")
        iface = w.address
        if iface is not None and iface.version == w.gateway.version and gateway_needs_onlink_route(w.gateway, iface):
            gdst = ipaddress.ip_network(f"{w.gateway}/{w.gateway.max_prefixlen}")  # as the iBFT path's plan
            routes[gdst] = AddRoute(gdst, None, name, f"gateway of ip={w.value} is outside {iface.network}", iface.ip)
        routes[dst] = AddRoute(dst, w.gateway, name, f"ip={w.value}")
        for n, other in statics:
            if other is not w and other.gateway is not None and other.gateway.version == w.gateway.version:
                b.notes.append(f"ip={other.value}: gateway {other.gateway} on {n} is not the default route "
                               f"(that goes through {name}); {n}'s own subnet stays reachable on {n}")
    for r in cl.routes:
        word = f"rd.route={r.dst}"
        dev = r.device
        if dev is None and r.gateway is not None:
            dev = next((n for n, w in statics if w.address is not None and r.gateway in w.address.network), None)
        if dev is None:
            names = sorted({n for n, _ in configured})
            if len(names) != 1:
                raise NetError(f"{word}: no interface given and the gateway {r.gateway} is on no configured "
                               "subnet: add :<interface>")
            dev = names[0]
        else:
            b.exists(dev, word)
            if dev not in {n for n, _ in configured}:
                b.bring_up(dev)
                b.notes.append(f"{word}: {dev} gets no address from the command line; the route needs one "
                               "in the gateway's subnet")
        routes[r.dst] = AddRoute(r.dst, r.gateway, dev, "rd.route=")
    return list(routes.values())


def _arp(configured: list[tuple[str, IpWord]]) -> list[Step]:
    """NICs whose static IPv4 addresses share a subnet: ``arp_ignore=1`` and ``arp_announce=2`` on
    each, the same rule as the iBFT plan's (``plan.rule_arp``; Linux
    ``Documentation/networking/ip-sysctl.rst``), so that each path answers ARP for its own NIC."""
    nets: dict[str, IPInterface] = {}
    for name, w in configured:
        if w.address is not None and w.address.version == 4 and "dhcp" not in w.methods:
            nets.setdefault(name, w.address)
    shared = sorted({a for a, ia in nets.items() for c, ic in nets.items()
                     if a != c and ia.network.overlaps(ic.network)})
    steps: list[Step] = []
    for name in shared:
        why = f"{name} shares {nets[name].network} with " + ", ".join(
            c for c in shared if c != name and nets[c].network.overlaps(nets[name].network))
        steps += [SetSysctl(name, "arp_ignore", 1, why), SetSysctl(name, "arp_announce", 2, why)]
    return steps


def _host_routes(b: _Builder, configured: list[tuple[str, IpWord]], routes: Sequence[AddRoute],
                 targets: Sequence[IPAddress | None]) -> list[AddRoute]:
    """A host route (/32, /128) for each target on no configured subnet, through the interface of
    the default route and its gateway: the path leaves through the boot NIC (as the iBFT rule does)."""
    out: list[AddRoute] = []
    for ip in targets:
        if ip is None or any(w.address is not None and ip in w.address.network for _, w in configured):
            continue
        default = next((r for r in routes if r.dst.prefixlen == 0 and r.dst.version == ip.version), None)
        if default is None:
            continue
        dst = ipaddress.ip_network(f"{ip}/{ip.max_prefixlen}")
        if any(r.dst == dst for r in (*routes, *out)):
            continue
        out.append(AddRoute(dst, default.gateway, default.ifname, f"target {ip} is on no configured subnet"))
    return out


def host_notes(configured: list[tuple[str, IpWord]], targets: Sequence[IPAddress | None]) -> list[str]:
    """How each target is reached: through the interface whose subnet holds it."""
    notes = []
    for ip in targets:
        if ip is None:
            continue
        on = [n for n, w in configured if w.address is not None and ip in w.address.network]
        if on:
            notes.append(f"target {ip} is on-link on {on[0]} ({next(w.address for n, w in configured if n == on[0])})")
    return notes


def plan_cmdline(cl: Cmdline, links: Sequence[LinkInfo], *, interfaces: Sequence[str] = (),
                 skip: Collection[str] = (), default_dhcp: bool = False, set_hostname: bool = True,
                 targets: Sequence[IPAddress | None] = (), source: str = "kernel command line",
                 generic_words: bool = True) -> NetPlan:
    """The plan for the network words of ``cl`` on a machine with ``links``.

    ``interfaces``: the NICs for words that name none (``--interface``); ``skip``: links another
    source configures (the iBFT's NICs); ``default_dhcp``: DHCP on every NIC when no ``ip=`` is
    given (the command line names a target). Raises ``NetError`` naming the word."""
    b = _Builder(links)
    _renames(b, cl)
    enslaved = _virtual_links(b, cl)
    configured = _targets_of_words(b, cl, enslaved, interfaces=interfaces, skip=skip, default_dhcp=default_dhcp,
                                   generic_words=generic_words)
    for k, (name, w) in enumerate(configured):
        _configure(b, k, name, w)
    b.steps += _arp(configured)
    routes = _routes(b, cl, configured)
    b.steps += routes + _host_routes(b, configured, routes, targets)
    servers: list[IPAddress] = []
    for s in [d for _, w in configured for d in w.dns] + list(cl.nameservers):
        if s not in servers:
            servers.append(s)
    if len(servers) > MAXNS:
        b.notes.append(f"{len(servers)} DNS servers; resolv.conf uses the first {MAXNS}: "
                       + ", ".join(str(s) for s in servers[MAXNS:]) + " left out")
        servers = servers[:MAXNS]
    if servers:
        b.steps.append(SetDns(tuple(servers)))
    hostnames = [w.hostname for _, w in configured if w.hostname]
    if hostnames:
        name = hostnames[0]
        if not set_hostname:
            b.notes.append(f"hostname {name!r} not set (--no-hostname)")
        elif not _valid_hostname(name):
            b.notes.append(f"hostname {name!r} is not a valid host name (RFC 1123): not set")
        else:
            b.steps.append(SetHostname(name))
    b.notes += host_notes(configured, targets)
    return NetPlan(tuple(_dedupe(b.steps)), tuple(b.notes), source)


def _dedupe(steps: list[Step]) -> list[Step]:
    seen: set[Step] = set()
    out = []
    for s in steps:
        if s in seen:
            continue
        seen.add(s)
        out.append(s)
    return out


__all__ = ["CreateBond", "CreateBridge", "IPInterface", "RenameLink", "RunSlaac", "SetMac", "SetMtu", "interface_of",
           "is_nic", "plan_cmdline"]


def plan_for_cmdline(cl: Cmdline, links: Sequence[LinkInfo], *, interfaces: Sequence[str] = (),
                     skip: Collection[str] = (), set_hostname: bool = True,
                     targets: Sequence[IPAddress | None] = ()) -> NetPlan:
    """:func:`plan_cmdline` with the command line's own rule for "no ``ip=``": DHCP on every NIC when
    it names a target (``netroot=``, ``iscsi_target_*``, ``netroot=dhcp``) or says ``rd.neednet``,
    unless the firmware (``rd.iscsi.firmware``, ``ip=ibft``) configures the network."""
    wants = bool(cl.netroots or cl.dhcp_root or cl.debian is not None or cl.neednet)
    if not targets:
        targets = cmdline_target_addresses(cl)
    return plan_cmdline(cl, links, interfaces=interfaces or cl.interfaces, skip=skip,
                        default_dhcp=wants and not cl.firmware, set_hostname=set_hostname, targets=targets)


def step_key(step: Step) -> str:
    """A step in one short line (the corpus's form): its kind, then its fields that say what it does."""
    d = step.to_dict()
    fields = {
        "link_up": ("ifname",), "wait_carrier": ("ifname",), "create_vlan": ("ifname", "parent", "vlan_id"),
        "add_address": ("ifname", "address"), "run_dhcp": ("ifname", "family"), "run_slaac": ("ifname",),
        "add_route": ("dst", "gateway", "ifname"), "set_dns": ("servers",), "set_hostname": ("hostname",),
        "set_mtu": ("ifname", "mtu"), "set_mac": ("ifname", "address"), "create_bond": ("ifname", "slaves", "mode"),
        "create_bridge": ("ifname", "ports"), "rename_link": ("ifname", "new_name"),
    }.get(step.kind, tuple(k for k in d if k not in ("step", "describe")))
    parts = [step.kind]
    for f in fields:
        v = d.get(f)
        parts.append("-" if v is None else ",".join(str(x) for x in v) if isinstance(v, list) else str(v))
    if step.kind == "create_bond" and d.get("options"):
        parts.append(",".join(f"{k}={v}" for k, v in d["options"].items()))
    return " ".join(parts)


def cmdline_target_addresses(cl: Cmdline) -> list[IPAddress | None]:
    """The portal addresses the command line names (``netroot=iscsi:…``, ``iscsi_target_ip``)."""
    from ..sources.cmdline_net import parse_address
    from ..sources.rootpath import parse_root_path

    out: list[IPAddress | None] = []
    for text in cl.netroots:
        try:
            rp = parse_root_path(text, dialect="dracut")
        except ValueError:
            continue  # reported when the targets are read
        out.append(parse_address(rp.server) if rp.server and rp.server_kind in ("ipv4", "ipv6") else None)
    for a in cl.debian.addresses if cl.debian else ():
        try:
            out.append(parse_address(a))
        except ValueError:
            out.append(None)
    return out


def plan_boot(cfg: BootConfig, source: str, cl: Cmdline, links: Sequence[LinkInfo], *,
              interfaces: Sequence[str] = (), dhcp_rerun: bool = False, set_hostname: bool = True,
              lease_ifname: str | None = None) -> NetPlan:
    """The whole network plan of an ``ibftkit-init`` run: the source's (``plan_network`` over the
    iBFT's NICs, a lease or ``--root-path``) and then the command line's named network words
    (``ip=<dev>:…``, ``vlan=``, ``bond=``, ``rd.route=``, …) for the links the source leaves alone;
    for the command line as the source, its words alone (:func:`plan_for_cmdline`)."""
    targets = [t.ip_address for t in cfg.login_order()]
    if source == "cmdline" and lease_ifname is None:
        return plan_for_cmdline(cl, links, interfaces=interfaces, set_hostname=set_hostname, targets=targets)
    base = plan_network(cfg, links=links, dhcp_rerun=dhcp_rerun, set_hostname=set_hostname)
    if not cl.has_network_words:
        return base
    extra = plan_cmdline(cl, links, skip=base.interfaces(), set_hostname=set_hostname, generic_words=False,
                         source=base.source)
    return NetPlan(tuple(_dedupe([*base.steps, *extra.steps])), base.notes + extra.notes, base.source)
