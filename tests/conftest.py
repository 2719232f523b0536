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
SAMPLES = ROOT.parent / "shared" / "samples"
FIXTURES = ROOT / "fixtures"


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
    if not SAMPLES.is_dir():
        pytest.skip(f"shared samples not found at {SAMPLES} (they sit beside the checkout as ../shared)")
    return SAMPLES
