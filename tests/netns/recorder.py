"""A stand-in for ``iscsistart`` / ``iscsiadm`` / ``iscsid`` that records how it was called.

``make_recorder`` writes an executable Python script (the interpreter's absolute path on the
``#!`` line, because ibftkit starts children with a clean environment). Each call appends one
JSON line to ``<dir>/calls.jsonl`` with its argv, its whole environment, its working directory
and the command line the kernel shows (``/proc/self/cmdline``), then exits 0, or ``fail_code``
for the first ``fail_times`` calls (a counter file makes "fail twice, then succeed").

An ``iscsistart`` recorder first waits ``login_delay`` seconds (default 1, as the real one: its
parent sleeps 1 s after forking its event loop before it sends the login request, open-iscsi
``usr/iscsistart.c``): a process stopped before then (``ibftkit-init`` started it ahead of the
portal probe, and the probe failed) has sent no login and leaves no record.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

SCRIPT = """#!{python}
import json, os, sys, time
time.sleep({login_delay})
d = {directory!r}
with open(os.path.join(d, "calls.jsonl"), "a") as f:
    f.write(json.dumps({{"argv": sys.argv, "env": dict(os.environ), "cwd": os.getcwd(),
                         "cmdline": open("/proc/self/cmdline", "rb").read().decode(errors="replace").split("\\0")[:-1],
                         "stdin_tty": os.isatty(0)}}) + "\\n")
counter = os.path.join(d, "count")
n = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
open(counter, "w").write(str(n))
if n <= {fail_times}:
    print({fail_message!r}, file=sys.stderr)
    sys.exit({fail_code})
print({ok_message!r})
"""


def make_recorder(directory: Path, name: str = "iscsistart", *, fail_times: int = 0, fail_code: int = 1,
                  fail_message: str = "iscsistart: initiator reported error (19 - encountered non-retryable "
                  "iSCSI login failure)", ok_message: str = "iscsistart: Logging into target",
                  login_delay: float | None = None) -> Path:
    """The path of a recorder script in ``directory/name`` (``directory`` holds its records)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    delay = (1.0 if name == "iscsistart" else 0.0) if login_delay is None else login_delay
    path.write_text(SCRIPT.format(python=sys.executable, directory=str(directory), fail_times=fail_times,
                                  fail_code=fail_code, fail_message=fail_message, ok_message=ok_message,
                                  login_delay=delay))
    os.chmod(path, 0o755)
    return path


def calls(directory: Path) -> list[dict[str, Any]]:
    f = directory / "calls.jsonl"
    if not f.exists():
        return []
    return [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
