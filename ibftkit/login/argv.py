"""What a login needs, built without touching the system: iscsistart argv, node records, settings.

``iscsistart`` (open-iscsi ``usr/iscsistart.c``): one process per target,
``-i INITIATOR -t TARGET -g TPGT -a ADDRESS -p PORT`` (``-a`` takes the address unbracketed: it goes
to ``getaddrinfo``), CHAP as ``-u NAME -w SECRET`` and mutual CHAP as ``-U NAME -W SECRET``, settings
as ``-P NAME=VALUE`` (split at the first ``=``; an empty value is exit 7).

The node record is the layout ``iscsiadm -m node -o new`` writes
(``/etc/iscsi/nodes/<target>/<address>,<port>,<tpgt>/default``; unset keys take iscsiadm's defaults).

Root-disk settings (open-iscsi README §8.2 "iSCSI settings for iSCSI root"):
``replacement_timeout=86400`` and NOP-outs off; plus ``initial_login_retry_max=3`` (dracut's
``rd.iscsi.login_retry_max`` default) so one attempt is bounded and ibftkit's own retry loop
(``ibftkit.login.retry``) decides. Every one can be overridden with ``--param``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..infra.errors import IscsiLoginError, UsageError
from ..model import BootConfig, ChapType, Target

if TYPE_CHECKING:
    from ..network.plan import Step

DEFAULT_TPGT = 1
ROOT_DISK_PARAMS: tuple[tuple[str, str], ...] = (
    ("node.session.timeo.replacement_timeout", "86400"),
    ("node.conn[0].timeo.noop_out_interval", "0"),
    ("node.conn[0].timeo.noop_out_timeout", "0"),
    ("node.session.initial_login_retry_max", "3"),
)
NODE_DIR = "/etc/iscsi/nodes"
_PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\[\]]*")


# --- parameters ----------------------------------------------------------------------------------


def parse_param(text: str, where: str = "--param ") -> tuple[str, str]:
    """``NAME=VALUE`` as ``iscsistart -P`` splits it (first ``=``). Refuses what would break the
    record or leak: empty value (iscsistart exit 7), control characters, any ``*password*`` name
    (CHAP comes from the boot configuration, never from a logged command line). ``where`` starts
    each message: ``"--param "`` or ``"kernel command line rd.iscsi.param="``. Raises ``UsageError``;
    a message never holds the value of a ``*password*`` name."""
    name, eq, value = text.partition("=")
    name = name.strip()
    if not eq or not _PARAM_NAME.fullmatch(name):
        raise UsageError(f"{where}{text!r}: expected NAME=VALUE, like node.session.timeo.replacement_timeout=120")
    if value == "":
        raise UsageError(f"{where}{name}=: empty value (iscsistart refuses it)")
    if any(not c.isprintable() for c in value):
        raise UsageError(f"{where}{name}: the value has control characters")
    if "password" in name.lower():
        raise UsageError(f"{where}{name}: CHAP secrets come from the boot configuration, not a parameter "
                         "(a command-line secret would be logged)")
    return name, value


def merge_params(overrides: Sequence[tuple[str, str]],
                 defaults: Sequence[tuple[str, str]] = ROOT_DISK_PARAMS) -> tuple[tuple[str, str], ...]:
    """Defaults in their order, each replaced by an override of the same name; new names after."""
    merged = dict(defaults)
    for name, value in overrides:
        merged[name] = value
    return tuple(merged.items())


# --- what a login needs --------------------------------------------------------------------------


def target_label(t: Target) -> str:
    addr = t.address or "?"
    host = f"[{addr}]" if ":" in addr else addr
    return f"target[{t.index}] {t.name or '?'} at {host}:{t.port}"


def login_problems(cfg: BootConfig, target: Target) -> list[str]:
    """Why ``target`` cannot be logged in to from ``cfg`` (empty: it can)."""
    out = []
    if cfg.initiator is None or not cfg.initiator.name:
        out.append("no initiator name (give --initiator-name, rd.iscsi.initiator= or DHCP option 203)")
    if not target.name:
        out.append(f"target[{target.index}] has no target name")
    if not target.address:
        out.append(f"target[{target.index}] has no address")
    if not 0 < target.port < 65536:
        out.append(f"target[{target.index}] port {target.port} (expected 1..65535)")
    return out


def needs_zone(t: Target) -> bool:
    """A link-local IPv6 portal (``fe80::/10``): Linux refuses to connect to it without a scope
    (the interface), RFC 4007 §11."""
    return t.ip_address is not None and t.ip_address.version == 6 and t.ip_address.is_link_local


def login_address(t: Target) -> str:
    """The portal address as ``iscsistart -a`` takes it (``getaddrinfo``, which reads the
    ``%zone`` suffix): ``fe80::…%eth0`` for a link-local portal, the address otherwise. Raises
    ``IscsiLoginError`` (one line) for a link-local portal whose zone is not known."""
    if needs_zone(t):
        if not t.zone:
            raise IscsiLoginError(f"{target_label(t)}: a link-local portal needs its zone (the interface of "
                                  f"NIC[{t.nic_index}]), which is not known: Linux refuses to connect to "
                                  "fe80::/10 without one (RFC 4007 §11)")
        return f"{t.ip_address}%{t.zone}"
    assert t.address is not None
    return t.address


def with_zones(cfg: BootConfig, steps: Sequence[Step]) -> BootConfig:
    """``cfg`` with each link-local IPv6 target's zone: the link the network plan routes it through
    (its host route's device, else the link whose address's subnet holds it)."""
    import dataclasses

    from ..network.plan import AddRoute, interface_of

    def zone(t: Target) -> str | None:
        assert t.ip_address is not None
        for s in steps:
            if isinstance(s, AddRoute) and s.dst.prefixlen == s.dst.max_prefixlen \
                    and s.dst.network_address == t.ip_address:
                return s.ifname
        return interface_of(t.ip_address, steps)

    targets = tuple(dataclasses.replace(t, zone=zone(t)) if needs_zone(t) and not t.zone else t
                    for t in cfg.targets)
    return cfg if targets == cfg.targets else cfg.replace(targets=targets)


def _credentials(t: Target) -> list[tuple[str, str, bool]]:
    """``(option, value, secret?)`` for iscsistart's CHAP options."""
    out: list[tuple[str, str, bool]] = []
    if t.chap_type in (ChapType.CHAP, ChapType.MUTUAL) and t.chap_secret is not None and len(t.chap_secret):
        if t.chap_name:
            out.append(("-u", t.chap_name, False))
        out.append(("-w", t.chap_secret.reveal(), True))
        if t.chap_type == ChapType.MUTUAL and t.reverse_chap_secret is not None and len(t.reverse_chap_secret):
            if t.reverse_chap_name:
                out.append(("-U", t.reverse_chap_name, False))
            out.append(("-W", t.reverse_chap_secret.reveal(), True))
    return out


