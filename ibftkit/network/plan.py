"""The network plan: from a ``BootConfig`` and the machine's links, the netlink changes to make.

Pure (no pyroute2, no sockets): ``ibftkit plan`` prints it, ``ibftkit.network.apply.apply_plan`` carries it
out. The rules follow what open-iscsi's ``iscsistart -N`` does (``usr/iscsi_net_util.c``
``net_setup_netdev_ipv4``/``_ipv6``) and close its gaps:

- each NIC a valid target uses is found by its MAC (iBFT 1.03 NIC structure offset 90); the
  PCI bus/device/function (offset 96) breaks a tie; stacked links (VLAN, bridge, bond) that
  borrow the MAC never match;
- the link is set up and the plan waits (bounded) for carrier; ``vlan`` ≠ 0 (offset 88, the VID
  is the low 12 bits) gives a ``<if>.<vid>`` 802.1Q link that carries the address;
- the address and prefix (offsets 2 and 18) as the firmware had them. Origin DHCP (3, the
  ``NL_PREFIX_ORIGIN`` value at offset 19) means the firmware got the address by DHCP: it is
  applied as given unless ``dhcp_rerun`` asks DHCP again;
- one default route via the gateway (offset 24), for the boot NIC only (the NIC of the first
  boot-selected target), never twice;
- one host route (/32 or /128) per target out of the NIC the target's ``nic_assoc`` names, ``dev``
  on-link and via that NIC's gateway off-link, with the NIC's address as source, so that two NICs
  to one storage array are two independent paths (dm-multipath); a gateway outside the NIC's
  prefix (/32) gets an on-link route first; NICs sharing an IPv4 subnet get ``arp_ignore=1`` and
  ``arp_announce=2``;
- DNS servers (offsets 40, 56) into resolv.conf, and the NIC's host name when one is given.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..infra.errors import NetError
from ..model import (
    BootConfig,
    IPAddress,
    Nic,
    Target,
    TargetPath,
    gateway_needs_onlink_route,
    is_null_ip,
    normalize_mac,
    target_path,
)
from .links import LinkInfo, by_mac

if TYPE_CHECKING:  # at run time through __getattr__ below: defined only when a plan holds one
    from .plan_extra import CreateVlan as CreateVlan
    from .plan_extra import RunDhcp as RunDhcp
    from .plan_extra import SetHostname as SetHostname
    from .plan_extra import SetSysctl as SetSysctl

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Linux ``IFNAMSIZ`` is 16 including the NUL.
IFNAME_MAX = 15
#: glibc ``MAXNS``: resolv.conf lines past the third nameserver are ignored.
MAXNS = 3
#: Linux ``HOST_NAME_MAX``.
HOST_NAME_MAX = 64
_HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$")

DHCP_NOTE = "address came from DHCP in firmware; applying it statically; --dhcp-rerun to ask DHCP again"


# --- steps ---------------------------------------------------------------------------------------

#: The steps only some plans hold (a VLAN link, a DHCP re-run, ARP sysctls, a host name) live in
#: ``plan_extra``, imported when a rule makes one; they stay importable from this module.
_EXTRA = ("CreateVlan", "RunDhcp", "SetSysctl", "SetHostname")


def __getattr__(name: str) -> Any:
    """``from ibftkit.network.plan import RunDhcp`` (PEP 562): the step types of ``plan_extra``."""
    if name in _EXTRA:
        from . import plan_extra

        return getattr(plan_extra, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _value(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_value(x) for x in v]
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    return str(v)


class Step:
    """One change to the machine; ``kind`` names it in JSON. Every step type is a frozen dataclass
    subclass (compared, hashed and shown by its fields); ``Step`` itself has no fields, is never
    made and is no dataclass, which would cost six compiled methods to define (docs/init.md, "Boot time")."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]  # each subclass's, from @dataclass
    kind: ClassVar[str] = ""
    #: The step waits for packets from the network (a DHCP exchange, router advertisements): the
    #: garbage collector goes back on before the steps run (``ibftkit.infra.timing.collect_again``).
    exchanges_packets: ClassVar[bool] = False

    def describe(self) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.kind}
        for f in dataclasses.fields(self):
            out[f.name] = _value(getattr(self, f.name))
        out["describe"] = self.describe()
        return out


