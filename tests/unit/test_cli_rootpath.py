"""``ibftkit rootpath``: the Interface the issue fixes (JSON keys, exit codes, one-line errors)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ibftkit.cli.main import main

IQN = "iqn.2009-06.com.example:target0"
CASES = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "rootpath" / "cases.json")
                   .read_text(encoding="utf-8"))["cases"]
KEYS = ["server", "server_kind", "protocol", "port", "lun", "lun_text", "target", "needs_discovery", "warnings"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["rootpath", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_object_exactly(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "--json", f"iscsi:[2001:DB8::1]::3261:1-7:{IQN}")
    assert rc == 0 and err == ""
    data = json.loads(out)
    assert list(data) == KEYS
    assert data == {"server": "2001:db8::1", "server_kind": "ipv6", "protocol": 6, "port": 3261,
                    "lun": 0x70001, "lun_text": "1-7", "target": IQN, "needs_discovery": False,
                    "warnings": data["warnings"]}
    assert len(data["warnings"]) == 1 and "hexadecimal" in data["warnings"][0]


def test_json_discovery(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "--json", f"iscsi:::::{IQN}")
    data = json.loads(out)
    assert rc == 0 and data["server"] is None and data["server_kind"] is None and data["needs_discovery"] is True


@pytest.mark.parametrize("case", [c for c in CASES if "expect" in c][::4], ids=lambda c: c["id"])
def test_json_matches_vectors(capsys: pytest.CaptureFixture[str], case: dict[str, Any]) -> None:
    rc, out, err = run(capsys, "--json", "--dialect", case["dialect"], "--", case["input"])
    assert rc == 0
    data = json.loads(out)
    expect = dict(case["expect"])
    assert len(data.pop("warnings")) == len(expect.pop("warnings"))
    assert data == expect


@pytest.mark.parametrize("case", [c for c in CASES if "error" in c][::3], ids=lambda c: c["id"])
def test_invalid_is_exit_1_one_line_naming_the_field(capsys: pytest.CaptureFixture[str], case: dict[str, Any]) -> None:
    rc, out, err = run(capsys, "--json", "--dialect", case["dialect"], "--", case["input"])
    assert rc == 1 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"ibftkit: root path {case['error']}: ")
    assert "Traceback" not in err


def test_human_summary(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "--dialect", "dracut",
                       f"iscsi:alice:correct-horse-1@192.0.2.1:::if0:eth0:a:{IQN}")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    labels = [line.split("  ")[0] for line in lines]
    assert labels[:5] == ["server", "protocol", "port", "lun", "target"]
    col = {line.index("  ") + len(line[line.index("  "):]) - len(line[line.index("  "):].lstrip()) for line in lines}
    assert len(col) == 1  # aligned
    assert "192.0.2.1 (ipv4)" in out and "Linux LUN 10" in out and "by-path lun-10" in out
    assert "user alice, secret <redacted>" in out and "correct-horse-1" not in out
    assert any(line.startswith("warning") for line in lines)


def test_secrets_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    text = f"iscsi:alice:correct-horse-1:bob:staple-battery-2@192.0.2.1::::{IQN}"
    for argv in (["--dialect", "dracut", text], ["--json", "--dialect", "dracut", text], [text], ["--json", text]):
        _, out, err = run(capsys, *argv)
        assert "correct-horse-1" not in out + err and "staple-battery-2" not in out + err


@pytest.mark.parametrize("argv", [[], ["--dialect", "ipxe", f"iscsi:1.2.3.4::::{IQN}"], ["a", "b"],
                                  ["--bogus", f"iscsi:1.2.3.4::::{IQN}"], ["-x"]])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == "" and err.startswith("ibftkit: ") and "Traceback" not in err


def test_values_with_spaces_and_leading_dash_after_double_dash(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "--json", "--", f"  iscsi:10.0.0.1::::{IQN} ")
    assert rc == 0 and json.loads(out)["target"] == IQN
    rc, _, err = run(capsys, "--", f"-iscsi:10.0.0.1::::{IQN}")
    assert rc == 1 and err.startswith("ibftkit: root path scheme: ")


@pytest.mark.allow_subprocess
def test_real_process() -> None:
    """The installed entry point, as a user runs it: exit codes and streams."""
    exe = [sys.executable, "-m", "ibftkit.cli.main", "rootpath"]
    ok = subprocess.run([*exe, "--json", f"iscsi:10.0.0.1:::40:{IQN}"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["lun"] == 64
    bad = subprocess.run([*exe, f"iscsi:10.0.0.1::::0x10:{IQN}"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("ibftkit: root path target: ") and bad.stderr.count("\n") == 1
    usage = subprocess.run([*exe], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
