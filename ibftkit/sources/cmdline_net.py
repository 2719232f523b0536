"""The network words of the kernel command line, parsed (pure: no sysfs, no sockets).

The grammar is the union that dracut, the kernel and NetworkManager's initrd generator accept; each
rule names the document or file it follows (docs/cmdline.md lists every word):

- ``ip=`` — dracut.cmdline(7) "Network"; the kernel's
  ``Documentation/admin-guide/nfs/nfsroot.rst`` (autoconf ``off|none|on|any|dhcp|bootp|rarp|both``,
  the 10-field form with two DNS servers and an NTP server); NetworkManager's
  ``src/nm-initrd-generator/nmi-cmdline-reader.c`` ``reader_parse_ip``/``_parse_ip_method`` (a CIDR
  address field, a static line without a method field, ``auto``, ``fw``, comma-joined methods, an
  interface given by its MAC). The form is chosen as NetworkManager chooses it: when the second
  field is a method, the line is ``<dev>:<method>[:[<mtu>][:<macaddr>]]``; otherwise it is
  ``<ip>:[<peer>]:<gw>:<netmask>:<host>:<dev>:<method>[:…]``. A MAC's six colon-separated octets at
  the end are joined first (the fault of dracut PR 755 and Anaconda PR 2834: the colons of a MAC
  shift the fields).
- ``ifname=<name>:<mac>``, ``vlan=<name>:<parent>``, ``bond=<name>[:<slaves>[:<options>[:<mtu>]]]``,
  ``bridge=<name>[:<ports>]``, ``team=…``, ``rd.route=<net>:<gw>[:<dev>]``, ``nameserver=``,
  ``BOOTIF=``/``rd.bootif=``, ``bootdev=``, ``rd.neednet``, ``rd.net.timeout.carrier=``,
  ``rd.net.timeout.dhcp=``, ``rd.net.dhcp.retry=`` — dracut.cmdline(7) "Network".

A value that cannot be read raises :class:`CmdlineError` (exit status 3) naming the word, the value
and what was expected. A word that is valid but that ibftkit cannot honour adds a warning naming it
and what happens instead; it never stops the run.
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple

from .cmdline import CmdlineError as CmdlineError  # re-exported: it lived here
from .cmdline import malformed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


#: ``ip=`` autoconf words → ibftkit's methods. dracut.cmdline(7): dhcp|on|any, dhcp6, auto6,
#: either6, link6, single-dhcp, ibft, none|off; nfsroot.rst adds bootp, rarp, both; NetworkManager's
#: ``_parse_ip_method`` adds auto (IPv4 DHCP and IPv6 autoconfiguration) and fw (= ibft).
METHODS: dict[str, tuple[str, ...]] = {
    "dhcp": ("dhcp",), "on": ("dhcp",), "any": ("dhcp",), "single-dhcp": ("dhcp",),
    "bootp": ("dhcp",), "both": ("dhcp",), "rarp": ("dhcp",),
    "dhcp4": ("dhcp",),
    "dhcp6": ("dhcp6",), "auto6": ("auto6",), "either6": ("either6",), "link6": ("link6",),
    "local6": ("link6",),
    "auto": ("dhcp", "auto6"),
    "ibft": ("ibft",), "fw": ("ibft",),
    "none": ("static",), "off": ("static",), "static": ("static",),
}
#: methods that ibftkit honours differently from the word's own meaning: the warning says how.
METHOD_NOTES = {
    "bootp": "ibftkit asks DHCP (a DHCP server answers BOOTP clients too; RFC 1534)",
    "rarp": "ibftkit has no RARP client; it asks DHCP instead",
    "both": "ibftkit asks DHCP (BOOTP and RARP are not sent)",
    "single-dhcp": "DHCP runs on each NIC; the first lease is used, as with ip=dhcp",
}
# Patterns as text: re compiles (and caches) each on its first use, so a command line without
# network words compiles none of them (start-up, docs/init.md "Boot time").
_HEX2 = r"^[0-9A-Fa-f]{2}$"
_MAC = r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$"
_IFNAME = r"^[^\s/:]{1,15}$"


def is_mac(text: str) -> bool:
    return bool(re.match(_MAC, text))


def norm_mac(text: str) -> str:
    """``00-53-AB-cd-02-03`` or ``00:53:ab:CD:02:03`` → ``00:53:ab:cd:02:03``."""
    return text.replace("-", ":").lower()


class IpWord(NamedTuple):
    """One ``ip=`` word. ``methods`` holds ibftkit's method names in the order given
    (``dhcp``, ``dhcp6``, ``auto6``, ``either6``, ``link6``, ``static``, ``ibft``); ``static`` with no
    address is ``ip=off``/``none`` (no automatic configuration). ``device`` ``None``: every NIC (a
    method) or the one NIC (a static address); ``device_mac``: the interface given by its MAC."""

    value: str
    methods: tuple[str, ...]
    device: str | None = None
    device_mac: str | None = None
    address: IPInterface | None = None
    peer: str | None = None
    gateway: IPAddress | None = None
    hostname: str | None = None
    dns: tuple[IPAddress, ...] = ()
    mtu: int | None = None
    mac: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def is_off(self) -> bool:
        return self.methods == ("static",) and self.address is None

    @property
    def auto(self) -> bool:
        return any(m != "static" for m in self.methods)


class RouteWord(NamedTuple):
    """``rd.route=<net>[/<prefix>]:[<gateway>][:<interface>]`` (dracut.cmdline(7))."""

    dst: IPNetwork
    gateway: IPAddress | None
    device: str | None


class VlanWord(NamedTuple):
    """``vlan=<name>:<parent>``: the VID is the name's trailing decimal digits (vlan0005, vlan5,
    eth0.0005, eth0.5: dracut.cmdline(7), the kernel's ``vconfig`` name types)."""

    name: str
    parent: str
    vlan_id: int


