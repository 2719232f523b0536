"""Where ``ibftkit-init``'s boot configuration comes from: the sources, as objects, in ONE list.

Each source has a ``name``, says whether it applies (``why_not()``: ``None``, or the reason it is
skipped) and ``load()``s a :class:`Found` (a ``BootConfig`` and how it was found) or raises
:class:`Skip` with its reason. :func:`source_order` is the one place that says which sources are
tried and in what order (as cloud-init's ``cloudinit/net/cmdline.py`` keeps one list of initramfs
config sources); :func:`find_config` tries them and names every source that lost, and why:

1. explicit options (``--ibft PATH``, ``--root-path``; built by the CLI, passed in as ``explicit``);
2. the kernel command line (``ibftkit.sources.cmdline``, read ONCE by the caller): ``netroot=iscsi:…``
   targets and Debian's ``iscsi_target_*`` words (or ``/etc/iscsi/iscsi.initramfs``); a demand for
   the firmware's targets (``rd.iscsi.firmware``, ``ip=ibft``) or for DHCP (``netroot=dhcp``) makes
   that the only source; ``ibftkit.source=`` sets the order outright;
3. the iBFT of the running system (``ibftkit.sources.ibft.locate.load_config``);
4. DHCP (RFC 2131, options 17 and 203) on the NICs that have carrier.

Firmware and command line together (``rd.iscsi.firmware netroot=iscsi:…``, ``ip=ibft netroot=…``):
the firmware's targets first, then the command line's, as dracut's ``modules.d/95iscsi/iscsiroot.sh``
(``handle_firmware``, then each ``netroot``) and Debian's ``local-top/iscsi`` (``iscsistart -b``,
then the ``ISCSI_TARGET_IP`` loop) do.

A source that has no usable configuration is skipped with its reason; ``NoBootConfig`` (exit 3)
lists every reason. Only the DHCP source touches the machine (it sets links up to see carrier,
through ``ibftkit.network.linkup``, and hands them to the run's :class:`RaisedLinks`, their one
owner); with ``dry_run`` it reports what it would do instead. Results are never changed after they
are returned (``Found`` is a NamedTuple; ``_replace`` makes a new one).
"""

# No ``from __future__ import annotations`` here: typing.NamedTuple compiles every annotation given as
# text when the class is defined (docs/init.md, "Boot time"); names imported only for type checking are quoted.
import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ..infra.errors import IbftkitError, NetError, NoBootConfig, NoTableError
from ..infra.log import Logger
from ..model import BootConfig, ChapType, Initiator, Nic, Origin, Secret, Target, TargetFlags
from .cmdline import Cmdline

if TYPE_CHECKING:
    from .cmdline_debian import DebianTarget

DEFAULT_ORDER = ("cmdline", "ibft", "dhcp")
CARRIER_GRACE = 1.0  # after the first link has carrier, how long the others get to catch up
POLL = 0.1


class Skip(Exception):
    """This source has nothing usable: the reason, for the one line that lists every source."""


class Settings(NamedTuple):
    """The resolved options a source needs (``ibftkit.cli.options.resolve`` makes them)."""

    strict: bool = False
    interfaces: tuple[str, ...] = ()
    initiator_name: str | None = None
    dhcp_timeout: float = 30.0
    carrier_timeout: float = 10.0
    dry_run: bool = False
    firmware_root: str = "/"
    initiatorname_path: str = "/etc/iscsi/initiatorname.iscsi"
    ibft_path: str | None = None  # from the command line (ibftkit.ibft=)
    debian: "DebianTarget | None" = None  # Debian's words, or /etc/iscsi/iscsi.initramfs (when read)


