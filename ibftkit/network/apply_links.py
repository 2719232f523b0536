"""The link-level steps of a network plan, carried out with pyroute2: MTU, MAC, rename, bond, bridge.

The words behind them are dracut's (dracut.cmdline(7): ``ifname=``, ``bond=``, ``bridge=``, the
``<mtu>`` and ``<macaddr>`` fields of ``ip=``); the steps are ``set_mtu``, ``set_mac``, ``rename_link``,
``create_bond`` and ``create_bridge`` of the plan (docs/net.md). Each handler follows the rules of
``ibftkit.network.apply``: it looks first and does nothing when the kernel already holds what the
step asks; it records every change it makes, each as a change object with its own ``undo``, so that
a failure later in the run, or ``undo``, puts back exactly what was there; and it fails with one
line saying why (:class:`StepFailed`, which the applier prefixes with the step's number).

Kernel facts these handlers rely on (Linux, ``net/core/dev.c`` and ``drivers/net/bonding/bond_main.c``):

- a link is renamed only while it is down (``dev_change_name``: ``EBUSY`` when ``IFF_UP``), so an up
  link is set down, renamed and set up again; setting a link down drops the routes through it;
- a bond enslaves only a link that is down (``bond_enslave``: "Device can not be enslaved while
  up", ``EPERM``), and opens it itself; releasing a slave closes it again and gives back the MTU
  and MAC it had (``__bond_release_one``), so the undo of an enslavement sets the slave up again
  when it was up before;
- a bond's mode can be changed only while it is down and has no slaves (``bond_option_mode_set``):
  an idle bond that is up is set down for it and up again;
- loading the bonding module creates ``bond0`` unless ``max_bonds=0``
  (``Documentation/networking/bonding.rst``), and ``ip link add … type bond`` loads the module on
  demand: a ``bond0`` that exists, is a bond and has no slaves is taken as it is (its mode and
  monitoring set, and given back on undo) instead of failing with "File exists";
- without link monitoring a bond never fails over; a new bond (or an adopted one with neither MII
  nor ARP monitoring) gets ``miimon`` 100 ms, what NetworkManager sets when neither is given
  (``nm-device-bond.c``, ``apply_bonding_config``);
- an 802.1Q link's MTU cannot exceed its lower link's (``vlan_dev_change_mtu``: ``ERANGE``).
"""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .apply import Change, LinkRaised, _link, _netlink_error
from .apply import _StepFailed as StepFailed
from .apply_extra import LinkCreated
from .linkup import IFF_UP
from .plan import IFNAME_MAX, Step
from .plan_cmdline import CreateBond, CreateBridge, RenameLink, SetMac, SetMtu

#: Linux bonding modes (``include/uapi/linux/if_bonding.h`` ``BOND_MODE_*``), by the names
#: ``Documentation/networking/bonding.rst`` and dracut's ``bond=…:mode=`` use.
BOND_MODES = {"balance-rr": 0, "active-backup": 1, "balance-xor": 2, "broadcast": 3, "802.3ad": 4,
              "balance-tlb": 5, "balance-alb": 6}
BOND_MODE_NAMES = {v: k for k, v in BOND_MODES.items()}
BOND_MIIMON_MS = 100
#: Bonding options (``bond=…:<options>``, bonding.rst "Bonding Driver Options") given as numbers.
BOND_NUMBERS = frozenset({"miimon", "updelay", "downdelay", "arp_interval", "min_links", "resend_igmp",
                          "packets_per_slave", "lp_interval", "use_carrier", "all_slaves_active",
                          "tlb_dynamic_lb", "ad_actor_sys_prio", "ad_user_port_key"})