class BondWord(NamedTuple):
    """``bond=<name>[:<slaves>[:<options>[:<mtu>]]]``; without a value ``bond0:eth0,eth1:mode=balance-rr``."""

    name: str
    slaves: tuple[str, ...]
    mode: str
    options: tuple[tuple[str, str], ...]
    mtu: int | None


class BridgeWord(NamedTuple):
    """``bridge=<name>[:<ports>]``; without a value ``br0:eth0``."""

    name: str
    ports: tuple[str, ...]


class IfnameWord(NamedTuple):
    """``ifname=<name>:<mac>``: the link with that MAC gets that name."""

    name: str
    mac: str


# --- helpers -------------------------------------------------------------------------------------


def split_fields(value: str) -> list[str]:
    """Fields split on ``:`` outside ``[...]`` (IPv6 addresses are bracketed)."""
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


def _join_mac(fields: list[str], minimum: int) -> tuple[list[str], str | None]:
    """Six trailing two-hex-digit fields are one MAC (only past ``minimum`` leading fields)."""
    if len(fields) >= minimum + 6 and all(re.match(_HEX2, f) for f in fields[-6:]):
        return fields[:-6], ":".join(fields[-6:]).lower()
    return fields, None


def parse_address(text: str) -> IPAddress:
    """An address, brackets allowed around IPv6 (``ValueError`` otherwise)."""
    t = text.strip()
    if t.startswith("[") and t.endswith("]"):
        t = t[1:-1]
    addr = ipaddress.ip_address(t)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _looks_like_address(text: str) -> bool:
    head = text.split("/", 1)[0]
    try:
        parse_address(head)
    except ValueError:
        return False
    return True


