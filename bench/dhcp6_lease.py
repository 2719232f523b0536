#!/usr/bin/env python3
"""Time to a DHCPv6 lease: ``ibftkit dhcp --family 6`` against ISC ``dhclient -6 -1`` on the same dnsmasq.

Sets up its own namespaces (root needed): a client namespace with ``c0`` joined by a veth pair to a
server namespace running one dnsmasq (DHCPv6 with a static address for the client's DUID-LL, DNS
(option 23), the root path as Boot File URL (option 59), router advertisements). Both clients run
whole (process start to exit, as a boot would run them) ``--runs`` times, interleaved round-robin so
that load on the machine hits both alike; the medians are printed with the ratio ibftkit/dhclient.
The goal is ibftkit <= 1.0x dhclient. Notes: ``dhclient -6`` (RFC 3315) waits a random 0-1 s
(``SOL_MAX_DELAY``) before its first Solicit and sends no Rapid Commit unless configured; ibftkit
(RFC 8415) sends at once with Rapid Commit, which dnsmasq honours. Debian's busybox has no udhcpc6.

    python3 bench/dhcp6_lease.py [--runs 15]          # as root

Everything it starts is stopped and its namespaces removed, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "netns")]

from dnsmasq import Dnsmasq, opt  # noqa: E402  (tests/netns/dnsmasq.py)
from nettools import namespaces, sh  # noqa: E402  (tests/nettools.py)

MAC = "02:1b:f7:00:00:61"
DUID = "00:03:00:01:" + MAC  # DUID-LL (RFC 8415 §11.4), what ibftkit sends
ROOT_PATH = "iscsi:[fd00:99::1]::3260:1:iqn.2026-01.test.example:target0"
BIN = Path(sys.executable).parent / "ibftkit"
IBFTKIT = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "ibftkit.cli.main"]
DHCLIENT_CONF = "request dhcp6.name-servers, dhcp6.domain-search;\n"


def timed(argv: list[str], check: Callable[[subprocess.CompletedProcess[str]], bool]) -> float:
    start = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    if r.returncode != 0 or not check(r):
        raise SystemExit(f"bench: {argv[4:]} failed ({r.returncode}): {r.stdout[:300]} {r.stderr[-300:]}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/dhcp6_lease.py: needs root (network namespaces)")
    dhclient = shutil.which("dhclient") or "/usr/sbin/dhclient"
    if not Path(dhclient).exists():
        raise SystemExit("bench/dhcp6_lease.py: needs ISC dhclient (apt-get install isc-dhcp-client)")
    work = Path(tempfile.mkdtemp(prefix="ibftkit-bench6-"))
    (work / "dhclient.conf").write_text(DHCLIENT_CONF)
    times: dict[str, list[float]] = {"dhclient -6 -1": [], "ibftkit dhcp --family 6": []}
    try:
        with namespaces() as ns:
            client, server = ns.add("ib6bc"), ns.add("ib6bs")
            ns.veth(client, "c0", server, "s0", mac_a=MAC)
            sh("ip", "addr", "add", "fd00:99::1/64", "dev", "s0", "nodad", ns=server)
            conf = ("enable-ra", "dhcp-option=option6:dns-server,[fd00:99::53]", f"dhcp-host=id:{DUID},[fd00:99::77]",
                    opt("option6:bootfile-url", ROOT_PATH))
            with Dnsmasq(server, "s0", "fd00:99::100,fd00:99::1ff,64,1h", *conf):
                end = time.monotonic() + 20  # both link-locals usable (DAD) and a router advertisement in
                while "fd00:99::/64" not in sh("ip", "-6", "route", ns=client).stdout and time.monotonic() < end:
                    time.sleep(0.1)
                netns = ["ip", "netns", "exec", client]
                ours = netns + IBFTKIT + ["dhcp", "--interface", "c0", "--family", "6", "--json"]

                def run_dhclient() -> float:
                    pidfile = work / "dhclient.pid"
                    argv = netns + [dhclient, "-6", "-1", "-v", "-cf", str(work / "dhclient.conf"), "-sf", "/bin/true",
                                    "-lf", str(work / "dhclient6.leases"), "-pf", str(pidfile), "c0"]
                    try:  # until the parent exits, right after the Reply (bound); its daemon is stopped
                        return timed(argv, lambda r: "Bound to lease" in r.stderr or "bound" in r.stderr.lower())
                    finally:
                        try:
                            os.kill(int(pidfile.read_text().strip()), 15)
                        except (OSError, ValueError):
                            pass
                        pidfile.unlink(missing_ok=True)
                        (work / "dhclient6.leases").unlink(missing_ok=True)
                        # A dhclient daemon left on port 546 would take ibftkit's Reply: stop every
                        # process left in this bench's own client namespace.
                        for pid in sh("ip", "netns", "pids", client, check=False).stdout.split():
                            try:
                                os.kill(int(pid), 15)
                            except (OSError, ValueError):
                                pass
                        time.sleep(0.05)

                clients = {"dhclient -6 -1": run_dhclient,
                           "ibftkit dhcp --family 6": lambda: timed(ours, lambda r: '"fd00:99::77/' in r.stdout)}
                for _ in range(args.runs):
                    for name, run in clients.items():
                        times[name].append(run())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    anchor = statistics.median(times["dhclient -6 -1"])
    print(f"time to a DHCPv6 lease, process start to exit, {args.runs} runs each (load {os.getloadavg()[0]:.2f}):")
    for name, t in times.items():
        med = statistics.median(t)
        print(f"  {name:<26} median {med * 1000:7.1f} ms  range {min(t) * 1000:.0f}-{max(t) * 1000:.0f}  "
              f"ratio {med / anchor:.2f}x")
    ratio = statistics.median(times["ibftkit dhcp --family 6"]) / anchor
    print(f"goal ibftkit <= 1.0x dhclient -6: {'met' if ratio <= 1.0 else 'NOT met'} ({ratio:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
