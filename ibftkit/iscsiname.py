"""iSCSI names: RFC 3720 §3.2.6 (RFC 7143 §4.2.7) forms and the RFC 3722 stringprep profile.

An iSCSI name is one of

* ``iqn.YYYY-MM.<reversed domain>[:<unique part>]`` (RFC 3720 §3.2.6.3.1; two-digit month),
* ``eui.`` followed by 16 hexadecimal digits, an EUI-64 (RFC 3720 §3.2.6.3.2),
* ``naa.`` followed by 16 or 32 hexadecimal digits, a 64- or 128-bit NAA (RFC 3980),

at most 223 bytes of UTF-8 (RFC 3720 §3.2.6.1). Names are compared after the RFC 3722 profile of
stringprep (RFC 3454): map table B.1 to nothing, case-fold with table B.2, normalise to NFKC
(Unicode 3.2), then refuse the prohibited tables C.1.1-C.9, the ASCII characters other than
``a-z 0-9 - . :`` (RFC 3722 §6.2) and U+3002, and check bidirectional text (RFC 3454 §6).
Unassigned code points (table A.1) are refused, since iSCSI names are stored strings.
"""

from __future__ import annotations

import re
import stringprep
import unicodedata

from .infra.errors import IscsiNameError

MAX_NAME_BYTES = 223
"""RFC 3720 §3.2.6.1: "iSCSI names ... up to the maximum length of 223 bytes"."""

# Work bound: anything this long cannot fold down to 223 bytes in practice.
_MAX_INPUT_CHARS = 4 * MAX_NAME_BYTES

_ASCII_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.:")
_IQN = re.compile(r"iqn\.([0-9]{4})-([0-9]{2})\.([^:]*)(?::(.*))?", re.DOTALL)
_EUI = re.compile(r"eui\.[0-9a-f]{16}")
_NAA = re.compile(r"naa\.(?:[0-9a-f]{16}|[0-9a-f]{32})")

_PROHIBITED = (
    (stringprep.in_table_c11, "a space"),
    (stringprep.in_table_c12, "a non-ASCII space"),
    (stringprep.in_table_c21, "an ASCII control character"),
    (stringprep.in_table_c22, "a non-ASCII control character"),
    (stringprep.in_table_c3, "a private-use character"),
    (stringprep.in_table_c4, "a non-character code point"),
    (stringprep.in_table_c5, "a surrogate code point"),
    (stringprep.in_table_c6, "a character inappropriate for plain text"),
    (stringprep.in_table_c7, "a character inappropriate for canonical representation"),
    (stringprep.in_table_c8, "a display-changing or deprecated character"),
    (stringprep.in_table_c9, "a tagging character"),
)


def show(text: str, limit: int = 64) -> str:
    """``text`` quoted for a one-line message: escaped, and shortened when long."""
    if len(text) > limit:
        return repr(text[:limit])[:-1] + "...'"
    return repr(text)


def _char(c: str) -> str:
    name = unicodedata.name(c, "") if not stringprep.in_table_c5(c) else ""
    return f"U+{ord(c):04X}" + (f" ({name.lower()})" if name else "")


def prepare_iscsi_name(name: str) -> str:
    """The RFC 3722 form of ``name`` (the stringprep step only, no check of the name's type).

    Raises ``IscsiNameError`` for a character the profile prohibits or for bad bidirectional text.
    """
    if not isinstance(name, str):
        raise IscsiNameError(f"iSCSI name must be text, got {type(name).__name__}")
    if len(name) > _MAX_INPUT_CHARS:
        raise IscsiNameError(f"iSCSI name {show(name)} is {len(name)} characters "
                             f"(expected at most {MAX_NAME_BYTES} bytes, RFC 3720 §3.2.6.1)")
    mapped = []
    for c in name:
        if stringprep.in_table_a1(c):
            raise IscsiNameError(f"iSCSI name {show(name)}: {_char(c)} is unassigned in Unicode 3.2 "
                                 "(RFC 3722 prohibits unassigned code points)")
        if stringprep.in_table_b1(c):
            continue
        mapped.append(stringprep.map_table_b2(c))
    prepared = unicodedata.ucd_3_2_0.normalize("NFKC", "".join(mapped))
    for c in prepared:
        if c < "\x80":
            if c not in _ASCII_ALLOWED:
                raise IscsiNameError(f"iSCSI name {show(name)}: {_char(c)} is not allowed "
                                     "(RFC 3722 §6.2: ASCII is limited to a-z 0-9 - . :)")
            continue
        if c == "\u3002":
            raise IscsiNameError(f"iSCSI name {show(name)}: {_char(c)} is not allowed (RFC 3722 §6.1)")
        for table, what in _PROHIBITED:
            if table(c):
                raise IscsiNameError(f"iSCSI name {show(name)}: {_char(c)} is {what} (RFC 3722 §6)")
    _check_bidi(name, prepared)
    return prepared


