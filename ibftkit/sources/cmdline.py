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

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import NamedTuple

from ..infra.errors import UsageError

CMDLINE_PATH = "/proc/cmdline"
SOURCES = ("ibft", "dhcp", "cmdline")
BACKENDS = ("iscsistart", "iscsiadm")
_FIRMWARE_FLAGS = ("rd.iscsi.firmware", "iscsi_firmware", "rd.iscsi.ibft", "iscsi_auto")
_FALSE = ("0", "no", "false", "off")


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



class IpSpec(NamedTuple):
    """One ``ip=`` word. ``method`` is ``static``, ``dhcp`` or ``ibft``; ``device`` may be ``None``."""

    method: str
    device: str | None = None
    address: ipaddress.IPv4Interface | ipaddress.IPv6Interface | None = None
    gateway: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    hostname: str | None = None
    dns: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()


class Cmdline(NamedTuple):
    """What the kernel command line asks of ibftkit-init (``None``: not given there)."""

    text: str = ""
    firmware: bool = False  # rd.iscsi.firmware and friends: the iBFT only
    dhcp_root: bool = False  # netroot=dhcp / root=dhcp
    netroots: tuple[str, ...] = ()  # netroot=iscsi:… values (secrets possible: never log them)
    ip: tuple[IpSpec, ...] = ()
    initiator: str | None = None
    chap: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None)
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
        return [s for s in (self.chap[1], self.chap[3]) if s]

    @property
    def asks_for_iscsi(self) -> bool:
        return self.firmware or self.dhcp_root or bool(self.netroots) or self.sources is not None


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


def _ip_addr(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text.strip("[]"))


def _split_ip(value: str) -> list[str]:
    """``ip=`` fields split on ``:`` outside ``[...]`` (dracut brackets IPv6 addresses)."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for c in value:
        if c == "[":
            depth += 1
        elif c == "]":
            depth = max(0, depth - 1)
        if c == ":" and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur))
    return out


def parse_ip(value: str) -> IpSpec:
    """One dracut ``ip=`` value (dracut.cmdline(7) "Network")."""
    if value in ("dhcp", "on", "any", "dhcp6", "auto6"):
        return IpSpec("dhcp")
    if value == "ibft":
        return IpSpec("ibft")
    f = _split_ip(value)
    if len(f) == 2 and f[1] in ("dhcp", "on", "any", "dhcp6", "auto6"):
        return IpSpec("dhcp", device=f[0] or None)
    if len(f) < 7:
        raise UsageError(f"kernel command line ip={value!r}: expected <ip>::<gw>:<netmask>:<host>:<dev>:none, "
                         "<dev>:dhcp or dhcp")
    ip, _peer, gw, mask, host, dev, method = f[:7]
    if method == "dhcp":
        return IpSpec("dhcp", device=dev or None)
    if method not in ("none", "off", "static", ""):
        raise UsageError(f"kernel command line ip=…:{method}: ibftkit-init understands none/off/static and dhcp")
    try:
        plen = mask if mask.isdigit() else str(ipaddress.ip_network(f"0.0.0.0/{mask}").prefixlen)
        address = ipaddress.ip_interface(f"{ip.strip('[]')}/{plen}")
        gateway = _ip_addr(gw) if gw else None
        dns = tuple(_ip_addr(d) for d in f[7:9] if d)
    except ValueError as e:
        raise UsageError(f"kernel command line ip={value!r}: {e}") from None
    return IpSpec("static", device=dev or None, address=address, gateway=gateway, hostname=host or None, dns=dns)


def parse_cmdline(text: str) -> Cmdline:
    """Everything ibftkit-init reads from a kernel command line. Raises ``UsageError`` for a
    value it cannot use (naming the key), never for keys it does not know."""
    kw: dict[str, object] = {"text": text}
    netroots: list[str] = []
    ips: list[IpSpec] = []
    interfaces: list[str] = []
    params: list[str] = []
    warnings: list[str] = []
    chap: list[str | None] = [None, None, None, None]
    initiators: dict[str, str] = {}
    for key, value in split_cmdline(text):
        if key in _FIRMWARE_FLAGS:
            kw["firmware"] = _flag(value)
        elif key in ("netroot", "root"):
            if value in ("iscsi", "iscsi:"):
                kw["firmware"] = True
            elif value == "dhcp":
                kw["dhcp_root"] = True
            elif value is not None and value.lower().startswith("iscsi:"):
                netroots.append(value)
        elif key == "ip" and value:
            spec = parse_ip(value)
            if spec.method == "ibft":
                kw["firmware"] = True
            else:
                ips.append(spec)
        elif key in ("ibftkit.initiator", "rd.iscsi.initiator", "iscsi_initiator") and value:
            initiators[key] = value
        elif key in ("rd.iscsi.username", "rd.iscsi.password", "rd.iscsi.in.username", "rd.iscsi.in.password"):
            chap[("rd.iscsi.username", "rd.iscsi.password", "rd.iscsi.in.username",
                  "rd.iscsi.in.password").index(key)] = value or None
        elif key in ("ibftkit.param", "rd.iscsi.param") and value:
            params.append(value)
        elif key == "ibftkit.source" and value is not None:
            names = tuple(v.strip() for v in value.split(",") if v.strip())
            bad = [n for n in names if n not in SOURCES]
            if bad or not names:
                raise UsageError(f"kernel command line ibftkit.source={value!r}: expected a list of "
                                 f"{', '.join(SOURCES)}")
            kw["sources"] = names
        elif key == "ibftkit.ibft" and value:
            kw["ibft_path"] = value
        elif key == "ibftkit.interface" and value:
            interfaces += [v for v in value.split(",") if v]
        elif key == "ibftkit.backend" and value is not None:
            if value not in BACKENDS:
                raise UsageError(f"kernel command line ibftkit.backend={value!r}: expected {' or '.join(BACKENDS)}")
            kw["backend"] = value
        elif key in ("ibftkit.dhcp-timeout", "ibftkit.carrier-timeout", "ibftkit.login-backoff"):
            kw[key.split(".", 1)[1].replace("-", "_")] = float(_number(key, value, float))
        elif key == "ibftkit.login-retries":
            kw["login_retries"] = int(_number(key, value, int))
        elif key in ("ibftkit.dhcp-rerun", "ibftkit.strict", "ibftkit.quiet", "ibftkit.verbose", "ibftkit.debug"):
            kw[key.split(".", 1)[1].replace("-", "_")] = _flag(value)
    for key in ("ibftkit.initiator", "rd.iscsi.initiator", "iscsi_initiator"):
        if key in initiators:
            kw["initiator"] = initiators[key]
            break
    if chap[1] or chap[3]:
        warnings.append("CHAP secrets on the kernel command line (rd.iscsi.password) are readable by every "
                        "user in /proc/cmdline")
    if any("@" in n for n in netroots):
        warnings.append("netroot= carries CHAP credentials (user:password@): readable by every user in "
                        "/proc/cmdline")
    return Cmdline(netroots=tuple(netroots), ip=tuple(ips), interfaces=tuple(interfaces), params=tuple(params),
                   chap=(chap[0], chap[1], chap[2], chap[3]), warnings=tuple(warnings), **kw)  # type: ignore[arg-type]


def load_cmdline(path: str | Path = CMDLINE_PATH) -> Cmdline:
    """The command line at ``path`` (a missing or unreadable file is an empty command line)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    return parse_cmdline(text.strip())