#: Bonding options given by name (or by their number), with the kernel's values.
BOND_CHOICES: dict[str, dict[str, int]] = {
    "lacp_rate": {"slow": 0, "fast": 1},
    "ad_lacp_rate": {"slow": 0, "fast": 1},
    "xmit_hash_policy": {"layer2": 0, "layer3+4": 1, "layer2+3": 2, "encap2+3": 3, "encap3+4": 4,
                         "vlan+srcmac": 5},
    "fail_over_mac": {"none": 0, "active": 1, "follow": 2},
    "ad_select": {"stable": 0, "bandwidth": 1, "count": 2},
    "primary_reselect": {"always": 0, "better": 1, "failure": 2},
    "arp_validate": {"none": 0, "active": 1, "backup": 2, "all": 3, "filter": 4, "filter_active": 5,
                     "filter_backup": 6},
    "arp_all_targets": {"any": 0, "all": 1},
}
#: Option names whose netlink attribute is named otherwise (``IFLA_BOND_*``, include/uapi/linux/if_link.h).
BOND_ATTRIBUTE = {"lacp_rate": "ad_lacp_rate", "num_grat_arp": "num_peer_notif", "num_unsol_na": "num_peer_notif"}


# --- the changes these steps make, each with its undo ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class MtuSet(Change):
    """An MTU this run set (``SetMtu``): the previous one back."""

    what: str
    index: int
    previous: int

    def undo(self, ipr: Any) -> None:
        ipr.link("set", index=self.index, mtu=self.previous)


@dataclasses.dataclass(frozen=True)
class MacSet(Change):
    """A MAC this run set (``SetMac``): the previous one back (with the link down meanwhile)."""

    what: str
    index: int
    previous: str

    def undo(self, ipr: Any) -> None:
        _while_down(ipr, self.index, lambda: ipr.link("set", index=self.index, address=self.previous))


@dataclasses.dataclass(frozen=True)
class LinkRenamed(Change):
    """A link this run renamed (``RenameLink``): its old name back, up or down as it was."""

    what: str
    index: int
    old: str
    was_up: bool

    def undo(self, ipr: Any) -> None:
        if _flags(ipr, self.index) & IFF_UP:
            ipr.link("set", index=self.index, state="down")
        ipr.link("set", index=self.index, ifname=self.old)
        if self.was_up:
            ipr.link("set", index=self.index, state="up")


@dataclasses.dataclass(frozen=True)
class BondSettingsSet(Change):
    """Settings this run gave a bond that existed (bond0, made when the bonding module loaded): the
    previous values back."""

    what: str
    index: int
    previous: tuple[tuple[str, int], ...]  # pyroute2 keywords (bond_mode, bond_miimon, …) and values

    def undo(self, ipr: Any) -> None:
        before = dict(self.previous)
        _while_down(ipr, self.index, lambda: ipr.link("set", index=self.index, kind="bond", **before))


@dataclasses.dataclass(frozen=True)
class PortAttached(Change):
    """A link this run made a bridge port or bond slave: released, then up or down as it was."""

    what: str
    index: int
    was_up: bool

    def undo(self, ipr: Any) -> None:
        ipr.link("set", index=self.index, master=0)
        ipr.link("set", index=self.index, state="up" if self.was_up else "down")


# --- what a handler needs from the applier ---------------------------------------------------------


class Context(Protocol):
    """The applier as these handlers see it."""

    @property
    def ipr(self) -> Any: ...

    def index(self, ifname: str) -> int:
        """The index of the link named ``ifname``; raises :class:`StepFailed` when there is none."""

    def renamed(self, old: str, new: str) -> None:
        """The link ``old`` is now called ``new`` (the applier's name → index cache follows)."""

    def record(self, change: Change) -> None:
        """Add ``change`` to this run's undo log."""


# --- netlink helpers -------------------------------------------------------------------------------


def _lookup(ipr: Any, ifname: str) -> int | None:
    """The index of the link named ``ifname`` now, or ``None`` (not the applier's cache: these steps
    create and rename links)."""
    found = ipr.link_lookup(ifname=ifname)
    return int(found[0]) if found else None


