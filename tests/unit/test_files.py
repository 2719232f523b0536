"""``ibftkit.infra.files.write_atomic``: all or nothing, mode exactly as asked whatever the umask,
and ``ibftkit encode -o`` writing its table mode 0644 (a table holds nothing secret)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibftkit.cli.main import main
from ibftkit.infra.files import PUBLIC, SECRET, write_atomic

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=[0o022, 0o077, 0o000], ids=["umask022", "umask077", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_public_and_secret_modes_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    write_atomic(tmp_path / "table.bin", b"\x01\x02")
    write_atomic(tmp_path / "node", "node.session.auth.password = x\n", mode=SECRET)
    assert (mode(tmp_path / "table.bin"), mode(tmp_path / "node")) == (PUBLIC, SECRET) == (0o644, 0o600)
    assert (tmp_path / "table.bin").read_bytes() == b"\x01\x02"


def test_replaces_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "resolv.conf"
    target.write_text("old\n")
    os.chmod(target, 0o600)
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n" and mode(target) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resolv.conf"]


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x"
    target.write_text("old")

    def fail(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, "new")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["x"]


def test_missing_directory_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "no" / "such", b"")


def test_encode_output_is_mode_0644_with_umask_022(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--format", "json", "--show-secrets", str(ROOT / "fixtures/ibft/ibftkit-chap.bin")]) == 0
    model = tmp_path / "model.json"
    model.write_text(capsys.readouterr().out)
    json.loads(model.read_text())
    out = tmp_path / "table.bin"
    old = os.umask(0o022)
    try:
        assert main(["encode", str(model), "-o", str(out)]) == 0
    finally:
        os.umask(old)
    assert mode(out) == 0o644 and out.stat().st_size > 48
