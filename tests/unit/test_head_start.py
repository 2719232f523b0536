"""The boot target's iscsistart started ahead of the network's last steps (``IscsistartBackend.head_start``,
``ibftkit.cli.init.head_start_point``): where in a plan it may start, that the login then waits for that
process instead of starting one, and that a portal failing its TCP probe stops it. The real process
and portal: every VM boot (tests/vm), and tests/netns/test_init.py with a recorder that, like
iscsistart, sends nothing for its first second."""

from __future__ import annotations

import ipaddress

import pytest

from ibftkit.cli.init import head_start_point
from ibftkit.infra.run import Result
from ibftkit.login import backends
from ibftkit.login.backends import IscsistartBackend
from ibftkit.login.retry import RetryPolicy, login_target
from ibftkit.model import BootConfig, Initiator, Lun, Nic, Target, TargetFlags, parse_ip
from ibftkit.network.plan import (
    AddAddress,
    AddRoute,
    LinkUp,
    NetPlan,
    RunDhcp,
    SetDns,
    SetHostname,
    SetSysctl,
    WaitCarrier,
)

UP = LinkUp("eth0")
WAIT = WaitCarrier("eth0")
ADDR4 = AddAddress("eth0", ipaddress.ip_interface("10.0.2.15/24"), 0)
ADDR6 = AddAddress("eth0", ipaddress.ip_interface("2001:db8::15/64"), 0)
ROUTE = AddRoute(ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_address("10.0.2.2"), "eth0")
DNS = SetDns((ipaddress.ip_address("10.0.2.3"),))
HOST = SetHostname("client")
ARP = SetSysctl("eth0", "arp_ignore", 1)
DHCP = RunDhcp("eth0", 0)


def _plan(*steps: object) -> NetPlan:
    return NetPlan(steps=tuple(steps))  # type: ignore[arg-type]


@pytest.mark.parametrize("steps,carrier,point", [
    ((UP, WAIT, ADDR4, ROUTE, DNS, HOST), True, 0),  # carrier already: before the first step
    ((UP, WAIT, ADDR4, ROUTE, DNS, HOST), False, 2),  # after the carrier wait
    ((UP, WAIT, ADDR4, ARP, ROUTE), None, 2),  # carrier unknown (link down): as without
    ((UP, WAIT, DHCP, ROUTE, DNS), True, 3),  # after the DHCP exchange
    ((UP, WAIT, ADDR4, ADDR6, ROUTE), True, 5),  # an IPv6 address: after every step (DAD)
    ((), True, 0),
])
def test_head_start_point(steps: tuple[object, ...], carrier: bool | None, point: int) -> None:
    assert head_start_point(_plan(*steps), lambda ifname: carrier) == point


def test_head_start_point_waits_for_each_link_without_carrier() -> None:
    plan = _plan(LinkUp("eth0"), WaitCarrier("eth0"), LinkUp("eth1"), WaitCarrier("eth1"), ADDR4)
    assert head_start_point(plan, {"eth0": True, "eth1": False}.get) == 4
    assert head_start_point(plan, {"eth0": False, "eth1": True}.get) == 2


# --- the backend ------------------------------------------------------------------------------------------


def _cfg() -> BootConfig:
    t = Target(index=0, flags=TargetFlags.VALID | TargetFlags.BOOT_SELECTED, ip_address=parse_ip("10.99.0.1"),
               port=3260, lun=Lun.from_linux(0), name="iqn.2026-01.test:disk", nic_index=0)
    return BootConfig(initiator=Initiator("iqn.2026-01.test:init"), nics=(Nic(index=0, mac="02:00:00:00:00:01"),),
                      targets=(t,), source="unit")


class FakeRunning:
    def __init__(self) -> None:
        self.finished = self.stopped = False

    def finish(self, *, timeout: float, on_wait: object = None) -> Result:
        self.finished = True
        return Result(("iscsistart",), "iscsistart", 0, "", "", 1.3)

    def stop(self) -> None:
        self.stopped = True


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def progress(self, text: str) -> None:
        self.lines.append(text)

    info = warning = debug = error = progress


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[FakeRunning]:
    got: list[FakeRunning] = []

    def fake_start(argv: object, **kw: object) -> FakeRunning:
        got.append(FakeRunning())
        return got[-1]

    def no_run(*a: object, **kw: object) -> Result:
        raise AssertionError("the login started a second iscsistart")

    monkeypatch.setattr(backends, "start", fake_start)
    monkeypatch.setattr(backends, "run", no_run)
    return got


def test_the_login_waits_for_the_process_started_ahead(started: list[FakeRunning]) -> None:
    cfg, log = _cfg(), Log()
    b = IscsistartBackend(sys_root="/nonexistent")
    assert b.head_start(cfg, cfg.targets[0], log)
    assert not b.head_start(cfg, cfg.targets[0], log)  # one per target
    out = login_target(b, cfg, cfg.targets[0], policy=RetryPolicy(retries=0), log=log)
    assert out.ok and len(started) == 1 and started[0].finished and not started[0].stopped
    b.cancel_head_start()  # nothing left to stop
    assert not started[0].stopped


def test_a_portal_failing_its_probe_stops_the_process_before_its_login(started: list[FakeRunning]) -> None:
    cfg, log = _cfg(), Log()
    b = IscsistartBackend(sys_root="/nonexistent")
    b.head_start(cfg, cfg.targets[0], log)
    out = login_target(b, cfg, cfg.targets[0], policy=RetryPolicy(retries=0), log=log,
                       probe=lambda t: "connection refused")
    assert not out.ok and started[0].stopped and not started[0].finished
    assert "TCP connect to the portal failed: connection refused" in out.message


def test_cancel_stops_what_no_login_waited_for(started: list[FakeRunning]) -> None:
    cfg = _cfg()
    b = IscsistartBackend(sys_root="/nonexistent")
    b.head_start(cfg, cfg.targets[0], Log())
    b.cancel_head_start()
    assert started[0].stopped


def test_a_session_made_by_the_process_started_ahead_is_its_login(started: list[FakeRunning],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The process started ahead may have logged in before the retry loop looks for a session: that
    session is this login's, not one found "already logged in"."""
    from ibftkit.login import retry

    monkeypatch.setattr(retry, "session_present", lambda t, sys_root: True)
    cfg, log = _cfg(), Log()
    b = IscsistartBackend(sys_root="/nonexistent")
    b.head_start(cfg, cfg.targets[0], log)
    out = login_target(b, cfg, cfg.targets[0], policy=RetryPolicy(retries=0), log=log)
    assert out.ok and started[0].finished and out.message.startswith("logged in to target[0]")
