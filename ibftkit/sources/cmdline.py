"""The kernel command line as ``ibftkit-init`` reads it (``/proc/cmdline``, injectable).

Words are split as the kernel's ``next_arg`` does (double quotes group;
:func:`split_cmdline`). For a key given more than once the last wins, except where noted.

ibftkit's own keys (documented in ``docs/init.md``):

================================  ===============================================================
``ibftkit.source=S[,S…]``         which sources to try, in order: ``ibft``, ``dhcp``, ``cmdline``
``ibftkit.ibft=PATH``             read the table from PATH instead of the running system
``ibftkit.interface=IF[,IF…]``    NICs for DHCP (repeatable)
``ibftkit.initiator=IQN``         initiator name (before ``rd.iscsi.initiator``)
``ibftkit.dhcp-timeout=S``        seconds for DHCP (default 30)
``ibftkit.carrier-timeout=S``     seconds to wait for carrier per link (default 10)
``ibftkit.login-retries=N``       login retries per target (default 3)
``ibftkit.login-backoff=S``       first wait between login attempts, doubling (default 2)
``ibftkit.param=NAME=VALUE``      an iSCSI setting passed with ``-P`` (repeatable)
``ibftkit.backend=B``             ``iscsistart`` (default) or ``iscsiadm``
``ibftkit.dhcp-rerun``            re-run DHCP for a NIC whose firmware address came from DHCP
``ibftkit.strict``                refuse a table the decoder has warnings about
``ibftkit.quiet`` / ``ibftkit.verbose`` / ``ibftkit.debug``   logging level
================================  ===============================================================

Common keys also read (dracut.cmdline(7), Debian initramfs-tools ``iscsi``):

- ``rd.iscsi.firmware[=1]`` / ``iscsi_firmware`` / ``iscsi_auto`` / ``rd.iscsi.ibft`` /
  ``ip=ibft``: use the iBFT and nothing else (no fall-back to DHCP);
- ``netroot=iscsi:…`` and ``root=iscsi:…`` (repeatable; all are logged in to, the first is the
  boot target), parsed in the dracut dialect (``user:password@`` and ``iface:netdev`` fields);
  the bare ``netroot=iscsi`` / ``netroot=iscsi:`` means "firmware", as in dracut;
- ``netroot=dhcp`` / ``root=dhcp``: the root path comes from DHCP option 17;
- ``rd.iscsi.initiator=`` / ``iscsi_initiator=``;
- ``rd.iscsi.username=``, ``rd.iscsi.password=``, ``rd.iscsi.in.username=``,
  ``rd.iscsi.in.password=``: CHAP for ``netroot=`` targets (with a warning: readable in
  ``/proc/cmdline`` by every user);
- ``rd.iscsi.param=NAME=VALUE`` (repeatable) as ``ibftkit.param``;
- ``ip=`` in dracut's forms ``ip=<ip>:[<peer>]:<gw>:<netmask>:<host>:<dev>:{none|off|static}[:<dns1>[:<dns2>]]``,
  ``ip=<dev>:dhcp`` and ``ip=dhcp``: the NIC for ``netroot=`` targets.
"""


# No ``from __future__ import annotations`` here: typing.NamedTuple compiles every annotation given as
# text when the class is defined (docs/init.md, "Boot time"); names imported only for type checking are quoted.
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..infra.errors import EXIT_NO_CONFIG, IbftkitError, UsageError

if TYPE_CHECKING:  # the network words' grammar, Debian's words: loaded with such a word (docs/init.md "Boot time")
    from .cmdline_debian import DebianTarget as DebianTarget
    from .cmdline_net import BondWord, BridgeWord, IfnameWord, IPAddress, IpWord, RouteWord, VlanWord
    from .cmdline_net import parse_ip as parse_ip

__all__ = ["CmdlineError", "Cmdline", "DebianTarget", "IpWord", "load_cmdline", "parse_cmdline", "parse_ip",
           "split_cmdline"]


