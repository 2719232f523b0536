"""Whether ``iscsistart`` processes can log in side by side: one boot of a multi-target case in the
capture guest with ``ibftkitvm.login=par`` (``tools/vm/guest/init``, ``side_by_side``).

The guest runs ``iscsistart -N``, then one explicit ``iscsistart -i -t -g 1 -a -p`` per table
target, all started at once (the argv of ibftkit-init's iscsistart backend), and prints each one's
exit status and output, the kernel's iSCSI sessions (``/sys/class/iscsi_session``,
``iscsi_connection``), its kernel log, and the first bytes of every disk. :func:`run_once` boots it
and judges the run: every process exited 0, one session per target, created by its own iscsistart
(``creator``: the pid of the iscsistart child that made it), no two sessions with the same ISID
(RFC 7143 §4.4.4: the ISID with the initiator name identifies the session), every target's marker
read, no iSCSI error in the kernel log. ``tools/vm/side-by-side`` repeats it.

The kernel does not show a session's ISID in sysfs; open-iscsi builds it from its OUI bytes
``00 02 3d`` (``usr/config.h``, ``DRIVER_ISID_*``) and the kernel's session number
(``usr/initiator.c``: ``isid[3..5]`` from ``session->id``), so :func:`isid` derives it from the
``sessionN`` name.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import serial
from .assets import Assets
from .capture import Case, boot_case
from .tgt import marker

# Kernel-log lines that mean a login or session went wrong (drivers/scsi/libiscsi.c,
# scsi_transport_iscsi.c, iscsi_tcp.c messages) or that iscsistart's child failed.
_BAD = re.compile(r"conn error|detected conn error|session recovery timed out|iscsi: invalid|"
                  r"Could not|could not|failed|error", re.IGNORECASE)


@dataclass(frozen=True)
class SideBySide:
    rcs: dict[str, int]  # "target0" -> iscsistart's exit status
    outputs: dict[str, str]  # its stdout and stderr
    sessions: dict[str, dict[str, str]]  # "session1" -> attribute -> value
    connections: dict[str, dict[str, str]]  # "connection1:0" -> attribute -> value
    markers: int  # targets whose marker was read
    targets: int
    kernel_errors: tuple[str, ...]
    seconds: float  # the concurrent logins, guest clock (first start to last exit)
    boot: float  # host clock

    def problems(self) -> list[str]:
        """What went wrong in this run (empty: both logins came up cleanly)."""
        out = [f"{k} exit {rc}: {self.outputs[k].strip()[-200:]!r}" for k, rc in sorted(self.rcs.items()) if rc]
        names = [s.get("targetname", "?") for s in self.sessions.values()]
        if len(self.sessions) != self.targets or len(set(names)) != len(names):
            out.append(f"{len(self.sessions)} session(s) for {self.targets} target(s): {sorted(names)}")
        isids = [isid(k) for k in self.sessions]
        if len(set(isids)) != len(isids):
            out.append(f"ISID clash: {sorted(isids)}")
        creators = [s.get("creator", "") for s in self.sessions.values()]
        if len(set(creators)) != len(creators):
            out.append(f"one iscsistart made several sessions (creator pids {sorted(creators)})")
        if self.markers != self.targets:
            out.append(f"{self.markers} of {self.targets} markers read")
        out += [f"kernel: {line}" for line in self.kernel_errors]
        return out


def isid(session: str) -> str:
    """``session7`` -> ``00023d000007`` (open-iscsi ``usr/initiator.c``, ``usr/config.h``)."""
    return f"00023d{int(session.removeprefix('session')):06x}"


def _attrs(text: str) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    sessions: dict[str, dict[str, str]] = {}
    conns: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        obj, _, kv = line.partition(" ")
        key, _, value = kv.partition("=")
        (sessions if obj.startswith("session") else conns).setdefault(obj, {})[key] = value
    return sessions, conns


def run_once(assets: Assets, case: Case, *, initrd: Path, timeout: float = 300,
             keep_log: Path | None = None) -> SideBySide:
    """One boot of ``case`` with the logins side by side (``initrd``: ``capture.build_initrd``)."""
    script = case.ipxe_script().replace("ibftkitvm.login=1", "ibftkitvm.login=par")
    with tempfile.TemporaryDirectory(prefix=f"ibftkit-sbs-{case.fixture}-") as tmp:
        result = boot_case(assets, case, initrd=initrd, script=script, work=Path(tmp), timeout=timeout,
                           keep_log=keep_log)
    rep = serial.parse(result.serial)
    if not rep.done:
        raise serial.ProtocolError(f"{case.fixture}: guest did not finish; serial ends {result.serial[-600:]!r}")
    rcs = {k.removeprefix("par-"): v for k, v in rep.rcs.items() if k.startswith("par-target")}
    outputs = {k.removeprefix("par-"): rep.blobs.get(k, b"").decode(errors="replace")
               for k in rep.rcs if k.startswith("par-target")}
    sessions, conns = _attrs(rep.blobs.get("sessions", b"").decode(errors="replace"))
    want = {marker(t.iqn, t.lun) for t in case.targets}
    disks = [d for n, d in rep.blobs.items() if n.startswith("disk-")]
    got = {m for m in want for d in disks if d.startswith(m)}
    kmsg = rep.blobs.get("par-kmsg", b"").decode(errors="replace").splitlines()
    done = [v for k, v in rep.times.items() if k.startswith("par-done-")]
    return SideBySide(rcs, outputs, sessions, conns, len(got), len(case.targets),
                      tuple(line for line in kmsg if _BAD.search(line)),
                      (max(done) - rep.times["anchor-network"]) if done else float("nan"), result.seconds)
