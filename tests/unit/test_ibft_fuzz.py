"""Mutated tables never raise anything but ibftkit's own errors (a short run; tools/fuzz-decode runs 10^6)."""

from __future__ import annotations

import random
from pathlib import Path

from ibftkit.infra.errors import IbftkitError
from ibftkit.render import render
from ibftkit.sources.ibft.decode import decode_table

ROOT = Path(__file__).resolve().parents[2]


def seeds() -> list[bytes]:
    return [p.read_bytes() for p in sorted((ROOT / "fixtures" / "ibft").glob("*.bin"))]


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        if op < 0.6 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op < 0.8 and len(b) > 60:
            pos = rng.randrange(48, len(b) - 2)  # an offset/length field somewhere
            b[pos:pos + 2] = rng.randrange(0x10000).to_bytes(2, "little")
        elif op < 0.9:
            del b[rng.randrange(len(b) + 1):]
        elif len(b) > 9:
            b[9] = (b[9] - sum(b)) & 0xFF  # keep the checksum right so deeper code runs
    return bytes(b)


def test_mutations_raise_only_ibftkit_errors() -> None:
    rng = random.Random(4173)
    corpus = seeds()
    for _ in range(3000):
        data = mutate(rng, rng.choice(corpus))
        try:
            cfg = decode_table(data)
        except IbftkitError:
            continue
        for fmt in ("text", "json", "sysfs", "iscsistart"):
            render(cfg, fmt)
