"""Logging in to the boot target(s): argv builders, two backends, and the retry loop.

``iscsistart`` backend (open-iscsi ``usr/iscsistart.c``; ``shared/reference/rootpath.md`` §4):
one process per target, ``-i INITIATOR -t TARGET -g TPGT -a ADDRESS -p PORT`` (``-a`` takes the
address unbracketed: it goes to ``getaddrinfo``), CHAP as ``-u NAME -w SECRET`` and mutual CHAP as
``-U NAME -W SECRET``, settings as ``-P NAME=VALUE`` (split at the first ``=``; an empty value
is exit 7). Debian's 2.1.8 takes CHAP for an explicit login *only* on its command line: a ``-c``
file's ``node.session.auth.*`` was measured to be ignored (``shared/reference/vm-boot.md``), and
there is no environment or stdin input. So the secrets are on that one argv, visible in
``/proc/<pid>/cmdline`` for the 1-3 s the login takes, and nowhere else (not in the child's
environment, not in any log line or message).

``iscsiadm`` backend: keeps secrets off every argv. The node record (``node.session.auth.*``
included) is written to ``/etc/iscsi/nodes/<target>/<address>,<port>,<tpgt>/default`` with mode
0600 in 0700 directories (the layout ``iscsiadm -m node -o new`` writes; unset keys take
iscsiadm's defaults), ``iscsid -i FILE`` is started with a private initiator-name file when no
iscsid runs, then ``iscsiadm -m node -T TARGET -p ADDRESS:PORT,TPGT -I default --login``. A
failed target's record is removed again.

Root-disk settings (open-iscsi README §8.2 "iSCSI settings for iSCSI root"):
``replacement_timeout=86400`` and NOP-outs off; plus ``initial_login_retry_max=3`` (dracut's
``rd.iscsi.login_retry_max`` default) so one attempt is bounded and ibftkit's own retry loop
(bounded exponential backoff per target) decides. Every one can be overridden with ``--param``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from .errors import IscsiLoginError, UsageError
from .model import BootConfig, ChapType, Target
from .run import CommandError, Result, run

DEFAULT_TPGT = 1
ROOT_DISK_PARAMS: tuple[tuple[str, str], ...] = (
    ("node.session.timeo.replacement_timeout", "86400"),
    ("node.conn[0].timeo.noop_out_interval", "0"),
    ("node.conn[0].timeo.noop_out_timeout", "0"),
    ("node.session.initial_login_retry_max", "3"),
)
NODE_DIR = "/etc/iscsi/nodes"
RUN_DIR = "/run/ibftkit"
ISCSID_PIDFILE = "/run/iscsid.pid"
_PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\[\]]*")
# open-iscsi include/iscsi_err.h: the codes worth naming in a message
ISCSI_ERRORS = {5: "login failure", 7: "invalid arguments", 8: "transport timeout", 15: "session exists",
                19: "login failed (target refused)", 20: "could not connect to iscsid",
                24: "authorization failure (CHAP name or secret wrong?)"}
_ERR_IN_TEXT = re.compile(r"\((\d+) - ")

Sleep = Callable[[float], None]


class Logger(Protocol):
    def progress(self, text: str) -> None: ...
    def info(self, text: str) -> None: ...
    def warning(self, text: str) -> None: ...
    def debug(self, text: str) -> None: ...


# --- parameters ----------------------------------------------------------------------------------


def parse_param(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` as ``iscsistart -P`` splits it (first ``=``). Refuses what would break the
    record or leak: empty value (iscsistart exit 7), control characters, any ``*password*`` name
    (CHAP comes from the boot configuration, never from a logged command line)."""
    name, eq, value = text.partition("=")
    name = name.strip()
    if not eq or not _PARAM_NAME.fullmatch(name):
        raise UsageError(f"--param {text!r}: expected NAME=VALUE, like node.session.timeo.replacement_timeout=120")
    if value == "":
        raise UsageError(f"--param {name}=: empty value (iscsistart refuses it)")
    if any(not c.isprintable() for c in value):
        raise UsageError(f"--param {name}: the value has control characters")
    if "password" in name.lower():
        raise UsageError(f"--param {name}: CHAP secrets come from the boot configuration, not --param "
                         "(a command-line secret would be logged)")
    return name, value


def merge_params(overrides: Sequence[tuple[str, str]],
                 defaults: Sequence[tuple[str, str]] = ROOT_DISK_PARAMS) -> tuple[tuple[str, str], ...]:
    """Defaults in their order, each replaced by an override of the same name; new names after."""
    merged = dict(defaults)
    for name, value in overrides:
        merged[name] = value
    return tuple(merged.items())


# --- what a login needs --------------------------------------------------------------------------


def target_label(t: Target) -> str:
    addr = t.address or "?"
    host = f"[{addr}]" if ":" in addr else addr
    return f"target[{t.index}] {t.name or '?'} at {host}:{t.port}"


