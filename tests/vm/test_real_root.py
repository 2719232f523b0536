"""After switch_root: a real Debian root on iSCSI through target restarts, link loss and path loss.

For each network stack (ifupdown, systemd-networkd) the same root image (``vmharness/realroot.py``:
mmdebstrap, its own Debian initramfs with ibftkit's hook, dm-multipath over two sessions) boots
twice at the same time, each in its own network namespace with its own ``tgtd``: with ``ibftkit``
on the kernel line, and with open-iscsi's own ``iscsi_auto`` (the anchor). While the root's writer
appends checksummed, fsync'ed records, the host drives, one after another in the same boot:

1. ``tgtd`` stopped for 60 s, then started again (both paths gone: dm-multipath queues);
2. the boot NIC's link (``ens3``) down for 20 s (QEMU ``set_link``);
3. the second path's link (``ens4``) down for 60 s: I/O goes on over ``ens3``, and the path is
   reinstated once the link is back;
4. ``systemctl reboot`` (over the guest's command line): the sessions stay until the root is
   unmounted.

Then, on the host, the image: every acknowledged record present and intact (``debugfs``), ``e2fsck
-f -n`` clean, the file system marked clean (no journal to replay). ibftkit must pass all of it and
its hand-off must be there (node records with ``node.startup = onboot``, the sessions' recovery
timeout from them, the boot NICs left alone, DNS and host name kept); the anchor's results are
recorded, not asserted. Run under ``/work/heavy.lock`` style serialisation: about 6 min per stack.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from vmharness import realroot, realroot_run
from vmharness.assets import Assets
from vmharness.netns import private_netns
from vmharness.realroot_run import Fault, Machine, Reports, healthy, window

pytestmark = pytest.mark.vm

STACKS = ("ifupdown", "networkd")
BOOT_TIMEOUT = 600
# Kernel lines that mean the root's I/O failed (the dm device or the file system), and the ones a
# failed path under dm-multipath may log (a path's SCSI command failed, dm-multipath retried it).
ROOT_ERRORS = re.compile(r"(Buffer I/O error|EXT4-fs error|EXT4-fs warning|I/O error, dev dm-|"
                         r"Remounting filesystem read-only|Aborting journal|journal commit I/O error)")
PATH_ERRORS = re.compile(r"I/O error, dev sd[a-z]+")


@pytest.fixture(scope="module")
def realroot_ready(capture_ready: Assets) -> Assets:
    missing = [t for t in ("mmdebstrap", "debugfs", "e2fsck", "dumpe2fs", "mke2fs", "unshare", "chroot", "depmod")
               if shutil.which(t) is None]
    if missing:
        pytest.skip(f"real root: missing {', '.join(missing)} (run tools/install-test-deps)")
    return capture_ready


@pytest.fixture(scope="module")
def root_images(realroot_ready: Assets) -> Callable[[str], realroot.RootImage]:
    built: dict[str, realroot.RootImage] = {}

    def get(stack: str) -> realroot.RootImage:
        if stack not in built:
            built[stack] = realroot.build_image(stack, realroot_ready, log=lambda m: print(m, flush=True))
        return built[stack]

    return get


@dataclass
class Run:
    mode: str  # ibftkit | anchor
    faults: list[Fault] = field(default_factory=list)
    reports: Reports | None = None
    console: str = ""
    written: int = 0
    lost: list[int] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    fsck_rc: int = -1
    fs_state: str = ""
    reboot_ok: bool = False
    failure: str = ""
    boot_seconds: float = 0.0

    def root_errors(self) -> list[str]:
        return [ln for ln in self.console.splitlines() if ROOT_ERRORS.search(ln)]

    def path_errors(self) -> list[str]:
        return [ln for ln in self.console.splitlines() if PATH_ERRORS.search(ln)]


def _last_ack(m: Machine) -> tuple[float, int]:
    r = m.read()
    return (r.acks[-1].uptime, len(r.acks)) if r.acks else (0.0, 0)


def _recovered(count: int) -> Callable[[Reports], bool]:
    """More acks than ``count`` + 3, and multipathd's latest view has both paths active and ready."""
    return lambda r: len(r.acks) > count + 3 and bool(r.paths) and healthy(r.paths[-1][1])


def _fault(m: Machine, name: str, seconds: float, begin: Callable[[], None], end: Callable[[], None],
           recover_timeout: float = 150) -> Fault:
    u0, n0 = _last_ack(m)
    begin()
    time.sleep(seconds)
    u1, _ = _last_ack(m)
    end()
    r = m.wait(f"{name}: recovery", _recovered(len(m.read().acks)), recover_timeout)
    u2 = r.acks[-1].uptime
    gap, _ = window(r, u0, u2)
    during = len([a for a in r.acks if u0 < a.uptime <= u1])
    return Fault(name, seconds, u0, u2, gap, during, list(r.errors))


