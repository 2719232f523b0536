"""tools/initramfs-tools and the shared tools/initrd-common: what stage.py puts into an image tree, the
boot scripts' shared functions (trigger words, the run and its one-line failure), the install script
(docs/initramfs.md). The real build and boot are in tests/vm/test_initramfs_boot.py.

stage.py runs here against a fake interpreter tree (``Interpreter``) and fake packages (``path=``),
compiling in-process (``workers=1``); the shell parts run under ``sh`` (``allow_subprocess``).
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "initramfs-tools"
COMMON = ROOT / "tools" / "initrd-common"
FUNCTIONS = COMMON / "ibftkit-functions"
LOCAL_TOP = TOOLS / "scripts" / "local-top" / "ibftkit"
HOOK = TOOLS / "hooks" / "ibftkit"


def _load_stage() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ibftkit_initramfs_stage", COMMON / "stage.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


stage = _load_stage()


def _write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def fake_python(tmp_path: Path) -> object:
    """A Python prefix as a build machine has it, with what must stay out of the image."""
    prefix = tmp_path / "opt" / "py"
    lib = prefix / "lib" / "python3.11"
    _write(prefix / "bin" / "python3.11", "ELF")
    _write(lib / "os.py", "import sys\n")
    _write(lib / "json" / "__init__.py", "X = 1\n")
    _write(lib / "unittest" / "__init__.py", "")
    _write(lib / "unittest" / "test" / "test_case.py", "")
    _write(lib / "test" / "test_os.py", "")
    _write(lib / "idlelib" / "run.py", "")
    _write(lib / "pydoc.py", "")
    _write(lib / "config-3.11-x86_64-linux-gnu" / "Makefile", "")
    _write(lib / "site-packages" / "other.py", "")
    _write(lib / "__pycache__" / "os.cpython-311.pyc", "")
    # Debian links sitecustomize.py into /etc: the image gets the file, a dangling link nothing.
    os.symlink(_write(tmp_path / "etc" / "sitecustomize.py", "Y = 2\n"), lib / "sitecustomize.py")
    os.symlink(tmp_path / "nowhere.py", lib / "dangling.py")
    for name in ("_json", "_dbm", "readline", "_ssl"):
        _write(lib / "lib-dynload" / f"{name}.cpython-311-x86_64-linux-gnu.so", "ELF")
    return stage.Interpreter(prefix / "bin" / "python3.11", lib, lib / "lib-dynload")


@pytest.fixture
def packages(tmp_path: Path) -> Path:
    pkgs = tmp_path / "pkgs"
    _write(pkgs / "ibftkit" / "__init__.py", "__version__ = '0'\n")
    _write(pkgs / "ibftkit" / "cli" / "init.py", "def main():\n    return 0\n")
    _write(pkgs / "ibftkit" / "sources" / "dhcp" / "__init__.py", "")
    _write(pkgs / "ibftkit" / "tests" / "test_x.py", "")
    _write(pkgs / "construct" / "__init__.py", "")
    _write(pkgs / "pyroute2" / "__init__.py", "")
    _write(pkgs / "pyroute2" / "iproute.pyi", "")
    _write(pkgs / "pyroute2" / "_speedup.cpython-311-x86_64-linux-gnu.so", "ELF")
    _write(pkgs / "scapy" / "__init__.py", "")
    return pkgs


def _image(dest: Path, path: Path | str) -> Path:
    return dest / str(path).lstrip("/")


def test_stage_copies_what_ibftkit_init_needs(tmp_path: Path, fake_python: object, packages: Path) -> None:
    py = fake_python
    dest = tmp_path / "image"
    result = stage.stage_all(dest, path=[str(packages)], workers=1, py=py)
    lib = _image(dest, py.stdlib)  # type: ignore[attr-defined]
    assert (lib / "os.py").exists() and (lib / "os.pyc").exists()  # the prefix landmark stays as source
    assert (lib / "json" / "__init__.pyc").exists() and not (lib / "json" / "__init__.py").exists()
    assert (lib / "sitecustomize.pyc").exists() and not (lib / "sitecustomize.py").is_symlink()
    assert (lib / "unittest" / "__init__.pyc").exists()
    so = "cpython-311-x86_64-linux-gnu.so"
    for gone in ("unittest/test", "test", "idlelib", "pydoc.pyc", "pydoc.py", "config-3.11-x86_64-linux-gnu",
                 "site-packages", "__pycache__", "dangling.py", "dangling.pyc", f"lib-dynload/_json.{so}"):
        assert not (lib / gone).exists(), gone
    pkg = _image(dest, stage.PACKAGE_DIR)
    assert sorted(p.name for p in pkg.iterdir()) == ["construct", "ibftkit", "pyroute2"]
    assert (pkg / "ibftkit" / "cli" / "init.pyc").exists() and not list(pkg.rglob("*.py"))
    assert not (pkg / "ibftkit" / "sources" / "dhcp").exists() and not (pkg / "ibftkit" / "tests").exists()
    assert not (pkg / "pyroute2" / "iproute.pyi").exists()
    dynload = py.dynload  # type: ignore[attr-defined]
    assert result.elf == [
        (str(py.executable), str(py.executable)),  # type: ignore[attr-defined]
        (str(dynload / f"_json.{so}"), str(dynload / f"_json.{so}")),
        (str(dynload / f"_ssl.{so}"), str(dynload / f"_ssl.{so}")),
        (str(packages / "pyroute2" / f"_speedup.{so}"), f"{stage.PACKAGE_DIR}/pyroute2/_speedup.{so}"),
    ]
    assert not (pkg / "pyroute2" / f"_speedup.{so}").exists()  # left to copy_exec
    assert _image(dest, stage.FUNCTIONS_PATH).read_text() == FUNCTIONS.read_text()


def test_bytecode_is_sourceless_unchecked_and_names_image_paths(tmp_path: Path, fake_python: object,
                                                               packages: Path) -> None:
    """Nothing is compiled or stat-checked at boot; tracebacks name the files as the image has them."""
    dest = tmp_path / "image"
    stage.stage_all(dest, path=[str(packages)], workers=1, py=fake_python)
    source = Path(fake_python.stdlib) / "json" / "__init__.py"  # type: ignore[attr-defined]
    data = _image(dest, source.with_suffix(".pyc")).read_bytes()
    assert int.from_bytes(data[4:8], "little") == 0b01  # hash-based, check_source off (PEP 552)
    code = marshal.loads(data[16:])
    assert code.co_filename == str(source) and str(dest) not in code.co_filename


def test_launcher_runs_the_staged_interpreter_isolated(tmp_path: Path, fake_python: object, packages: Path) -> None:
    dest = tmp_path / "image"
    stage.stage_all(dest, path=[str(packages)], workers=1, py=fake_python)
    launcher = _image(dest, stage.LAUNCHER_PATH)
    lines = launcher.read_text().splitlines()
    assert lines[0] == f"#!{fake_python.executable} -I"  # type: ignore[attr-defined]
    assert f'sys.path.insert(0, "{stage.PACKAGE_DIR}")' in lines
    assert "from ibftkit.cli.init import entry" in lines
    assert launcher.stat().st_mode & 0o777 == 0o755


def test_dhcp_adds_scapy_and_the_client(tmp_path: Path, fake_python: object, packages: Path) -> None:
    dest = tmp_path / "image"
    stage.stage_all(dest, dhcp=True, path=[str(packages)], workers=1, py=fake_python)
    pkg = _image(dest, stage.PACKAGE_DIR)
    assert (pkg / "scapy" / "__init__.pyc").exists()
    assert (pkg / "ibftkit" / "sources" / "dhcp" / "__init__.pyc").exists()


def test_manifest_lists_copies_then_strips(tmp_path: Path) -> None:
    result = stage.Stage(elf=[("/opt/py/bin/python3.11", "/opt/py/bin/python3.11"), ("/a/x.so", "/b/x.so")],
                         strip=["/opt/py/lib/libpython3.11.so.1.0"])
    stage.write_manifest(result, tmp_path / "m")
    assert (tmp_path / "m").read_text().splitlines() == [
        "copy\t/opt/py/bin/python3.11\t/opt/py/bin/python3.11", "copy\t/a/x.so\t/b/x.so",
        "strip\t/opt/py/bin/python3.11", "strip\t/b/x.so", "strip\t/opt/py/lib/libpython3.11.so.1.0"]


def test_missing_package_says_what_to_set(tmp_path: Path, fake_python: object, packages: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stage, "PACKAGES", (*stage.PACKAGES, "ibftkit_no_such_package"))
    with pytest.raises(stage.StageError, match=r"package 'ibftkit_no_such_package' not found by .* or "
                       rf"{packages}\); install it for that interpreter or set IBFTKIT_PYTHONPATH"):
        stage.stage_all(tmp_path / "image", path=[str(packages)], workers=1, py=fake_python)


def test_package_that_does_not_compile_is_refused(tmp_path: Path, fake_python: object, packages: Path) -> None:
    _write(packages / "construct" / "broken.py", "def (:\n")
    with pytest.raises(stage.StageError, match=r"construct/broken.py: does not compile with "):
        stage.stage_all(tmp_path / "image", path=[str(packages)], workers=1, py=fake_python)


def test_not_a_standard_library(tmp_path: Path, fake_python: object, packages: Path) -> None:
    (Path(fake_python.stdlib) / "os.py").unlink()  # type: ignore[attr-defined]
    with pytest.raises(stage.StageError, match=r"python3.11: no os.py"):
        stage.stage_all(tmp_path / "image", path=[str(packages)], workers=1, py=fake_python)


def test_skip_lists() -> None:
    assert stage.skip_stdlib_entry("config-3.11-x86_64-linux-gnu") and stage.skip_stdlib_entry("tkinter")
    assert not stage.skip_stdlib_entry("asyncio") and not stage.skip_stdlib_entry("sqlite3")
    assert stage.skip_dynload("_dbm.cpython-311-x86_64-linux-gnu.so")
    assert not stage.skip_dynload("_ssl.cpython-311-x86_64-linux-gnu.so")  # pyroute2 imports ssl
    assert stage.package_names(False) == ("ibftkit", "construct", "pyroute2")
    assert stage.package_names(True)[-1] == "scapy"


def test_check_names_interpreter_and_packages(packages: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert stage.main(["--check", "--path", str(packages)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ibftkit stage: {os.path.realpath(sys.executable)} ")
    assert f"ibftkit ({packages / 'ibftkit'})" in out and "scapy" not in out


def test_usage_needs_destdir_and_manifest() -> None:
    with pytest.raises(SystemExit) as e:
        stage.main([])
    assert e.value.code == 2


# --- the shell parts ------------------------------------------------------------------------------

def _sh(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", *map(str, argv)], text=True, capture_output=True, timeout=60)


@pytest.mark.allow_subprocess
@pytest.mark.parametrize("script", ["hooks/ibftkit", "scripts/local-top/ibftkit", "install", "mkimage"])
def test_shell_syntax_and_mode(script: str) -> None:
    path = TOOLS / script
    assert _sh("-n", path).returncode == 0
    assert path.stat().st_mode & 0o111


@pytest.mark.allow_subprocess
def test_prereqs() -> None:
    """The hook needs nothing first; the boot script runs after open-iscsi's (initramfs-tools' tsort)."""
    assert _sh(HOOK, "prereqs").stdout == "\n"
    assert _sh(LOCAL_TOP, "prereqs").stdout == "iscsi\n"


@pytest.mark.allow_subprocess
@pytest.mark.parametrize(("cmdline", "why"), [
    ("BOOT_IMAGE=/vmlinuz root=/dev/sda ro quiet ibftkit", "ibftkit"),
    ("root=/dev/sda ibftkit=1", "ibftkit"),
    ("root=/dev/sda ibftkit.source=ibft", "ibftkit.source"),
    ("ibftkit.login-retries=0", "ibftkit.login-retries"),  # a 0 value of a setting is still a setting
    ("rd.iscsi.firmware", "rd.iscsi.firmware"),
    ("rd.iscsi.firmware=1", "rd.iscsi.firmware"),
    ("iscsi_firmware", "iscsi_firmware"),
    ("rd.iscsi.ibft", "rd.iscsi.ibft"),
    ("ip=ibft", "ip=ibft"),
    ("netroot=iscsi", "netroot"),
    ("netroot=iscsi:user:chap-secret@10.0.0.1::3260:1:iqn.2026-11.org.example:d", "netroot"),  # never the value
    ("netroot=dhcp", "netroot"),
    ("root=/dev/sda", None),
    ("", None),
    ("rd.iscsi.firmware=0", None),
    ("iscsi_firmware=off", None),
    ("ibftkit.source=ibft ibftkit=0", None),  # ibftkit=0 anywhere turns it off
    ("ibftkit=no ip=ibft", None),
    ("iscsi_auto", None),  # open-iscsi's own script handles these
    ("root=iscsi:10.0.0.1::3260:1:iqn.2026-11.org.example:d", None),
    ("iscsi_target_name=iqn.x iscsi_target_ip=10.0.0.1", None),
    ("ibftkitx ip=dhcp netroot=nfs:10.0.0.1:/x", None),
])
def test_kernel_command_line_trigger(cmdline: str, why: str | None) -> None:
    r = _sh(FUNCTIONS, "wanted", cmdline)
    assert (r.returncode, r.stdout.strip() or None) == ((0, why) if why else (1, None))


@pytest.mark.allow_subprocess
@pytest.mark.parametrize(("cmdline", "why"), [
    ("root=/dev/sda ibftkit", "ibftkit"),
    ("rd.iscsi.firmware ibftkit.source=ibft", "ibftkit.source"),
    ("rd.iscsi.firmware", None),  # dracut's own words are left to dracut's iscsi module
    ("ip=ibft netroot=iscsi:10.0.0.1::::iqn.2026-11.org.example:d netroot=dhcp", None),
    ("ibftkit ibftkit=0", None),
])
def test_own_words_only(cmdline: str, why: str | None) -> None:
    """``ibftkit_wanted CMDLINE own``: the rule next to dracut's iscsi module (docs/initramfs.md)."""
    r = _sh(FUNCTIONS, "wanted", cmdline, "own")
    assert (r.returncode, r.stdout.strip() or None) == ((0, why) if why else (1, None))