@dataclasses.dataclass(frozen=True)
class LinkUp(Step):
    """Set the link administratively up."""

    kind: ClassVar[str] = "link_up"
    ifname: str

    def describe(self) -> str:
        return f"set link {self.ifname} up"


@dataclasses.dataclass(frozen=True)
class WaitCarrier(Step):
    """Wait (bounded) until the link reports carrier."""

    kind: ClassVar[str] = "wait_carrier"
    ifname: str

    def describe(self) -> str:
        return f"wait for carrier on {self.ifname}"


@dataclasses.dataclass(frozen=True)
class AddAddress(Step):
    """Put the NIC's address (with its prefix) on the link."""

    kind: ClassVar[str] = "add_address"
    ifname: str
    address: IPInterface
    nic_index: int
    note: str = ""

    def describe(self) -> str:
        tail = f"; {self.note}" if self.note else ""
        return f"add address {self.address} to {self.ifname} (NIC[{self.nic_index}]{tail})"


@dataclasses.dataclass(frozen=True)
class AddRoute(Step):
    """A default route, or a host route to a target off the NIC's subnet."""

    kind: ClassVar[str] = "add_route"
    dst: IPNetwork
    gateway: IPAddress | None
    ifname: str
    reason: str = ""
    source: IPAddress | None = None  # the preferred source (``ip route … src``): the NIC's address

    @property
    def is_default(self) -> bool:
        return self.dst.prefixlen == 0

    def describe(self) -> str:
        dst = "default" if self.is_default else str(self.dst)
        if self.is_default and self.dst.version == 6:
            dst = "default (::/0)"
        via = f" via {self.gateway}" if self.gateway is not None else ""
        src = f" src {self.source}" if self.source is not None else ""
        why = f" ({self.reason})" if self.reason else ""
        return f"add route {dst}{via} dev {self.ifname}{src}{why}"


@dataclasses.dataclass(frozen=True)
class SetDns(Step):
    """Write the DNS servers into resolv.conf."""

    kind: ClassVar[str] = "set_dns"
    servers: tuple[IPAddress, ...]

    def describe(self) -> str:
        return "write resolv.conf with nameserver " + ", ".join(str(s) for s in self.servers)


@dataclasses.dataclass(frozen=True, eq=False)  # nothing compares plans (their ``steps`` are): no __eq__/__hash__
class NetPlan:
    """What ``apply_plan`` will do, in order, plus notes on what it deliberately leaves alone. Two
    plans compare by identity; compare their ``steps`` and ``notes`` (tuples of values)."""

    steps: tuple[Step, ...] = ()
    notes: tuple[str, ...] = ()
    source: str = ""

    def describe(self) -> list[str]:
        return [s.describe() for s in self.steps]

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "source": self.source, "steps": [s.to_dict() for s in self.steps],
                "notes": list(self.notes)}

    def render_text(self) -> str:
        lines = [f"network plan for {self.source or 'the boot configuration'}:"]
        lines += [f"  {n}. {d}" for n, d in enumerate(self.describe(), 1)] or ["  (nothing to do)"]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def interfaces(self) -> list[str]:
        """The links the plan touches, in order."""
        seen: list[str] = []
        for s in self.steps:
            name = getattr(s, "ifname", None)
            if name and name not in seen:
                seen.append(name)
        return seen


# --- finding the link ----------------------------------------------------------------------------


def _links_text(links: Sequence[LinkInfo]) -> str:
    shown = [f"{link.ifname} {link.mac}" for link in links if link.mac][:8]
    more = "" if len(shown) == len([x for x in links if x.mac]) else ", …"
    return ", ".join(shown) + more if shown else "none with a MAC"


