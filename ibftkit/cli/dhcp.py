"""``ibftkit dhcp --interface IF [--timeout S] [--json]``: get a DHCP lease and show it, configure nothing.

Exit 0 with a lease whose root path (option 17) parses, 1 on failure (no reply by the deadline,
a NAK loop, no option 17, a malformed option 17, a missing or down interface), 2 for usage.
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
                       "lease and the parsed root path. Nothing is configured. Needs root (a raw packet "
                       "socket). Exit 0 lease, 1 failure, 2 usage.")
    p.add_argument("--interface", "-i", metavar="IF", action="append", required=True,
                   help="the interface (up); repeat to try several, carrier first, until one gives a "
                   "usable root path")
    p.add_argument("--timeout", metavar="SECONDS", type=float, default=30.0,
                   help="overall deadline (default 30; shared between interfaces)")
    p.add_argument("--first-timeout", metavar="SECONDS", type=float, default=1.0,
                   help="first retransmission wait, doubled on each retry up to 64 (RFC 2131 §4.1; default 1)")
    p.add_argument("--json", action="store_true", help="print the lease as one JSON object")
    p.add_argument("--any-lease", action="store_true",
                   help="accept a lease without a root path (option 17) instead of failing")
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


def run(args: argparse.Namespace) -> int:
    if not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout}: expected a number of seconds > 0")
    if not args.first_timeout > 0:
        raise UsageError(f"--first-timeout {args.first_timeout}: expected a number of seconds > 0")
    from ..sources.dhcp import acquire_first, acquire_lease

    shown = progress if args.verbose else None
    interfaces = list(dict.fromkeys(args.interface))
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
