"""Multipath logins (``ibftkit.login.paths``) and the portal probe in the retry loop, without processes.

Threads stand in for the logins (``ThreadPaths``); ``ForkedPaths`` (a child process) is shown by
the netns tier (tests/netns/test_init.py) and the VM tier.
"""

from __future__ import annotations

import threading

import pytest
from test_iscsi_argv import FakeBackend, FakeLog, cfg, target

from ibftkit.infra.errors import IscsiLoginError
from ibftkit.login.backends import Attempt, IscsiadmBackend, IscsistartBackend
from ibftkit.login.paths import TargetOutcome, ThreadPaths
from ibftkit.login.retry import RetryPolicy, login_all, login_target, worst_case
from ibftkit.model import Target


class GatedBackend(FakeBackend):
    """Logins that wait for a gate per target, so a test decides who finishes when."""

    parallel_safe = True

    def __init__(self, results: dict[int, list[Attempt]], gates: dict[int, threading.Event]) -> None:
        super().__init__(results)
        self.gates = gates
        self.started: dict[int, threading.Event] = {k: threading.Event() for k in results}

    def login(self, cfg, target, log):  # type: ignore[no-untyped-def]
        self.started[target.index].set()
        gate = self.gates.get(target.index)
        if gate is not None:
            assert gate.wait(10)
        return super().login(cfg, target, log)


class LeavingPaths(ThreadPaths):
    """ThreadPaths that records leave() instead of waiting (what ForkedPaths does)."""

    left = False

    def leave(self) -> None:
        self.left = True


def test_both_backends_log_in_side_by_side() -> None:
    # iscsistart: one socket per process (open-iscsi 2.0.877 on), measured in a VM (docs/init.md)
    assert IscsistartBackend.parallel_safe is True
    assert IscsiadmBackend.parallel_safe is True


def test_iscsistart_runs_the_other_paths_side_by_side_once_the_boot_target_is_in() -> None:
    assert IscsistartBackend.beside_boot is False and IscsiadmBackend.beside_boot is True

    class AfterBoot(GatedBackend):
        beside_boot = False

    t0, t1, t2 = target(0, boot=True), target(1, "10.98.0.1", boot=False), target(2, "10.97.0.1", boot=False)
    gates = {k: threading.Event() for k in range(3)}
    b = AfterBoot({0: [Attempt(True, "in0")], 1: [Attempt(True, "in1")], 2: [Attempt(True, "in2")]}, gates)
    th = threading.Thread(target=lambda: login_all(b, cfg(t0, t1, t2), policy=RetryPolicy(retries=0),  # type: ignore[arg-type]
                                                   log=FakeLog(), sleep=lambda s: None))
    th.start()
    assert b.started[0].wait(5)
    assert not b.started[1].wait(0.2) and not b.started[2].is_set()  # the boot login runs alone
    gates[0].set()
    assert b.started[1].wait(5) and b.started[2].wait(5)  # then the others, at once
    gates[1].set()
    gates[2].set()
    th.join(10)
    assert not th.is_alive()


def test_side_by_side_logins_are_bounded() -> None:
    targets = [target(k, f"10.9{k}.0.1", boot=False) for k in range(3)]
    gates = {k: threading.Event() for k in range(3)}
    b = GatedBackend({k: [Attempt(True, f"in{k}")] for k in range(3)}, gates)
    paths = ThreadPaths(limit=2)
    c = cfg(*targets)
    paths.start(targets, lambda t: login_target(b, c, t, policy=RetryPolicy(retries=0), log=FakeLog(),  # type: ignore[arg-type]
                                                boot=False), parallel=True)
    assert b.started[0].wait(5) and b.started[1].wait(5)
    assert not b.started[2].wait(0.2)  # the third waits for a free slot
    gates[0].set()
    assert b.started[2].wait(5)
    gates[1].set()
    gates[2].set()
    assert [o.ok for o in paths.wait()] == [True, True, True]


