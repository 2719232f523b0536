"""A private ``tgtd`` (Debian ``tgt``) serving LUNs that carry known marker bytes.

Each instance has its own control port (``tgtd -C N``: the management socket is the file
``/var/run/tgtd/socket.N``, shared by every network namespace, so N must be unique on the host) and
its portal on an address of the harness's own network namespace. LUN 0 is tgt's controller; disks
are LUN >= 1, each backed by a small file whose first sector is :func:`marker`.

Stopping (``docs/vm-harness.md``, "The recipe"): ``tgtd`` with targets does not exit on SIGTERM, so
``tgtadm -C N --op delete --mode system``, then SIGKILL of its process group by the PID we started.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .procs import end_group

DISK_BYTES = 1 << 20
SOCKET_DIR = Path("/var/run/tgtd")


class TgtError(RuntimeError):
    pass


def marker(target: str, lun: int) -> bytes:
    """The first bytes of the disk behind (target, LUN): what the guest must read after login."""
    return f"IBFTKIT-MARKER lun={lun} target={target}\n".encode()


@dataclass(frozen=True)
class Account:
    user: str
    password: str


@dataclass
class Tgtd:
    workdir: Path
    portal: str = "127.0.0.1:3260"
    netns: str | None = None
    control_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    targets: list[str] = field(default_factory=list)

    def _pick_control_port(self) -> int:
        for n in range(1000 + os.getpid() % 20000, 1000 + os.getpid() % 20000 + 200):
            if not (SOCKET_DIR / f"socket.{n}").exists() and not (SOCKET_DIR / f"socket.{n}.lock").exists():
                return n
        raise TgtError(f"no free tgtd control port near {1000 + os.getpid() % 20000} in {SOCKET_DIR}")

    def adm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["tgtadm", "-C", str(self.control_port), *args], text=True,
                              capture_output=True, timeout=30)
        if check and done.returncode != 0:
            raise TgtError(f"tgtadm {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
        return done

    def start(self) -> None:
        self.control_port = self.control_port or self._pick_control_port()
        cmd = (["ip", "netns", "exec", self.netns] if self.netns else []) + [
            "tgtd", "-f", "-C", str(self.control_port), "--iscsi", f"portal={self.portal}"]
        log = open(self.workdir / f"tgtd-{self.control_port}.log", "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TgtError(f"tgtd exited {self.proc.returncode}: "
                               f"{(self.workdir / f'tgtd-{self.control_port}.log').read_text()[-400:]}")
            if self.adm("--op", "show", "--mode", "system", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise TgtError(f"tgtd -C {self.control_port} did not answer within 15 s")

    def add_target(self, iqn: str, luns: tuple[int, ...] = (1,), *, chap: Account | None = None,
                   mutual: Account | None = None, images: dict[int, Path] | None = None) -> int:
        """A target with disks at ``luns``; ``chap``: the initiator must authenticate; ``mutual``:
        the target's own credentials (``--outgoing``), checked by the initiator; ``images``: LUN ->
        a file the caller prepared (e.g. a root file system), served as it is instead of a marker disk."""
        tid = len(self.targets) + 1
        self.adm("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", str(tid), "-T", iqn)
        for lun in luns:
            disk = self.workdir / f"disk-t{tid}-l{lun}.img"
            if images and lun in images:
                disk = images[lun]
            else:
                with open(disk, "wb") as f:
                    f.write(marker(iqn, lun).ljust(512, b"\0"))
                    f.truncate(DISK_BYTES)
            self.adm("--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", str(tid),
                     "--lun", str(lun), "-b", str(disk))
        self.adm("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", str(tid), "-I", "ALL")
        for account, extra in ((chap, ()), (mutual, ("--outgoing",))):
            if account:
                self.adm("--lld", "iscsi", "--op", "new", "--mode", "account", "--user", account.user,
                         "--password", account.password)
                self.adm("--lld", "iscsi", "--op", "bind", "--mode", "account", "--tid", str(tid),
                         "--user", account.user, *extra)
        self.targets.append(iqn)
        return tid

    def admit_only(self, tid: int, initiator: str) -> None:
        """Let only ``initiator`` log in to target ``tid`` (instead of any address): a login then shows
        that the guest used that initiator name."""
        self.adm("--lld", "iscsi", "--op", "unbind", "--mode", "target", "--tid", str(tid), "-I", "ALL")
        self.adm("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", str(tid), "--initiator-name",
                 initiator)

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self.adm("--op", "update", "--mode", "sys", "--name", "State", "-v", "offline", check=False)
                self.adm("--op", "delete", "--mode", "system", check=False)
        finally:
            end_group(self.proc, grace=3, term=False)  # asked by tgtadm: tgtd with targets ignores SIGTERM
            for suffix in ("", ".lock"):
                (SOCKET_DIR / f"socket.{self.control_port}{suffix}").unlink(missing_ok=True)
            self.proc = None

    def __enter__(self) -> Tgtd:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
