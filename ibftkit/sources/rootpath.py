"""RFC 4173 iSCSI root paths (DHCP option 17, ``root=``/``netroot=``), parsed strictly.

Grammar (RFC 4173 §5; ``docs/rootpath.md``, "Sources")::

    root-path  = "iscsi:" servername ":" protocol ":" port ":" lun ":" targetname
    servername = "" / reg-name / IPv4address / "[" IPv6address "]"
    protocol   = "" / 1*DIGIT                  ; "" is 6 (TCP), and only 6 is accepted
    port       = "" / 1*DIGIT                  ; "" is 3260, else 1..65535
    lun        = "" / lunlvl *3("-" lunlvl)    ; "" is LUN 0
    lunlvl     = 1*4HEXDIG                     ; one 16-bit SAM level, first level first
    targetname = iscsi-name                    ; everything after the fourth separator

The text is split on the first four ``:`` outside the server's ``[...]``; the rest, colons
included, is the target name (as iPXE and EDK2 do; never from the right, never by looking for
``:iqn.`` as dracut does). An empty server means "find the target by name" (RFC 4173 Discovery
stage); ibftkit reports it as ``needs_discovery`` and cannot discover yet.

The opt-in ``dracut`` dialect (dracut.cmdline(7), not RFC 4173) also accepts
``user:password[:reverse-user:reverse-password]@`` before the server and dracut's interface
fields: ``server:protocol:port:iface:netdev:lun:target``. Credentials there travel in clear text
and always earn a warning.

Leading and trailing whitespace and trailing NUL bytes (RFC 2132 §2: receivers "MUST be
prepared to delete trailing nulls") cannot belong to a valid root path; they are removed and
reported as a warning. Whitespace inside is an error in the field that holds it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from typing import Any, Literal

from ..infra.errors import IscsiNameError, RootPathError
from ..infra.log import REDACTED
from ..iscsiname import show, validate_iscsi_name
from ..model import BootConfig, ChapType, Initiator, Lun, Nic, Secret, Target, TargetFlags, parse_ip

ServerKind = Literal["ipv4", "ipv6", "dns"]
DIALECTS = ("rfc4173", "dracut")
DEFAULT_PORT = 3260
TCP = 6
OPTION17_MAX = 255
"""One DHCPv4 option instance holds at most 255 bytes (RFC 2132 §2); longer needs RFC 3396."""
CHAP_SECRET_MIN = 12
"""RFC 3720 §8.2.1: without IPsec a CHAP secret must be at least 96 bits."""

_FIELDS = ("server", "protocol", "port", "lun", "target")
_DIGITS = re.compile(r"[0-9]+")
_HEX_LEVEL = re.compile(r"[0-9A-Fa-f]{1,4}")
_IPV4_SHAPE = re.compile(r"[0-9]+(?:\.[0-9]+){3}")
_DNS_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_IFACE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_STRIP = " \t\r\n\v\f"


@dataclasses.dataclass(frozen=True)
class RootPath:
    """One parsed root path. ``server`` is ``None`` when empty (discovery by target name)."""

    server: str | None
    server_kind: ServerKind | None
    protocol: int = TCP
    port: int = DEFAULT_PORT
    lun: Lun = Lun()
    target: str = ""
    warnings: tuple[str, ...] = ()
    # dracut dialect only (not RFC 4173):
    username: str | None = None
    password: Secret | None = None
    reverse_username: str | None = None
    reverse_password: Secret | None = None
    iface: str | None = None
    netdev: str | None = None

    @property
    def needs_discovery(self) -> bool:
        """RFC 4173: no server, so the target must be found by name (SLP or iSNS)."""
        return self.server is None

    @property
    def chap_type(self) -> ChapType:
        if self.reverse_username is not None:
            return ChapType.MUTUAL
        if self.username is not None:
            return ChapType.CHAP
        return ChapType.NONE

    @property
    def by_path_lun(self) -> str:
        """The LUN part of a udev ``/dev/disk/by-path`` name (systemd ``format_lun_number``)."""
        linux = self.lun.linux
        if linux < 256:
            return f"lun-{linux}"
        return f"lun-0x{linux & 0xFFFF:04x}{(linux >> 16) & 0xFFFF:04x}00000000"

    def to_json_dict(self) -> dict[str, Any]:
        """The ``ibftkit rootpath --json`` object (never the CHAP secrets)."""
        return {
            "server": self.server,
            "server_kind": self.server_kind,
            "protocol": self.protocol,
            "port": self.port,
            "lun": self.lun.linux,
            "lun_text": self.lun.text,
            "target": self.target,
            "needs_discovery": self.needs_discovery,
            "warnings": list(self.warnings),
        }


# --- parsing ---------------------------------------------------------------------------------------


def parse_root_path(text: str, *, dialect: str = "rfc4173") -> RootPath:
    """Parse an ``iscsi:`` root path. Raises ``RootPathError`` (and nothing else) for bad input.

    ``dialect`` is ``"rfc4173"`` (strict, the default) or ``"dracut"`` (credentials and
    interface fields as well).
    """
    if dialect not in DIALECTS:
        raise RootPathError(f"unknown dialect {dialect!r} (expected {' or '.join(DIALECTS)})",
                            field="scheme")
    if not isinstance(text, str):
        raise RootPathError(f"expected text, got {type(text).__name__}", field="scheme")
    notes: list[str] = []
    body = _strip(text, notes)
    body = _scheme(body, dialect, notes)
    creds: tuple[str | None, Secret | None, str | None, Secret | None] = (None, None, None, None)
    at = _credentials_separator(body)
    if at is not None:
        if dialect == "rfc4173":
            raise RootPathError("'@' before the server: user:password@ credentials are a dracut "
                                "extension, not RFC 4173 (dracut's netroot= and 'ibftkit rootpath --dialect dracut' "
                                "read them)", field="credentials")
        creds = _credentials(body[:at], notes)
        body = body[at + 1:]
    try:
        rp = _fields(body, dialect, notes)
    except RootPathError as e:
        _refuse_unbracketed_ipv6(body, e)
        raise
    rp = dataclasses.replace(rp, username=creds[0], password=creds[1], reverse_username=creds[2],
                             reverse_password=creds[3])
    return dataclasses.replace(rp, warnings=tuple(notes) + _semantic_warnings(rp))


def _fields(body: str, dialect: str, notes: list[str]) -> RootPath:
    head = body.split(":", 4)
    if any("@" in f for f in head[:4]):
        # What is left of a credentials prefix: never echo it, it may hold a password.
        raise RootPathError("'@' before the target name: dracut's user:password@ prefix must be followed "
                            "by server:protocol:port:lun:target, and iSCSI names cannot contain '@'",
                            field="credentials")
    server_raw, rest = _take_server(body)
    fields = [] if rest is None else rest.split(":", 3)
    if len(fields) < 4:
        found = 0 if rest is None else len(fields)
        raise RootPathError(f"no target name: expected 4 ':' separators after 'iscsi:' "
                            f"(iscsi:<server>:<protocol>:<port>:<lun>:<target>), found {found}",
                            field="target")
    server, kind = _server(server_raw, notes)
    protocol = _protocol(fields[0], notes)
    port = _port(fields[1], notes)
    iface, netdev, lun, target = _lun_and_target(fields[2] + ":" + fields[3], dialect, notes)
    return RootPath(server=server, server_kind=kind, protocol=protocol, port=port, lun=lun, target=target,
                    iface=iface, netdev=netdev)


def _strip(text: str, notes: list[str]) -> str:
    body = text.rstrip("\x00")
    nuls = len(text) - len(body)
    stripped = body.strip(_STRIP)
    if nuls:
        notes.append(f"removed {nuls} trailing NUL byte(s) (RFC 2132 §2: option text should not "
                     "carry them)")
    if stripped != body:
        notes.append("removed leading/trailing whitespace (RFC 4173 allows none)")
    return stripped


def _scheme(text: str, dialect: str, notes: list[str]) -> str:
    head, sep, body = text.partition(":")
    if not sep or head.lower() != "iscsi":
        shown = show(head, 16) if sep else show(text, 16)
        raise RootPathError(f"expected 'iscsi:' at the start, got {shown} (RFC 4173 §5)", field="scheme")
    if head != "iscsi":
        notes.append(f"scheme {head!r} accepted (ABNF literals are case-insensitive); dracut, Debian "
                     "and EDK2 only recognise lower-case 'iscsi:'")
    if dialect == "dracut" and body.strip(_STRIP) in ("", "ibft"):
        raise RootPathError(f"{show('iscsi:' + body)} has no target: dracut reads it as 'use the iBFT' "
                            "(rd.iscsi.firmware); read the table with 'ibftkit decode'", field="target")
    return body


def _credentials_separator(body: str) -> int | None:
    """Where dracut's ``user:password[:ruser:rpassword]@`` prefix ends, if there is one.

    iSCSI names cannot contain '@' (RFC 3722 §6.2), so the separator is the last '@' that is
    followed by the four ':' of ``server:protocol:port:lun:target``; a password may contain '@'
    (not ':').
    """
    at = len(body)
    while (at := body.rfind("@", 0, at)) >= 0:
        if body.count(":", at + 1) >= 4:
            return at
    return None


def _credentials(auth: str, notes: list[str]) -> tuple[str | None, Secret | None, str | None, Secret | None]:
    """Split dracut's credentials prefix (the text before the '@'). Messages never show it."""
    if auth == "":
        notes.append("empty credentials prefix '@' ignored")
        return None, None, None, None
    parts = auth.split(":")
    if len(parts) not in (2, 4):
        raise RootPathError(f"expected user:password or user:password:reverse-user:reverse-password "
                            f"before '@', got {len(parts)} ':'-separated parts (a ':' inside a "
                            "password cannot be written in a root path)", field="credentials")
    labels = ("CHAP username", "CHAP password", "reverse CHAP username", "reverse CHAP password")
    for label, value in zip(labels, parts, strict=False):
        if value == "":
            raise RootPathError(f"empty {label}", field="credentials")
        if any(ord(c) < 0x20 or ord(c) == 0x7F or c.isspace() for c in value):
            raise RootPathError(f"{label} contains whitespace or a control character", field="credentials")
    if len(parts) == 4:
        return parts[0], Secret(parts[1]), parts[2], Secret(parts[3])
    return parts[0], Secret(parts[1]), None, None


