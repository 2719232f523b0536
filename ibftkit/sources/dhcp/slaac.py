"""SLAAC: wait for what router advertisements give a link, and say what it got.

The kernel does stateless address autoconfiguration itself (RFC 4862 §5.5: a global address from
each Prefix Information option with the A flag; RFC 4861 §6.3.4: a default route via each router
whose Router Lifetime is not zero, and an on-link route for each prefix with the L flag). ibftkit
sends nothing: it checks that the kernel will accept router advertisements on the link, then polls
``/proc/net/if_inet6`` and ``/proc/net/ipv6_route`` (stdlib only, no netlink library) until the link
has a global, non-tentative address and a default route, or the deadline passes.

Files read (Linux ``net/ipv6/addrconf.c`` ``if6_seq_show``, ``net/ipv6/route.c``
``rt6_info_route``): ``if_inet6`` lines are ``ADDR IFINDEX PREFIXLEN SCOPE FLAGS IFNAME`` in hex;
``ipv6_route`` lines are ``DST DSTLEN SRC SRCLEN NEXTHOP METRIC REFCNT USE FLAGS IFNAME``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import time
from collections.abc import Callable
from pathlib import Path

from ...infra.errors import DhcpError, DhcpTimeout

Progress = Callable[[str], None]

#: ``if_inet6`` scope of a global address (``IPV6_ADDR_SCOPE_GLOBAL`` is 0 in ``include/net/ipv6.h``).
SCOPE_GLOBAL = 0x00
#: ``ifa_flags`` bits (``include/uapi/linux/if_addr.h``).
IFA_F_DADFAILED = 0x08
IFA_F_DEPRECATED = 0x20
IFA_F_TENTATIVE = 0x40
#: ``RTF_GATEWAY`` (``include/uapi/linux/route.h``) and ``RTF_REJECT`` (an unreachable route).
RTF_GATEWAY = 0x0002
RTF_REJECT = 0x0200
POLL_INTERVAL = 0.05


@dataclasses.dataclass(frozen=True)
class Slaac:
    """What router advertisements gave ``interface``: global addresses (with the prefix length the
    kernel derived from the advertised prefix), the default router, and how long it took (s)."""

    interface: str
    addresses: tuple[ipaddress.IPv6Interface, ...]
    gateway: ipaddress.IPv6Address | None
    elapsed: float
    warnings: tuple[str, ...] = ()

    @property
    def address(self) -> ipaddress.IPv6Interface:
        return self.addresses[0]

    def describe(self) -> str:
        via = f", default route via {self.gateway}" if self.gateway is not None else ", no default route"
        return (f"SLAAC on {self.interface}: {', '.join(str(a) for a in self.addresses)}{via} "
                f"after {self.elapsed:.1f} s")


def global_addresses(ifname: str, *, proc: str = "/proc") -> tuple[ipaddress.IPv6Interface, ...]:
    """The link's global addresses that are usable: neither tentative nor failed DAD, not deprecated."""
    out = []
    try:
        text = (Path(proc) / "net/if_inet6").read_text()
    except OSError:
        return ()
    for line in text.splitlines():
        f = line.split()
        if len(f) != 6 or f[5] != ifname:
            continue
        try:
            scope, flags, plen = int(f[3], 16), int(f[4], 16), int(f[2], 16)
            addr = ipaddress.IPv6Address(bytes.fromhex(f[0]))
        except ValueError:
            continue
        if scope == SCOPE_GLOBAL and not flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED | IFA_F_DEPRECATED):
            out.append(ipaddress.IPv6Interface(f"{addr}/{plen}"))
    return tuple(out)


def default_gateway(ifname: str, *, proc: str = "/proc") -> ipaddress.IPv6Address | None:
    """The next hop of the link's IPv6 default route, or ``None``."""
    try:
        text = (Path(proc) / "net/ipv6_route").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        f = line.split()
        if len(f) != 10 or f[9] != ifname or f[1] != "00" or int(f[0], 16) != 0:
            continue
        flags = int(f[8], 16)
        if flags & RTF_GATEWAY and not flags & RTF_REJECT:
            return ipaddress.IPv6Address(bytes.fromhex(f[4]))
    return None