class Found(NamedTuple):
    """The winner. ``config`` is ``None`` only in a dry run whose answer needs DHCP.

    ``source`` is options | cmdline | ibft | dhcp (``ibft+cmdline`` when both give targets);
    ``skipped`` the sources before it and why; ``dhcp_rerun`` that the NIC's address must come
    from DHCP (``ip=<dev>:dhcp``, ``--root-path`` without ``--address``); ``lease_ifname`` the
    link a DHCP lease came from while the source was read (the plan applies that lease).
    """

    config: BootConfig | None
    source: str
    detail: str
    skipped: tuple[tuple[str, str], ...] = ()
    dhcp_rerun: bool = False
    would_dhcp_on: tuple[str, ...] = ()
    lease_ifname: str | None = None

    def describe(self) -> str:
        line = f"boot configuration from {self.source} ({self.detail})"
        if self.skipped:
            line += "; not used: " + "; ".join(f"{s}: {why}" for s, why in self.skipped)
        return line


class RaisedLinks:
    """The one owner of the links this run set up, and of the rule for setting them down: they stay
    up only once the network is configured (after a login failure the network stays, for a rescue
    shell); :meth:`release` sets them down otherwise. ``apply_plan`` undoes its own steps; this
    covers what went up before it (at start-up, and for DHCP while the source was read)."""

    def __init__(self, raised: Sequence[str] = ()) -> None:
        self._names = list(raised)
        self.configured = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._names)

    def add(self, names: Sequence[str]) -> None:
        self._names += [n for n in names if n not in self._names]

    def keep_only(self, wanted: Sequence[str]) -> None:
        """Set down the links raised for nothing the plan uses; keep the others."""
        extra = [n for n in self._names if n not in wanted]
        if extra:
            from ..network.linkup import lower_links

            lower_links(extra)
        self._names = [n for n in self._names if n in wanted]

    def release(self) -> None:
        if self._names and not self.configured:
            from ..network.linkup import lower_links

            lower_links(self._names)
            self._names = []


class Source(Protocol):
    """A place a boot configuration may come from."""

    name: str

    def why_not(self) -> str | None:
        """``None`` when the source applies, else the reason it is skipped."""

    def load(self) -> Found:
        """The configuration, or :class:`Skip` with the reason; other errors stop the run."""


# --- the kernel command line -----------------------------------------------------------------------


def _nic_from_cmdline(cl: Cmdline, interfaces: Sequence[str]) -> tuple[Nic | None, bool]:
    """The NIC for the command line's targets from ``ip=``: ``(nic, address_by_dhcp)``; ``(None, _)``
    when the command line names none (DHCP on the NICs with carrier decides)."""
    for spec in cl.ip:
        device = spec.device or (interfaces[0] if len(interfaces) == 1 else None)
        if spec.address is not None:
            if device is None:
                continue  # the plan names the one NIC, or says why it cannot
            return Nic(index=0, ip_address=spec.address.ip, prefix_len=spec.address.network.prefixlen,
                       origin=Origin.MANUAL, gateway=spec.gateway,
                       primary_dns=spec.dns[0] if spec.dns else None,
                       secondary_dns=spec.dns[1] if len(spec.dns) > 1 else None,
                       hostname=spec.hostname, ifname=device), False
        if "dhcp" in spec.methods and device is not None:
            return Nic(index=0, origin=Origin.DHCP, ifname=device), True
    return None, False


def _chap(user: str | None, password: str | None, ruser: str | None, rpassword: str | None) -> dict[str, Any]:
    ctype = ChapType.MUTUAL if rpassword else ChapType.CHAP if password else ChapType.NONE
    return dict(chap_type=ctype, chap_name=user if password else None,
                chap_secret=Secret(password) if password else None,
                reverse_chap_name=ruser if rpassword else None,
                reverse_chap_secret=Secret(rpassword) if rpassword else None)