def _code(e: BaseException) -> int | None:
    code = getattr(e, "code", None)
    return code if isinstance(code, int) else None


def _flags(ipr: Any, index: int) -> int:
    return int(_link(ipr, index)["flags"])


def _kind(msg: Any) -> str | None:
    info = msg.get("IFLA_LINKINFO")
    kind = info.get("IFLA_INFO_KIND") if info else None
    return str(kind) if kind else None


def _info_data(msg: Any, key: str) -> Any:
    info = msg.get("IFLA_LINKINFO")
    data = info.get("IFLA_INFO_DATA") if info else None
    return data.get(key) if data else None


def _while_down(ipr: Any, index: int, change: Callable[[], Any]) -> None:
    """Run ``change`` with the link down (drivers may refuse a MAC or a bond mode while it is up),
    then set it up again if it was."""
    up = bool(_flags(ipr, index) & IFF_UP)
    if up:
        ipr.link("set", index=index, state="down")
    try:
        change()
    finally:
        if up:
            ipr.link("set", index=index, state="up")


def _name_of(ipr: Any, index: int | None) -> str:
    if not index:
        return "?"
    try:
        return str(_link(ipr, index).get("IFLA_IFNAME"))
    except Exception:  # noqa: BLE001 - only for a message: the link may be gone meanwhile
        return f"index {index}"


# --- the handlers ----------------------------------------------------------------------------------


def set_mtu(ctx: Context, step: SetMtu) -> str:
    """``set_mtu {ifname, mtu}``: the link's MTU in bytes (``IFLA_MTU``), checked against the range
    the driver reports (``IFLA_MIN_MTU``..``IFLA_MAX_MTU``) and, for a VLAN, its lower link's MTU."""
    ipr = ctx.ipr
    index = ctx.index(step.ifname)
    msg = _link(ipr, index)
    current = int(msg.get("IFLA_MTU") or 0)
    if current == step.mtu:
        return f"MTU of {step.ifname} already {step.mtu}"
    low, high = msg.get("IFLA_MIN_MTU"), msg.get("IFLA_MAX_MTU")
    if low is not None and high and not int(low) <= step.mtu <= int(high):
        raise StepFailed(f"MTU {step.mtu} is outside what {step.ifname} accepts ({low}..{high})")
    lower = msg.get("IFLA_LINK")
    if _kind(msg) == "vlan" and lower:
        lower_mtu = int(_link(ipr, int(lower)).get("IFLA_MTU") or 0)
        if step.mtu > lower_mtu:
            raise StepFailed(f"MTU {step.mtu} is above the MTU {lower_mtu} of {step.ifname}'s lower link "
                             f"{_name_of(ipr, int(lower))}")
    try:
        ipr.link("set", index=index, mtu=step.mtu)
    except _netlink_error() as e:
        if _code(e) in (errno.EINVAL, errno.ERANGE):
            raise StepFailed(f"{step.ifname} refuses MTU {step.mtu} (errno {_code(e)})") from None
        raise
    what = f"set the MTU of {step.ifname} to {step.mtu} (was {current})"
    ctx.record(MtuSet(what, index, current))
    return what


def set_mac(ctx: Context, step: SetMac) -> str:
    """``set_mac {ifname, address}``: the link's MAC (``IFLA_ADDRESS``), set while the link is down."""
    ipr = ctx.ipr
    index = ctx.index(step.ifname)
    mac = step.address.lower()
    current = str(_link(ipr, index).get("IFLA_ADDRESS") or "").lower()
    if current == mac:
        return f"MAC of {step.ifname} already {mac}"
    try:
        _while_down(ipr, index, lambda: ipr.link("set", index=index, address=mac))
    except _netlink_error() as e:
        if _code(e) in (errno.EADDRNOTAVAIL, errno.EINVAL, errno.EOPNOTSUPP):
            raise StepFailed(f"{step.ifname} refuses MAC {mac} (errno {_code(e)}: a multicast or "
                             "all-zero address, or a driver that cannot change it)") from None
        raise
    what = f"set the MAC of {step.ifname} to {mac} (was {current})"
    ctx.record(MacSet(what, index, current))
    return what


