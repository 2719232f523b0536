"""Every file path a user gives either program (``ibftkit --help``, ``ibftkit-init --help``): missing,
a directory where a file belongs, unreadable, under a file, or empty where empty means nothing, is
one line naming the option, the path and why (the errno's text), exit 2, and nothing done
(``ibftkit.infra.files.check_input``/``check_output``; docs/init.md "Exit status")."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from ibftkit.cli import init as init_cli
from ibftkit.cli.main import main
from ibftkit.infra.errors import UsageError
from ibftkit.infra.files import check_input, check_output

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TABLE = str(FIXTURES / "ibft" / "ibftkit-chap.bin")
LINKS = str(FIXTURES / "cmdline" / "links" / "two-nics.json")

#: kind -> (how to make the bad path under tmp, the words the one line ends with)
KINDS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing": (lambda t: t / "no-such-file", "No such file or directory"),
    "directory": (lambda t: t / "a-directory", "Is a directory"),
    "under a file": (lambda t: t / "a-file" / "x", "Not a directory"),
    "unreadable": (lambda t: t / "unreadable", "Permission denied"),
    "empty": (lambda t: t / "empty", "empty file"),
}


def make(tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "empty").write_text("")
    (tmp_path / "empty-cmdline").write_text("")
    bad = tmp_path / "unreadable"
    bad.write_text("ibftkit.quiet")
    bad.chmod(0)
    if os.geteuid() == 0:  # root reads a mode-000 file: the kernel's answer for anyone else, faked
        real = os.open

        def denied(path: str | os.PathLike[str], flags: int, *args: int, **kw: int) -> int:
            if os.fspath(path) == str(bad):
                raise PermissionError(13, "Permission denied", str(bad))
            return real(path, flags, *args, **kw)

        monkeypatch.setattr(os, "open", denied)
    return KINDS[kind][0](tmp_path)


def run(entry: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = entry(argv)
    return code, out.getvalue(), err.getvalue()


# (case, program, argv with {} for the path, option named in the line, kinds that are errors)
FILE_KINDS = ("missing", "directory", "under a file", "unreadable", "empty")
TABLE_KINDS = ("missing", "under a file", "unreadable", "empty")  # a directory is a /sys/firmware/ibft tree
TEXT_KINDS = ("missing", "directory", "under a file", "unreadable")  # an empty command line is one (a log too)
INIT = ["--dry-run", "--kmsg", "none"]
CASES = [
    ("init --cmdline", "ibftkit-init", [*INIT, "--ibft", TABLE, "--links", LINKS, "--cmdline", "{}"], "--cmdline",
     TEXT_KINDS),
    ("init --ibft", "ibftkit-init", [*INIT, "--cmdline", "@empty", "--links", LINKS, "--ibft", "{}"], "--ibft",
     TABLE_KINDS),
    ("init --links", "ibftkit-init", [*INIT, "--cmdline", "@empty", "--ibft", TABLE, "--links", "{}"], "--links",
     FILE_KINDS),
    ("init --kmsg", "ibftkit-init", ["--dry-run", "--cmdline", "@empty", "--ibft", TABLE, "--links", LINKS, "--kmsg",
                                     "{}"], "--kmsg", TEXT_KINDS),
    ("plan --cmdline", "ibftkit", ["plan", "--links", LINKS, "--cmdline", "{}"], "--cmdline", TEXT_KINDS),
    ("plan --ibft", "ibftkit", ["plan", "--links", LINKS, "--ibft", "{}"], "--ibft", TABLE_KINDS),
    ("plan --links", "ibftkit", ["plan", "--ibft", TABLE, "--links", "{}"], "--links", FILE_KINDS),
    ("net apply --ibft", "ibftkit", ["net", "apply", "--ibft", "{}"], "--ibft", TABLE_KINDS),
    ("kickstart --ibft", "ibftkit", ["kickstart", "--ibft", "{}"], "--ibft", TABLE_KINDS),
    ("dracut --ibft", "ibftkit", ["dracut", "--ibft", "{}"], "--ibft", TABLE_KINDS),
    ("decode PATH", "ibftkit", ["decode", "{}"], "", TABLE_KINDS),
    ("decode --scan PATH", "ibftkit", ["decode", "--scan", "{}"], "", TABLE_KINDS),
    ("decode --format sysfs PATH", "ibftkit", ["decode", "--format", "sysfs", "{}"], "", TABLE_KINDS),
    ("encode MODEL", "ibftkit", ["encode", "{}", "-o", "@out"], "", FILE_KINDS),
]
PARAMS = [pytest.param(prog, argv, option, kind, id=f"{case}: {kind}")
          for case, prog, argv, option, kinds in CASES for kind in kinds]


@pytest.mark.parametrize(("prog", "argv", "option", "kind"), PARAMS)
def test_a_bad_file_is_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prog: str, argv: list[str],
                                       option: str, kind: str) -> None:
    path = make(tmp_path, kind, monkeypatch)
    fill = {"{}": str(path), "@empty": str(tmp_path / "empty-cmdline"), "@out": str(tmp_path / "out.bin")}
    code, out, err = run(init_cli.main if prog == "ibftkit-init" else main, [fill.get(a, a) for a in argv])
    where = f"{option} {path}" if option else str(path)
    assert (code, out) == (2, "")
    lines = [line for line in err.splitlines() if ": hint: " not in line]
    assert lines[0].startswith(f"{prog}: {where}: {KINDS[kind][1]}") and len(lines) == 1, err
    assert "Traceback" not in err and not (tmp_path / "out.bin").exists()


@pytest.mark.parametrize("argv", [["plan", "--links", LINKS, "--cmdline", "{}"],
                                  ["init", *INIT, "--ibft", TABLE, "--links", LINKS, "--cmdline", "{}"]])
def test_an_empty_cmdline_file_is_an_empty_command_line(tmp_path: Path, argv: list[str]) -> None:
    (tmp_path / "empty").write_text("")
    argv = [str(tmp_path / "empty") if a == "{}" else a for a in argv]
    entry = init_cli.main if argv[0] == "init" else main
    code, out, err = run(entry, argv[1:] if argv[0] == "init" else argv)
    assert code == 0, err


def test_without_cmdline_a_missing_proc_cmdline_is_an_empty_line(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The default (/proc/cmdline, absent where /proc is not mounted) is not a file the user named."""
    from ibftkit.sources import cmdline

    monkeypatch.setattr(cmdline.load_cmdline, "__defaults__", (str(tmp_path / "no-proc-cmdline"),))
    code, out, err = run(init_cli.main, [*INIT, "--ibft", TABLE, "--links", LINKS])
    assert code == 0, err


