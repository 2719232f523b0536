#!/usr/bin/env python3
"""Decode time per table and fleet throughput, measured in the same run.

1. Per table: ibftkit's decoder (construct, with validation), interpreted and with construct's
   compiled parsers (what batch decoding uses), against a plain ``struct.unpack_from`` parser of the
   same fields (no validation, no model). Goal: compiled ≤ 10× the baseline (median over the tables).
2. Fleet: ``ibftkit decode --format json DIR`` over ``--fleet`` captured-style tables (copies of the
   fixture tables, broken ones included, written to a temporary directory), the whole command timed
   (start-up, workers, JSON out to /dev/null). Goal: ≥ 10,000 tables/s (median of ``--runs``).

Usage: python3 bench/decode.py [--repeat N] [--fleet N] [--runs N]
Prints the figures beside their goals and the load average; there is no pass/fail: a human reads it.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ibftkit.sources.ibft import decode as D  # noqa: E402
from ibftkit.sources.ibft.decode import decode_table  # noqa: E402

HDR = struct.Struct("<4sIBB6s8sIII12s")
SH = struct.Struct("<BBHBB")
INIT = struct.Struct("<BBHBB16s16s16s16sHH")
NIC = struct.Struct("<BBHBB16sBB16s16s16s16sH6sHHH")
TGT = struct.Struct("<BBHBB16sH8sBBHHHHHHHHHH")


def ip(b: bytes) -> object:
    if b == bytes(16):
        return None
    a = ipaddress.IPv6Address(b)
    return a.ipv4_mapped or a


def baseline(data: bytes) -> dict[str, object]:
    """The least a parser must do: unpack every field, convert addresses, slice strings."""
    h = HDR.unpack_from(data, 0)
    table = data[:h[1]]
    clen = SH.unpack_from(table, 48)[2]
    offs = struct.unpack_from(f"<{(clen - 8) // 2}H", table, 56)
    out: dict[str, object] = {"header": h, "nics": [], "targets": []}

    def s(length: int, off: int) -> str | None:
        return table[off:off + length].decode("latin-1") if off else None

    for off in offs:
        if not off:
            continue
        sid = table[off]
        if sid == 2:
            f = INIT.unpack_from(table, off)
            out["initiator"] = (f[3], f[4], [ip(x) for x in f[5:9]], s(f[9], f[10]))
        elif sid == 3:
            f = NIC.unpack_from(table, off)
            out["nics"].append((f[3], f[4], ip(f[5]), f[6], f[7], [ip(x) for x in f[8:12]], f[12],  # type: ignore[attr-defined]
                                f[13].hex(":"), f[14], s(f[15], f[16])))
        elif sid == 4:
            f = TGT.unpack_from(table, off)
            out["targets"].append((f[3], f[4], ip(f[5]), f[6], f[7], f[8], f[9],  # type: ignore[attr-defined]
                                   [s(f[i], f[i + 1]) for i in range(10, 20, 2)]))
    return out


def per_call(fn: object, data: bytes, repeat: int) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            fn(data)  # type: ignore[operator]
        times.append((time.perf_counter() - start) / repeat)
    return statistics.median(times)


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def fleet(n: int, runs: int) -> list[float]:
    """tables/s of the whole ``ibftkit decode --format json DIR`` over ``n`` table files."""
    tables = [p.read_bytes() for p in sorted((ROOT / "fixtures" / "ibft").glob("*.bin"))]
    tables += [p.read_bytes() for p in sorted((ROOT / "fixtures" / "ibft" / "samples").glob("*.bin"))]
    rates = []
    with tempfile.TemporaryDirectory(prefix="ibftkit-fleet-") as tmp:
        for k in range(n):
            Path(tmp, f"{k:06d}.bin").write_bytes(tables[k % len(tables)])
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for _ in range(runs):
            start = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "ibftkit.cli.main", "decode", "--format", "json", tmp],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
            rates.append(n / (time.perf_counter() - start))
            if r.returncode not in (0, 1):
                raise SystemExit(f"decode failed: {r.stderr.strip()}")
    return rates


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=300)
    ap.add_argument("--fleet", type=int, default=20000, help="tables in the fleet run (0: skip it)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    tables = sorted((ROOT / "fixtures" / "ibft").glob("*.bin"))
    tables += sorted((ROOT / "fixtures" / "ibft" / "samples").glob("*.bin"))
    tables = [t for t in tables if not t.name.startswith("broken-")]
    print(f"# {load()}, {os.cpu_count()} cores")
    print(f"{'table':<34} {'bytes':>5} {'interp µs':>10} {'compiled µs':>12} {'struct µs':>10} {'ratio':>6}")
    ratios, interp_ratios = [], []
    for t in tables:
        data = t.read_bytes()
        D._COMPILED.clear()
        interp = per_call(decode_table, data, args.repeat)
        D.use_compiled_parsers()
        ours = per_call(decode_table, data, args.repeat)
        base = per_call(baseline, data, args.repeat)
        ratios.append(ours / base)
        interp_ratios.append(interp / base)
        print(f"{t.name:<34} {len(data):>5} {interp * 1e6:>10.1f} {ours * 1e6:>12.1f} {base * 1e6:>10.1f} "
              f"{ours / base:>5.1f}×")
    print(f"per table, compiled/struct: median {statistics.median(ratios):.1f}× (goal ≤ 10×; interpreted, the "
          f"boot path: {statistics.median(interp_ratios):.1f}×) over {len(ratios)} tables; {load()}")
    if args.fleet:
        rates = fleet(args.fleet, args.runs)
        print(f"fleet, ibftkit decode --format json DIR over {args.fleet} tables on {os.cpu_count()} cores: "
              f"median {statistics.median(rates):,.0f} tables/s (goal ≥ 10,000; runs: "
              f"{', '.join(f'{r:,.0f}' for r in rates)}); {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
