"""QEMU command lines for the harness's machines, and a supervised run.

Always TCG (``-accel tcg``): SeaBIOS/iPXE real-mode code dies under KVM on this kind of host
(``docs/vm-harness.md``, "The recipe"). ``-nodefaults -display none``: no VGA, no default NIC; the serial port goes to a
file; ``-no-reboot`` turns the guest's ``poweroff``/``panic=1`` reboot into QEMU exiting.
``-cpu qemu64,+rdrand``: TCG's default CPU has no RDRAND, so the guest kernel's CRNG is not ready
until about 4.7 s of uptime and the first read of ``/dev/urandom`` (Python's start-up reads it for its
hash seed) runs the kernel's jitter-entropy loop for 1.1-1.4 s (measured). Every x86 server since
2012 has RDRAND and Debian's kernel trusts it (the CRNG is ready at 0.1 s), so the guest gets it too;
every guest of the harness (anchors and ibftkit-init alike) runs on the same CPU model.

Machines:

- direct kernel (``-kernel``/``-initrd``), optionally with a table placed at 0x98000 by the
  generic loader (``force-raw=on``), where the kernel's low-memory scan finds it (``docs/vm-harness.md``,
  "The recipe"); ``0x80000`` and ``0xd0000`` do not survive SeaBIOS;
- BIOS: SeaBIOS runs the e1000's iPXE ROM (Debian ipxe-qemu), which DHCPs from QEMU's user
  network, fetches ``boot.ipxe`` by TFTP and runs it;
- UEFI: OVMF (``OVMF_CODE_4M.fd`` read-only, a private copy of ``OVMF_VARS_4M.fd``) with the
  same ROM's EFI driver.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .procs import end_group

QEMU = "qemu-system-x86_64"
TABLE_ADDR = 0x98000
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
DEFAULT_MAC = "52:54:00:12:34:56"
# PCI slot of the NIC: 00:03.0, where QEMU's default "pc" layout (VGA at 00:02.0) puts the first
# NIC, so tables name the same PCI address as in the sample tables (``fixtures/ibft/samples``: iBFT NIC pci_bdf 0x0018).
NIC_SLOT = 3


class QemuError(RuntimeError):
    """QEMU could not start or the guest did not finish in time."""


def base(serial_log: Path, *, memory_mb: int = 512) -> list[str]:
    return [QEMU, "-accel", "tcg", "-machine", "pc", "-cpu", "qemu64,+rdrand", "-m", str(memory_mb), "-smp", "1",
            "-nodefaults", "-display", "none", "-no-reboot", "-monitor", "none",
            "-serial", f"file:{serial_log}"]


def direct_kernel(vmlinuz: Path, initrd: Path, append: str) -> list[str]:
    return ["-kernel", str(vmlinuz), "-initrd", str(initrd), "-append", append]


def table_loader(table: Path, addr: int = TABLE_ADDR) -> list[str]:
    return ["-device", f"loader,file={table},addr=0x{addr:x},force-raw=on"]


def no_network() -> list[str]:
    return ["-nic", "none"]


def isolated_nic(mac: str, slot: int = NIC_SLOT) -> list[str]:
    """An e1000 with ``mac`` on a user network with ``restrict=on`` and no ROM: the guest sees a
    NIC (so ``iface.net_ifacename`` shows) but reaches nothing."""
    return ["-netdev", "user,id=n0,restrict=on",
            "-device", f"e1000,netdev=n0,mac={mac},addr=0x{slot:x},romfile="]


def ipxe_nic(mac: str, tftp_dir: Path, bootfile: str = "boot.ipxe", slot: int = NIC_SLOT) -> list[str]:
    """An e1000 whose iPXE ROM boots ``bootfile`` from QEMU's TFTP server.

    QEMU user networking: the guest is 10.0.2.15, the host 10.0.2.2 (connections to it become
    connections to the host's 127.0.0.1, here inside the harness's own network namespace).
    """
    return ["-netdev", f"user,id=n0,tftp={tftp_dir},bootfile={bootfile}",
            "-device", f"e1000,netdev=n0,mac={mac},addr=0x{slot:x},bootindex=1"]


def uefi(workdir: Path) -> list[str]:
    """OVMF firmware with a private, writable variable store."""
    vars_copy = workdir / "OVMF_VARS.fd"
    shutil.copyfile(OVMF_VARS, vars_copy)
    return ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}"]


def bios_serial_console(workdir: Path) -> list[str]:
    """Ask SeaBIOS to put its text console (and so iPXE's messages) on the serial port.

    SeaBIOS reads ``etc/sercon-port`` with ``romfile_loadint``: a raw little-endian integer whose
    size is a power of two, so the port goes in as a 2-byte file, not as a string.
    """
    port = workdir / "sercon-port"
    port.write_bytes((0x3F8).to_bytes(2, "little"))
    return ["-fw_cfg", f"name=etc/sercon-port,file={port}"]


@dataclass(frozen=True)
class RunResult:
    returncode: int
    seconds: float
    serial: str
    stderr: str


def run(argv: list[str], serial_log: Path, *, timeout: float, netns: str | None = None) -> RunResult:
    """Run QEMU in its own process group until it exits; kill the group on timeout or error.

    ``netns``: run it inside that network namespace (``ip netns exec``).
    """
    if shutil.which(argv[0]) is None:
        raise QemuError(f"{argv[0]}: not found (apt-get install qemu-system-x86)")
    cmd = (["ip", "netns", "exec", netns] if netns else []) + argv
    err_path = serial_log.with_suffix(".qemu-stderr")
    start = time.monotonic()
    with open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            end_group(proc, grace=0, term=False)  # a guest past its time, or whatever QEMU left behind
    seconds = time.monotonic() - start
    serial = serial_log.read_text(errors="replace") if serial_log.exists() else ""
    stderr = err_path.read_text(errors="replace")
    if rc is None:
        raise QemuError(f"guest did not power off within {timeout:.0f} s; serial log {serial_log} "
                        f"ends: {serial[-600:]!r}")
    return RunResult(rc, seconds, serial, stderr)