def find_link(nic: Nic, links: Sequence[LinkInfo]) -> LinkInfo:
    """The link for a NIC: by name when the source knows it, else by MAC, PCI BDF breaking ties."""
    where = f"NIC[{nic.index}]"
    if nic.ifname:
        named = [link for link in links if link.ifname == nic.ifname]
        if not named:
            raise NetError(f"{where}: no interface named {nic.ifname} "
                           f"(links: {', '.join(x.ifname for x in links) or 'none'})")
        if nic.mac and named[0].mac and named[0].mac != normalize_mac(nic.mac):
            raise NetError(f"{where}: interface {nic.ifname} has MAC {named[0].mac}, not {nic.mac}")
        return named[0]
    if not nic.mac:
        raise NetError(f"{where}: has neither a MAC address nor an interface name to find its link")
    found = by_mac(links, nic.mac)
    if not found:
        raise NetError(f"{where}: no link has MAC {normalize_mac(nic.mac)} (links: {_links_text(links)})")
    if len(found) == 1:
        return found[0]
    names = ", ".join(x.ifname for x in found)
    if nic.pci_bdf is not None:
        by_pci = [x for x in found if x.pci_bdf == nic.pci_bdf]
        if len(by_pci) == 1:
            return by_pci[0]
        raise NetError(f"{where}: MAC {nic.mac} is on {names} and PCI {nic.pci_bdf} matches "
                       f"{len(by_pci) or 'none'} of them")
    raise NetError(f"{where}: MAC {nic.mac} is on {names} and the NIC gives no PCI address to choose")


# --- the plan ------------------------------------------------------------------------------------


@dataclasses.dataclass(eq=False, repr=False)  # never compared (``is``) nor shown: no __eq__, no __repr__ to compile
class _NicState:
    """A NIC of the configuration with the link it matched, while the plan is built."""

    nic: Nic
    link: LinkInfo
    l3: str  # the link that carries the address: the NIC's link or its VLAN link
    iface: IPInterface | None
    gateway: IPAddress | None
    rerun: bool = False  # the address comes from a new DHCP lease: the firmware's is no source


def _interface(nic: Nic) -> IPInterface | None:
    if is_null_ip(nic.ip_address):
        return None
    try:
        return nic.interface
    except ValueError:
        limit = 32 if nic.ip_address is not None and nic.ip_address.version == 4 else 128
        raise NetError(f"NIC[{nic.index}]: prefix length {nic.prefix_len} is invalid for "
                       f"{nic.ip_address} (expected 1..{limit})") from None


def _gateway(nic: Nic, iface: IPInterface | None, notes: list[str]) -> IPAddress | None:
    gw = nic.gateway
    if is_null_ip(gw) or str(gw) == "255.255.255.255":
        return None
    assert gw is not None
    if iface is not None and gw.version != iface.version:
        notes.append(f"NIC[{nic.index}]: gateway {gw} is not the family of {iface}: ignored")
        return None
    if iface is not None and gateway_needs_onlink_route(gw, iface):
        notes.append(f"NIC[{nic.index}]: gateway {gw} is outside {iface.network}: reached by an on-link "
                     "host route first (the kernel refuses a route via it otherwise)")
    return gw


def _boot_target(targets: Sequence[Target]) -> Target | None:
    for t in targets:
        if t.boot_selected:
            return t
    return targets[0] if targets else None


def _valid_hostname(name: str) -> bool:
    return len(name) <= HOST_NAME_MAX and bool(_HOSTNAME.match(name))


#: What a rule gives: the steps to add (in order) and notes on what it deliberately leaves alone.
RuleResult = tuple[list[Step], list[str]]


def rule_targets(cfg: BootConfig) -> tuple[list[Target], list[Nic], list[str]]:
    """The valid targets (boot-selected first) and the NICs they use, in order of first use (the
    boot target's NIC first; every valid NIC when no target is valid), with notes on the rest.
    Raises ``NetError`` for a target whose NIC is missing or not valid (iBFT 1.03 target ``nic_assoc``)."""
    notes: list[str] = []
    targets = [t for t in cfg.targets if t.valid]
    targets.sort(key=lambda t: 0 if t.boot_selected else 1)
    for t in cfg.targets:
        if not t.valid:
            notes.append(f"target[{t.index}] is not marked valid: ignored")
    used: list[Nic] = []
    for t in targets:
        nic = cfg.nic_for(t)
        if nic is None:
            raise NetError(f"target[{t.index}] names NIC index {t.nic_index}, which "
                           f"{cfg.source or 'the configuration'} does not have")
        if not nic.valid:
            raise NetError(f"target[{t.index}] uses NIC[{nic.index}], which is not marked valid "
                           f"(flags 0x{int(nic.flags):02x})")
        if nic not in used:
            used.append(nic)
    if not targets:
        used = [n for n in cfg.nics if n.valid]
        notes.append("no valid target: configuring the valid NICs only")
    for n in cfg.nics:
        if n not in used:
            notes.append(f"NIC[{n.index}] is used by no valid target: left alone")
    return targets, used, notes