def __getattr__(name: str) -> Any:
    """``IpWord``, ``parse_ip`` (``cmdline_net``), ``DebianTarget`` (``cmdline_debian``), PEP 562."""
    if name in ("IpWord", "parse_ip"):
        from . import cmdline_net

        return getattr(cmdline_net, name)
    if name == "DebianTarget":
        from .cmdline_debian import DebianTarget

        return DebianTarget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


CMDLINE_PATH = "/proc/cmdline"
SOURCES = ("ibft", "dhcp", "cmdline")
BACKENDS = ("iscsistart", "iscsiadm")
_FIRMWARE_FLAGS = ("rd.iscsi.firmware", "iscsi_firmware", "rd.iscsi.ibft", "iscsi_auto")
_FALSE = ("0", "no", "false", "off")


class CmdlineError(IbftkitError):
    """A kernel command-line word with a value that cannot be read (exit status 3)."""

    exit_status = EXIT_NO_CONFIG


def malformed(key: str, value: str | None, expected: str) -> CmdlineError:
    """The one line for a malformed word: the word, its value and what was expected."""
    shown = "" if value is None else f"={value}"
    return CmdlineError(f"kernel command line {key}{shown}: expected {expected}")


def split_cmdline(text: str) -> list[tuple[str, str | None]]:
    """Kernel command-line words as ``(key, value)``; double quotes group as the kernel's
    ``next_arg`` does (``key="a b"`` and ``"key=a b"``); a bare word has value ``None``."""
    words: list[str] = []
    current: list[str] = []
    quoted = in_word = False
    for c in text:
        if c == '"':
            quoted = not quoted
            in_word = True
        elif c.isspace() and not quoted:
            if in_word:
                words.append("".join(current))
            current, in_word = [], False
        else:
            current.append(c)
            in_word = True
    if in_word:
        words.append("".join(current))
    out: list[tuple[str, str | None]] = []
    for word in words:
        key, eq, value = word.partition("=")
        out.append((key, value if eq else None))
    return out



class Cmdline(NamedTuple):
    """What the kernel command line asks of ibftkit-init (``None``: not given there). Read once
    (:func:`load_cmdline`) and passed to every part that needs it."""

    text: str = ""
    firmware: bool = False  # rd.iscsi.firmware, ip=ibft and friends: the iBFT's targets (first)
    dhcp_root: bool = False  # netroot=dhcp / root=dhcp
    netroots: tuple[str, ...] = ()  # netroot=iscsi:… values (secrets possible: never log them)
    ip: "tuple[IpWord, ...]" = ()
    ifnames: "tuple[IfnameWord, ...]" = ()
    vlans: "tuple[VlanWord, ...]" = ()
    bonds: "tuple[BondWord, ...]" = ()
    bridges: "tuple[BridgeWord, ...]" = ()
    routes: "tuple[RouteWord, ...]" = ()
    nameservers: "tuple[IPAddress, ...]" = ()
    bootif: str | None = None  # BOOTIF= MAC (unless rd.bootif=0)
    bootdev: str | None = None
    neednet: bool = False  # rd.neednet: configure the network even when nothing else asks for it
    initiator: str | None = None
    initiator_key: str | None = None
    chap: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None)
    tpgt: int | None = None  # rd.iscsi.target.group / iscsi_target_group
    debian: "DebianTarget | None" = None  # iscsi_target_name/ip/port/… (Debian's open-iscsi)
    sources: tuple[str, ...] | None = None
    ibft_path: str | None = None
    interfaces: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    backend: str | None = None
    dhcp_timeout: float | None = None
    carrier_timeout: float | None = None
    login_retries: int | None = None
    login_backoff: float | None = None
    dhcp_rerun: bool = False
    strict: bool = False
    quiet: bool = False
    verbose: bool = False
    debug: bool = False
    warnings: tuple[str, ...] = ()

    def secrets(self) -> list[str]:
        out = [s for s in (self.chap[1], self.chap[3]) if s]
        if self.debian is not None:
            out += [s for s in (self.debian.password, self.debian.in_password) if s]
        return out

    @property
    def asks_for_iscsi(self) -> bool:
        return (self.firmware or self.dhcp_root or bool(self.netroots) or self.sources is not None
                or self.debian is not None)

    @property
    def has_network_words(self) -> bool:
        """Any word that configures the network (``ip=`` other than ``ibft``/``off``, ``ifname=``, …)."""
        return bool(self.ip or self.ifnames or self.vlans or self.bonds or self.bridges or self.routes
                    or self.nameservers or self.bootif)


