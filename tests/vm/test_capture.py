"""Real firmware writes the iBFT (tools/vm/capture): iPXE under SeaBIOS and under OVMF.

Each case boots once with its own tgtd inside a private network namespace; the guest dumps the
table, the kernel's sysfs view and ``iscsistart -f``, then logs in with the open-iscsi anchor
(``iscsistart -N``, ``-b``) and must read every target's marker. The captures must equal the
committed fixtures byte for byte (iPXE, QEMU's user network and the scripts are deterministic), so a
drift in the firmware, the kernel or open-iscsi shows up here. Cleanup is checked: no namespace,
tgtd or QEMU of ours is left.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from vmharness import capture

pytestmark = pytest.mark.vm

ROOT = Path(__file__).resolve().parents[2]
RUN_ALL = os.environ.get("IBFTKIT_VM_ALL") == "1"  # every case (see conftest.py)

FIXTURES = ROOT / "fixtures" / "ibft"
DEFAULT_CASES = ["ipxe-bios-chap", "ipxe-uefi-three-targets"]
CASES = list(capture.CASES) if RUN_ALL else DEFAULT_CASES




@pytest.mark.parametrize("name", CASES)
def test_capture_case(capture_ready, anchor_initrd: Path, name: str, request: pytest.FixtureRequest) -> None:
    case = capture.CASES[name]
    if case.firmware == "uefi":
        request.getfixturevalue("uefi_ready")
    cap = capture.run_case(capture_ready, case, initrd=anchor_initrd, login=True)
    assert capture.leftovers() == []
    # The anchor logged in to every target and read its marker (run_case checks the markers).
    assert len(cap.disks) == len(case.targets)
    assert cap.table[:4] == b"iBFT" and len(cap.table) == int.from_bytes(cap.table[4:8], "little")
    assert sum(cap.table) % 256 == 0
    assert f"initiator/initiator-name={case.initiator}" in cap.sysfs.splitlines()
    for i, t in enumerate(case.targets):
        assert f"target{i}/target-name={t.iqn}" in cap.sysfs.splitlines()
        assert f"node.name = {t.iqn}" in cap.iscsistart_f.splitlines()
    committed = FIXTURES / case.fixture
    assert cap.table == committed.with_suffix(".bin").read_bytes()
    assert cap.sysfs == committed.with_suffix(".sysfs").read_text()
    assert cap.iscsistart_f == committed.with_suffix(".iscsistart-f").read_text()
