"""ibftkit-init in a real Debian initramfs (tools/initramfs-tools, docs/initramfs.md).

Debian's own ``mkinitramfs`` builds the image with ibftkit's hook (``tools/initramfs-tools/mkimage``:
a private configuration directory, the VM cache's Debian kernel seen as ``/lib/modules/VER`` and
``/boot`` only inside a private mount namespace), twice: with the Python that runs the tests and
this checkout's ibftkit, and with a venv of Debian's own ``/usr/bin/python3`` (what users are told
to do). Then real iPXE under SeaBIOS ``sanhook``s a ``tgtd`` target whose LUN is an
ext4 root file system and boots the Debian kernel with ``root=/dev/sda ibftkit``: Debian's ``init``
runs udev, the ``local-top/ibftkit`` script runs ``ibftkit-init`` (the iBFT from low memory, the
e1000 set up with pyroute2, ``iscsistart``), Debian's ``local`` script mounts ``/dev/sda`` and
``run-init`` starts the root's ``/sbin/init``, which prints what it sees and powers off. The test
passes only on that root's lines. A second boot without any iBFT shows the failure path: the
script panics with ibftkit-init's exit status, and ``panic=1`` ends the VM.
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
from vmharness import capture, qemu, rootdisk
from vmharness.assets import Assets

pytestmark = pytest.mark.vm

ROOT = Path(__file__).resolve().parents[2]
MKIMAGE = ROOT / "tools" / "initramfs-tools" / "mkimage"
# What a build must leave as it was on the host (the hook is installed into a private directory,
# the kernel's files are seen only inside a private mount namespace).
HOST_PATHS = ("/etc/initramfs-tools", "/lib/modules", "/boot", "/usr/local/share/ibftkit")
def host_state() -> dict[str, list[str] | None]:
    state: dict[str, list[str] | None] = {
        p: sorted(str(q) for q in Path(p).rglob("*")) if Path(p).exists() else None for p in HOST_PATHS}
    state["/var/tmp/mkinitramfs*"] = sorted(str(q) for q in Path("/var/tmp").glob("mkinitramfs*"))
    return state


@pytest.fixture(scope="module")
def mkinitramfs_ready(capture_ready: Assets) -> Assets:
    missing = [t for t in ("mkinitramfs", "unshare", "mke2fs") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"initramfs-tools boot: missing {', '.join(missing)} (run tools/install-test-deps)")
    if not Path("/etc/initramfs-tools/initramfs.conf").exists():
        pytest.skip("initramfs-tools boot: no /etc/initramfs-tools/initramfs.conf (apt-get install initramfs-tools)")
    return capture_ready


class Image:
    def __init__(self, path: Path, output: str) -> None:
        self.path = path
        self.output = output


def debian_venv(work: Path) -> Path:
    """A venv of Debian's own python3 holding ibftkit, construct and pyroute2 (links to the ones this
    test runs with): the set-up docs/initramfs.md suggests to users. Skips without Debian's python3."""
    base = Path("/usr/bin/python3")
    if not base.exists():
        pytest.skip("no Debian python3 (/usr/bin/python3) on this machine")
    done = subprocess.run([str(base), "-c", "import sys; print(sys.version_info >= (3, 11))"], text=True,
                          capture_output=True, timeout=60)
    if done.stdout.strip() != "True":
        pytest.skip(f"/usr/bin/python3 is older than 3.11: {done.stdout.strip() or done.stderr.strip()}")
    venv = work / "venv"
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True,
                   timeout=120)
    site = next(venv.glob("lib/python3.*/site-packages"))
    import construct
    import pyroute2

    (site / "ibftkit").symlink_to(ROOT / "ibftkit")
    for module in (construct, pyroute2):
        (site / module.__name__).symlink_to(Path(module.__file__ or "").parent)
    return venv / "bin" / "python3"


@pytest.fixture(scope="module")
def images(mkinitramfs_ready: Assets, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Image]:
    """Images Debian's mkinitramfs builds with the hook, built once per interpreter, each checked to
    leave the host as it was: ``build-python`` is the interpreter running the tests with this checkout
    (``IBFTKIT_PYTHONPATH``); ``debian-venv`` is a venv of Debian's python3 (see :func:`debian_venv`)."""
    built: dict[str, Image] = {}

    def build(kind: str) -> Image:
        if kind not in built:
            work = tmp_path_factory.mktemp(f"initramfs-tools-{kind}")
            if kind == "build-python":
                python = ["--python", os.path.realpath(sys.executable), "--pythonpath", str(ROOT)]
            else:
                python = ["--python", str(debian_venv(work))]
            path = work / "initrd.img"
            before = host_state()
            done = subprocess.run([str(MKIMAGE), "-o", str(path), "--kernel-root",
                                   str(mkinitramfs_ready.root / "kernel"), *python],
                                  text=True, capture_output=True, timeout=900)
            assert done.returncode == 0, done.stdout + done.stderr
            assert host_state() == before
            built[kind] = Image(path, done.stdout + done.stderr)
        return built[kind]

    return build


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory, mkinitramfs_ready: Assets) -> Path:
    """An ext4 root file system: static busybox and an /sbin/init that reports and powers off."""
    return rootdisk.make_rootfs(mkinitramfs_ready, tmp_path_factory.mktemp("rootfs"))


