"""The two login backends: each makes one login attempt for one target and cleans up after a failure.

``iscsistart`` backend (open-iscsi ``usr/iscsistart.c``): one process per target with the argv of
``ibftkit.login.argv.iscsistart_argv``. Debian's 2.1.8 takes CHAP for an explicit login *only* on its
command line: a ``-c`` file's ``node.session.auth.*`` was measured to be ignored (``docs/init.md``, "Login backends"),
and there is no environment or stdin input. So the secrets are on that one argv, visible in
``/proc/<pid>/cmdline`` for the 1-3 s the login takes, and nowhere else (not in the child's
environment, not in any log line or message).

``iscsiadm`` backend: keeps secrets off every argv. The node record (``node.session.auth.*``
included) is written to ``/etc/iscsi/nodes/<target>/<address>,<port>,<tpgt>/default`` with mode
0600 in 0700 directories, ``iscsid -i FILE`` is started with a private initiator-name file when no
iscsid runs, then ``iscsiadm -m node -T TARGET -p ADDRESS:PORT,TPGT -I default --login``. A
failed target's record is removed again.
"""

# No ``from __future__ import annotations``: typing.NamedTuple compiles every annotation given as text
# when the class is defined (docs/init.md, "Boot time").
import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from ..infra.errors import IscsiLoginError
from ..infra.log import Logger
from ..infra.run import CommandError, Result, Running, run, start
from ..model import BootConfig, Target
from .argv import (
    DEFAULT_TPGT,
    NODE_DIR,
    ROOT_DISK_PARAMS,
    _portal,
    iscsistart_argv,
    node_record,
    record_path,
    target_label,
)

RUN_DIR = "/run/ibftkit"
ISCSID_PIDFILE = "/run/iscsid.pid"
# open-iscsi include/iscsi_err.h: the codes worth naming in a message
ISCSI_ERRORS = {5: "login failure", 7: "invalid arguments", 8: "transport timeout", 15: "session exists",
                19: "login failed (target refused)", 20: "could not connect to iscsid",
                24: "authorization failure (CHAP name or secret wrong?)"}
_ERR_IN_TEXT = re.compile(r"\((\d+) - ")



# --- sessions already there ----------------------------------------------------------------------


def session_present(target: Target, *, sys_root: str = "/") -> bool:
    """A kernel iSCSI session to this target name and portal (``/sys/class/iscsi_session`` and
    ``iscsi_connection``: ``targetname``, ``persistent_address``, ``persistent_port``)."""
    sessions = Path(sys_root) / "sys/class/iscsi_session"
    try:
        entries = list(sessions.iterdir())
    except OSError:
        return False
    want = {str(target.address)}
    try:
        want.add(str(ipaddress.ip_address(str(target.address))))
    except ValueError:
        pass
    for s in entries:
        try:
            if (s / "targetname").read_text().strip() != target.name:
                continue
        except OSError:
            continue
        sid = s.name.removeprefix("session")
        conns = Path(sys_root) / "sys/class/iscsi_connection"
        try:
            for c in conns.iterdir():
                if c.name.removeprefix("connection").split(":")[0] != sid:
                    continue
                addr = (c / "persistent_address").read_text().strip()
                port = (c / "persistent_port").read_text().strip()
                if addr in want and port == str(target.port):
                    return True
        except OSError:
            continue
    return False


# --- backends ------------------------------------------------------------------------------------


#: a target's portal as a key: (target name, address, port)
Portal = tuple[str | None, str | None, int]


def tpgt_of(tpgts: Mapping[Portal, int], target: Target) -> int:
    """The target portal group tag to log in with (``-g``): given for this portal, else 1, as
    iscsistart and Debian's script default (a different TPGT from the target is accepted, open-iscsi
    ``usr/login.c``)."""
    return tpgts.get((target.name, target.address, target.port), DEFAULT_TPGT)


class Attempt(NamedTuple):
    ok: bool
    message: str
    retry: bool = True  # False: trying again cannot help (missing program, rejected arguments)


class PlannedCommand(NamedTuple):
    """One thing a backend will do for a target, as the dry run shows it (secrets redacted)."""

    text: str


def _exit_text(r: Result, program: str) -> str:
    """``PROGRAM exit N: …`` naming open-iscsi's error code (``include/iscsi_err.h``) when there is one."""
    code = r.returncode
    m = _ERR_IN_TEXT.findall(r.stderr + r.stdout)
    detail = r.last_line()
    if m and int(m[-1]) in ISCSI_ERRORS:
        detail = f"error {m[-1]}: {ISCSI_ERRORS[int(m[-1])]}"
    elif code in ISCSI_ERRORS and code not in (1,):
        detail = f"error {code}: {ISCSI_ERRORS[code]}" + (f" ({detail})" if detail else "")
    return f"{os.path.basename(program)} exit {code}" + (f": {detail}" if detail else "")


