"""The retry loop: every valid target, the boot target first, each with bounded exponential backoff.

A backend (``ibftkit.login.backends``) makes one attempt; this module decides whether and when to
try again (``RetryPolicy``), whether a portal is worth an attempt (``tcp_probe``: a TCP connect to
it first, so that a dead portal costs the probe's timeout, not iscsistart's ≈90 s transport
timeout), and whether the run succeeded (the boot-selected target logged in). The other targets
(multipath) run beside or after the boot target through ``ibftkit.login.paths``: their outcomes are
reported in target order and never decide the run.
"""

# No ``from __future__ import annotations``: typing.NamedTuple compiles every annotation given as text
# when the class is defined (docs/init.md, "Boot time").
import errno
import math
import os
import time
from collections.abc import Callable
from typing import NamedTuple

from ..infra.errors import IscsiLoginError
from ..infra.log import Logger
from ..model import BootConfig, Target
from .argv import target_label
from .backends import Attempt, Backend, session_present
from .paths import Paths, TargetOutcome, ThreadPaths, _log_outcome

Sleep = Callable[[float], None]
#: a check before each attempt: ``None`` when the portal answers, else why not (one phrase)
Probe = Callable[[Target], "str | None"]

__all__ = ["Probe", "RetryPolicy", "TargetOutcome", "login_all", "login_target", "tcp_probe", "worst_case"]


class RetryPolicy(NamedTuple):
    """``retries`` more attempts after the first, waiting ``backoff`` s, then doubling, at most
    ``max_backoff`` s."""

    retries: int = 3
    backoff: float = 2.0
    max_backoff: float = 30.0

    def delays(self) -> list[float]:
        return [min(self.backoff * 2 ** k, self.max_backoff) for k in range(self.retries)]


def tcp_probe(timeout: float, *, meanwhile: Callable[[], object] | None = None) -> Probe:
    """A TCP connect to the target's portal (address, with its zone for a link-local IPv6 portal,
    and port), closed at once, within ``timeout`` s. RFC 7143 §6.1: an iSCSI session starts with
    the initiator's TCP connection to the portal; no answer there means no login can succeed.

    ``meanwhile`` runs once, during the first probe's connect (the first ARP exchange and the SYN's
    answer: 30-140 ms in the TCG guest of the VM tests): ``ibftkit-init`` imports there what the
    login then needs (``ibftkit.infra.run.prepare``). The connect is then a non-blocking
    ``connect(2)`` polled for its end, as ``socket.create_connection`` does it with a timeout
    (CPython ``Modules/socketmodule.c``, ``sock_connect_impl``), for a portal with one address;
    a host name with several addresses goes through ``create_connection`` as before, after
    ``meanwhile``."""
    import socket

    from .argv import login_address

    todo = [meanwhile] if meanwhile is not None else []

    def connect(portal: tuple[bytes | str, int]) -> None:
        if not todo:
            socket.create_connection(portal, timeout=timeout).close()  # type: ignore[arg-type]
            return
        work = todo.pop()
        found = socket.getaddrinfo(portal[0], portal[1], 0, socket.SOCK_STREAM)
        if len(found) != 1:
            work()
            socket.create_connection(portal, timeout=timeout).close()  # type: ignore[arg-type]
            return
        family, kind, proto, _, address = found[0]
        with socket.socket(family, kind, proto) as s:
            s.setblocking(False)
            started = time.monotonic()
            code = s.connect_ex(address)
            work()
            if code not in (0, errno.EINPROGRESS):
                raise OSError(code, os.strerror(code))
            import select

            poller = select.poll()
            poller.register(s, select.POLLOUT)
            left = timeout - (time.monotonic() - started)
            if not poller.poll(max(0, math.ceil(left * 1000))):
                raise TimeoutError
            code = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, os.strerror(code))

    def probe(target: Target) -> str | None:
        try:
            host = login_address(target)
        except IscsiLoginError as e:
            return str(e)
        # An ASCII host as bytes: getaddrinfo() then skips the "idna" codec (encodings.idna and
        # stringprep, imported only for this); create_connection passes it on as it is (typeshed says str).
        try:
            connect((host.encode() if host.isascii() else host, target.port))
            return None
        except TimeoutError:
            return f"no answer within {timeout:g} s"
        except OSError as e:
            from ..infra.errors import errno_text

            text = errno_text(e)
            return text[:1].lower() + text[1:]  # "Connection refused" inside a sentence

    return probe


def worst_case(policy: RetryPolicy, *, login_timeout: float, probe_timeout: float | None) -> tuple[float, float]:
    """(seconds until a target whose portal never answers is given up, seconds at most in any
    case): every attempt's probe or login timeout plus the backoff between attempts."""
    waits = sum(policy.delays())
    attempts = policy.retries + 1
    per = probe_timeout if probe_timeout else login_timeout
    return attempts * per + waits, attempts * ((probe_timeout or 0) + login_timeout) + waits


