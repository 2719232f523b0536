"""The real Debian kernel's view of tables placed in guest memory (tools/vm/kernel-view).

First proof of the harness: for the two non-iPXE samples, the kernel's ``/sys/firmware/ibft``
and ``iscsistart -f`` must come out byte for byte as recorded in ``fixtures/ibft/samples``. Then:
a table captured from real iPXE, placed at 0x98000 instead, must look the same to the kernel as it
did when the firmware wrote it (so kernel-view results stand in for firmware captures).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from vmharness import kernelview

pytestmark = pytest.mark.vm

ROOT = Path(__file__).resolve().parents[2]
RUN_ALL = os.environ.get("IBFTKIT_VM_ALL") == "1"  # every case (see conftest.py)

FIXTURES = ROOT / "fixtures" / "ibft"


@pytest.mark.parametrize("name", ["dracut-test30", "lkml-3targets"])
def test_kernel_view_reproduces_sample(vm_assets_ready, samples_dir: Path, name: str, tmp_path: Path) -> None:
    view = kernelview.view_table(vm_assets_ready, samples_dir / f"{name}.bin")
    assert view.table == b""  # /dev/mem shows RAM below 1 MB as zeros: the sysfs view is the proof
    written = view.write(tmp_path)
    assert [p.read_text() for p in written] == [
        (samples_dir / f"{name}.sysfs").read_text(),
        (samples_dir / f"{name}.iscsistart-f").read_text(),
    ]
    assert view.iscsistart_rc == 0


CAPTURED = ["ipxe-bios-dhcp"] + (["ipxe-bios-static", "ipxe-uefi-three-targets"] if RUN_ALL else [])


@pytest.mark.parametrize("fixture", CAPTURED)
def test_kernel_view_of_captured_table_matches_firmware_boot(vm_assets_ready, fixture: str) -> None:
    table = FIXTURES / f"{fixture}.bin"
    if not table.exists():
        pytest.fail(f"{table} missing: run tools/vm/capture {fixture}")
    # An e1000 at the PCI address the table names, so iface.net_ifacename shows as in the capture.
    view = kernelview.view_table(vm_assets_ready, table, nic_mac="52:54:00:12:34:56")
    assert view.sysfs == (FIXTURES / f"{fixture}.sysfs").read_text()
    assert view.iscsistart_f == (FIXTURES / f"{fixture}.iscsistart-f").read_text()
