"""``ibftkit-init``: from boot firmware (or DHCP) to a logged-in iSCSI boot disk, for an initramfs
``init`` or a kickstart ``%pre``.

Steps: find the boot configuration (``ibftkit.sources.chain``), plan and apply the network
(``ibftkit.network.plan``/``ibftkit.network.apply``), log in to the boot target and then every other valid
target (``ibftkit.login``: argv, backends, retry). Quiet when it works (one line per wait and a last line), one precise
line when it does not; CHAP secrets never appear in any output, log or child environment.

Start-up matters (the initramfs waits for it): only ``argparse`` and ``sys`` are imported here;
every other module is imported when it is needed, and pyroute2 and scapy only when the network
is really touched (never by ``--dry-run`` on the iBFT path).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..infra.errors import EXIT_LOGIN, EXIT_NETWORK, EXIT_NO_CONFIG, EXIT_OK, EXIT_USAGE
from ..infra.lazyimport import deferred
from ..infra.timing import collect_again

# Imported here first, with stand-ins for what they import but the boot path never uses
# (ibftkit.infra.lazyimport.deferred; tests/unit/test_boot_imports.py): dataclasses imports inspect
# (with ast, dis and tokenize, a tenth of the path's imports) for one use, the text signature of a
# class without a docstring; shutil (argparse's help formatter reads the terminal width with it)
# imports zlib, bz2 and lzma only to learn which archive formats it can offer; pathlib imports
# urllib.parse for Path.as_uri(); argparse imports gettext (which imports locale when first
# called) to translate its messages, which it never does when no locale is chosen, as in an
# initramfs (the stand-in answers then as gettext would: lazyimport.ANSWERS).
with deferred("inspect", "zlib", "bz2", "lzma", "urllib.parse", "gettext"):
    import argparse
    import dataclasses  # noqa: F401
    import pathlib  # noqa: F401
    import shutil  # noqa: F401

PROG = "ibftkit-init"

EPILOG = """\
exit status:
  0  the boot target is logged in (--dry-run: the plan was printed)
  2  usage: a bad option or ibftkit.* kernel command-line value, or a file named by an option
     (--cmdline, --ibft, --links, --kmsg, --resolv-conf) that is missing, unreadable (unwritable), a
     directory or empty
  3  no boot configuration found (no usable iBFT, netroot= or DHCP root path), or it is incomplete,
     or a malformed kernel command-line word (ip=, vlan=, rd.route=...; docs/cmdline.md)
  4  network failed (no NIC with the table's MAC, no carrier, DHCP for the address, netlink)
  5  login failed (every attempt on the boot target, or iscsistart/iscsiadm missing)

sources, in order: these options; the kernel command line (ibftkit.*, rd.iscsi.firmware,
rd.iscsi.initiator, netroot=iscsi:..., Debian's iscsi_target_*); this system's iBFT; DHCP on the
NICs with carrier. The command line's network words (ip=, ifname=, vlan=, bond=, bridge=, rd.route=,
nameserver=, BOOTIF=) plan the network: docs/cmdline.md. See docs/init.md.
"""


def build_parser() -> argparse.ArgumentParser:
    from .main import ArgumentParser, count, seconds
    from .plan import add_apply_args, add_source_args

    p = ArgumentParser(prog=PROG, conflict_handler="resolve", formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Find the iSCSI boot configuration, configure the network and log in to "
                       "the boot target (then every other valid target).", epilog=EPILOG)
    add_source_args(p)  # --ibft --root-path --interface --address --gateway --dns --hostname
    #                     --initiator-name --dhcp-rerun --no-hostname, as 'ibftkit plan' has them
    p.add_argument("--interface", metavar="IF", action="append", default=[],
                   help="with --root-path: the NIC to use; otherwise a NIC to run DHCP on (repeatable; "
                   "default: every NIC with carrier)")
    p.add_argument("--initiator-name", metavar="IQN",
                   help="the initiator's iSCSI name, whatever the source (default: the iBFT's, DHCP option "
                   "203, rd.iscsi.initiator= or /etc/iscsi/initiatorname.iscsi)")
    n = p.add_argument_group("network (as 'ibftkit net apply')")
    add_apply_args(n, carrier_default=None)
    n.add_argument("--dhcp-timeout", metavar="S", type=seconds, default=None,
                   help="seconds DHCP may take, over all NICs (default 30)")
    i = p.add_argument_group("login")
    i.add_argument("--backend", choices=("iscsistart", "iscsiadm"), default=None,
                   help="iscsistart (default; CHAP secrets on its argv while it runs) or iscsid+iscsiadm "
                   "(secrets only in mode-0600 node records)")
    i.add_argument("--iscsistart", metavar="PATH", default="iscsistart", help="the iscsistart program")
    i.add_argument("--iscsiadm", metavar="PATH", default="iscsiadm", help="the iscsiadm program (--backend iscsiadm)")
    i.add_argument("--iscsid", metavar="PATH", default="iscsid", help="the iscsid program (--backend iscsiadm)")
    i.add_argument("--login-retries", metavar="N", type=count, default=None,
                   help="more attempts per target after the first (default 3)")
    i.add_argument("--login-backoff", metavar="S", type=seconds, default=None,
                   help="seconds before the first retry, doubling each time, at most 30 (default 2)")
    i.add_argument("--login-timeout", metavar="S", type=seconds, default=120.0,
                   help="seconds one login attempt may take before it is stopped (default 120)")
    i.add_argument("--portal-timeout", metavar="S", type=seconds, default=5.0,
                   help="before each login attempt, a TCP connect to the portal for at most S seconds; a portal "
                   "that does not answer costs no login (default 5; 0: no check)")
    i.add_argument("--wait-for-all-paths", action="store_true",
                   help="return only when every target is logged in or given up (default: once the boot target "
                   "is logged in, the other paths go on in the background and report to the kernel log)")
    i.add_argument("--param", metavar="NAME=VALUE", action="append", default=[],
                   help="an iSCSI setting (iscsistart -P), overriding the root-disk defaults "
                   "(replacement_timeout=86400, NOP-outs off, initial_login_retry_max=3); repeatable")
    o = p.add_argument_group("behaviour")
    o.add_argument("--cmdline", metavar="PATH", default=None,
                   help="read the kernel command line from PATH (default /proc/cmdline; a PATH that cannot be "
                   "read is exit 2, an empty one an empty command line)")
    o.add_argument("--dry-run", action="store_true",
                   help="print the source, the network plan and the exact commands (secrets redacted); "
                   "change nothing (no root needed)")
    o.add_argument("--json", action="store_true",
                   help="with --dry-run: one JSON object (version, source, warnings, plan, logins; docs/init.md)")
    o.add_argument("--links", metavar="FILE",
                   help="plan for the links in FILE (the JSON 'ip -j -d link show' prints on the machine in "
                   "question) instead of this machine's; with --dry-run")
    strict = o.add_mutually_exclusive_group()
    strict.add_argument("--strict", dest="strict", action="store_const", const=True, default=None,
                        help="refuse an iBFT the decoder has any warning about")
    strict.add_argument("--lenient", dest="strict", action="store_const", const=False,
                        help="accept an iBFT with warnings, printing them (the default)")
    o.add_argument("--handoff", action="store_true",
                   help="after the login, leave in /run what the installed system needs to keep the disk: "
                   "node records, /run/net-IF.conf, systemd-networkd and ifupdown settings (docs/after-boot.md; "
                   "the initramfs scripts pass it)")
    o.add_argument("--quiet", action="store_true", help="errors only")
    o.add_argument("--verbose", action="store_true", help="a line for every step")
    o.add_argument("--debug", action="store_true", help="every command (+ argv, secrets redacted) and a "
                   "traceback on errors")
    o.add_argument("--timings", action="store_true",
                   help="at the end, one line with the seconds each phase took, from the process's start "
                   "(start-up, options, source, plan, network, login)")
    o.add_argument("--kmsg", metavar="PATH", default=None,
                   help="also log to this kernel log device (default /dev/kmsg, when writable; a PATH given "
                   "that cannot be written is exit 2; 'none': off)")
    # for tests and captured systems: where the firmware tables and iSCSI state live
    o.add_argument("--firmware-root", default="/", help=argparse.SUPPRESS)
    o.add_argument("--initiatorname-file", default="/etc/iscsi/initiatorname.iscsi", help=argparse.SUPPRESS)
    o.add_argument("--node-dir", default="/etc/iscsi/nodes", help=argparse.SUPPRESS)
    o.add_argument("--run-dir", default="/run/ibftkit", help=argparse.SUPPRESS)
    o.add_argument("--iscsid-pidfile", default="/run/iscsid.pid", help=argparse.SUPPRESS)
    o.add_argument("--iscsi-initramfs", default="/etc/iscsi/iscsi.initramfs", help=argparse.SUPPRESS)
    o.add_argument("--open-iscsi-script", default="/scripts/local-top/iscsi", help=argparse.SUPPRESS)
    return p


def _explicit(args: argparse.Namespace, *, strict: bool) -> tuple[Any, str, bool]:
    """``(config, detail, address_by_dhcp)`` from --ibft / --root-path, or ``(None, "", False)``
    (``strict``: the resolved --strict/--lenient/ibftkit.strict)."""
    from ..infra.errors import UsageError
    from .plan import config_from_args

    if args.ibft is None and args.root_path is None:
        return None, "", False
    if args.root_path is not None and len(args.interface) > 1:
        raise UsageError("--root-path takes one --interface")
    ns = argparse.Namespace(**vars(args))
    ns.interface = args.interface[0] if args.interface else None
    if args.ibft is not None:
        if args.root_path is not None:
            raise UsageError("give either --ibft or --root-path, not both")
        static = [o for o, v in (("--address", args.address), ("--gateway", args.gateway), ("--dns", args.dns),
                                 ("--hostname", args.hostname)) if v]
        if static:
            raise UsageError(f"{', '.join(static)}: only valid with --root-path")
        from ..sources.ibft.locate import load_config

        return load_config(args.ibft, strict=strict), f"--ibft {args.ibft}", False
    cfg = config_from_args(ns)
    by_dhcp = args.address is None
    if by_dhcp:
        import dataclasses

        from ..model import Origin

        cfg = cfg.replace(nics=tuple(dataclasses.replace(n, origin=Origin.DHCP) for n in cfg.nics))
    return cfg, "--root-path", by_dhcp


def read_cmdline(args: argparse.Namespace, log: Any) -> Any:
    """The kernel command line, read ONCE (``--cmdline``); its secrets are registered for redaction
    before anything is printed. Debian's ``/etc/iscsi/iscsi.initramfs`` joins it when ibftkit-init
    runs on its own; inside an image where open-iscsi's own ``local-top/iscsi`` script runs, Debian's
    words are left to that script (the division ``docs/cmdline.md`` describes)."""
    import os

    from ..sources.cmdline import load_cmdline, parse_iscsi_initramfs

    cl = load_cmdline(args.cmdline) if args.cmdline is not None else load_cmdline()  # (checked: check_paths)
    log.add_secrets(cl.secrets())
    for netroot in cl.netroots:
        from ..sources.rootpath import parse_root_path

        try:
            rp = parse_root_path(netroot, dialect="dracut")
            log.add_secrets([s.reveal() for s in (rp.password, rp.reverse_password) if s is not None])
        except Exception:  # reported with its message when the source is read
            pass
    script = getattr(args, "open_iscsi_script", None)
    if script and os.path.exists(script):
        if cl.debian is not None:
            log.info(f"Debian's iscsi_target_* words are left to open-iscsi's {script}")
        return cl._replace(debian=None)
    path = getattr(args, "iscsi_initramfs", None)
    if cl.debian is None and path and os.path.exists(path):
        try:
            text = open(path, encoding="utf-8", errors="replace").read()
        except OSError as e:
            log.warning(f"{path}: {e.strerror or e}")
            return cl
        target, initiator, auto, notes = parse_iscsi_initramfs(text, origin=path)
        for n in notes:
            log.warning(n)
        if target is not None:
            log.add_secrets([x for x in (target.password, target.in_password) if x])
        cl = cl._replace(debian=target, firmware=cl.firmware or auto,
                         initiator=cl.initiator or initiator,
                         initiator_key=cl.initiator_key or (f"file:{path}" if initiator else None))
    return cl


def _backend(args: argparse.Namespace, opts: Any, merged: Any, tpgts: Any) -> tuple[Any, list[str]]:
    from ..login import backends

    if opts.backend == "iscsiadm":
        return (backends.IscsiadmBackend(args.iscsiadm, args.iscsid, params=merged, node_dir=args.node_dir,
                                         run_dir=args.run_dir, pidfile=args.iscsid_pidfile,
                                         sys_root=args.firmware_root, timeout=args.login_timeout, tpgts=tpgts),
                [args.iscsiadm, args.iscsid])
    return (backends.IscsistartBackend(args.iscsistart, params=merged, sys_root=args.firmware_root,
                                       timeout=args.login_timeout, tpgts=tpgts), [args.iscsistart])


def _tpgts(cfg: Any, cl: Any) -> dict[tuple[str | None, str | None, int], int]:
    """``rd.iscsi.target.group``/``iscsi_target_group``: the TPGT of the command line's targets."""
    if cl.tpgt is None:
        return {}
    from ..sources.chain import netroot_targets

    mine = {(t.name, t.address, t.port) for t in netroot_targets(cl)[0]}
    return {(t.name, t.address, t.port): cl.tpgt for t in cfg.targets if (t.name, t.address, t.port) in mine}


def _links_getter(args: argparse.Namespace) -> Any:
    """This machine's links, or ``--links FILE`` (another machine's, as ``ip -j -d link show`` printed them)."""
    path = getattr(args, "links", None)
    if path is None:
        from ..network.links import list_links

        return list_links
    from ..infra.errors import UsageError
    from ..network.links import load_links_file

    try:
        fixed = load_links_file(path)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return lambda: fixed


def find(args: argparse.Namespace, cl: Any, opts: Any, log: Any, links: Any) -> Any:
    """The boot configuration (``ibftkit.sources.chain``), from the options and the command line."""
    from ..sources.chain import Settings, find_config

    settings = Settings(strict=opts.strict, interfaces=opts.interfaces, initiator_name=args.initiator_name,
                        dhcp_timeout=opts.dhcp_timeout, carrier_timeout=opts.carrier_timeout, dry_run=args.dry_run,
                        firmware_root=args.firmware_root, initiatorname_path=args.initiatorname_file,
                        ibft_path=cl.ibft_path)
    explicit, detail, by_dhcp = _explicit(args, strict=opts.strict)
    if explicit is not None:
        log.add_secrets(explicit.secrets())
    return find_config(cl, settings, log, explicit=explicit, explicit_detail=detail, explicit_by_dhcp=by_dhcp,
                       links=_links_getter(args), raised=links)


def _check_args(args: argparse.Namespace) -> None:
    """What argparse cannot say: --json/--links only with --dry-run; a valid --initiator-name."""
    from ..infra.errors import UsageError

    if (args.json or args.links) and not args.dry_run:
        raise UsageError(f"{'--json' if args.json else '--links'}: only with --dry-run")
    if args.initiator_name:
        from ..iscsiname import validate_iscsi_name

        try:
            validate_iscsi_name(args.initiator_name)
        except ValueError as e:
            raise UsageError(f"--initiator-name: {e}") from None


def _would_dhcp(args: argparse.Namespace, cl: Any, opts: Any, log: Any, found: Any) -> int:
    """A dry run whose boot configuration needs a DHCP lease: where DHCP would run, and the plan of
    the command line's own network words."""
    from .init_dryrun import print_would_dhcp

    words_plan = None
    if cl.has_network_words:
        from ..network.plan_cmdline import plan_for_cmdline

        words_plan = plan_for_cmdline(cl, _links_getter(args)(), interfaces=opts.interfaces,
                                      set_hostname=not args.no_hostname)
    return print_would_dhcp(found, cl, log, json_out=args.json, words_plan=words_plan)


def run(args: argparse.Namespace, cl: Any, log: Any, state: dict[str, int], phases: Any, links: Any) -> int:
    """One run: source → plan → network → login (``--dry-run``: source → plan, printed)."""
    from ..infra.errors import IscsiLoginError, NoBootConfig
    from ..login import argv
    from .options import resolve

    opts = resolve(args, cl)
    _check_args(args)
    params = [argv.parse_param(p) for p in opts.params]
    if not args.json:
        for w in cl.warnings:
            log.warning(w)
    phases.begin("source")
    found = find(args, cl, opts, log, links)
    if found.config is None:  # a dry run that needs DHCP to go on
        return _would_dhcp(args, cl, opts, log, found)
    cfg = found.config
    log.add_secrets(cfg.secrets())
    if not args.dry_run:  # the dry run prints these on stdout
        log.progress(found.describe())
        for w in cfg.warnings:
            log.warning(w)
    order = cfg.login_order()
    problems = argv.login_problems(cfg, order[0])
    if problems:
        raise NoBootConfig(f"{cfg.source}: cannot log in to {argv.target_label(order[0])}: " + "; ".join(problems))
    merged = argv.merge_params(params)
    backend, programs = _backend(args, opts, merged, _tpgts(cfg, cl))

    state["phase"] = EXIT_NETWORK
    phases.begin("plan")
    get_links = _links_getter(args)

    def make_plan() -> Any:
        rerun = opts.dhcp_rerun or found.dhcp_rerun
        if found.source != "cmdline" and not cl.has_network_words:  # the source's NICs alone
            from ..network.plan import plan_network

            return plan_network(cfg, links=get_links(), dhcp_rerun=rerun, set_hostname=not args.no_hostname)
        from ..network.plan_cmdline import plan_boot

        interfaces = opts.interfaces or _generic_nics(args, cl, opts, log, links, found, get_links)
        return plan_boot(cfg, found.source, cl, get_links(), interfaces=interfaces, dhcp_rerun=rerun,
                         set_hostname=not args.no_hostname, lease_ifname=found.lease_ifname)

    if args.dry_run:
        from .init_dryrun import dry_run

        return dry_run(cfg, found, cl, backend, order, opts=opts, log=log, plan=make_plan, json_out=args.json)
    plan = make_plan()
    cfg = argv.with_zones(cfg, plan.steps)  # a link-local portal is reached with its NIC's link as zone
    missing = [p for p in programs if not _executable(p)]
    if missing:
        state["phase"] = EXIT_LOGIN
        raise IscsiLoginError(f"{missing[0]}: not found or not executable (needed to log in; "
                              f"--{'iscsistart' if opts.backend == 'iscsistart' else 'backend'})")
    phases.begin("network")
    boot_target = cfg.login_order()[0]
    try:
        configure_network(plan, args, opts, log, links,
                          head_start=lambda: backend.head_start(cfg, boot_target, log))
        state["phase"] = EXIT_LOGIN
        phases.begin("login")
        collect_again()  # the logins may take minutes and leave a child for the other paths
        outcomes = _login(backend, cfg, args, opts, log, lambda targets: _handoff(cfg, plan, targets, merged,
                                                                                           args, log))
    finally:
        backend.cancel_head_start()  # a login started ahead that the run did not wait for (an error, ^C)
    ok = sum(1 for o in outcomes if o.ok)
    pending = sum(1 for o in outcomes if o.pending)
    log.info(f"{ok} of {len(outcomes)} target{'s' if len(outcomes) != 1 else ''} logged in"
             + (f", {pending} still logging in (in the background)" if pending else ""))
    _handoff(cfg, plan, [o.target for o in outcomes if o.ok], merged, args, log)
    return EXIT_OK


def _login(backend: Any, cfg: Any, args: argparse.Namespace, opts: Any, log: Any,
           handoff: Any) -> Any:
    """The logins (``ibftkit.login.retry.login_all``): the boot target's bound said on its first
    failure; the other paths in a child process that goes on once the boot target is in (``login.paths``)."""
    from ..infra.run import prepare
    from ..login import paths, retry  # here: a dry run stops before the login

    policy = retry.RetryPolicy(retries=opts.login_retries, backoff=opts.login_backoff)
    probe_s = args.portal_timeout or None
    dead, most = retry.worst_case(policy, login_timeout=args.login_timeout, probe_timeout=probe_s)
    bound = ("the boot target is given up " + (f"within {dead:.0f} s if its portal does not answer, "
                                                 if probe_s else "") + f"within {most:.0f} s in any case")
    runner: Any = None
    if len(cfg.login_order()) > 1 and not args.wait_for_all_paths:
        runner = paths.ForkedPaths(log, on_done=lambda outs: handoff([o.target for o in outs if o.ok]))
    return retry.login_all(backend, cfg, policy=policy, log=log, paths=runner, background=runner is not None,
                           probe=retry.tcp_probe(probe_s, meanwhile=prepare) if probe_s else None, bound=bound)


def _handoff(cfg: Any, plan: Any, targets: Any, merged: Any, args: argparse.Namespace, log: Any) -> None:
    if not args.handoff or not targets:
        return
    from ..login.handoff import leave_handoff

    try:
        leave_handoff(cfg, plan, targets, merged, log=log, sys_root=args.firmware_root)
    except Exception as e:  # the disk is logged in: a missing hand-off must not stop the boot
        log.warning(f"hand-off for the installed system not written: {e}")


def _generic_nics(args: argparse.Namespace, cl: Any, opts: Any, log: Any, links: Any, found: Any,
                  get_links: Any) -> tuple[str, ...]:
    """A real run whose command line has ``ip=`` words naming no interface (or none at all): the NICs
    with carrier (``sources.chain.nics_with_carrier``); ``()`` in a dry run or otherwise."""
    generic = any(not (w.device or w.device_mac) for w in cl.ip) or not cl.ip
    if args.dry_run or found.source != "cmdline" or found.lease_ifname or not generic or cl.bootif:
        return ()
    from ..sources.chain import Settings, nics_with_carrier

    settings = Settings(interfaces=opts.interfaces, carrier_timeout=opts.carrier_timeout)
    return nics_with_carrier(settings, cl, log, links=get_links(), raised=links)


#: plan steps that never wait for the network (``ibftkit.network.plan``): netlink requests and files
_QUICK_STEPS = frozenset({"link_up", "add_address", "add_route", "set_sysctl", "set_dns", "set_hostname"})


def head_start_point(plan: Any, carrier: Callable[[str], bool | None]) -> int:
    """After how many of the plan's steps the boot target's login may start (0: before the first),
    so that iscsistart's one-second wait before its login (``IscsistartBackend.head_start``) runs
    beside the network's last steps: after the last step that may wait, i.e. a carrier wait on a
    link without carrier now (``carrier(ifname)``, sysfs) and any step but a netlink request or a
    file (DHCP, router advertisements, creating or changing a link); after every step when the plan
    adds an IPv6 address (duplicate address detection keeps it tentative a while: RFC 4862 §5.4)."""
    point = 0
    for n, step in enumerate(plan.steps, 1):
        if step.kind == "add_address" and step.address.version == 6:
            return len(plan.steps)
        if step.kind == "wait_carrier" and carrier(step.ifname) or step.kind in _QUICK_STEPS:
            continue
        point = n
    return point


def configure_network(plan: Any, args: argparse.Namespace, opts: Any, log: Any, links: Any,
                      head_start: Callable[[], object] | None = None) -> None:
    """Apply the plan. The links it sets up go up before pyroute2 is imported, so carrier
    negotiation overlaps the import (docs/init.md "Boot time"); links set up earlier that the plan
    does not use go down again (``links``: the run's ``RaisedLinks``, their one owner).
    ``head_start()`` is called once at :func:`head_start_point` (0: first, before the network code loads)."""
    from ..infra.sysfs import Sysfs

    point = head_start_point(plan, Sysfs(args.firmware_root).carrier) if head_start is not None else -1
    if point == 0 and head_start is not None:
        head_start()
    from ..network.apply import apply_plan, raise_links
    from ..network.plan import LinkUp

    if any(step.exchanges_packets for step in plan.steps):
        collect_again()  # a DHCP exchange or a wait for router advertisements: seconds of packets
    wanted = [step.ifname for step in plan.steps if isinstance(step, LinkUp)]
    links.keep_only(wanted)
    links.add(raise_links(wanted))
    for note in plan.notes:
        log.info(f"note: {note}")

    def net_progress(text: str) -> None:
        (log.progress if text.startswith("waiting") else log.info)(text)

    def on_step(n: int) -> None:
        if n == point and head_start is not None:
            head_start()

    apply_plan(plan, resolv_conf=args.resolv_conf, carrier_timeout=opts.carrier_timeout, progress=net_progress,
               raised=links.names, dhcp_timeout=opts.dhcp_timeout, on_step=on_step)
    links.configured = True


def _executable(program: str) -> bool:
    import os
    import shutil

    if os.sep in program:
        return os.path.isfile(program) and os.access(program, os.X_OK)
    from ..infra.run import CLEAN_PATH

    return shutil.which(program, path=CLEAN_PATH) is not None


_NOT_EARLY = ("--dry-run", "--ibft", "--root-path", "--help")


def _early_links(args: Sequence[str]) -> tuple[str, ...]:
    """Set the firmware's NICs up before anything else is imported (``ibftkit.network.linkup``): only for a
    real run that may read this system's iBFT (not ``--dry-run``, ``--ibft``, ``--root-path``, help)."""
    root = "/"
    for k, arg in enumerate(args):
        name = arg.split("=", 1)[0]
        # argparse takes abbreviations (--dry, --root): any prefix of those options counts
        if name == "-h" or (len(name) > 2 and any(o.startswith(name) for o in _NOT_EARLY)):
            return ()
        if name == "--firmware-root":
            root = arg.split("=", 1)[1] if "=" in arg else (args[k + 1] if k + 1 < len(args) else root)
    from ..network.linkup import firmware_links, raise_links

    return raise_links(firmware_links(root))


def main(argv: Sequence[str] | None = None) -> int:
    from ..infra.log import Log, level_from_flags
    from ..infra.timing import Phases
    from .main import guarded
    from .plan import check_paths

    phases = Phases()
    args_list = list(sys.argv[1:] if argv is None else argv)
    from ..sources.chain import RaisedLinks

    links = RaisedLinks(_early_links(args_list))
    debug = "--debug" in args_list
    log = Log(prog=PROG, level=level_from_flags(debug=debug))
    state = {"phase": EXIT_USAGE}

    def body() -> int:
        args = build_parser().parse_args(args_list)
        state["timings"] = int(args.timings)
        state["dry_run"] = int(args.dry_run)
        state["phase"] = EXIT_NO_CONFIG
        check_paths(args, writes=not args.dry_run)  # every file named, before anything is done (exit 2)
        log.set_kmsg(None if args.kmsg in ("none", "") else (args.kmsg or "/dev/kmsg"))
        log.level = level_from_flags(quiet=args.quiet, verbose=args.verbose, debug=args.debug)
        cl = read_cmdline(args, log)  # the one reading of the kernel command line
        log.level = level_from_flags(quiet=args.quiet or cl.quiet, verbose=args.verbose or cl.verbose,
                                     debug=args.debug or cl.debug)
        for name in links.names:
            log.info(f"set {name} up at start-up (its MAC is a NIC's in /sys/firmware/ibft)")
        return run(args, cl, log, state, phases, links)

    def boundary() -> int:
        """Every error becomes one redacted line on stderr and in the kernel log, and an exit status."""
        try:
            return body()
        except Exception as e:
            from ..infra.errors import IbftkitError, exit_status

            if isinstance(e, BrokenPipeError) and state.get("dry_run"):
                raise  # a dry run's reader went away (| head): guarded() ends quietly, as ibftkit's commands
            if debug:
                import traceback

                sys.stderr.write(log.redact("".join(traceback.format_exception(e))))
            if isinstance(e, IbftkitError):
                log.error(str(e))
                if e.hint:
                    log.error(f"hint: {e.hint}")
                return exit_status(e, otherwise=state["phase"])
            log.error(f"internal error: {type(e).__name__}: {e}")
            return 1

    try:
        return guarded(PROG, boundary, debug=debug)  # ^C and a closed stdout
    finally:
        links.release()
        if state.get("timings"):
            log.report(f"times: {phases.summary()}")
        log.close()


def entry() -> None:
    """The ``ibftkit-init`` program: :func:`main`, then exit without tearing the interpreter down.

    Until the logins (or a DHCP exchange) the cyclic garbage collector is off
    (``ibftkit.infra.timing.collect_again``): the start-up allocates tens of thousands of
    objects that live as long as the process (modules, classes, functions), and every 700 of them
    started a collection that found next to nothing to free (a few hundred objects by the network
    phase): 2% of the instructions before it (callgrind), for a peak memory 0.1-0.3 MB higher.

    Once the boot target is logged in (or the failure reported), Python's own shutdown (module
    teardown, garbage collection) only delays the initramfs: 0.1-0.2 s under emulation. Every file
    and child of the run is closed or waited for by then; the output is flushed here.
    """
    import gc
    import os

    gc.disable()
    rc = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(rc)


if __name__ == "__main__":
    entry()
