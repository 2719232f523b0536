"""``ibftkit kickstart`` and ``ibftkit dracut``: the boot configuration as installer input.

Same source options as ``ibftkit plan`` (``--ibft PATH`` or ``--root-path … --interface …``;
default: this system's iBFT). CHAP credentials are left out unless ``--show-secrets``; the output
then says so in a comment. Interface names come from this machine's links (``/sys/class/net``)
when a NIC's MAC is there, so no root is needed.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from .plan import add_source_args, config_from_args, warn_config

_HELP = {
    # argparse %-formats a subcommand's help (the summary) but not its description: '%%' only in the first.
    "kickstart": ("print Anaconda kickstart lines (iscsiname, network, iscsi) for %%include",
                  "Kickstart commands for the iSCSI boot disk: 'iscsiname', one 'network' line per NIC in "
                  "use and one 'iscsi' line per valid target (boot target first). A %pre script writes "
                  "them to a file that the kickstart %includes. Exit 0 printed, 1 no configuration, 2 usage."),
    "dracut": ("print the equivalent dracut kernel command line (ip=, netroot=, rd.iscsi.initiator=)",
               "dracut.cmdline(7) arguments for the iSCSI boot disk: rd.iscsi.initiator=, ifname=/vlan=/ip= per "
               "NIC, netroot=iscsi:... per target (LUN in decimal, as dracut reads it), rd.route= for targets "
               "off their NIC's subnet, rd.neednet=1. Lines starting with '#' are notes, not arguments. "
               "Exit 0 printed, 1 no configuration, 2 usage."),
}


def register(sub: Any) -> None:
    for name, (short, long) in _HELP.items():
        p = sub.add_parser(name, help=short, description=long)
        add_source_args(p)
        p.add_argument("--show-secrets", action="store_true",
                       help="include the CHAP names and secrets (default: left out, with a comment)")
        p.set_defaults(func=run, installer_format=name)


def run(args: argparse.Namespace) -> int:
    from ..network.links import list_links
    from ..render import render

    cfg = config_from_args(args)
    warn_config(cfg)
    if args.no_hostname:
        cfg = cfg.replace(nics=tuple(dataclasses.replace(n, hostname=None) for n in cfg.nics))
    macs = {x.mac: x.ifname for x in list_links() if x.mac and not x.stacked}
    sys.stdout.write(render(cfg, args.installer_format, show_secrets=args.show_secrets, mac_to_ifname=macs))
    return 0
