"""``ibftkit.infra.lazyimport``: only what a boot path runs is imported, and nothing else changes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibftkit.infra import lazyimport as imports


@pytest.fixture
def leanpkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    pkg = tmp_path / "leanpkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("import sys\nsys.leanpkg_init_ran = True\nHEAVY = 'heavy'\n")
    (pkg / "light.py").write_text("VALUE = 1\n")
    (pkg / "sub" / "__init__.py").write_text("from leanpkg import light\nSUB = light.VALUE + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "leanpkg"
    for name in [m for m in sys.modules if m == "leanpkg" or m.startswith("leanpkg.")]:
        del sys.modules[name]
    if hasattr(sys, "leanpkg_init_ran"):
        del sys.leanpkg_init_ran


def test_submodules_import_without_the_package_init(leanpkg: str) -> None:
    imports.lean_package(leanpkg)
    from leanpkg.sub import SUB  # its ``from leanpkg import light`` must not run leanpkg/__init__.py

    assert SUB == 2
    assert not hasattr(sys, "leanpkg_init_ran")


def test_first_other_attribute_runs_the_real_init(leanpkg: str) -> None:
    imports.lean_package(leanpkg)
    import leanpkg

    assert leanpkg.HEAVY == "heavy"
    assert sys.leanpkg_init_ran is True  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        leanpkg.MISSING  # noqa: B018
    from leanpkg import HEAVY, light

    assert (HEAVY, light.VALUE) == ("heavy", 1)


def test_an_imported_package_is_left_alone(leanpkg: str) -> None:
    import leanpkg as module

    imports.lean_package(leanpkg)
    assert sys.modules[leanpkg] is module and sys.leanpkg_init_ran is True  # type: ignore[attr-defined]


@pytest.mark.allow_subprocess
def test_iproute_without_pyroute2_init() -> None:
    """In a fresh interpreter: IPRoute and NetlinkError load without NDB/IPDB (and sqlite3); the
    package still works in full afterwards."""
    code = ("import sys\nfrom ibftkit.network import apply as net\nI = net._iproute_class(); E = net._netlink_error()\n"
            "assert 'pyroute2.ndb' not in sys.modules and 'sqlite3' not in sys.modules, sorted(sys.modules)\n"
            "import pyroute2\nfrom pyroute2 import IPRoute, NDB\n"
            "assert IPRoute is I and pyroute2.__version__ and NDB\nprint('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_deferred_stand_in_loads_on_first_use(leanpkg: str) -> None:
    """construct's pdb/hashlib/pickle: a stand-in during the import, the real module on first use,
    and the stand-ins gone from sys.modules afterwards."""
    with imports.deferred(leanpkg, "sys"):
        import leanpkg as stand_in

        assert sys.modules["sys"] is sys  # already imported: left alone
    assert leanpkg not in sys.modules and not hasattr(sys, "leanpkg_init_ran")
    assert stand_in.HEAVY == "heavy" and sys.leanpkg_init_ran is True  # type: ignore[attr-defined]
    import leanpkg as real

    assert real is sys.modules[leanpkg] and real is not stand_in and stand_in.HEAVY is real.HEAVY


@pytest.mark.allow_subprocess
def test_construct_without_pdb_hashlib_pickle() -> None:
    code = ("import sys\nimport ibftkit.sources.ibft.decode as d\n"
            "assert 'construct' not in sys.modules  # the decoder reads flat.py\n"
            "import ibftkit.sources.ibft.layout as L\n"
            "gone = [m for m in ('pdb', 'hashlib', 'pickle', 'bdb') if m in sys.modules]\n"
            "assert not gone, gone\n"
            "import construct, construct.debug, pdb, hashlib\n"
            "assert construct.debug.pdb.post_mortem is pdb.post_mortem and hashlib.sha1\n"
            "assert d.ConstructError is construct.ConstructError\nprint('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_a_stand_in_answers_the_call_made_during_the_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """construct calls ``platform.system()`` while it imports: the stand-in answers what the real
    module says (ANSWERS), without importing it."""
    import platform as real

    monkeypatch.delitem(sys.modules, "platform")
    with imports.deferred("platform"):
        import platform as stand_in

        assert stand_in is not real and stand_in.system() == real.system()
    assert "platform" not in sys.modules
    assert stand_in.machine() == real.machine()  # anything else: the real module, imported then


def test_a_name_imported_from_a_stand_in_calls_the_real_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """pathlib's ``from urllib.parse import quote_from_bytes``: a function that imports urllib.parse
    when it is called, with the real function's result."""
    import urllib.parse as real

    monkeypatch.delitem(sys.modules, "urllib.parse")
    with imports.deferred("urllib.parse"):
        from urllib.parse import quote_from_bytes
    assert "urllib.parse" not in sys.modules
    assert quote_from_bytes(b"/a b") == real.quote_from_bytes(b"/a b") == "/a%20b"
    assert "urllib.parse" in sys.modules


@pytest.mark.parametrize(("env", "imported"), [
    ({}, False), ({"LANG": "C"}, False), ({"LANGUAGE": "", "LC_ALL": "C", "LANG": "de_DE.UTF-8"}, False),
    ({"LANG": "de_DE.UTF-8"}, True), ({"LANGUAGE": "fr:de"}, True), ({"LC_MESSAGES": "C.UTF-8"}, True)])
def test_argparse_gettext_without_gettext_unless_a_locale_is_chosen(monkeypatch: pytest.MonkeyPatch,
                                                                   env: dict[str, str], imported: bool) -> None:
    """argparse's ``from gettext import gettext as _, ngettext`` (ibftkit-init imports argparse so):
    the answers are gettext's own; the module is imported only when a locale is chosen."""
    import gettext as real

    for name in imports.LOCALE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delitem(sys.modules, "gettext")
    with imports.deferred("gettext"):
        from gettext import gettext, ngettext
    got = (gettext("usage: "), ngettext("one", "many", 1), ngettext("one", "many", 2))
    assert ("gettext" in sys.modules) == imported
    assert got == (real.gettext("usage: "), real.ngettext("one", "many", 1), real.ngettext("one", "many", 2))
    assert got == ("usage: ", "one", "many")
