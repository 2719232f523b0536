#!/usr/bin/env python3
"""How long the network step costs at boot: imports, link enumeration, plan, apply, re-apply, undo.

Run as root (it makes two network namespaces and a veth pair, and removes them):
    python3 bench/net_apply.py [--rounds N]
Prints medians in milliseconds and ratios. Timings on a shared VM vary by ±30-50 %.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from nettools import namespaces, sh  # noqa: E402

from ibftkit.model import BootConfig, Initiator, Nic, Target, parse_ip  # noqa: E402


def import_ms(stmt: str, rounds: int) -> float:
    code = f"import time; t = time.perf_counter(); {stmt}; print((time.perf_counter() - t) * 1000)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's ibftkit in the child too
    return statistics.median(float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                                  text=True, env=env).stdout) for _ in range(rounds))


def timed(fn, rounds: int) -> float:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    n = ap.parse_args().rounds

    imp_plan = import_ms("import ibftkit.network.links, ibftkit.network.plan", n)
    imp_pyroute2 = import_ms("from pyroute2 import IPRoute", n)
    imp_rtnl = import_ms("import ibftkit.network.netlink", n)
    print(f"import ibftkit.network.links+plan  {imp_plan:8.1f} ms")
    print(f"import pyroute2.IPRoute            {imp_pyroute2:8.1f} ms   ({imp_pyroute2 / imp_plan:.1f}x the plan's)")
    print(f"import ibftkit.network.netlink     {imp_rtnl:8.1f} ms   ({imp_rtnl / imp_pyroute2:.2f}x IPRoute's: "
          "what apply imports)")

    from ibftkit.network import apply as net
    from ibftkit.network.links import list_links
    from ibftkit.network.plan import plan_network

    mac = "02:1b:f7:00:00:20"
    with namespaces() as ns:
        client, server = ns.add("ibbc"), ns.add("ibbs")
        ns.veth(client, "c0", server, "s0", mac_a=mac)
        sh("ip", "addr", "add", "10.99.0.1/24", "dev", "s0", ns=server)
        cfg = BootConfig(initiator=Initiator("iqn.2026-01.test:bench"), nics=(Nic(
            index=0, ip_address=parse_ip("10.99.0.2"), prefix_len=24, gateway=parse_ip("10.99.0.1"), mac=mac),),
            targets=(Target(index=0, ip_address=parse_ip("10.77.0.7"), name="iqn.2026-01.test:disk"),))
        sys_links = timed(lambda: list_links(), n)
        nl_links = timed(lambda: net.list_links(client), n)
        links = net.list_links(client)
        plan_ms = timed(lambda: plan_network(cfg, links=links), n)
        plan = plan_network(cfg, links=links)
        first, again, back = [], [], []
        for _ in range(n):
            t = time.perf_counter()
            result = net.apply_plan(plan, netns=client)
            first.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            net.apply_plan(plan, netns=client)
            again.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            net.undo(result)
            back.append((time.perf_counter() - t) * 1000)
        a, b, u = (statistics.median(x) for x in (first, again, back))
    print(f"links from /sys/class/net         {sys_links:8.2f} ms")
    print(f"links by netlink (netns helper)   {nl_links:8.2f} ms   ({nl_links / sys_links:.0f}x /sys)")
    print(f"plan                              {plan_ms:8.3f} ms")
    print(f"apply (5 steps, netns helper)     {a:8.1f} ms")
    print(f"re-apply (nothing to do)          {b:8.1f} ms   ({b / a:.2f}x apply)")
    print(f"undo                              {u:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
