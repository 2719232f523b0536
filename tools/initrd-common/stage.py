"""Stage ibftkit-init into an initramfs tree: the Python interpreter's standard library, ibftkit and
its runtime packages, sourceless bytecode, the ``/usr/sbin/ibftkit-init`` launcher and the boot
scripts' shared shell functions (``ibftkit-functions``, beside this file).

Shared by ibftkit's three image-builder integrations, each of which runs it **with the interpreter
that will run in the initramfs** (``IBFTKIT_PYTHON``), so that the standard library, the packages
and the bytecode magic are that interpreter's own: Debian's initramfs-tools
(``tools/initramfs-tools/hooks/ibftkit``, tree ``$DESTDIR``), dracut
(``tools/dracut/95ibftkit/module-setup.sh``, tree ``$initdir``) and mkinitcpio
(``tools/mkinitcpio/install/ibftkit``, tree ``$BUILDROOT``)::

    "$IBFTKIT_PYTHON" -I stage.py --destdir TREE --manifest FILE [--dhcp] [--path DIR]...

Non-ELF files are copied here. ELF files (the interpreter and ``lib-dynload/*.so``) are only listed
in ``--manifest`` (``copy<TAB>SOURCE<TAB>TARGET`` lines) for the builder's own ELF installer, which
also copies the shared libraries they need: initramfs-tools' ``copy_exec``, dracut's
``inst_library`` (``dracut-install -l``), mkinitcpio's ``add_binary``. A file this script had copied
already would make those skip the libraries.

What is left out imitates the VM harness's guest (``tools/vm/vmharness/pyguest.py``, proven by its
e2e boots): standard-library packages no ibftkit-init path imports, ``lib-dynload`` modules whose
libraries are large and unused, tests, ``__pycache__`` and type stubs. pyroute2 0.9.7 imports
``unittest``, ``sqlite3``, ``ssl``, ``lzma`` and ``bz2`` at import time, so those stay. Without
``--dhcp`` neither scapy nor ``ibftkit.sources.dhcp`` is copied: on the DHCP path ibftkit-init then says
"the DHCP client (ibftkit.sources.dhcp) is not in this build" instead of failing on an import.

The interpreter keeps its own paths (``/usr/bin/python3.11`` and ``/usr/lib/python3.11`` for
Debian's), so it finds its standard library as it does on the build machine; the packages go to
:data:`PACKAGE_DIR`, which the launcher puts first on ``sys.path`` (``-I``: no environment, no user
site). Standard library only: this runs under whatever interpreter the user configured.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import importlib.machinery
import importlib.util
import os
import py_compile
import shutil
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = "/usr/lib/ibftkit/python"
LAUNCHER_PATH = "/usr/sbin/ibftkit-init"
# The boot scripts' shared shell functions (trigger words, exit-status meanings, the run itself).
FUNCTIONS_PATH = "/usr/lib/ibftkit/ibftkit-functions"
FUNCTIONS_SOURCE = Path(__file__).resolve().with_name("ibftkit-functions")
PACKAGES = ("ibftkit", "construct", "pyroute2")
DHCP_PACKAGES = ("scapy",)
MIN_PYTHON = (3, 11)

# Standard-library entries no ibftkit-init path imports (the VM harness's image uses these too:
# tools/vm/vmharness/pyguest.py).
STDLIB_SKIP = frozenset({
    "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "distutils",
    "venv", "dbm", "curses", "xmlrpc", "wsgiref", "turtle.py", "pydoc.py",
    "doctest.py", "_pydecimal.py", "mailbox.py", "imaplib.py", "nntplib.py", "smtplib.py",
    "ftplib.py", "EXTERNALLY-MANAGED", "LICENSE.txt", "site-packages", "dist-packages",
})
# lib-dynload modules nothing imports whose libraries (Berkeley DB, Kerberos via nis, readline, Tcl/Tk,
# ncurses) would add megabytes.
DYNLOAD_SKIP = ("_dbm.", "_gdbm.", "readline.", "_curses", "nis.", "_crypt.", "_test", "xxlimited",
                "_xxtestfuzz", "_ctypes_test", "audioop.", "_tkinter.")
# Inside any copied tree.
TREE_SKIP = ("__pycache__", "*.pyc", "*.pyo", "*.pyi", "test", "tests", "idle_test")

LAUNCHER = '''#!{python} -I
"""ibftkit-init in the initramfs (written by ibftkit's stage.py)."""
import sys
sys.path.insert(0, "{package_dir}")
from ibftkit.cli.init import entry
entry()
'''


class StageError(Exception):
    """Something the image needs cannot be found or built; the message says what and where."""


@dataclass(frozen=True)
class Interpreter:
    """Where the running interpreter keeps what the image needs."""

    executable: Path  # the real binary (a venv's python resolves to its base interpreter)
    stdlib: Path
    dynload: Path

    @classmethod
    def running(cls) -> Interpreter:
        stdlib = Path(sysconfig.get_path("stdlib"))
        dynload = next((Path(p) for p in sys.path if p.endswith("lib-dynload") and Path(p).is_dir()),
                       stdlib / "lib-dynload")
        return cls(Path(os.path.realpath(sys.executable)), stdlib, dynload)


@dataclass
class Stage:
    """What was staged: ELF files for the builder's ELF installer and a tally for the hook's verbose line."""

    elf: list[tuple[str, str]] = field(default_factory=list)  # (source, target inside the image)
    strip: list[str] = field(default_factory=list)  # more image paths to strip (libpython)
    files: int = 0
    bytes: int = 0

    def count(self, path: Path) -> None:
        self.files += 1
        self.bytes += path.stat().st_size


def inside(destdir: Path, path: str | Path) -> Path:
    """``path`` (absolute, as in the running image) under ``destdir``."""
    return destdir / str(path).lstrip("/")


def skip_stdlib_entry(name: str) -> bool:
    return name in STDLIB_SKIP or name.startswith("config-") or name == "__pycache__"


def skip_dynload(name: str) -> bool:
    return name.startswith(DYNLOAD_SKIP)


def package_names(dhcp: bool) -> tuple[str, ...]:
    return PACKAGES + (DHCP_PACKAGES if dhcp else ())


def is_shared_object(name: str) -> bool:
    return name.endswith(".so") or ".so." in name


def _copy_tree(src: Path, dst: Path, destdir: Path, stage: Stage, *, skip: Iterable[str] = ()) -> None:
    """Copy a tree without :data:`TREE_SKIP` (and ``skip``), symlinks resolved (Debian links
    ``sitecustomize.py`` into /etc, dangling links are left out); shared objects are listed for
    the builder's ELF installer instead of copied."""
    ignore = shutil.ignore_patterns(*TREE_SKIP, *skip)
    for root, dirs, files in os.walk(src, followlinks=True):
        here = Path(root)
        out = dst / here.relative_to(src)
        ignored = ignore(root, [*dirs, *files])
        dirs[:] = sorted(d for d in dirs if d not in ignored)
        out.mkdir(parents=True, exist_ok=True)
        for name in sorted(set(files) - ignored):
            source = here / name
            if not source.exists():
                continue
            if is_shared_object(name):
                stage.elf.append((os.path.realpath(source), "/" + str((out / name).relative_to(destdir))))
            else:
                shutil.copy2(source, out / name)
                stage.count(out / name)


def stage_stdlib(py: Interpreter, destdir: Path, stage: Stage) -> None:
    """The standard library minus :data:`STDLIB_SKIP`; ``lib-dynload`` modules for the builder's ELF installer."""
    if not (py.stdlib / "os.py").is_file():
        raise StageError(f"{py.stdlib}: no os.py (is this {py.executable}'s standard library?)")
    dest = inside(destdir, py.stdlib)
    dest.mkdir(parents=True, exist_ok=True)
    for entry in sorted(py.stdlib.iterdir()):
        if skip_stdlib_entry(entry.name) or entry.resolve() == py.dynload.resolve():
            continue
        if entry.is_dir():
            _copy_tree(entry, dest / entry.name, destdir, stage)
        elif entry.is_file() and not entry.name.endswith((".pyc", ".pyo")):
            shutil.copy2(entry, dest / entry.name)  # follows symlinks
            stage.count(dest / entry.name)
    if not py.dynload.is_dir():
        raise StageError(f"{py.dynload}: no lib-dynload directory for {py.executable}")
    inside(destdir, py.dynload).mkdir(parents=True, exist_ok=True)
    for so in sorted(py.dynload.iterdir()):
        if so.name.endswith(".so") and not skip_dynload(so.name):
            stage.elf.append((os.path.realpath(so), str(so)))


def find_package(name: str, path: Sequence[str]) -> Path:
    """The directory of package ``name``: from ``path`` if it is there, else as this interpreter
    imports it (its ``sys.path`` and finders, so editable installs count)."""
    spec = importlib.machinery.PathFinder.find_spec(name, list(path)) if path else None
    if spec is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
    if spec is None or not spec.submodule_search_locations:
        where = f" or {', '.join(path)}" if path else ""
        raise StageError(f"package {name!r} not found by {sys.executable} (its site-packages{where}); "
                         f"install it for that interpreter or set IBFTKIT_PYTHONPATH")
    return Path(next(iter(spec.submodule_search_locations)))


def stage_packages(destdir: Path, stage: Stage, *, dhcp: bool, path: Sequence[str]) -> list[Path]:
    """ibftkit and its runtime packages into :data:`PACKAGE_DIR`; returns the staged directories."""
    out = []
    for name in package_names(dhcp):
        src = find_package(name, path)
        dst = inside(destdir, PACKAGE_DIR) / name
        if dst.exists():
            shutil.rmtree(dst)
        # Without DHCP the client is left out whole, so the DHCP path fails with ibftkit's own message.
        _copy_tree(src, dst, destdir, stage, skip=() if dhcp or name != "ibftkit" else ("dhcp",))
        out.append(dst)
    return out


def write_launcher(py: Interpreter, destdir: Path, stage: Stage) -> Path:
    launcher = inside(destdir, LAUNCHER_PATH)
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.write_text(LAUNCHER.format(python=py.executable, package_dir=PACKAGE_DIR))
    launcher.chmod(0o755)
    stage.count(launcher)
    return launcher


def write_functions(destdir: Path, stage: Stage) -> Path:
    """``ibftkit-functions`` (beside this file) at :data:`FUNCTIONS_PATH`, for the boot scripts to
    source; :class:`StageError` when it is not beside this file (an incomplete install)."""
    if not FUNCTIONS_SOURCE.is_file():
        raise StageError(f"{FUNCTIONS_SOURCE}: missing (install it beside stage.py)")
    target = inside(destdir, FUNCTIONS_PATH)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FUNCTIONS_SOURCE, target)
    target.chmod(0o644)
    stage.count(target)
    return target


def compile_tree(tree: Path, destdir: Path, *, workers: int = 0, keep: Iterable[Path] = ()) -> list[Path]:
    """Sourceless bytecode (``x.pyc`` beside ``x.py``, unchecked hash: nothing is compiled or
    stat-checked at boot), file names recorded as in the image; the ``.py`` files are removed
    except those in ``keep``. Returns the ``.py`` files that did not compile (they stay as source)."""
    with contextlib.redirect_stdout(sys.stderr):  # compileall reports failures on stdout
        compileall.compile_dir(tree, quiet=2, legacy=True, workers=workers, stripdir=str(destdir),
                               prependdir="/", invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    failed = []
    kept = {k.resolve() for k in keep}
    for source in sorted(tree.rglob("*.py")):
        if not source.with_suffix(".pyc").exists():
            failed.append(source)
        elif source.resolve() not in kept:
            source.unlink()
    return failed


def _check_version() -> None:
    if sys.version_info < MIN_PYTHON:
        raise StageError(f"{sys.executable} is Python {sys.version.split()[0]}; ibftkit needs "
                         f"{'.'.join(map(str, MIN_PYTHON))} or later (set IBFTKIT_PYTHON)")


def stage_all(destdir: Path, *, dhcp: bool = False, path: Sequence[str] = (), workers: int = 0,
              py: Interpreter | None = None) -> Stage:
    """Everything ibftkit-init needs under ``destdir`` except the ELF files (``Stage.elf``)."""
    _check_version()
    py = py or Interpreter.running()
    destdir = destdir.resolve()
    stage = Stage()
    stage.elf.append((str(py.executable), str(py.executable)))
    libpython = shared_libpython()
    if libpython:
        stage.strip.append(libpython)
    stage_stdlib(py, destdir, stage)
    packages = stage_packages(destdir, stage, dhcp=dhcp, path=path)
    write_launcher(py, destdir, stage)
    write_functions(destdir, stage)
    # os.py stays as source: it is the interpreter's landmark for its prefix (Modules/getpath.py).
    stdlib = inside(destdir, py.stdlib)
    failed = compile_tree(stdlib, destdir, workers=workers, keep=[stdlib / "os.py"])
    for tree in packages:
        bad = compile_tree(tree, destdir, workers=workers)
        if bad:
            raise StageError(f"{bad[0]}: does not compile with {py.executable}"
                             + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))
    if failed:
        print(f"ibftkit stage: {len(failed)} standard-library file(s) kept as source (no bytecode), "
              f"e.g. {failed[0]}", file=sys.stderr)
    return stage


def shared_libpython() -> str | None:
    """The interpreter's ``libpython`` when it is built shared (pyenv, Debian's ``libpython3.11``):
    the builder's ELF installer copies it with the binary when ``ldd`` names it, and it is worth stripping."""
    libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    if not sysconfig.get_config_var("Py_ENABLE_SHARED") or not libdir or not soname:
        return None
    return os.path.join(str(libdir), str(soname))


def write_manifest(stage: Stage, manifest: Path) -> None:
    """``copy<TAB>SOURCE<TAB>TARGET`` lines for the builder's ELF installer, then ``strip<TAB>PATH`` lines for
    every image path whose debug information may go (``strip --strip-debug``, when asked)."""
    lines = [f"copy\t{src}\t{dst}\n" for src, dst in stage.elf]
    lines += [f"strip\t{path}\n" for path in [*(dst for _, dst in stage.elf), *stage.strip]]
    manifest.write_text("".join(lines))


def check(*, dhcp: bool, path: Sequence[str]) -> str:
    """What would be staged, in one line; raises :class:`StageError` if something is missing."""
    _check_version()
    py = Interpreter.running()
    if not (py.stdlib / "os.py").is_file():
        raise StageError(f"{py.stdlib}: no os.py (is this {py.executable}'s standard library?)")
    found = ", ".join(f"{name} ({find_package(name, path)})" for name in package_names(dhcp))
    return f"{py.executable} {sys.version.split()[0]} (standard library {py.stdlib}); {found}"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stage.py", description="Stage ibftkit-init and the running "
                                "Python into an initramfs tree (called by ibftkit's initramfs-tools hook, "
                                "dracut module and mkinitcpio install hook).")
    p.add_argument("--destdir", type=Path, help="the image tree (DESTDIR, initdir, BUILDROOT)")
    p.add_argument("--manifest", type=Path, help="write the ELF files for the builder to install here")
    p.add_argument("--check", action="store_true", help="only say what would be staged from where")
    p.add_argument("--dhcp", action="store_true", help="also scapy and ibftkit.sources.dhcp (the DHCP path)")
    p.add_argument("--path", action="append", default=[], metavar="DIR",
                   help="search DIR for the packages before the interpreter's own (repeatable)")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if not args.check and (args.destdir is None or args.manifest is None):
        p.error("--destdir and --manifest are required (or --check)")
    try:
        if args.check:
            print(f"ibftkit stage: {check(dhcp=args.dhcp, path=args.path)}")
            return 0
        stage = stage_all(args.destdir, dhcp=args.dhcp, path=args.path)
        write_manifest(stage, args.manifest)
    except (StageError, OSError) as e:
        print(f"ibftkit stage: {e}", file=sys.stderr)
        return 1
    if args.verbose:
        print(f"ibftkit stage: {stage.files} files ({stage.bytes / 1e6:.1f} MB) and {len(stage.elf)} ELF files "
              f"for {sys.executable} {sys.version.split()[0]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
