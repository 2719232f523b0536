"""``ibftkit encode MODEL.json -o OUT``: a JSON model (what ``decode --format json --show-secrets``
prints) written as iBFT bytes, laid out as iPXE, EDK2 or ``ibft.pl`` lay it out
(``ibftkit.sources.ibft.encode``); the parser is registered by ``ibftkit.cli.decode``.

A model that describes no boot is refused, with what is missing, and nothing is written: no NIC,
no target, or no target that open-iscsi would log in to (valid, with a name, an address and the
NIC its ``nic_assoc`` names; the decoder's warnings ``control: no NIC structure``, ``control: no
target structure``, ``no target name``, ``no target IP address``, ``flags 0``, ``names no NIC``).
Whatever else the decoder would warn about the written table (no initiator name, no boot-selected
target, …) is warned about here too, the same lines ``ibftkit decode`` prints for it. Exit 0
written, 1 an invalid model, 2 usage (MODEL.json missing, unreadable or empty; OUT not writable).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..infra.errors import IbftkitError, ModelError
from ..model import BootConfig
from .main import warn

MODEL_EXPECTED = "the JSON 'decode --format json' prints"


def boot_problems(cfg: BootConfig) -> list[str]:
    """Why ``cfg`` describes no boot (empty: it describes one): no NIC, no target, or no target that
    open-iscsi would log in to (valid, a name, an address, a NIC that its ``nic_assoc`` names:
    open-iscsi drops any other: "Invalid nic-assoc"), each target's missing parts named."""
    out = []
    if not cfg.nics:
        out.append("no NIC (decode warns 'control: no NIC structure')")
    if not cfg.targets:
        out.append("no target (decode warns 'control: no target structure')")
    else:
        nics = {n.index for n in cfg.nics}
        why = {t.index: [what for what, ok in (("no target name", t.name), ("no address", t.address),
                                               ("not valid (flags 0)", t.valid),
                                               (f"nic_assoc {t.nic_index} names no NIC", t.nic_index in nics))
                         if not ok] for t in cfg.targets}
        if all(why.values()):
            out += [f"target[{i}]: {', '.join(w)}" for i, w in why.items()]
    return out


def read_model(path: str) -> BootConfig:
    """The model in ``path``; ``ModelError`` (one line naming the file) when it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:  # (gone since the check)
        raise ModelError(f"{path}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:  # a table given where its JSON model belongs
        raise ModelError(f"{path}: not JSON: byte 0x{e.object[e.start]:02x} at offset {e.start} "
                         "is not UTF-8 text (encode reads what 'decode --format json' prints)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelError(f"{path}: not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object (what 'decode --format json' prints)")
    try:
        return BootConfig.from_dict(data)
    except IbftkitError as e:
        raise ModelError(f"{path}: {e}") from None


def run_encode(args: argparse.Namespace) -> int:
    from ..infra.files import check_input, check_output, write_atomic
    from ..sources.ibft.decode import decode_table
    from ..sources.ibft.encode import encode_table
    from ..sources.ibft.spec import IPXE_BIOS_MAX

    out = Path(args.output)
    check_input(args.model, empty=False, expected=MODEL_EXPECTED)
    check_output(out, option="-o")
    cfg = read_model(args.model)
    try:
        table = encode_table(cfg, args.layout)
    except IbftkitError as e:  # a model that reads but cannot be laid out: say which file
        raise ModelError(f"{args.model}: {e}") from None
    problems = boot_problems(cfg)
    if problems:
        raise ModelError(f"{args.model}: describes no boot: {'; '.join(problems)}; nothing written")
    try:
        write_atomic(out, table)  # mode 0644: a table holds no more than the firmware shows anyone
    except OSError as e:
        raise IbftkitError(f"{out}: cannot write ({e.strerror or e})") from None
    for w in decode_table(table, source=f"file:{out}").warnings:  # what 'ibftkit decode OUT' will say
        warn(f"{out}: {w}")
    if args.layout == "ipxe" and len(table) > IPXE_BIOS_MAX:
        warn(f"{len(table)} bytes: BIOS iPXE could not place a table this large "
             f"(its buffer is {IPXE_BIOS_MAX} bytes); UEFI firmware can")
    print(f"wrote {out}: {len(table)} bytes, layout {args.layout}", file=sys.stderr)
    return 0
