"""The logins to the targets other than the boot target (multipath): beside it, after it, or in the
background once it is logged in.

``login.retry.login_all`` logs in to the boot-selected target in the calling thread and hands the
other targets to one of these runners:

``ThreadPaths``
    in this process. With a backend whose logins may run side by side (``parallel_safe``: both
    backends), one thread per target, at most :data:`MAX_PARALLEL` logging in at once, started
    with the boot login (``beside_boot``: iscsiadm) or once it is over (iscsistart); otherwise one
    thread that logs in to them one after another. ``wait()`` returns when all are done: nothing is
    left behind.
``ForkedPaths``
    the same in a child process (``os.fork``), which sends each outcome back through a pipe. Once
    the boot target is logged in the caller (``ibftkit-init``) returns; the child goes on, bounded
    by the retry policy and the login timeout (``retry.worst_case``), logs every outcome in target
    order to the kernel log (its stdout and stderr are /dev/null, so nobody waits for it), and calls
    ``on_done`` with them (the hand-off for the real root), then exits.

Side by side with ``iscsistart`` too: each ``iscsistart`` (open-iscsi ``usr/iscsistart.c``, ``main``)
forks a child that serves its parent's login request on an abstract Unix socket of its own,
``ISCSIADM_ABSTRACT_NAMESPACE-<child pid>`` (``iscsid_set_namespace``, ``usr/iscsid_req.c``; since
open-iscsi 2.0.877, "iscsistart: prevent unix socket cross-talk"; Debian 12 ships 2.1.8), and the
kernel numbers each session, which makes its ISID (``usr/initiator.c``). Measured in a VM, two and
three at once, repeated (``tools/vm/side-by-side``; docs/init.md, "Multipath boots"): every session
came up, each from its own process, no ISID clash, no error in the kernel log; but one of two
ended about a second after the other, either one, so the boot target's login runs alone first.
``iscsid`` serves many ``iscsiadm`` logins at once.
"""

# No ``from __future__ import annotations``: typing.NamedTuple compiles every annotation given as text
# when the class is defined (docs/init.md, "Boot time").
import os
import select
import threading
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from ..infra.log import Logger
from ..model import Target


class TargetOutcome(NamedTuple):
    """One target's login: logged in or not, after how many attempts, the one-line report;
    ``pending``: still logging in, in the background, when the caller returned."""

    target: Target
    ok: bool
    attempts: int
    message: str
    boot: bool
    pending: bool = False


LoginOne = Callable[[Target], TargetOutcome]
#: at most this many other paths log in at once (beside the boot target's login)
MAX_PARALLEL = 4
OnDone = Callable[[list[TargetOutcome]], None]


class Paths(Protocol):
    #: True: the runner itself logs each outcome (in target order), so the caller must not
    reports_outcomes: bool

    def start(self, targets: Sequence[Target], login: LoginOne, *, parallel: bool) -> None: ...

    def finished(self) -> list[TargetOutcome | None]:
        """The outcomes known now, in target order (``None``: still logging in); does not wait."""
        ...

    def wait(self) -> list[TargetOutcome]:
        """Every outcome, in target order (waits for the last one)."""
        ...

    def leave(self) -> None:
        """The caller returns: what is still running goes on without it (``ForkedPaths``) or is
        waited for (``ThreadPaths``)."""
        ...


class ThreadPaths:
    """The other targets in this process's threads."""

    reports_outcomes = False

    def __init__(self, limit: int = MAX_PARALLEL) -> None:
        self.results: list[TargetOutcome | None] = []
        self.threads: list[threading.Thread] = []
        self.slots = threading.BoundedSemaphore(max(1, limit))

    def start(self, targets: Sequence[Target], login: LoginOne, *, parallel: bool) -> None:
        """``parallel``: one thread per target, at most ``limit`` logging in at once; else one thread,
        the targets in order."""
        self.results = [None] * len(targets)

        def one(k: int) -> None:
            with self.slots:
                self.results[k] = login(targets[k])

        def in_order() -> None:
            for k in range(len(targets)):
                one(k)

        if parallel:
            self.threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(len(targets))]
        else:
            self.threads = [threading.Thread(target=in_order, daemon=True)]
        for t in self.threads:
            t.start()

    def finished(self) -> list[TargetOutcome | None]:
        return list(self.results)

    def wait(self) -> list[TargetOutcome]:
        for t in self.threads:
            t.join()
        assert all(r is not None for r in self.results)
        return [r for r in self.results if r is not None]

    def leave(self) -> None:
        self.wait()


