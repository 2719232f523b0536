"""``ibftkit plan``: print the network changes ``ibftkit net apply`` would make (no root needed).

Also holds the source options ``plan`` and ``net apply`` share: ``--ibft PATH`` (a table file,
memory image or sysfs directory; none: this system's table) or ``--root-path TEXT --interface IF``
(an RFC 4173 root path with the NIC given on the command line).
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import Any

from ..infra.errors import IbftkitError, UsageError
from ..infra.files import check_input
from ..model import BootConfig
from .main import seconds, warn


def add_source_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("where the boot configuration comes from")
    g.add_argument("--ibft", metavar="PATH",
                   help="table file, memory image or /sys/firmware/ibft directory (default: this system's iBFT)")
    g.add_argument("--root-path", metavar="TEXT", help="an RFC 4173 root path (DHCP option 17) instead of an iBFT")
    g.add_argument("--interface", metavar="IF", help="with --root-path: the interface to use")
    g.add_argument("--address", metavar="A/N", help="with --root-path: static address and prefix (a.b.c.d/nn)")
    g.add_argument("--gateway", metavar="IP", help="with --root-path: the gateway")
    g.add_argument("--dns", metavar="IP", action="append", default=[],
                   help="with --root-path: a DNS server (at most two; repeat the option)")
    g.add_argument("--hostname", metavar="NAME", help="with --root-path: the host name to set")
    g.add_argument("--initiator-name", metavar="IQN", help="with --root-path: the initiator's iSCSI name")
    b = p.add_argument_group("what to do")
    b.add_argument("--dhcp-rerun", action="store_true",
                   help="for a NIC whose firmware address came from DHCP, ask DHCP again instead of applying it")
    b.add_argument("--no-hostname", action="store_true", help="never set the host name")


def add_apply_args(g: Any, *, carrier_default: float | None) -> None:
    """``--resolv-conf`` and ``--carrier-timeout`` as ``ibftkit net apply`` and ``ibftkit-init`` take
    them (``carrier_default`` ``None``: ibftkit-init's kernel command-line value may apply; 10 s)."""
    g.add_argument("--resolv-conf", metavar="PATH", default=None,
                   help="where to write the DNS servers (default /etc/resolv.conf; written atomically; a PATH "
                   "given that cannot be written there is exit 2, before any change)")
    g.add_argument("--carrier-timeout", metavar="S", type=seconds, default=carrier_default,
                   help="seconds to wait for carrier on each link (default 10)")


def _root_path_nic(args: argparse.Namespace) -> Any:
    from ..model import Nic, parse_ip

    if not args.interface:
        raise UsageError("--root-path needs --interface IF (the NIC to reach the target through)")
    ip, prefix = None, 0
    if args.address:
        try:
            iface = ipaddress.ip_interface(args.address)
        except ValueError:
            raise UsageError(f"--address {args.address!r}: expected an address with a prefix, "
                             "like 10.0.0.5/24") from None
        if "/" not in args.address:
            raise UsageError(f"--address {args.address!r}: give the prefix length too, like {args.address}/24")
        ip, prefix = iface.ip, iface.network.prefixlen
    if len(args.dns) > 2:
        raise UsageError(f"--dns given {len(args.dns)} times; a NIC holds at most two DNS servers")
    try:
        gateway = parse_ip(args.gateway)
        dns = [parse_ip(d) for d in args.dns] + [None, None]
    except ValueError as e:
        raise UsageError(f"--gateway/--dns: {e}") from None
    return Nic(index=0, ip_address=ip, prefix_len=prefix, gateway=gateway, primary_dns=dns[0],
               secondary_dns=dns[1], hostname=args.hostname, ifname=args.interface)


#: what ``--links FILE`` holds, for the one-line errors about it
LINKS_EXPECTED = "what 'ip -j -d link show' prints"
IBFT_EXPECTED = "an iBFT: a table file, a memory image or a /sys/firmware/ibft directory"


def check_ibft_arg(path: str) -> None:
    """``--ibft PATH`` as the user gave it: readable, not empty (a directory is a sysfs tree);
    ``UsageError`` (exit 2) otherwise (``ibftkit.infra.files.check_input``)."""
    check_input(path, option="--ibft", directory=True, empty=False, expected=IBFT_EXPECTED,
                hint="firmware tables and /dev/mem are readable by root only" if path.startswith(("/sys/", "/dev/"))
                else None)


RESOLV_CONF = "/etc/resolv.conf"


def resolv_conf_arg(args: argparse.Namespace) -> str:
    """``--resolv-conf PATH``, checked as a file to be written (``check_output``: exit 2 before any
    change), or the default ``/etc/resolv.conf`` (written only when a plan has DNS servers)."""
    if args.resolv_conf is None:
        return RESOLV_CONF
    from ..infra.files import check_output

    check_output(args.resolv_conf, option="--resolv-conf")
    return str(args.resolv_conf)


def check_paths(args: argparse.Namespace, *, writes: bool) -> None:
    """Every file ``ibftkit-init`` was given, before anything is done (``UsageError``, exit 2):
    ``--cmdline`` (an empty one is an empty line), ``--ibft``, ``--links``, ``--kmsg`` (one that
    cannot be written; the default ``/dev/kmsg`` is used when writable), and with ``writes`` (a real
    run) ``--resolv-conf``, which is then set (its default filled in)."""
    if args.cmdline is not None:
        check_input(args.cmdline, option="--cmdline")
    if args.ibft is not None:
        check_ibft_arg(args.ibft)
    if args.links is not None:
        check_input(args.links, option="--links", empty=False, expected=LINKS_EXPECTED)
    if args.kmsg not in (None, "none", ""):
        from ..infra.files import check_writable

        check_writable(args.kmsg, option="--kmsg")
    if writes:
        args.resolv_conf = resolv_conf_arg(args)


def config_from_args(args: argparse.Namespace) -> BootConfig:
    """The ``BootConfig`` the source options name."""
    static = [o for o, v in (("--interface", args.interface), ("--address", args.address),
                             ("--gateway", args.gateway), ("--dns", args.dns), ("--hostname", args.hostname),
                             ("--initiator-name", args.initiator_name)) if v]
    if args.root_path is None:
        if static:
            raise UsageError(f"{', '.join(static)}: only valid with --root-path")
        from ..sources.ibft.locate import load_config

        if args.ibft is not None:
            check_ibft_arg(args.ibft)
        return load_config(args.ibft)
    if args.ibft is not None:
        raise UsageError("give either --ibft or --root-path, not both")
    nic = _root_path_nic(args)
    try:
        from ..sources.rootpath import config_from_root_path, parse_root_path
    except ImportError:
        raise IbftkitError("root path support (ibftkit.sources.rootpath) is not installed in this build") from None
    rp = parse_root_path(args.root_path)
    return config_from_root_path(rp, initiator_name=args.initiator_name, nic=nic, source="root-path")


def warn_config(cfg: BootConfig) -> None:
    """The source's own warnings (decoder quirks, a root path without initiator name) on stderr."""
    for w in cfg.warnings:
        warn(w)


def register(sub: Any) -> None:
    p = sub.add_parser("plan", help="print the network changes 'net apply' would make",
                       description="Show how the boot NIC(s) would be configured: links, carrier wait, VLAN, "
                       "addresses, default and per-target host routes, DNS, host name. Changes nothing. "
                       "Exit 0 planned, 1 no plan possible (e.g. no link has the NIC's MAC), 2 usage.")
    add_source_args(p)
    p.add_argument("--cmdline", metavar="FILE",
                   help="a kernel command line (as in /proc/cmdline): plan its network words (ip=, ifname=, "
                   "vlan=, bond=, bridge=, rd.route=, nameserver=, BOOTIF=; docs/cmdline.md), after the "
                   "--ibft/--root-path NICs when one is given")
    p.add_argument("--links", metavar="FILE",
                   help="plan for the links in FILE (the JSON 'ip -j -d link show' prints on the machine in "
                   "question) instead of this machine's")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=run)


