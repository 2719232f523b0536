"""The repository stands on its own: no file points at notes outside it.

Tests, tools and docs once read sample tables and cited reference notes from a directory beside the
checkout; a fresh clone has no such directory. Every input now lives in ``fixtures/`` (with its
provenance) and every fact in ``docs/`` (with its primary source). This test keeps it that way,
and also keeps out references to the project's issue tracker numbers, which a reader
of the repository cannot open: say the goal instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {"__pycache__", "build", "dist", "node_modules"}
OUTSIDE = "sha" + "red"  # spelled in two parts so that this file does not match itself
FORBIDDEN = [
    re.compile(r"\.\./" + OUTSIDE + r"\b"),
    re.compile(r"\b" + OUTSIDE + r"/(reference|samples|field-cases)\b"),
    re.compile(r"/work/" + OUTSIDE + r"\b"),
    # the outside notes by name, and their numbered sections (the repository's docs have none)
    re.compile(r"\b(vm-boot|deps|peers|code-review)" + r"\.md\b"),
    re.compile(r"\b(ibft|rootpath)\.md" + r" §"),
]
ISSUE = re.compile(r"\bissues? \d+\b", re.IGNORECASE)
UPSTREAM = re.compile(r"[\w.-]+/[\w.-]+ $")  # "open-iscsi/open-iscsi issue 150" names its tracker


def project_issue(line: str) -> bool:
    """An issue number with no upstream repository before it: this project's tracker."""
    return any(not UPSTREAM.search(line[:m.start()]) for m in ISSUE.finditer(line))


def repository_files() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT)
        if any(part.startswith(".") and part not in (".ci",) or part in SKIP_DIRS or part.endswith(".egg-info")
               for part in rel.parts):
            continue
        if path.is_file() and path.suffix != ".bin" and path.stat().st_size < 2_000_000:
            yield path


def test_the_walk_sees_the_repository() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in repository_files()}
    assert {"README.md", "docs/ibft.md", "fixtures/ibft/samples/PROVENANCE.md", ".ci/run"} <= names


def test_no_file_points_outside_the_repository() -> None:
    hits = []
    for path in repository_files():
        text = path.read_text(errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            if any(p.search(line) for p in FORBIDDEN) or project_issue(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert not hits, "references outside the repository (put the input in fixtures/, the fact in docs/):\n" + \
        "\n".join(hits)


def test_upstream_issues_may_be_cited() -> None:
    assert not project_issue("open-iscsi/open-iscsi issue 150: a link-local portal")
    word = "iss" + "ue"  # in two parts, as above
    assert project_issue(f"the goal of {word} 6") and project_issue(f"{word.title()} 11 asks for it")



def test_test_modules_have_unique_names() -> None:
    """pytest imports test modules by basename (no packages under tests/): two files with one name in
    different tiers make the README's whole-suite run fail to collect."""
    seen: dict[str, str] = {}
    clashes = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if path.name in seen:
            clashes.append(f"{seen[path.name]} and {rel}")
        seen[path.name] = rel
    assert not clashes, clashes
