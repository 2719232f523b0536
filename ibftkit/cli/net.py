"""``ibftkit net apply`` (configure the boot NICs, root) and ``ibftkit net links`` (what the plan sees)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..infra.errors import UsageError
from .main import progress
from .plan import add_apply_args, add_source_args, config_from_args, resolv_conf_arg, warn_config


def register(sub: Any) -> None:
    p = sub.add_parser("net", help="configure the network for the boot target (apply) or list links",
                       description="Network configuration with rtnetlink (no 'ip' subprocesses).")
    verbs = p.add_subparsers(dest="net_command", metavar="VERB")
    a = verbs.add_parser("apply", help="configure the boot NIC(s) as the plan says (root)",
                         description="Apply the plan 'ibftkit plan' prints. Idempotent; on any failure "
                         "this run's changes are undone and the failing step is named. Exit 0 configured, "
                         "1 failed (nothing of this run left behind), 2 usage.")
    add_source_args(a)
    add_apply_args(a, carrier_default=10.0)
    a.add_argument("--json", action="store_true", help="print what was done as JSON")
    a.set_defaults(func=run_apply)
    v = verbs.add_parser("links", help="list the links the plan matches NICs against",
                         description="This machine's links from /sys/class/net: name, MAC, PCI address.")
    v.add_argument("--json", action="store_true",
                   help="print them as a JSON list (not the 'ip -j -d link show' form that --links reads)")
    v.set_defaults(func=run_links)
    p.set_defaults(func=_no_verb)


def _no_verb(args: argparse.Namespace) -> int:
    raise UsageError("net: give a verb: apply or links (see 'ibftkit net --help')")


def run_apply(args: argparse.Namespace) -> int:
    from ..network.apply import apply_plan
    from ..network.links import list_links
    from ..network.plan import plan_network

    resolv_conf = resolv_conf_arg(args)
    cfg = config_from_args(args)
    warn_config(cfg)
    plan = plan_network(cfg, links=list_links(), dhcp_rerun=args.dhcp_rerun, set_hostname=not args.no_hostname)
    for note in plan.notes:
        progress(f"note: {note}")
    result = apply_plan(plan, resolv_conf=resolv_conf, carrier_timeout=args.carrier_timeout,
                        progress=progress)
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n")
    else:
        n = len(result.changes)
        print(f"network configured: {n} change{'s' if n != 1 else ''}" + ("" if n else " (already as planned)"))
    return 0


def run_links(args: argparse.Namespace) -> int:
    from ..network.links import list_links

    links = list_links()
    if args.json:
        sys.stdout.write(json.dumps([x.to_dict() for x in links], indent=2, sort_keys=True) + "\n")
        return 0
    for x in links:
        pci = "" if x.pci_bdf is None else f" pci {x.pci_bdf}"
        kind = "" if x.devtype is None else f" ({x.devtype})"
        carrier = {True: "carrier", False: "no-carrier", None: "carrier ?"}[x.carrier]
        print(f"{x.ifindex}: {x.ifname}{kind} {x.mac or '-'} {x.operstate} {carrier}{pci}")
    return 0