def load_links_arg(path: str | None) -> Any:
    """``--links FILE``, or this machine's links."""
    from ..network.links import list_links, load_links_file

    if path is None:
        return list_links()
    check_input(path, option="--links", empty=False, expected=LINKS_EXPECTED)
    try:
        return load_links_file(path)
    except ValueError as e:
        raise UsageError(str(e)) from None


def run(args: argparse.Namespace) -> int:
    from ..network.plan import plan_network

    links = load_links_arg(args.links)
    if args.cmdline is not None:
        from ..network.plan_cmdline import plan_boot, plan_for_cmdline
        from ..sources.cmdline import load_cmdline

        check_input(args.cmdline, option="--cmdline")
        cl = load_cmdline(args.cmdline)
        for w in cl.warnings:
            warn(w)
        from ..sources.chain import netroot_targets

        netroot_targets(cl)  # a malformed netroot= fails here as it fails ibftkit-init (exit 1)
        if args.ibft is None and args.root_path is None:
            plan = plan_for_cmdline(cl, links, set_hostname=not args.no_hostname)
        else:
            cfg = config_from_args(args)
            warn_config(cfg)
            plan = plan_boot(cfg, "options", cl, links, dhcp_rerun=args.dhcp_rerun,
                             set_hostname=not args.no_hostname)
    else:
        cfg = config_from_args(args)
        warn_config(cfg)
        plan = plan_network(cfg, links=links, dhcp_rerun=args.dhcp_rerun, set_hostname=not args.no_hostname)
    if args.json:
        import json

        sys.stdout.write(json.dumps(plan.to_dict(), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(plan.render_text())
    return 0