def netroot_targets(cl: Cmdline, *, first_index: int = 0, boot: bool = True) -> tuple[list[Target], list[str],
                                                                                          str | None]:
    """``(targets, warnings, netdev)`` from ``netroot=iscsi:…`` (dracut dialect) and Debian's words.

    A LUN field of decimal digits is read as dracut reads it: a decimal Linux LUN
    (``modules.d/95iscsi/iscsiroot.sh`` waits for ``…-lun-$iscsi_lun``); other forms as RFC 4173."""
    from ..infra.errors import RootPathError
    from ..model import parse_ip
    from .cmdline import CmdlineError
    from .rootpath import parse_root_path

    targets: list[Target] = []
    warnings: list[str] = []
    netdev = None
    user, password, ruser, rpassword = cl.chap
    for k, text in enumerate(cl.netroots):
        try:
            rp = parse_root_path(text, dialect="dracut")
        except RootPathError as e:  # the word, by number: its text may hold user:password@
            raise CmdlineError(f"kernel command line netroot= #{k + 1}: {e}", hint=e.hint) from None
        if rp.needs_discovery:
            raise NoBootConfig(f"netroot #{k + 1} names no server (RFC 4173 discovery is not supported)")
        lun = rp.lun
        if lun.text.isdigit() and "-" not in lun.text:  # dracut reads the LUN field as decimal
            from ..model import Lun

            lun = Lun.from_linux(int(lun.text, 10))
        warnings += [f"netroot #{k + 1}: {w}" for w in rp.warnings if not w.startswith(f"LUN {rp.lun.text} is hex")]
        netdev = netdev or rp.netdev
        if rp.username is not None:
            chap: dict[str, Any] = dict(
                chap_type=ChapType.MUTUAL if rp.reverse_password else ChapType.CHAP if rp.password
                else ChapType.NONE, chap_name=rp.username, chap_secret=rp.password,
                reverse_chap_name=rp.reverse_username, reverse_chap_secret=rp.reverse_password)
        else:
            chap = _chap(user, password, ruser, rpassword)
        targets.append(Target(
            index=first_index + len(targets),
            flags=TargetFlags.VALID | TargetFlags.BOOT_SELECTED if boot and not targets else TargetFlags.VALID,
            ip_address=parse_ip(rp.server) if rp.server_kind in ("ipv4", "ipv6") else None,
            server_name=rp.server if rp.server_kind == "dns" else None, port=rp.port, lun=lun,
            nic_index=0, name=rp.target, **chap))
    if cl.debian is not None:
        targets += debian_targets(cl.debian, first_index=first_index + len(targets), boot=boot and not targets)
    return targets, warnings, netdev


def debian_targets(d: "DebianTarget", *, first_index: int = 0, boot: bool = True) -> list[Target]:
    """One target per ``ISCSI_TARGET_IP`` address (Debian logs in to each with the same name)."""
    from ..model import parse_ip

    out: list[Target] = []
    for a in d.addresses:
        try:
            ip = parse_ip(a)
            name = None
        except ValueError:
            ip, name = None, a
        out.append(Target(index=first_index + len(out),
                          flags=TargetFlags.VALID | TargetFlags.BOOT_SELECTED if boot and not out
                          else TargetFlags.VALID,
                          ip_address=ip, server_name=name, port=d.port or 3260, nic_index=0, name=d.name,
                          **_chap(d.username, d.password, d.in_username, d.in_password)))
    return out


def _initiator(cl: Cmdline, settings: Settings, option_203: str | None = None) -> tuple[str | None, str, list[str]]:
    if settings.initiator_name:
        return settings.initiator_name, "--initiator-name", []
    from .initiator import resolve_initiator_name

    r = resolve_initiator_name(option_203, parsed=(cl.initiator, cl.initiator_key),
                               initiatorname_path=settings.initiatorname_path)
    return r.name, r.source, list(r.warnings)


def with_initiator(cfg: BootConfig, name: str | None) -> BootConfig:
    if not name:
        return cfg
    old = cfg.initiator or Initiator()
    return cfg.replace(initiator=dataclasses.replace(old, name=name))


# --- DHCP ----------------------------------------------------------------------------------------