def _take_server(body: str) -> tuple[str, str | None]:
    """Split off the server field; a bracketed IPv6 literal keeps its ':'s.

    Returns ``(server, rest)`` where ``rest`` follows the separator that ends the server, or is
    ``None`` when there is no separator.
    """
    if body.startswith("["):
        close = body.find("]")
        if close < 0:
            raise RootPathError(f"'[' without ']' in {show(body.partition(':')[0])} (an IPv6 literal "
                                "is written [address])", field="server")
        after = body[close + 1:]
        if after and not after.startswith(":"):
            raise RootPathError(f"{show(after.partition(':')[0])} after the IPv6 literal "
                                f"{show(body[:close + 1])} (expected ':')", field="server")
        return body[:close + 1], after[1:] if after else None
    server, sep, rest = body.partition(":")
    return server, rest if sep else None


def _refuse_unbracketed_ipv6(body: str, error: RootPathError) -> None:
    """Turn a failure into a clear one when the text starts with a bare IPv6 address."""
    m = re.match(r"[0-9A-Fa-f:.]+", body)
    if m is None or m.group().count(":") < 2:
        return
    candidate = m.group()[:45].rstrip(":")  # 45: the longest IPv6 text form
    for end in range(len(candidate), 0, -1):
        try:
            addr = ipaddress.IPv6Address(candidate[:end])
        except ValueError:
            continue
        if candidate[:end].count(":") >= 2:
            raise RootPathError(f"{show(candidate[:end])} looks like an IPv6 address without brackets "
                                f"(write iscsi:[{addr}]:...)", field="server") from error
        return