def login_problems(cfg: BootConfig, target: Target) -> list[str]:
    """Why ``target`` cannot be logged in to from ``cfg`` (empty: it can)."""
    out = []
    if cfg.initiator is None or not cfg.initiator.name:
        out.append("no initiator name (give --initiator-name, rd.iscsi.initiator= or DHCP option 203)")
    if not target.name:
        out.append(f"target[{target.index}] has no target name")
    if not target.address:
        out.append(f"target[{target.index}] has no address")
    if not 0 < target.port < 65536:
        out.append(f"target[{target.index}] port {target.port} (expected 1..65535)")
    return out


def _credentials(t: Target) -> list[tuple[str, str, bool]]:
    """``(option, value, secret?)`` for iscsistart's CHAP options."""
    out: list[tuple[str, str, bool]] = []
    if t.chap_type in (ChapType.CHAP, ChapType.MUTUAL) and t.chap_secret is not None and len(t.chap_secret):
        if t.chap_name:
            out.append(("-u", t.chap_name, False))
        out.append(("-w", t.chap_secret.reveal(), True))
        if t.chap_type == ChapType.MUTUAL and t.reverse_chap_secret is not None and len(t.reverse_chap_secret):
            if t.reverse_chap_name:
                out.append(("-U", t.reverse_chap_name, False))
            out.append(("-W", t.reverse_chap_secret.reveal(), True))
    return out


def iscsistart_argv(cfg: BootConfig, target: Target, *, program: str = "iscsistart",
                    params: Sequence[tuple[str, str]] = ROOT_DISK_PARAMS, tpgt: int = DEFAULT_TPGT) -> list[str]:
    """The exact ``iscsistart`` command for one target (CHAP secrets included: never log it raw)."""
    problems = login_problems(cfg, target)
    if problems:
        raise IscsiLoginError(f"{target_label(target)}: " + "; ".join(problems))
    assert cfg.initiator is not None and cfg.initiator.name and target.name and target.address
    argv = [program, "-i", cfg.initiator.name, "-t", target.name, "-g", str(tpgt),
            "-a", target.address, "-p", str(target.port)]
    for opt, value, _secret in _credentials(target):
        argv += [opt, value]
    for name, value in params:
        argv += ["-P", f"{name}={value}"]
    return argv


def _portal(target: Target, tpgt: int) -> str:
    addr = target.address or ""
    return f"[{addr}]:{target.port},{tpgt}" if ":" in addr else f"{addr}:{target.port},{tpgt}"


def node_record(cfg: BootConfig, target: Target, *, params: Sequence[tuple[str, str]] = ROOT_DISK_PARAMS,
                tpgt: int = DEFAULT_TPGT) -> str:
    """An open-iscsi node record (``# BEGIN RECORD`` … as ``iscsiadm -m node -o new`` writes it;
    keys left out take iscsiadm's defaults). Holds the CHAP secrets: write it mode 0600."""
    problems = login_problems(cfg, target)
    if problems:
        raise IscsiLoginError(f"{target_label(target)}: " + "; ".join(problems))
    assert cfg.initiator is not None
    rows = [("node.name", target.name), ("node.tpgt", str(tpgt)), ("node.startup", "onboot"),
            ("iface.iscsi_ifacename", "default"), ("iface.transport_name", "tcp"),
            ("iface.initiatorname", cfg.initiator.name)]
    creds = {opt: value for opt, value, _ in _credentials(target)}
    if "-w" in creds:
        rows.append(("node.session.auth.authmethod", "CHAP"))
        for opt, key in (("-u", "username"), ("-w", "password"), ("-U", "username_in"), ("-W", "password_in")):
            if opt in creds:
                rows.append((f"node.session.auth.{key}", creds[opt]))
    rows += [("node.conn[0].address", target.address), ("node.conn[0].port", str(target.port))]
    rows += list(params)
    body = "".join(f"{k} = {v}\n" for k, v in rows)
    return f"# BEGIN RECORD 2.1.8\n{body}# END RECORD\n"


def record_path(target: Target, *, node_dir: str = NODE_DIR, tpgt: int = DEFAULT_TPGT) -> Path:
    return Path(node_dir) / str(target.name) / f"{target.address},{target.port},{tpgt}" / "default"


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


class Attempt(NamedTuple):
    ok: bool
    message: str
    retry: bool = True  # False: trying again cannot help (missing program, rejected arguments)


class PlannedCommand(NamedTuple):
    """One thing a backend will do for a target, as the dry run shows it (secrets redacted)."""

    text: str


def _why(r: Result, program: str) -> str:
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

    def __init__(self, program: str = "iscsistart", *, params: Sequence[tuple[str, str]] = ROOT_DISK_PARAMS,
                 sys_root: str = "/", timeout: float = 120.0) -> None:
        self.program = program
        self.params = tuple(params)
        self.sys_root = sys_root
        self.timeout = timeout

    def prepare(self, cfg: BootConfig, log: Logger) -> None:
        pass

    def plan(self, cfg: BootConfig, target: Target) -> list[PlannedCommand]:
        from .run import shown

        return [PlannedCommand(shown(iscsistart_argv(cfg, target, program=self.program, params=self.params),
                                     target.secrets()))]

    def login(self, cfg: BootConfig, target: Target, log: Logger) -> Attempt:
        argv = iscsistart_argv(cfg, target, program=self.program, params=self.params)
        label = target_label(target)
        try:
            r = run(argv, timeout=self.timeout, secrets=cfg.secrets(), log=log,
                    on_wait=lambda s: log.progress(f"waiting for the login to {label} ({s:.0f} s)"))
        except CommandError as e:
            return Attempt(False, str(e), retry=e.kind == "timeout")
        if r.ok:
            return Attempt(True, f"logged in to {label} in {r.seconds:.1f} s")
        if "session exists" in (r.stderr + r.stdout) and session_present(target, sys_root=self.sys_root):
            return Attempt(True, f"{label}: a session exists already")
        return Attempt(False, _why(r, self.program), retry=r.returncode != 7)

    def cleanup_failed(self, target: Target) -> None:
        pass