@pytest.mark.allow_subprocess
@pytest.mark.parametrize(("status", "expect"), [
    (0, "0|ibftkit-init: logged in to target[0]|"),
    (3, "3|ibftkit-init: no boot configuration found: iBFT: no iBFT|ibftkit: no iSCSI boot disk: ibftkit-init "
        "exit 3: no boot configuration found (no usable iBFT, netroot= or DHCP root path): no boot "
        "configuration found: iBFT: no iBFT"),
])
def test_run_keeps_the_last_line_and_status(tmp_path: Path, status: int, expect: str) -> None:
    """``ibftkit_run``: ibftkit-init's messages pass through to stderr as they come, its last
    ``ibftkit-init:`` line and its status are kept; ``ibftkit_failure`` makes the one line."""
    init = _write(tmp_path / "ibftkit-init", "#!/bin/sh\necho out\necho 'ibftkit-init: source: ibft' >&2\n"
                  + ("echo 'ibftkit-init: logged in to target[0]' >&2\n" if status == 0 else
                     "echo 'ibftkit-init: no boot configuration found: iBFT: no iBFT' >&2\n")
                  + "echo 'not ours' >&2\n" + f"exit {status}\n")
    init.chmod(0o755)
    script = (f". {FUNCTIONS}\nibftkit_run --quiet; rc=$?\n"
              'printf "%s|%s|" "$rc" "$IBFTKIT_REASON"\n'
              '[ $rc -eq 0 ] || ibftkit_failure "$IBFTKIT_STATUS" "$IBFTKIT_REASON"\n')
    r = subprocess.run(["sh", "-c", script], text=True, capture_output=True, timeout=60,
                       env={**os.environ, "IBFTKIT_INIT": str(init), "IBFTKIT_RUN": str(tmp_path / "run")})
    assert r.stdout.replace("\n", "") == "out" + expect, r.stderr
    assert r.stderr.splitlines()[-1] == "not ours" and "ibftkit-init: source: ibft" in r.stderr


