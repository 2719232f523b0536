"""Where ``ibftkit-init``'s boot configuration comes from, in order, and why the others lost.

1. explicit options (``--ibft PATH``, ``--root-path``; built by the CLI, passed in as ``explicit``);
2. the kernel command line (``ibftkit.sources.cmdline``): ``netroot=iscsi:…`` targets; or a demand
   for the firmware table (``rd.iscsi.firmware``, ``ip=ibft``) or for DHCP (``netroot=dhcp``),
   which then is the only source tried; ``ibftkit.source=`` sets the order outright;
3. the iBFT of the running system (``ibftkit.sources.ibft.locate.load_config``: low-memory scan unless
   booted by EFI, then ACPI, then ``/sys/firmware/ibft``);
4. DHCP (RFC 2131, options 17 and 203) on the NICs that have carrier.

A source that has no usable configuration (no table, a table with no valid target, a lease
without a root path) is skipped with its reason; ``NoBootConfig`` (exit 3) lists every reason.
Only the DHCP step touches the machine (it sets links up to see carrier, through
``ibftkit.network.linkup``); with ``dry_run`` it reports what it would do instead.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from ..infra.errors import IbftkitError, NetError, NoBootConfig, NoTableError
from ..infra.log import Logger
from ..model import BootConfig, Initiator, Nic, Origin, Secret, Target, TargetFlags
from .cmdline import Cmdline

DEFAULT_ORDER = ("cmdline", "ibft", "dhcp")
CARRIER_GRACE = 1.0  # after the first link has carrier, how long the others get to catch up
POLL = 0.1




class Settings(NamedTuple):
    strict: bool = False
    interfaces: tuple[str, ...] = ()
    initiator_name: str | None = None
    dhcp_timeout: float = 30.0
    carrier_timeout: float = 10.0
    dry_run: bool = False
    firmware_root: str = "/"
    initiatorname_path: str = "/etc/iscsi/initiatorname.iscsi"
    ibft_path: str | None = None  # from the command line (ibftkit.ibft=)


class Found:
    """The winner. ``config`` is ``None`` only in a dry run whose answer needs DHCP.

    ``source`` is options | cmdline | ibft | dhcp; ``skipped`` the sources before it and why;
    ``dhcp_rerun`` that the NIC's address must come from DHCP (``ip=<dev>:dhcp``);
    ``raised`` the links this run set up for DHCP (``ibftkit.network.linkup.raise_links``): the network step
    counts them as its own change, so a later network failure sets them down again.
    (A plain class: a dataclass costs ~1 ms of ibftkit-init start-up.)
    """

    def __init__(self, config: BootConfig | None, source: str, detail: str,
                 skipped: list[tuple[str, str]] | None = None, *, dhcp_rerun: bool = False,
                 would_dhcp_on: tuple[str, ...] = (), raised: tuple[str, ...] = ()) -> None:
        self.config = config
        self.source = source
        self.detail = detail
        self.skipped = skipped if skipped is not None else []
        self.dhcp_rerun = dhcp_rerun
        self.would_dhcp_on = would_dhcp_on
        self.raised = raised

    def describe(self) -> str:
        line = f"boot configuration from {self.source} ({self.detail})"
        if self.skipped:
            line += "; not used: " + "; ".join(f"{s}: {why}" for s, why in self.skipped)
        return line


# --- the kernel command line as a source ---------------------------------------------------------


def _nic_from_cmdline(cl: Cmdline, interfaces: Sequence[str]) -> tuple[Nic | None, bool]:
    """The NIC for ``netroot=`` targets from ``ip=``: ``(nic, address_by_dhcp)``; ``(None, _)``
    when the command line names none (DHCP on the NICs with carrier decides)."""
    for spec in cl.ip:
        device = spec.device or (interfaces[0] if len(interfaces) == 1 else None)
        if spec.address is not None:
            if device is None:
                raise NoBootConfig("kernel command line ip= with a static address names no device "
                                   "(ip=<ip>::<gw>:<mask>:<host>:<dev>:none)")
            assert spec.address is not None
            return Nic(index=0, ip_address=spec.address.ip, prefix_len=spec.address.network.prefixlen,
                       origin=Origin.MANUAL, gateway=spec.gateway,
                       primary_dns=spec.dns[0] if spec.dns else None,
                       secondary_dns=spec.dns[1] if len(spec.dns) > 1 else None,
                       hostname=spec.hostname, ifname=device), False
        if "dhcp" in spec.methods and device is not None:
            return Nic(index=0, origin=Origin.DHCP, ifname=device), True
    return None, False


def _netroot_targets(cl: Cmdline, nic_index: int) -> tuple[list[Target], list[str], str | None]:
    from .rootpath import parse_root_path

    targets: list[Target] = []
    warnings: list[str] = []
    netdev = None
    user, password, ruser, rpassword = cl.chap
    for k, text in enumerate(cl.netroots):
        rp = parse_root_path(text, dialect="dracut")
        if rp.needs_discovery:
            raise NoBootConfig(f"netroot #{k + 1} names no server (RFC 4173 discovery is not supported)")
        warnings += [f"netroot #{k + 1}: {w}" for w in rp.warnings]
        netdev = netdev or rp.netdev
        chap = dict(chap_name=rp.username, chap_secret=rp.password, reverse_chap_name=rp.reverse_username,
                    reverse_chap_secret=rp.reverse_password)
        if rp.username is None and password:
            chap = dict(chap_name=user, chap_secret=Secret(password), reverse_chap_name=ruser,
                        reverse_chap_secret=Secret(rpassword) if rpassword else None)
        from ..model import ChapType, parse_ip

        ctype = ChapType.MUTUAL if chap["reverse_chap_secret"] else (
            ChapType.CHAP if chap["chap_secret"] else ChapType.NONE)
        targets.append(Target(
            index=k, flags=TargetFlags.VALID | (TargetFlags.BOOT_SELECTED if k == 0 else 0),
            ip_address=parse_ip(rp.server) if rp.server_kind in ("ipv4", "ipv6") else None,
            server_name=rp.server if rp.server_kind == "dns" else None, port=rp.port, lun=rp.lun,
            chap_type=ctype, nic_index=nic_index, name=rp.target, **chap))  # type: ignore[arg-type]
    return targets, warnings, netdev


def _initiator(cl: Cmdline, settings: Settings, option_203: str | None = None) -> tuple[str | None, str, list[str]]:
    if settings.initiator_name:
        return settings.initiator_name, "--initiator-name", []
    from .initiator import resolve_initiator_name

    r = resolve_initiator_name(option_203, cmdline=cl.text, initiatorname_path=settings.initiatorname_path)
    return r.name, r.source, list(r.warnings)


# --- DHCP ----------------------------------------------------------------------------------------


def dhcp_candidates(settings: Settings, cl: Cmdline, links: Sequence[Any]) -> list[str]:
    """``--interface``/``ibftkit.interface`` when given, else every NIC (``network.plan_cmdline.is_nic``: a
    link backed by a device or a veth end; never ifb, dummy, stacked links or loopback), in ifindex order."""
    if settings.interfaces:
        return list(settings.interfaces)
    if cl.interfaces:
        return list(cl.interfaces)
    from ..network.plan_cmdline import is_nic

    return [x.ifname for x in links if is_nic(x)]


def links_with_carrier(names: Sequence[str], *, timeout: float, log: Logger,
                       read: Callable[[str], bool | None] | None = None) -> list[str]:
    """Set nothing; wait (``ibftkit.network.linkup.wait_carrier``, reading ``/sys/class/net/<if>/carrier``)
    until every link has carrier, or the first one has had it for ``CARRIER_GRACE`` s, or ``timeout``."""
    from ..infra.sysfs import Sysfs
    from ..network.linkup import wait_carrier

    return wait_carrier(names, timeout=timeout, read=read or Sysfs().carrier, progress=log.progress,
                        grace=CARRIER_GRACE, poll=POLL)


def _links_up(names: Sequence[str], log: Logger) -> tuple[str, ...]:
    from ..network.linkup import raise_links

    missing = [n for n in names if not os.path.exists(f"/sys/class/net/{n}")]
    if missing:
        raise NetError(f"no link named {missing[0]} to run DHCP on")
    raised = raise_links(names)
    for name in raised:
        log.info(f"set {name} up")
    return raised


def _undo(raised: tuple[str, ...]) -> None:
    if raised:
        from ..network.linkup import lower_links

        lower_links(raised)


def dhcp_config(settings: Settings, cl: Cmdline, log: Logger, *, links: Sequence[Any]) -> tuple[Any, tuple[str, ...]]:
    """``(lease, raised)``: DHCP on the candidates that have carrier. Raises ``IbftkitError``
    saying why there is no lease (and sets down again the links it set up).

    The links go up first (one ioctl each), then the DHCP client and scapy are imported (seconds on
    a slow machine) while the links negotiate carrier, then the wait for carrier."""
    names = dhcp_candidates(settings, cl, links)
    if not names:
        raise NetError("no network interface to run DHCP on")
    try:
        from . import dhcp
    except ImportError:
        raise IbftkitError("the DHCP client (ibftkit.sources.dhcp) is not in this build") from None
    changes = _links_up(names, log)
    try:
        dhcp.preload()
        up = links_with_carrier(names, timeout=settings.carrier_timeout, log=log)
        if not up:
            raise NetError(f"no carrier on {', '.join(names)} after {settings.carrier_timeout:g} s")
        log.progress(f"DHCP on {', '.join(up)} (up to {settings.dhcp_timeout:g} s)")
        lease = dhcp.acquire_first(up, timeout=settings.dhcp_timeout, progress=log.progress)
    except BaseException:
        _undo(changes)
        raise
    return lease, changes


# --- the order -----------------------------------------------------------------------------------


def _order(cl: Cmdline) -> tuple[str, ...]:
    if cl.sources is not None:
        return cl.sources
    if cl.netroots:
        return ("cmdline",)
    if cl.firmware:
        return ("ibft",)
    if cl.dhcp_root:
        return ("dhcp",)
    return DEFAULT_ORDER


def _usable(cfg: BootConfig) -> str | None:
    """Why ``cfg`` cannot boot, or ``None``."""
    if not cfg.login_order():
        return "no valid target"
    return None


def with_initiator(cfg: BootConfig, name: str | None) -> BootConfig:
    if not name:
        return cfg
    old = cfg.initiator or Initiator()
    return cfg.replace(initiator=dataclasses.replace(old, name=name))


def find_config(cl: Cmdline, settings: Settings, log: Logger, *, explicit: BootConfig | None = None,
                explicit_detail: str = "", links: Callable[[], Sequence[Any]] | None = None) -> Found:
    """The first source with a usable boot configuration (see the module docstring)."""
    if explicit is not None:
        why = _usable(explicit)
        if why:
            raise NoBootConfig(f"{explicit.source or explicit_detail}: {why}")
        cfg = with_initiator(explicit, settings.initiator_name)
        if cfg.initiator is None or not cfg.initiator.name:
            name, where, notes = _initiator(cl, settings)
            for n in notes:
                log.warning(n)
            if name:
                log.info(f"initiator name {name} from {where}")
                cfg = with_initiator(cfg, name).replace(
                    warnings=tuple(w for w in cfg.warnings if not w.startswith("no initiator name")))
        return Found(cfg, "options", explicit_detail or explicit.source)
    from ..network.links import list_links

    get_links = links or list_links
    skipped: list[tuple[str, str]] = []
    order = _order(cl)
    if order != DEFAULT_ORDER:
        log.info(f"sources from the kernel command line: {', '.join(order)}")
    for source in order:
        if source == "cmdline":
            if not cl.netroots:
                skipped.append(("kernel command line", "no netroot=iscsi:…"))
                continue
            found = _from_cmdline(cl, settings, log, get_links)
            found.skipped = skipped
            return found
        if source == "ibft":
            from .ibft.locate import load_config

            path = settings.ibft_path
            try:
                cfg = load_config(path, strict=settings.strict, root=settings.firmware_root)
            except NoTableError as e:
                skipped.append(("iBFT", str(e)))
                continue
            except IbftkitError as e:  # a table that does not decode: say so, try the next source
                log.warning(f"iBFT: {e}")
                skipped.append(("iBFT", str(e)))
                continue
            why = _usable(cfg)
            if why:
                skipped.append(("iBFT", f"{cfg.source}: {why}"))
                continue
            if settings.initiator_name:
                cfg = with_initiator(cfg, settings.initiator_name)
            elif cfg.initiator is None or not cfg.initiator.name:
                name, where, notes = _initiator(cl, settings)
                for n in notes:
                    log.warning(n)
                if name:
                    log.warning(f"the iBFT has no initiator name; using {name} from {where}")
                cfg = with_initiator(cfg, name)
            return Found(cfg, "ibft", cfg.source, skipped)
        if source == "dhcp":
            if settings.dry_run:
                names = dhcp_candidates(settings, cl, get_links())
                return Found(None, "dhcp", "dry run: DHCP not sent", skipped, would_dhcp_on=tuple(names))
            try:
                lease, changes = dhcp_config(settings, cl, log, links=get_links())
            except IbftkitError as e:
                skipped.append(("DHCP", str(e)))
                continue
            name, _, notes = _initiator(cl, settings, lease.initiator_name)
            for n in notes:
                log.warning(n)
            cfg = lease.to_boot_config(initiator_name=name)
            why = _usable(cfg)
            if why:
                _undo(changes)
                skipped.append(("DHCP", f"lease on {lease.interface}: {why}"))
                continue
            detail = f"lease {lease.address} on {lease.interface} from {lease.server_id or '?'}"
            return Found(cfg, "dhcp", detail, skipped, raised=changes)
    raise NoBootConfig("no boot configuration found: " + "; ".join(f"{s}: {why}" for s, why in skipped))


def _from_cmdline(cl: Cmdline, settings: Settings, log: Logger, get_links: Callable[[], Sequence[Any]]) -> Found:
    interfaces = settings.interfaces or cl.interfaces
    nic, by_dhcp = _nic_from_cmdline(cl, interfaces)
    targets, warnings, netdev = _netroot_targets(cl, 0)
    if nic is None and netdev:
        nic, by_dhcp = Nic(index=0, origin=Origin.DHCP, ifname=netdev), True
    if nic is None and len(interfaces) == 1:
        nic, by_dhcp = Nic(index=0, origin=Origin.DHCP, ifname=interfaces[0]), True
    changes: tuple[str, ...] = ()
    detail = f"{len(targets)} netroot=iscsi:…"
    option_203 = None
    if nic is None:  # the address from DHCP on whichever NIC answers
        if settings.dry_run:
            names = dhcp_candidates(settings, cl, get_links())
            return Found(None, "cmdline", detail + "; address by DHCP (dry run: not sent)",
                         would_dhcp_on=tuple(names))
        try:
            lease, changes = dhcp_config(settings, cl, log, links=get_links())
        except IbftkitError as e:
            raise NetError(f"netroot= on the kernel command line, but no address: {e}") from None
        nic, option_203 = lease.to_nic(), lease.initiator_name
        detail += f"; address {lease.address} by DHCP on {lease.interface}"
    name, where, notes = _initiator(cl, settings, option_203)
    if not name:
        raise NoBootConfig("netroot= on the kernel command line but no initiator name "
                           "(rd.iscsi.initiator=, DHCP option 203 or /etc/iscsi/initiatorname.iscsi)")
    cfg = BootConfig(initiator=Initiator(name=name), nics=(nic,), targets=tuple(targets), source="cmdline",
                     warnings=tuple(warnings + notes + list(cl.warnings)))
    return Found(cfg, "cmdline", detail, dhcp_rerun=by_dhcp, raised=changes)