def dhcp_candidates(settings: Settings, cl: Cmdline, links: Sequence[Any]) -> list[str]:
    """``--interface``/``ibftkit.interface`` when given, else the ``BOOTIF=`` link, else the links
    ``ip=<dev>:dhcp`` names, else every NIC
    (``network.links.is_nic``: a link backed by a device or a veth end; never ifb, dummy,
    stacked links or loopback), in ifindex order."""
    if settings.interfaces:
        return list(settings.interfaces)
    if cl.interfaces:
        return list(cl.interfaces)
    if cl.bootif:
        by = [x.ifname for x in links if x.mac == cl.bootif and not x.stacked]
        if by:
            return by[:1]
    named = [w.device for w in cl.ip if w.device and "dhcp" in w.methods]
    if named:  # ip=<dev>:dhcp names where DHCP runs (dracut.cmdline(7))
        return [n for n in dict.fromkeys(named)]
    from ..network.links import is_nic

    return [x.ifname for x in links if is_nic(x)]


def links_with_carrier(names: Sequence[str], *, timeout: float, log: Logger,
                       read: Callable[[str], bool | None] | None = None) -> list[str]:
    """Set nothing; wait (``ibftkit.network.linkup.wait_carrier``, reading ``/sys/class/net/<if>/carrier``)
    until every link has carrier, or the first one has had it for ``CARRIER_GRACE`` s, or ``timeout``."""
    from ..infra.sysfs import Sysfs
    from ..network.linkup import wait_carrier

    return wait_carrier(names, timeout=timeout, read=read or Sysfs().carrier, progress=log.progress,
                        grace=CARRIER_GRACE, poll=POLL)


def nics_with_carrier(settings: Settings, cl: Cmdline, log: Logger, *, links: Sequence[Any],
                      raised: RaisedLinks) -> tuple[str, ...]:
    """For ``ip=`` words that name no interface (``ip=dhcp6``, ``ip=either6``…) in a real run: set every
    NIC up and wait, as the DHCP source does, until they all have carrier or the first has had it for
    ``CARRIER_GRACE`` s; the words then configure those (dracut and the kernel use "the interface that
    answers first"). ``()`` when every NIC is wanted anyway (one NIC, or none has carrier: the plan's
    own carrier wait then says which)."""
    names = dhcp_candidates(settings, cl, links)
    if len(names) < 2:
        return ()
    from ..network.linkup import raise_links

    raised.add(raise_links(names))
    up = links_with_carrier(names, timeout=settings.carrier_timeout, log=log)
    if up and len(up) < len(names):
        log.info(f"ip= words naming no interface: {', '.join(up)} (the NICs with carrier)")
    return tuple(up) if up and len(up) < len(names) else ()


def dhcp_config(settings: Settings, cl: Cmdline, log: Logger, *, links: Sequence[Any],
                raised: RaisedLinks) -> Any:
    """The lease from DHCP on the candidates that have carrier: DHCPv4, DHCPv6 or both at once, as the
    ``ip=`` methods say (``ibftkit.sources.dhcp.dual``). Raises ``IbftkitError`` saying why
    there is no lease. The links it sets up are handed to ``raised`` (their owner).

    The links go up first (one ioctl each), then the DHCP client and scapy are imported (seconds on
    a slow machine) while the links negotiate carrier, then the wait for carrier."""
    names = dhcp_candidates(settings, cl, links)
    if not names:
        raise NetError("no network interface to run DHCP on")
    try:
        from . import dhcp
    except ImportError:
        raise IbftkitError("the DHCP client (ibftkit.sources.dhcp) is not in this build") from None
    missing = [n for n in names if not os.path.exists(f"/sys/class/net/{n}")]
    if missing:
        raise NetError(f"no link named {missing[0]} to run DHCP on")
    from ..network.linkup import raise_links

    up_now = raise_links(names)
    for name in up_now:
        log.info(f"set {name} up")
    raised.add(up_now)
    from .dhcp.dual import acquire_any, families_for

    families = families_for(m for w in cl.ip for m in w.methods)
    dhcp.preload(families)
    up = links_with_carrier(names, timeout=settings.carrier_timeout, log=log)
    if not up:
        raise NetError(f"no carrier on {', '.join(names)} after {settings.carrier_timeout:g} s")
    if families == (4,):
        log.progress(f"DHCP on {', '.join(up)} (up to {settings.dhcp_timeout:g} s)")
    else:
        what = " and ".join("DHCPv4" if f == 4 else "DHCPv6" for f in families)
        log.progress(f"DHCP on {', '.join(up)} ({what}, up to {settings.dhcp_timeout:g} s)")
    from ..infra.timing import collect_again

    collect_again()  # seconds of packets: the collector back on (ibftkit.cli.init:entry turns it off)
    return acquire_any(up, timeout=settings.dhcp_timeout, families=families, progress=log.progress)


