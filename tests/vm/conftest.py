"""VM tier: real QEMU (TCG) guests with the Debian kernel, iPXE/OVMF firmware, tgtd and open-iscsi.

Tests here are marked ``vm``. They skip with the reason when something is missing; on a machine that
ran ``tools/install-test-deps`` nothing is missing. When the asset cache is empty and we are root
with apt available, the session fetches it first (``tools/vm/fetch-assets``, about 10 s); set
``IBFTKIT_VM_FETCH=0`` to skip instead.

``IBFTKIT_VM_ALL=1`` runs every capture case and every kernel-view check (a few minutes); by default
one BIOS and one UEFI capture run, so a default run stays near a minute and a half of guest time.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "vm"))

from vmharness import assets as vm_assets  # noqa: E402
from vmharness import capture, pyguest, qemu  # noqa: E402

RUN_ALL = os.environ.get("IBFTKIT_VM_ALL") == "1"


def _missing_tools(*tools: str) -> str | None:
    gone = [t for t in tools if shutil.which(t) is None]
    return f"missing {', '.join(gone)} (run tools/install-test-deps)" if gone else None


@pytest.fixture(scope="session")
def vm_assets_ready() -> vm_assets.Assets:
    reason = _missing_tools(qemu.QEMU)
    if reason:
        pytest.skip(f"vm tier: {reason}")
    try:
        return vm_assets.load()
    except vm_assets.AssetsMissing as e:
        missing = str(e)
    can_fetch = (os.geteuid() == 0 and shutil.which("apt-get") and shutil.which("dpkg")
                 and os.environ.get("IBFTKIT_VM_FETCH", "1") != "0")
    if not can_fetch:
        pytest.skip(f"vm tier: {missing}")
    try:
        return vm_assets.fetch(log=lambda m: None)
    except vm_assets.AssetsMissing as e:
        pytest.skip(f"vm tier: fetching assets failed: {e}")


@pytest.fixture(scope="session")
def capture_ready(vm_assets_ready: vm_assets.Assets) -> vm_assets.Assets:
    """Capture needs root (a network namespace and tgtd) besides the assets."""
    if os.geteuid() != 0:
        pytest.skip("vm capture needs root (its own network namespace and tgtd)")
    reason = _missing_tools("ip", "tgtd", "tgtadm")
    if reason:
        pytest.skip(f"vm capture: {reason}")
    if not Path("/usr/lib/ipxe/qemu/efi-e1000.rom").exists() and not Path("/usr/lib/ipxe/qemu/pxe-e1000.rom").exists():
        pytest.skip("vm capture: no iPXE ROM for e1000 (apt-get install ipxe-qemu)")
    return vm_assets_ready


@pytest.fixture(scope="session")
def e2e_initrd(capture_ready: vm_assets.Assets, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ibftkit-init guest image (``vmharness.pyguest``), built once for every test that boots it."""
    path = tmp_path_factory.mktemp("e2e") / "initrd.gz"
    pyguest.build_initrd(capture_ready, path)
    return path


@pytest.fixture(scope="session")
def anchor_initrd(capture_ready: vm_assets.Assets, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The capture guest's image (``vmharness.capture``: iscsistart, open-iscsi's own path), built once."""
    return capture.build_initrd(capture_ready, tmp_path_factory.mktemp("capture") / "initrd.gz")


@pytest.fixture(scope="session")
def uefi_ready() -> None:
    for fd in (qemu.OVMF_CODE, qemu.OVMF_VARS):
        if not fd.exists():
            pytest.skip(f"vm UEFI case: {fd} missing (apt-get install ovmf)")
