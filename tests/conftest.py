"""Test tiers: unit (default, pure Python), ``netns`` (root, namespaces), ``vm`` (QEMU).

A tier that cannot run here is skipped with the reason; CI installs what every tier needs
(``tools/install-test-deps``), so nothing is skipped there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SAMPLES = FIXTURES / "ibft" / "samples"  # other producers' tables; see PROVENANCE.md there
SAMPLE_NAMES = ("dracut-test30", "ipxe-bios-chap", "ipxe-bios-dhcp", "lkml-3targets")
SAMPLE_VIEWS = (".bin", ".sysfs", ".iscsistart-f")  # the table, the kernel's view, iscsistart -f's


def netns_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "netns tier needs root (network namespaces, veth pairs)"
    if shutil.which("ip") is None:
        return "netns tier needs iproute2's 'ip' (apt-get install iproute2)"
    if not Path("/run/netns").exists() and not os.access("/run", os.W_OK):
        return "netns tier needs a writable /run for 'ip netns add'"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = netns_unavailable()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "netns" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """``fixtures/ibft/samples``; a missing file fails the test (a sample is never silently dropped)."""
    missing = [f"{n}{v}" for n in SAMPLE_NAMES for v in SAMPLE_VIEWS if not (SAMPLES / f"{n}{v}").is_file()]
    if missing:
        pytest.fail(f"sample fixtures missing from {SAMPLES}: {', '.join(missing)}")
    return SAMPLES
