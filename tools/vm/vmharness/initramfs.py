"""Guest initramfs images: a ``newc`` cpio writer and the busybox image builder.

The ``newc`` format is the one the kernel unpacks (``Documentation/driver-api/early-userspace/
buffer-format.rst``): per entry a 110-byte ASCII header (magic ``070701`` and 13 eight-digit hex
fields), the NUL-terminated name padded to 4 bytes, the data padded to 4 bytes; ``TRAILER!!!`` ends it.
Written here rather than with ``cpio`` so that images are reproducible (mtime 0, sorted, uid 0).

The guest image holds busybox (``/bin/sh``; ``/init`` runs ``busybox --install -s``), the kernel
modules for the requested names in load order (``/lib/modules/*.ko`` plus ``/etc/ibftkit-vm/modules``,
one file name a line), ``iscsistart`` with its libraries, the shared guest ``/init`` from
``tools/vm/guest/init``, ``tools/vm/guest/paths-report`` (``/etc/ibftkit-vm/paths-report``), and any
extra files a caller adds (later: Python and ``ibftkit-init``).
"""

from __future__ import annotations

import gzip
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .assets import Assets, module_paths

GUEST_DIR = Path(__file__).resolve().parent.parent / "guest"

# Table and sysfs view only (kernel view, capture): drivers/firmware/iscsi_ibft.c needs iscsi_boot_sysfs.
IBFT_MODULES = ("iscsi_boot_sysfs", "iscsi_ibft")
NIC_MODULES = ("e1000",)
# A software-initiator login with iscsistart on e1000 (``docs/vm-harness.md``, "The recipe").
LOGIN_MODULES = ("crc32c_generic", "scsi_common", "scsi_mod", "scsi_transport_iscsi", "libiscsi",
                 "libiscsi_tcp", "iscsi_tcp", "crct10dif_common", "crc-t10dif", "crc64",
                 "crc64-rocksoft", "t10-pi", "sd_mod")


def _align4(n: int) -> int:
    return (4 - n % 4) % 4


@dataclass
class Cpio:
    """An in-memory ``newc`` archive; parents of every entry are created as directories."""

    entries: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # path -> (mode, data)

    def _parents(self, path: str) -> None:
        for parent in reversed(PurePosixPath(path).parents):
            p = str(parent)
            if p not in (".", "/", "") and p not in self.entries:
                self.entries[p] = (stat.S_IFDIR | 0o755, b"")

    def add_dir(self, path: str, mode: int = 0o755) -> None:
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = (stat.S_IFDIR | mode, b"")

    def add_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = (stat.S_IFREG | mode, data)

    def add_symlink(self, path: str, target: str) -> None:
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = (stat.S_IFLNK | 0o777, target.encode())

    def add_tree(self, src: Path, dest: str = "") -> None:
        """Copy a host directory tree (files, directories, symlinks as symlinks)."""
        for p in sorted(src.rglob("*")):
            rel = str(PurePosixPath(dest.strip("/")) / p.relative_to(src).as_posix()).strip("/")
            if p.is_symlink():
                self.add_symlink(rel, str(p.readlink()))
            elif p.is_dir():
                self.add_dir(rel)
            elif p.is_file():
                self.add_file(rel, p.read_bytes(), p.stat().st_mode & 0o7777)

    def to_bytes(self) -> bytes:
        out = bytearray()
        names = sorted(self.entries)
        for ino, name in enumerate([*names, "TRAILER!!!"], start=1):
            mode, data = self.entries.get(name, (0, b""))
            nlink = 2 if stat.S_ISDIR(mode) else 1
            if name == "TRAILER!!!":
                ino, nlink = 0, 1
            raw = name.encode() + b"\0"
            fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(raw), 0)
            out += b"070701" + b"".join(b"%08X" % f for f in fields)
            out += raw + b"\0" * _align4(110 + len(raw))
            out += data + b"\0" * _align4(len(data))
        return bytes(out)

    def write_gz(self, path: Path) -> int:
        blob = gzip.compress(self.to_bytes(), compresslevel=6, mtime=0)
        path.write_bytes(blob)
        return len(blob)


def guest_image(assets: Assets, *, modules: tuple[str, ...] = IBFT_MODULES,
                init: Path = GUEST_DIR / "init") -> Cpio:
    """The busybox guest: ``/init``, busybox, iscsistart and the named modules in load order."""
    img = Cpio()
    for d in ("dev", "proc", "sys", "run", "tmp", "mnt", "sbin", "usr/bin", "usr/sbin", "etc/iscsi"):
        img.add_dir(d)
    img.add_tree(assets.base)
    img.add_symlink("bin/sh", "busybox")
    img.add_file("init", init.read_bytes(), 0o755)
    img.add_file("etc/ibftkit-vm/paths-report", (GUEST_DIR / "paths-report").read_bytes(), 0o755)
    order = []
    for ko in module_paths(assets.modules_dir, modules):
        img.add_file(f"lib/modules/{ko.name}", ko.read_bytes())
        order.append(ko.name)
    img.add_file("etc/ibftkit-vm/modules", ("\n".join(order) + "\n").encode())
    return img
