#!/usr/bin/env python3
"""Decode time per table: ibftkit's decoder (construct, with validation) against a plain
``struct.unpack_from`` parser of the same fields (no validation, no model), measured in the same run.

Usage: python3 bench/decode.py [--repeat N]
Prints one row per table and the ratio ibftkit / baseline. There is no pass/fail: a human reads it.
"""

from __future__ import annotations

import argparse
import ipaddress
import statistics
import struct
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=300)
    args = ap.parse_args()
    tables = sorted((ROOT / "fixtures" / "ibft").glob("*.bin"))
    tables += sorted((ROOT / "fixtures" / "ibft" / "samples").glob("*.bin"))
    tables = [t for t in tables if not t.name.startswith("broken-")]
    print(f"{'table':<34} {'bytes':>5} {'ibftkit µs':>11} {'struct µs':>10} {'ratio':>6}")
    ratios = []
    for t in tables:
        data = t.read_bytes()
        ours = per_call(decode_table, data, args.repeat)
        base = per_call(baseline, data, args.repeat)
        ratios.append(ours / base)
        print(f"{t.name:<34} {len(data):>5} {ours * 1e6:>11.1f} {base * 1e6:>10.1f} {ours / base:>5.1f}×")
    print(f"median ratio ibftkit/struct: {statistics.median(ratios):.1f}× over {len(ratios)} tables "
          "(ibftkit also validates every offset and string and builds the typed model)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
