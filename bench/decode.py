#!/usr/bin/env python3
"""Decode time per table and fleet throughput, measured in the same run.

1. Per table: ``decode_table`` (every check and warning, the whole ``BootConfig`` model; each
   structure unpacked with one ``struct.Struct`` generated from the construct layout) with its caches
   of decoded values emptied before every call (nothing carried over from the call before), against
   a plain ``struct.unpack_from`` parser of the same fields (addresses converted, strings sliced; no
   validation, no model). construct's interpreted parse of the same table (the reference the
   tests hold the decoder to) is shown beside them. Both timings alternate, round by round; the
   ratio is of their medians. Goal: ≤ 10× (median over the tables).
2. Fleet: ``python3 -m ibftkit.cli.main decode --format json DIR`` over ``--fleet`` captured-style
   tables (the fixture tables, broken ones included, each copy with its own NIC MAC and IPv4
   address as a fleet's machines have, the checksum kept as right or wrong as the original), files
   in a temporary directory (page cache warm). Timed: the whole command, wall clock from start to
   exit — interpreter start-up, imports, listing the directory, forking one worker per core,
   reading every file, decoding, JSON, writing the lines to /dev/null. Goal: ≥ 10,000 tables/s
   (median of ``--runs``).

Usage: python3 bench/decode.py [--repeat N] [--rounds N] [--fleet N] [--runs N]
Prints the figures beside their goals and the load average; there is no pass/fail: a human reads it.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import resource
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
from ibftkit.sources.ibft import spec as L  # noqa: E402

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


def timed(fn: object, data: bytes, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn(data)  # type: ignore[operator]
    return (time.perf_counter() - start) / repeat


def cold_decode(data: bytes) -> object:
    """One decode with the decoder's caches of decoded values empty."""
    D.clear_caches()
    try:
        return D.decode_table(data)
    except D.DecodeError:
        return None


def construct_decode(data: bytes) -> object:
    try:
        return D.decode_table_construct(data)
    except D.DecodeError:
        return None


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def fleet_table(data: bytes, k: int) -> bytes:
    """Copy ``k`` of a table as another machine's: each NIC structure's MAC (last three bytes) and
    IPv4 address (middle two octets, unless null) XORed with ``k``; the checksum byte moved so the
    byte sum stays what it was (a wrong checksum stays wrong)."""
    b = bytearray(data)
    if len(b) < L.CONTROL_OFFSET + L.CONTROL_SIZE or b[:4] not in L.SIGNATURES:
        return data
    before = sum(b)
    x = k.to_bytes(3, "big")
    for slot in range(L.CONTROL_OFFSET + 8, L.CONTROL_OFFSET + L.CONTROL_SIZE, 2):
        off = int.from_bytes(b[slot:slot + 2], "little")
        if not off or off + L.NIC_SIZE > len(b) or b[off] != L.ID_NIC:
            continue
        mac = off + 92
        for i in range(3):
            b[mac + 3 + i] ^= x[i]
        ip = off + 6
        if b[ip:ip + 12] == bytes(10) + b"\xff\xff" and any(b[ip + 12:ip + 16]):
            b[ip + 13] ^= x[1]
            b[ip + 14] ^= x[2]
    b[L.CHECKSUM_OFFSET] = (b[L.CHECKSUM_OFFSET] - (sum(b) - before)) & 0xFF
    return bytes(b)


def fleet(n: int, runs: int) -> tuple[list[float], list[float]]:
    """tables/s of the whole ``ibftkit decode --format json DIR`` over ``n`` table files, and the
    CPU seconds (user + system, the command and its workers) of each run."""
    tables = [p.read_bytes() for p in sorted((ROOT / "fixtures" / "ibft").glob("*.bin"))]
    tables += [p.read_bytes() for p in sorted((ROOT / "fixtures" / "ibft" / "samples").glob("*.bin"))]
    rates, cpu = [], []
    with tempfile.TemporaryDirectory(prefix="ibftkit-fleet-") as tmp:
        for k in range(n):
            Path(tmp, f"{k:06d}.bin").write_bytes(fleet_table(tables[k % len(tables)], k // len(tables) + 1))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "ibftkit.cli.main", "decode", "--format", "json", tmp],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
            rates.append(n / (time.perf_counter() - start))
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            if r.returncode not in (0, 1):
                raise SystemExit(f"decode failed: {r.stderr.strip()}")
    return rates, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--repeat", type=int, default=200, help="calls per timing")
    ap.add_argument("--rounds", type=int, default=7, help="alternating timings per table (median)")
    ap.add_argument("--fleet", type=int, default=20000, help="tables in the fleet run (0: skip it)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    tables = sorted((ROOT / "fixtures" / "ibft").glob("*.bin"))
    tables += sorted((ROOT / "fixtures" / "ibft" / "samples").glob("*.bin"))
    tables = [t for t in tables if not t.name.startswith("broken-")]
    print(f"# {load()}, {os.cpu_count()} cores")
    print(f"{'table':<34} {'bytes':>5} {'construct µs':>12} {'ibftkit µs':>10} {'struct µs':>10} {'ratio':>6}")
    ratios = []
    for t in tables:
        data = t.read_bytes()
        ref = statistics.median(timed(construct_decode, data, max(1, args.repeat // 10)) for _ in range(3))
        ours, base = [], []
        for _ in range(args.rounds):
            ours.append(timed(cold_decode, data, args.repeat))
            base.append(timed(baseline, data, args.repeat))
        mine, theirs = statistics.median(ours), statistics.median(base)
        ratios.append(mine / theirs)
        print(f"{t.name:<34} {len(data):>5} {ref * 1e6:>12.1f} {mine * 1e6:>10.1f} {theirs * 1e6:>10.1f} "
              f"{mine / theirs:>5.1f}×")
    print(f"per table, ibftkit/struct: median {statistics.median(ratios):.1f}× (goal ≤ 10×; max "
          f"{max(ratios):.1f}×) over {len(ratios)} tables; {load()}")
    if args.fleet:
        rates, cpu = fleet(args.fleet, args.runs)
        print(f"fleet, ibftkit decode --format json DIR over {args.fleet} tables on {os.cpu_count()} cores: "
              f"median {statistics.median(rates):,.0f} tables/s (goal ≥ 10,000; runs: "
              f"{', '.join(f'{r:,.0f}' for r in rates)}); {load()}")
        print(f"fleet CPU time (user + system, command and workers): median {statistics.median(cpu):.2f} s, "
              f"{statistics.median(cpu) * 1e6 / args.fleet:.0f} µs a table (wall time is this over the cores "
              f"the other work on the machine leaves free)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
