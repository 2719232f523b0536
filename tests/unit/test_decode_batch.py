"""Batch decoding (``ibftkit decode --format json PATH…``) and the flat ``struct`` parsers.

The decoder unpacks each structure with one ``struct.Struct`` derived from the construct layout
(``flat_layout``, generated into ``flat.py``: it must be what ``layout.py`` gives today); it must
be construct's own parse, result for result and message for message: every fixture table and a few
thousand mutated ones (the fuzz test's mutations) are decoded both ways. A batch line
must be the single decode of that file, error for error.
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
from ibftkit.sources.ibft.locate import load_path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "ibft"


def _outcome(data: bytes, strict: bool = False) -> BootConfig | str:
    try:
        return D.decode_table(data, source="x", strict=strict)
    except IbftkitError as e:
        return f"{type(e).__name__}: {e}"




def _construct_outcome(data: bytes, strict: bool = False) -> BootConfig | str:
    try:
        return D.decode_table_construct(data, source="x", strict=strict)
    except IbftkitError as e:
        return f"{type(e).__name__}: {e}"


def _mutated(n: int) -> list[bytes]:
    rng = random.Random(17)
    corpus = seeds()
    return corpus + [mutate(rng, rng.choice(corpus)) for _ in range(n)]


def test_flat_struct_parsers_decode_exactly_as_construct() -> None:
    inputs = _mutated(2000)
    D.clear_caches()
    reference = [(_construct_outcome(d), _construct_outcome(d, strict=True)) for d in inputs]
    flat = [(_outcome(d), _outcome(d, strict=True)) for d in inputs]
    assert flat == reference
    # origin_byte is not compared by ==: compare it too
    assert [[n.origin_byte for n in a.nics] for a, _ in flat if not isinstance(a, str)] == \
        [[n.origin_byte for n in a.nics] for a, _ in reference if not isinstance(a, str)]
    assert any(isinstance(a, str) for a, _ in flat) and any(not isinstance(a, str) for a, _ in flat)


def test_flat_layout_is_the_construct_layout() -> None:
    from construct import Int8ul, Struct, VarInt

    from ibftkit.sources.ibft import layout as L

    for layout in (L.Header, L.StructHeader, L.Control, *L.LAYOUTS.values()):
        flat, names = L.flat_layout(layout)
        assert flat.size == layout.sizeof() and len(names) == len(flat.unpack(bytes(flat.size)))
    assert L.flat_layout(L.StructHeader)[1] == ("id", "version", "length", "index", "flags")
    with pytest.raises(TypeError, match="no fixed struct format"):
        L.flat_layout(Struct("a" / Int8ul, "b" / VarInt))


def test_the_generated_flat_module_is_what_the_layout_gives() -> None:
    """``flat.py`` is generated (``python3 -m ibftkit.sources.ibft.layout --write-flat``): byte for
    byte what ``render_flat`` writes from the construct declarations, so the decoder, which reads it
    without construct, reads the layout that ``layout.py`` declares; the sizes in ``spec.py`` are
    the layouts' own."""
    from ibftkit.sources.ibft import flat as F
    from ibftkit.sources.ibft import layout as L
    from ibftkit.sources.ibft import spec as S

    assert Path(F.__file__).read_text() == L.render_flat(), \
        "ibftkit/sources/ibft/flat.py is stale: run python3 -m ibftkit.sources.ibft.layout --write-flat"
    for name, (fmt, names) in F.FLAT.items():
        flat, want = L.flat_layout(getattr(L, name))
        assert (fmt, names) == (flat.format, want)
    assert {sid: getattr(L, name) for sid, name in F.BY_ID.items()} == L.LAYOUTS
    assert (S.HEADER_SIZE, S.STRUCT_HEADER_SIZE, S.CONTROL_SIZE) == \
        (L.Header.sizeof(), L.StructHeader.sizeof(), L.Control.sizeof())
    assert S.STRUCT_SIZES == {sid: layout.sizeof() for sid, layout in L.LAYOUTS.items()}
    assert S.CHECKSUM_OFFSET == 9 and S.FIRST_SLOT_OFFSET == S.CONTROL_OFFSET + 8
    assert S.CONTROL_SLOT_NAMES == F.FLAT["Control"][1][-5:]


def test_a_boots_light_records_read_as_the_batchs_namedtuples() -> None:
    """One decode reads each structure through a light record type (``_light_record``), a batch
    through namedtuples (``prepare_for_batch``): the same field, the same value, for every layout."""
    from ibftkit.sources.ibft import flat as F

    for name, (_fmt, fields) in F.FLAT.items():
        values = tuple(range(len(fields)))
        light = tuple.__new__(D._light_record(name, fields), values)
        batch = tuple.__new__(D._batch_record(type(light)), values)
        assert hasattr(batch, "_make") and type(batch)._fields == fields and type(batch).__name__ == name
        assert [getattr(light, f) for f in fields] == [getattr(batch, f) for f in fields] == list(values)
        assert light == batch == values
    D.prepare_for_batch()
    assert all(hasattr(rec, "_make") for _, rec in D._FLAT.values()) and hasattr(D._HeaderRec, "_make")


def test_checksum_is_the_byte_sum() -> None:
    D.prepare_for_batch()
    for data in (b"", bytes(255), b"\xff" * 256, b"\xff" * 257, bytes(range(256)) * 9, *seeds()):
        assert D._adler_byte_sum(data) == sum(data)
        assert D.checksum_of(data) == sum(data) & 0xFF


def test_batch_lines_are_the_single_decodes(tmp_path: Path) -> None:
    inputs = _mutated(2000)
    paths = []
    for k, data in enumerate(inputs):
        paths.append(str(tmp_path / f"{k:05d}.bin"))
        Path(paths[-1]).write_bytes(data)
    paths.append(str(tmp_path / "missing.bin"))
    out = io.StringIO()
    total, failed = run_batch([str(tmp_path), paths[-1]], Job(False, False, True), jobs=1, out=out)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert total == len(paths) and [x["path"] for x in lines] == paths
    for path, line in zip(paths, lines, strict=True):
        try:  # what 'ibftkit decode PATH' decodes, or its one-line error
            want = {"path": path, "ok": True, "model": config_to_dict(load_path(path), show_secrets=True)}
        except IbftkitError as e:
            want = {"path": path, "ok": False, "error": str(e)}
        assert line == json.loads(json.dumps(want))
    assert failed == sum(not x["ok"] for x in lines) > 0


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