def _server(raw: str, notes: list[str]) -> tuple[str | None, ServerKind | None]:
    if raw == "":
        return None, None
    if raw.startswith("["):
        return _ipv6_server(raw[1:-1], notes)
    if _IPV4_SHAPE.fullmatch(raw):
        try:
            addr = ipaddress.IPv4Address(raw)
        except ValueError:
            raise RootPathError(f"{show(raw)} is not an IPv4 address (four decimal octets 0..255 "
                                "without leading zeros)", field="server") from None
        _refuse_unusable(addr, raw)
        return str(addr), "ipv4"
    return _dns_server(raw), "dns"


def _ipv6_server(inner: str, notes: list[str]) -> tuple[str, ServerKind]:
    shown = show(f"[{inner}]")
    if "%" in inner:
        raise RootPathError(f"{shown}: IPv6 zone identifiers are not supported (name the NIC "
                            "instead)", field="server")
    if not re.fullmatch(r"[0-9A-Fa-f:.]+", inner):
        raise RootPathError(f"{shown} is not an IPv6 literal (brackets hold only an IPv6 "
                            "address, RFC 3986)", field="server")
    try:
        addr = ipaddress.IPv6Address(inner)
    except ValueError as e:
        raise RootPathError(f"{shown} is not an IPv6 address ({e})", field="server") from None
    if addr.ipv4_mapped is not None:
        v4 = addr.ipv4_mapped
        _refuse_unusable(v4, inner)
        notes.append(f"IPv4-mapped literal {shown} is the IPv4 address {v4}")
        return str(v4), "ipv4"
    _refuse_unusable(addr, inner)
    return str(addr), "ipv6"