def rename_link(ctx: Context, step: RenameLink) -> str:
    """``rename_link {ifname, new_name}``: dracut's ``ifname=<name>:<MAC>`` (the plan found the link
    by its MAC). An up link is set down for the rename and up again."""
    ipr = ctx.ipr
    new = step.new_name
    if not 0 < len(new.encode()) <= IFNAME_MAX or new in (".", "..") or any(c in new for c in "/: \t\n"):
        raise StepFailed(f"{new!r} is not a valid link name (1..{IFNAME_MAX} bytes; no '/', ':' or space)")
    old_index, new_index = _lookup(ctx.ipr, step.ifname), _lookup(ctx.ipr, new)
    if new_index is not None and (old_index is None or old_index == new_index):
        return f"{new} already named so"
    if old_index is None:
        raise StepFailed(f"no link named {step.ifname}")
    if new_index is not None:
        raise StepFailed(f"another link is already named {new}")
    was_up = bool(_flags(ipr, old_index) & IFF_UP)
    if was_up:
        ipr.link("set", index=old_index, state="down")
    try:
        ipr.link("set", index=old_index, ifname=new)
    except BaseException:
        if was_up:
            ipr.link("set", index=old_index, state="up")
        raise
    what = f"renamed {step.ifname} to {new}"
    ctx.record(LinkRenamed(what, old_index, step.ifname, was_up))
    ctx.renamed(step.ifname, new)
    if was_up:
        ipr.link("set", index=old_index, state="up")
    return what + (" (set down for it, and up again)" if was_up else "")


def _bond_mode(mode: str) -> int:
    text = mode.strip().lower()
    if text.isdigit() and int(text) in BOND_MODE_NAMES:
        return int(text)
    if text in BOND_MODES:
        return BOND_MODES[text]
    raise StepFailed(f"bonding mode {mode!r} is not one of {', '.join(BOND_MODES)} (or 0..6)")


def _new_link(ctx: Context, ifname: str, kind: str, module: str, **extra: Any) -> int:
    try:
        ctx.ipr.link("add", ifname=ifname, kind=kind, **extra)
    except _netlink_error() as e:
        if _code(e) == errno.EOPNOTSUPP:
            raise StepFailed(f"the kernel has no {kind} support (modprobe {module})") from None
        raise
    index = ctx.index(ifname)
    ctx.record(LinkCreated(f"created {kind} {ifname}", index, ifname))
    return index


def _existing(ctx: Context, ifname: str, kind: str) -> int | None:
    index = _lookup(ctx.ipr, ifname)
    if index is None:
        return None
    found = _kind(_link(ctx.ipr, index))
    if found != kind:
        raise StepFailed(f"a link named {ifname} exists and is {'a ' + found if found else 'no virtual link'}, "
                         f"not a {kind}")
    return index


def _add_port(ctx: Context, master: int, master_name: str, port: str, *, kind: str) -> bool:
    """Make ``port`` a port (slave) of ``master``; ``False`` when it already is."""
    ipr = ctx.ipr
    index = ctx.index(port)
    msg = _link(ipr, index)
    current = msg.get("IFLA_MASTER")
    if current == master:
        return False
    if current:
        raise StepFailed(f"{port} already belongs to {_name_of(ipr, int(current))}")
    was_up = bool(int(msg["flags"]) & IFF_UP)
    if kind == "bond" and was_up:
        ipr.link("set", index=index, state="down")  # bond_enslave: "can not be enslaved while up"
    try:
        ipr.link("set", index=index, master=master)
    except _netlink_error() as e:
        if kind == "bond" and was_up:
            ipr.link("set", index=index, state="up")
        why = {errno.EPERM: "the bond refuses it", errno.EBUSY: "it is in use by another upper device",
               errno.EOPNOTSUPP: "its driver cannot be enslaved"}.get(_code(e) or 0)
        if why:
            raise StepFailed(f"cannot add {port} to {master_name}: {why} (errno {_code(e)})") from None
        raise
    ctx.record(PortAttached(f"added {port} to {master_name}", index, was_up))
    return True