def rule_links(nic: Nic, link: LinkInfo, up: set[str]) -> tuple[list[Step], list[str], str]:
    """Links and VLANs: ``link`` up and its carrier awaited (once per link), and for ``vlan`` ≠ 0 an
    802.1Q ``<if>.<vid>`` link (iBFT 1.03 NIC offset 88, the VID is the low 12 bits). Returns the
    steps, notes and the name of the link that carries the NIC's address; adds what it raises to
    ``up``. Raises ``NetError`` when the VLAN link name exceeds ``IFNAME_MAX``."""
    steps: list[Step] = []
    notes: list[str] = []
    if link.ifname not in up:
        steps += [LinkUp(link.ifname), WaitCarrier(link.ifname)]
        up.add(link.ifname)
    l3 = link.ifname
    if nic.vlan_id:
        l3 = f"{link.ifname}.{nic.vlan_id}"
        if len(l3) > IFNAME_MAX:
            raise NetError(f"NIC[{nic.index}]: VLAN link name {l3} is longer than {IFNAME_MAX} characters")
        if nic.vlan != nic.vlan_id:
            notes.append(f"NIC[{nic.index}]: vlan field 0x{nic.vlan:04x} looks like a full 802.1Q TCI; "
                         f"using its VID {nic.vlan_id}")
        if l3 not in up:
            from .plan_extra import CreateVlan

            steps += [CreateVlan(l3, link.ifname, nic.vlan_id), LinkUp(l3)]
            up.add(l3)
    return steps, notes, l3


def rule_address(nic: Nic, l3: str, iface: IPInterface | None, *, dhcp_rerun: bool,
                 addressed: set[tuple[str, str]]) -> RuleResult:
    """Addresses: the NIC's address and prefix (iBFT 1.03 NIC offsets 2 and 18) on ``l3``, once per
    link and address (recorded in ``addressed``); origin DHCP (offset 19) with ``dhcp_rerun`` asks
    DHCP instead: DHCPv6 (RFC 8415) for a NIC whose address is IPv6, DHCPv4 otherwise."""
    steps: list[Step] = []
    notes: list[str] = []
    if iface is not None and iface.network.prefixlen == 0:
        notes.append(f"NIC[{nic.index}]: prefix length 0 makes every address on-link")
    from_dhcp = nic.is_dhcp
    if dhcp_rerun and from_dhcp:
        from .plan_extra import RunDhcp

        steps.append(RunDhcp(l3, nic.index, iface, nic.family))  # the family of the address or DHCP server
    elif iface is not None and (l3, str(iface)) not in addressed:
        steps.append(AddAddress(l3, iface, nic.index, DHCP_NOTE if from_dhcp else ""))
        addressed.add((l3, str(iface)))
    elif iface is None:
        notes.append(f"NIC[{nic.index}] has no address: {l3} keeps the addresses it has")
    if dhcp_rerun and not from_dhcp:
        notes.append(f"NIC[{nic.index}]: origin {nic.origin.name}, not DHCP: --dhcp-rerun does not apply")
    return steps, notes


def _onlink_gateway_route(st: _NicState) -> list[Step]:
    """An on-link host route to the NIC's gateway when it lies outside the NIC's prefix (a /32
    lease); the kernel accepts a route via the gateway only after it."""
    gw, iface = st.gateway, st.iface
    if gw is None or iface is None or st.rerun or not gateway_needs_onlink_route(gw, iface):
        return []
    dst = ipaddress.ip_network(f"{gw}/{gw.max_prefixlen}")
    return [AddRoute(dst, None, st.l3, f"gateway of NIC[{st.nic.index}] is outside {iface.network}", iface.ip)]