class IscsiadmBackend:
    name = "iscsiadm"

    def __init__(self, iscsiadm: str = "iscsiadm", iscsid: str = "iscsid", *,
                 params: Sequence[tuple[str, str]] = ROOT_DISK_PARAMS, node_dir: str = NODE_DIR,
                 run_dir: str = RUN_DIR, pidfile: str = ISCSID_PIDFILE, sys_root: str = "/",
                 timeout: float = 120.0) -> None:
        self.iscsiadm = iscsiadm
        self.iscsid = iscsid
        self.params = tuple(params)
        self.node_dir = node_dir
        self.run_dir = run_dir
        self.pidfile = pidfile
        self.sys_root = sys_root
        self.timeout = timeout
        self.written: dict[int, Path] = {}

    def _login_argv(self, target: Target) -> list[str]:
        return [self.iscsiadm, "-m", "node", "-T", str(target.name), "-p", _portal(target, DEFAULT_TPGT),
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
        from .run import shown

        path = record_path(target, node_dir=self.node_dir)
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
            raise IscsiLoginError(f"iscsid did not start: {_why(r, self.iscsid)}")

    def _write_record(self, cfg: BootConfig, target: Target) -> Path:
        path = record_path(target, node_dir=self.node_dir)
        text = node_record(cfg, target, params=self.params)
        old = os.umask(0o077)
        try:
            for d in reversed([path.parent, path.parent.parent, Path(self.node_dir)]):
                d.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.ibftkit")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, path)
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
        return Attempt(False, _why(r, self.iscsiadm), retry=r.returncode != 7)

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


# --- the retry loop ------------------------------------------------------------------------------


class RetryPolicy(NamedTuple):
    """``retries`` more attempts after the first, waiting ``backoff`` s, then doubling, at most
    ``max_backoff`` s."""

    retries: int = 3
    backoff: float = 2.0
    max_backoff: float = 30.0

    def delays(self) -> list[float]:
        return [min(self.backoff * 2 ** k, self.max_backoff) for k in range(self.retries)]


class TargetOutcome(NamedTuple):
    target: Target
    ok: bool
    attempts: int
    message: str
    boot: bool


def login_target(backend: Backend, cfg: BootConfig, target: Target, *, policy: RetryPolicy, log: Logger,
                 sleep: Sleep = time.sleep, boot: bool = True) -> TargetOutcome:
    label = target_label(target)
    if session_present(target, sys_root=backend.sys_root):
        return TargetOutcome(target, True, 0, f"{label}: already logged in", boot)
    delays = policy.delays()
    total = len(delays) + 1
    attempt = Attempt(False, "not tried")
    for n in range(1, total + 1):
        log.progress(f"logging in to {label}" + (f" (attempt {n} of {total})" if n > 1 else ""))
        attempt = backend.login(cfg, target, log)
        if attempt.ok:
            return TargetOutcome(target, True, n, attempt.message, boot)
        if not attempt.retry or n == total:
            break
        delay = delays[n - 1]
        log.progress(f"login to {label} failed: {attempt.message}; retrying in {delay:g} s")
        sleep(delay)
    backend.cleanup_failed(target)
    tries = f"{n} attempt{'s' if n != 1 else ''}"
    return TargetOutcome(target, False, n, f"{label}: login failed after {tries}; last: {attempt.message}", boot)


def login_all(backend: Backend, cfg: BootConfig, *, policy: RetryPolicy, log: Logger,
              sleep: Sleep = time.sleep) -> list[TargetOutcome]:
    """Boot-selected target first, then every other valid one (multipath). Raises
    ``IscsiLoginError`` when the boot target did not log in (after trying the others)."""
    order = cfg.login_order()
    if not order:
        raise IscsiLoginError(f"{cfg.source or 'the boot configuration'} has no valid target to log in to")
    backend.prepare(cfg, log)
    outcomes = []
    for k, target in enumerate(order):
        out = login_target(backend, cfg, target, policy=policy, log=log, sleep=sleep, boot=k == 0)
        outcomes.append(out)
        if out.ok:
            log.progress(out.message)
        elif k:
            log.warning(f"{out.message} (another path; the boot target is what counts)")
    boot = outcomes[0]
    if not boot.ok:
        others = [o for o in outcomes[1:] if o.ok]
        tail = f"; {len(others)} other path(s) logged in" if others else ""
        raise IscsiLoginError(boot.message + tail)
    return outcomes