def _detach() -> None:
    """The child's stdin, stdout and stderr on /dev/null: whoever runs ``ibftkit-init`` and reads its
    output to the end (a pipe, ``$(…)``) must not wait for the background paths; their lines go to
    the kernel log (``Log`` keeps its own ``/dev/kmsg`` descriptor)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def _log_outcome(log: Logger, out: TargetOutcome) -> None:
    """The one line for another path's outcome (the boot target's is the caller's)."""
    if out.ok:
        log.progress(out.message)
    else:
        log.warning(f"{out.message} (another path; the boot target is what counts)")


def _outcome_line(k: int, out: TargetOutcome) -> bytes:
    import json  # here: only a multipath boot's child sends outcomes (start-up, docs/init.md "Boot time")

    return (json.dumps({"k": k, "ok": out.ok, "attempts": out.attempts, "message": out.message}) + "\n").encode()


class ForkedPaths:
    """The other targets in a child process that outlives the caller once the boot target is in."""

    reports_outcomes = True

    def __init__(self, log: Logger, on_done: OnDone | None = None) -> None:
        self.log = log
        self.on_done = on_done
        self.targets: list[Target] = []
        self.results: list[TargetOutcome | None] = []
        self.pid = 0
        self.fd = -1
        self.buf = b""

    def start(self, targets: Sequence[Target], login: LoginOne, *, parallel: bool) -> None:
        self.targets = list(targets)
        self.results = [None] * len(targets)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the caller's code
            status = 0
            try:
                os.close(r)
                _detach()
                reopen = getattr(self.log, "reopen_kmsg", None)  # a Logger may have no kernel log
                if reopen is not None:
                    reopen()  # the child's lines get a rate-limit budget of their own
                self._child(w, login, parallel)
            except BaseException as e:  # noqa: BLE001 - a child must end here, whatever happened
                status = 1
                try:  # one line where its outcomes would have gone (the kernel log)
                    self.log.warning(f"the other paths' background process stopped: {type(e).__name__}: {e}")
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                os._exit(status)
        os.close(w)
        self.pid, self.fd = pid, r

    def _child(self, w: int, login: LoginOne, parallel: bool) -> None:
        inner = ThreadPaths()
        lock = threading.Lock()
        known: dict[int, TargetOutcome] = {}
        shown = 0

        def report(k: int, out: TargetOutcome) -> TargetOutcome:
            nonlocal shown
            with lock:
                try:
                    os.write(w, _outcome_line(k, out))
                except OSError:  # the caller returned: stderr and the kernel log are where this goes
                    pass
                known[k] = out
                while shown in known:  # every outcome, in target order, as soon as the ones before are known
                    _log_outcome(self.log, known[shown])
                    shown += 1
            return out

        index = {id(t): k for k, t in enumerate(self.targets)}
        inner.start(self.targets, lambda t: report(index[id(t)], login(t)), parallel=parallel)
        outcomes = inner.wait()
        if self.on_done is not None:
            self.on_done(outcomes)

    def _read(self, timeout: float | None) -> bool:
        """Read what the child sent within ``timeout`` s (None: until it is done); False at its end."""
        while True:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return True
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return False
            self.buf += chunk
            *lines, self.buf = self.buf.split(b"\n")
            for line in lines:
                import json

                d = json.loads(line)
                t = self.targets[d["k"]]
                self.results[d["k"]] = TargetOutcome(t, d["ok"], d["attempts"], d["message"], False)
            if timeout is not None:
                timeout = 0

    def finished(self) -> list[TargetOutcome | None]:
        if self.fd >= 0:
            self._read(0)
        return list(self.results)

    def wait(self) -> list[TargetOutcome]:
        if self.fd >= 0:
            while self._read(None):
                pass
            os.close(self.fd)
            self.fd = -1
            os.waitpid(self.pid, 0)
        return [r if r is not None else TargetOutcome(self.targets[k], False, 0, "no outcome (the login process "
                                                      "ended early)", False)
                for k, r in enumerate(self.results)]

    def leave(self) -> None:
        """Return without the child: it is reparented and goes on (its pipe end sees EPIPE)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
