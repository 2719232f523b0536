"""Static checks run as tests: ruff over the tree (with mccabe, C901 at 15), mypy --strict over the
package, and no module of the package over ``MAX_MODULE_LINES`` lines."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: A module longer than this does more than one thing: split it.
MAX_MODULE_LINES = 600


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, text=True, capture_output=True, timeout=600)


def test_ruff() -> None:
    if shutil.which("ruff") is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    r = run("ruff", "check", "ibftkit", "tests", "bench", "tools")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict() -> None:
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[test]')")
    r = run(sys.executable, "-m", "mypy", "ibftkit")
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_checks_complexity() -> None:
    """The mccabe rule is on at 15, so ``test_ruff`` fails on a function with more branches."""
    import tomllib

    lint = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "C90" in lint["select"] and lint["mccabe"]["max-complexity"] == 15


def test_no_module_over_the_line_limit() -> None:
    long = {str(p.relative_to(ROOT)): n for p in sorted((ROOT / "ibftkit").rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_package_init_files_import_nothing() -> None:
    """Importing a package costs only its docstring (``ibftkit-init``'s start-up): every
    ``__init__.py`` holds a docstring and at most constants, except the two small facades that import
    their light submodules (the renderer registry; the DHCP source's lazy entry points)."""
    import ast

    facades = {"render/__init__.py", "sources/dhcp/__init__.py"}
    heavy = []
    for p in sorted((ROOT / "ibftkit").rglob("__init__.py")):
        rel = str(p.relative_to(ROOT / "ibftkit"))
        body = ast.parse(p.read_text()).body
        if rel not in facades and any(isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))
                                      for n in body):
            heavy.append(rel)
    assert heavy == []