def rule_default_route(boot: _NicState | None) -> RuleResult:
    """Default route: one, via the boot NIC's gateway (iBFT 1.03 NIC offset 24), out of its link,
    after an on-link route to that gateway when it lies outside the NIC's prefix."""
    if boot is None:
        return [], []
    if boot.gateway is None:
        return [], [f"boot NIC[{boot.nic.index}] has no gateway: no default route"]
    dst = ipaddress.ip_network("0.0.0.0/0" if boot.gateway.version == 4 else "::/0")
    return [*_onlink_gateway_route(boot), AddRoute(dst, boot.gateway, boot.l3, f"boot NIC[{boot.nic.index}]")], []


def rule_host_routes(targets: Sequence[Target], states: dict[int, _NicState]) -> RuleResult:
    """Host routes: one /32 or /128 to every target out of the link of the NIC its ``nic_assoc``
    names (``ibftkit.model.target_path``, the rule of open-iscsi's ``iscsistart -N``,
    ``usr/iscsi_net_util.c``): ``dev <nic>`` on-link, ``via <gateway>`` off-link, with the NIC's
    address as the source, so that two NICs on one subnet stay two paths (dm-multipath) and no
    other link on that subnet carries a session. Raises ``NetError`` for a family mismatch or an
    off-subnet target whose NIC has no gateway."""
    notes: list[str] = []
    routes: dict[IPNetwork, AddRoute] = {}
    for t in targets:
        st = states[t.nic_index]
        who = f"target[{t.index}]"
        if t.ip_address is None or st.iface is None:
            notes.append(f"{target_path(st.nic, t)}: no host route")
            continue
        path = target_path(st.nic, t)
        if isinstance(path, str):
            raise NetError(path)
        for route in _path_routes(path, st, who):
            old = routes.get(route.dst)
            if old is None:
                routes[route.dst] = route
            elif (old.gateway, old.ifname) != (route.gateway, route.ifname):
                notes.append(f"{who} {t.ip_address}: already routed via {old.gateway} dev {old.ifname}; a second "
                             f"path dev {route.ifname} to the same address needs policy routing: not added")
    return list(routes.values()), notes


def _path_routes(path: TargetPath, st: _NicState, who: str) -> list[AddRoute]:
    src = path.source
    if st.rerun or (src is not None and src.version == 6 and src.is_link_local):
        src = None  # a new lease's address is not known; Linux refuses an IPv6 link-local prefsrc (EINVAL)
    if path.on_link:
        net = "link-local" if path.dst.network_address.is_link_local else f"on-link in {st.iface}"
        return [AddRoute(path.dst, None, st.l3, f"{who} is {net}", src)]
    first = [r for r in _onlink_gateway_route(st) if isinstance(r, AddRoute)]
    return [*first, AddRoute(path.dst, path.gateway, st.l3, f"{who} is off NIC[{st.nic.index}]'s subnet", src)]


def rule_arp(states: dict[int, _NicState]) -> RuleResult:
    """ARP on NICs that share an IPv4 subnet: ``arp_ignore=1`` (answer only for addresses on the
    incoming link) and ``arp_announce=2`` (ask with the outgoing link's own address) on each, so
    that a target learns each NIC's own MAC and a session's replies come back through the NIC it
    left by (Linux ``Documentation/networking/ip-sysctl.rst``; without them any NIC answers for
    every address, "ARP flux")."""
    nets: dict[str, IPInterface] = {}
    for st in states.values():
        if st.iface is not None and st.iface.version == 4 and not st.rerun:
            nets.setdefault(st.l3, st.iface)
    shared = sorted({a for a, ia in nets.items() for b, ib in nets.items()
                     if a != b and ia.network.overlaps(ib.network)})
    steps: list[Step] = []
    if shared:
        from .plan_extra import SetSysctl
    for l3 in shared:
        why = f"{l3} shares {nets[l3].network} with " + ", ".join(
            b for b in shared if b != l3 and nets[b].network.overlaps(nets[l3].network))
        steps += [SetSysctl(l3, "arp_ignore", 1, why), SetSysctl(l3, "arp_announce", 2, why)]
    return steps, []


