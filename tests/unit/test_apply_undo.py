"""``ibftkit.network.apply``'s typed undo log without a kernel: each ``Change`` takes itself back,
newest first, over a recording stand-in for pyroute2's ``IPRoute``; the step dispatch is by type.
(tests/netns/test_net_apply.py does the same against real namespaces.)"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any

import pytest

from ibftkit.network import apply as A
from ibftkit.network.plan import NetPlan, Step


class Recorder:
    def __init__(self, fail: dict[str, int] | None = None) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.fail = fail or {}

    def _call(self, what: str, command: str, kw: dict[str, Any]) -> None:
        self.calls.append((what, command, kw))
        if what in self.fail:
            raise OSError(self.fail[what], "refused")

    def link(self, command: str, **kw: Any) -> Any:
        self._call("link", command, kw)

    def addr(self, command: str, **kw: Any) -> Any:
        self._call("addr", command, kw)

    def route(self, command: str, **kw: Any) -> Any:
        self._call("route", command, kw)


def result(*changes: A.Change) -> A.ApplyResult:
    return A.ApplyResult(NetPlan(), changes=list(changes))


def test_each_change_undoes_itself_newest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("new\n")
    names: list[str] = []
    monkeypatch.setattr(socket, "sethostname", names.append)
    r = result(
        A.LinkRaised("set eth0 up", 2, "eth0"),
        A.LinkCreated("created eth0.5", 7, "eth0.5"),
        A.AddressAdded("added 10.0.0.5/24 to eth0.5", 7, "eth0.5", "10.0.0.5", 24, socket.AF_INET),
        A.RouteSet("added route default via 10.0.0.1 dev eth0.5", socket.AF_INET,
                   {"dst": "0.0.0.0/0", "oif": 7, "table": 254, "gateway": "10.0.0.1"}),
        A.RouteSet("replaced route 10.1.0.9/32", socket.AF_INET, {"dst": "10.1.0.9/32", "oif": 7, "table": 254},
                   previous={"dst": "10.1.0.9/32", "gateway": None, "oif": 3}),
        A.FileWritten(f"wrote {resolv}", str(resolv), b"old\n"),
        A.FileWritten("wrote x", str(tmp_path / "x"), None),
        A.HostnameSet("set hostname h", "before"),
    )
    (tmp_path / "x").write_text("created by the run")
    ipr = Recorder()
    assert A._undo_with(ipr, r) == [] and r.changes == []  # type: ignore[arg-type]
    assert names == ["before"] and resolv.read_text() == "old\n" and not (tmp_path / "x").exists()
    assert ipr.calls == [
        ("route", "replace", {"table": 254, "dst": "10.1.0.9/32", "oif": 3}),
        ("route", "del", {"dst": "0.0.0.0/0", "oif": 7, "table": 254, "gateway": "10.0.0.1"}),
        ("addr", "del", {"index": 7, "address": "10.0.0.5", "prefixlen": 24}),
        ("link", "del", {"index": 7}),
        ("link", "set", {"index": 2, "state": "down"}),
    ]


def test_what_cannot_be_undone_is_named() -> None:
    r = result(A.LinkRaised("set eth0 up", 2, "eth0"), A.AddressAdded("added a to eth0", 2, "eth0", "a", 24, 2))
    failed = A._undo_with(Recorder(fail={"link": errno.EPERM}), r)  # type: ignore[arg-type]
    assert failed == ["set eth0 up (operation not permitted (needs root or CAP_NET_ADMIN))"]


def test_every_step_type_has_a_handler() -> None:
    from ibftkit.network import plan, plan_cmdline, plan_extra

    handled = set(A.HANDLERS) | set(A._extra_handlers()) | set(A._cmdline_handlers())
    kinds = {c for m in (plan, plan_extra, plan_cmdline) for c in vars(m).values()
             if isinstance(c, type) and issubclass(c, Step) and c is not Step}
    assert kinds <= handled, sorted(k.__name__ for k in kinds - handled)


def test_packet_steps_say_so() -> None:
    """The steps that wait for packets (the collector goes back on before them, ``cli.init``)."""
    from ibftkit.network import plan, plan_cmdline, plan_extra

    kinds = {c.__name__ for m in (plan, plan_extra, plan_cmdline) for c in vars(m).values()
             if isinstance(c, type) and issubclass(c, Step) and c.exchanges_packets}
    assert kinds == {"RunDhcp", "RunSlaac"}


def test_sysctl_change_writes_and_undoes_the_previous_value(tmp_path: Path) -> None:
    f = tmp_path / "arp_ignore"
    f.write_text("0\n")
    assert A.write_sysctl(str(f), "1") == "0" and f.read_text() == "1\n"
    A.SysctlSet("set net.ipv4.conf.eth0.arp_ignore = 1", str(f), "0").undo(Recorder())  # type: ignore[arg-type]
    assert f.read_text() == "0\n"
