"""docs/architecture.md has one line for every module of the package (a new module adds its line)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_has_a_line() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    named: set[str] = set()
    for row in rows:
        first = row.split("|")[1]
        prefix = ""
        for name in re.findall(r"`([^`]+\.py)`", first):
            if "/" in name:
                prefix = name.rsplit("/", 1)[0] + "/"
                named.add(name)
            else:
                named.add(prefix + name)  # "`cli/decode.py`, `dhcp.py`": dhcp.py is cli/dhcp.py
    modules = {str(p.relative_to(ROOT / "ibftkit")) for p in (ROOT / "ibftkit").rglob("*.py")
               if p.name != "__init__.py" or p.parent.name == "render"}
    missing = sorted(modules - named)
    assert not missing, f"docs/architecture.md, 'One line per module': add {missing}"