def test_parallel_backend_logs_in_to_every_path_at_once_and_reports_in_order() -> None:
    t0, t1, t2 = target(0, boot=True), target(1, "10.98.0.1", boot=False), target(2, "10.97.0.1", boot=False)
    gates = {0: threading.Event(), 1: threading.Event()}
    b = GatedBackend({0: [Attempt(True, "in0")], 1: [Attempt(True, "in1")], 2: [Attempt(False, "down2")]}, gates)
    log = FakeLog()
    result: list[list[TargetOutcome]] = []
    th = threading.Thread(target=lambda: result.append(
        login_all(b, cfg(t0, t1, t2), policy=RetryPolicy(retries=0), log=log, sleep=lambda s: None)))  # type: ignore[arg-type]
    th.start()
    assert b.started[0].wait(5) and b.started[1].wait(5) and b.started[2].wait(5)  # all three at once
    gates[1].set()
    gates[0].set()
    th.join(10)
    outs = result[0]
    assert [o.target.index for o in outs] == [0, 1, 2] and [o.ok for o in outs] == [True, True, False]
    reports = [ln for ln in log.lines if ln in ("in0", "in1") or "down2" in ln]
    assert reports[0] == "in0" and reports[1] == "in1" and "down2" in reports[2]


def test_serial_backend_logs_in_to_the_others_after_the_boot_target() -> None:
    t0, t1 = target(0, boot=False), target(1, "10.98.0.1", boot=True)
    b = FakeBackend({0: [Attempt(True, "in0")], 1: [Attempt(True, "in1")]})
    outs = login_all(b, cfg(t0, t1), policy=RetryPolicy(retries=0), log=FakeLog(),  # type: ignore[arg-type]
                     sleep=lambda s: None)
    assert b.calls == [1, 0] and [o.target.index for o in outs] == [1, 0]


def test_background_returns_once_the_boot_target_is_in() -> None:
    t0, t1 = target(0, boot=True), target(1, "10.98.0.1", boot=False)
    gate = threading.Event()
    b = GatedBackend({0: [Attempt(True, "in0")], 1: [Attempt(True, "in1")]}, {1: gate})
    paths = LeavingPaths()
    log = FakeLog()
    outs = login_all(b, cfg(t0, t1), policy=RetryPolicy(retries=0), log=log,  # type: ignore[arg-type]
                     sleep=lambda s: None, paths=paths, background=True)
    assert outs[0].ok and outs[1].pending and not outs[1].ok and paths.left
    assert any("still logging in" in ln and "target[1]" in ln for ln in log.lines)
    gate.set()
    assert paths.wait()[0].ok


def test_a_failed_boot_target_waits_for_the_others_even_in_background_mode() -> None:
    t0, t1 = target(0, boot=True), target(1, "10.98.0.1", boot=False)
    b = FakeBackend({0: [Attempt(False, "exit 1")], 1: [Attempt(True, "in1")]})
    paths = LeavingPaths()
    with pytest.raises(IscsiLoginError, match="1 other path"):
        login_all(b, cfg(t0, t1), policy=RetryPolicy(retries=0), log=FakeLog(),  # type: ignore[arg-type]
                  sleep=lambda s: None, paths=paths, background=True)
    assert not paths.left and b.calls == [0, 1]


def test_a_portal_that_does_not_answer_costs_no_login_attempt() -> None:
    sleeps: list[float] = []
    log = FakeLog()
    b = FakeBackend({0: [Attempt(True, "in")]})
    answers = iter(["connection refused", "no answer within 5 s", None])

    def probe(t: Target) -> str | None:
        return next(answers)

    out = login_target(b, cfg(), target(), policy=RetryPolicy(retries=3, backoff=1), log=log,  # type: ignore[arg-type]
                       sleep=sleeps.append, probe=probe)
    assert out.ok and out.attempts == 3 and b.calls == [0] and sleeps == [1, 2]
    probes = [ln for ln in log.lines if "TCP connect to the portal failed" in ln]
    assert len(probes) == 2 and "connection refused; no login attempt (attempt 1 of 4)" in probes[0]


def test_a_dead_boot_portal_ends_after_the_policy_with_the_probe_named() -> None:
    b = FakeBackend({0: [Attempt(True, "in")]})
    with pytest.raises(IscsiLoginError, match="login failed after 2 attempts; last: TCP connect to the portal "
                                               "failed: connection refused"):
        login_all(b, cfg(), policy=RetryPolicy(retries=1, backoff=0), log=FakeLog(),  # type: ignore[arg-type]
                  sleep=lambda s: None, probe=lambda t: "connection refused")
    assert b.calls == []


def test_worst_case_bounds() -> None:
    p = RetryPolicy(retries=3, backoff=2)
    assert worst_case(p, login_timeout=120, probe_timeout=5) == (4 * 5 + 14, 4 * 125 + 14)
    assert worst_case(p, login_timeout=120, probe_timeout=None) == (4 * 120 + 14, 4 * 120 + 14)
