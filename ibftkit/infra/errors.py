"""One exception root for ibftkit; leaves are named for the failure; the one map to exit statuses.

Library code raises these and never prints or exits. The two program boundaries (``guarded`` in
``ibftkit.cli.main``, used by ``ibftkit``; the boundary of ``ibftkit.cli.init``, used by
``ibftkit-init``) turn them into one line on stderr and an exit status, both by :func:`exit_status`.
Messages say what, where, the value and what was expected, and never carry a CHAP secret.

Exit statuses: each class says which part failed in its ``exit_status`` (the nearest class in its
MRO that sets one). ``ibftkit-init`` shows them all; the ``ibftkit`` tool only 0, 1 and 2
(``TOOL_STATUSES``; any other failure is 1 there):

- 0 done (``ibftkit-init``: the boot target is logged in);
- 1 failed: an ``IbftkitError`` without a status of its own (``ibftkit-init``: the phase's), or a bug;
- 2 usage, a bad option or kernel command-line value: ``UsageError``;
- 3 no boot configuration, or an unusable one: ``NoTableError``, ``DecodeError``, ``ModelError``,
  ``RootPathError``, ``IscsiNameError``, ``NoBootConfig``;
- 4 network failed: ``NetError``, ``DhcpError``;
- 5 login failed: ``IscsiLoginError``, ``CommandError`` (``ibftkit.infra.run``: a program missing or
  timed out).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Container
from typing import ClassVar

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NO_CONFIG, EXIT_NETWORK, EXIT_LOGIN = 0, 1, 2, 3, 4, 5
#: The statuses of the ``ibftkit`` tool (its subcommands document 0, 1 and 2).
TOOL_STATUSES = frozenset({EXIT_OK, EXIT_FAIL, EXIT_USAGE})


class IbftkitError(Exception):
    """Root of every error ibftkit raises on purpose."""

    #: The exit status this failure means; ``None``: the caller's ``otherwise`` (``ibftkit-init``: the
    #: phase that was running).
    exit_status: ClassVar[int | None] = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def exit_status(e: BaseException, *, otherwise: int = EXIT_FAIL, shown: Container[int] | None = None) -> int:
    """The exit status for ``e``: its class's ``exit_status`` when it has one and it is in ``shown``
    (``None``: every status), else ``otherwise``; 1 for anything that is not an ``IbftkitError`` (a bug)."""
    if not isinstance(e, IbftkitError):
        return EXIT_FAIL
    status = type(e).exit_status
    if status is None or (shown is not None and status not in shown):
        return otherwise
    return status


def errno_text(e: BaseException, *, ifname: str | None = None, number: bool = False) -> str:
    """Why an ``OSError`` (or pyroute2's ``NetlinkError``, errno in ``code``) failed, in words: the
    error's own text, else ``strerror(3)`` for its errno; ``EPERM`` says root is needed; with
    ``ifname``, ``ENETDOWN``/``ENODEV``/``ENXIO`` say the interface went down or disappeared
    (netdevice(7)); ``number`` appends ``(errno N)``. ``str(e)`` when it has no errno."""
    code = getattr(e, "code", None)
    if not isinstance(code, int):
        code = e.errno if isinstance(e, OSError) else None
    if not code:
        return str(e)
    if code == errno.EPERM:
        return "operation not permitted (needs root or CAP_NET_ADMIN)"
    if ifname and code == errno.ENETDOWN:
        return f"{ifname} went down"
    if ifname and code in (errno.ENODEV, errno.ENXIO):
        return f"{ifname} disappeared"
    text = e.args[1] if len(e.args) > 1 and isinstance(e.args[1], str) else os.strerror(code)
    return f"{text} (errno {code})" if number else text


class UsageError(IbftkitError):
    """The command line or an input file's form is wrong (exit status 2)."""

    exit_status = EXIT_USAGE


# --- iBFT ----------------------------------------------------------------------------------------


class NoTableError(IbftkitError):
    """No iBFT was found where we looked."""

    exit_status = EXIT_NO_CONFIG


class DecodeError(IbftkitError):
    """A table that cannot be decoded: names the structure, the field and the table offset."""

    exit_status = EXIT_NO_CONFIG

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

    exit_status = EXIT_NO_CONFIG


class EncodeError(IbftkitError):
    """A model that cannot be written as a table (too large, a value out of range)."""


# --- root path and iSCSI names -------------------------------------------------------------------


class RootPathError(IbftkitError, ValueError):
    """A malformed RFC 4173 root path; ``field`` names the part that is wrong."""

    exit_status = EXIT_NO_CONFIG

    def __init__(self, message: str, *, field: str = "", hint: str | None = None) -> None:
        super().__init__(f"root path {field}: {message}" if field else f"root path: {message}", hint=hint)
        self.field = field


class IscsiNameError(IbftkitError, ValueError):
    """An iSCSI name that breaks RFC 3720/3722 rules."""

    exit_status = EXIT_NO_CONFIG


# --- DHCP ----------------------------------------------------------------------------------------


class DhcpError(IbftkitError):
    """DHCP failed: no usable lease."""

    exit_status = EXIT_NETWORK


class DhcpTimeout(DhcpError):
    """No lease before the deadline."""


# --- network and login ---------------------------------------------------------------------------


class NetError(IbftkitError):
    """Network configuration failed (a missing NIC, no carrier, a netlink error)."""

    exit_status = EXIT_NETWORK


class IscsiLoginError(IbftkitError):
    """``iscsistart`` (or the iscsiadm backend) did not log in."""

    exit_status = EXIT_LOGIN


class NoBootConfig(IbftkitError):
    """No source gave a boot configuration with a target to log in to."""

    exit_status = EXIT_NO_CONFIG