def iscsistart_argv(cfg: BootConfig, target: Target, *, program: str = "iscsistart",
                    params: Sequence[tuple[str, str]] = ROOT_DISK_PARAMS, tpgt: int = DEFAULT_TPGT) -> list[str]:
    """The exact ``iscsistart`` command for one target (CHAP secrets included: never log it raw)."""
    problems = login_problems(cfg, target)
    if problems:
        raise IscsiLoginError(f"{target_label(target)}: " + "; ".join(problems))
    assert cfg.initiator is not None and cfg.initiator.name and target.name and target.address
    argv = [program, "-i", cfg.initiator.name, "-t", target.name, "-g", str(tpgt),
            "-a", login_address(target), "-p", str(target.port)]
    for opt, value, _secret in _credentials(target):
        argv += [opt, value]
    for name, value in params:
        argv += ["-P", f"{name}={value}"]
    return argv


def _portal(target: Target, tpgt: int) -> str:
    addr = target.address or ""
    return f"[{addr}]:{target.port},{tpgt}" if ":" in addr else f"{addr}:{target.port},{tpgt}"


def node_record(cfg: BootConfig, target: Target, *, params: Sequence[tuple[str, str]] = ROOT_DISK_PARAMS,
                tpgt: int = DEFAULT_TPGT) -> str:
    """An open-iscsi node record (``# BEGIN RECORD`` … as ``iscsiadm -m node -o new`` writes it;
    keys left out take iscsiadm's defaults). Holds the CHAP secrets: write it mode 0600."""
    problems = login_problems(cfg, target)
    if problems:
        raise IscsiLoginError(f"{target_label(target)}: " + "; ".join(problems))
    assert cfg.initiator is not None
    rows = [("node.name", target.name), ("node.tpgt", str(tpgt)), ("node.startup", "onboot"),
            ("iface.iscsi_ifacename", "default"), ("iface.transport_name", "tcp"),
            ("iface.initiatorname", cfg.initiator.name)]
    creds = {opt: value for opt, value, _ in _credentials(target)}
    if "-w" in creds:
        rows.append(("node.session.auth.authmethod", "CHAP"))
        for opt, key in (("-u", "username"), ("-w", "password"), ("-U", "username_in"), ("-W", "password_in")):
            if opt in creds:
                rows.append((f"node.session.auth.{key}", creds[opt]))
    address = f"{target.address}%{target.zone}" if needs_zone(target) and target.zone else target.address
    rows += [("node.conn[0].address", address), ("node.conn[0].port", str(target.port))]
    rows += list(params)
    body = "".join(f"{k} = {v}\n" for k, v in rows)
    return f"# BEGIN RECORD 2.1.8\n{body}# END RECORD\n"


def record_path(target: Target, *, node_dir: str = NODE_DIR, tpgt: int = DEFAULT_TPGT) -> Path:
    return Path(node_dir) / str(target.name) / f"{target.address},{target.port},{tpgt}" / "default"
