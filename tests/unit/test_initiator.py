"""Initiator-name resolution: option 203, then the kernel command line, then initiatorname.iscsi."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibftkit.infra.errors import IscsiNameError
from ibftkit.sources.initiator import name_from_cmdline, name_from_file, resolve_initiator_name, split_cmdline

A = "iqn.2001-04.com.example:from-dhcp"
B = "iqn.2001-04.com.example:from-cmdline"
C = "iqn.2001-04.com.example:from-file"


@pytest.fixture
def name_file(tmp_path: Path) -> Path:
    path = tmp_path / "initiatorname.iscsi"
    path.write_text(f"## DO NOT EDIT OR REMOVE THIS FILE!\n# InitiatorName=iqn.commented:out\nInitiatorName={C}\n")
    return path


def test_option_203_wins(name_file: Path) -> None:
    got = resolve_initiator_name(A, cmdline=f"rd.iscsi.initiator={B}", initiatorname_path=name_file)
    assert (got.name, got.source, got.warnings) == (A, "dhcp-option-203", ())


def test_option_203_bytes_with_trailing_nul(name_file: Path) -> None:
    got = resolve_initiator_name(A.encode() + b"\x00", cmdline="", initiatorname_path=name_file)
    assert got.name == A


def test_option_203_not_ascii_is_an_error(name_file: Path) -> None:
    with pytest.raises(IscsiNameError, match="option 203"):
        resolve_initiator_name(b"iqn.2001-04.com.example:\xff", cmdline="", initiatorname_path=name_file)


def test_empty_option_203_falls_through_with_a_warning(name_file: Path) -> None:
    got = resolve_initiator_name(b"\x00", cmdline=f"quiet iscsi_initiator={B}", initiatorname_path=name_file)
    assert (got.name, got.source) == (B, "cmdline:iscsi_initiator")
    assert any("203" in w for w in got.warnings)


def test_invalid_option_203_is_an_error_not_a_fallback(name_file: Path) -> None:
    with pytest.raises(IscsiNameError, match="DHCP option 203"):
        resolve_initiator_name("not an iqn", cmdline=f"rd.iscsi.initiator={B}", initiatorname_path=name_file)


@pytest.mark.parametrize(("cmdline", "source"), [
    (f"BOOT_IMAGE=/vmlinuz root=/dev/sda1 rd.iscsi.initiator={B} quiet", "cmdline:rd.iscsi.initiator"),
    (f"iscsi_initiator={B}", "cmdline:iscsi_initiator"),
    (f"ibftkit.initiator={B}", "cmdline:ibftkit.initiator"),
    (f"iscsi_initiator=iqn.2001-04.com.example:legacy rd.iscsi.initiator={B}", "cmdline:rd.iscsi.initiator"),
    (f"rd.iscsi.initiator=iqn.2001-04.com.example:dracut ibftkit.initiator={B}", "cmdline:ibftkit.initiator"),
    (f'"rd.iscsi.initiator={B}"', "cmdline:rd.iscsi.initiator"),
    (f'rd.iscsi.initiator="{B}"', "cmdline:rd.iscsi.initiator"),
])
def test_cmdline_keys_and_precedence(name_file: Path, cmdline: str, source: str) -> None:
    got = resolve_initiator_name(None, cmdline=cmdline, initiatorname_path=name_file)
    assert (got.name, got.source) == (B, source)


def test_cmdline_last_occurrence_wins_with_warning() -> None:
    found = name_from_cmdline(f"rd.iscsi.initiator=iqn.2001-04.com.example:first rd.iscsi.initiator={B}")
    assert found is not None
    name, key, warnings = found
    assert (name, key) == (B, "rd.iscsi.initiator") and "last wins" in warnings[0]


def test_cmdline_ignores_empty_and_bare_keys() -> None:
    assert name_from_cmdline("rd.iscsi.initiator= rd.iscsi.initiator iscsi_initiator") is None
    assert name_from_cmdline("xrd.iscsi.initiator=iqn.2001-04.com.example:x") is None


def test_split_cmdline_quotes() -> None:
    assert split_cmdline('a=1  b="x y" "c=p q" flag\n') == [("a", "1"), ("b", "x y"), ("c", "p q"), ("flag", None)]
    assert split_cmdline("") == []
    assert split_cmdline('e=""') == [("e", "")]


def test_invalid_cmdline_name_names_the_key(name_file: Path) -> None:
    with pytest.raises(IscsiNameError, match=r"rd\.iscsi\.initiator="):
        resolve_initiator_name(None, cmdline="rd.iscsi.initiator=iqn.2015-1.bad:x", initiatorname_path=name_file)


def test_file_is_the_last_source(name_file: Path) -> None:
    got = resolve_initiator_name(None, cmdline="quiet splash", initiatorname_path=name_file)
    assert (got.name, got.source) == (C, f"file:{name_file}")


def test_file_name_is_folded_with_warning(tmp_path: Path) -> None:
    path = tmp_path / "initiatorname.iscsi"
    path.write_text("InitiatorName = IQN.1993-08.org.debian:01:ABCDEF \n")
    got = resolve_initiator_name(None, cmdline="", initiatorname_path=path)
    assert got.name == "iqn.1993-08.org.debian:01:abcdef"
    assert any("case folding" in w for w in got.warnings)


def test_generate_name_placeholder_warns(tmp_path: Path) -> None:
    path = tmp_path / "initiatorname.iscsi"
    path.write_text("GenerateName=yes\n")
    got = resolve_initiator_name(None, cmdline="", initiatorname_path=path)
    assert got.name is None and got.source == "none"
    assert any("GenerateName" in w for w in got.warnings)


def test_nothing_anywhere(tmp_path: Path) -> None:
    got = resolve_initiator_name(None, cmdline="", initiatorname_path=tmp_path / "missing")
    assert (got.name, got.source, got.warnings) == (None, "none", ())


def test_unreadable_file_is_a_warning(tmp_path: Path) -> None:
    got = resolve_initiator_name(None, cmdline="", initiatorname_path=tmp_path)  # a directory
    assert got.name is None and got.warnings and "cannot read" in got.warnings[0]


def test_cmdline_read_from_path(tmp_path: Path, name_file: Path) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_text(f"ro ibftkit.initiator={B}\n")
    got = resolve_initiator_name(None, cmdline_path=cmdline, initiatorname_path=name_file)
    assert got.name == B
    got = resolve_initiator_name(None, cmdline_path=tmp_path / "none", initiatorname_path=name_file)
    assert got.name == C


def test_name_from_file_last_line_wins() -> None:
    assert name_from_file(f"InitiatorName={B}\nInitiatorName={C}\nInitiatorAlias=host\n") == (C, ())
    assert name_from_file("") == (None, ())