def login_target(backend: Backend, cfg: BootConfig, target: Target, *, policy: RetryPolicy, log: Logger,
                 sleep: Sleep = time.sleep, boot: bool = True, probe: Probe | None = None,
                 bound: str = "") -> TargetOutcome:
    """Attempts until one logs in, one fails for good, or the policy's retries are spent. With
    ``probe``, each attempt starts with it; a portal that does not answer costs no login attempt
    (the attempt counts, the report names the probe's reason). ``bound``: how long this target may
    still take (``worst_case``), said on the first failure's line."""
    label = target_label(target)
    if not _started_ahead(backend, target) and session_present(target, sys_root=backend.sys_root):
        return TargetOutcome(target, True, 0, f"{label}: already logged in", boot)
    delays = policy.delays()
    total = len(delays) + 1
    attempt = Attempt(False, "not tried")
    for n in range(1, total + 1):
        note = f"; {bound}" if bound and n == 1 and total > 1 else ""
        unreachable = probe(target) if probe is not None else None
        if unreachable is not None:
            _cancel_head_start(backend, target)  # its login must not go out to a portal that does not answer
            attempt = Attempt(False, f"TCP connect to the portal failed: {unreachable}")
            log.progress(f"{label}: TCP connect to the portal failed: {unreachable}; no login attempt"
                         + (f" (attempt {n} of {total}{note})" if total > 1 else ""))
        else:
            if probe is not None:
                log.info(f"{label}: the portal answers (TCP connect)")
            log.progress(f"logging in to {label}" + (f" (attempt {n} of {total})" if n > 1 else ""))
            attempt = backend.login(cfg, target, log)
            if attempt.ok:
                return TargetOutcome(target, True, n, attempt.message, boot)
        if not attempt.retry or n == total:
            break
        delay = delays[n - 1]
        if unreachable is None:
            log.progress(f"login to {label} failed: {attempt.message}; retrying in {delay:g} s{note}")
        sleep(delay)
    backend.cleanup_failed(target)
    tries = f"{n} attempt{'s' if n != 1 else ''}"
    return TargetOutcome(target, False, n, f"{label}: login failed after {tries}; last: {attempt.message}", boot)


def _started_ahead(backend: Backend, target: Target) -> bool:
    """Whether the backend holds a login started ahead for ``target``: a session may then be its own."""
    ahead = getattr(backend, "started_ahead", None)  # test doubles may not have it
    return bool(ahead is not None and ahead(target))


def _cancel_head_start(backend: Backend, target: Target) -> None:
    cancel = getattr(backend, "cancel_head_start", None)  # test doubles may not have it
    if cancel is not None:
        cancel(target)


def login_all(backend: Backend, cfg: BootConfig, *, policy: RetryPolicy, log: Logger,
              sleep: Sleep = time.sleep, probe: Probe | None = None, paths: Paths | None = None,
              background: bool = False, bound: str = "") -> list[TargetOutcome]:
    """Boot-selected target first, then every other valid one (multipath), outcomes in that order.

    ``bound`` (the boot target's ``worst_case``, in words) is said on its first failure's line.
    The other targets go to ``paths`` (default ``ThreadPaths``): side by side among themselves when
    the backend's logins may run at once (``backend.parallel_safe``), else one after another; beside
    the boot login when ``backend.beside_boot`` too, else once it is over. With
    ``background`` (and a ``paths`` that can leave, ``ForkedPaths``), the call returns as soon as
    the boot target is logged in; targets still logging in then come back with ``pending`` set.
    Raises ``IscsiLoginError`` when the boot target did not log in (after the others are done)."""
    order = cfg.login_order()
    if not order:
        raise IscsiLoginError(f"{cfg.source or 'the boot configuration'} has no valid target to log in to")
    backend.prepare(cfg, log)
    boot_target, others = order[0], order[1:]
    runner = paths if paths is not None else ThreadPaths()
    parallel = bool(getattr(backend, "parallel_safe", False))
    beside = parallel and bool(getattr(backend, "beside_boot", parallel))

    def one(target: Target) -> TargetOutcome:
        return login_target(backend, cfg, target, policy=policy, log=log, sleep=sleep, boot=False, probe=probe)

    if others and beside:
        runner.start(others, one, parallel=True)
    boot = login_target(backend, cfg, boot_target, policy=policy, log=log, sleep=sleep, boot=True, probe=probe,
                        bound=bound)
    if boot.ok:
        log.progress(boot.message)
    if others and not beside:
        runner.start(others, one, parallel=parallel)
    rest: list[TargetOutcome] = []
    if others:
        if boot.ok and background:
            now = runner.finished()
            rest = [o if o is not None else TargetOutcome(t, False, 0, f"{target_label(t)}: logging in in the "
                                                          "background", False, pending=True)
                    for t, o in zip(others, now, strict=True)]
            waiting = [o for o in rest if o.pending]
            if waiting:
                runner.leave()
                log.progress(f"{len(waiting)} other path(s) still logging in; they go on in the background "
                             "and report to the kernel log: " + ", ".join(target_label(o.target) for o in waiting))
        else:
            rest = runner.wait()
        if not runner.reports_outcomes:
            for o in rest:
                if not o.pending:
                    _log_outcome(log, o)
    if not boot.ok:
        ok = [o for o in rest if o.ok]
        tail = f"; {len(ok)} other path(s) logged in" if ok else ""
        raise IscsiLoginError(boot.message + tail)
    return [boot, *rest]
