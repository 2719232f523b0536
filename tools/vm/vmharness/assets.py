"""Guest assets, from Debian packages only, kept in a cache the harness owns.

Layout of the cache (default ``/var/cache/ibftkit-vm``, override with ``IBFTKIT_VM_CACHE``)::

    debs/              the downloaded .deb files (``apt-get download``)
    kernel/            ``dpkg -x`` of linux-image-6.1.*-amd64: boot/vmlinuz-VER, lib/modules/VER
                       (``depmod -b kernel VER`` writes modules.dep there)
    python/            ``dpkg -x`` of python3.11-minimal, libpython3.11-minimal, libpython3.11-stdlib
                       (for the guest's ibftkit-init, see ``docs/vm-harness.md``, "The recipe")
    base/              host binaries from installed packages, with their ``ldd`` libraries:
                       bin/busybox (busybox-static), usr/sbin/iscsistart (open-iscsi)
    manifest.json      what is there (written last: its presence means the cache is complete)

``fetch`` is idempotent: a complete cache is left alone unless ``refresh=True``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CACHE = "/var/cache/ibftkit-vm"
MANIFEST_VERSION = 1
KERNEL_META = "linux-image-amd64"
KERNEL_RE = re.compile(r"^linux-image-(6\.1\.\S+-amd64)$")
PYTHON_PACKAGES = ("python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib")
HOST_BINARIES = {  # path in the guest -> (host path, Debian package it comes from)
    "bin/busybox": ("/bin/busybox", "busybox-static"),
    "usr/sbin/iscsistart": ("/usr/sbin/iscsistart", "open-iscsi"),
}


class AssetsMissing(RuntimeError):
    """The cache is incomplete or a host tool is missing; the message says what to run."""


@dataclass(frozen=True)
class Assets:
    root: Path
    kernel_version: str
    packages: dict[str, str]  # package -> version

    @property
    def vmlinuz(self) -> Path:
        return self.root / "kernel" / "boot" / f"vmlinuz-{self.kernel_version}"

    @property
    def modules_dir(self) -> Path:
        return self.root / "kernel" / "lib" / "modules" / self.kernel_version

    @property
    def base(self) -> Path:
        return self.root / "base"

    @property
    def python_root(self) -> Path:
        return self.root / "python"


def cache_dir() -> Path:
    return Path(os.environ.get("IBFTKIT_VM_CACHE") or DEFAULT_CACHE)


def load(root: Path | None = None) -> Assets:
    """The cached assets, or :class:`AssetsMissing` naming the command that makes them."""
    root = root or cache_dir()
    manifest = root / "manifest.json"
    if not manifest.is_file():
        raise AssetsMissing(f"no VM assets in {root} (run: tools/vm/fetch-assets, as root)")
    data = json.loads(manifest.read_text())
    if data.get("version") != MANIFEST_VERSION:
        raise AssetsMissing(f"{manifest}: manifest version {data.get('version')} "
                            f"(expected {MANIFEST_VERSION}; run: tools/vm/fetch-assets --refresh)")
    assets = Assets(root, data["kernel_version"], dict(data["packages"]))
    for must in (assets.vmlinuz, assets.modules_dir / "modules.dep", assets.base / "bin/busybox",
                 assets.base / "usr/sbin/iscsistart"):
        if not must.exists():
            raise AssetsMissing(f"{must} is missing (run: tools/vm/fetch-assets --refresh)")
    return assets


def _run(argv: list[str], *, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, check=True, text=True, capture_output=True,
                              env={**os.environ, "LC_ALL": "C"})
    except FileNotFoundError:
        raise AssetsMissing(f"{argv[0]}: not found (run: tools/install-test-deps)") from None
    except subprocess.CalledProcessError as e:
        raise AssetsMissing(f"{' '.join(argv)}: exit {e.returncode}: {e.stderr.strip()[-400:]}") from None
    return done.stdout


def current_kernel_package() -> str:
    """The ``linux-image-6.1.*-amd64`` that ``linux-image-amd64`` depends on right now."""
    out = _run(["apt-cache", "depends", KERNEL_META])
    for line in out.splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "Depends" and KERNEL_RE.match(value.strip()):
            return value.strip()
    raise AssetsMissing(f"apt-cache depends {KERNEL_META}: no linux-image-6.1.*-amd64 dependency "
                        "(is apt-get update done?)")


def _download(package: str, debs: Path) -> Path:
    """``apt-get download`` one package into ``debs`` (kept: a second run reuses the file)."""
    have = sorted(debs.glob(f"{package}_*.deb"))
    if have:
        return have[-1]
    _run(["apt-get", "download", "-q", package], cwd=debs)
    have = sorted(debs.glob(f"{package}_*.deb"))
    if not have:
        raise AssetsMissing(f"apt-get download {package}: no .deb appeared in {debs}")
    return have[-1]


def _deb_version(deb: Path) -> str:
    return _run(["dpkg-deb", "-f", str(deb), "Version"]).strip()


def ldd_libraries(binary: Path) -> list[Path]:
    """The shared objects ``ldd`` resolves for ``binary`` (the dynamic loader included)."""
    out = subprocess.run(["ldd", str(binary)], text=True, capture_output=True).stdout
    libs = []
    for line in out.splitlines():
        line = line.strip()
        m = re.search(r"=>\s+(/\S+)", line) or re.match(r"(/\S+)\s+\(", line)
        if m:
            libs.append(Path(m.group(1)))
    return libs


def copy_with_libraries(binary: Path, guest_path: str, dest_root: Path) -> list[str]:
    """Copy ``binary`` to ``dest_root/guest_path`` and its ``ldd`` libraries to the same paths."""
    copied = []
    for src, rel in [(binary, guest_path), *((lib, str(lib).lstrip("/")) for lib in ldd_libraries(binary))]:
        real = src.resolve()
        dst = dest_root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(real, dst)
        copied.append(rel)
    return copied


def _host_package_version(package: str) -> str:
    return _run(["dpkg-query", "-W", "-f", "${Version}", package]).strip()


def fetch(root: Path | None = None, *, refresh: bool = False,
          log: Callable[[str], None] = print) -> Assets:
    """Make the cache complete (idempotent); return what it holds."""
    root = root or cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not refresh:
            try:
                assets = load(root)
            except AssetsMissing:
                pass
            else:
                log(f"VM assets complete in {root} (kernel {assets.kernel_version})")
                return assets
        return _fetch_locked(root, refresh, log)


def _fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def _fetch_locked(root: Path, refresh: bool, log: Callable[[str], None]) -> Assets:
    (root / "manifest.json").unlink(missing_ok=True)
    debs = root / "debs"
    debs.mkdir(exist_ok=True)
    os.chmod(debs, 0o755)  # apt-get download drops privileges to _apt where it can
    packages: dict[str, str] = {}

    kpkg = current_kernel_package()
    kver = KERNEL_RE.match(kpkg).group(1)  # type: ignore[union-attr]
    log(f"kernel package: {kpkg}")
    kdeb = _download(kpkg, debs)
    packages[kpkg] = _deb_version(kdeb)
    kernel = _fresh_dir(root / "kernel")
    _run(["dpkg", "-x", str(kdeb), str(kernel)])
    # Debian 12 ships modules under lib/modules; usrmerged layouts under usr/lib/modules.
    if not (kernel / "lib/modules" / kver).is_dir() and (kernel / "usr/lib/modules" / kver).is_dir():
        (kernel / "lib").mkdir(exist_ok=True)
        (kernel / "lib/modules").symlink_to("../usr/lib/modules")
    _run(["depmod", "-b", str(kernel), kver])
    log(f"kernel {kver}: {kernel / 'boot'}, modules.dep written")

    python = _fresh_dir(root / "python")
    for pkg in PYTHON_PACKAGES:
        deb = _download(pkg, debs)
        packages[pkg] = _deb_version(deb)
        _run(["dpkg", "-x", str(deb), str(python)])
    log(f"python for the guest: {', '.join(PYTHON_PACKAGES)} in {python}")

    base = _fresh_dir(root / "base")
    for guest_path, (host_path, pkg) in HOST_BINARIES.items():
        if not Path(host_path).exists():
            raise AssetsMissing(f"{host_path} missing (apt-get install {pkg}, or run tools/install-test-deps)")
        packages[pkg] = _host_package_version(pkg)
        copied = copy_with_libraries(Path(host_path), guest_path, base)
        log(f"{pkg}: {', '.join(copied)}")

    manifest = {"version": MANIFEST_VERSION, "kernel_version": kver, "packages": packages}
    with tempfile.NamedTemporaryFile("w", dir=root, delete=False) as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(f.name, root / "manifest.json")
    os.chmod(root / "manifest.json", 0o644)
    return load(root)


def module_paths(modules_dir: Path, names: Iterable[str]) -> list[Path]:
    """The ``.ko`` files for ``names`` and everything they depend on, dependencies first.

    Reads ``modules.dep`` (``depmod`` output: ``path: dep1 dep2 ...``, deps in load order reversed).
    Names compare with ``-`` and ``_`` equal, as modprobe does.
    """
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
        base = Path(path).name
        for suffix in (".ko", ".ko.xz", ".ko.zst", ".ko.gz"):
            if base.endswith(suffix):
                by_name[base[: -len(suffix)].replace("-", "_")] = path
    order: list[str] = []

    def visit(path: str, stack: tuple[str, ...]) -> None:
        if path in order or path in stack:
            return
        for dep in reversed(deps.get(path, [])):
            visit(dep, (*stack, path))
        order.append(path)

    for name in names:
        key = name.replace("-", "_")
        if key not in by_name:
            raise AssetsMissing(f"module {name!r} not in {modules_dir}/modules.dep")
        visit(by_name[key], ())
    return [modules_dir / p for p in order]