# --- the sources -----------------------------------------------------------------------------------


class _Context(NamedTuple):
    cl: Cmdline
    settings: Settings
    log: Logger
    links: Callable[[], Sequence[Any]]
    raised: RaisedLinks


def _usable(cfg: BootConfig) -> str | None:
    """Why ``cfg`` cannot boot, or ``None``."""
    return None if cfg.login_order() else "no valid target"


class ExplicitSource:
    """``--ibft PATH`` / ``--root-path``: always applies when given, never falls through."""

    name = "options"

    def __init__(self, ctx: _Context, config: BootConfig, detail: str, by_dhcp: bool) -> None:
        self.ctx, self.config, self.detail, self.by_dhcp = ctx, config, detail, by_dhcp

    def why_not(self) -> str | None:
        return None

    def load(self) -> Found:
        why = _usable(self.config)
        if why:
            raise NoBootConfig(f"{self.config.source or self.detail}: {why}")
        cfg = with_initiator(self.config, self.ctx.settings.initiator_name)
        if cfg.initiator is None or not cfg.initiator.name:
            name, where, notes = _initiator(self.ctx.cl, self.ctx.settings)
            for n in notes:
                self.ctx.log.warning(n)
            if name:
                self.ctx.log.info(f"initiator name {name} from {where}")
                cfg = with_initiator(cfg, name).replace(
                    warnings=tuple(w for w in cfg.warnings if not w.startswith("no initiator name")))
        return Found(cfg, "options", self.detail or self.config.source, dhcp_rerun=self.by_dhcp)


class CmdlineSource:
    """``netroot=iscsi:…`` and Debian's target words: the targets; the network comes from the
    command line's own network words (``ibftkit.network.plan_cmdline``)."""

    name = "kernel command line"

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx

    def why_not(self) -> str | None:
        cl = self.ctx.cl
        return None if cl.netroots or cl.debian is not None else "no netroot=iscsi:…"

    def load(self) -> Found:
        cl, settings, log = self.ctx.cl, self.ctx.settings, self.ctx.log
        interfaces = settings.interfaces or cl.interfaces
        nic, by_dhcp = _nic_from_cmdline(cl, interfaces)
        targets, warnings, netdev = netroot_targets(cl)
        if nic is None and netdev:
            nic, by_dhcp = Nic(index=0, origin=Origin.DHCP, ifname=netdev), True
        if nic is None and len(interfaces) == 1:
            nic, by_dhcp = Nic(index=0, origin=Origin.DHCP, ifname=interfaces[0]), True
        n = len(cl.netroots)
        detail = f"{n} netroot=iscsi:…" if n else f"{len(targets)} iscsi_target_ip"
        option_203 = None
        lease_ifname = None
        if nic is None and not _words_configure_network(cl) and not settings.dry_run:
            # the address from DHCP on whichever NIC answers first (a dry run plans DHCP on each)
            try:
                lease = dhcp_config(settings, cl, log, links=self.ctx.links(), raised=self.ctx.raised)
            except IbftkitError as e:
                raise NetError(f"netroot= on the kernel command line, but no address: {e}") from None
            nic, option_203, lease_ifname = lease.to_nic(), lease.initiator_name, lease.interface
            detail += f"; address {lease.address} by DHCP on {lease.interface}"
        name, _, notes = _initiator(cl, settings, option_203)
        if not name and settings.dry_run and nic is None:
            names = dhcp_candidates(settings, cl, self.ctx.links())
            return Found(None, "cmdline", detail + "; the initiator name may come from DHCP (dry run: not sent)",
                         would_dhcp_on=tuple(names))
        if not name:
            raise NoBootConfig("netroot= on the kernel command line but no initiator name "
                               "(rd.iscsi.initiator=, DHCP option 203 or /etc/iscsi/initiatorname.iscsi)")
        nics = (nic,) if nic is not None else (Nic(index=0, origin=Origin.DHCP),)
        cfg = BootConfig(initiator=Initiator(name=name), nics=nics, targets=tuple(targets), source="cmdline",
                         warnings=tuple(warnings + notes))
        return Found(cfg, "cmdline", detail, dhcp_rerun=by_dhcp, lease_ifname=lease_ifname)