# (case, output path under tmp, the words of the line)
OUTPUTS = [
    ("a directory", "a-directory", "Is a directory"),
    ("in a missing directory", "no-dir/out.bin", "No such file or directory"),
    ("under a file", "a-file/out.bin", "Not a directory"),
]


@pytest.mark.parametrize(("case", "name", "why"), OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_encode_output_that_cannot_be_written_is_exit_2_before_any_work(tmp_path: Path, case: str, name: str,
                                                                         why: str) -> None:
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "a-file").write_text("x")
    model = tmp_path / "model.json"
    model.write_text('{"targets": [{"ip_address": "x"}]}')  # also a bad model: the output is said first
    code, out, err = run(main, ["encode", str(model), "-o", str(tmp_path / name)])
    assert (code, out) == (2, "")
    assert err.startswith(f"ibftkit: -o {tmp_path / name}: {why}") and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-directory", "a-file", "model.json"]


@pytest.mark.parametrize("path", ["/proc/self/cmdline", "/proc/self/status"])
def test_a_proc_file_of_size_0_with_bytes_is_not_empty(path: str) -> None:
    assert os.stat(path).st_size == 0
    check_input(path, empty=False)


def test_check_output_refuses_an_unwritable_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as for a user without write permission
    with pytest.raises(UsageError) as e:
        check_output(tmp_path / "out.bin", option="-o")
    assert str(e.value) == f"-o {tmp_path / 'out.bin'}: Permission denied (cannot create files in {tmp_path})"


def test_a_fifo_is_opened_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    check_input(fifo, option="--cmdline")  # O_NONBLOCK: no writer needed to check it


def test_an_empty_kmsg_file_takes_the_lines(tmp_path: Path) -> None:
    (tmp_path / "kmsg").write_text("")
    (tmp_path / "cmdline").write_text("")
    code, _, err = run(init_cli.main, ["--dry-run", "--cmdline", str(tmp_path / "cmdline"), "--ibft", TABLE,
                                       "--links", LINKS, "--kmsg", str(tmp_path / "kmsg")])
    assert code == 0, err


@pytest.mark.parametrize(("case", "name", "why"), OUTPUTS, ids=[o[0] for o in OUTPUTS])
@pytest.mark.parametrize("prog", ["ibftkit-init", "net apply"])
def test_a_resolv_conf_that_cannot_be_written_is_exit_2_before_any_change(tmp_path: Path, prog: str, case: str,
                                                                          name: str, why: str) -> None:
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "cmdline").write_text("")
    path = tmp_path / name
    if prog == "net apply":
        code, out, err = run(main, ["net", "apply", "--ibft", TABLE, "--resolv-conf", str(path)])
    else:
        code, out, err = run(init_cli.main, ["--ibft", TABLE, "--cmdline", str(tmp_path / "cmdline"), "--kmsg", "none",
                                             "--resolv-conf", str(path)])
    assert (code, out) == (2, "")
    assert f"--resolv-conf {path}: {why}" in err and len(err.splitlines()) == 1