def check_root_boot(result: qemu.RunResult, work: Path) -> dict[str, str]:
    serial = result.serial
    (work / "serial.log").write_text(serial)
    report = rootdisk.report(serial)
    assert "done" in report, f"the iSCSI root's /sbin/init did not run (QEMU exit {result.returncode}); " \
        f"serial ends {serial[-2000:]!r}"
    assert re.match(r"/dev/sda / ext4 ro\b", report["root"]), report
    # /run/initramfs/open-iscsi.interface (for Debian's open-iscsi once the system runs): udev's
    # predictable name for the e1000 at PCI slot 3.
    assert report["interface"] == f"ens{qemu.NIC_SLOT}", report
    assert report["sessions"].split() == ["session1"], report
    assert "Traceback" not in serial and "Kernel panic" not in serial
    assert capture.leftovers() == []
    return report


@pytest.mark.parametrize("python", ["build-python", "debian-venv"])
def test_debian_initramfs_mounts_iscsi_root(mkinitramfs_ready: Assets, images: Callable[[str], Image],
                                            rootfs: Path, tmp_path: Path, python: str) -> None:
    """iPXE's iBFT -> Debian's init -> local-top/ibftkit -> ibftkit-init -> /dev/sda mounted as root."""
    image = images(python)
    result = rootdisk.boot_ipxe(mkinitramfs_ready, image.path, rootfs, "root=/dev/sda ro console=ttyS0 panic=1 ibftkit",
                       tmp_path)
    report = check_root_boot(result, tmp_path)
    serial = result.serial
    assert "Logging in to the iSCSI boot disk with ibftkit-init (ibftkit)" in serial
    assert re.search(r"ibftkit-init: .*from ibft \(memory:/dev/mem@", serial), serial[-3000:]
    lines = rootdisk.kmsg_times(serial, "ibftkit: ")
    assert lines
    print(f"\n{python}: image {image.path.stat().st_size} bytes; power-on to power-off {result.seconds:.1f} s; "
          f"/init at {rootdisk.kmsg_times(serial, 'Run /init')[0]:.2f} s, ibftkit-init's first and last kernel-log "
          f"lines at {lines[0]:.2f} and {lines[-1]:.2f} s, the iSCSI root's /sbin/init at {report['uptime']} s uptime")


def test_no_ibft_panics_with_the_reason(mkinitramfs_ready: Assets, images: Callable[[str], Image],
                                        tmp_path: Path) -> None:
    """No firmware table (direct kernel boot, no NIC): the script panics with ibftkit-init's exit
    status and its meaning, and panic=1 ends the VM instead of waiting for a root that cannot come."""
    log = tmp_path / "serial.log"
    append = "root=/dev/sda ro console=ttyS0 panic=1 rd.iscsi.firmware"
    argv = qemu.base(log, memory_mb=1024) + qemu.no_network() + qemu.direct_kernel(
        mkinitramfs_ready.vmlinuz, images("build-python").path, append)
    result = qemu.run(argv, log, timeout=900)
    serial = result.serial
    assert "Logging in to the iSCSI boot disk with ibftkit-init (rd.iscsi.firmware)" in serial, serial[-3000:]
    assert "ibftkit: no iSCSI boot disk: ibftkit-init exit 3: no boot configuration found" in serial, serial[-3000:]
    assert "Rebooting automatically due to panic= boot argument" in serial
    assert "Traceback" not in serial and rootdisk.TAG not in serial


def test_after_open_iscsi_login(mkinitramfs_ready: Assets, images: Callable[[str], Image], rootfs: Path,
                                tmp_path: Path) -> None:
    """With open-iscsi's iscsi_auto as well, its local-top script logs in first (iscsistart -b);
    ibftkit-init then finds the session and leaves it: still one session, root mounted."""
    result = rootdisk.boot_ipxe(mkinitramfs_ready, images("build-python").path, rootfs,
                       "root=/dev/sda ro console=ttyS0 panic=1 iscsi_auto ibftkit", tmp_path)
    check_root_boot(result, tmp_path)
    assert re.search(r"ibftkit-init: .*target\[0\] .*: already logged in", result.serial), result.serial[-3000:]
