"""Which iSCSI initiator name to log in with when the boot target came from a root path.

RFC 4173 defines no option for the initiator name (``docs/rootpath.md``, "Sources"),
so ibftkit looks in this order and takes the first source that has one:

1. DHCP option 203 (iPXE's ``initiator-iqn``; the same number as the QLogic/Broadcom option-43
   sub-option);
2. the kernel command line: ``ibftkit.initiator=``, then dracut's ``rd.iscsi.initiator=``, then
   the legacy ``iscsi_initiator=`` (dracut and Debian); the last occurrence of a key wins, as in
   dracut's ``getarg``;
3. ``/etc/iscsi/initiatorname.iscsi``, the ``InitiatorName=`` line open-iscsi reads.

A name found in a source is checked (RFC 3720/3722) and returned case-folded; an invalid name
is an error naming its source rather than a silent fall-through to another identity, since the
target's LUN masking is keyed on that name. Every input is injectable for tests.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..infra.errors import IscsiNameError
from ..iscsiname import show, validate_iscsi_name
from .cmdline import split_cmdline as split_cmdline  # re-exported (it lived here)

CMDLINE_KEYS = ("ibftkit.initiator", "rd.iscsi.initiator", "iscsi_initiator")
CMDLINE_PATH = "/proc/cmdline"
INITIATORNAME_PATH = "/etc/iscsi/initiatorname.iscsi"


@dataclasses.dataclass(frozen=True)
class ResolvedInitiator:
    """The chosen name (RFC 3722 form, ``None`` when no source has one), where it came from
    (``dhcp-option-203``, ``cmdline:<key>``, ``file:<path>``, or ``none``), and warnings."""

    name: str | None
    source: str
    warnings: tuple[str, ...] = ()


def name_from_cmdline(text: str) -> tuple[str, str, tuple[str, ...]] | None:
    """``(name, key, warnings)`` from a kernel command line, or ``None`` when no key is set."""
    values: dict[str, list[str]] = {key: [] for key in CMDLINE_KEYS}
    for key, value in split_cmdline(text):
        if key in values and value is not None:
            values[key].append(value)
    for key in CMDLINE_KEYS:
        found = [v for v in values[key] if v != ""]
        if found:
            warnings: tuple[str, ...] = ()
            if len(set(found)) > 1:
                warnings = (f"{key}= is given {len(found)} times with different names; the last wins",)
            return found[-1], key, warnings
    return None


def name_from_file(text: str) -> tuple[str | None, tuple[str, ...]]:
    """The ``InitiatorName=`` value of an ``initiatorname.iscsi`` file (last one wins).

    Debian ships ``GenerateName=yes`` until the package's postinst writes a name; that is
    reported as a warning.
    """
    name = None
    generate = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        if not eq:
            continue
        if key.strip() == "InitiatorName":
            name = value.strip()
        elif key.strip() == "GenerateName" and value.strip().lower() == "yes":
            generate = True
    if name:
        return name, ()
    if generate:
        return None, ("initiatorname.iscsi asks for a name to be generated (GenerateName=yes) but "
                      "holds none yet; run 'iscsi-iname' or reinstall open-iscsi",)
    return None, ()


def _option_text(option_203: str | bytes) -> str:
    """Option 203 data: NVT ASCII, trailing NULs dropped (RFC 2132 §2)."""
    if isinstance(option_203, bytes):
        try:
            option_203 = option_203.decode("ascii")
        except UnicodeDecodeError:
            raise IscsiNameError("DHCP option 203 (initiator name) is not ASCII text") from None
    return option_203.rstrip("\x00").strip()


def _checked(name: str, source: str) -> str:
    try:
        return validate_iscsi_name(name)
    except IscsiNameError as e:
        raise IscsiNameError(f"initiator name from {source}: {e}") from None


def resolve_initiator_name(option_203: str | bytes | None = None, *, cmdline: str | None = None,
                           cmdline_path: str | Path = CMDLINE_PATH,
                           initiatorname_path: str | Path = INITIATORNAME_PATH,
                           parsed: tuple[str | None, str | None] | None = None) -> ResolvedInitiator:
    """The initiator name from the first source that has one (see the module docstring).

    ``parsed``: ``(name, key)`` from the command line already read (``Cmdline.initiator``,
    ``Cmdline.initiator_key``); else ``cmdline`` is the kernel command line text, and when that is
    ``None`` it is read from ``cmdline_path`` (a missing file counts as empty). ``.name`` is
    ``None`` when no source has a name; raises ``IscsiNameError`` naming the source when the name
    found there is invalid.
    """
    warnings: list[str] = []
    if option_203 is not None:
        text = _option_text(option_203)
        if text:
            name = _checked(text, "DHCP option 203")
            return ResolvedInitiator(name, "dhcp-option-203", _folded(text, name))
        warnings.append("DHCP option 203 is empty; ignored")
    found: tuple[str, str, tuple[str, ...]] | None
    if parsed is not None:
        found = (parsed[0], parsed[1] or "kernel command line", ()) if parsed[0] else None
    else:
        if cmdline is None:
            try:
                cmdline = Path(cmdline_path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                cmdline = ""
        found = name_from_cmdline(cmdline)
    if found is not None:
        text, key, notes = found
        name = _checked(text, f"the kernel command line ({key}=)")
        return ResolvedInitiator(name, f"cmdline:{key}", tuple(warnings) + notes + _folded(text, name))
    try:
        content = Path(initiatorname_path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        content = ""
    except OSError as e:
        warnings.append(f"cannot read {initiatorname_path}: {e.strerror or e}")
        content = ""
    text_or_none, notes = name_from_file(content)
    warnings += notes
    if text_or_none is not None:
        name = _checked(text_or_none, str(initiatorname_path))
        return ResolvedInitiator(name, f"file:{initiatorname_path}",
                                 tuple(warnings) + _folded(text_or_none, name))
    return ResolvedInitiator(None, "none", tuple(warnings))


def _folded(raw: str, name: str) -> tuple[str, ...]:
    if raw == name:
        return ()
    return (f"initiator name {show(raw)} used as {show(name)} (RFC 3722 case folding)",)
