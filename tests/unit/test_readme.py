"""The README's two set-up commands exist, and the first one's job works as a user would run it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def two_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section, re.S)


def test_readme_gives_exactly_two_commands() -> None:
    cmds = two_commands()
    assert len(cmds) == 2 and all("\n" not in c for c in cmds)
    assert cmds[1] == "tools/test-all"
    assert "tools/test-all" in (ROOT / ".ci" / "run").read_text()


def test_the_test_command_works_for_root_without_sudo() -> None:
    """A fresh Debian has no sudo and its user is root: the command is written as root types it,
    tools/test-all never calls sudo, and install-test-deps calls it only when not root."""
    section = (ROOT / "README.md").read_text().split("## Two commands", 1)[1].split("\n## ", 1)[0]
    assert "sudo tools/test-all" in section and "another user" in section
    code = [line for line in (ROOT / "tools" / "test-all").read_text().splitlines() if not line.startswith("#")]
    assert not any("sudo" in line for line in code)
    deps = (ROOT / "tools" / "install-test-deps").read_text()
    assert 'if [ "$(id -u)" -eq 0 ]; then\n\tas_root=()' in deps


@pytest.mark.allow_subprocess
def test_first_command_decodes_a_shipped_fixture() -> None:
    install, job = two_commands()[0].split(" && ")
    assert install == "python3 -m pip install ."
    argv = job.split()
    exe = shutil.which(argv[0])
    cmd = [exe, *argv[1:]] if exe else [sys.executable, "-m", "ibftkit.cli.main", *argv[1:]]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "iqn.2026-11.org.example" in r.stdout and "<redacted>" in r.stdout and r.stderr == ""


def test_docs_write_commands_as_root_types_them() -> None:
    """No command line in the README, docs/ or bench/ starts with sudo (a minimal Debian has none)."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "bench").glob("*.py"))]
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in files
            for n, line in enumerate(p.read_text().splitlines(), 1) if line.lstrip().startswith("sudo ")]
    assert not hits, hits
