"""``ibftkit-init --dry-run``: what a real run would do, in order, as text or (``--json``) one object.

The JSON object (``version`` 1; docs/init.md "Dry run as JSON")::

    {"version": 1, "source": str, "warnings": [str],
     "plan": <exactly what ``ibftkit plan --json`` prints>,
     "logins": [{"target": IQN, "address": str, "port": int, "lun": int, "tpgt": int,
                 "ifname": str | null, "argv": [str, …]}]}

``logins`` are in login order (the boot target first); ``argv`` is the login command with every
CHAP secret replaced by ``<redacted>``; ``ifname`` is the link the target is reached through (the
one whose subnet holds it, else the default route's), ``null`` when only a lease will tell.
A plan that cannot be made gives the exit status the real run would have (4), after the output.
"""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

EXIT_OK = 0


def login_entries(cfg: Any, order: list[Any], backend: Any, plan: Any | None) -> list[dict[str, Any]]:
    """The ``logins`` list of the JSON form."""
    from ..login.argv import DEFAULT_TPGT
    from ..network.plan import interface_of

    out = []
    for t in order:
        cmds = backend.plan(cfg, t)
        argv = shlex.split(cmds[-1].text) if cmds else []
        tpgt = DEFAULT_TPGT
        if "-g" in argv[:-1]:
            tpgt = int(argv[argv.index("-g") + 1])
        ifname = interface_of(t.ip_address, plan.steps) if plan is not None and t.ip_address is not None else None
        out.append({"target": t.name, "address": t.address, "port": t.port, "lun": t.lun.linux, "tpgt": tpgt,
                    "ifname": ifname, "argv": argv})
    return out


def dry_run(cfg: Any, found: Any, cl: Any, backend: Any, order: list[Any], *, opts: Any, log: Any, plan: Any,
            json_out: bool) -> int:
    """Print what a real run would do; raise the plan's ``NetError`` after printing (exit 4)."""
    from ..infra.errors import NetError

    failure: NetError | None = None
    made = None
    try:
        made = plan()
    except NetError as e:
        failure = e
    if made is not None:  # a link-local portal is reached with its NIC's link as zone
        from ..login.argv import with_zones

        zoned = with_zones(cfg, made.steps)
        if zoned is not cfg:
            cfg, order = zoned, [t for o in order for t in zoned.targets if t.index == o.index]
    out = sys.stdout
    if json_out:
        warnings = [log.line(w) for w in (*cl.warnings, *cfg.warnings)]
        doc = {"version": 1, "source": found.source, "warnings": warnings,
               "plan": made.to_dict() if made is not None else None,
               "logins": login_entries(cfg, order, backend, made)}
        if failure is not None:
            doc["error"] = log.line(str(failure))
        out.write(log.redact(json.dumps(doc, indent=2, sort_keys=True)) + "\n")
    else:
        out.write(f"source: {log.line(found.describe())}\n")
        for w in cfg.warnings:
            out.write(f"warning: {log.line(w)}\n")
        if made is not None:
            out.write(made.render_text())
        else:
            out.write(f"network plan: cannot be made: {log.line(str(failure))}\n")
        n = len(order)
        out.write(f"login ({backend.name}; {n} target{'s' if n != 1 else ''}, boot target first; "
                  f"{opts.login_retries} retr{'ies' if opts.login_retries != 1 else 'y'} each, "
                  f"backoff {opts.login_backoff:g} s doubling):\n")
        for t in order:
            for c in backend.plan(cfg, t):
                out.write(f"  {log.redact(c.text)}\n")
    out.flush()
    if failure is not None:
        raise failure
    return EXIT_OK


def print_would_dhcp(found: Any, cl: Any, log: Any, *, json_out: bool, words_plan: Any = None) -> int:
    """A dry run whose answer needs a DHCP lease: say where DHCP would run. ``words_plan``: the plan of
    the command line's own network words (``ibftkit plan --cmdline``), when it has any."""
    out = sys.stdout
    if json_out:
        would = (f"the boot configuration needs a DHCP lease (dry run: not sent); DHCP would run on "
                 f"{', '.join(found.would_dhcp_on) or '(no interface)'}")
        doc = {"version": 1, "source": found.source, "warnings": [*(log.line(w) for w in cl.warnings), would],
               "plan": words_plan.to_dict() if words_plan is not None else None, "logins": []}
        out.write(log.redact(json.dumps(doc, indent=2, sort_keys=True)) + "\n")
        return EXIT_OK
    out.write(f"source: {found.describe()}\n")
    if words_plan is not None:
        out.write(words_plan.render_text())
    out.write(f"would run DHCP on: {', '.join(found.would_dhcp_on) or '(no interface)'}\n")
    out.write("the boot target's network plan and the login commands depend on the lease\n")
    return EXIT_OK
