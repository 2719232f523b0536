"""``ibftkit decode`` and ``ibftkit encode``: the offline decoder and its inverse."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..infra.errors import EXIT_FAIL, UsageError
from .main import warn


def local_macs(root: str = "/") -> dict[str, str]:
    """MAC -> interface name for this machine's links (``iface.net_ifacename`` in iscsistart records)."""
    from ..network.links import list_links

    out: dict[str, str] = {}
    for link in list_links(root):
        if link.mac and not link.stacked:
            out.setdefault(link.mac, link.ifname)
    return out


def register(sub: Any) -> None:
    p = sub.add_parser("decode", help="decode an iBFT (file, memory image, sysfs tree, or this system)",
                       description="Decode an iSCSI Boot Firmware Table. Without PATH: this system's table, "
                       "found as the Linux kernel finds it. Exit 0 decoded (warnings allowed), 1 no table "
                       "or invalid table (several PATHs: at least one), 2 usage (also: one PATH that is "
                       "missing, unreadable or empty).")
    p.add_argument("path", nargs="*", metavar="PATH",
                   help="table file, memory image (with --scan), /dev/mem, or a /sys/firmware/ibft directory; "
                   "with --format json also several of them or a directory of them: one JSON object per line "
                   '({"path", "ok", "model" or "error"}), decoded on every core')
    p.add_argument("--scan", action="store_true", help="PATH is a memory image: search it in 16-byte steps")
    p.add_argument("--format", choices=("text", "json", "sysfs", "iscsistart"), default="text")
    p.add_argument("--show-secrets", action="store_true", help="print CHAP secrets instead of <redacted>")
    p.add_argument("--strict", action="store_true", help="treat every warning as an error")
    p.add_argument("--jobs", metavar="N", type=int, default=None,
                   help="with several PATHs: worker processes (default: one per core)")
    p.set_defaults(func=run_decode)

    e = sub.add_parser("encode", help="write an iBFT from a JSON model (decode --format json --show-secrets)",
                       description="Encode a model as iBFT bytes, laid out as the named firmware does. "
                       "Exit 0 written, 1 invalid model, 2 usage (also: MODEL.json missing, unreadable or "
                       "empty; OUT a directory or in a directory that is not there or not writable).")
    e.add_argument("model", metavar="MODEL.json")
    e.add_argument("--layout", choices=("ipxe", "edk2", "ibftpl"), default="ipxe",
                   help="placement of structures and strings: iPXE (default), EDK2/OVMF, or dracut's ibft.pl")
    e.add_argument("-o", "--output", required=True, metavar="OUT")
    e.set_defaults(func=run_encode)


def run_decode(args: argparse.Namespace) -> int:
    from .decode_batch import wants_batch

    paths = list(args.path)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: expected 1 or more (see 'ibftkit decode --help')")
    if wants_batch(paths):
        if args.format != "json":
            raise UsageError(f"several tables need --format json (one object per line), "
                             f"not --format {args.format}")
        return _run_batch(args, paths)
    from ..render import render  # here: a batch needs none of the renders
    from ..render.kernel import iscsistart_drops_nic_warning
    from ..render.kernel_view import kernel_rejects
    from ..sources.ibft.locate import load_config

    if args.scan and not paths:
        raise UsageError("ibftkit decode: --scan needs a PATH (a memory image or /dev/mem)")
    if paths:  # the file the user names: there, readable, not empty (exit 2 otherwise)
        from ..infra.files import check_input
        from .plan import IBFT_EXPECTED

        check_input(paths[0], directory=True, empty=False, expected=IBFT_EXPECTED)
    cfg = load_config(paths[0] if paths else None, scan=args.scan, strict=args.strict)
    macs = local_macs() if args.format in ("iscsistart", "text") else {}
    netless = netless_pci(cfg) if args.format == "iscsistart" else {}
    out = render(cfg, args.format, show_secrets=args.show_secrets, mac_to_ifname=macs, netless_pci=set(netless))
    if args.format in ("sysfs", "iscsistart"):
        for w in cfg.warnings:
            warn(w)
        reason = kernel_rejects(cfg)
        if reason:
            warn(f"the Linux kernel would show no /sys/firmware/ibft for this table: {reason}")
        for bdf, index in netless.items():
            if bdf != "00:00.0":  # the decoder already says it for the zero address
                warn(iscsistart_drops_nic_warning(index, bdf, "names a device on this machine with no network "
                                                              "interface"))
    sys.stdout.write(out)
    return 0


def netless_pci(cfg: Any, root: str = "/") -> dict[str, int]:
    """PCI addresses of ``cfg``'s NICs that name a device on this machine (segment 0, as the kernel
    looks it up: ``pci_get_domain_bus_and_slot(0, …)``) with no network interface under it
    (``net/`` or, for virtio, ``*/net/``): address -> NIC index."""
    out: dict[str, int] = {}
    for nic in cfg.nics:
        if nic.pci_bdf is None:
            continue
        dev = Path(root) / "sys/bus/pci/devices" / f"0000:{nic.pci_bdf}"
        if dev.is_dir() and not (dev / "net").is_dir() and not any(dev.glob("*/net")):
            out[str(nic.pci_bdf)] = nic.index
    return out


def _run_batch(args: argparse.Namespace, paths: list[str]) -> int:
    from .decode_batch import Job, run_batch

    total, failed = run_batch(paths, Job(args.scan, args.strict, args.show_secrets), jobs=args.jobs)
    if failed:
        warn(f"{failed} of {total} table(s) did not decode (their lines say why: \"ok\": false)")
        return EXIT_FAIL
    return 0


def run_encode(args: argparse.Namespace) -> int:
    """``ibftkit encode`` (``ibftkit.cli.encode``, imported when it runs)."""
    from .encode import run_encode as run

    return run(args)
