"""A real Debian root on the iSCSI LUN: built with ``mmdebstrap``, booted with Debian's initramfs.

Two stacks share one recipe (``tools/vm/realroot/recipe.sh``): ``ifupdown`` (ifupdown,
isc-dhcp-client, resolvconf) and ``networkd`` (systemd-networkd, systemd-resolved); both carry
systemd, open-iscsi, multipath-tools (with multipath-tools-boot) and initramfs-tools. What is kept
in the VM cache (``/var/cache/ibftkit-vm/realroot/``):

- ``<stack>-<key>.tar``: mmdebstrap's output, ``key`` = a hash of the package list, the recipe and
  the guest services, so a changed list rebuilds it;
- ``img-<stack>-<key2>/{root.ext4,initrd.img}``: the tar unpacked, the cache kernel's modules
  (``lib/modules/VER``, a subset), this checkout's ibftkit installed into it with
  ``tools/initramfs-tools/install`` and the image built **inside the root** by its own
  ``mkinitramfs`` (Debian's, with open-iscsi's, multipath-tools-boot's and ibftkit's hooks), then the
  tree written into an ext4 image (``mke2fs -d``). ``key2`` adds a hash of ibftkit's sources and the
  hook, so a change to either rebuilds the image (about 1.5 min) but not the tar (about 3 min).

Each test run copies ``root.ext4`` (sparse) and serves the copy as the LUN.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .assets import Assets, cache_dir

TOOLS = Path(__file__).resolve().parent.parent
CHECKOUT = TOOLS.parent.parent
RECIPE_DIR = TOOLS / "realroot"
SUITE = "bookworm"
COMMON = ("systemd-sysv", "udev", "open-iscsi", "multipath-tools", "multipath-tools-boot", "initramfs-tools",
          "python3", "e2fsprogs", "iproute2", "kmod", "zstd", "busybox", "procps", "util-linux")
STACKS = {
    "ifupdown": COMMON + ("ifupdown", "isc-dhcp-client", "resolvconf"),
    "networkd": COMMON + ("systemd-resolved",),
}
# The cache kernel's modules the root needs (NIC, iSCSI, SCSI disk, dm-multipath, ext4, crc32c);
# the rest of the 400 MB tree stays out of the image.
MODULE_DIRS = ("block", "drivers/net/ethernet/intel", "drivers/scsi", "drivers/md", "drivers/firmware", "drivers/block",
               "fs/ext4", "fs/jbd2", "fs/mbcache.ko", "crypto", "lib", "arch")
IMAGE_BYTES = 1536 << 20
INSTALL_DIRS = ("initramfs-tools", "initrd-common")  # tools/: ibftkit's initramfs-tools hook and what it shares
GUEST_UNITS = ("rr-writer", "rr-monitor", "rr-control")  # tools/vm/realroot/guest/: the test's own services
# Multipath roots want a path that fails fast (dm-multipath queues when none is left), so the
# sessions get a short replacement timeout and NOP-outs to notice a dead link; and every path logged
# in before the script returns, so that multipath-tools-boot's script sees both and the hand-off in
# /run holds every path's node record (docs/after-boot.md).
MULTIPATH_ARGS = ("--wait-for-all-paths --param node.session.timeo.replacement_timeout=15 "
                  "--param node.conn[0].timeo.noop_out_interval=5 --param node.conn[0].timeo.noop_out_timeout=5")


class RealRootError(RuntimeError):
    """Building the root or its image failed; the message names the step and the tool's error."""


@dataclass(frozen=True)
class RootImage:
    stack: str
    image: Path  # ext4, the whole LUN (no partition table)
    initrd: Path
    kernel_version: str


