"""Login: iscsistart argv, parameters, node records, the retry loop (``ibftkit.login``), pure."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ibftkit.infra.errors import IscsiLoginError, UsageError
from ibftkit.infra.run import Result
from ibftkit.login import backends
from ibftkit.login.argv import ROOT_DISK_PARAMS, iscsistart_argv, merge_params, node_record, parse_param
from ibftkit.login.backends import Attempt, IscsiadmBackend, IscsistartBackend, session_present
from ibftkit.login.retry import RetryPolicy, login_all, login_target
from ibftkit.model import BootConfig, ChapType, Initiator, Lun, Nic, Secret, Target, TargetFlags, parse_ip

INIT = "iqn.2026-01.test.ibftkit:init"
SECRET = "chap-secret-0123"
RSECRET = "reverse-secret-4567"


def target(index: int = 0, ip: str = "10.99.0.1", boot: bool = True, **kw: object) -> Target:
    flags = TargetFlags.VALID | (TargetFlags.BOOT_SELECTED if boot else 0)
    args: dict[str, object] = dict(index=index, flags=flags, ip_address=parse_ip(ip), port=3260,
                                   lun=Lun.from_linux(1), name=f"iqn.2026-01.test.ibftkit:disk{index}")
    args.update(kw)
    return Target(**args)  # type: ignore[arg-type]


def cfg(*targets: Target) -> BootConfig:
    return BootConfig(initiator=Initiator(INIT), nics=(Nic(index=0, mac="02:00:00:00:00:01"),),
                      targets=targets or (target(),), source="unit")


def mutual() -> Target:
    return target(chap_type=ChapType.MUTUAL, chap_name="user1", chap_secret=Secret(SECRET),
                  reverse_chap_name="target1", reverse_chap_secret=Secret(RSECRET))


# --- argv ----------------------------------------------------------------------------------------------


def test_plain_argv_has_the_five_login_options_and_root_disk_params() -> None:
    t = target()
    argv = iscsistart_argv(cfg(t), t, program="/sbin/iscsistart")
    assert argv[:11] == ["/sbin/iscsistart", "-i", INIT, "-t", "iqn.2026-01.test.ibftkit:disk0", "-g", "1",
                         "-a", "10.99.0.1", "-p", "3260"]
    params = [argv[k + 1] for k, a in enumerate(argv) if a == "-P"]
    assert params == [f"{n}={v}" for n, v in ROOT_DISK_PARAMS]
    assert "node.session.timeo.replacement_timeout=86400" in params
    assert "node.conn[0].timeo.noop_out_interval=0" in params and "node.conn[0].timeo.noop_out_timeout=0" in params
    assert not {"-u", "-w", "-U", "-W"} & set(argv)


def test_chap_and_mutual_chap() -> None:
    one = target(chap_type=ChapType.CHAP, chap_name="user1", chap_secret=Secret(SECRET))
    argv = iscsistart_argv(cfg(one), one)
    assert argv[argv.index("-u") + 1] == "user1" and argv[argv.index("-w") + 1] == SECRET
    assert "-U" not in argv and "-W" not in argv
    m = mutual()
    argv = iscsistart_argv(cfg(m), m)
    assert argv[argv.index("-U") + 1] == "target1" and argv[argv.index("-W") + 1] == RSECRET


def test_secrets_only_as_values_of_w_and_W() -> None:
    m = mutual()
    argv = iscsistart_argv(cfg(m), m)
    where = [k for k, a in enumerate(argv) if SECRET in a or RSECRET in a]
    assert [argv[k - 1] for k in where] == ["-w", "-W"]


def test_chap_type_none_sends_no_credentials() -> None:
    t = target(chap_type=ChapType.NONE, chap_name="user1", chap_secret=Secret(SECRET))
    assert SECRET not in iscsistart_argv(cfg(t), t)


def test_ipv6_address_is_unbracketed_and_dns_name_passes() -> None:
    t = target(ip="2001:db8::5")
    argv = iscsistart_argv(cfg(t), t)
    assert argv[argv.index("-a") + 1] == "2001:db8::5"
    named = Target(index=0, server_name="san.example.test", name="iqn.2026-01.t:x")
    argv = iscsistart_argv(cfg(named), named)
    assert argv[argv.index("-a") + 1] == "san.example.test"


def test_missing_initiator_or_name_is_refused() -> None:
    t = target()
    with pytest.raises(IscsiLoginError, match="no initiator name"):
        iscsistart_argv(BootConfig(targets=(t,)), t)
    nameless = target(name=None)
    with pytest.raises(IscsiLoginError, match="no target name"):
        iscsistart_argv(cfg(nameless), nameless)


# --- parameters ------------------------------------------------------------------------------------------


def test_param_overrides_default_in_place_and_new_ones_follow() -> None:
    merged = merge_params([parse_param("node.session.timeo.replacement_timeout=5"),
                           parse_param("node.session.auth.chap_algs=SHA256,MD5")])
    names = [n for n, _ in merged]
    assert names[: len(ROOT_DISK_PARAMS)] == [n for n, _ in ROOT_DISK_PARAMS]
    assert dict(merged)["node.session.timeo.replacement_timeout"] == "5"
    assert merged[-1] == ("node.session.auth.chap_algs", "SHA256,MD5")


def test_param_splits_on_first_equals() -> None:
    assert parse_param("a.b=c=d") == ("a.b", "c=d")


@pytest.mark.parametrize("text,why", [("novalue", "NAME=VALUE"), ("a.b=", "empty value"), ("=x", "NAME=VALUE"),
                                      ("node.session.auth.password=x", "CHAP secrets"),
                                      ("node.session.auth.password_in=x", "CHAP secrets"),
                                      ("a.b=x\ny", "control characters"), ("bad name=x", "NAME=VALUE")])
def test_bad_params(text: str, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        parse_param(text)


# --- node records (iscsiadm backend) ---------------------------------------------------------------------


def test_node_record_has_chap_and_root_disk_settings() -> None:
    m = mutual()
    text = node_record(cfg(m), m)
    lines = text.splitlines()
    assert lines[0].startswith("# BEGIN RECORD") and lines[-1] == "# END RECORD"
    assert "node.name = iqn.2026-01.test.ibftkit:disk0" in lines
    assert f"iface.initiatorname = {INIT}" in lines
    assert "node.session.auth.authmethod = CHAP" in lines
    assert f"node.session.auth.password = {SECRET}" in lines
    assert f"node.session.auth.password_in = {RSECRET}" in lines
    assert "node.conn[0].address = 10.99.0.1" in lines
    assert "node.session.timeo.replacement_timeout = 86400" in lines


def test_record_written_0600_in_0700_dirs_and_removed_on_failure(tmp_path: Path) -> None:
    m = mutual()
    b = IscsiadmBackend(node_dir=str(tmp_path / "nodes"))
    path = b._write_record(cfg(m), m)
    assert path == tmp_path / "nodes" / "iqn.2026-01.test.ibftkit:disk0" / "10.99.0.1,3260,1" / "default"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for d in (path.parent, path.parent.parent, tmp_path / "nodes"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert SECRET in path.read_text()
    assert not list(path.parent.glob(".*"))  # no temporary file left
    b.cleanup_failed(m)
    assert not path.exists() and not path.parent.exists()


def test_iscsiadm_plan_keeps_secrets_off_argv() -> None:
    m = mutual()
    texts = [c.text for c in IscsiadmBackend(iscsiadm="/sbin/iscsiadm").plan(cfg(m), m)]
    assert "mode 0600" in texts[0]
    assert texts[1] == ("/sbin/iscsiadm -m node -T iqn.2026-01.test.ibftkit:disk0 -p 10.99.0.1:3260,1 "
                        "-I default --login")
    assert not any(SECRET in t or RSECRET in t for t in texts)


def test_iscsistart_plan_redacts() -> None:
    m = mutual()
    (c,) = IscsistartBackend("iscsistart").plan(cfg(m), m)
    assert "-w <redacted>" in c.text and "-W <redacted>" in c.text and SECRET not in c.text


# --- sessions already there ------------------------------------------------------------------------------


def _session(root: Path, sid: int, name: str, addr: str, port: int) -> None:
    s = root / "sys/class/iscsi_session" / f"session{sid}"
    s.mkdir(parents=True)
    (s / "targetname").write_text(name + "\n")
    c = root / "sys/class/iscsi_connection" / f"connection{sid}:0"
    c.mkdir(parents=True)
    (c / "persistent_address").write_text(addr + "\n")
    (c / "persistent_port").write_text(f"{port}\n")


def test_session_present(tmp_path: Path) -> None:
    t = target()
    assert not session_present(t, sys_root=str(tmp_path))
    _session(tmp_path, 3, t.name or "", "10.99.0.2", 3260)
    assert not session_present(t, sys_root=str(tmp_path))  # other portal
    _session(tmp_path, 4, t.name or "", "10.99.0.1", 3260)
    assert session_present(t, sys_root=str(tmp_path))


# --- the retry loop --------------------------------------------------------------------------------------


class FakeLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def progress(self, text: str) -> None:
        self.lines.append(text)

    info = warning = debug = progress


class FakeBackend:
    name = "fake"
    sys_root = "/nonexistent"

    def __init__(self, results: dict[int, list[Attempt]]) -> None:
        self.results = results
        self.calls: list[int] = []
        self.cleaned: list[int] = []
        self.prepared = False

    def prepare(self, cfg: BootConfig, log: object) -> None:
        self.prepared = True

    def login(self, cfg: BootConfig, target: Target, log: object) -> Attempt:
        self.calls.append(target.index)
        queue = self.results[target.index]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def cleanup_failed(self, target: Target) -> None:
        self.cleaned.append(target.index)


def test_backoff_doubles_and_is_capped() -> None:
    assert RetryPolicy(retries=6, backoff=2, max_backoff=30).delays() == [2, 4, 8, 16, 30, 30]
    assert RetryPolicy(retries=0).delays() == []


def test_fails_twice_then_succeeds() -> None:
    sleeps: list[float] = []
    b = FakeBackend({0: [Attempt(False, "exit 1"), Attempt(False, "exit 1"), Attempt(True, "in")]})
    out = login_target(b, cfg(), target(), policy=RetryPolicy(retries=3, backoff=1), log=FakeLog(),
                       sleep=sleeps.append)  # type: ignore[arg-type]
    assert out.ok and out.attempts == 3 and sleeps == [1, 2]


def test_fails_every_time() -> None:
    sleeps: list[float] = []
    log = FakeLog()
    b = FakeBackend({0: [Attempt(False, "iscsistart exit 1: error 24: authorization failure")]})
    out = login_target(b, cfg(), target(), policy=RetryPolicy(retries=2, backoff=0.5), log=log,
                       sleep=sleeps.append)  # type: ignore[arg-type]
    assert not out.ok and out.attempts == 3 and sleeps == [0.5, 1.0]
    assert "login failed after 3 attempts" in out.message and "authorization failure" in out.message
    assert b.cleaned == [0]
    assert sum("retrying in" in ln for ln in log.lines) == 2


def test_no_retry_when_it_cannot_help() -> None:
    sleeps: list[float] = []
    b = FakeBackend({0: [Attempt(False, "/x/iscsistart: command not found", retry=False)]})
    out = login_target(b, cfg(), target(), policy=RetryPolicy(retries=5), log=FakeLog(),
                       sleep=sleeps.append)  # type: ignore[arg-type]
    assert not out.ok and out.attempts == 1 and sleeps == []
    assert "after 1 attempt;" in out.message


def test_login_all_boot_first_then_others_and_secondary_failure_is_a_warning() -> None:
    t0, t1, t2 = target(0, "10.99.0.1", boot=False), target(1, "10.98.0.1", boot=True), target(2, "10.97.0.1",
                                                                                           boot=False)
    b = FakeBackend({0: [Attempt(True, "ok0")], 1: [Attempt(True, "ok1")], 2: [Attempt(False, "down")]})
    log = FakeLog()
    outs = login_all(b, cfg(t0, t1, t2), policy=RetryPolicy(retries=0), log=log,  # type: ignore[arg-type]
                     sleep=lambda s: None)
    assert b.prepared and b.calls == [1, 0, 2]
    assert [o.ok for o in outs] == [True, True, False] and outs[0].boot
    assert any("another path" in ln for ln in log.lines)


def test_login_all_raises_when_boot_target_fails_but_tries_the_rest() -> None:
    t0, t1 = target(0, boot=True), target(1, "10.98.0.1", boot=False)
    b = FakeBackend({0: [Attempt(False, "exit 1")], 1: [Attempt(True, "ok1")]})
    with pytest.raises(IscsiLoginError, match="1 other path"):
        login_all(b, cfg(t0, t1), policy=RetryPolicy(retries=1, backoff=0), log=FakeLog(),  # type: ignore[arg-type]
                  sleep=lambda s: None)
    assert b.calls == [0, 0, 1]


def test_no_valid_target() -> None:
    with pytest.raises(IscsiLoginError, match="no valid target"):
        login_all(FakeBackend({}), BootConfig(initiator=Initiator(INIT)), policy=RetryPolicy(),  # type: ignore[arg-type]
                  log=FakeLog())


# --- how iscsistart's results are judged (run() replaced) ------------------------------------------------


def _result(code: int, stderr: str = "") -> Result:
    return Result(("iscsistart",), "iscsistart", code, "", stderr, 0.1)


@pytest.mark.parametrize("code,stderr,ok,retry,words", [
    (0, "", True, True, "logged in"),
    (1, "iscsistart: initiator reported error (24 - iSCSI login failed due to authorization failure)", False,
     True, "error 24: authorization failure"),
    (7, "iscsistart: InitiatorName not set. Exiting iscsistart", False, False, "exit 7"),
    (1, "iscsistart: initiator reported error (8 - connection timed out)", False, True, "transport timeout"),
])
def test_iscsistart_result_mapping(monkeypatch: pytest.MonkeyPatch, code: int, stderr: str, ok: bool, retry: bool,
                                   words: str) -> None:
    monkeypatch.setattr(backends, "run", lambda *a, **k: _result(code, stderr))
    t = target()
    got = IscsistartBackend("iscsistart").login(cfg(t), t, FakeLog())  # type: ignore[arg-type]
    assert (got.ok, got.retry) == (ok, retry) and words in got.message


def test_session_exists_counts_only_when_sysfs_confirms(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(backends, "run", lambda *a, **k: _result(1, "initiator reported error (15 - session exists)"))
    t = target()
    b = IscsistartBackend("iscsistart", sys_root=str(tmp_path))
    assert not b.login(cfg(t), t, FakeLog()).ok  # type: ignore[arg-type]
    _session(tmp_path, 1, t.name or "", "10.99.0.1", 3260)
    assert b.login(cfg(t), t, FakeLog()).ok  # type: ignore[arg-type]