def _words_configure_network(cl: Cmdline) -> bool:
    """The command line's own words give an address plan (so no DHCP while reading the source)."""
    return any(w.address is not None or w.device or w.device_mac or w.methods != ("dhcp",) for w in cl.ip) or bool(
        cl.bonds or cl.bridges or cl.vlans or cl.bootif)


class FirmwareSource:
    """This system's iBFT (or ``ibftkit.ibft=PATH``)."""

    name = "iBFT"

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx

    def why_not(self) -> str | None:
        return None

    def load(self) -> Found:
        from .ibft.locate import load_config

        settings, log = self.ctx.settings, self.ctx.log
        try:
            cfg = load_config(settings.ibft_path, strict=settings.strict, root=settings.firmware_root)
        except NoTableError as e:
            if settings.ibft_path:  # a table the command line names and is not there: never silent
                log.warning(f"iBFT: ibftkit.ibft={settings.ibft_path}: {e}; trying the next source")
            raise Skip(str(e)) from None
        except IbftkitError as e:  # a table that does not decode: say so, try the next source
            log.warning(f"iBFT: {e}")
            raise Skip(str(e)) from None
        why = _usable(cfg)
        if why:
            raise Skip(f"{cfg.source}: {why}")
        if settings.initiator_name:
            cfg = with_initiator(cfg, settings.initiator_name)
        elif cfg.initiator is None or not cfg.initiator.name:
            name, where, notes = _initiator(self.ctx.cl, settings)
            for n in notes:
                log.warning(n)
            if name:
                log.warning(f"the iBFT has no initiator name; using {name} from {where}")
            cfg = with_initiator(cfg, name)
        return Found(cfg, "ibft", cfg.source)


class DhcpSource:
    """A DHCP lease's root path (option 17) and initiator name (option 203)."""

    name = "DHCP"

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx

    def why_not(self) -> str | None:
        return None

    def load(self) -> Found:
        cl, settings, log = self.ctx.cl, self.ctx.settings, self.ctx.log
        if settings.dry_run:
            names = dhcp_candidates(settings, cl, self.ctx.links())
            return Found(None, "dhcp", "dry run: DHCP not sent", would_dhcp_on=tuple(names))
        before = self.ctx.raised.names
        try:
            lease = dhcp_config(settings, cl, log, links=self.ctx.links(), raised=self.ctx.raised)
        except IbftkitError as e:
            self.ctx.raised.keep_only(before)
            raise Skip(str(e)) from None
        name, _, notes = _initiator(cl, settings, lease.initiator_name)
        for n in notes:
            log.warning(n)
        cfg = lease.to_boot_config(initiator_name=name)
        why = _usable(cfg)
        if why:
            self.ctx.raised.keep_only(before)
            raise Skip(f"lease on {lease.interface}: {why}")
        server = lease.server_id.hex() if isinstance(lease.server_id, bytes) else lease.server_id
        detail = f"lease {lease.address} on {lease.interface} from {server or '?'}"
        return Found(cfg, "dhcp", detail, lease_ifname=lease.interface)