def onlink_prefixes(ifname: str, *, proc: str = "/proc") -> tuple[ipaddress.IPv6Network, ...]:
    """The link's on-link prefixes (routes without a next hop, neither link-local nor multicast nor
    host routes): from router advertisements' Prefix Information with the L flag (RFC 4861 §6.3.4)
    or from addresses with a prefix on the link."""
    try:
        text = (Path(proc) / "net/ipv6_route").read_text()
    except OSError:
        return ()
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) != 10 or f[9] != ifname:
            continue
        try:
            plen, flags = int(f[1], 16), int(f[8], 16)
            net = ipaddress.IPv6Network(f"{ipaddress.IPv6Address(bytes.fromhex(f[0]))}/{plen}")
        except ValueError:
            continue
        if 0 < plen < 128 and not flags & (RTF_GATEWAY | RTF_REJECT) and not net.is_link_local \
                and not net.is_multicast and net not in out:
            out.append(net)
    return tuple(out)


def ra_refused(ifname: str, *, proc: str = "/proc") -> str | None:
    """Why the kernel will not configure the link from router advertisements, or ``None``.

    ``accept_ra`` 0, or 1 on a forwarding interface (ip-sysctl.rst: "Accept Router Advertisements;
    autoconfigure using them ... 1 - if forwarding is disabled"), ``autoconf`` 0, ``disable_ipv6`` 1.
    """
    conf = Path(proc) / "sys/net/ipv6/conf" / ifname

    def get(name: str) -> str | None:
        try:
            return (conf / name).read_text().strip()
        except OSError:
            return None

    if get("disable_ipv6") in (None, "1"):
        return f"IPv6 is disabled on {ifname} (net.ipv6.conf.{ifname}.disable_ipv6, or a kernel without IPv6)"
    accept, forwarding = get("accept_ra"), get("forwarding")
    if accept == "0" or (accept == "1" and forwarding == "1"):
        return (f"{ifname} ignores router advertisements (net.ipv6.conf.{ifname}.accept_ra={accept}, "
                f"forwarding={forwarding})")
    if get("autoconf") == "0":
        return f"{ifname} makes no addresses from router advertisements (net.ipv6.conf.{ifname}.autoconf=0)"
    return None


def wait_slaac(interface: str, *, timeout: float = 10.0, progress: Progress | None = None,
               proc: str = "/proc", sysfs: str = "/sys/class/net", clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> Slaac:
    """Wait up to ``timeout`` s for a global address and a default route on ``interface`` (up).

    Returns as soon as both are there; with an address but no default route by the deadline, the
    result has ``gateway None`` and a warning (on-link targets are still reachable). Raises
    ``DhcpError`` for a missing or down link or one that ignores router advertisements, and
    ``DhcpTimeout`` when no global address came.
    """
    if not timeout > 0:
        raise DhcpError(f"SLAAC timeout {timeout!r}: expected a number of seconds > 0")
    base = Path(sysfs) / interface
    try:
        flags = int((base / "flags").read_text().strip(), 16)
    except FileNotFoundError:
        raise DhcpError(f"interface {interface} not found (no {base})") from None
    except (OSError, ValueError) as e:
        raise DhcpError(f"interface {interface}: cannot read {base}: {e}") from None
    if not flags & 0x1:
        raise DhcpError(f"interface {interface} is down; bring it up first (ip link set {interface} up)")
    why = ra_refused(interface, proc=proc)
    if why is not None:
        raise DhcpError(f"no SLAAC on {interface}: {why}")
    start = clock()
    said = False
    while True:
        addresses = global_addresses(interface, proc=proc)
        gateway = default_gateway(interface, proc=proc)
        now = clock()
        if addresses and gateway is not None:
            return Slaac(interface, addresses, gateway, now - start)
        if now - start >= timeout:
            if addresses:
                return Slaac(interface, addresses, None, now - start,
                             (f"no IPv6 default route on {interface} from router advertisements within "
                              f"{timeout:g} s (Router Lifetime 0?)",))
            raise DhcpTimeout(f"no global IPv6 address on {interface} from router advertisements within "
                              f"{timeout:g} s (no router advertised a prefix with the A flag, RFC 4862 §5.5.3)")
        if not said and progress is not None:
            progress(f"waiting up to {timeout:g} s for router advertisements on {interface}")
            said = True
        sleep(min(POLL_INTERVAL, max(timeout - (now - start), 0.0)))


def slaac_step(interface: str, *, timeout: float, progress: Progress | None = None, then_dhcp6: bool = False) -> str:
    """The plan step ``run_slaac``: ``wait_slaac`` and the line that says what it got (warnings go to
    ``progress``). With ``then_dhcp6`` (``ip=either6``: "if auto6 fails, then dhcp6", dracut.cmdline(7))
    a failure is that line too, ending ``; DHCPv6 next``; otherwise it raises."""
    try:
        got = wait_slaac(interface, timeout=timeout, progress=progress)
    except DhcpError as e:
        if then_dhcp6:
            return f"{e}; DHCPv6 next"
        raise
    for warning in got.warnings:
        if progress is not None:
            progress(warning)
    return got.describe()
