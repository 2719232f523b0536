"""``ibftkit-init``'s settings: options > kernel command line > defaults, in one pure resolver.

:func:`resolve` takes the parsed options (an ``argparse.Namespace``; ``None`` means "not given") and
the kernel command line read once (``ibftkit.sources.cmdline.Cmdline``) and returns
:class:`InitOptions`; nothing else in ``ibftkit-init`` decides a setting. The table in
``tests/unit/test_init_options.py`` holds each setting to the rule.

=====================  ===============================  ======================================  ========
setting                option                           kernel command line                     default
=====================  ===============================  ======================================  ========
backend                ``--backend``                    ``ibftkit.backend=``                    iscsistart
login retries          ``--login-retries``              ``ibftkit.login-retries=``              3
login backoff (s)      ``--login-backoff``              ``ibftkit.login-backoff=``              2
carrier timeout (s)    ``--carrier-timeout``            ``ibftkit.carrier-timeout=``,           10
                                                        ``rd.net.timeout.carrier=``
DHCP timeout (s)       ``--dhcp-timeout``               ``ibftkit.dhcp-timeout=``,              30
                                                        ``rd.net.timeout.dhcp=``
strict                 ``--strict``/``--lenient``       ``ibftkit.strict``                      lenient
DHCP re-run            ``--dhcp-rerun``                 ``ibftkit.dhcp-rerun``                  off
iSCSI parameters       ``--param`` (last wins)          ``rd.iscsi.param=``, ``ibftkit.param=``, root-disk set
                                                        ``rd.iscsi.login_retry_max=``
interfaces             ``--interface``                  ``ibftkit.interface=``                  every NIC
log level              ``--quiet/--verbose/--debug``    ``ibftkit.quiet/verbose/debug``         normal
=====================  ===============================  ======================================  ========
"""

from __future__ import annotations

import argparse
from typing import Any, NamedTuple

from ..infra.errors import UsageError
from ..sources.cmdline import Cmdline

DEFAULTS = {"backend": "iscsistart", "login_retries": 3, "login_backoff": 2.0, "carrier_timeout": 10.0,
            "dhcp_timeout": 30.0}


class InitOptions(NamedTuple):
    """What this run does, every setting decided (see the module docstring)."""

    backend: str = "iscsistart"
    login_retries: int = 3
    login_backoff: float = 2.0
    carrier_timeout: float = 10.0
    dhcp_timeout: float = 30.0
    strict: bool = False
    dhcp_rerun: bool = False
    params: tuple[str, ...] = ()  # NAME=VALUE, command line's first, then the options' (last wins)
    interfaces: tuple[str, ...] = ()


def _pick(name: str, option: Any, cmdline: Any) -> Any:
    if option is not None:
        return option
    if cmdline is not None:
        return cmdline
    return DEFAULTS[name]


def resolve(args: argparse.Namespace, cl: Cmdline) -> InitOptions:
    """Options > kernel command line > defaults. Pure: reads ``args`` and ``cl`` only.
    Raises ``UsageError`` for a value no source may give (a DHCP timeout of 0)."""
    dhcp_timeout = float(_pick("dhcp_timeout", getattr(args, "dhcp_timeout", None), cl.dhcp_timeout))
    if dhcp_timeout <= 0:
        raise UsageError(f"--dhcp-timeout {dhcp_timeout:g}: expected seconds > 0")
    strict = getattr(args, "strict", None)
    interfaces = tuple(getattr(args, "interface", None) or ())
    if getattr(args, "root_path", None) is not None:
        interfaces = ()  # --interface names the root path's NIC, not DHCP candidates
    return InitOptions(
        backend=str(_pick("backend", getattr(args, "backend", None), cl.backend)),
        login_retries=int(_pick("login_retries", getattr(args, "login_retries", None), cl.login_retries)),
        login_backoff=float(_pick("login_backoff", getattr(args, "login_backoff", None), cl.login_backoff)),
        carrier_timeout=float(_pick("carrier_timeout", getattr(args, "carrier_timeout", None), cl.carrier_timeout)),
        dhcp_timeout=dhcp_timeout,
        strict=bool(strict) if strict is not None else cl.strict,
        dhcp_rerun=bool(getattr(args, "dhcp_rerun", False)) or cl.dhcp_rerun,
        params=(*cl.params, *(getattr(args, "param", None) or ())),
        interfaces=interfaces or cl.interfaces,
    )
