"""ibftkit-init boots a real VM to its iSCSI disk (tools/vm/e2e, docs/vm-e2e.md).

Real iPXE (under SeaBIOS or OVMF) ``sanhook``s targets served by a real ``tgtd`` in a private network
namespace, writes the iBFT and boots the Debian kernel with an initramfs holding Python 3.11, ibftkit,
construct, pyroute2 and the real ``iscsistart``. The guest's ``/init`` runs ``ibftkit-init`` (the table
from the running system, the NIC configured with pyroute2, the login by iscsistart), then reads every
disk's first sector. A case passes only if ibftkit-init exits 0 and every target's marker is read.
CHAP secrets must appear nowhere in what the guest printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from vmharness import capture, pyguest

pytestmark = pytest.mark.vm



def _boot(assets, initrd: Path, name: str, tmp_path: Path, request: pytest.FixtureRequest) -> pyguest.E2eResult:
    case = capture.CASES[name]
    if case.firmware == "uefi":
        request.getfixturevalue("uefi_ready")
    log = tmp_path / "serial.log"
    result = pyguest.run_e2e(assets, case, initrd=initrd, keep_log=log)  # raises unless every marker was read
    assert capture.leftovers() == []
    assert result.rc == 0
    assert len(result.disks) == len(case.targets)
    serial_text = log.read_text(errors="replace")
    for t in case.targets:
        for account in (t.chap, t.mutual):
            if account:
                assert account.password not in result.output
                assert account.password not in serial_text
    return result


def test_bios_ibft(capture_ready, e2e_initrd: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """SeaBIOS + iPXE: the table only in low memory; ibftkit-init finds it by the /dev/mem scan."""
    r = _boot(capture_ready, e2e_initrd, "ipxe-bios-dhcp", tmp_path, request)
    assert "from ibft (memory:/dev/mem@" in r.output
    assert "inet 10.0.2.15/24" in r.net  # the table's address, set by ibftkit's netlink code


def test_uefi_ibft(capture_ready, e2e_initrd: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """OVMF + iPXE: the table as an ACPI table."""
    r = _boot(capture_ready, e2e_initrd, "ipxe-uefi-dhcp", tmp_path, request)
    assert "from ibft (" in r.output and "/dev/mem" not in r.output


def test_mutual_chap(capture_ready, e2e_initrd: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    _boot(capture_ready, e2e_initrd, "ipxe-bios-mutual-chap", tmp_path, request)


def test_two_targets(capture_ready, e2e_initrd: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    r = _boot(capture_ready, e2e_initrd, "ipxe-bios-two-targets", tmp_path, request)
    assert sorted(r.disks) == ["sda-0:0:0:1", "sdb-1:0:0:2"] or len(r.disks) == 2


@pytest.mark.parametrize("name", ["ipxe-bios-chap", "ipxe-bios-static", "ipxe-uefi-three-targets",
                                  "ipxe-uefi-mutual-chap"])
def test_more_cases(capture_ready, e2e_initrd: Path, tmp_path: Path, request: pytest.FixtureRequest,
                    name: str) -> None:
    """One-way CHAP, a static address with LUN 16, three targets (OVMF: control expansion), mutual CHAP
    under UEFI."""
    _boot(capture_ready, e2e_initrd, name, tmp_path, request)