def _refuse_unusable(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, raw: str) -> None:
    if addr.is_unspecified or addr.is_multicast or addr == ipaddress.IPv4Address("255.255.255.255"):
        what = "unspecified" if addr.is_unspecified else "a broadcast or multicast address"
        raise RootPathError(f"{show(raw)} is {what}, not a target address", field="server")


def _dns_server(raw: str) -> str:
    shown = show(raw)
    name = raw[:-1] if raw.endswith(".") else raw
    if len(name) > 253:
        raise RootPathError(f"{shown} is {len(name)} characters (a DNS name has at most 253)",
                            field="server")
    labels = name.split(".")
    for label in labels:
        if label == "":
            raise RootPathError(f"{shown} has an empty DNS label", field="server")
        if not _DNS_LABEL.fullmatch(label):
            if len(label) > 63:
                reason = f"a label of {len(label)} characters (at most 63)"
            elif label[0] == "-" or label[-1] == "-":
                reason = f"label {show(label)} starts or ends with '-'"
            else:
                reason = f"label {show(label)} has a character other than A-Z a-z 0-9 '-' (RFC 1123)"
            raise RootPathError(f"{shown} is not a host name: {reason}", field="server")
    if labels[-1].isdigit():
        raise RootPathError(f"{shown} is neither an IPv4 address (four decimal octets) nor a host name "
                            "(the last label of a host name is not all digits, RFC 1123 §2.1)",
                            field="server")
    return raw


def _protocol(raw: str, notes: list[str]) -> int:
    if raw == "":
        return TCP
    if not _DIGITS.fullmatch(raw):
        raise RootPathError(f"{show(raw)} is not a decimal protocol number (expected empty or 6, TCP)",
                            field="protocol")
    digits = raw.lstrip("0") or "0"
    if digits != "6":
        raise RootPathError(f"protocol {show(raw)} is not supported (expected empty or 6, TCP; RFC 4173)",
                            field="protocol")
    if raw != "6":
        notes.append(f"protocol {raw!r} read as 6; EDK2 refuses anything but '' or '6'")
    return TCP


def _port(raw: str, notes: list[str]) -> int:
    if raw == "":
        return DEFAULT_PORT
    if not _DIGITS.fullmatch(raw):
        raise RootPathError(f"{show(raw)} is not a decimal port (expected 1..65535, or empty for 3260)",
                            field="port")
    digits = raw.lstrip("0") or "0"
    value = int(digits) if len(digits) <= 5 else 1 << 20
    if value == 0:
        raise RootPathError(f"port {show(raw)} is 0 (expected 1..65535, or empty for 3260)", field="port")
    if value > 0xFFFF:
        raise RootPathError(f"port {show(raw, 24)} is out of range (expected 1..65535; EDK2 would wrap "
                            "it modulo 65536)", field="port")
    if digits != raw:
        notes.append(f"port {raw!r} has leading zeros; read as {value}")
    return value


def parse_lun(raw: str) -> Lun:
    """An RFC 4173 LUN: up to four '-'-separated hexadecimal 16-bit levels; empty is LUN 0."""
    if raw == "":
        return Lun()
    shown = show(raw, 40)
    if raw[:2].lower() == "0x":
        raise RootPathError(f"{shown}: no '0x' prefix (the LUN is already hexadecimal; write "
                            f"{raw[2:] or '0'})", field="lun")
    levels = raw.split("-")
    if len(levels) > 4:
        raise RootPathError(f"{shown} has {len(levels)} levels (at most four 16-bit levels)", field="lun")
    for level in levels:
        if level == "":
            raise RootPathError(f"{shown} has an empty level (expected hexadecimal levels joined by "
                                "'-', e.g. 1-7)", field="lun")
        if not _HEX_LEVEL.fullmatch(level):
            if re.fullmatch(r"[0-9A-Fa-f]+", level):
                hint = ""
                if len(level) == 16:
                    hint = "; 16 digits is the HP/Emulex option-43 form, not RFC 4173"
                raise RootPathError(f"{shown}: level {show(level, 20)} has {len(level)} hex digits "
                                    f"(at most 4 per 16-bit level; separate levels with '-'{hint})",
                                    field="lun")
            hint = ""
            if raw.lower().startswith(("iqn.", "eui.", "naa.")):
                hint = " (if it is the target name, a ':' is missing before it)"
            raise RootPathError(f"{shown} is not hexadecimal levels (expected e.g. 0, 1f, 1-7){hint}",
                                field="lun")
    return Lun.from_levels(int(level, 16) for level in levels)


