"""The ``ibftkit-init`` guest image: the busybox guest plus Python 3.11, ibftkit and its runtime deps.

What goes in (``docs/vm-harness.md``, "The recipe"):

- Debian's ``python3.11`` binary and standard library from the asset cache (``python/``:
  ``python3.11-minimal``, ``libpython3.11-minimal``, ``libpython3.11-stdlib``), minus packages no
  boot path uses (:data:`STDLIB_SKIP`), with the shared libraries ``ldd`` names for the binary and
  for every ``lib-dynload/*.so``;
- ibftkit from this checkout and ``construct`` and ``pyroute2`` from the host's site-packages
  (``scapy`` too with ``dhcp=True``), in ``/usr/lib/python3/dist-packages``;
- bytecode compiled ahead by the guest's own interpreter (run on the host: same Debian 12 libc)
  as *sourceless* ``.pyc`` files beside where the ``.py`` was (``compileall -b``), the ``.py`` files
  dropped: nothing is compiled at boot, nothing is checked against a source timestamp, and the
  image is smaller. (Images are written with mtime 0, so timestamp-checked ``__pycache__`` files
  would all be stale in the guest.) ``os.py`` stays as source: it is the interpreter's landmark
  for finding its standard library (``Modules/getpath.py``);
- ``/usr/sbin/ibftkit-init``, a four-line launcher for ``ibftkit.cli.init:entry`` run with ``-IS``
  (isolated: no environment variables, no user site);
- the guest ``init`` of the caller's choice (``tools/vm/guest/init-ibftkit`` for the e2e mode).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import types
from dataclasses import dataclass
from pathlib import Path

from . import qemu, serial
from .assets import Assets, ldd_libraries
from .capture import APPEND, Case, boot_case
from .initramfs import GUEST_DIR, IBFT_MODULES, LOGIN_MODULES, NIC_MODULES, Cpio, guest_image
from .tgt import marker

REPO = Path(__file__).resolve().parents[3]
PY = "python3.11"
DIST = "usr/lib/python3/dist-packages"
def _initramfs_stage() -> types.ModuleType:
    """tools/initrd-common/stage.py, which builds the same tree for the initramfs-tools, dracut and
    mkinitcpio images: one list of what the guest's standard library leaves out, for all."""
    path = REPO / "tools/initrd-common/stage.py"
    spec = importlib.util.spec_from_file_location("ibftkit_initramfs_stage", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"{path}: cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks its module up there
    spec.loader.exec_module(module)
    return module


_STAGE = _initramfs_stage()
# Standard-library entries no ibftkit-init path imports, and lib-dynload modules nothing on the path
# imports whose libraries (Berkeley DB, Kerberos via nis, readline, ncurses) would add megabytes.
# Checked by the e2e boots: a missing module there fails the case. Kept: asyncio, concurrent, json,
# logging, email, ... (pyroute2 uses them).
STDLIB_SKIP: frozenset[str] = _STAGE.STDLIB_SKIP
DYNLOAD_SKIP: tuple[str, ...] = _STAGE.DYNLOAD_SKIP
# -I: isolated (no PYTHON* variables, no user site); -S: no site module (its work is finding
# site-packages: the one directory it would add is added here, 0.05 s sooner).
LAUNCHER = f"""#!/usr/bin/{PY} -IS
import sys
sys.path.append("/{DIST}")
from ibftkit.cli.init import entry
entry()
"""


def _host_package(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{name} is not installed on the host (pip install -e '.[test]')")
    return Path(next(iter(spec.submodule_search_locations)))


def _copy_package(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "*.pyi"))


def stage_python(assets: Assets, dest: Path, *, dhcp: bool = False) -> None:
    """Lay out the guest's Python tree under ``dest`` (a directory that becomes the image root)."""
    src = assets.python_root
    (dest / "usr/bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "usr/bin" / PY, dest / "usr/bin" / PY)
    os.symlink(PY, dest / "usr/bin/python3")
    lib = dest / "usr/lib" / PY
    lib.mkdir(parents=True)
    for entry in sorted((src / "usr/lib" / PY).iterdir()):
        if entry.name in STDLIB_SKIP or entry.name.startswith("config-"):
            continue
        if entry.is_dir():
            shutil.copytree(entry, lib / entry.name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "tests", "test"))
        else:
            shutil.copy2(entry, lib / entry.name, follow_symlinks=False)
    for so in sorted((lib / "lib-dynload").glob("*.so")):
        if so.name.startswith(DYNLOAD_SKIP):
            so.unlink()
    sos = [dest / "usr/bin" / PY, *sorted((lib / "lib-dynload").glob("*.so"))]
    for so in sos:
        for dep in ldd_libraries(so):
            target = dest / str(dep).lstrip("/")
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(dep.resolve(), target)
    dist = dest / DIST
    dist.mkdir(parents=True)
    _copy_package(REPO / "ibftkit", dist / "ibftkit")
    for name in ("construct", "pyroute2", *(("scapy",) if dhcp else ())):
        _copy_package(_host_package(name), dist / name)
    _compile(assets, dest, [lib, dist])
    (dest / "usr/sbin").mkdir(parents=True, exist_ok=True)
    (dest / "usr/sbin/ibftkit-init").write_text(LAUNCHER)
    (dest / "usr/sbin/ibftkit-init").chmod(0o755)


def _compile(assets: Assets, dest: Path, dirs: list[Path]) -> None:
    """Sourceless bytecode by the guest's own interpreter (``-b``: ``x.pyc`` beside ``x.py``)."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONHOME": str(assets.python_root / "usr"), "LC_ALL": "C"}
    argv = [str(assets.python_root / "usr/bin" / PY), "-m", "compileall", "-q", "-b", "-j", "0",
            "--invalidation-mode", "unchecked-hash", *map(str, dirs)]
    done = subprocess.run(argv, env=env, text=True, capture_output=True)
    if done.returncode != 0:  # some vendored files may not compile (e.g. py2 examples): list them
        bad = [line for line in done.stdout.splitlines() if "Error" in line or "***" in line]
        if any("ibftkit" in line or "/construct/" in line or "/pyroute2/" in line for line in bad):
            raise RuntimeError(f"compileall failed: {done.stdout[-800:]}{done.stderr[-400:]}")
    for d in dirs:
        for py in d.rglob("*.py"):
            if py.with_suffix(".pyc").exists() and not (py.name == "os.py" and py.parent.name == PY):
                py.unlink()


def e2e_image(assets: Assets, *, init: Path = GUEST_DIR / "init-ibftkit", dhcp: bool = False,
              modules: tuple[str, ...] = ()) -> Cpio:
    """The busybox guest (modules for the table, e1000 and the iSCSI login; iscsistart) plus Python
    and ibftkit-init, with ``init`` as ``/init``; ``modules``: more kernel modules to load at boot
    (``8021q`` for the VLAN case)."""
    img = guest_image(assets, modules=IBFT_MODULES + NIC_MODULES + LOGIN_MODULES + modules, init=init)
    with tempfile.TemporaryDirectory(prefix="ibftkit-pyguest-") as tmp:
        stage_python(assets, Path(tmp), dhcp=dhcp)
        img.add_tree(Path(tmp))
    return img


def build_initrd(assets: Assets, path: Path, *, init: Path = GUEST_DIR / "init-ibftkit",
                 dhcp: bool = False, modules: tuple[str, ...] = ()) -> int:
    """Write the gzipped image to ``path``; return its size in bytes."""
    return e2e_image(assets, init=init, dhcp=dhcp, modules=modules).write_gz(path)


# --- running a case -------------------------------------------------------------------------------

@dataclass(frozen=True)
class E2eResult:
    case: Case
    rc: int  # ibftkit-init's exit status in the guest
    output: str  # its stdout and stderr
    disks: dict[str, bytes]  # "sda-2:0:0:1" -> first bytes
    times: dict[str, float]  # /proc/uptime stamps (and py-* durations)
    net: str
    seconds: float  # QEMU power-on to power-off, host clock
    notes: tuple[str, ...]
    kmsg: str = ""  # the guest's kernel-log lines with "ibftkit" (printk timestamps): ibftkit-init's steps

    @property
    def to_disk(self) -> float:
        """Seconds from starting ibftkit-init to the first disk read (the anchor's "disk" figure)."""
        reads = [v for k, v in self.times.items() if k.startswith("e2e-read-")]
        return min(reads) - self.times["e2e-start"]

    @property
    def login(self) -> float:
        return self.times["e2e-login"] - self.times["e2e-start"]


class E2eError(RuntimeError):
    pass


def run_e2e(assets: Assets, case: Case, *, initrd: Path, init_args: tuple[str, ...] = (), timeout: float = 300,
            keep_log: Path | None = None) -> E2eResult:
    """Boot ``case`` (capture's iPXE script and tgtd plumbing) into the ibftkit-init guest.

    Raises :class:`E2eError` unless ibftkit-init exited 0 and every target's marker was read."""
    append = "console=ttyS0 quiet panic=1" + (f" ibftkitvm.args={','.join(init_args)}" if init_args else "")
    with tempfile.TemporaryDirectory(prefix=f"ibftkit-e2e-{case.fixture}-") as tmp:
        result = boot_case(assets, case, initrd=initrd, script=case.ipxe_script().replace(APPEND, append),
                           work=Path(tmp), timeout=timeout, keep_log=keep_log)
    return check_e2e(case, result)


def check_e2e(case: Case, result: qemu.RunResult) -> E2eResult:
    """What the init-ibftkit guest of one boot of ``case`` printed (shared by every e2e runner).

    Raises :class:`E2eError` unless ibftkit-init exited 0 and every target's marker was read."""
    rep = serial.parse(result.serial)
    if not rep.done:
        raise E2eError(f"{case.fixture}: guest did not finish (QEMU exit {result.returncode}); "
                       f"serial ends {result.serial[-800:]!r}")
    out = rep.text("ibftkit-init")
    rc = rep.rcs.get("ibftkit-init", -1)
    disks = {n.removeprefix("disk-"): d for n, d in rep.blobs.items() if n.startswith("disk-")}
    want = {marker(t.iqn, t.lun) for t in case.targets}
    got = {m for m in want for d in disks.values() if d.startswith(m)}
    if rc != 0 or got != want:
        raise E2eError(f"{case.fixture}: ibftkit-init exit {rc}; disks read {sorted(disks)}; markers missing "
                       f"for {sorted(m.decode().strip() for m in want - got)}; ibftkit-init said {out[-600:]!r}; "
                       f"notes {rep.notes}")
    return E2eResult(case, rc, out, disks, dict(rep.times), rep.blobs.get("net", b"").decode(errors="replace"),
                     result.seconds, tuple(rep.notes), rep.blobs.get("kmsg", b"").decode(errors="replace"))