class IscsistartBackend:
    name = "iscsistart"
    #: each iscsistart serves its own login on a socket of its own; measured side by side in a VM
    #: (``ibftkit.login.paths``; docs/init.md, "Multipath boots")
    parallel_safe = True
    #: but not beside the boot target's: there one of two side-by-side logins mostly ended a second
    #: after the other, either one (a child late to bind its socket: the parent retries after 1 s)
    beside_boot = False

    def __init__(self, program: str = "iscsistart", *, params: Sequence[tuple[str, str]] = ROOT_DISK_PARAMS,
                 sys_root: str = "/", timeout: float = 120.0, tpgts: Mapping[Portal, int] | None = None) -> None:
        self.tpgts = dict(tpgts or {})
        self.program = program
        self.params = tuple(params)
        self.sys_root = sys_root
        self.timeout = timeout
        self._early: dict[int, Running] = {}

    def prepare(self, cfg: BootConfig, log: Logger) -> None:
        pass

    def plan(self, cfg: BootConfig, target: Target) -> list[PlannedCommand]:
        from ..infra.run import shown

        return [PlannedCommand(shown(iscsistart_argv(cfg, target, program=self.program, params=self.params,
                               tpgt=tpgt_of(self.tpgts, target)),
                                     target.secrets()))]

    #: iscsistart's parent sleeps this long after forking its event loop, before it sends the login
    #: request (open-iscsi ``usr/iscsistart.c``, ``main()``: ``sleep(1)``): a process started this
    #: long before the portal is reachable loses no time (:meth:`head_start`)
    head_start_s = 1.0

    def head_start(self, cfg: BootConfig, target: Target, log: Logger) -> bool:
        """Start iscsistart for ``target`` now, while the network's last steps are still applied:
        its login request leaves :attr:`head_start_s` seconds later. The next :meth:`login` of this
        target waits for this process instead of starting one; :meth:`cancel_head_start` stops it
        (a portal that does not answer the TCP probe, a network that failed). False when nothing
        was started (a session exists, or iscsistart cannot be run: the login then says why)."""
        if target.index in self._early or session_present(target, sys_root=self.sys_root):
            return False
        try:
            self._early[target.index] = start(self._argv(cfg, target), secrets=cfg.secrets(), log=log)
        except CommandError:
            return False
        log.info(f"started iscsistart for {target_label(target)} now: it sends its login "
                 f"{self.head_start_s:g} s later, once the network is configured")
        return True

    def started_ahead(self, target: Target) -> bool:
        return target.index in self._early

    def cancel_head_start(self, target: Target | None = None) -> None:
        """Stop the process :meth:`head_start` left for ``target`` (every target: ``None``)."""
        for index in [target.index] if target is not None else list(self._early):
            running = self._early.pop(index, None)
            if running is not None:
                running.stop()

    def _argv(self, cfg: BootConfig, target: Target) -> list[str]:
        return iscsistart_argv(cfg, target, program=self.program, params=self.params,
                               tpgt=tpgt_of(self.tpgts, target))

    def login(self, cfg: BootConfig, target: Target, log: Logger) -> Attempt:
        label = target_label(target)
        running = self._early.pop(target.index, None)  # started by head_start

        def on_wait(s: float) -> None:
            log.progress(f"waiting for the login to {label} ({s:.0f} s)")

        try:
            r = (running.finish(timeout=self.timeout, on_wait=on_wait) if running is not None
                 else run(self._argv(cfg, target), timeout=self.timeout, secrets=cfg.secrets(), log=log,
                          on_wait=on_wait))
        except CommandError as e:
            return Attempt(False, str(e), retry=e.kind == "timeout")
        if r.ok:
            return Attempt(True, f"logged in to {label} in {r.seconds:.1f} s")
        if "session exists" in (r.stderr + r.stdout) and session_present(target, sys_root=self.sys_root):
            return Attempt(True, f"{label}: a session exists already")
        return Attempt(False, _exit_text(r, self.program), retry=r.returncode != 7)

    def cleanup_failed(self, target: Target) -> None:
        pass