_SOURCES: dict[str, Callable[[_Context], Source]] = {
    "cmdline": CmdlineSource, "ibft": FirmwareSource, "dhcp": DhcpSource,
}


def order_names(cl: Cmdline) -> tuple[str, ...]:
    """The order of the named sources the command line asks for (see the module docstring)."""
    if cl.sources is not None:
        return cl.sources
    if cl.firmware:  # the command line's own targets follow the firmware's (find_config), or stand alone
        return ("ibft", "cmdline") if cl.netroots or cl.debian is not None else ("ibft",)
    if cl.netroots or cl.debian is not None:
        return ("cmdline",)
    if cl.dhcp_root:
        return ("dhcp",)
    return DEFAULT_ORDER


def source_order(ctx: _Context, explicit: ExplicitSource | None = None) -> list[Source]:
    """THE list of sources, in the order they are tried."""
    if explicit is not None:
        return [explicit]
    return [_SOURCES[n](ctx) for n in order_names(ctx.cl)]


def _holds(nic: Nic, ip: Any) -> bool:
    """``nic``'s subnet holds ``ip`` (a NIC with no or an invalid address holds nothing)."""
    try:
        iface = nic.interface
    except ValueError:
        return False
    return iface is not None and iface.version == ip.version and ip in iface.network


def _append_cmdline_targets(found: Found, cl: Cmdline) -> Found:
    """Firmware and command line together: the command line's targets after the firmware's."""
    assert found.config is not None
    cfg = found.config
    extra, warnings, _ = netroot_targets(cl, first_index=len(cfg.targets), boot=False)
    nic_index = cfg.boot_nic().index if cfg.boot_nic() is not None else 0  # type: ignore[union-attr]
    placed = []
    for t in extra:
        on = next((n for n in cfg.nics if t.ip_address is not None and _holds(n, t.ip_address)), None)
        placed.append(dataclasses.replace(t, nic_index=on.index if on else nic_index))
    cfg = cfg.replace(targets=cfg.targets + tuple(placed), warnings=cfg.warnings + tuple(warnings))
    return found._replace(config=cfg, source=f"{found.source}+cmdline",
                          detail=f"{found.detail}; then {len(placed)} target(s) from the kernel command line")


def find_config(cl: Cmdline, settings: Settings, log: Logger, *, explicit: BootConfig | None = None,
                explicit_detail: str = "", explicit_by_dhcp: bool = False,
                links: Callable[[], Sequence[Any]] | None = None, raised: RaisedLinks | None = None) -> Found:
    """The first source with a usable boot configuration (see the module docstring)."""
    from ..network.links import list_links

    ctx = _Context(cl, settings, log, links or list_links, raised if raised is not None else RaisedLinks())
    exp = ExplicitSource(ctx, explicit, explicit_detail, explicit_by_dhcp) if explicit is not None else None
    sources = source_order(ctx, exp)
    if exp is None and order_names(cl) != DEFAULT_ORDER:
        log.info(f"sources from the kernel command line: {', '.join(order_names(cl))}")
    skipped: list[tuple[str, str]] = []
    for source in sources:
        why = source.why_not()
        if why is not None:
            skipped.append((source.name, why))
            continue
        try:
            found = source.load()
        except Skip as e:
            skipped.append((source.name, str(e)))
            continue
        if found.source == "ibft" and cl.firmware and (cl.netroots or cl.debian is not None):
            found = _append_cmdline_targets(found, cl)
        return found._replace(skipped=tuple(skipped))
    raise NoBootConfig("no boot configuration found: " + "; ".join(f"{s}: {why}" for s, why in skipped))