def _flag(value: str | None) -> bool:
    return value is None or value.strip().lower() not in _FALSE


def _number(key: str, value: str | None, kind: type[float] | type[int]) -> float | int:
    try:
        n = kind(value or "")
    except ValueError:
        raise UsageError(f"kernel command line {key}={value!r}: expected a number") from None
    if n < 0:
        raise UsageError(f"kernel command line {key}={value!r}: expected a number >= 0")
    return n


def _int(key: str, value: str | None, low: int, high: int) -> int:
    v = (value or "").strip()
    if not v.isdigit() or not low <= int(v) <= high:
        raise malformed(key, value, f"a whole number {low}..{high}")
    return int(v)


_CHAP_KEYS = {
    "rd.iscsi.username": 0, "rd.iscsi.password": 1, "rd.iscsi.in.username": 2, "rd.iscsi.in.password": 3,
}
#: Debian's open-iscsi words (local-top/iscsi ``parse_iscsi_ops``) → DebianTarget fields
_DEBIAN_KEYS = {
    "iscsi_target_name": "name", "iscsi_target_ip": "addresses", "iscsi_target_port": "port",
    "iscsi_target_group": "group", "iscsi_username": "username", "iscsi_password": "password",
    "iscsi_in_username": "in_username", "iscsi_in_password": "in_password",
}
_INITIATOR_KEYS = ("ibftkit.initiator", "rd.iscsi.initiator", "iscsi_initiator")
#: valid words of other dialects that ibftkit-init does not act on, and what happens instead
_NOT_HONOURED = {
    "rd.iscsi.transport": "offload transports are not supported; the software initiator (tcp) is used",
    "rd.iscsi.waitnet": "ibftkit-init configures the network once, before the logins",
    "rd.iscsi.testroute": "ibftkit-init plans routes itself",
    "rd.iscsi.target.name": "dracut itself never reads it; give netroot=iscsi:… instead",
    "rd.iscsi.target.ip": "dracut itself never reads it; give netroot=iscsi:… instead",
    "rd.iscsi.target.port": "dracut itself never reads it; give netroot=iscsi:… instead",
    "rd.peerdns": "the DNS servers of a DHCP lease are used",
    "rd.net.dhcp.retry": "DHCP runs once, for the whole timeout",
    "rd.net.timeout.ifup": "ibftkit-init uses its carrier and DHCP timeouts",
    "rd.net.timeout.iflink": "ibftkit-init uses its carrier timeout",
    "rd.net.timeout.ipv6dad": "ibftkit-init does not wait for duplicate address detection",
    "rd.net.timeout.ipv6auto": "ibftkit-init uses its DHCP timeout",
    "rd.net.timeout.ip-required": "ibftkit-init uses its DHCP timeout",
    "rd.net.dhcp.vendor-class": "ibftkit's DHCP client sends its own vendor class",
    "rd.net.dhcp.client-id": "ibftkit's DHCP client identifies itself by its MAC",
    "rd.net.dhcp.dscp": "DHCP packets are sent with the default DSCP",
    "rd.ethtool": "link speed and autonegotiation are left as the driver sets them",
    "rd.znet": "s390 channel devices are not configured by ibftkit",
    "rd.znet_ifname": "s390 channel devices are not configured by ibftkit",
    "ib.pkey": "InfiniBand partitions are not created by ibftkit",
    "rd.net.dns": "DNS over TLS is not configured; nameserver= is",
    "rd.net.dns-backend": "resolv.conf is written directly",
    "rd.net.dns-resolve-mode": "resolv.conf is written directly",
}


