"""The one subprocess wrapper (``ibftkit.infra.run``): clean environment, redaction, timeouts, errors.

These run real (tiny) processes, so they carry ``allow_subprocess``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from ibftkit.infra import run as run_module
from ibftkit.infra.log import REDACTED, redact
from ibftkit.infra.run import CommandError, clean_env, run, shown

SECRET = "pa ss'w\"ord-123"


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def debug(self, text: str) -> None:
        self.lines.append(text)


def test_shown_redacts_whole_arguments_and_quotes_others() -> None:
    line = shown(["iscsistart", "-t", "iqn.x:a b", "-w", SECRET, "-P", f"x={SECRET}"], [SECRET])
    assert SECRET not in line and "pa ss" not in line
    assert line == f"iscsistart -t 'iqn.x:a b' -w {REDACTED} -P 'x=<redacted>'"


def test_redact_longest_first() -> None:
    assert redact("abcdef abc", ["abc", "abcdef"]) == f"{REDACTED} {REDACTED}"
    assert redact("nothing", ["", "x"]) == "nothing"


def test_clean_env_is_minimal() -> None:
    assert clean_env() == {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}


@pytest.mark.allow_subprocess
def test_child_gets_only_the_clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IBFTKIT_TEST_SECRET", SECRET)
    r = run([sys.executable, "-c", "import os, json; print(json.dumps(dict(os.environ)))"], timeout=30)
    assert r.ok
    import json

    env = json.loads(r.stdout)
    env.pop("LC_CTYPE", None)  # Python's own C-locale coercion (PEP 538) may add it in the child
    assert env == clean_env()


@pytest.mark.allow_subprocess
def test_output_and_debug_lines_are_redacted() -> None:
    log = Lines()
    r = run([sys.executable, "-c", "import sys; print(sys.argv[1]); print('err ' + sys.argv[1], file=sys.stderr)",
             SECRET], timeout=30, secrets=[SECRET], log=log)
    assert r.stdout.strip() == REDACTED and r.stderr.strip() == f"err {REDACTED}"
    assert r.argv[-1] == SECRET  # what ran
    assert SECRET not in r.shown
    assert log.lines and not any(SECRET in ln for ln in log.lines)
    assert log.lines[0].startswith("+ ")


@pytest.fixture(params=["pidfd", "Popen.wait"])
def wait_by(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways to wait for the child: a pidfd (Linux >= 5.3, this machine) and, where there is
    none, ``Popen.wait(timeout=)``."""
    if request.param == "Popen.wait":
        monkeypatch.setattr(run_module, "_pidfd", lambda pid: None)
    return str(request.param)


@pytest.mark.allow_subprocess
def test_the_wait_polls_a_pidfd_where_the_kernel_has_one(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int | None] = []
    ended = run_module._ended

    def spy(proc: object, pidfd: int | None, seconds: float) -> bool:
        seen.append(pidfd)
        return ended(proc, pidfd, seconds)  # type: ignore[arg-type]

    monkeypatch.setattr(run_module, "_ended", spy)
    assert run([sys.executable, "-c", "pass"], timeout=30).ok
    assert seen and all(fd is not None for fd in seen)  # os.pidfd_open: Python 3.9, Linux 5.3
    with pytest.raises(OSError):
        os.fstat(seen[0])  # closed after the wait


@pytest.mark.allow_subprocess
def test_exit_status_and_last_line(wait_by: str) -> None:
    r = run([sys.executable, "-c", "import sys; print('a'); print('first', file=sys.stderr); "
             "print('last', file=sys.stderr); sys.exit(7)"], timeout=30)
    assert r.returncode == 7 and not r.ok and r.last_line() == "last"


@pytest.mark.allow_subprocess
def test_missing_and_not_executable(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as e:
        run([str(tmp_path / "absent")], timeout=5)
    assert e.value.kind == "missing" and "command not found" in str(e.value)
    f = tmp_path / "plain"
    f.write_text("#!/bin/sh\n")
    with pytest.raises(CommandError) as e:
        run([str(f)], timeout=5)
    assert e.value.kind == "not-executable"


@pytest.mark.allow_subprocess
def test_timeout_kills_the_whole_group(tmp_path: Path, wait_by: str) -> None:
    pidfile = tmp_path / "grandchild"
    script = (f"import os, subprocess, sys, time\n"
              f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
              f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
              f"time.sleep(60)\n")
    waits: list[float] = []
    with pytest.raises(CommandError) as e:
        run([sys.executable, "-c", script], timeout=1.5, secrets=[SECRET], on_wait=waits.append, wait_every=0.5)
    assert e.value.kind == "timeout" and "stopped" in str(e.value)
    assert waits  # progress during the wait
    pid = int(pidfile.read_text())
    for _ in range(50):  # reaped by init shortly after SIGKILL
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the grandchild outlived the timeout")


@pytest.mark.allow_subprocess
def test_stdin_is_devnull_and_cwd_root() -> None:
    r = run([sys.executable, "-c", "import os, sys; print(repr(sys.stdin.read())); print(os.getcwd())"], timeout=30)
    assert r.stdout.splitlines() == ["''", "/"]


@pytest.mark.allow_subprocess
def test_a_daemon_left_behind_does_not_hold_the_wait(wait_by: str) -> None:
    """Like iscsid: the command forks a child that keeps stdout/stderr open and exits at once."""
    script = ("import os, sys, time\n"
              "if os.fork() == 0:\n"
              "    time.sleep(5); os._exit(0)\n"
              "print('started')\n")
    r = run([sys.executable, "-c", script], timeout=4)  # waiting for the daemon would raise (timeout)
    assert r.ok and r.stdout.strip() == "started"
