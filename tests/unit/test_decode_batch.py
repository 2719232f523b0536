"""Batch decoding (``ibftkit decode --format json PATH…``) and construct's compiled parsers.

The compiled path must be the interpreted path, result for result and message for message: every
fixture table and a few thousand mutated ones (the fuzz test's mutations) are decoded both ways.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from test_ibft_fuzz import mutate, seeds

from ibftkit.cli.decode_batch import Job, expand, run_batch, wants_batch
from ibftkit.infra.errors import IbftkitError
from ibftkit.model import BootConfig
from ibftkit.model_json import config_to_dict
from ibftkit.sources.ibft import decode as D

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "ibft"


def _outcome(data: bytes, strict: bool = False) -> BootConfig | str:
    try:
        return D.decode_table(data, source="x", strict=strict)
    except IbftkitError as e:
        return f"{type(e).__name__}: {e}"




def test_compiled_parsers_decode_exactly_as_interpreted() -> None:
    rng = random.Random(17)
    corpus = seeds()
    inputs = corpus + [mutate(rng, rng.choice(corpus)) for _ in range(2000)]
    assert not D._COMPILED
    interpreted = [(_outcome(d), _outcome(d, strict=True)) for d in inputs]
    D.use_compiled_parsers()
    try:
        assert D._COMPILED
        again = [(_outcome(d), _outcome(d, strict=True)) for d in inputs]
    finally:
        D._COMPILED.clear()
    assert again == interpreted
    assert any(isinstance(a, str) for a, _ in interpreted) and any(not isinstance(a, str) for a, _ in interpreted)


def test_wants_batch_several_paths_or_a_plain_directory(tmp_path: Path) -> None:
    tree = tmp_path / "ibft"
    (tree / "initiator").mkdir(parents=True)
    assert not wants_batch([])
    assert not wants_batch([str(FIXTURES / "ipxe-bios-dhcp.bin")])
    assert not wants_batch([str(tree)])  # a /sys/firmware/ibft-shaped tree is one table
    assert wants_batch([str(tmp_path)])
    assert wants_batch([str(FIXTURES / "ipxe-bios-dhcp.bin")] * 2)


def test_expand_walks_directories_in_name_order_and_keeps_sysfs_trees(tmp_path: Path) -> None:
    (tmp_path / "b.bin").write_bytes(b"")
    (tmp_path / "a.bin").write_bytes(b"")
    (tmp_path / "sub" / "ibft" / "target0").mkdir(parents=True)
    (tmp_path / "sub" / "c.bin").write_bytes(b"")
    assert list(expand([str(tmp_path)])) == [str(tmp_path / n) for n in ("a.bin", "b.bin", "sub/c.bin", "sub/ibft")]


def test_one_line_per_input_in_order_with_the_single_decode_error(tmp_path: Path) -> None:
    good = FIXTURES / "ipxe-bios-chap.bin"
    bad = tmp_path / "bad.bin"
    bad.write_bytes(good.read_bytes()[:40])
    out = io.StringIO()
    total, failed = run_batch([str(good), str(bad), str(good)], Job(False, False, False), jobs=1, out=out)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert (total, failed) == (3, 1)
    assert [x["path"] for x in lines] == [str(good), str(bad), str(good)]
    assert [x["ok"] for x in lines] == [True, False, True]
    with pytest.raises(IbftkitError) as e:
        D.decode_table(bad.read_bytes())
    assert lines[1]["error"] == str(e.value) and "model" not in lines[1]
    model = D.decode_table(good.read_bytes(), source=f"file:{good}")
    assert lines[0]["model"] == json.loads(json.dumps(config_to_dict(model)))
    assert "<redacted>" in out.getvalue() and model.targets[0].chap_secret.reveal() not in out.getvalue()


@pytest.mark.allow_subprocess
def test_cli_decodes_a_directory_on_several_workers(tmp_path: Path) -> None:
    tables = sorted(p for p in FIXTURES.glob("*.bin"))
    for k in range(3):
        for t in tables:
            (tmp_path / f"{k}-{t.name}").write_bytes(t.read_bytes())
    r = subprocess.run([sys.executable, "-m", "ibftkit.cli.main", "decode", "--format", "json", "--jobs", "2",
                        str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert r.returncode == 0, r.stderr
    assert [x["path"] for x in lines] == [str(p) for p in sorted(tmp_path.iterdir())]
    assert all(x["ok"] for x in lines) and r.stderr == ""
    r = subprocess.run([sys.executable, "-m", "ibftkit.cli.main", "decode", str(tmp_path), str(tmp_path)],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "--format json" in r.stderr