def _add_warning(warnings: list[str], text: str) -> None:
    if text not in warnings:
        warnings.append(text)


class _Reader:
    """What :func:`parse_cmdline` has read so far: one method per kind of word (the table
    :data:`_WORDS` maps each key to its method), then :meth:`finish` builds the :class:`Cmdline`."""

    def __init__(self, text: str) -> None:
        self.kw: dict[str, object] = {"text": text}
        self.netroots: list[str] = []
        self.ips: list[IpWord] = []
        self.ifnames: list[IfnameWord] = []
        self.vlans: list[VlanWord] = []
        self.bonds: list[BondWord] = []
        self.bridges: list[BridgeWord] = []
        self.routes: list[RouteWord] = []
        self.nameservers: list[IPAddress] = []
        self.interfaces: list[str] = []
        self.params: list[str] = []
        self.warnings: list[str] = []
        self.chap: list[str | None] = [None, None, None, None]
        self.initiators: dict[str, str] = {}
        self.debian: dict[str, str] = {}
        self.bootif: str | None = None
        self.bootif_on = True
        self.retry_max: int | None = None

    def firmware(self, key: str, value: str | None) -> None:
        self.kw["firmware"] = _flag(value)

    def netroot(self, key: str, value: str | None) -> None:
        if value in ("iscsi", "iscsi:"):
            self.kw["firmware"] = True
        elif value == "dhcp":
            self.kw["dhcp_root"] = True
        elif value is not None and value.lower().startswith("iscsi:"):
            self.netroots.append(value)

    def ip(self, key: str, value: str) -> None:
        from .cmdline_net import parse_ip

        word = parse_ip(value)
        self.warnings += [n for n in word.notes if n not in self.warnings]
        if word.methods == ("ibft",):
            self.kw["firmware"] = True
            if word.device or word.device_mac:
                _add_warning(self.warnings, f"ip={value}: the iBFT configures the NICs it names; "
                             "the interface field is not used")
        elif not (word.is_off and word.device is None and word.device_mac is None):
            self.ips.append(word)  # (ip=off / ip=none alone: no automatic configuration, nfsroot.rst)

    def ifname(self, key: str, value: str | None) -> None:
        from .cmdline_net import parse_ifname

        self.ifnames.append(parse_ifname(value))

    def vlan(self, key: str, value: str | None) -> None:
        from .cmdline_net import parse_vlan

        vlan, notes = parse_vlan(value)
        same = [v for v in self.vlans if v.name == vlan.name]
        if same and same[0] != vlan:  # one link name, two links: the plan could not create both
            raise malformed(key, value, f"a VLAN name no other vlan= uses (vlan={same[0].name}:"
                            f"{same[0].parent} names {vlan.name} already)")
        twin = [v for v in self.vlans if v.parent == vlan.parent and v.vlan_id == vlan.vlan_id
                and v.name != vlan.name]
        if twin:  # the kernel keeps one link per VID on a parent (register_vlan_device: EEXIST)
            raise malformed(key, value, f"one VLAN per VID on {vlan.parent} (vlan={twin[0].name}:"
                            f"{twin[0].parent} has VID {vlan.vlan_id} already)")
        if not same:
            self.vlans.append(vlan)
        self.warnings += notes

    def bond(self, key: str, value: str | None) -> None:
        from .cmdline_net import parse_bond

        self.bonds.append(parse_bond(value))

    def bridge(self, key: str, value: str | None) -> None:
        from .cmdline_net import parse_bridge

        self.bridges.append(parse_bridge(value))

    def team(self, key: str, value: str | None) -> None:
        _add_warning(self.warnings, f"team={value or ''}: teaming (teamd) is not supported by ibftkit: no team "
                     "link is created (use bond= with mode=active-backup)")

    def route(self, key: str, value: str) -> None:
        from .cmdline_net import parse_route

        self.routes.append(parse_route(value))

    def nameserver(self, key: str, value: str) -> None:
        from .cmdline_net import parse_nameserver

        ns = parse_nameserver(value)
        if ns not in self.nameservers:
            self.nameservers.append(ns)

    def bootif_word(self, key: str, value: str) -> None:
        from .cmdline_net import parse_bootif

        self.bootif = parse_bootif(value)

    def rd_bootif(self, key: str, value: str | None) -> None:
        self.bootif_on = _flag(value)

    def bootdev(self, key: str, value: str) -> None:
        self.kw["bootdev"] = value

    def neednet(self, key: str, value: str | None) -> None:
        self.kw["neednet"] = _flag(value)

    def timeout(self, key: str, value: str | None) -> None:
        from .cmdline_net import parse_seconds

        secs = parse_seconds(key, value)
        name = "carrier_timeout" if key == "rd.net.timeout.carrier" else "dhcp_timeout"
        self.kw.setdefault(name, secs if secs is not None else 3600.0)

    def initiator(self, key: str, value: str) -> None:
        self.initiators[key] = value

    def chap_word(self, key: str, value: str | None) -> None:
        self.chap[_CHAP_KEYS[key]] = value or None

    def debian_word(self, key: str, value: str | None) -> None:
        self.debian[_DEBIAN_KEYS[key]] = value or ""

    def target_group(self, key: str, value: str | None) -> None:
        self.kw["tpgt"] = _int(key, value, 0, 65535)

    def login_retry_max(self, key: str, value: str | None) -> None:
        self.retry_max = _int(key, value, 0, 10000)

    def param(self, key: str, value: str) -> None:
        self.params.append(_param(key, value))

    def not_honoured(self, key: str, value: str | None) -> None:
        _add_warning(self.warnings, f"{key}: {_NOT_HONOURED[key]}")

    def read(self, key: str, value: str | None) -> None:
        """One word: its method from :data:`_VALUE_WORDS` (only with a value) or :data:`_WORDS`,
        else an ``ibftkit.*`` word; an ``ibftkit.*`` or ``rd.iscsi.*`` key ibftkit does not know is a
        warning (``cmdline_checks.unknown_key_warning``), any other word nothing (never an error)."""
        if key in _VALUE_WORDS:
            if value:
                _VALUE_WORDS[key](self, key, value)
            elif key.startswith("ibftkit."):
                _add_warning(self.warnings, f"kernel command line {key}{'' if value is None else '='}: "
                             f"expected a value ({key}=…; docs/init.md), ignored")
        elif key in _WORDS:
            _WORDS[key](self, key, value)
        elif key in IBFTKIT_KEYS:
            _ibftkit_word(key, value, self.kw, self.interfaces, self.warnings)
        elif key.startswith(("ibftkit.", "rd.iscsi.")) and key != "rd.iscsi.mp":  # (mp: docs/cmdline.md)
            from .cmdline_checks import unknown_key_warning  # here: only an unknown key needs it

            _add_warning(self.warnings, unknown_key_warning(key, value))

    def finish(self) -> Cmdline:
        kw, warnings, params = self.kw, self.warnings, self.params
        for key in _INITIATOR_KEYS:
            if key in self.initiators:
                kw["initiator"] = self.initiators[key]
                kw["initiator_key"] = key
                break
        if self.retry_max is not None and not any(
                p.startswith("node.session.initial_login_retry_max=") for p in params):
            params.insert(0, f"node.session.initial_login_retry_max={self.retry_max}")  # as dracut's iscsiroot.sh
        if self.bootif is not None and self.bootif_on:
            kw["bootif"] = self.bootif
        deb = None
        if self.debian:
            from .cmdline_debian import debian_target

            deb = debian_target(self.debian, warnings)
        if deb is not None:
            kw["debian"] = deb
            if deb.group is not None and "tpgt" not in kw:
                kw["tpgt"] = deb.group
        chap = self.chap
        if chap[1] or chap[3]:
            warnings.append("CHAP secrets on the kernel command line (rd.iscsi.password) are readable by every "
                            "user in /proc/cmdline")
        if deb is not None and (deb.password or deb.in_password):
            warnings.append("CHAP secrets on the kernel command line (iscsi_password) are readable by every "
                            "user in /proc/cmdline")
        if any("@" in n for n in self.netroots):
            warnings.append("netroot= carries CHAP credentials (user:password@): readable by every user in "
                            "/proc/cmdline")
        ifnames, bonds, bridges = tuple(self.ifnames), tuple(self.bonds), tuple(self.bridges)
        if ifnames or bonds or bridges:  # a link named twice, a slave in two bonds, eth0 as a name: warnings
            from .cmdline_checks import check_ifnames, check_members

            ifnames = check_ifnames(ifnames, warnings)
            bonds, bridges = check_members(bonds, bridges, warnings)
        return Cmdline(netroots=tuple(self.netroots), ip=tuple(self.ips), ifnames=ifnames,
                       vlans=tuple(self.vlans), bonds=bonds, bridges=bridges,
                       routes=tuple(self.routes), nameservers=tuple(self.nameservers),
                       interfaces=tuple(self.interfaces), params=tuple(params),
                       chap=(chap[0], chap[1], chap[2], chap[3]), warnings=tuple(warnings),
                       **kw)  # type: ignore[arg-type]


