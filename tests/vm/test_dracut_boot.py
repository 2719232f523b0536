"""ibftkit-init in a real dracut initramfs (tools/dracut, docs/initramfs.md "dracut"), next to dracut's
own iSCSI module, and in a mkinitcpio-style init (tools/mkinitcpio).

Debian's dracut 059 (``dracut-core``, ``dracut-network``) builds the images with
``tools/dracut/mkimage`` (a private module directory and configuration; the VM cache's Debian kernel
seen as ``/lib/modules/VER`` only inside a private mount namespace), each a systemd initrd (dracut's
``systemd``, ``systemd-initrd``, ``dracut-systemd`` modules, as on Fedora/RHEL/SUSE) with only the
kernel drivers the VM needs, so a build takes seconds:

- ``ibftkit``: ibftkit's module (with the DHCP client), no dracut ``iscsi``/``network`` module;
- ``both``: ibftkit's module **and** dracut's own ``95iscsi`` with ``network-legacy`` (dracut's
  iBFT networking, ``ip=ibft``): the anchor, and the proof that only one of them logs in.

Real iPXE under SeaBIOS ``sanhook``s a ``tgtd`` target whose LUN is an ext4 root and boots the Debian
kernel with the image (``vmharness.rootdisk``); dracut mounts ``root=/dev/sda`` and switches to it;
the root's ``/sbin/init`` prints what it sees and powers off. Each case passes only on those lines.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from vmharness import capture, mkinitcpio, qemu, rootdisk
from vmharness.assets import Assets

pytestmark = pytest.mark.vm

ROOT = Path(__file__).resolve().parents[2]
# What a build must leave as it was on the host.
HOST_PATHS = ("/usr/lib/dracut/modules.d", "/etc/dracut.conf.d", "/lib/modules", "/boot")
APPEND = "root=/dev/sda ro console=ttyS0 panic=1"
# What dracut's iscsi module itself writes for an iBFT boot (module-setup.sh install_ibft) and
# Anaconda/blivet put on installed systems.
DRACUT_IBFT = "rd.iscsi.ibft=1 rd.iscsi.firmware=1"


def host_state() -> dict[str, list[str] | None]:
    return {p: sorted(str(q) for q in Path(p).rglob("*")) if Path(p).exists() else None for p in HOST_PATHS}


@pytest.fixture(scope="module")
def dracut_ready(capture_ready: Assets) -> Assets:
    missing = [t for t in ("dracut", "unshare", "mke2fs", "iscsistart", "dhclient") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"dracut boot: missing {', '.join(missing)} (run tools/install-test-deps)")
    if not Path("/usr/lib/dracut/modules.d/95iscsi").is_dir():
        pytest.skip("dracut boot: no dracut iscsi module (apt-get install dracut-network)")
    return capture_ready


@pytest.fixture(scope="module")
def images(dracut_ready: Assets, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """dracut images (``rootdisk.DRACUT_IMAGES``), each built once and checked to leave the host as it
    was; the interpreter running the tests and this checkout (``--pythonpath``) go in."""
    built: dict[str, Path] = {}

    def build(kind: str) -> Path:
        if kind not in built:
            path = tmp_path_factory.mktemp(f"dracut-{kind}") / "initrd.img"
            before = host_state()
            try:
                rootdisk.dracut_image(dracut_ready, path, kind)
            except subprocess.CalledProcessError as e:
                pytest.fail(f"tools/dracut/mkimage ({kind}) exited {e.returncode}: {(e.stdout + e.stderr)[-3000:]}")
            assert host_state() == before
            built[kind] = path
        return built[kind]

    return build


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory, dracut_ready: Assets) -> Path:
    return rootdisk.make_rootfs(dracut_ready, tmp_path_factory.mktemp("rootfs"))


def check_root(result: qemu.RunResult, work: Path, *, ibftkit: bool = True) -> dict[str, str]:
    """The iSCSI root's /sbin/init ran on /dev/sda (read-only ext4), with one session."""
    serial = result.serial
    (work / "serial.log").write_text(serial)
    report = rootdisk.report(serial)
    assert "done" in report, f"the iSCSI root's /sbin/init did not run (QEMU exit {result.returncode}); " \
        f"serial ends {serial[-3000:]!r}"
    assert re.match(r"/dev/sda / ext4 ro\b", report["root"]), report
    assert report["sessions"].split() == ["session1"], report
    # /run/ibftkit/status: what ibftkit-init returned (absent when it did not run).
    assert (report["ibftkit"] == "0") if ibftkit else ("No such file" in report["ibftkit"]), report
    assert "Traceback" not in serial and "Kernel panic" not in serial
    assert "dracut-initqueue: timeout" not in serial
    assert capture.leftovers() == []
    return report


def summary(name: str, image: Path, result: qemu.RunResult, report: dict[str, str]) -> None:
    print(f"\n{name}: image {image.stat().st_size / 1e6:.1f} MB; power-on to power-off {result.seconds:.1f} s; "
          f"the iSCSI root's /sbin/init at {report['uptime']} s uptime")