class IscsiadmBackend:
    name = "iscsiadm"
    #: iscsid serves several iscsiadm logins at once (one node record each)
    parallel_safe = True
    beside_boot = True

    def __init__(self, iscsiadm: str = "iscsiadm", iscsid: str = "iscsid", *,
                 params: Sequence[tuple[str, str]] = ROOT_DISK_PARAMS, node_dir: str = NODE_DIR,
                 run_dir: str = RUN_DIR, pidfile: str = ISCSID_PIDFILE, sys_root: str = "/",
                 timeout: float = 120.0, tpgts: Mapping[Portal, int] | None = None) -> None:
        self.tpgts = dict(tpgts or {})
        self.iscsiadm = iscsiadm
        self.iscsid = iscsid
        self.params = tuple(params)
        self.node_dir = node_dir
        self.run_dir = run_dir
        self.pidfile = pidfile
        self.sys_root = sys_root
        self.timeout = timeout
        self.written: dict[int, Path] = {}

    def head_start(self, cfg: BootConfig, target: Target, log: Logger) -> bool:
        """Nothing to start ahead: iscsid (:meth:`prepare`) logs in as soon as iscsiadm asks."""
        return False

    def started_ahead(self, target: Target) -> bool:
        return False

    def cancel_head_start(self, target: Target | None = None) -> None:
        pass

    def _login_argv(self, target: Target) -> list[str]:
        return [self.iscsiadm, "-m", "node", "-T", str(target.name), "-p", _portal(target, tpgt_of(self.tpgts, target)),
                "-I", "default", "--login"]

    def _iscsid_argv(self) -> list[str]:
        return [self.iscsid, "-i", str(Path(self.run_dir) / "initiatorname.iscsi"), "-p", self.pidfile]

    def _iscsid_running(self) -> bool:
        try:
            pid = int(Path(self.pidfile).read_text().split()[0])
            os.kill(pid, 0)
            return True
        except (OSError, ValueError, IndexError):
            return False

    def plan(self, cfg: BootConfig, target: Target) -> list[PlannedCommand]:
        from ..infra.run import shown

        path = record_path(target, node_dir=self.node_dir, tpgt=tpgt_of(self.tpgts, target))
        return [PlannedCommand(f"write {path} (mode 0600; holds the CHAP secrets)" if target.secrets()
                               else f"write {path} (mode 0600)"),
                PlannedCommand(shown(self._login_argv(target)))]

    def prepare(self, cfg: BootConfig, log: Logger) -> None:
        """Start iscsid with this boot's initiator name unless one runs already."""
        if self._iscsid_running():
            log.info(f"iscsid is running (pid file {self.pidfile})")
            return
        assert cfg.initiator is not None and cfg.initiator.name
        run_dir = Path(self.run_dir)
        run_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        (run_dir / "initiatorname.iscsi").write_text(f"InitiatorName={cfg.initiator.name}\n")
        try:
            r = run(self._iscsid_argv(), timeout=30, log=log)
        except CommandError as e:
            raise IscsiLoginError(f"cannot start iscsid: {e}") from None
        if not r.ok:
            raise IscsiLoginError(f"iscsid did not start: {_exit_text(r, self.iscsid)}")

    def _write_record(self, cfg: BootConfig, target: Target) -> Path:
        path = record_path(target, node_dir=self.node_dir, tpgt=tpgt_of(self.tpgts, target))
        text = node_record(cfg, target, params=self.params, tpgt=tpgt_of(self.tpgts, target))
        old = os.umask(0o077)
        try:
            for d in reversed([path.parent, path.parent.parent, Path(self.node_dir)]):
                d.mkdir(mode=0o700, parents=True, exist_ok=True)
            from ..infra.files import SECRET, write_atomic  # here: only the iscsiadm backend writes

            write_atomic(path, text, mode=SECRET)  # it holds the CHAP secrets
        finally:
            os.umask(old)
        self.written[target.index] = path
        return path

    def login(self, cfg: BootConfig, target: Target, log: Logger) -> Attempt:
        label = target_label(target)
        try:
            path = self._write_record(cfg, target)
        except OSError as e:
            return Attempt(False, f"cannot write the node record: {e.strerror or e}", retry=False)
        log.info(f"wrote node record {path} (mode 0600)")
        try:
            r = run(self._login_argv(target), timeout=self.timeout, secrets=cfg.secrets(), log=log,
                    on_wait=lambda s: log.progress(f"waiting for the login to {label} ({s:.0f} s)"))
        except CommandError as e:
            return Attempt(False, str(e), retry=e.kind == "timeout")
        if r.ok:
            return Attempt(True, f"logged in to {label} in {r.seconds:.1f} s")
        if r.returncode == 15:
            return Attempt(True, f"{label}: a session exists already")
        return Attempt(False, _exit_text(r, self.iscsiadm), retry=r.returncode != 7)

    def cleanup_failed(self, target: Target) -> None:
        """Leave no secret behind for a target that never logged in."""
        path = self.written.pop(target.index, None)
        if path is None:
            return
        path.unlink(missing_ok=True)
        for d in (path.parent, path.parent.parent):
            try:
                d.rmdir()
            except OSError:
                break


Backend = IscsistartBackend | IscsiadmBackend
