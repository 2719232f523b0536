"""The guest's marker protocol on the serial console (see ``tools/vm/guest/init``), host side.

Lines (the tty adds ``\\r``; kernel messages may come between lines but not inside a base64 block,
since the guest sets ``dmesg -n 1``)::

    @@IBFTKIT-VM begin NAME
    <base64>
    @@IBFTKIT-VM end NAME rc=N
    @@IBFTKIT-VM time STAGE SECONDS
    @@IBFTKIT-VM note TEXT
    @@IBFTKIT-VM done
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

MARK = "@@IBFTKIT-VM"


class ProtocolError(RuntimeError):
    """The serial log does not hold what the guest should have printed."""


@dataclass
class GuestReport:
    blobs: dict[str, bytes] = field(default_factory=dict)
    rcs: dict[str, int] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    done: bool = False

    def blob(self, name: str) -> bytes:
        if name not in self.blobs:
            raise ProtocolError(f"guest printed no {name!r} block (have: {', '.join(self.blobs) or 'none'}; "
                                f"notes: {'; '.join(self.notes) or 'none'})")
        return self.blobs[name]

    def text(self, name: str) -> str:
        return self.blob(name).decode()


def parse(log: str) -> GuestReport:
    """Every block, time and note in a serial log, in order."""
    rep = GuestReport()
    current: str | None = None
    chunks: list[str] = []
    for raw in log.splitlines():
        line = raw.rstrip("\r").strip()
        idx = line.find(MARK)
        if idx < 0:
            if current is not None and line:
                chunks.append(line)
            continue
        words = line[idx + len(MARK):].split(None, 2)
        kind = words[0] if words else ""
        if kind == "begin" and len(words) > 1:
            current, chunks = words[1], []
        elif kind == "end" and len(words) > 1:
            name = words[1]
            if name != current:
                raise ProtocolError(f"serial log: 'end {name}' without 'begin {name}'")
            try:
                rep.blobs[name] = base64.b64decode("".join(chunks), validate=True)
            except binascii.Error as e:
                raise ProtocolError(f"serial log: block {name!r} is not clean base64 ({e}); "
                                    "kernel messages inside it?") from None
            rest = words[2] if len(words) > 2 else ""
            if rest.startswith("rc="):
                rep.rcs[name] = int(rest[3:].split()[0])
            current = None
        elif kind == "time" and len(words) > 2:
            rep.times[words[1]] = float(words[2])
        elif kind == "note":
            rep.notes.append(line[idx + len(MARK):].strip()[5:])
        elif kind == "done":
            rep.done = True
    return rep