def _target(raw: str, notes: list[str]) -> str:
    if raw == "":
        raise RootPathError("empty: RFC 4173 requires the target name", field="target")
    try:
        name = validate_iscsi_name(raw)
    except IscsiNameError as e:
        hint = ""
        if "%" in raw:
            hint = " (percent-encoding is not part of RFC 4173; iPXE decodes it, others do not)"
        elif re.match(r"[0-9A-Fa-f-]*:(?:iqn|eui|naa)\.", raw, re.IGNORECASE):
            hint = " (one ':' too many before the target name?)"
        raise RootPathError(f"{e}{hint}", field="target") from None
    if name != raw:
        notes.append(f"target name normalised to {show(name)} (RFC 3722 case folding)")
    return name


def _lun_and_target(tail: str, dialect: str, notes: list[str]
                    ) -> tuple[str | None, str | None, Lun, str]:
    """``lun:target``, or in the dracut dialect also ``iface:netdev:lun:target``.

    dracut reads the interface form whenever it fits, so the dracut dialect tries it first; the
    target itself may contain ':' either way.
    """
    lun_raw, _, target_raw = tail.partition(":")
    if dialect == "rfc4173":
        return None, None, parse_lun(lun_raw), _target(target_raw, notes)
    parts = tail.split(":", 3)
    interface_error: RootPathError | None = None
    if len(parts) == 4:
        try:
            iface, netdev = _iface(parts[0]), _netdev(parts[1])
            lun = parse_lun(parts[2])
            target = _target(parts[3], [])
        except RootPathError as e:
            interface_error = e
        else:
            if _fits_rfc(lun_raw, target_raw):
                notes.append("ambiguous: the text also reads as an RFC 4173 LUN and target; read as "
                             "dracut's iface:netdev:lun:target")
            _target(parts[3], notes)
            return iface, netdev, lun, target
    try:
        return None, None, parse_lun(lun_raw), _target(target_raw, notes)
    except RootPathError as e:
        if interface_error is not None and e.field == "lun":
            raise interface_error from None
        if interface_error is not None and e.field == "target":
            detail = str(e).split(": ", 1)[1]
            raise RootPathError(f"{detail} (dracut's interface form is "
                                "<server>:<protocol>:<port>:<iface>:<netdev>:<lun>:<target>)",
                                field="target") from None
        raise


def _fits_rfc(lun_raw: str, target_raw: str) -> bool:
    try:
        parse_lun(lun_raw)
        _target(target_raw, [])
    except RootPathError:
        return False
    return True


def _iface(raw: str) -> str | None:
    if raw == "":
        return None
    if not _IFACE.fullmatch(raw):
        raise RootPathError(f"iscsi iface name {show(raw)} is not 1..64 of A-Z a-z 0-9 _ . -",
                            field="interface")
    return raw


def _netdev(raw: str) -> str | None:
    """A Linux interface name (``dev_valid_name``: 1..15 bytes, no '/', ':' or whitespace)."""
    if raw == "":
        return None
    if (len(raw.encode("utf-8", "surrogatepass")) > 15 or raw in (".", "..")
            or not re.fullmatch(r"[!-~]+", raw) or "/" in raw):
        raise RootPathError(f"network device name {show(raw)} is not a Linux interface name "
                            "(1..15 printable characters, no '/' or ':')", field="interface")
    return raw


