"""Debian's open-iscsi target words: ``iscsi_target_*`` on the kernel command line and the
``ISCSI_*`` variables of ``/etc/iscsi/iscsi.initramfs`` (open-iscsi ``debian/extra/initramfs/local-top/iscsi``
``parse_iscsi_ops``; README.Debian "Root on iSCSI"), as one :class:`DebianTarget`.

Imported only when a command line has such words or the file is read (``ibftkit.sources.cmdline``
keys them): a boot without them does not define the class (docs/init.md, "Boot time").
"""

from __future__ import annotations

from typing import NamedTuple

from .cmdline import ISCSI_INITRAMFS, _int, malformed


class DebianTarget(NamedTuple):
    """Debian's ``iscsi_target_*`` words or ``/etc/iscsi/iscsi.initramfs`` ``ISCSI_*`` variables
    (open-iscsi ``debian/extra/initramfs/local-top/iscsi`` ``parse_iscsi_ops``): one target name,
    one or more portal addresses (``ISCSI_TARGET_IP`` is a space-separated list there)."""

    name: str | None
    addresses: tuple[str, ...]
    port: int | None = None
    group: int | None = None
    username: str | None = None
    password: str | None = None
    in_username: str | None = None
    in_password: str | None = None
    origin: str = "kernel command line"


def debian_target(d: dict[str, str], warnings: list[str], origin: str = "kernel command line") -> DebianTarget | None:
    """Debian's words as one target; ``None`` (with a warning) when the name or address is missing,
    as open-iscsi's script then does nothing either."""
    addresses = tuple(a for a in d.get("addresses", "").replace(",", " ").split() if a)
    name = d.get("name") or None
    if not name or not addresses:
        missing = "iscsi_target_name" if not name else "iscsi_target_ip"
        warnings.append(f"{origin}: Debian's iSCSI words without {missing}: no target from them "
                        "(open-iscsi's script needs both)")
        return None
    port = _int("iscsi_target_port", d["port"], 1, 65535) if d.get("port") else None
    group = _int("iscsi_target_group", d["group"], 0, 65535) if d.get("group") else None
    return DebianTarget(name, addresses, port, group, d.get("username") or None, d.get("password") or None,
                        d.get("in_username") or None, d.get("in_password") or None, origin)


#: the shell variables of ``/etc/iscsi/iscsi.initramfs`` (open-iscsi's README.Debian "Root on iSCSI")
_ISCSI_VARS = {
    "ISCSI_TARGET_NAME": "name", "ISCSI_TARGET_IP": "addresses", "ISCSI_TARGET_PORT": "port",
    "ISCSI_TARGET_GROUP": "group", "ISCSI_USERNAME": "username", "ISCSI_PASSWORD": "password",
    "ISCSI_IN_USERNAME": "in_username", "ISCSI_IN_PASSWORD": "in_password",
}


def parse_iscsi_initramfs(text: str, origin: str = ISCSI_INITRAMFS) -> tuple[DebianTarget | None, str | None, bool,
                                                                           list[str]]:
    """``(target, initiator, auto, warnings)`` from the ``ISCSI_*`` assignments of Debian's
    ``iscsi.initramfs`` (``NAME=value``, ``NAME="value"``; comments and other lines ignored).
    ``ISCSI_AUTO=true`` asks for the firmware's targets."""
    import shlex

    found: dict[str, str] = {}
    initiator = None
    auto = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, rest = line.partition("=")
        name = name.removeprefix("export ").strip()
        try:
            words = shlex.split(rest, comments=True)
        except ValueError:
            raise malformed(f"{origin}: {name}", None, "a shell assignment NAME=value (unbalanced quote)") from None
        val = " ".join(words)
        if name == "ISCSI_INITIATOR":
            initiator = val or None
        elif name == "ISCSI_AUTO":
            auto = val.lower() in ("true", "yes", "1")
        elif name in _ISCSI_VARS:
            found[_ISCSI_VARS[name]] = val
    warnings: list[str] = []
    target = debian_target(found, warnings, origin) if found else None
    return target, initiator, auto, warnings
