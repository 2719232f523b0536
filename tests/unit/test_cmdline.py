"""Kernel command line parsing for ibftkit-init (``ibftkit.sources.cmdline``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from ibftkit.infra.errors import UsageError
from ibftkit.sources.cmdline import CmdlineError, IpWord, load_cmdline, parse_cmdline, parse_ip


def test_empty_line_asks_for_nothing() -> None:
    cl = parse_cmdline("BOOT_IMAGE=/vmlinuz root=UUID=1234 ro quiet")
    assert not cl.asks_for_iscsi
    assert cl.netroots == () and cl.initiator is None and cl.sources is None


@pytest.mark.parametrize("word", ["rd.iscsi.firmware", "rd.iscsi.firmware=1", "iscsi_firmware", "rd.iscsi.ibft",
                                  "ip=ibft", "netroot=iscsi", "netroot=iscsi:", "iscsi_auto"])
def test_firmware_forms(word: str) -> None:
    cl = parse_cmdline(f"quiet {word}")
    assert cl.firmware and cl.netroots == ()


def test_firmware_off() -> None:
    assert not parse_cmdline("rd.iscsi.firmware=0").firmware


def test_netroots_repeat_in_order_and_root_counts() -> None:
    cl = parse_cmdline("netroot=iscsi:10.0.0.1::::iqn.2026-01.t:a netroot=iscsi:10.0.1.1::::iqn.2026-01.t:b "
                       "root=iscsi:10.0.2.1::::iqn.2026-01.t:c")
    assert cl.netroots == ("iscsi:10.0.0.1::::iqn.2026-01.t:a", "iscsi:10.0.1.1::::iqn.2026-01.t:b",
                           "iscsi:10.0.2.1::::iqn.2026-01.t:c")


def test_netroot_dhcp() -> None:
    assert parse_cmdline("root=dhcp").dhcp_root
    assert parse_cmdline("netroot=dhcp").dhcp_root


def test_initiator_precedence() -> None:
    assert parse_cmdline("rd.iscsi.initiator=iqn.2026-01.a:x ibftkit.initiator=iqn.2026-01.b:y").initiator == \
        "iqn.2026-01.b:y"
    assert parse_cmdline("iscsi_initiator=iqn.2026-01.c:z rd.iscsi.initiator=iqn.2026-01.a:x").initiator == \
        "iqn.2026-01.a:x"
    assert parse_cmdline("iscsi_initiator=iqn.2026-01.c:z").initiator == "iqn.2026-01.c:z"


def test_ibftkit_keys() -> None:
    cl = parse_cmdline("ibftkit.source=ibft,dhcp ibftkit.ibft=/run/t.bin ibftkit.interface=eth0,eth1 "
                       "ibftkit.interface=eth2 ibftkit.dhcp-timeout=7.5 ibftkit.carrier-timeout=3 "
                       "ibftkit.login-retries=5 ibftkit.login-backoff=0.5 ibftkit.backend=iscsiadm "
                       "ibftkit.param=node.session.timeo.replacement_timeout=120 rd.iscsi.param=a.b=c "
                       "ibftkit.dhcp-rerun ibftkit.strict ibftkit.verbose")
    assert cl.sources == ("ibft", "dhcp")
    assert cl.ibft_path == "/run/t.bin"
    assert cl.interfaces == ("eth0", "eth1", "eth2")
    assert (cl.dhcp_timeout, cl.carrier_timeout, cl.login_retries, cl.login_backoff) == (7.5, 3.0, 5, 0.5)
    assert cl.backend == "iscsiadm"
    assert cl.params == ("node.session.timeo.replacement_timeout=120", "a.b=c")
    assert cl.dhcp_rerun and cl.strict and cl.verbose and not cl.quiet


@pytest.mark.parametrize("word", ["ibftkit.source=floppy", "ibftkit.source=", "ibftkit.backend=open-iscsi",
                                  "ibftkit.dhcp-timeout=soon", "ibftkit.login-retries=-1",
                                  "ibftkit.login-retries=2.5"])
def test_bad_values_are_usage_errors_naming_the_key(word: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_cmdline(word)
    assert word.split("=")[0] in str(e.value)


def test_unknown_keys_are_ignored() -> None:
    assert parse_cmdline("ibftkit.future-thing=1 rd.iscsi.waitnet=0 console=ttyS0").sources is None


def test_chap_on_cmdline_warns_and_is_a_secret() -> None:
    cl = parse_cmdline("netroot=iscsi:10.0.0.1::::iqn.2026-01.t:a rd.iscsi.username=u "
                       "rd.iscsi.password=s3cret-s3cret rd.iscsi.in.username=t rd.iscsi.in.password=r3verse-r3verse")
    assert cl.chap == ("u", "s3cret-s3cret", "t", "r3verse-r3verse")
    assert cl.secrets() == ["s3cret-s3cret", "r3verse-r3verse"]
    assert any("/proc/cmdline" in w for w in cl.warnings)
    assert not any("s3cret" in w for w in cl.warnings)


def test_netroot_with_credentials_warns() -> None:
    cl = parse_cmdline("netroot=iscsi:u:pw-pw-pw-pw-pw@10.0.0.1::::iqn.2026-01.t:a")
    assert any("user:password@" in w for w in cl.warnings)
    assert not any("pw-pw" in w for w in cl.warnings)


def test_quoted_words() -> None:
    cl = parse_cmdline('ibftkit.param="node.session.auth.chap_algs=SHA256,MD5" quiet')
    assert cl.params == ("node.session.auth.chap_algs=SHA256,MD5",)


# --- ip= ---------------------------------------------------------------------------------------------


def test_ip_static_with_dns() -> None:
    spec = parse_ip("10.0.0.2::10.0.0.1:255.255.255.0:client:eth0:none:10.0.0.53:10.0.0.54")
    assert spec == IpWord("10.0.0.2::10.0.0.1:255.255.255.0:client:eth0:none:10.0.0.53:10.0.0.54", ("static",),
                          "eth0", None, ipaddress.ip_interface("10.0.0.2/24"), None, ipaddress.ip_address("10.0.0.1"),
                          "client", (ipaddress.ip_address("10.0.0.53"), ipaddress.ip_address("10.0.0.54")))


def test_ip_static_prefix_and_ipv6() -> None:
    spec = parse_ip("[2001:db8::2]::[2001:db8::1]:64::eth1:none")
    assert spec.address == ipaddress.ip_interface("2001:db8::2/64")
    assert spec.gateway == ipaddress.ip_address("2001:db8::1")
    assert spec.device == "eth1" and spec.hostname is None
    assert parse_ip("10.1.0.2::10.1.0.1:16::eth0:off").address == ipaddress.ip_interface("10.1.0.2/16")


@pytest.mark.parametrize("value,device", [("dhcp", None), ("eth0:dhcp", "eth0"), ("::::client:eth3:dhcp", "eth3")])
def test_ip_dhcp(value: str, device: str | None) -> None:
    spec = parse_ip(value)
    assert spec.methods == ("dhcp",) and spec.device == device


def test_ip_bad_address() -> None:
    with pytest.raises(CmdlineError, match="ip="):
        parse_ip("10.0.0.300::10.0.0.1:24::eth0:none")


def test_ip_unknown_method() -> None:
    with pytest.raises(CmdlineError, match="expected a method"):
        parse_ip("10.0.0.2::10.0.0.1:24::eth0:floppy")


def test_load_cmdline_file_and_missing(tmp_path: Path) -> None:
    f = tmp_path / "cmdline"
    f.write_text("rd.iscsi.firmware rd.iscsi.initiator=iqn.2026-01.a:x\n")
    cl = load_cmdline(f)
    assert cl.firmware and cl.initiator == "iqn.2026-01.a:x"
    assert load_cmdline(tmp_path / "absent").text == ""