def _hash_files(paths: list[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for p in sorted(paths):
        h.update(str(p.relative_to(CHECKOUT)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def tar_key(stack: str) -> str:
    return _hash_files([RECIPE_DIR / "recipe.sh"], f"{SUITE} {' '.join(sorted(STACKS[stack]))}")


def image_key(stack: str, assets: Assets) -> str:
    files = [p for p in (CHECKOUT / "ibftkit").rglob("*.py")]
    files += [p for part in INSTALL_DIRS for p in (CHECKOUT / "tools" / part).rglob("*") if p.is_file()]
    files += [p for p in (RECIPE_DIR / "guest").iterdir() if p.is_file()]
    files.append(Path(__file__).resolve())
    return _hash_files(files, f"{tar_key(stack)} {assets.kernel_version} {MULTIPATH_ARGS}")


def _run(step: str, argv: list[str], *, timeout: float = 900, **kw: object) -> str:
    done = subprocess.run(argv, text=True, capture_output=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise RealRootError(f"{step}: {argv[0]} exit {done.returncode}: {(done.stderr or done.stdout)[-1500:]}")
    return str(done.stdout)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def root_dir() -> Path:
    return cache_dir() / "realroot"


def build_tar(stack: str, *, log: Callable[[str], None] = print) -> Path:
    """mmdebstrap's root for ``stack`` from the machine's apt sources, cached by :func:`tar_key`."""
    out = root_dir() / f"{stack}-{tar_key(stack)}.tar"
    with _locked(root_dir() / f".{stack}.lock"):
        if out.exists():
            return out
        if shutil.which("mmdebstrap") is None:
            raise RealRootError("mmdebstrap: not found (run tools/install-test-deps)")
        for old in root_dir().glob(f"{stack}-*.tar"):
            old.unlink()
        log(f"realroot: mmdebstrap {SUITE} ({stack}) -> {out}")
        tmp = out.with_suffix(".tmp.tar")
        hook = f'sh {RECIPE_DIR / "recipe.sh"} "$1" {stack}'
        _run("mmdebstrap", ["nice", "-n", "10", "mmdebstrap", "--mode=root", "--variant=minbase",
                            f"--include={','.join(STACKS[stack])}", f"--customize-hook={hook}", SUITE, str(tmp)],
             timeout=1800)
        tmp.rename(out)
    return out


def _python_packages(dest: Path) -> None:
    """This checkout's ibftkit and the interpreter's construct and pyroute2 (pure Python), for the
    root's own python3 to find through IBFTKIT_PYTHONPATH."""
    import construct
    import pyroute2

    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(CHECKOUT / "ibftkit", dest / "ibftkit", ignore=ignore)
    for module in (construct, pyroute2):
        src = Path(module.__file__ or "").parent
        shutil.copytree(src, dest / src.name, ignore=ignore)


def build_image(stack: str, assets: Assets, *, log: Callable[[str], None] = print) -> RootImage:
    """The root image and its initramfs for ``stack`` (cached by :func:`image_key`)."""
    ver = assets.kernel_version
    out = root_dir() / f"img-{stack}-{image_key(stack, assets)}"
    result = RootImage(stack, out / "root.ext4", out / "initrd.img", ver)
    tar = build_tar(stack, log=log)
    with _locked(root_dir() / f".img-{stack}.lock"):
        if (out / "done").exists():
            return result
        for old in root_dir().glob(f"img-{stack}-*"):
            shutil.rmtree(old)
        out.mkdir(parents=True)
        tree = out / "tree"
        tree.mkdir()
        log(f"realroot: image ({stack}) -> {out}")
        _run("unpack", ["tar", "-C", str(tree), "--numeric-owner", "-xf", str(tar)])
        mods = tree / "lib" / "modules" / ver
        for rel in MODULE_DIRS:
            src = assets.modules_dir / "kernel" / rel
            dst = mods / "kernel" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst)
            elif src.exists():
                shutil.copy2(src, dst)
        for f in assets.modules_dir.glob("modules.builtin*"):
            shutil.copy2(f, mods / f.name)
        shutil.copy2(assets.modules_dir / "modules.order", mods / "modules.order")
        _run("depmod", ["depmod", "-b", str(tree), ver])
        (tree / "boot").mkdir(exist_ok=True)
        for f in (assets.root / "kernel" / "boot").iterdir():  # vmlinuz, config (mkinitramfs reads it)
            shutil.copy2(f, tree / "boot" / f.name)
        guest = RECIPE_DIR / "guest"
        for unit in GUEST_UNITS:
            shutil.copy2(guest / unit, tree / "usr/local/sbin" / unit)
            (tree / "usr/local/sbin" / unit).chmod(0o755)
            shutil.copy2(guest / f"{unit}.service", tree / "etc/systemd/system" / f"{unit}.service")
        _run("systemctl enable", ["chroot", str(tree), "systemctl", "enable", *(f"{u}.service" for u in GUEST_UNITS)])
        _run("systemctl mask", ["chroot", str(tree), "systemctl", "mask", "serial-getty@ttyS1.service",
                                "serial-getty@ttyS2.service"])
        _python_packages(tree / "usr/local/lib/ibftkit/python")
        for part in INSTALL_DIRS:  # install finds its shared files beside it (../initrd-common)
            shutil.copytree(CHECKOUT / "tools" / part, tree / "tmp/ibftkit-tools" / part)
        _run("ibftkit install", ["chroot", str(tree), "sh", "/tmp/ibftkit-tools/initramfs-tools/install",
                                 "--python", "/usr/bin/python3", "--pythonpath", "/usr/local/lib/ibftkit/python"])
        shutil.rmtree(tree / "tmp/ibftkit-tools")
        conf = tree / "etc/initramfs-tools/conf.d/ibftkit"
        conf.write_text(conf.read_text() + f'IBFTKIT_ARGS="{MULTIPATH_ARGS}"\n')
        script = (f"mount --bind /proc {tree}/proc && mount --bind /sys {tree}/sys && "
                  f"mount --bind /dev {tree}/dev && chroot {tree} mkinitramfs -o /boot/initrd.img-{ver} {ver}")
        _run("mkinitramfs", ["unshare", "--mount", "--fork", "sh", "-c", script], timeout=1200)
        shutil.copy2(tree / "boot" / f"initrd.img-{ver}", result.initrd)
        _run("mke2fs", ["mke2fs", "-q", "-F", "-t", "ext4", "-L", "rr-root", "-d", str(tree), str(result.image),
                        str(IMAGE_BYTES >> 10) + "k"], timeout=900)
        shutil.rmtree(tree)
        (out / "done").write_text(f"{stack} {ver}\n")
    return result


def copy_image(src: Path, dst: Path) -> Path:
    """A sparse copy of the root image for one boot (the cached one is never written)."""
    _run("copy", ["cp", "--sparse=always", str(src), str(dst)])
    return dst


if __name__ == "__main__":  # tools/vm/realroot-build STACK...
    from .assets import load

    for name in sys.argv[1:] or list(STACKS):
        print(build_image(name, load()))
