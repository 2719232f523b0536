"""The one map from exception class to exit status (``ibftkit.infra.errors.exit_status``), as
``ibftkit-init`` (every status) and the ``ibftkit`` tool (0, 1, 2) use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibftkit.infra import errors as E
from ibftkit.infra.run import CommandError
from ibftkit.sources.cmdline_net import CmdlineError

CASES = [
    (E.UsageError("x"), 2, 2),
    (E.NoTableError("x"), 3, 1),
    (E.DecodeError("x"), 3, 1),
    (E.StrictError("x"), 3, 1),
    (E.ModelError("x"), 3, 1),
    (E.RootPathError("x"), 3, 1),
    (E.IscsiNameError("x"), 3, 1),
    (E.NoBootConfig("x"), 3, 1),
    (CmdlineError("x"), 3, 1),
    (E.NetError("x"), 4, 1),
    (E.DhcpError("x"), 4, 1),
    (E.DhcpTimeout("x"), 4, 1),
    (E.IscsiLoginError("x"), 5, 1),
    (CommandError("x", kind="missing", argv0="iscsistart"), 5, 1),
    (E.EncodeError("x"), 9, 1),  # no status of its own: the caller's (the phase)
    (E.IbftkitError("x"), 9, 1),
    (RuntimeError("a bug"), 1, 1),
]


@pytest.mark.parametrize(("err", "init_status", "tool_status"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_exit_status(err: BaseException, init_status: int, tool_status: int) -> None:
    assert E.exit_status(err, otherwise=9) == init_status
    assert E.exit_status(err, shown=E.TOOL_STATUSES) == tool_status


def test_statuses_come_only_from_exit_status() -> None:
    """No error class keeps a status of its own elsewhere (the old ``exit_code`` attribute)."""
    root = Path(__file__).resolve().parents[2] / "ibftkit"
    stray = [str(p.relative_to(root)) for p in sorted(root.rglob("*.py")) if "exit_code =" in p.read_text()]
    assert stray == []