def _check_bidi(name: str, prepared: str) -> None:
    """RFC 3454 §6: RandALCat text must not mix with LCat, and must start and end with RandALCat."""
    rand_al = [stringprep.in_table_d1(c) for c in prepared]
    if not any(rand_al):
        return
    if any(stringprep.in_table_d2(c) for c in prepared):
        raise IscsiNameError(f"iSCSI name {show(name)} mixes right-to-left and left-to-right "
                             "characters (RFC 3454 §6)")
    if not (rand_al[0] and rand_al[-1]):
        raise IscsiNameError(f"iSCSI name {show(name)}: right-to-left text must start and end "
                             "with a right-to-left character (RFC 3454 §6)")


def validate_iscsi_name(name: str) -> str:
    """Check ``name`` against RFC 3720/3722/3980 and return its RFC 3722 case-folded form.

    Raises ``IscsiNameError`` with the reason (one line, the name shown quoted).
    """
    if not isinstance(name, str):
        raise IscsiNameError(f"iSCSI name must be text, got {type(name).__name__}")
    if name == "":
        raise IscsiNameError("iSCSI name is empty (expected iqn., eui. or naa.)")
    prepared = prepare_iscsi_name(name)
    size = len(prepared.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise IscsiNameError(f"iSCSI name {show(name)} is {size} bytes "
                             f"(expected at most {MAX_NAME_BYTES}, RFC 3720 §3.2.6.1)")
    if prepared.startswith("iqn."):
        _check_iqn(name, prepared)
    elif prepared.startswith("eui."):
        if not _EUI.fullmatch(prepared):
            raise IscsiNameError(f"iSCSI name {show(name)}: an eui. name is 'eui.' and exactly 16 "
                                 "hexadecimal digits (EUI-64, RFC 3720 §3.2.6.3.2)")
    elif prepared.startswith("naa."):
        if not _NAA.fullmatch(prepared):
            raise IscsiNameError(f"iSCSI name {show(name)}: a naa. name is 'naa.' and 16 or 32 "
                                 "hexadecimal digits (RFC 3980)")
    else:
        raise IscsiNameError(f"iSCSI name {show(name)} has no known type "
                             "(expected it to start with iqn., eui. or naa.; RFC 3720 §3.2.6.3)")
    return prepared


def _check_iqn(name: str, prepared: str) -> None:
    """``iqn.YYYY-MM.<reversed domain>[:<unique>]`` (RFC 3720 §3.2.6.3.1)."""
    m = _IQN.fullmatch(prepared)
    if m is None:
        raise IscsiNameError(f"iSCSI name {show(name)}: an iqn. name is "
                             "'iqn.YYYY-MM.<reversed domain>[:<unique>]' with a 4-digit year and a "
                             "2-digit month (RFC 3720 §3.2.6.3.1)")
    month = int(m.group(2))
    if not 1 <= month <= 12:
        raise IscsiNameError(f"iSCSI name {show(name)}: month {m.group(2)} in the iqn. date is not "
                             "01..12 (RFC 3720 §3.2.6.3.1)")
    authority = m.group(3)
    if authority == "" or "" in authority.split("."):
        raise IscsiNameError(f"iSCSI name {show(name)}: the naming authority {show(authority)} after "
                             "the iqn. date is not a reversed domain name (empty label)")


def iscsi_names_equal(a: str, b: str) -> bool:
    """Whether two iSCSI names are the same name after RFC 3722 preparation (case folding, NFKC).

    Never raises: a name that cannot be prepared (a prohibited character) equals only the
    identical string.
    """
    if a == b:
        return True
    try:
        return prepare_iscsi_name(a) == prepare_iscsi_name(b)
    except IscsiNameError:
        return False
