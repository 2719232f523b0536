#!/usr/bin/env python3
"""ibftkit's dracut module against dracut's own iscsi module: kernel start to the iSCSI root mounted.

    python3 bench/dracut_boot.py [--rounds N]        (root; tools/install-test-deps done)

One dracut image (``vmharness.rootdisk.dracut_image("both")``: a systemd initrd holding ibftkit's
module **and** dracut 059's ``95iscsi`` with ``network-legacy``), one ext4 root on one tgtd LUN, real
iPXE under SeaBIOS writing the iBFT (``rootdisk.boot_ipxe``); per round two boots, alternating which
goes first, that differ only in the kernel command line:

- dracut's own: ``rd.iscsi.ibft=1 rd.iscsi.firmware=1`` (what 95iscsi's own ``cmdline()`` and
  Anaconda write for an iBFT boot): network-legacy turns the iBFT into ``ip=`` and runs dhclient
  on the NIC, 95iscsi starts iscsid and logs in with ``iscsiadm -m fw -l``;
- ibftkit's: ``ibftkit`` (the module's rule leaves dracut's words to 95iscsi when it is in the image):
  the initqueue runs ibftkit-init once udev has settled (iBFT, pyroute2, iscsistart).

The figure is the kernel's own timestamp (``printk.time``) of ``EXT4-fs (sda): mounted``: from the
kernel's start to the root mounted by dracut. Prints the medians and the ratio ibftkit / dracut
(goal <= 1.0), and where the time goes on both sides from kernel-log lines: ``Run /init`` (the
initramfs starts), the NIC driver loaded (``e1000 ...: Intel(R) PRO/1000``), the NIC's link up, the
first line of the login tool (ibftkit-init's ``ibftkit:`` kernel-log lines; for dracut the iSCSI
transport registered by ``iscsid``/``iscsiadm``), ``sda`` attached, the root mounted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools" / "vm"))

from vmharness import assets, rootdisk  # noqa: E402

APPEND = "root=/dev/sda ro console=ttyS0 panic=1"
SIDES = {"dracut": f"{APPEND} rd.iscsi.ibft=1 rd.iscsi.firmware=1", "ibftkit": f"{APPEND} ibftkit"}
# Kernel-log lines that mark the phases (the first match of each).
MARKS = {
    "initramfs": r"Run /init as init process",
    "nic driver": r"e1000 [0-9a-f:.]+ \S+: Intel\(R\) PRO/1000 Network Connection",
    "link up": r"e1000: \S+ NIC Link is Up",
    "login tool": r"(ibftkit: |scsi host\d+: iSCSI Initiator over TCP/IP)",
    "sda attached": r"sd \d+:\d+:\d+:\d+: \[sda\] Attached SCSI disk",
    "root mounted": r"EXT4-fs \(sda\): mounted",
}


def phases(serial: str) -> dict[str, float]:
    """The kernel timestamp of each of :data:`MARKS` found in the serial log."""
    out = {}
    for name, pattern in MARKS.items():
        times = rootdisk.kmsg_times(serial, pattern)
        if times:
            out[name] = times[0]
    return out


def boot(a: assets.Assets, image: Path, rootfs: Path, side: str, work: Path) -> dict[str, float]:
    result = rootdisk.boot_ipxe(a, image, rootfs, SIDES[side], work)
    report = rootdisk.report(result.serial)
    if "done" not in report or report.get("sessions", "").split() != ["session1"]:
        raise SystemExit(f"{side}: the root's init did not report one session; serial ends "
                         f"{result.serial[-1500:]!r}")
    if (report.get("ibftkit") == "0") != (side == "ibftkit"):
        raise SystemExit(f"{side}: the wrong module logged in (ibftkit status {report.get('ibftkit')!r})")
    p = phases(result.serial)
    if "root mounted" not in p:
        raise SystemExit(f"{side}: no 'EXT4-fs (sda): mounted' line in the serial log")
    return p


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    a = assets.load()
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    with tempfile.TemporaryDirectory(prefix="ibftkit-bench-dracut-") as tmp:
        work = Path(tmp)
        image = work / "initrd.img"
        rootdisk.dracut_image(a, image, "both")
        rootfs = rootdisk.make_rootfs(a, work / "rootfs")
        print(f"image {image.stat().st_size / 1e6:.1f} MB (ibftkit's and dracut's iscsi module both in it)")
        for n in range(args.rounds):
            order = list(SIDES) if n % 2 == 0 else list(reversed(SIDES))
            for side in order:
                d = work / f"{side}-{n}"
                d.mkdir()
                p = boot(a, image, rootfs, side, d)
                runs[side].append(p)
                steps = ", ".join(f"{k} {v:.2f}" for k, v in p.items())
                print(f"round {n + 1} {side}: {steps}", flush=True)
    med = {side: statistics.median(r["root mounted"] for r in rs) for side, rs in runs.items()}
    print(f"\nkernel start -> root mounted, median of {args.rounds}: dracut's iscsi module {med['dracut']:.2f} s, "
          f"ibftkit's module {med['ibftkit']:.2f} s; ratio ibftkit/dracut {med['ibftkit'] / med['dracut']:.2f}x "
          "(goal <= 1.0)")
    for side, rs in runs.items():
        names = [k for k in MARKS if all(k in r for r in rs)]
        parts = []
        for prev, cur in zip(names, names[1:], strict=False):
            parts.append(f"{prev} -> {cur} {statistics.median(r[cur] - r[prev] for r in rs):.2f} s")
        print(f"{side}: kernel -> {names[0]} {statistics.median(r[names[0]] for r in rs):.2f} s; " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
