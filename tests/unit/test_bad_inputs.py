"""Bad input: each case with its tested one-line message and exit status, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibftkit.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "fixtures" / "ibft" / "ibftkit-chap.bin").read_bytes()
LENGTH = len(GOOD)


def fix_checksum(data: bytearray) -> bytes:
    data[9] = (data[9] - sum(data)) & 0xFF
    return bytes(data)


def patched(offset: int, value: bytes, *, checksum: bool = True) -> bytes:
    data = bytearray(GOOD)
    data[offset:offset + len(value)] = value
    return fix_checksum(data) if checksum else bytes(data)


def u16(v: int) -> bytes:
    return v.to_bytes(2, "little")


NIC0 = int.from_bytes(GOOD[0x3A:0x3C], "little")
TGT0 = int.from_bytes(GOOD[0x3C:0x3E], "little")
INIT = int.from_bytes(GOOD[0x38:0x3A], "little")
HEAP = int.from_bytes(GOOD[INIT + 72:INIT + 74], "little")  # initiator name offset

# (case, table bytes, exit status, message fragment on stderr)
CASES = [
    ("random bytes", bytes(range(7, 250, 3)) * 4, 1, "is not an iBFT (expected iBFT, IBFT or BIFT)"),
    ("header only partly there", GOOD[:20], 1, "table truncated inside its 48-byte header (20 bytes)"),
    ("length field too small", patched(4, (40).to_bytes(4, "little")), 1,
     "header.length at 0x4: length 40 is too small"),
    ("control id wrong", patched(0x30, b"\x07"), 1, "control.id at 0x30: structure id 7 (expected 1, control)"),
    ("control too short", patched(0x32, u16(10)), 1, "control.length at 0x32: length 10 (expected at least 18)"),
    ("control runs past the end", patched(0x32, u16(0xFFF0)), 1, "runs past the end of the table"),
    ("NIC offset past the end", patched(0x3A, u16(0xFFF0)), 1,
     "control.nic0_off at 0x3a: offset 0xfff0 lies outside the table"),
    ("target offset into the header", patched(0x3C, u16(0x10)), 1,
     "control.target0_off at 0x3c: offset 0x10 lies outside the table"),
    ("target name past the end", patched(TGT0 + 36, u16(LENGTH - 2)), 1,
     f"target[0].name at 0x{TGT0 + 34:x}: string at 0x{LENGTH - 2:x}+"),
    ("CHAP secret length past the end", patched(TGT0 + 42, u16(0x7000)), 1,
     f"target[0].chap_secret at 0x{TGT0 + 42:x}: string at"),
    ("initiator name past the end", patched(INIT + 70, u16(0x1000)), 1, "initiator.name at"),
]

# (case, bytes, fragment of the warning) — decoded with exit 0, and exit 1 under --strict.
WARNINGS = [
    ("bad checksum", patched(9, bytes([GOOD[9] ^ 0x55]), checksum=False),
     "header.checksum at 0x9: checksum"),
    ("revision 2", patched(8, b"\x02"), "revision 2 (expected 1; Linux rejects others)"),
    ("unknown structure id", patched(NIC0, b"\x09"), "has id 9 (unknown); skipped"),
    ("NIC longer than 102", patched(NIC0 + 2, u16(104)), "length 104 (expected 102); read as 102 bytes"),
    ("NIC shorter than 102", patched(NIC0 + 2, u16(50)), "length 50 (expected 102); read as 102 bytes; Linux ignores"),
    ("two slots, one structure", patched(0x3E, GOOD[0x3A:0x3C]), "already given by nic0_off; read once"),
    ("origin 15", patched(NIC0 + 23, b"\x0f"), "origin 15 (iPXE's constant for 'unchanged') read as 16"),
    ("origin 9", patched(NIC0 + 23, b"\x09"), "origin 9 is unknown"),
    ("prefix 40 on IPv4", patched(NIC0 + 22, b"\x28"), "prefix_len 40 (expected 0..32 for IPv4)"),
    ("nic_assoc to nowhere", patched(TGT0 + 33, b"\x05"), "nic_assoc 5 names no NIC"),
    ("target flags 0", patched(TGT0 + 5, b"\x00"), "flags 0: open-iscsi ignores this target"),
    ("string without NUL", patched(TGT0 + 34, u16(int.from_bytes(GOOD[TGT0 + 34:TGT0 + 36], "little") - 1)),
     "is not followed by a NUL"),
    ("control index 1", patched(0x34, b"\x01"), "index 1 (expected 0; Linux rejects the table)"),
    ("IBFT signature", patched(0, b"IBFT"), "signature IBFT: Linux finds it only through ACPI"),
]


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, *args: str) -> tuple[int, str, str]:
    f = tmp_path / "table.bin"
    f.write_bytes(data)
    rc = main(["decode", str(f), *args])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize(("case", "data", "status", "message"), CASES, ids=[c[0] for c in CASES])
def test_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, data: bytes,
                status: int, message: str) -> None:
    rc, out, err = run(tmp_path, capsys, data)
    assert rc == status
    assert message in err
    assert "Traceback" not in err and out == ""
    assert len([line for line in err.splitlines() if not line.startswith("ibftkit: hint:")]) == 1


@pytest.mark.parametrize(("case", "data", "message"), WARNINGS, ids=[c[0] for c in WARNINGS])
def test_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, data: bytes,
                  message: str) -> None:
    rc, out, err = run(tmp_path, capsys, data)
    assert rc == 0 and message in out and "warnings (" in out
    rc, out, err = run(tmp_path, capsys, data, "--strict")
    assert rc == 1 and err.startswith("ibftkit: ") and "strict: " in err


@pytest.mark.parametrize("cut", sorted({1, 4, 9, 24, 47, 48, 0x30 + 18, INIT, NIC0, TGT0, NIC0 + 50,
                                        TGT0 + 20, HEAP, LENGTH - 1}))
def test_truncated_at_every_structure_boundary(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               cut: int) -> None:
    rc, out, err = run(tmp_path, capsys, GOOD[:cut])
    assert rc == 1 and out == ""
    if cut < 4:
        assert "is not an iBFT" in err
    elif cut < 48:
        assert "truncated inside its 48-byte header" in err
    else:
        assert f"length {LENGTH} but only {cut} bytes are present (truncated table)" in err


def test_memory_image_without_scan_has_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(tmp_path, capsys, bytes(0x40) + GOOD)
    assert rc == 1 and "one is at offset 0x40" in err and "hint: this looks like a memory image: add --scan" in err


@pytest.mark.parametrize("args", [["decode", "--format", "xml"], ["decode", "--bogus"], ["encode", "x.json"],
                                  ["nosuchcommand"], ["decode", "--scan"]])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("ibftkit: ") and "Traceback" not in err
