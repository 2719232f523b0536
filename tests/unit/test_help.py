"""Every ``--help`` works: each console script and each of its subcommands, at every depth.

The scripts come from ``pyproject.toml`` (``[project.scripts]``) and the subcommands from the
parsers themselves, so a new script or subcommand is covered without editing this file. Each
script's module has ``main(argv) -> int`` and ``build_parser()``; the help runs in-process.
"""

from __future__ import annotations

import argparse
import importlib
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _scripts() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    scripts: dict[str, str] = data["project"]["scripts"]
    assert scripts, "pyproject.toml lists no console scripts"
    return scripts


def _module(target: str) -> Any:
    return importlib.import_module(target.split(":", 1)[0])


def _subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield (*path, name)
                yield from _subcommands(child, (*path, name))


def _cases() -> list[tuple[str, tuple[str, ...]]]:
    cases: list[tuple[str, tuple[str, ...]]] = []
    for script, target in _scripts().items():
        cases.append((script, ()))
        cases.extend((script, sub) for sub in _subcommands(_module(target).build_parser()))
    return cases


CASES = _cases()


def test_the_subcommands_are_found() -> None:
    """The walk over the parsers finds subcommands (an empty walk would make the cases vacuous)."""
    subs = [sub for script, sub in CASES if script == "ibftkit" and sub]
    assert len(subs) >= 5, subs


def _run(main: Callable[[list[str]], int], argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse's help action exits
        return int(e.code or 0)


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize(("script", "sub"), CASES, ids=[" ".join((s, *sub)) for s, sub in CASES])
def test_help(script: str, sub: tuple[str, ...], flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = _run(_module(_scripts()[script]).main, [*sub, flag])
    out, err = capsys.readouterr()
    assert rc == 0, f"{script} {' '.join(sub)} {flag}: exit {rc}; stderr: {err}"
    assert "usage:" in out, out
    assert "%%" not in out, f"a stray '%%' (argparse only %-formats help=, not description=):\n{out}"
    assert "internal error" not in err, err