#: key -> the :class:`_Reader` method that reads it
_WORDS: dict[str, Callable[[_Reader, str, str | None], None]] = {
    **{k: _Reader.firmware for k in _FIRMWARE_FLAGS},
    "netroot": _Reader.netroot, "root": _Reader.netroot,
    "ifname": _Reader.ifname, "vlan": _Reader.vlan, "bond": _Reader.bond, "bridge": _Reader.bridge,
    "team": _Reader.team, "rd.bootif": _Reader.rd_bootif, "rd.neednet": _Reader.neednet,
    "rd.net.timeout.carrier": _Reader.timeout, "rd.net.timeout.dhcp": _Reader.timeout,
    **{k: _Reader.chap_word for k in _CHAP_KEYS},
    **{k: _Reader.debian_word for k in _DEBIAN_KEYS},
    "rd.iscsi.target.group": _Reader.target_group, "rd.iscsi.login_retry_max": _Reader.login_retry_max,
    **{k: _Reader.not_honoured for k in _NOT_HONOURED},
}
#: words read only with a value (``ip``, ``ip=`` alone: ignored, as dracut's ``getarg`` does)
_VALUE_WORDS: dict[str, Callable[[_Reader, str, str], None]] = {
    "ip": _Reader.ip, "rd.route": _Reader.route, "nameserver": _Reader.nameserver,
    "BOOTIF": _Reader.bootif_word, "bootdev": _Reader.bootdev,
    **{k: _Reader.initiator for k in _INITIATOR_KEYS},
    "ibftkit.param": _Reader.param, "rd.iscsi.param": _Reader.param,
}


