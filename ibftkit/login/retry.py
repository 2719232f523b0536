"""The retry loop: every valid target, the boot target first, each with bounded exponential backoff.

A backend (``ibftkit.login.backends``) makes one attempt; this module decides whether and when to
try again (``RetryPolicy``) and whether the run succeeded (the boot-selected target logged in).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

from ..infra.errors import IscsiLoginError
from ..infra.log import Logger
from ..model import BootConfig, Target
from .argv import target_label
from .backends import Attempt, Backend, session_present

Sleep = Callable[[float], None]


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
