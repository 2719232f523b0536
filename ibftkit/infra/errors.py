"""One exception root for ibftkit; leaves are named for the failure.

Library code raises these and never prints or exits. The CLI boundary
(``ibftkit.cli.main``) turns them into one line on stderr and an exit status.
Messages say what, where, the value and what was expected, and never carry a CHAP secret.
"""

from __future__ import annotations


class IbftkitError(Exception):
    """Root of every error ibftkit raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class UsageError(IbftkitError):
    """The command line or an input file's form is wrong (exit status 2)."""


# --- iBFT ----------------------------------------------------------------------------------------


class NoTableError(IbftkitError):
    """No iBFT was found where we looked."""


class DecodeError(IbftkitError):
    """A table that cannot be decoded: names the structure, the field and the table offset."""

    def __init__(self, message: str, *, structure: str = "", field: str = "", offset: int | None = None,
                 hint: str | None = None) -> None:
        where = structure
        if field:
            where = f"{where}.{field}" if where else field
        if offset is not None:
            where = f"{where} at 0x{offset:x}" if where else f"at 0x{offset:x}"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.structure = structure
        self.field = field
        self.offset = offset


class StrictError(DecodeError):
    """A warning promoted to an error by ``--strict``."""


class ModelError(IbftkitError):
    """A JSON model (``decode --format json`` output) that does not describe a table."""


class EncodeError(IbftkitError):
    """A model that cannot be written as a table (too large, a value out of range)."""


# --- root path and iSCSI names -------------------------------------------------------------------


class RootPathError(IbftkitError, ValueError):
    """A malformed RFC 4173 root path; ``field`` names the part that is wrong."""

    def __init__(self, message: str, *, field: str = "", hint: str | None = None) -> None:
        super().__init__(f"root path {field}: {message}" if field else f"root path: {message}", hint=hint)
        self.field = field


class IscsiNameError(IbftkitError, ValueError):
    """An iSCSI name that breaks RFC 3720/3722 rules."""


# --- DHCP ----------------------------------------------------------------------------------------


class DhcpError(IbftkitError):
    """DHCP failed: no usable lease."""


class DhcpTimeout(DhcpError):
    """No lease before the deadline."""


# --- network and login ---------------------------------------------------------------------------


class NetError(IbftkitError):
    """Network configuration failed (a missing NIC, no carrier, a netlink error)."""


class IscsiLoginError(IbftkitError):
    """``iscsistart`` (or the iscsiadm backend) did not log in."""