def parse_cmdline(text: str) -> Cmdline:
    """Everything ibftkit-init reads from a kernel command line (docs/cmdline.md).

    Raises ``UsageError`` (exit 2) for a bad ``ibftkit.*`` value, :class:`CmdlineError` (exit 3)
    for a malformed word of another dialect (naming the word, the value and what was expected);
    never for a word it does not know. Valid words it cannot honour give a warning each."""
    reader = _Reader(text)
    for key, value in split_cmdline(text):
        reader.read(key, value)
    return reader.finish()


def _param(key: str, value: str) -> str:
    """``rd.iscsi.param=``/``ibftkit.param=`` checked as ``--param`` is, named as the word it is: a
    malformed dracut word is exit 3 (``CmdlineError``), a malformed ``ibftkit.param`` exit 2."""
    from ..login.argv import parse_param  # the one NAME=VALUE rule (docs/architecture.md, rule 4)

    try:
        parse_param(value, where=f"kernel command line {key}=")
    except UsageError as e:
        if key == "ibftkit.param":
            raise
        raise CmdlineError(str(e)) from None
    return value


_IBFTKIT_FLAGS = ("ibftkit.dhcp-rerun", "ibftkit.strict", "ibftkit.quiet", "ibftkit.verbose", "ibftkit.debug")
_IBFTKIT_NUMBERS = ("ibftkit.dhcp-timeout", "ibftkit.carrier-timeout", "ibftkit.login-backoff", "ibftkit.login-retries")
#: every ``ibftkit.*`` key (docs/init.md, "Kernel command-line keys"); any other is warned about
IBFTKIT_KEYS = ("ibftkit.source", "ibftkit.ibft", "ibftkit.interface", "ibftkit.initiator", *_IBFTKIT_NUMBERS,
                "ibftkit.param", "ibftkit.backend", *_IBFTKIT_FLAGS)
