"""``ibftkit rootpath ROOT_PATH [--json] [--dialect rfc4173|dracut]``: check an RFC 4173 root path.

Exit 0 when valid (warnings allowed), 1 when invalid (one line on stderr naming the field),
2 for usage errors. A root path that starts with '-' goes after ``--``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..infra.log import REDACTED
from ..sources.rootpath import DIALECTS, RootPath, parse_root_path


def register(sub: Any) -> None:
    p = sub.add_parser("rootpath", help="parse and check an RFC 4173 iSCSI root path (DHCP option 17)",
                       description="Parse an iscsi:<server>:<protocol>:<port>:<LUN>:<target> root path "
                       "strictly (RFC 4173) or, with --dialect dracut, with dracut's credentials and "
                       "interface fields. Exit 0 valid, 1 invalid, 2 usage.")
    p.add_argument("root_path", metavar="ROOT_PATH",
                   help="the root path, e.g. iscsi:192.0.2.1::::iqn.2001-04.com.example:disk "
                   "(after '--' if it starts with '-')")
    p.add_argument("--json", action="store_true", help="print the parsed fields as one JSON object")
    p.add_argument("--dialect", choices=DIALECTS, default="rfc4173",
                   help="rfc4173 (strict, default) or dracut (also user:password@ and iface:netdev)")
    p.set_defaults(func=run)


def summary(rp: RootPath) -> str:
    """A short aligned human summary; CHAP secrets are never shown."""
    rows: list[tuple[str, str]] = []
    if rp.server is None:
        rows.append(("server", "(none: discover the target by name)"))
    else:
        rows.append(("server", f"{rp.server} ({rp.server_kind})"))
    rows.append(("protocol", f"{rp.protocol} (tcp)"))
    rows.append(("port", str(rp.port)))
    rows.append(("lun", f"{rp.lun.text} (Linux LUN {rp.lun.linux}, by-path {rp.by_path_lun}, "
                        f"bytes {rp.lun.hex})"))
    rows.append(("target", rp.target))
    if rp.username is not None:
        rows.append(("chap", f"user {rp.username}, secret {REDACTED}"))
    if rp.reverse_username is not None:
        rows.append(("reverse chap", f"user {rp.reverse_username}, secret {REDACTED}"))
    if rp.iface is not None:
        rows.append(("iface", rp.iface))
    if rp.netdev is not None:
        rows.append(("netdev", rp.netdev))
    rows += [("warning", w) for w in rp.warnings]
    width = max(len(k) for k, _ in rows)
    return "".join(f"{k.ljust(width)}  {v}\n" for k, v in rows)


def run(args: argparse.Namespace) -> int:
    rp = parse_root_path(args.root_path, dialect=args.dialect)
    if args.json:
        sys.stdout.write(json.dumps(rp.to_json_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(summary(rp))
    return 0