def drive(m: Machine, mode: str) -> Run:
    """Boot, the four faults, the image checks. Never raises for the anchor's sake: a failure is
    recorded in ``Run.failure`` (the caller asserts for ibftkit)."""
    run = Run(mode)
    start = time.monotonic()
    try:
        m.start()
        m.wait("boot: writer, hand-off report and two healthy paths",
               lambda r: len(r.acks) >= 10 and "session-P3-end" in r.facts and bool(r.paths)
               and healthy(r.paths[-1][1]), BOOT_TIMEOUT)
        run.boot_seconds = time.monotonic() - start
        run.faults.append(_fault(m, "tgtd stopped", 60, m.stop_target, m.start_target))
        run.faults.append(_fault(m, "ens3 link down", 20, lambda: m.monitor.command("set_link n0 off"),
                                 lambda: m.monitor.command("set_link n0 on")))
        run.faults.append(_fault(m, "ens4 link down (path)", 60, lambda: m.monitor.command("set_link n1 off"),
                                 lambda: m.monitor.command("set_link n1 on")))
        m.command("reboot")
        rc = m.wait_exit(300)
        run.reboot_ok = rc is not None and "reboot: Restarting system" in m.console_text()
        if rc is None:
            run.failure = "reboot: did not finish (" + (
                "systemd: Failed to execute shutdown binary" if "shutdown binary" in m.console_text()
                else "QEMU still running after 300 s") + ")"
    except RuntimeError as e:
        run.failure = str(e)
    finally:
        m.close()
    run.reports = m.read()
    run.console = m.console_text()
    run.fsck_rc, _ = realroot_run.fsck(m.image)
    run.fs_state = realroot_run.fs_state(m.image)
    # Records as the next mount sees them: after a crash the last ones may be in the journal only.
    good, run.bad = realroot_run.records_on_image(realroot_run.replayed(m.image, m.work))
    acked = max((a.seq for a in run.reports.acks), default=0)
    run.written = acked
    have = set(good)
    run.lost = [s for s in range(1, acked + 1) if s not in have]
    return run


def boot_pair(assets: Assets, image: realroot.RootImage, work: Path) -> dict[str, Run]:
    """ibftkit and the anchor at the same time (one core each), each with its own copy of the image."""
    runs: dict[str, Run] = {}
    errors: list[BaseException] = []
    lines = {"ibftkit": "ibftkit", "anchor": "iscsi_auto"}

    def one(mode: str, port_offset: int) -> None:
        try:
            d = work / mode
            d.mkdir()
            img = realroot.copy_image(image.image, d / "root.ext4")
            with private_netns() as ns:
                m = Machine(d, ns, assets.vmlinuz, image.initrd, img, f"{realroot_run.CONSOLE} {lines[mode]}")
                m.tgtd.control_port = 1000 + (os.getpid() % 20000) + 300 + port_offset
                runs[mode] = drive(m, mode)
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=one, args=(mode, i)) for i, mode in enumerate(lines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return runs


def summary(stack: str, run: Run) -> str:
    rows = [f"{stack} {run.mode}: boot to writer+2 paths {run.boot_seconds:.0f} s; records written {run.written}, "
            f"lost {len(run.lost)}, torn/bad {len(run.bad)}; writer I/O errors "
            f"{len(run.reports.errors) if run.reports else '?'}; root-device kernel errors {len(run.root_errors())}, "
            f"path-level {len(run.path_errors())}; reboot clean {run.reboot_ok}; fsck {run.fsck_rc}; "
            f"fs {run.fs_state}" + (f"; FAILED: {run.failure[:300]}" if run.failure else "")]
    for f in run.faults:
        rows.append(f"  {f.name}: outage {f.seconds:.0f} s survived; longest pause between records "
                    f"{f.max_gap:.1f} s; records during the outage {f.acks_during}")
    return "\n".join(rows)


def check_handoff(r: Reports) -> None:
    f = r.facts
    assert f.get("hostname") == realroot_run.HOSTNAME, f
    assert "10.0.2.3" in f.get("resolv", ""), f
    assert f.get("addr-ens3") == "10.0.2.15/24" and f.get("addr-ens4") == "10.0.3.15/24", f
    assert f.get("iscsid") == "active" and f.get("multipathd") == "active", f
    assert f.get("root", "").split()[:3] == ["/dev/mapper/mpatha", "ext4", "rw,relatime,errors=remount-ro"], f
    assert f.get("nodes", "").count("/default") == 2, f
    assert "onboot" in f.get("startup", ""), f
    # multipathd sets each path's session recovery_tmo to fast_io_fail_tmo, 5 s by default
    # (multipath-tools libmultipath/discovery.c, sysfs_set_iscsi_session).
    tmo = {k: v for k, v in f.items() if k.startswith("recovery_tmo-")}
    assert len(tmo) == 2 and set(tmo.values()) == {"5"}, tmo


@pytest.mark.parametrize("stack", STACKS)
def test_real_root_survives(realroot_ready: Assets, root_images: Callable[[str], realroot.RootImage],
                            tmp_path: Path, stack: str, request: Any) -> None:
    image = root_images(stack)
    runs = boot_pair(realroot_ready, image, tmp_path)
    text = "\n".join(summary(stack, runs[m]) for m in ("ibftkit", "anchor"))
    print("\n" + text, flush=True)
    (tmp_path / "summary.txt").write_text(text + "\n")
    run = runs["ibftkit"]
    assert not run.failure, run.failure + "\n" + text
    assert run.reports is not None
    check_handoff(run.reports)
    assert run.reports.errors == [], run.reports.errors
    assert run.root_errors() == [], run.root_errors()
    assert run.written > 100 and run.lost == [] and run.bad == [], text
    assert run.reboot_ok and run.fsck_rc == 0 and run.fs_state == "clean", text
    for f in run.faults:
        assert f.acks_during > 0 or f.name == "tgtd stopped", f  # one path left: I/O goes on
    assert "Traceback" not in run.console
