"""A dead path does not hold the boot: ibftkit-init in a real VM with two targets, the second one's
portal dropping every packet (docs/vm-e2e.md, "A dead path"; tools/vm/vmharness/deadpath.py).

Real iPXE (SeaBIOS) ``sanhook``s both targets, served by a real ``tgtd``, and writes them into the
iBFT; once the guest's kernel runs, the harness routes the second portal's address into a dummy link
in the case's namespace, so the guest's SYNs to it go unanswered. ibftkit-init must log in to the
boot target, return 0 with the boot target's disk readable, and leave the dead path to its
background process, which gives it up within its bound and says so in the kernel log only.
One boot; the retry policy is shortened (``--login-retries 1 --portal-timeout 2``) so that the
background's last line comes within seconds. Timings are recorded (``to_disk_s``), not asserted:
the comparison with the live two-target case is ``bench/vm_boot.py ipxe-bios-dead-path``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from vmharness import capture, deadpath

pytestmark = pytest.mark.vm




def test_a_dead_path_does_not_hold_the_boot(capture_ready, e2e_initrd: Path, tmp_path: Path,
                                            record_property: pytest.RecordProperty) -> None:
    log = tmp_path / "serial.log"
    # raises unless ibftkit-init exited 0 and the boot target's marker was read
    r = deadpath.run_e2e(capture_ready, initrd=e2e_initrd, keep_log=log,
                         init_args=("--login-retries", "1", "--portal-timeout", "2"))
    assert capture.leftovers() == []
    record_property("to_disk_s", round(r.to_disk, 2))
    print(f"dead path: disk readable {r.to_disk:.2f} s after ibftkit-init started")
    dead = f"at {deadpath.DEAD}:3260"
    assert r.rc == 0 and len(r.disks) == 1
    assert "logged in to target[0] iqn.2026-11.org.example:disk.a at 10.0.2.2:3260" in r.output
    # it returned with the dead path still being tried, and said so
    assert "1 other path(s) still logging in; they go on in the background" in r.output
    assert "login failed after" not in r.output
    # the background process gave the dead path up within its bound, in the kernel log
    final = [line for line in r.kmsg.splitlines() if dead in line and "login failed after 2 attempts" in line]
    assert final, r.kmsg
    assert "TCP connect to the portal failed: no answer within 2 s" in final[-1]
    assert "another path; the boot target is what counts" in final[-1]
    # after ibftkit-init had returned
    assert r.times["e2e-kmsg"] > r.times["e2e-login"]
