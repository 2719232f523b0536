"""``ibftkit encode``: a model that describes no boot is refused with what is missing and nothing
written (an existing OUT left as it was); a model that does describe one is written with the
warnings ``ibftkit decode`` gives for the table (``ibftkit.cli.encode``)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from ibftkit.cli.main import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ibft"
MODELS = sorted(FIXTURES.glob("*.model.json"))
NIC = {"index": 0, "mac": "52:54:00:12:34:56", "ip_address": "192.0.2.2", "prefix_len": 24}
TARGET = {"index": 0, "ip_address": "192.0.2.1", "name": "iqn.2026-11.org.example:disk"}
INITIATOR = {"name": "iqn.2026-11.org.example:host"}


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def encode(tmp_path: Path, model: dict[str, Any]) -> tuple[int, str, Path]:
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model))
    out = tmp_path / "out.bin"
    code, stdout, err = run(["encode", str(path), "-o", str(out)])
    assert stdout == "" and "Traceback" not in err
    return code, err, out


# (case, model, what the one line says is missing)
NO_BOOT = [
    ("empty object", {}, "no NIC (decode warns 'control: no NIC structure'); no target (decode warns "
                         "'control: no target structure')"),
    ("initiator only", {"initiator": INITIATOR}, "no NIC (decode warns"),
    ("NIC only", {"initiator": INITIATOR, "nics": [NIC]}, "no target (decode warns 'control: no target structure')"),
    ("target only", {"initiator": INITIATOR, "targets": [TARGET]}, "no NIC (decode warns"),
    ("target without a name", {"nics": [NIC], "targets": [{**TARGET, "name": None}]}, "target[0]: no target name"),
    ("target without an address", {"nics": [NIC], "targets": [{**TARGET, "ip_address": None}]},
     "target[0]: no address"),
    ("target with neither", {"nics": [NIC], "targets": [{"index": 0}]}, "target[0]: no target name, no address"),
    ("target with flags 0", {"nics": [NIC], "targets": [{**TARGET, "flags": 0}]}, "target[0]: not valid (flags 0)"),
    ("target on a NIC that is not there", {"nics": [NIC], "targets": [{**TARGET, "nic_index": 1}]},
     "target[0]: nic_assoc 1 names no NIC"),
    ("two targets, neither usable", {"nics": [NIC], "targets": [{**TARGET, "name": None},
                                                                {**TARGET, "index": 1, "ip_address": None}]},
     "target[0]: no target name; target[1]: no address"),
]


@pytest.mark.parametrize(("case", "model", "missing"), NO_BOOT, ids=[c[0] for c in NO_BOOT])
def test_a_model_that_describes_no_boot_is_refused_and_nothing_written(tmp_path: Path, case: str,
                                                                       model: dict[str, Any], missing: str) -> None:
    code, err, out = encode(tmp_path, model)
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith(f"ibftkit: {tmp_path / 'model.json'}: describes no boot: {missing}")
    assert line.endswith("; nothing written")
    assert not out.exists()


def test_a_refused_model_leaves_an_existing_output_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    out.write_bytes(b"the table of yesterday")
    code, _, _ = encode(tmp_path, {})
    assert code == 1 and out.read_bytes() == b"the table of yesterday"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "out.bin"]  # no temporary left


# (case, model, a warning it is written with)
WARNED = [
    ("no initiator", {"nics": [NIC], "targets": [TARGET]}, "control: no initiator structure"),
    ("initiator without a name", {"initiator": {}, "nics": [NIC], "targets": [TARGET]}, "no initiator name"),
    ("one usable target of two", {"initiator": INITIATOR, "nics": [NIC],
                                  "targets": [TARGET, {**TARGET, "index": 1, "name": None}]}, "no target name"),
    ("no boot-selected target", {"initiator": INITIATOR, "nics": [NIC], "targets": [{**TARGET, "flags": 1}]},
     "no target has the boot-selected flag"),
]


@pytest.mark.parametrize(("case", "model", "warning"), WARNED, ids=[c[0] for c in WARNED])
def test_a_model_with_a_boot_is_written_with_the_decoders_warnings(tmp_path: Path, case: str,
                                                                   model: dict[str, Any], warning: str) -> None:
    code, err, out = encode(tmp_path, model)
    assert code == 0 and out.exists(), err
    lines = err.splitlines()
    assert lines[-1].startswith(f"wrote {out}: ")
    assert any(line.startswith(f"ibftkit: warning: {out}: ") and warning in line for line in lines), err
    code, decoded, _ = run(["decode", str(out)])
    assert code == 0 and warning in decoded  # the same words decode gives


@pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])
def test_every_fixture_model_encodes_with_exactly_the_warnings_decode_gives(tmp_path: Path, model: Path) -> None:
    out = tmp_path / "out.bin"
    code, _, err = run(["encode", str(model), "-o", str(out)])
    assert code == 0, err
    warned = [line.split(f"{out}: ", 1)[1] for line in err.splitlines() if line.startswith("ibftkit: warning: ")
              and f"{out}: " in line]
    code, decoded, _ = run(["decode", "--format", "json", str(out)])
    assert code == 0 and warned == json.loads(decoded)["warnings"]
