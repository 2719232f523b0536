"""``ibftkit dhcp --interface IF [--family 4|6] [--timeout S] [--json]``: get a lease and show it, configure nothing.

Exit 0 with a lease whose root path (DHCPv4 option 17, DHCPv6 option 59) parses, 1 on failure (no
reply by the deadline, a NAK loop, no address, no root path, a malformed one, a missing or down
interface), 2 for usage. ``--family 6`` runs DHCPv6 (RFC 8415, ``ibftkit.dhcp.client6``).
``--any-lease`` also accepts a lease without option 17 (``"root_path": null``). Giving
``--interface`` several times tries each (carrier first) until one gives a usable root path.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..infra.errors import DhcpError, UsageError
from .main import progress


def register(sub: Any) -> None:
    p = sub.add_parser("dhcp", help="get a DHCP lease with the iSCSI root path and show it (configures nothing)",
                       description="Run DHCP (DISCOVER/OFFER/REQUEST/ACK) on an interface that is up, asking "
                       "for the root path (option 17) and the iSCSI initiator name (option 203), and print the "
                       "lease and the parsed root path; with --family 6, DHCPv6 (Solicit/Advertise/Request/Reply, "
                       "Rapid Commit; the root path in option 59, Boot File URL). Nothing is configured. Needs "
                       "root (a raw packet socket; UDP port 546). Exit 0 lease, 1 failure, 2 usage.")
    p.add_argument("--interface", "-i", metavar="IF", action="append", required=True,
                   help="the interface (up); repeat to try several, carrier first, until one gives a "
                   "usable root path")
    p.add_argument("--family", type=int, choices=(4, 6), default=4,
                   help="4: DHCPv4 (RFC 2131, default); 6: DHCPv6 (RFC 8415) for an IA_NA address, DNS "
                   "(option 23) and the Boot File URL (option 59)")
    p.add_argument("--timeout", metavar="SECONDS", type=float, default=30.0,
                   help="overall deadline (default 30; shared between interfaces)")
    p.add_argument("--first-timeout", metavar="SECONDS", type=float, default=1.0,
                   help="first retransmission wait, doubled on each retry up to 64 (RFC 2131 §4.1; default 1; "
                   "DHCPv4 only: DHCPv6 follows RFC 8415 §15)")
    p.add_argument("--json", action="store_true", help="print the lease as one JSON object")
    p.add_argument("--any-lease", action="store_true",
                   help="accept a lease without a root path (option 17; option 59 for DHCPv6) instead of failing")
    p.add_argument("--verbose", "-v", action="store_true", help="show the exchange on stderr as it happens")
    p.set_defaults(func=run)


def summary(lease: Any) -> str:
    """Aligned human lines for a lease and its parsed root path (no secrets: RFC 4173 has none)."""
    from .rootpath import summary as root_path_summary

    def show(value: object) -> str:
        return "-" if value is None or value == "" else str(value)

    rows = [
        ("interface", f"{lease.interface} ({lease.mac})"),
        ("address", str(lease.address)),
        ("gateway", show(lease.gateway)),
        ("dns", ", ".join(str(d) for d in lease.dns) or "-"),
        ("hostname", show(lease.hostname)),
        ("domain", show(lease.domain)),
        ("mtu", show(lease.mtu)),
        ("server", f"{show(lease.server_id)} (lease {show(lease.lease_time)} s, xid 0x{lease.xid:08x})"),
        ("root path", show(lease.root_path)),
        ("initiator name", show(lease.initiator_name)),
    ]
    rows += [("warning", w) for w in lease.warnings]
    width = max(len(k) for k, _ in rows)
    text = "".join(f"{k.ljust(width)}  {v}\n" for k, v in rows)
    rp = lease.parse_root_path()
    if rp is not None:
        text += "target:\n" + "".join(f"  {line}\n" for line in root_path_summary(rp).splitlines())
    return text


def summary6(lease: Any) -> str:
    """Aligned human lines for a DHCPv6 lease and its parsed root path."""
    from .rootpath import summary as root_path_summary

    def show(value: object) -> str:
        return "-" if value is None or value == "" else str(value)

    rows = [
        ("interface", f"{lease.interface} ({lease.mac})"),
        ("address", f"{lease.address} (preferred {show(lease.preferred_lifetime)} s, valid "
                    f"{show(lease.valid_lifetime)} s)"),
        ("dns", ", ".join(str(d) for d in lease.dns) or "-"),
        ("domain search", ", ".join(lease.domain_search) or "-"),
        ("server", f"DUID {lease.server_id.hex()} at {show(lease.server_address)}"
                   + (" (Rapid Commit)" if lease.rapid_commit else "")),
        ("boot file url", show(lease.boot_file_url)),
    ]
    rows += [("warning", w) for w in lease.warnings]
    width = max(len(k) for k, _ in rows)
    text = "".join(f"{k.ljust(width)}  {v}\n" for k, v in rows)
    rp = lease.parse_root_path()
    if rp is not None:
        text += "target:\n" + "".join(f"  {line}\n" for line in root_path_summary(rp).splitlines())
    return text


def _run6(args: argparse.Namespace, interfaces: list[str], shown: Any) -> int:
    from ..sources.dhcp import acquire_first, acquire_lease6

    lease: Any
    if len(interfaces) == 1:
        lease = acquire_lease6(interfaces[0], timeout=args.timeout, progress=shown)
        if lease.root_path is None and not args.any_lease:
            raise DhcpError(f"the DHCPv6 lease on {lease.interface} ({lease.address} from server "
                            f"{lease.server_id.hex()}) has {lease.no_root_path()}; --any-lease to show it anyway")
    else:
        if args.any_lease:
            raise UsageError("--any-lease works with one --interface (several are tried for a usable root path)")

        def one(name: str, *, timeout: float, progress: Any = None, sysfs: str = "", **_: Any) -> Any:
            return acquire_lease6(name, timeout=timeout, progress=progress, sysfs=sysfs)

        lease = acquire_first(interfaces, timeout=args.timeout, progress=shown, acquire=one)
    text = json.dumps(lease.to_json_dict(), indent=2) + "\n" if args.json else summary6(lease)
    sys.stdout.write(text)
    return 0


def run(args: argparse.Namespace) -> int:
    if not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout}: expected a number of seconds > 0")
    if not args.first_timeout > 0:
        raise UsageError(f"--first-timeout {args.first_timeout}: expected a number of seconds > 0")
    shown = progress if args.verbose else None
    interfaces = list(dict.fromkeys(args.interface))
    if args.family == 6:
        return _run6(args, interfaces, shown)
    from ..sources.dhcp import acquire_first, acquire_lease

    if len(interfaces) == 1:
        lease = acquire_lease(interfaces[0], timeout=args.timeout, first_timeout=args.first_timeout,
                              progress=shown)
        if lease.root_path is None and not args.any_lease:
            raise DhcpError(f"the lease on {lease.interface} ({lease.address} from {lease.server_id}) has no root "
                            "path (DHCP option 17); --any-lease to show it anyway")
    else:
        if args.any_lease:
            raise UsageError("--any-lease works with one --interface (several are tried for a usable root path)")
        lease = acquire_first(interfaces, timeout=args.timeout, first_timeout=args.first_timeout, progress=shown)
    if args.json:
        text = json.dumps(lease.to_json_dict(), indent=2) + "\n"  # RootPathError when option 17 is malformed
    else:
        text = summary(lease)
    sys.stdout.write(text)
    return 0