def test_ibft_ibftkit_init_mounts_the_root(dracut_ready: Assets, images: Callable[[str], Path], rootfs: Path,
                                           tmp_path: Path) -> None:
    """iPXE's iBFT -> dracut (systemd initrd) -> the cmdline hook sees dracut's own iBFT words ->
    ibftkit-init in the initqueue -> dracut mounts /dev/sda and switches to it."""
    image = images("ibftkit")
    result = rootdisk.boot_ipxe(dracut_ready, image, rootfs, f"{APPEND} {DRACUT_IBFT}", tmp_path)
    report = check_root(result, tmp_path)
    serial = result.serial
    assert "ibftkit: logging in to the iSCSI boot disk with ibftkit-init (rd.iscsi.ibft)" in serial
    assert re.search(r"ibftkit-init: .*from ibft \(memory:/dev/mem@", serial), serial[-3000:]
    # Debian's /run/initramfs/open-iscsi.interface: the kernel's name (this image renames nothing).
    assert report["interface"] == "eth0", report
    summary("dracut + ibftkit, iBFT", image, result, report)


def test_dhcp_path(dracut_ready: Assets, images: Callable[[str], Path], rootfs: Path, tmp_path: Path) -> None:
    """No iBFT, netroot=dhcp: ibftkit-init takes a lease with options 17 and 203 (tgtd admits only
    the initiator option 203 names), logs in, and dracut mounts the root."""
    image = images("ibftkit")
    result, dnsmasq = rootdisk.boot_dhcp(dracut_ready, image, rootfs,
                                         f"{APPEND} netroot=dhcp ipv6.disable=1", tmp_path)
    check_root(result, tmp_path)
    assert "ibftkit: logging in to the iSCSI boot disk with ibftkit-init (netroot)" in result.serial
    assert "DHCPACK(" in dnsmasq, dnsmasq[-2000:]


def test_no_ibft_ends_in_the_emergency_shell_with_the_reason(dracut_ready: Assets, images: Callable[[str], Path],
                                                             tmp_path: Path) -> None:
    """No firmware table (direct kernel boot, no NIC): dracut's emergency handling at once, with
    ibftkit-init's status, meaning and own reason, not after the initqueue's timeout.
    ``rd.shell=0 rd.emergency=poweroff`` so that the VM ends instead of waiting in the shell."""
    log = tmp_path / "serial.log"
    append = f"{APPEND} rd.iscsi.firmware rd.shell=0 rd.emergency=poweroff"
    argv = qemu.base(log, memory_mb=1024) + qemu.no_network() + qemu.direct_kernel(
        dracut_ready.vmlinuz, images("ibftkit"), append)
    result = qemu.run(argv, log, timeout=900)
    serial = result.serial
    line = ("ibftkit: no iSCSI boot disk: ibftkit-init exit 3: no boot configuration found (no usable iBFT, "
            "netroot= or DHCP root path): no boot configuration found")
    assert line in serial, serial[-3000:]
    assert "Boot has failed" in serial and rootdisk.TAG not in serial and "Traceback" not in serial
    assert "dracut-initqueue: timeout" not in serial
    print(f"\nno iBFT: power-on to power-off {result.seconds:.1f} s")


def test_dracut_iscsi_module_logs_in_alone(dracut_ready: Assets, images: Callable[[str], Path], rootfs: Path,
                                           tmp_path: Path) -> None:
    """The anchor: dracut's own 95iscsi (iscsiadm -m fw -l, network-legacy's ip=ibft) boots the same
    disk from the same image; ibftkit's module, also in it, leaves dracut's words to it even with
    ``ibftkit`` on the line: one session, ibftkit-init never ran."""
    image = images("both")
    result = rootdisk.boot_ipxe(dracut_ready, image, rootfs, f"{APPEND} {DRACUT_IBFT} ibftkit", tmp_path)
    report = check_root(result, tmp_path, ibftkit=False)
    assert "dracut's iscsi module logs in, not ibftkit-init (ibftkit ignored)" in result.serial
    summary("dracut's own iscsi module, iBFT", image, result, report)


def test_ibftkit_word_next_to_dracut_iscsi_module(dracut_ready: Assets, images: Callable[[str], Path],
                                                  rootfs: Path, tmp_path: Path) -> None:
    """The same image with only ``ibftkit``: ibftkit-init logs in, dracut's iscsi module stays idle."""
    image = images("both")
    result = rootdisk.boot_ipxe(dracut_ready, image, rootfs, f"{APPEND} ibftkit", tmp_path)
    report = check_root(result, tmp_path)
    assert "ibftkit: logging in to the iSCSI boot disk with ibftkit-init (ibftkit)" in result.serial
    summary("dracut + ibftkit next to dracut's iscsi module", image, result, report)


def test_mkinitcpio_style_boot(dracut_ready: Assets, rootfs: Path, tmp_path: Path) -> None:
    """tools/mkinitcpio: install/ibftkit's build() through mkinitcpio's build functions, hooks/ibftkit's
    run_hook called by an init that does what mkinitcpio's does (vmharness.mkinitcpio says what is
    and is not mkinitcpio's own); iPXE's iBFT -> ibftkit-init -> the root mounted and switched to."""
    conf = tmp_path / "mkinitcpio.conf"
    conf.write_text(f'IBFTKIT_PYTHON="{os.path.realpath(sys.executable)}"\nIBFTKIT_PYTHONPATH="{ROOT}"\n'
                    f'IBFTKIT_STAGE="{ROOT}/tools/initrd-common/stage.py"\n')
    image = mkinitcpio.build(dracut_ready, tmp_path / "build",
                             env={"PATH": os.environ["PATH"], "IBFTKIT_CONF": str(conf)})
    result = rootdisk.boot_ipxe(dracut_ready, image, rootfs, f"{APPEND} ibftkit", tmp_path)
    report = check_root(result, tmp_path)
    assert ":: logging in to the iSCSI boot disk with ibftkit-init (ibftkit)" in result.serial
    assert report["interface"] == "eth0", report
    summary("mkinitcpio-style init + ibftkit", image, result, report)
