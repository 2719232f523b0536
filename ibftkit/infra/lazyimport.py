"""Import only what a boot path runs: two tools for third-party packages that import more.

``ibftkit-init`` runs once per boot in an initramfs, where every module costs: under emulation a
Python import is 10-20x slower than on a host (docs/vm-e2e.md, "Where the time goes"). Both tools
leave the program's behaviour unchanged; they only move an import to the moment something uses it.

- :func:`lean_package`: register a package without running its ``__init__`` (pyroute2 0.9's imports
  every API it has), so that only the submodules asked for load; the real ``__init__`` runs the
  first time something needs a name it defines.
- :func:`deferred`: while a package imports, stand-ins for standard-library modules it imports but
  uses only in functions ibftkit never calls (construct's ``pdb`` for its ``Debugger``, ``hashlib``
  for ``Checksum``, ``pickle`` for ``Pickled``, pyroute2's ``logging`` for its error paths); a
  stand-in imports the real module the first time an attribute is read, so even those functions
  still work. The calls a package makes while it imports (construct's ``platform.system()``,
  pyroute2's ``logging.getLogger(__name__)``) are answered as the module would (:data:`ANSWERS`).

(``importlib.util.LazyLoader`` does not help here: the ``import`` statement itself reads the module's
``__spec__``, which loads a lazy module at once.)
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def lean_package(name: str) -> None:
    """Register package ``name`` without running its ``__init__`` (until something needs it).

    The module registered has the package's ``__path__``, so its submodules import as usual; the
    first attribute it lacks that is not a submodule (``pyroute2.NDB``) runs the real ``__init__``
    in place, so later users of the package see no difference. No-op if it is imported already.
    """
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return  # not a package here: the ordinary import reports what is wrong
    module = importlib.util.module_from_spec(spec)

    def complete(attr: str) -> Any:
        if not attr.startswith("__") and importlib.util.find_spec(f"{name}.{attr}") is not None:
            return importlib.import_module(f"{name}.{attr}")  # ``from pyroute2 import config``
        if "__getattr__" in module.__dict__:
            del module.__dict__["__getattr__"]
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module.__dict__[attr] if attr in module.__dict__ else object.__getattribute__(module, attr)

    module.__dict__["__getattr__"] = complete
    sys.modules[name] = module


def _sysname() -> str:
    return os.uname().sysname


def _release() -> str:
    return os.uname().release


def _later(module: str, name: str) -> Any:
    """A function that imports ``module`` and calls its ``name`` when it is called."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


#: The variables from which gettext takes the languages to look for, the first one set winning
#: (CPython ``Lib/gettext.py``, ``find()``).
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def _untranslated(name: str) -> Any:
    """``gettext.gettext`` or ``gettext.ngettext`` (``name``), answering without importing gettext
    (and the ``locale`` module its ``find()`` imports) where the answer is known: when no locale is
    chosen (none of :data:`LOCALE_VARIABLES` set, or the first one set is ``C``), gettext's
    ``find()`` stops at the language ``C`` and looks for no catalog, so ``gettext(message)`` returns
    ``message`` and ``ngettext(singular, plural, n)`` ``singular`` if ``n == 1`` else ``plural``
    (``dgettext``, ``dngettext``), which is also what Debian's ``Lib/argparse.py`` does when it
    cannot import gettext. With a locale chosen, or once the real module is imported (a program may
    have bound a domain), the real function answers."""

    def call(*args: Any) -> Any:
        real = sys.modules.get("gettext")
        if real is None or "__stand_in__" in vars(real):
            chosen = next((v for v in map(os.environ.get, LOCALE_VARIABLES) if v), "C")
            if chosen == "C":
                if name == "gettext":
                    return args[0]
                return args[0] if args[2] == 1 else args[1]
            sys.modules.pop("gettext", None)  # a stand-in: this call is its first use
            real = importlib.import_module("gettext")
        return getattr(real, name)(*args)

    call.__name__ = call.__qualname__ = name
    return call


class _LaterLogger:
    """What ``logging.getLogger(name)`` gives under :func:`deferred`: the real logger of that name,
    looked up (importing ``logging``) at each use. ``logging.getLogger`` returns one logger per name
    for the life of the process (CPython ``Lib/logging/__init__.py``, ``Manager.getLogger``), so every
    call reaches the logger the package would have held, with the levels and handlers of that moment."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module("logging").getLogger(self.name), attr)

    def __repr__(self) -> str:
        return f"<logger {self.name} (imported on first use)>"


#: What a stand-in answers without importing its module, because a package uses it while it
#: imports: ``logging.getLogger(__name__)``, with which pyroute2's message modules
#: (``pyroute2/netlink/__init__.py``) keep a logger they use only when a message fails to decode
#: (:class:`_LaterLogger`: ``logging`` with ``traceback``, ``string`` and their regular expressions
#: loads then); ``platform.system()``, with which construct (``construct/lib/py3compat.py``) and
#: ``uuid`` learn whether they run on Windows or AIX, and ``platform.release()``, which scapy
#: (``scapy/consts.py``) compares with "XP" (on Linux ``os.uname().sysname`` and ``.release``: CPython
#: ``Lib/platform.py``, where ``system()`` and ``release()`` are ``uname().system``/``.release`` and
#: ``uname()`` takes them from ``os.uname()``; the module, with the nine regular expressions it
#: compiles, is not needed); ``urllib.parse.quote_from_bytes``, which
#: ``Lib/pathlib.py`` imports by name for ``Path.as_uri()`` (a function that imports the real one
#: when called).
ANSWERS: dict[str, dict[str, Any]] = {
    "logging": {"getLogger": _LaterLogger},
    "platform": {"system": _sysname, "release": _release},
    "urllib.parse": {"quote_from_bytes": _later("urllib.parse", "quote_from_bytes")},
    "gettext": {"gettext": _untranslated("gettext"), "ngettext": _untranslated("ngettext")},
}


def _stand_in(name: str) -> types.ModuleType:
    stub = types.ModuleType(name, f"stand-in for {name}, imported on first use (ibftkit.infra.lazyimport.deferred)")
    stub.__dict__["__stand_in__"] = True
    for attr, value in ANSWERS.get(name, {}).items():
        setattr(stub, attr, value)

    def load(attr: str) -> Any:
        if attr == "__path__":  # ``from NAME import x`` asks whether NAME is a package: a stand-in is not
            raise AttributeError(attr)
        real = sys.modules.get(name)
        if real is None or real is stub:
            sys.modules.pop(name, None)
            real = importlib.import_module(name)
        return getattr(real, attr)

    stub.__getattr__ = load  # type: ignore[method-assign]
    return stub


@contextmanager
def deferred(*names: str) -> Iterator[None]:
    """Within the block, ``import NAME`` gives a stand-in that imports the real module on first
    attribute use (``NAME``: a module, not a package). Modules already imported are left as they
    are; afterwards the stand-ins leave ``sys.modules``, so later imports anywhere get the real
    modules."""
    stubs = {name: _stand_in(name) for name in names if name not in sys.modules}
    sys.modules.update(stubs)
    try:
        yield
    finally:
        for name, stub in stubs.items():
            if sys.modules.get(name) is stub:
                del sys.modules[name]
