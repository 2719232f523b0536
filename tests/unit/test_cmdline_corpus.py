"""The command-line corpus: every line from the peers' documentation and test suites gives its plan.

``fixtures/cmdline/corpus.json`` (provenance in ``fixtures/cmdline/README.md``): each case is a
kernel command line from dracut, NetworkManager, systemd, the kernel or Debian, the links of the
machine, and the plan (or exit status and line) that line must give.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ibftkit.infra.errors import IbftkitError, exit_status
from ibftkit.network.links import load_links_file
from ibftkit.network.plan_cmdline import plan_for_cmdline, step_key
from ibftkit.sources.cmdline import parse_cmdline, split_cmdline

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cmdline"
CORPUS = json.loads((FIXTURES / "corpus.json").read_text())["cases"]
SOURCES = ("NetworkManager src/nm-initrd-generator/tests/test-cmdline-reader.c",
           "systemd src/network/generator/test-network-generator.c", "dracut man/dracut.cmdline.7.asc",
           "dracut test/TEST-", "linux Documentation/admin-guide/nfs/nfsroot.rst", "open-iscsi debian/",
           "field case: rhinstaller/anaconda PR 2834")


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    links = load_links_file(FIXTURES / "links" / f"{case['links']}.json")
    try:
        cl = parse_cmdline(case["cmdline"])
        plan = plan_for_cmdline(cl, links)
    except IbftkitError as e:  # the status ibftkit-init exits with (infra.errors.exit_status)
        return {"exit": exit_status(e), "error": str(e)}
    out: dict[str, Any] = {"exit": 0, "steps": [step_key(s) for s in plan.steps]}
    if cl.warnings:
        out["warnings"] = list(cl.warnings)
    if plan.notes:
        out["notes"] = list(plan.notes)
    return out


def test_corpus_size_and_sources() -> None:
    assert len(CORPUS) >= 80
    assert len({c["id"] for c in CORPUS}) == len(CORPUS)
    for c in CORPUS:
        assert c["source"].startswith(SOURCES), c["id"]
        assert c["facts"], c["id"]
    # every dialect is there
    for prefix in ("nm-", "sd-", "dm-", "t30-", "t35-", "t50-", "t60-", "kn-", "deb-", "f08-"):
        assert any(c["id"].startswith(prefix) for c in CORPUS), prefix


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_corpus_case(case: dict[str, Any]) -> None:
    want = {k: case[k] for k in ("exit", "steps", "warnings", "notes", "error") if k in case}
    assert run_case(case) == want


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_valid_words_never_exit_2_and_warnings_name_their_word(case: dict[str, Any]) -> None:
    """A word valid in its own dialect never makes a usage error; a warning names a word of the line."""
    got = run_case(case)
    assert got["exit"] != 2
    keys = {k for k, _ in split_cmdline(case["cmdline"])}
    for w in got.get("warnings", []):
        named = w.split("=", 1)[0].split(":", 1)[0]
        assert named in keys or w.startswith(("CHAP secrets", "kernel command line", "netroot=")), w


def test_field_case_08_lines() -> None:
    """The three lines of the Anaconda/dracut reports: exit 0, the MAC's colons do not shift the fields."""
    links = load_links_file(FIXTURES / "links" / "two-nics.json")
    got = {}
    for f in sorted((FIXTURES / "anaconda2834-ip-mtu-macaddr").glob("*.txt")):
        plan = plan_for_cmdline(parse_cmdline(f.read_text().strip()), links)
        got[f.stem] = [step_key(s) for s in plan.steps if s.kind not in ("link_up", "wait_carrier")]
    assert got == {
        "cmdline-dhcp-mac": ["run_dhcp eth0 4"],
        "cmdline-static-mac": ["add_address eth0 192.0.2.20/24", "add_route 0.0.0.0/0 192.0.2.1 eth0",
                               "set_hostname client1"],
        "cmdline-static-mtu-mac": ["set_mtu eth0 1500", "add_address eth0 192.0.2.20/24",
                                   "add_route 0.0.0.0/0 192.0.2.1 eth0", "set_hostname client1"],
    }
