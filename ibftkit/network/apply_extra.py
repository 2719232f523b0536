"""The steps only some plans hold, carried out (``network.plan_extra``: a VLAN link, a DHCP re-run,
the ARP sysctls of NICs sharing a subnet, a host name), and the undo records only they make.

Imported by ``network.apply`` when a plan holds such a step (``apply._extra_handlers``), not with
it: each undo record is a frozen dataclass, whose definition costs at boot (docs/init.md, "Boot
time"), and a plan from the iBFT with one NIC never makes these. The names stay importable from
``network.apply`` (PEP 562). Same rules as ``network.apply``: idempotent, every change recorded
with what it replaced.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .apply import Change, Netlink, _Applier, _link, _netlink_error, _StepFailed
from .plan_extra import CreateVlan, RunDhcp, SetHostname, SetSysctl
from .sysctl import write_sysctl

if TYPE_CHECKING:
    from .plan import Step

__all__ = ["HANDLERS", "HostnameSet", "LinkCreated", "SysctlSet"]


@dataclasses.dataclass(frozen=True)
class LinkCreated(Change):
    """A link this run created (``CreateVlan``): delete it."""

    what: str
    index: int
    ifname: str

    def undo(self, ipr: Netlink) -> None:
        ipr.link("del", index=self.index)


@dataclasses.dataclass(frozen=True)
class SysctlSet(Change):
    """A per-interface sysctl this run changed (``SetSysctl``): its previous value back."""

    what: str
    path: str
    previous: str
    netns: str | None = None

    def undo(self, ipr: Netlink) -> None:
        write_sysctl(self.path, self.previous, self.netns)


@dataclasses.dataclass(frozen=True)
class HostnameSet(Change):
    """The host name this run set: the previous one back (in the caller's UTS namespace)."""

    what: str
    previous: str

    def undo(self, ipr: Netlink) -> None:
        socket.sethostname(self.previous)


def create_vlan(ctx: _Applier, step: CreateVlan) -> str:
    parent = ctx.index(step.parent)
    existing = ctx.ipr.link_lookup(ifname=step.ifname)
    if existing:
        msg = _link(ctx.ipr, existing[0])
        info = msg.get("IFLA_LINKINFO")
        kind = info.get("IFLA_INFO_KIND") if info else None
        data = info.get("IFLA_INFO_DATA") if info else None
        vid = data.get("IFLA_VLAN_ID") if data else None
        if kind == "vlan" and msg.get("IFLA_LINK") == parent and vid == step.vlan_id:
            return f"{step.ifname} already exists"
        raise _StepFailed(f"a link named {step.ifname} exists but is not VLAN {step.vlan_id} on {step.parent}")
    try:
        ctx.ipr.link("add", ifname=step.ifname, kind="vlan", link=parent, vlan_id=step.vlan_id)
    except _netlink_error() as e:
        if getattr(e, "code", None) == errno.EOPNOTSUPP:
            raise _StepFailed("kernel has no 802.1Q support (modprobe 8021q)") from None
        raise
    index = ctx.index(step.ifname)
    ctx.record(LinkCreated(f"created {step.ifname}", index, step.ifname))
    return f"created {step.ifname}"


def run_dhcp(ctx: _Applier, step: RunDhcp) -> str:
    try:
        from ..sources import dhcp
        acquire = dhcp.acquire_lease if step.family == 4 else dhcp.acquire_lease6
    except (ImportError, AttributeError):
        raise _StepFailed("the DHCP client (ibftkit.sources.dhcp) is not available; "
                          "run without --dhcp-rerun") from None
    lease = acquire(step.ifname, timeout=ctx.dhcp_timeout, progress=ctx.progress)
    iface = lease_interface(lease)
    proto = "DHCP" if step.family == 4 else "DHCPv6"
    if step.firmware_address is not None and iface != step.firmware_address:
        ctx.progress(f"{proto} gave {iface} on {step.ifname}; the firmware had {step.firmware_address}")
    return f"{proto}: " + ctx._address(step.ifname, iface)


def set_sysctl(ctx: _Applier, step: SetSysctl) -> str:
    ctx.index(step.ifname)  # the link must exist (a clear error if not)
    try:
        before = write_sysctl(step.path, str(step.value), ctx.netns)
    except OSError as e:
        raise _StepFailed(f"cannot set {step.path}: {getattr(e, 'strerror', None) or e}") from None
    name = f"net.ipv4.conf.{step.ifname}.{step.key}"
    if before == str(step.value):
        return f"{name} already {step.value}"
    ctx.record(SysctlSet(f"set {name} = {step.value}", step.path, before, ctx.netns))
    return f"set {name} = {step.value} (was {before})"


def set_hostname(ctx: _Applier, step: SetHostname) -> str:
    before = socket.gethostname()
    if before == step.hostname:
        return f"hostname already {step.hostname}"
    socket.sethostname(step.hostname)
    ctx.record(HostnameSet(f"set hostname {step.hostname}", before))
    return f"set hostname {step.hostname} (was {before})"


def lease_interface(lease: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """The address of a lease from ``ibftkit.sources.dhcp``: a ``Nic``-like ``interface`` or address+prefix."""
    iface = getattr(lease, "interface", None)
    if isinstance(iface, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
        return iface
    ip = getattr(lease, "ip_address", None) or getattr(lease, "address", None)
    plen = getattr(lease, "prefix_len", None)
    if ip is None or plen is None:
        raise _StepFailed(f"the DHCP lease gives no address and prefix ({type(lease).__name__})")
    return ipaddress.ip_interface(f"{ip}/{plen}")


#: Step type -> the function that carries it out (``apply.HANDLERS``'s form).
HANDLERS: dict[type[Step], Callable[[_Applier, Any], str]] = {
    CreateVlan: create_vlan, RunDhcp: run_dhcp, SetSysctl: set_sysctl, SetHostname: set_hostname}
