"""tools/dracut and tools/mkinitcpio: shell syntax, the rule next to dracut's own iscsi module, the
cmdline hook's decision, and the installers into temporary directories (docs/initramfs.md). The real
builds and boots are in tests/vm/test_dracut_boot.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRACUT = ROOT / "tools" / "dracut"
MODULE = DRACUT / "95ibftkit"
MKINITCPIO = ROOT / "tools" / "mkinitcpio"
FUNCTIONS = ROOT / "tools" / "initrd-common" / "ibftkit-functions"


def _run(*argv: str | Path, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*map(str, argv)], text=True, capture_output=True, timeout=60, **kw)  # type: ignore[call-overload]


@pytest.mark.allow_subprocess
@pytest.mark.parametrize(("shell", "script"), [
    ("bash", MODULE / "module-setup.sh"), ("sh", MODULE / "parse-ibftkit.sh"), ("sh", MODULE / "ibftkit-root.sh"),
    ("sh", DRACUT / "install"), ("sh", DRACUT / "mkimage"), ("sh", ROOT / "tools/initrd-common/with-kernel"),
    ("bash", MKINITCPIO / "install/ibftkit"), ("sh", MKINITCPIO / "hooks/ibftkit"),
    ("sh", MKINITCPIO / "install-ibftkit"), ("sh", FUNCTIONS),
])
def test_shell_syntax(shell: str, script: Path) -> None:
    assert _run(shell, "-n", script).returncode == 0


@pytest.mark.allow_subprocess
@pytest.mark.parametrize(("cmdline", "word"), [
    ("root=/dev/sda rd.iscsi.firmware=1", "rd.iscsi.firmware"),
    ("rd.iscsi.ibft=1 rd.iscsi.firmware=1", "rd.iscsi.ibft"),
    ("ip=ibft", "ip"),  # the key only
    ("netroot=iscsi:user:secret@10.0.0.1::::iqn.2026-11.org.example:d", "netroot"),
    ("root=iscsi:10.0.0.1::::iqn.2026-11.org.example:d", "root"),
    ("iscsiroot=10.0.0.1::::iqn.x", "iscsiroot"),
    ("netroot=dhcp", "netroot"),
    ("rd.iscsi.firmware=0 ibftkit", None),
    ("root=/dev/sda ibftkit ibftkit.source=ibft", None),
    ("netroot=nfs:10.0.0.1:/x", None),
])
def test_dracut_iscsi_words(cmdline: str, word: str | None) -> None:
    """The words dracut's own iscsi module (or its network setup) acts on: ibftkit's module leaves
    the login to it when one is there (the rule in docs/initramfs.md)."""
    r = _run("sh", FUNCTIONS, "dracut-word", cmdline)
    assert (r.returncode, r.stdout.strip() or None) == ((0, word) if word else (1, None))


def _parse_hook(tmp_path: Path, cmdline: str, *, dracut_iscsi: bool) -> tuple[str, list[str], str]:
    """Run parse-ibftkit.sh as dracut's cmdline phase would (getcmdline, initqueue, $hookdir), with
    its fixed paths moved under ``tmp_path``. Returns (stderr, queued jobs, finished hook)."""
    hookdir = tmp_path / "hooks"
    (hookdir / "initqueue" / "finished").mkdir(parents=True)
    script = (MODULE / "parse-ibftkit.sh").read_text()
    # /tmp/ first: the checkout itself may live under /tmp (CI clones anywhere).
    script = script.replace("/tmp/", f"{tmp_path}/").replace("/sbin/iscsiroot", str(tmp_path / "iscsiroot"))
    script = script.replace(". /usr/lib/ibftkit/ibftkit-functions", f". {FUNCTIONS}")
    if dracut_iscsi:
        (tmp_path / "iscsiroot").write_text("#!/bin/sh\n")
        (tmp_path / "iscsiroot").chmod(0o755)
    prelude = (f'getarg() {{ :; }}\ngetcmdline() {{ echo "{cmdline}"; }}\nhookdir={hookdir}\n'
               f'initqueue() {{ echo "$*" >> {tmp_path}/queued; }}\n')
    r = _run("sh", "-c", prelude + script)
    assert r.returncode == 0, r.stderr
    queued = (tmp_path / "queued").read_text().splitlines() if (tmp_path / "queued").exists() else []
    finished = hookdir / "initqueue" / "finished" / "ibftkit.sh"
    return r.stderr, queued, finished.read_text() if finished.exists() else ""


@pytest.mark.allow_subprocess
@pytest.mark.parametrize(("cmdline", "dracut_iscsi", "runs", "said"), [
    ("root=/dev/sda rd.iscsi.firmware=1", False, True, ""),
    ("root=/dev/sda netroot=dhcp", False, True, ""),
    ("root=/dev/sda rd.iscsi.firmware=1", True, False, "rd.iscsi.firmware is left to dracut's iscsi module"),
    ("root=/dev/sda ibftkit", True, True, ""),
    ("root=/dev/sda rd.iscsi.ibft=1 rd.iscsi.firmware=1 ibftkit", True, False,
     "rd.iscsi.ibft is on the command line: dracut's iscsi module logs in, not ibftkit-init (ibftkit ignored)"),
    ("root=/dev/sda", False, False, ""),
    ("root=/dev/sda ibftkit=0 rd.iscsi.firmware", False, False, ""),
])
def test_cmdline_hook_decides_who_logs_in(tmp_path: Path, cmdline: str, dracut_iscsi: bool, runs: bool,
                                          said: str) -> None:
    err, queued, finished = _parse_hook(tmp_path, cmdline, dracut_iscsi=dracut_iscsi)
    if runs:
        assert queued == ["--onetime --settled --unique --name ibftkit /sbin/ibftkit-root"]
        assert finished.strip() == f"[ -e {tmp_path}/ibftkit.done ]"
    else:
        assert queued == [] and finished == ""
    assert said in err


@pytest.mark.allow_subprocess
def test_dracut_install_uninstall(tmp_path: Path) -> None:
    moddir, confdir = tmp_path / "modules.d" / "95ibftkit", tmp_path / "conf.d"
    python = os.path.realpath(sys.executable)
    base = ["sh", DRACUT / "install", "--moddir", moddir, "--confdir", confdir]
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    (tmp_path / "iscsistart").write_text("#!/bin/sh\n")  # installed or not on this machine
    (tmp_path / "iscsistart").chmod(0o755)
    r = _run(*base, "--python", python, "--pythonpath", ROOT, env=env)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in moddir.iterdir()) == ["ibftkit-functions", "ibftkit-root.sh", "module-setup.sh",
                                                       "parse-ibftkit.sh", "stage.py"]
    settings = (confdir / "ibftkit.conf").read_text()
    assert 'add_dracutmodules+=" ibftkit "' in settings
    assert f'\nIBFTKIT_PYTHON="{python}"\n' in settings and f'\nIBFTKIT_PYTHONPATH="{ROOT}"\n' in settings
    r = _run(*base, "--dhcp", env=env)
    assert r.returncode == 0, r.stderr
    settings = (confdir / "ibftkit.conf").read_text()
    assert '\nIBFTKIT_DHCP="yes"\n' in settings and settings.count("IBFTKIT_PYTHON=") == 1
    r = _run(*base, "--uninstall")
    assert r.returncode == 0, r.stderr
    assert [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "iscsistart"] == []


@pytest.mark.allow_subprocess
def test_dracut_install_refuses_an_interpreter_without_the_packages(tmp_path: Path) -> None:
    r = _run("sh", DRACUT / "install", "--moddir", tmp_path / "m", "--confdir", tmp_path / "c",
             "--python", "/no/such/python")
    assert r.returncode == 1
    assert r.stderr.strip() == "install: /no/such/python: no such interpreter (give --python PATH)"
    assert not (tmp_path / "m").exists()


@pytest.mark.allow_subprocess
def test_mkinitcpio_install_uninstall(tmp_path: Path) -> None:
    hookdir, stagedir, conf = tmp_path / "initcpio", tmp_path / "share", tmp_path / "etc" / "mkinitcpio.conf"
    base = ["sh", MKINITCPIO / "install-ibftkit", "--hookdir", hookdir, "--stage-dir", stagedir, "--conf", conf]
    r = _run(*base, "--python", os.path.realpath(sys.executable), "--pythonpath", ROOT)
    assert r.returncode == 0, r.stderr
    for path in (hookdir / "install/ibftkit", hookdir / "hooks/ibftkit", stagedir / "stage.py",
                 stagedir / "ibftkit-functions"):
        assert path.is_file(), path
    assert f'IBFTKIT_STAGE="{stagedir}/stage.py"' in conf.read_text()
    r = _run(*base, "--uninstall")
    assert r.returncode == 0, r.stderr
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