def rule_dns(ordered: Sequence[_NicState]) -> RuleResult:
    """DNS: the NICs' servers (iBFT 1.03 NIC offsets 40, 56), boot NIC first, without repeats, at most
    ``MAXNS`` (glibc ``resolv/resolv.h``)."""
    notes: list[str] = []
    servers: list[IPAddress] = []
    for st in ordered:
        for s in (st.nic.primary_dns, st.nic.secondary_dns):
            if not is_null_ip(s) and s not in servers:
                assert s is not None
                servers.append(s)
    if len(servers) > MAXNS:
        notes.append(f"{len(servers)} DNS servers; resolv.conf uses the first {MAXNS}: "
                     + ", ".join(str(s) for s in servers[MAXNS:]) + " left out")
        servers = servers[:MAXNS]
    return ([SetDns(tuple(servers))] if servers else []), notes


def rule_hostname(ordered: Sequence[_NicState], *, set_hostname: bool) -> RuleResult:
    """Host name: the first NIC's (boot NIC first) that has one, if valid (RFC 1123, ``HOST_NAME_MAX``)."""
    names = [st.nic.hostname for st in ordered if st.nic.hostname]
    if not names:
        return [], []
    name = names[0]
    if not set_hostname:
        return [], [f"hostname {name!r} not set (--no-hostname)"]
    if not _valid_hostname(name):
        return [], [f"hostname {name!r} is not a valid host name (RFC 1123): not set"]
    from .plan_extra import SetHostname

    return [SetHostname(name)], []


def plan_network(cfg: BootConfig, *, links: Sequence[LinkInfo], dhcp_rerun: bool = False,
                 set_hostname: bool = True) -> NetPlan:
    """The plan for ``cfg`` on a machine with ``links``: the rules above in order (per NIC: links and
    VLANs, then addresses; then the default route, host routes, DNS, host name). Raises ``NetError``
    naming the NIC/target."""
    targets, used, notes = rule_targets(cfg)
    steps: list[Step] = []
    states: dict[int, _NicState] = {}
    up: set[str] = set()
    addressed: set[tuple[str, str]] = set()
    for nic in used:
        link = find_link(nic, links)
        more, why, l3 = rule_links(nic, link, up)
        steps += more
        notes += why
        iface = _interface(nic)
        more, why = rule_address(nic, l3, iface, dhcp_rerun=dhcp_rerun, addressed=addressed)
        steps += more
        notes += why
        states[nic.index] = _NicState(nic, link, l3, iface, _gateway(nic, iface, notes),
                                      rerun=dhcp_rerun and nic.is_dhcp)

    boot_t = _boot_target(targets)
    boot = states.get(boot_t.nic_index) if boot_t else (next(iter(states.values())) if states else None)
    ordered = ([boot] if boot else []) + [s for s in states.values() if s is not boot]
    for more, why in (rule_arp(states), rule_default_route(boot), rule_host_routes(targets, states), rule_dns(ordered),
                      rule_hostname(ordered, set_hostname=set_hostname)):
        steps += [s for s in more if not (isinstance(s, AddRoute) and s in steps)]
        notes += why
    return NetPlan(tuple(steps), tuple(notes), cfg.source)


def interface_of(address: IPAddress, plan_steps: Sequence[Step]) -> str | None:
    """The interface whose static address's subnet holds ``address`` (the NIC a target is reached
    through), else the default route's interface, else ``None``."""
    for s in plan_steps:
        if isinstance(s, AddAddress) and s.address.version == address.version and address in s.address.network:
            return s.ifname
    for s in plan_steps:
        if isinstance(s, AddRoute) and s.dst.prefixlen == 0 and s.dst.version == address.version:
            return s.ifname
    if not any(s.exchanges_packets for s in plan_steps):
        return None  # no RunDhcp (``plan_extra`` is then imported already)
    from .plan_extra import RunDhcp

    dhcp = [s.ifname for s in plan_steps if isinstance(s, RunDhcp)]
    return dhcp[0] if len(dhcp) == 1 else None
