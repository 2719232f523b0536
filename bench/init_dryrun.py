#!/usr/bin/env python3
"""ibftkit-init start-up and memory against plain Python, printed as ratios to the goals below.

    python3 bench/init_dryrun.py [--rounds N]

1. Wall time: ``ibftkit-init --dry-run --ibft fixtures/ibft/ibftkit-chap.bin`` against
   ``python3 -c pass`` (median of N fresh processes each; goal <= 5x). The fixture's MAC is not on
   this machine, so that run ends with exit 4 after the whole plan; the same table with the MAC
   of one of this machine's links is timed too (exit 0, the full dry run).
2. Peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a fresh helper's only child tree):
   the iBFT dry run; as root also a real iBFT apply + login (recorder as iscsistart) and the
   DHCP path (real dnsmasq) inside network namespaces. Goals: <= 40 MB (iBFT apply),
   <= 80 MB (DHCP).

The machine is shared: the load average is printed beside the numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "netns")]

from ibftkit.network.links import list_links  # noqa: E402
from ibftkit.sources.ibft.encode import encode_table  # noqa: E402
from ibftkit.sources.ibft.locate import load_config  # noqa: E402

FIXTURE = ROOT / "fixtures" / "ibft" / "ibftkit-chap.bin"
INIT = str(Path(sys.executable).parent / "ibftkit-init")
GOAL_TIME, GOAL_IBFT_MB, GOAL_DHCP_MB = 5.0, 40.0, 80.0


def wall(argv: list[str], rounds: int, env: dict[str, str] | None = None) -> tuple[float, int]:
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # warm (page cache, .pyc)
    times, code = [], 0
    for _ in range(rounds):
        t = time.perf_counter()
        code = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env).returncode
        times.append(time.perf_counter() - t)
    return statistics.median(times), code


HELPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
          "stderr=subprocess.DEVNULL); print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def peak_mb(argv: list[str]) -> tuple[float, int]:
    """Peak RSS of the largest process in ``argv``'s tree, in MB (ru_maxrss is in KiB on Linux)."""
    out = subprocess.run([sys.executable, "-c", HELPER, *argv], capture_output=True, text=True, check=True).stdout
    code, kib = out.split()
    return int(kib) / 1024, int(code)


def table_with_local_mac(tmp: Path) -> Path | None:
    macs = [x.mac for x in list_links() if x.mac and not x.stacked]
    if not macs:
        return None
    cfg = load_config(FIXTURE)
    nic = cfg.nics[0]
    import dataclasses

    path = tmp / "local-mac.bin"
    path.write_bytes(encode_table(cfg.replace(nics=(dataclasses.replace(nic, mac=macs[0]),))))
    return path


def netns_runs(tmp: Path) -> dict[str, tuple[float, int]]:
    """Peak RSS of a real iBFT apply and a real DHCP run inside namespaces (root only)."""
    from dnsmasq import Dnsmasq, opt
    from nettools import namespaces, sh
    from recorder import make_recorder
    from test_init import DISK0, MAC, table
    from test_init import INIT as IQN

    out: dict[str, tuple[float, int]] = {}
    rec = make_recorder(tmp / "rec")
    common = ["--iscsistart", str(rec), "--firmware-root", str(tmp / "fw"), "--cmdline", str(tmp / "cmdline"),
              "--kmsg", "none", "--resolv-conf", str(tmp / "resolv.conf"), "--initiatorname-file",
              str(tmp / "none"), "--no-hostname"]
    (tmp / "fw").mkdir()
    (tmp / "cmdline").write_text("")
    t = tmp / "t.bin"
    t.write_bytes(encode_table(table()))
    for name in ("ibft", "dhcp"):
        with namespaces() as ns:
            c, s = ns.add("ibkbc"), ns.add("ibkbs")
            ns.veth(c, "c0", s, "s0", mac_a=MAC)
            sh("ip", "addr", "add", "10.99.0.1/24", "dev", "s0", ns=s)
            run = ["ip", "netns", "exec", c, "unshare", "--uts", INIT, *common]
            if name == "ibft":
                out["ibft-apply"] = peak_mb([*run, "--ibft", str(t)])
            else:
                with Dnsmasq(s, "s0", "10.99.0.100,10.99.0.150,255.255.255.0,1h",
                             "dhcp-option=option:router,10.99.0.1", f"dhcp-host={MAC},10.99.0.77",
                             opt("option:root-path", f"iscsi:10.99.0.1::::{DISK0}"), opt(203, IQN)):
                    out["dhcp-apply"] = peak_mb([*run, "--dhcp-timeout", "20"])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(prefix="ibftkit-bench-") as d:
        tmp = Path(d)
        (tmp / "empty").write_text("")
        dry = [INIT, "--dry-run", "--kmsg", "none", "--cmdline", str(tmp / "empty")]
        local = table_with_local_mac(tmp)
        # As this environment runs Python (PYTHONDONTWRITEBYTECODE=1 here: every ibftkit module is compiled
        # from source on each start), then with bytecode cached in a private prefix, as an initramfs
        # built with compileall would have it.
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        for label, env in (("as is" + (", no .pyc" if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""), None),
                           ("bytecode cached", cached)):
            base, _ = wall([sys.executable, "-c", "pass"], args.rounds, env)
            print(f"[{label}]")
            print(f"  python3 -c pass                            median {base * 1000:7.1f} ms")
            fixture, code_f = wall([*dry, "--ibft", str(FIXTURE)], args.rounds, env)
            print(f"  ibftkit-init --dry-run (fixture, exit {code_f})   median {fixture * 1000:7.1f} ms   "
                  f"ratio {fixture / base:4.2f}x  (goal <= {GOAL_TIME:g}x)")
            if local is not None:
                full, code_l = wall([*dry, "--ibft", str(local)], args.rounds, env)
                print(f"  ibftkit-init --dry-run (local MAC, exit {code_l}) median {full * 1000:7.1f} ms   "
                      f"ratio {full / base:4.2f}x  (goal <= {GOAL_TIME:g}x)")
        mb, code = peak_mb([*dry, "--ibft", str(FIXTURE)])
        py_mb, _ = peak_mb([sys.executable, "-c", "pass"])
        print(f"peak RSS python3 -c pass {py_mb:5.1f} MB; dry run (exit {code}) {mb:5.1f} MB   "
              f"ratio to goal {mb / GOAL_IBFT_MB:4.2f}  (goal <= {GOAL_IBFT_MB:g} MB)")
        if os.geteuid() == 0:
            for name, (mb, code) in netns_runs(tmp).items():
                goal = GOAL_IBFT_MB if name.startswith("ibft") else GOAL_DHCP_MB
                print(f"peak RSS {name:<10} (exit {code}) {mb:5.1f} MB   ratio to goal {mb / goal:4.2f}  "
                      f"(goal <= {goal:g} MB)")
        else:
            print("peak RSS of the apply runs: needs root (network namespaces); skipped")
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