_TRUE = ("", "1", "yes", "true", "on")


def _ibftkit_word(key: str, value: str | None, kw: dict[str, object], interfaces: list[str],
                  warnings: list[str]) -> None:
    """One ``ibftkit.*`` word (ibftkit's own: a bad value is a usage error, exit 2; a key that needs
    a value given without one, or a flag with a value that is neither on nor off, is a warning)."""
    if key in _IBFTKIT_FLAGS:
        if value is not None and value.strip().lower() not in (*_TRUE, *_FALSE):
            _add_warning(warnings, f"kernel command line {key}={value}: expected {key}, {key}=1 or {key}=0 "
                         "(also yes/no, true/false, on/off); read as on")
        kw[key.split(".", 1)[1].replace("-", "_")] = _flag(value)
    elif value is None or (not value and key in ("ibftkit.ibft", "ibftkit.interface")):
        _add_warning(warnings, f"kernel command line {key}{'' if value is None else '='}: expected a value "
                     f"({key}=…; docs/init.md), ignored")
    elif key == "ibftkit.source":
        names = tuple(v.strip() for v in value.split(",") if v.strip())
        bad = [n for n in names if n not in SOURCES]
        if bad or not names:
            from .cmdline_checks import close_words

            raise UsageError(f"kernel command line ibftkit.source={value!r}: expected a list of "
                             f"{', '.join(SOURCES)}" + (close_words(bad[0], SOURCES) if bad else ""))
        kw["sources"] = names
    elif key == "ibftkit.ibft":
        kw["ibft_path"] = value
    elif key == "ibftkit.interface":
        interfaces += [v for v in value.split(",") if v]
    elif key == "ibftkit.backend":
        if value not in BACKENDS:
            from .cmdline_checks import close_words

            raise UsageError(f"kernel command line ibftkit.backend={value!r}: expected {' or '.join(BACKENDS)}"
                             + close_words(value, BACKENDS))
        kw["backend"] = value
    elif key == "ibftkit.login-retries":
        kw["login_retries"] = int(_number(key, value, int))
    elif key in _IBFTKIT_NUMBERS:
        kw[key.split(".", 1)[1].replace("-", "_")] = float(_number(key, value, float))


#: Debian's ``ISCSI_*`` variables (open-iscsi's README.Debian "Root on iSCSI"): ``cmdline_debian``
ISCSI_INITRAMFS = "/etc/iscsi/iscsi.initramfs"


def parse_iscsi_initramfs(text: str, origin: str = ISCSI_INITRAMFS) -> (
        "tuple[DebianTarget | None, str | None, bool, list[str]]"):
    """``ibftkit.sources.cmdline_debian.parse_iscsi_initramfs`` (imported when a file is read)."""
    from .cmdline_debian import parse_iscsi_initramfs as parse

    return parse(text, origin)


def load_cmdline(path: str | Path = CMDLINE_PATH) -> Cmdline:
    """The command line at ``path`` (a missing or unreadable file is an empty command line: the
    default ``/proc/cmdline`` where ``/proc`` is not mounted; a ``--cmdline PATH`` the user names is
    checked first by the programs, ``ibftkit.infra.files.check_input``, exit 2)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    return parse_cmdline(text.strip())
