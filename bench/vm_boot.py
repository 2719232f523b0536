#!/usr/bin/env python3
"""ibftkit-init in a real VM against open-iscsi's own anchor: the iBFT-path goal of issue 6.

    python3 bench/vm_boot.py [--rounds N] [CASE ...]        (root; tools/vm/fetch-assets done)

For each case (default ``ipxe-bios-dhcp``: SeaBIOS + iPXE, one target, no CHAP) and each round, two
boots with the same iPXE script and a fresh tgtd (tools/vm/vmharness):

- the anchor (``tools/vm/capture``'s guest): ``iscsistart -N`` then ``iscsistart -b``, time from the
  start of ``-N`` to the first disk read;
- ``ibftkit-init`` (``tools/vm/e2e``'s guest): time from its start to the first disk read.

Both are guest ``/proc/uptime`` stamps (10 ms). Prints medians and the ratio (goal <= 2.5x), and
where ibftkit-init's time goes: the iscsistart login it reports, the rest (Python start-up and
imports, table, netlink, carrier), and warm ``python3 -c pass`` / ``import construct`` / ``import
pyroute2`` measured afterwards in the same guest. Note the anchor starts after the capture guest has
dumped the table and run ``iscsistart -f`` (about a second later than ibftkit-init starts after the
modules), so the e1000's carrier is older when the anchor starts: that favours the anchor.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools" / "vm"))

from vmharness import assets, capture, pyguest  # noqa: E402

GOAL = 2.5


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="*", default=["ipxe-bios-dhcp"], metavar="CASE")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("vm_boot: needs root (network namespaces, tgtd)", file=sys.stderr)
        return 2
    got = assets.load()
    with tempfile.TemporaryDirectory(prefix="ibftkit-bench-vm-") as tmp:
        anchor_initrd = capture.build_initrd(got, Path(tmp) / "anchor.gz")
        e2e_initrd = Path(tmp) / "e2e.gz"
        size = pyguest.build_initrd(got, e2e_initrd)
        print(f"images: anchor {anchor_initrd.stat().st_size / 1e6:.1f} MB, ibftkit-init {size / 1e6:.1f} MB (gzip)")
        for name in args.cases:
            case = capture.CASES[name]
            anchor, mine, login, py = [], [], [], {}
            for i in range(args.rounds):
                cap = capture.run_case(got, case, initrd=anchor_initrd, login=True)
                r = pyguest.run_e2e(got, case, initrd=e2e_initrd)
                anchor.append(cap.anchor["disk"])
                mine.append(r.to_disk)
                m = re.search(r"logged in to target\[\d+\] .* in ([0-9.]+) s", r.output)
                login.append(float(m.group(1)) if m else float("nan"))
                for k, v in r.times.items():
                    if k.startswith("py-"):
                        py.setdefault(k[3:], []).append(v)
                print(f"{name} round {i + 1}: anchor {cap.anchor['disk']:.2f} s (-N {cap.anchor.get('network', 0):.2f}"
                      f" + -b {cap.anchor.get('login', 0):.2f}), ibftkit-init {r.to_disk:.2f} s "
                      f"(iscsistart {login[-1]:.2f} s); boots {cap.seconds:.0f} s / {r.seconds:.0f} s", flush=True)
            a, b = statistics.median(anchor), statistics.median(mine)
            rest = b - statistics.median(login)
            print(f"{name}: time to a readable disk, median of {args.rounds}: anchor {a:.2f} s, ibftkit-init {b:.2f} s"
                  f" -> ratio {b / a:.2f}x (goal <= {GOAL}x: {'met' if b / a <= GOAL else 'NOT met'})")
            print(f"  ibftkit-init: iscsistart login {statistics.median(login):.2f} s, everything else "
                  f"(python start-up, imports, table, netlink, carrier) {rest:.2f} s; warm in the guest: "
                  + ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in py.items()))
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores; TCG guests are CPU-bound)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