def _methods(word: str, key: str, value: str, notes: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    parts = [p.strip() for p in word.split(",")]
    if len(parts) == 3 and parts[0] == "dhcp" and parts[1].isdigit():  # nfsroot.rst: dhcp,<type>,<client id>
        notes.append(f"ip={value}: the DHCP client identifier is not sent (ibftkit identifies itself by the MAC)")
        parts = parts[:1]
    for part in parts:
        if part not in METHODS:
            raise malformed(key, value, "a method of dhcp, on, any, dhcp6, auto6, either6, link6, single-dhcp, "
                            f"ibft, auto, none, off, static, bootp, rarp or both (not {part!r})")
        if part in METHOD_NOTES:
            notes.append(f"ip=…{part}: {METHOD_NOTES[part]}")
        for m in METHODS[part]:
            if m not in out:
                out.append(m)
    if "static" in out and len(out) > 1:
        out.remove("static")
    return tuple(out)


def _classful(addr: ipaddress.IPv4Address) -> int:
    """The kernel's default netmask for an address given without one (``inet_make_mask`` by class)."""
    first = int(addr) >> 24
    return 8 if first < 128 else 16 if first < 192 else 24


def _prefix(mask: str, addr: IPAddress, key: str, value: str) -> int:
    limit = addr.max_prefixlen
    if mask.isdigit():
        n = int(mask)
        if n > limit:
            raise malformed(key, value, f"a prefix length 0..{limit} (not {mask})")
        return n
    if addr.version == 4:
        try:
            return ipaddress.ip_network(f"0.0.0.0/{mask}").prefixlen
        except ValueError:
            pass
    raise malformed(key, value, f"a netmask (255.255.255.0) or a prefix length (not {mask!r})")


def _mtu(text: str, key: str, value: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 68 <= int(text) <= 65535:
        raise malformed(key, value, f"an MTU of 68..65535 bytes (not {text!r})")
    return int(text)


def _device(text: str) -> tuple[str | None, str | None]:
    if not text:
        return None, None
    if is_mac(text):
        return None, norm_mac(text)
    return text, None


def _check_ifname(name: str, key: str, value: str) -> str:
    if not re.match(_IFNAME, name) or name in (".", ".."):
        raise malformed(key, value, f"an interface name of 1..15 characters (not {name!r})")
    return name


# --- ip= -----------------------------------------------------------------------------------------


def parse_ip(value: str) -> IpWord:
    """One ``ip=`` value (see the module docstring). Raises :class:`CmdlineError`."""
    key = "ip"
    notes: list[str] = []
    fields = split_fields(value.strip())
    if len(fields) == 1:
        word = fields[0]
        if _looks_like_address(word):  # nfsroot.rst: ip=<client-ip>, everything else empty
            return _static(value, [word], notes)
        return IpWord(value, _methods(word, key, value, notes), notes=tuple(notes))
    dev_form = fields[1].strip() and all(p.strip() in METHODS for p in fields[1].split(","))
    if not dev_form and len(fields) <= 4 and fields[0] and not _looks_like_address(fields[0]):
        _methods(fields[1], key, value, notes)  # <dev>:<not a method>: say what a method is
    if dev_form:
        fields, mac = _join_mac(fields, 2)
        if len(fields) > 4:
            raise malformed(key, value, "<dev>:<method>[:[<mtu>][:<macaddr>]]")
        device, device_mac = _device(fields[0])
        if device:
            _check_ifname(device, key, value)
        methods = _methods(fields[1], key, value, notes)
        mtu = _mtu(fields[2], key, value) if len(fields) > 2 else None
        if len(fields) > 3 and fields[3]:
            if not is_mac(fields[3]):
                raise malformed(key, value, f"a MAC address as the 4th field (not {fields[3]!r})")
            mac = norm_mac(fields[3])
        return IpWord(value, methods, device=device, device_mac=device_mac, mtu=mtu, mac=_settable(mac, value, notes),
                      notes=tuple(notes))
    return _static(value, fields, notes)


def _client_address(value: str, ip_text: str, mask: str, notes: list[str]) -> IPInterface | None:
    """``<client-IP>[/<prefix>]`` with ``<netmask>`` (a mask or a prefix length; classful when absent)."""
    if not ip_text:
        return None
    head, slash, plen = ip_text.partition("/")
    try:
        ip = parse_address(head)
    except ValueError:
        raise malformed("ip", value, f"<client-IP> as an IPv4 address or a bracketed IPv6 address "
                        f"(not {head!r})") from None
    if slash:
        prefix = _prefix(plen, ip, "ip", value)
    elif mask:
        prefix = _prefix(mask, ip, "ip", value)
    elif isinstance(ip, ipaddress.IPv4Address):
        prefix = _classful(ip)
        notes.append(f"ip={value}: no netmask: /{prefix} by the address's class, as the kernel does")
    else:
        prefix = 64
    return ipaddress.ip_interface(f"{ip}/{prefix}")


def _tail(value: str, rest: list[str], mac: str | None,
          notes: list[str]) -> tuple[list[IPAddress], int | None, str | None]:
    """The fields after the method: ``<dns1>[:<dns2>[:<ntp>]]`` or ``[<mtu>][:<macaddr>]``."""
    dns: list[IPAddress] = []
    if rest and rest[0] and _looks_like_address(rest[0]):
        for k, d in enumerate(rest[:3]):
            if not d:
                continue
            try:
                a = parse_address(d)
            except ValueError:
                raise malformed("ip", value, f"a DNS server address (not {d!r})") from None
            if k < 2:
                dns.append(a)
            else:
                notes.append(f"ip={value}: NTP server {a} is not used (ibftkit sets no clock)")
        return dns, None, mac
    if not rest:
        return dns, None, mac
    if len(rest) > 2:
        raise malformed("ip", value, "<ip>:[<peer>]:<gw>:<netmask>:<host>:<dev>:<method>[:[<mtu>][:<macaddr>]]")
    if len(rest) > 1 and rest[1]:
        if not is_mac(rest[1]):
            raise malformed("ip", value, f"a MAC address after the MTU (not {rest[1]!r})")
        mac = norm_mac(rest[1])
    return dns, _mtu(rest[0], "ip", value), mac


def _static(value: str, fields: list[str], notes: list[str]) -> IpWord:
    key = "ip"
    fields, mac = _join_mac(fields, 7)
    fields += [""] * (7 - len(fields))
    ip_text, peer, gw, mask, host, dev, method = fields[:7]
    address = _client_address(value, ip_text, mask, notes)
    gateway = None
    if gw:
        try:
            gateway = parse_address(gw)
        except ValueError:
            raise malformed(key, value, f"<gateway-IP> as an address (not {gw!r})") from None
    methods = _methods(method, key, value, notes) if method else ("static",) if address else ("dhcp",)
    dns, mtu, mac = _tail(value, fields[7:], mac, notes)
    device, device_mac = _device(dev)
    if device:
        _check_ifname(device, key, value)
    if address is None and methods == ("static",) and (gateway or dns):
        notes.append(f"ip={value}: method {method} without an address: nothing is configured")
    if peer:
        notes.append(f"ip={value}: the peer/server field {peer} is not used")
    return IpWord(value, methods, device=device, device_mac=device_mac,
                  address=address, peer=peer or None, gateway=gateway,
                  hostname=host or None, dns=tuple(dns), mtu=mtu, mac=_settable(mac, value, notes),
                  notes=tuple(notes))


def _settable(mac: str | None, value: str, notes: list[str]) -> str | None:
    """The ``<macaddr>`` field. The kernel refuses to give a link a group (multicast or broadcast:
    the I/G bit of IEEE Std 802) or all-zero address (``is_valid_ether_addr``,
    include/linux/etherdevice.h): the word stays valid (NetworkManager's reader takes it), with a
    warning that its ``set_mac`` step will fail."""
    if mac is not None and (int(mac[:2], 16) & 1 or mac == "00:00:00:00:00:00"):
        notes.append(f"ip={value}: MAC {mac} is a group or zero address: the kernel refuses to set it "
                     "(the set_mac step will fail)")
    return mac


# --- the other network words ---------------------------------------------------------------------


def parse_route(value: str) -> RouteWord:
    key = "rd.route"
    f = split_fields(value)
    if len(f) > 3 or not f[0]:
        raise malformed(key, value, "<net>/<prefix>:<gateway>[:<interface>] (IPv6 in brackets)")
    net_text = f[0]
    if net_text.startswith("[") and "]" in net_text:  # [2001:db8::/48] or [2001:db8::]/48
        inner, _, tail = net_text[1:].partition("]")
        net_text = inner + tail
    try:
        dst = ipaddress.ip_network(net_text, strict=False)
    except ValueError:
        raise malformed(key, value, f"a network like 192.0.2.0/24 or [2001:db8::/48] (not {f[0]!r})") from None
    gateway = None
    if len(f) > 1 and f[1]:
        try:
            gateway = parse_address(f[1])
        except ValueError:
            raise malformed(key, value, f"a gateway address (not {f[1]!r})") from None
        if gateway.version != dst.version:
            raise malformed(key, value, f"a gateway of the network's family (IPv{dst.version})")
    device = f[2] if len(f) > 2 and f[2] else None
    if device:
        _check_ifname(device, key, value)
    return RouteWord(dst, gateway, device)


_VID = r"(\d+)$"


def parse_vlan(value: str | None) -> tuple[VlanWord, list[str]]:
    key = "vlan"
    f = (value or "").split(":")
    if len(f) < 2 or not f[0] or not f[1]:
        raise malformed(key, value, "<vlanname>:<phydevice> (vlan0005, vlan5, eth0.0005 or eth0.5)")
    name, parent = _check_ifname(f[0], key, value or ""), _check_ifname(f[1], key, value or "")
    m = re.search(_VID, name)
    if not m:
        raise malformed(key, value, f"a VLAN name ending in its VLAN id: vlan<N> or <dev>.<N> (not {name!r})")
    # NetworkManager's reader takes the trailing digits of any name; dracut names the four styles
    vid = int(m.group(1), 10)
    if not 1 <= vid <= 4094:
        raise malformed(key, value, f"a VLAN id 1..4094 (not {vid})")
    warnings = [f"vlan={value}: extra field {':'.join(f[2:])!r} is not used"] if len(f) > 2 else []
    return VlanWord(name, parent, vid), warnings


#: kernel bonding modes (Documentation/networking/bonding.rst "mode"): names and numbers.
BOND_MODES = ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb")


def parse_bond(value: str | None) -> BondWord:
    key = "bond"
    if value is None or value == "":
        return BondWord("bond0", ("eth0", "eth1"), "balance-rr", (), None)
    f = split_fields(value)
    name = _check_ifname(f[0], key, value)
    slaves = tuple(_check_ifname(s, key, value) for s in (f[1].split(",") if len(f) > 1 and f[1] else ["eth0", "eth1"]))
    options: list[tuple[str, str]] = []
    mode = "balance-rr"
    if len(f) > 2 and f[2]:
        for opt in f[2].split(","):
            k, eq, v = opt.partition("=")
            if not eq or not k:
                raise malformed(key, value, f"bonding options as name=value,… (not {opt!r})")
            if k == "mode":
                mode = BOND_MODES[int(v)] if v.isdigit() and int(v) < len(BOND_MODES) else v
                if mode not in BOND_MODES:
                    raise malformed(key, value, f"a bonding mode of {', '.join(BOND_MODES)} (not {v!r})")
            else:
                options.append((k, v))
    mtu = _mtu(f[3], key, value) if len(f) > 3 else None
    if len(f) > 4:
        raise malformed(key, value, "<bondname>[:<bondslaves>:[:<options>[:<mtu>]]]")
    return BondWord(name, slaves, mode, tuple(options), mtu)


def parse_bridge(value: str | None) -> BridgeWord:
    key = "bridge"
    if value is None or value == "":
        return BridgeWord("br0", ("eth0",))
    f = value.split(":")
    if len(f) > 2:
        raise malformed(key, value, "<bridgename>:<ethnames>")
    name = _check_ifname(f[0], key, value)
    ports = tuple(_check_ifname(p, key, value) for p in (f[1].split(",") if len(f) > 1 and f[1] else ["eth0"]))
    return BridgeWord(name, ports)


def parse_ifname(value: str | None) -> IfnameWord:
    key = "ifname"
    name, _, mac = (value or "").partition(":")
    if not name or not is_mac(mac):
        raise malformed(key, value, "<interface>:<MAC> (like bootnet:52:54:00:12:34:56)")
    return IfnameWord(_check_ifname(name, key, value or ""), norm_mac(mac))


def parse_bootif(value: str | None) -> str:
    """``BOOTIF=01-52-54-00-12-34-56`` (pxelinux: ARP hardware type 01, then the MAC) or a plain MAC."""
    v = (value or "").strip()
    if re.match(r"^[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){6}$", v):
        v = v[3:]
    if not is_mac(v):
        raise malformed("BOOTIF", value, "01-<MAC with dashes> as pxelinux writes it, or a MAC")
    return norm_mac(v)


def parse_nameserver(value: str | None) -> IPAddress:
    try:
        return parse_address(value or "")
    except ValueError:
        raise malformed("nameserver", value, "an IPv4 address or a bracketed IPv6 address") from None


def parse_seconds(key: str, value: str | None) -> float | None:
    """``rd.net.timeout.*``: seconds; ``infinity`` (NetworkManager) is ``None`` (no limit)."""
    if value == "infinity":
        return None
    try:
        n = float(value or "")
    except ValueError:
        raise malformed(key, value, "a number of seconds") from None
    if n < 0:
        raise malformed(key, value, "a number of seconds >= 0")
    return n