def _semantic_warnings(rp: RootPath) -> tuple[str, ...]:
    """Warnings that follow from the value itself, however it was spelt."""
    out = []
    if rp.needs_discovery:
        out.append("no server: RFC 4173 says to discover the target by name (SLP/iSNS); ibftkit "
                   "cannot discover targets yet")
    if rp.server_kind == "ipv6" and ipaddress.IPv6Address(rp.server or "::").is_link_local:
        out.append(f"link-local server {rp.server}: the boot NIC must be chosen explicitly")
    linux = rp.lun.linux
    if linux >= 10:
        out.append(f"LUN {rp.lun.text} is hexadecimal (Linux LUN {linux}); dracut and Debian's "
                   f"initramfs read the root-path LUN as decimal and would wait for lun-{rp.lun.text}")
    if not rp.target.isascii():
        out.append("the target name is not ASCII and cannot be sent in DHCP option 17 (NVT ASCII)")
    length = len(format_root_path(rp).encode("utf-8"))
    if length > OPTION17_MAX:
        out.append(f"root path is {length} bytes: DHCP option 17 needs RFC 3396 long-option "
                   "concatenation beyond 255, which some clients do not implement")
    if rp.username is not None:
        out.append("CHAP credentials in a root path are readable by anyone on the wire (DHCP) or on "
                   "the machine (/proc/cmdline); this is a dracut extension, not RFC 4173")
        for label, secret in (("CHAP", rp.password), ("reverse CHAP", rp.reverse_password)):
            if secret is not None and len(secret.reveal().encode("utf-8")) < CHAP_SECRET_MIN:
                out.append(f"{label} secret is shorter than {CHAP_SECRET_MIN} bytes (RFC 3720 §8.2.1 "
                           "asks for 96 bits); many targets refuse it")
        if rp.reverse_password is not None and rp.reverse_password == rp.password:
            out.append("the reverse CHAP secret equals the CHAP secret (RFC 3720 §8.2.1 forbids "
                       "using one secret in both directions)")
    if rp.iface is not None or rp.netdev is not None:
        out.append("iface/netdev fields are a dracut extension, not RFC 4173")
    return tuple(out)


# --- formatting ------------------------------------------------------------------------------------


def format_root_path(rp: RootPath, *, redact: bool = False) -> str:
    """The canonical text of ``rp``: lower-case scheme, empty protocol, empty port for 3260,
    empty LUN for 0, canonical addresses and LUN levels (``parse(format(x)) == x``).

    dracut credentials and interface fields are written when present; their secrets appear in
    the text unless ``redact`` is true (then it no longer parses back to the same secrets).
    """
    if rp.server is None:
        server = ""
    elif rp.server_kind == "ipv6":
        server = f"[{rp.server}]"
    else:
        server = rp.server
    creds = ""
    if rp.username is not None:
        parts = [rp.username, _secret_text(rp.password, redact)]
        if rp.reverse_username is not None:
            parts += [rp.reverse_username, _secret_text(rp.reverse_password, redact)]
        creds = ":".join(parts) + "@"
    port = "" if rp.port == DEFAULT_PORT else str(rp.port)
    lun = "" if rp.lun.linux == 0 else rp.lun.text
    protocol = "" if rp.protocol == TCP else str(rp.protocol)
    iface = ""
    if rp.iface is not None or rp.netdev is not None:
        iface = f"{rp.iface or ''}:{rp.netdev or ''}:"
    return f"iscsi:{creds}{server}:{protocol}:{port}:{iface}{lun}:{rp.target}"


def _secret_text(secret: Secret | None, redact: bool) -> str:
    if secret is None:
        return ""
    return REDACTED if redact else secret.reveal()


# --- into the model --------------------------------------------------------------------------------


def config_from_root_path(rp: RootPath, *, initiator_name: str | None = None, nic: Nic | None = None,
                          source: str = "root-path") -> BootConfig:
    """A ``BootConfig`` with one boot target built from ``rp``, the same shape the iBFT path gives.

    The initiator name is checked and RFC 3722 case-folded (``IscsiNameError`` when invalid).
    """
    warnings = list(rp.warnings)
    name = None
    if initiator_name is not None:
        name = validate_iscsi_name(initiator_name)
        if name != initiator_name:
            warnings.append(f"initiator name normalised to {show(name)} (RFC 3722 case folding)")
    else:
        warnings.append("no initiator name (DHCP option 203, rd.iscsi.initiator= or "
                        "/etc/iscsi/initiatorname.iscsi); a login needs one")
    ip = parse_ip(rp.server) if rp.server_kind in ("ipv4", "ipv6") else None
    target = Target(
        index=0,
        flags=TargetFlags.VALID | TargetFlags.BOOT_SELECTED,
        ip_address=ip,
        server_name=rp.server if rp.server_kind == "dns" else None,
        port=rp.port,
        lun=rp.lun,
        chap_type=rp.chap_type,
        nic_index=nic.index if nic is not None else 0,
        name=rp.target,
        chap_name=rp.username,
        chap_secret=rp.password,
        reverse_chap_name=rp.reverse_username,
        reverse_chap_secret=rp.reverse_password,
    )
    return BootConfig(
        initiator=Initiator(name=name),
        nics=(nic,) if nic is not None else (),
        targets=(target,),
        source=source,
        warnings=tuple(warnings),
    )