def _bond_options(ctx: Context, options: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """pyroute2 keywords (``bond_<attribute>``) for ``bond=``'s ``name=value`` options; ``primary``
    (a link name) is left to :func:`create_bond`, which sets it once the slaves are in."""
    out: dict[str, Any] = {}
    for name, value in options:
        key = name.strip().lower()
        attr = BOND_ATTRIBUTE.get(key, key)
        text = value.strip().lower()
        if key in BOND_NUMBERS or key in ("num_grat_arp", "num_unsol_na", "peer_notif_delay"):
            if not text.isdigit():
                raise StepFailed(f"bond option {name}={value}: expected a whole number")
            out[f"bond_{attr}"] = int(text)
        elif key in BOND_CHOICES:
            choices = BOND_CHOICES[key]
            number = int(text) if text.isdigit() else choices.get(text.split()[0] if text else "")
            if number is None or number not in choices.values():
                raise StepFailed(f"bond option {name}={value}: expected one of {', '.join(choices)}")
            out[f"bond_{attr}"] = number
        elif key != "primary":
            raise StepFailed(f"bond option {name}={value}: not one ibftkit sets (it sets mode, primary, "
                             f"{', '.join(sorted(BOND_NUMBERS | set(BOND_CHOICES)))})")
    return out


def create_bond(ctx: Context, step: CreateBond) -> str:
    """``create_bond {ifname, slaves, mode, options}``: dracut's ``bond=<name>:<slaves>:mode=<mode>,…``.

    ``mode`` is a bonding mode name (``active-backup``) or number (``1``); ``options`` are
    ``(name, value)`` pairs of the bonding driver's options (``miimon``, ``primary``, …). A new bond
    without ``miimon`` or ``arp_interval`` gets MII monitoring every 100 ms. The slaves are set down,
    enslaved (the bond opens them) and released on undo; the bond itself is set up by the plan's
    ``link_up`` step."""
    ipr = ctx.ipr
    mode = _bond_mode(step.mode)
    options = _bond_options(ctx, step.options)
    primary = next((v.strip() for k, v in step.options if k.strip().lower() == "primary"), None)
    if primary is not None and primary not in step.slaves:
        raise StepFailed(f"bond option primary={primary}: not one of the slaves {', '.join(step.slaves)}")
    index = _existing(ctx, step.ifname, "bond")
    what: list[str] = []
    if index is None:
        if "bond_miimon" not in options and "bond_arp_interval" not in options:
            options["bond_miimon"] = BOND_MIIMON_MS
        try:
            index = _new_link(ctx, step.ifname, "bond", "bonding", bond_mode=mode, **options)
        except _netlink_error() as e:
            if _code(e) in (errno.EINVAL, errno.EACCES):
                raise StepFailed(f"the bonding driver refuses these options in mode {BOND_MODE_NAMES[mode]} "
                                 f"({', '.join(f'{k}={v}' for k, v in step.options)}; errno {_code(e)})") from None
            raise
        shown = ", ".join(f"{k.removeprefix('bond_')} {v}" for k, v in options.items())
        what.append(f"created bond {step.ifname} (mode {BOND_MODE_NAMES[mode]}, {shown})")
    else:
        what += _adopt_bond(ctx, index, step.ifname, {"bond_mode": mode, **options})
    added = [s for s in step.slaves if _add_port(ctx, index, step.ifname, s, kind="bond")]
    if added:
        what.append(f"enslaved {', '.join(added)}")
    if primary is not None and _info_data(_link(ipr, index), "IFLA_BOND_PRIMARY") != ctx.index(primary):
        ipr.link("set", index=index, kind="bond", bond_primary=ctx.index(primary))
        what.append(f"primary {primary}")
    return "; ".join(what) if what else f"bond {step.ifname} already has {', '.join(step.slaves)}"


def _adopt_bond(ctx: Context, index: int, ifname: str, want: dict[str, Any]) -> list[str]:
    """Give an existing bond the settings ``want``, with the bond down meanwhile (ibftkit-init may have
    set it up early, as a link the plan sets up); its mode only while it has no slaves."""
    ipr = ctx.ipr
    msg = _link(ipr, index)
    if "bond_miimon" not in want and "bond_arp_interval" not in want and not (
            _info_data(msg, "IFLA_BOND_MIIMON") or _info_data(msg, "IFLA_BOND_ARP_INTERVAL")):
        want["bond_miimon"] = BOND_MIIMON_MS
    previous = {k: _info_data(msg, "IFLA_" + k.upper()) for k in want}
    differ = {k: v for k, v in want.items() if previous[k] != v}
    if not differ:
        return []
    if "bond_mode" in differ and _has_ports(ipr, index):
        current = previous["bond_mode"]
        raise StepFailed(f"bond {ifname} exists in mode {BOND_MODE_NAMES.get(current, current)} with slaves; "
                         f"not changing it to {BOND_MODE_NAMES.get(want['bond_mode'])}")
    _while_down(ipr, index, lambda: ipr.link("set", index=index, kind="bond", **differ))
    shown = ", ".join(f"{k.removeprefix('bond_')} {BOND_MODE_NAMES.get(v, v) if k == 'bond_mode' else v}"
                      for k, v in differ.items())
    what = f"set bond {ifname} to {shown}"
    ctx.record(BondSettingsSet(what, index, tuple((k, int(previous[k] or 0)) for k in differ)))
    return [what + " (it existed: the bonding module makes bond0 when it loads)"]


def _has_ports(ipr: Any, index: int) -> bool:
    return any(m.get("IFLA_MASTER") == index for m in ipr.get_links())


def create_bridge(ctx: Context, step: CreateBridge) -> str:
    """``create_bridge {ifname, ports}``: dracut's ``bridge=<name>:<ports>``. The kernel's default
    bridge (no STP: a port forwards as soon as it is up); ports are set up, the bridge itself by the
    plan's ``link_up`` step."""
    ipr = ctx.ipr
    index = _existing(ctx, step.ifname, "bridge")
    what: list[str] = []
    if index is None:
        index = _new_link(ctx, step.ifname, "bridge", "bridge")
        what.append(f"created bridge {step.ifname}")
    added = [p for p in step.ports if _add_port(ctx, index, step.ifname, p, kind="bridge")]
    raised = []
    for port in step.ports:
        pindex = ctx.index(port)
        if not _flags(ipr, pindex) & IFF_UP:
            ipr.link("set", index=pindex, state="up")
            ctx.record(LinkRaised(f"set {port} up", pindex, port))
            raised.append(port)
    if added:
        what.append(f"added {', '.join(added)}")
    if raised:
        what.append(f"set {', '.join(raised)} up")
    return "; ".join(what) if what else f"bridge {step.ifname} already has {', '.join(step.ports)}"


#: Plan step type -> its handler here.
HANDLERS: dict[type[Step], Callable[[Context, Any], str]] = {
    RenameLink: rename_link,
    CreateBond: create_bond,
    CreateBridge: create_bridge,
    SetMac: set_mac,
    SetMtu: set_mtu,
}


def run_link_step(ctx: Context, step: Step) -> str:
    """Carry out one of the link steps (:data:`HANDLERS`); raises the applier's step failure."""
    return HANDLERS[type(step)](ctx, step)
