"""``ibftkit-init``'s one resolver: options > kernel command line > defaults, setting by setting."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from ibftkit.cli.options import InitOptions, resolve
from ibftkit.infra.errors import UsageError
from ibftkit.sources.cmdline import parse_cmdline

# (setting, option name, option value, kernel command line, expected)
TABLE: list[tuple[str, str, Any, str, Any]] = [
    ("backend", "backend", None, "", "iscsistart"),
    ("backend", "backend", None, "ibftkit.backend=iscsiadm", "iscsiadm"),
    ("backend", "backend", "iscsistart", "ibftkit.backend=iscsiadm", "iscsistart"),
    ("login_retries", "login_retries", None, "", 3),
    ("login_retries", "login_retries", None, "ibftkit.login-retries=7", 7),
    ("login_retries", "login_retries", 0, "ibftkit.login-retries=7", 0),
    ("login_backoff", "login_backoff", None, "", 2.0),
    ("login_backoff", "login_backoff", None, "ibftkit.login-backoff=0.5", 0.5),
    ("login_backoff", "login_backoff", 4.0, "ibftkit.login-backoff=0.5", 4.0),
    ("carrier_timeout", "carrier_timeout", None, "", 10.0),
    ("carrier_timeout", "carrier_timeout", None, "rd.net.timeout.carrier=20", 20.0),
    ("carrier_timeout", "carrier_timeout", None, "ibftkit.carrier-timeout=3 rd.net.timeout.carrier=20", 3.0),
    ("carrier_timeout", "carrier_timeout", 1.5, "ibftkit.carrier-timeout=3", 1.5),
    ("dhcp_timeout", "dhcp_timeout", None, "", 30.0),
    ("dhcp_timeout", "dhcp_timeout", None, "rd.net.timeout.dhcp=42", 42.0),
    ("dhcp_timeout", "dhcp_timeout", 5.0, "rd.net.timeout.dhcp=42", 5.0),
    ("strict", "strict", None, "", False),
    ("strict", "strict", None, "ibftkit.strict", True),
    ("strict", "strict", False, "ibftkit.strict", False),
    ("dhcp_rerun", "dhcp_rerun", False, "ibftkit.dhcp-rerun", True),
    ("dhcp_rerun", "dhcp_rerun", True, "", True),
    ("params", "param", [], "rd.iscsi.login_retry_max=5", ("node.session.initial_login_retry_max=5",)),
    ("params", "param", ["a.b=2"], "rd.iscsi.param=a.b=1", ("a.b=1", "a.b=2")),  # the option last: it wins
    ("interfaces", "interface", [], "ibftkit.interface=eth1", ("eth1",)),
    ("interfaces", "interface", ["eth2"], "ibftkit.interface=eth1", ("eth2",)),
]


def args(**given: Any) -> argparse.Namespace:
    base = dict(backend=None, login_retries=None, login_backoff=None, carrier_timeout=None, dhcp_timeout=None,
                strict=None, dhcp_rerun=False, param=[], interface=[], root_path=None)
    base.update(given)
    return argparse.Namespace(**base)


@pytest.mark.parametrize("setting,option,value,cmdline,expected", TABLE)
def test_precedence(setting: str, option: str, value: Any, cmdline: str, expected: Any) -> None:
    got = resolve(args(**{option: value}) if value is not None else args(), parse_cmdline(cmdline))
    assert getattr(got, setting) == expected


def test_defaults_are_the_named_tuple_defaults() -> None:
    assert resolve(args(), parse_cmdline("")) == InitOptions()


def test_root_path_interface_is_not_a_dhcp_candidate() -> None:
    assert resolve(args(interface=["eth0"], root_path="iscsi:x"), parse_cmdline("")).interfaces == ()


def test_zero_dhcp_timeout_is_usage() -> None:
    with pytest.raises(UsageError, match="--dhcp-timeout"):
        resolve(args(dhcp_timeout=0.0), parse_cmdline(""))
