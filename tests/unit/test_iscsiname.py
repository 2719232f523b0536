"""iSCSI names: RFC 3720 §3.2.6 forms, RFC 3722 stringprep, the 223-byte limit, comparison."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibftkit.infra.errors import IscsiNameError
from ibftkit.iscsiname import MAX_NAME_BYTES, iscsi_names_equal, prepare_iscsi_name, validate_iscsi_name


@pytest.mark.parametrize(("name", "folded"), [
    ("iqn.2001-04.com.example:storage:diskarrays-sn-a8675309",
     "iqn.2001-04.com.example:storage:diskarrays-sn-a8675309"),
    ("iqn.2001-04.com.example", "iqn.2001-04.com.example"),
    ("iqn.2001-04.com.example.storage.tape1.sys1.xyz", "iqn.2001-04.com.example.storage.tape1.sys1.xyz"),
    ("iqn.1986-03.com.sun:02:e9abf4cd-7e25", "iqn.1986-03.com.sun:02:e9abf4cd-7e25"),
    ("iqn.2010-04.org.ipxe:00000000-0000-0000-0000-000000000000",
     "iqn.2010-04.org.ipxe:00000000-0000-0000-0000-000000000000"),
    ("iqn.2009-06.dracut:target0", "iqn.2009-06.dracut:target0"),
    ("IQN.2001-04.COM.EXAMPLE:Disk", "iqn.2001-04.com.example:disk"),
    ("eui.02004567A425678D", "eui.02004567a425678d"),
    ("naa.52004567BA64678D", "naa.52004567ba64678d"),
    ("naa.62004567BA64678D0123456789ABCDEF", "naa.62004567ba64678d0123456789abcdef"),
    ("iqn.2001-04.com.example:ディスク", "iqn.2001-04.com.example:ディスク"),
    ("iqn.2001-04.com.example:ＤＩＳＫ", "iqn.2001-04.com.example:disk"),        # NFKC, then folded
    ("iqn.2001-04.com.example:stra\u00dfe", "iqn.2001-04.com.example:strasse"),  # B.2 maps ß to ss
    ("iqn.2001-04.com.example:dis\u00adk", "iqn.2001-04.com.example:disk"),      # B.1 soft hyphen
    ("iqn.2001-04.com.example:\u00c5", "iqn.2001-04.com.example:\u00e5"),
])
def test_valid_names_fold(name: str, folded: str) -> None:
    assert validate_iscsi_name(name) == folded


@pytest.mark.parametrize(("name", "reason"), [
    ("", "empty"),
    ("tgt:1:2", "no known type"),
    ("iscsi.2001-04.com.example", "no known type"),
    ("iqn.2015-1.workgroup:host", "2-digit month"),
    ("iqn.2015-00.com.example", "month 00"),
    ("iqn.2015-13.com.example", "month 13"),
    ("iqn.15-01.com.example", "4-digit year"),
    ("iqn.2001-04", "iqn.YYYY-MM"),
    ("iqn.2001-04.", "empty label"),
    ("iqn.2001-04.:x", "empty label"),
    ("iqn.2001-04.com..example", "empty label"),
    ("iqn.2001-04.com.example.:x", "empty label"),
    ("eui.0123", "16"),
    ("eui.0123456789abcdefa", "16"),
    ("eui.0123456789abcdeg", "16"),
    ("naa.0123", "16 or 32"),
    ("naa.0123456789abcdef0123", "16 or 32"),
    ("iqn.2001-04.com.example:a b", "U+0020"),
    ("iqn.2001-04.com.example:a_b", "U+005F"),
    ("iqn.2001-04.com.example:a/b", "U+002F"),
    ("iqn.2001-04.com.example:a@b", "U+0040"),
    ("iqn.2001-04.com.example:a\x00", "U+0000"),
    ("iqn.2001-04.com.example:a\u3002b", "U+3002"),
    ("iqn.2001-04.com.example:\u2028", "U+2028"),
    ("iqn.2001-04.com.example:\ue000", "private-use"),
    ("iqn.2001-04.com.example:\ud800", "surrogate"),
    ("iqn.2001-04.com.example:\U000e0001", "U+E0001"),
    ("iqn.2001-04.com.example:\u0221", "unassigned"),   # unassigned in Unicode 3.2
    ("iqn.2001-04.com.example:\u05d0", "right-to-left"),
])
def test_invalid_names(name: str, reason: str) -> None:
    with pytest.raises(IscsiNameError) as info:
        validate_iscsi_name(name)
    message = str(info.value)
    assert reason in message
    assert "\n" not in message


def test_length_limit_is_223_bytes_of_utf8() -> None:
    prefix = "iqn.2001-04.com.example:"
    exact = prefix + "x" * (MAX_NAME_BYTES - len(prefix))
    assert validate_iscsi_name(exact) == exact
    with pytest.raises(IscsiNameError, match="224 bytes"):
        validate_iscsi_name(exact + "y")
    wide = prefix + "\u00e9" * ((MAX_NAME_BYTES - len(prefix)) // 2 + 1)  # 2 bytes each
    with pytest.raises(IscsiNameError, match="bytes"):
        validate_iscsi_name(wide)
    with pytest.raises(IscsiNameError, match="characters"):
        validate_iscsi_name(prefix + "x" * 100_000)


def test_long_name_is_shortened_in_the_message() -> None:
    with pytest.raises(IscsiNameError) as info:
        validate_iscsi_name("iqn.2001-04.com.example:" + "x" * 300)
    assert len(str(info.value)) < 250


def test_non_text_is_refused() -> None:
    with pytest.raises(IscsiNameError):
        validate_iscsi_name(b"iqn.2001-04.com.example")  # type: ignore[arg-type]


def test_comparison_after_folding() -> None:
    assert iscsi_names_equal("IQN.2001-04.com.Example:Disk", "iqn.2001-04.com.example:disk")
    assert iscsi_names_equal("eui.02004567A425678D", "eui.02004567a425678d")
    assert iscsi_names_equal("iqn.2001-04.com.example:ＤＩＳＫ", "iqn.2001-04.com.example:disk")
    assert not iscsi_names_equal("iqn.2001-04.com.example:disk1", "iqn.2001-04.com.example:disk2")
    # A name that cannot be prepared equals only itself; comparison never raises.
    assert iscsi_names_equal("bad name", "bad name")
    assert not iscsi_names_equal("bad name", "BAD NAME")


def test_prepare_does_not_check_type() -> None:
    assert prepare_iscsi_name("Whatever.Name") == "whatever.name"


@given(st.text())
def test_validate_raises_only_iscsi_name_error(text: str) -> None:
    try:
        folded = validate_iscsi_name(text)
    except IscsiNameError:
        return
    assert validate_iscsi_name(folded) == folded       # idempotent
    assert iscsi_names_equal(text, folded)
    assert len(folded.encode()) <= MAX_NAME_BYTES


@given(st.text(), st.text())
def test_equality_never_raises_and_is_symmetric(a: str, b: str) -> None:
    assert iscsi_names_equal(a, b) == iscsi_names_equal(b, a)
