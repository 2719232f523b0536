"""Boots to a real root file system on the iSCSI LUN: the proofs of ibftkit's initramfs integrations.

Shared by ``tests/vm/test_initramfs_boot.py`` (Debian's initramfs-tools), ``tests/vm/test_dracut_boot.py``
(dracut, mkinitcpio-style) and ``bench/dracut_boot.py``:

- :func:`make_rootfs`: an ext4 image (``mke2fs -d``) holding a static busybox and an ``/sbin/init``
  that prints what it sees with the :data:`TAG` prefix (uptime, the root's ``/proc/mounts`` line,
  the iSCSI sessions, ...) and powers off; :func:`report` reads those lines back;
- :func:`boot_ipxe`: the capture harness's plumbing (a private network namespace, ``tgtd`` serving
  the image as LUN 1, QEMU with SeaBIOS and Debian's iPXE, which ``sanhook``s the target, writes the
  iBFT and boots the kernel with the initramfs given) and the kernel line given;
- :func:`boot_dhcp`: no iBFT, the DHCP path (``dhcpnet``'s tap, dnsmasq with options 17 and 203,
  ``tgtd`` admitting only the initiator option 203 names), booting the kernel directly;
- :func:`dracut_image`: a small dracut systemd initrd built by ``tools/dracut/mkimage`` (only the VM's
  drivers) with ibftkit's module and/or dracut's own;
- :func:`kmsg_times`: kernel timestamps (``printk.time``) of console lines.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from . import capture, qemu
from .assets import Assets
from .dhcpnet import SERVER, TAP, DhcpCase, Dnsmasq, tap_nic
from .netns import add_tap, private_netns
from .tgt import Tgtd

REPO = Path(__file__).resolve().parents[3]
TAG = "@@ROOTFS"
# A small dracut systemd initrd (as Fedora/RHEL/SUSE build them: dracut's systemd, systemd-initrd and
# dracut-systemd modules), root-mounting modules and only the VM's kernel drivers: built in seconds.
DRACUT_MODULES = "bash systemd systemd-initrd dracut-systemd base rootfs-block udev-rules fs-lib"
DRACUT_DRIVERS = "e1000 ext4 sd_mod"
# Images by kind: ibftkit's module alone (with the DHCP client); ibftkit's module and dracut's own
# iscsi module with network-legacy (dracut's iBFT networking: ip=ibft / rd.iscsi.ibft). Debian's
# iscsid.service runs /lib/open-iscsi/startup-checks.sh first (ExecStartPre), which dracut 059's
# 95iscsi does not copy (it copies the unit only): without it iscsid never starts in the initrd and
# 95iscsi cannot log in, so the anchor image gets it too (dracut --install).
DEBIAN_ISCSID_PRE = "/lib/open-iscsi/startup-checks.sh"
DRACUT_IMAGES = {
    "ibftkit": ("--dhcp",),
    "both": ("--add", "iscsi network-legacy", "--install", DEBIAN_ISCSID_PRE),
}
ROOT_INIT = f"""#!/bin/busybox sh
# The iSCSI root file system's init: say where we are, then power off.
b=/bin/busybox
echo "{TAG} uptime $($b cut -d' ' -f1 /proc/uptime)"
echo "{TAG} root $($b grep ' / ' /proc/mounts | $b tail -n 1)"
echo "{TAG} interface $($b cat /run/initramfs/open-iscsi.interface 2>&1)"
echo "{TAG} sessions $($b ls /sys/class/iscsi_session | $b tr '\\n' ' ')"
echo "{TAG} ibftkit $($b cat /run/ibftkit/status 2>&1)"
echo "{TAG} done"
$b sync
$b poweroff -f
"""
# The one-target BIOS iPXE case the root-disk boots use (its initiator name is the table's).
CASE = capture.Case("root-disk", "bios", (capture.TargetSpec("root.disk"),), f"{capture.IQN}:initiator21")
# The DHCP-path case: option 17 names the same kind of target on the tap's server.
DHCP_CASE = DhcpCase("root-disk-dhcp", capture.TargetSpec("root.disk", host=SERVER), f"{capture.IQN}:initiator22")


def make_rootfs(assets: Assets, work: Path) -> Path:
    """An ext4 root file system (16 MiB image): static busybox and :data:`ROOT_INIT` as /sbin/init."""
    tree = work / "tree"
    for d in ("bin", "sbin", "dev", "proc", "sys", "run", "tmp", "root", "etc"):
        (tree / d).mkdir(parents=True)
    shutil.copy2(assets.base / "bin/busybox", tree / "bin/busybox")
    (tree / "sbin/init").write_text(ROOT_INIT)
    (tree / "sbin/init").chmod(0o755)
    # systemd's switch-root (dracut's systemd initrd) refuses a root without os-release (os-release(5)).
    (tree / "etc/os-release").write_text('NAME="ibftkit test root"\nID=ibftkit-test\n')
    image = work / "root.ext4"
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "ibftkit-root", "-d", str(tree), str(image), "16M"],
                   check=True, capture_output=True, timeout=60)
    return image


def boot_ipxe(assets: Assets, initrd: Path, rootfs: Path, append: str, work: Path, *,
              firmware: str = "bios", timeout: float = 900, memory_mb: int = 1024) -> qemu.RunResult:
    """iPXE ``sanhook``s the target (LUN 1 served from ``rootfs``), writes the iBFT and boots the
    kernel with ``initrd`` and the kernel line ``append``; returns when QEMU exits."""
    case = CASE if firmware == "bios" else capture.Case(CASE.name, firmware, CASE.targets, CASE.initiator)
    tftp = work / "tftp"
    tftp.mkdir()
    shutil.copyfile(assets.vmlinuz, tftp / "vmlinuz")
    shutil.copyfile(initrd, tftp / "initrd.gz")  # the name iPXE's script uses; the kernel reads any compression
    (tftp / "boot.ipxe").write_text(case.ipxe_script().replace(capture.APPEND, append))
    log = work / "serial.log"
    with private_netns() as ns, Tgtd(work, portal=f"127.0.0.1:{capture.PORT}", netns=ns) as tgtd:
        tgtd.add_target(case.targets[0].iqn, (1,), images={1: rootfs})
        argv = qemu.base(log, memory_mb=memory_mb) + qemu.ipxe_nic(qemu.DEFAULT_MAC, tftp)
        argv += qemu.uefi(work) if firmware == "uefi" else qemu.bios_serial_console(work)
        return qemu.run(argv, log, timeout=timeout, netns=ns)


def boot_dhcp(assets: Assets, initrd: Path, rootfs: Path, append: str, work: Path, *,
              case: DhcpCase = DHCP_CASE, timeout: float = 900, memory_mb: int = 1024) -> tuple[qemu.RunResult, str]:
    """No firmware table: the kernel boots directly with ``initrd`` on :data:`dhcpnet.TAP`, where
    dnsmasq serves options 17 and 203 and ``tgtd`` serves ``rootfs`` as LUN 1 to the initiator option
    203 names only. Returns QEMU's result and dnsmasq's log."""
    log = work / "serial.log"
    with ExitStack() as stack:
        ns = stack.enter_context(private_netns())
        add_tap(ns, TAP, f"{SERVER}/24")
        tgtd = stack.enter_context(Tgtd(work, portal=f"{SERVER}:{capture.PORT}", netns=ns))
        tid = tgtd.add_target(case.target.iqn, (case.target.lun,), images={case.target.lun: rootfs})
        tgtd.admit_only(tid, case.initiator)
        dnsmasq = stack.enter_context(Dnsmasq(ns, TAP, work, case.dnsmasq_conf()))
        argv = qemu.base(log, memory_mb=memory_mb) + qemu.direct_kernel(assets.vmlinuz, initrd, append) + tap_nic()
        return qemu.run(argv, log, timeout=timeout, netns=ns), dnsmasq.log()


def dracut_image(assets: Assets, out: Path, kind: str) -> str:
    """Build :data:`DRACUT_IMAGES` ``kind`` at ``out`` with ``tools/dracut/mkimage`` for the VM cache's
    kernel, with the running interpreter and this checkout; returns mkimage's output.
    :class:`subprocess.CalledProcessError` if the build fails."""
    done = subprocess.run([str(REPO / "tools" / "dracut" / "mkimage"), "-o", str(out), "--kernel-root",
                           str(assets.root / "kernel"), "--python", os.path.realpath(sys.executable),
                           "--pythonpath", str(REPO), "--modules", DRACUT_MODULES, "--drivers", DRACUT_DRIVERS,
                           "--compress", "zstd -3", *DRACUT_IMAGES[kind]],
                          text=True, capture_output=True, timeout=900, check=True)
    return done.stdout + done.stderr


def report(serial: str) -> dict[str, str]:
    """The root's ``/sbin/init`` lines (:data:`TAG` KEY VALUE) as a dict."""
    return {m.group(1): m.group(2).strip() for m in re.finditer(rf"^{TAG} (\S+) ?(.*?)\r?$", serial, re.M)}


def kmsg_times(serial: str, pattern: str) -> list[float]:
    """Kernel timestamps of the console lines matching ``pattern`` (printk.time)."""
    return [float(m.group(1)) for m in re.finditer(rf"^\[\s*([0-9.]+)\] {pattern}", serial, re.M)]