@pytest.mark.allow_subprocess
def test_install_uninstall(tmp_path: Path) -> None:
    conf, stagedir = tmp_path / "conf", tmp_path / "share"
    conf.mkdir()
    python = os.path.realpath(sys.executable)
    base = [TOOLS / "install", "--confdir", conf, "--stage-dir", stagedir, "--pythonpath", ROOT]
    r = _sh(*base, "--python", python)
    assert r.returncode == 0, r.stderr
    assert "ibftkit stage: " in r.stdout
    for path, mode in ((conf / "hooks/ibftkit", 0o755), (conf / "scripts/local-top/ibftkit", 0o755),
                       (conf / "conf.d/ibftkit", 0o644), (stagedir / "stage.py", 0o644),
                       (stagedir / "ibftkit-functions", 0o644)):
        assert path.stat().st_mode & 0o777 == mode, path
    settings = (conf / "conf.d/ibftkit").read_text()
    assert f'\nIBFTKIT_PYTHON="{python}"\n' in settings and f'\nIBFTKIT_PYTHONPATH="{ROOT}"\n' in settings
    assert f'\nIBFTKIT_STAGE="{stagedir}/stage.py"\n' in settings and "\n#IBFTKIT_DHCP=no\n" in settings
    r = _sh(*base, "--dhcp")  # a second install keeps the settings file and rewrites the lines asked for
    assert r.returncode == 0, r.stderr
    settings = (conf / "conf.d/ibftkit").read_text()
    assert f'\nIBFTKIT_PYTHON="{python}"\n' in settings and '\nIBFTKIT_DHCP="yes"\n' in settings
    assert settings.count("IBFTKIT_PYTHON=") == 1
    r = _sh(TOOLS / "install", "--confdir", conf, "--stage-dir", stagedir, "--uninstall")
    assert r.returncode == 0, r.stderr
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == []


@pytest.mark.allow_subprocess
def test_install_refuses_an_interpreter_without_the_packages(tmp_path: Path) -> None:
    r = _sh(TOOLS / "install", "--confdir", tmp_path, "--stage-dir", tmp_path / "s", "--python", tmp_path / "nope")
    assert r.returncode == 1 and r.stderr == f"install: {tmp_path}/nope: no such interpreter (give --python PATH)\n"
    r = _sh(TOOLS / "install", "--confdir", tmp_path / "missing")
    assert r.returncode == 1 and "not a directory (apt-get install initramfs-tools)" in r.stderr
    assert not list(tmp_path.iterdir())
