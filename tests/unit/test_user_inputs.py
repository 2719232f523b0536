"""Inputs a new user gives by mistake: each a one-line message naming where it came from, with the
documented exit status, never a traceback (README "Commands"; docs/cmdline.md, "three rules")."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from ibftkit.cli import init as init_cli
from ibftkit.cli.main import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TABLE = FIXTURES / "ibft" / "ibftkit-chap.bin"
LINKS = FIXTURES / "cmdline" / "links" / "two-nics.json"
TARGET = ("rd.iscsi.initiator=iqn.2026-11.org.example:i "
          "netroot=iscsi:192.0.2.10::::iqn.2026-11.org.example:d ip=dhcp")


def run(entry: object, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = entry(argv)  # type: ignore[operator]
    return code, out.getvalue(), err.getvalue()


def empty_file(tmp_path: Path) -> str:
    """An empty kernel command line (a --cmdline PATH that is missing is exit 2)."""
    path = tmp_path / "empty-cmdline"
    path.write_text("")
    return str(path)


def dry_run(tmp_path: Path, cmdline: str) -> tuple[int, str, str]:
    (tmp_path / "fw").mkdir(exist_ok=True)
    (tmp_path / "cmdline").write_text(cmdline + "\n")
    none = str(tmp_path / "none")
    return run(init_cli.main, ["--dry-run", "--firmware-root", str(tmp_path / "fw"), "--cmdline",
                               str(tmp_path / "cmdline"), "--kmsg", "none", "--initiatorname-file", none,
                               "--links", str(LINKS), "--iscsi-initramfs", none, "--open-iscsi-script", none])


def test_encode_given_a_table_instead_of_its_model(tmp_path: Path) -> None:
    code, out, err = run(main, ["encode", str(TABLE), "-o", str(tmp_path / "out.bin")])
    assert code == 1 and out == ""
    assert err.splitlines() == [f"ibftkit: {TABLE}: not JSON: byte 0xfb at offset 9 is not UTF-8 text "
                                "(encode reads what 'decode --format json' prints)"]
    assert not (tmp_path / "out.bin").exists()


def test_links_given_a_table_instead_of_ip_json() -> None:
    code, out, err = run(main, ["plan", "--ibft", str(TABLE), "--links", str(TABLE)])
    assert code == 2 and out == ""
    assert err.splitlines() == [f"ibftkit: --links {TABLE}: not JSON (byte 0xfb at offset 9 is not UTF-8 text; "
                                "expected what 'ip -j -d link show' prints)"]


@pytest.mark.parametrize("word,why", [
    ("rd.iscsi.param=bogus", "rd.iscsi.param='bogus': expected NAME=VALUE"),
    ("rd.iscsi.param=a.b=", "rd.iscsi.param=a.b=: empty value"),
    ("rd.iscsi.param=node.session.auth.password=s3cretPassw0rd", "rd.iscsi.param=node.session.auth.password: "
                                                                   "CHAP secrets come from the boot configuration"),
])
def test_malformed_dracut_param_is_exit_3_named_as_the_word(tmp_path: Path, word: str, why: str) -> None:
    code, out, err = dry_run(tmp_path, f"{word} {TARGET}")
    assert code == 3 and out == ""
    assert len(err.splitlines()) == 1 and f"kernel command line {why}" in err
    assert "--param" not in err and "s3cretPassw0rd" not in err


def test_malformed_ibftkit_param_is_a_usage_error_named_as_the_word(tmp_path: Path) -> None:
    code, out, err = dry_run(tmp_path, f"ibftkit.param=bogus {TARGET}")
    assert code == 2 and out == ""
    assert err.splitlines() == ["ibftkit-init: kernel command line ibftkit.param='bogus': expected NAME=VALUE, "
                                "like node.session.timeo.replacement_timeout=120"]


def test_good_dracut_param_still_reaches_the_login(tmp_path: Path) -> None:
    code, out, err = dry_run(tmp_path, f"rd.iscsi.param=node.session.timeo.replacement_timeout=30 {TARGET}")
    assert code == 0, err
    assert "-P node.session.timeo.replacement_timeout=30" in out


def test_option_param_message_is_unchanged(tmp_path: Path) -> None:
    code, out, err = run(init_cli.main, ["--dry-run", "--ibft", str(TABLE), "--kmsg", "none", "--links", str(LINKS),
                                         "--cmdline", empty_file(tmp_path), "--param", "bogus"])
    assert code == 2
    assert err.splitlines() == ["ibftkit-init: --param 'bogus': expected NAME=VALUE, "
                                "like node.session.timeo.replacement_timeout=120"]


NETROOT_BAD = "netroot=iscsi:user:s3cretPassw0rd@192.168.1.300::::iqn.2026-11.org.example:d ip=dhcp"
NETROOT_WHY = ("kernel command line netroot= #1: root path server: '192.168.1.300' is not an IPv4 address "
               "(four decimal octets 0..255 without leading zeros)")


def test_malformed_netroot_names_the_word_not_its_secret(tmp_path: Path) -> None:
    code, out, err = dry_run(tmp_path, NETROOT_BAD)
    assert code == 3 and out == ""
    assert err.splitlines()[-1] == f"ibftkit-init: {NETROOT_WHY}"
    assert "s3cretPassw0rd" not in err


def test_plan_fails_on_a_malformed_netroot_as_ibftkit_init_does(tmp_path: Path) -> None:
    (tmp_path / "cmdline").write_text(NETROOT_BAD + "\n")
    code, out, err = run(main, ["plan", "--cmdline", str(tmp_path / "cmdline"), "--links", str(LINKS)])
    assert code == 1 and out == ""
    assert err.splitlines()[-1] == f"ibftkit: {NETROOT_WHY}"
    assert "s3cretPassw0rd" not in err


class ClosedPipe(io.StringIO):
    """stdout of `ibftkit-init --dry-run | head -1` once head has exited."""

    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_dry_run_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    err = io.StringIO()
    with redirect_stdout(ClosedPipe()), redirect_stderr(err):
        code = init_cli.main(["--dry-run", "--ibft", str(TABLE), "--kmsg", "none", "--links", str(LINKS),
                              "--cmdline", empty_file(tmp_path)])
    assert code == 0
    assert "internal error" not in err.getvalue() and "BrokenPipeError" not in err.getvalue()


def test_jobs_zero_is_one_line_without_a_second_prefix() -> None:
    code, out, err = run(main, ["decode", "--format", "json", "--jobs", "0", str(FIXTURES / "ibft" / "samples")])
    assert code == 2 and out == ""
    assert err.splitlines() == ["ibftkit: --jobs 0: expected 1 or more (see 'ibftkit decode --help')"]


def test_root_path_credentials_hint_names_what_reads_them(tmp_path: Path) -> None:
    """--root-path (ibftkit-init, plan, dracut, kickstart) has no --dialect: the hint names what does."""
    code, out, err = run(main, ["plan", "--root-path", "iscsi:u:p@192.0.2.1::::iqn.2001-04.com.example:d",
                                "--interface", "eth0", "--links", str(LINKS)])
    assert code == 1 and out == ""
    assert err.splitlines() == ["ibftkit: root path credentials: '@' before the server: user:password@ credentials "
                                "are a dracut extension, not RFC 4173 (dracut's netroot= and 'ibftkit rootpath "
                                "--dialect dracut' read them)"]


@pytest.mark.parametrize("model,why", [
    ('{"nics": "eth0"}', "nics: expected a list, got str"),
    ('{"targets": {"ip_address": "192.0.2.1"}}', "targets: expected a list, got dict"),
    ('{"targets": [{"ip_address": "x"}]}', "target[0]: server 'x' is a name; an iBFT holds only IP addresses"),
])
def test_encode_errors_name_the_model_file(tmp_path: Path, model: str, why: str) -> None:
    path = tmp_path / "model.json"
    path.write_text(model)
    code, out, err = run(main, ["encode", str(path), "-o", str(tmp_path / "out.bin")])
    assert code == 1 and out == ""
    assert err.splitlines() == [f"ibftkit: {path}: {why}"]


@pytest.mark.parametrize("argv,helps", [
    (["dracut", "--bogus"], "ibftkit dracut --help"),
    (["net", "apply", "--bogus"], "ibftkit net apply --help"),
    (["rootpath", "iscsi:192.0.2.1::::iqn.2001-04.com.example:d", "extra"], "ibftkit rootpath --help"),
    (["--bogus"], "ibftkit --help"),
])
def test_unknown_argument_points_at_the_subcommands_help(argv: list[str], helps: str) -> None:
    code, out, err = run(main, argv)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.rstrip().endswith(f"(see '{helps}')")


def test_init_md_dry_run_example_is_what_the_tool_prints(tmp_path: Path) -> None:
    """docs/init.md, "Dry run": the example block is the tool's output for the command it shows."""
    text = (FIXTURES.parent / "docs" / "init.md").read_text()
    start = text.index("$ ibftkit-init --dry-run --ibft fixtures/ibft/ibftkit-mutual-chap.bin")
    block = text[start:text.index("```", start)]
    command, _, shown = block.partition("\n")
    argv = command.split()[2:]  # after "$ ibftkit-init"
    argv = [str(FIXTURES.parent / a) if a.startswith("fixtures/") else a for a in argv]
    code, out, err = run(init_cli.main, [*argv, "--kmsg", "none", "--cmdline", empty_file(tmp_path)])
    assert code == 0, err
    assert out.replace(str(FIXTURES.parent) + "/", "") == shown


def test_net_md_plan_example_is_what_the_tool_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/net.md, "What the plan contains": the example runs from the repository root as shown."""
    import os

    text = (FIXTURES.parent / "docs" / "net.md").read_text()
    start = text.index("$ ibftkit plan --ibft fixtures/ibft/samples/lkml-3targets.bin")
    command, _, shown = text[start:text.index("```", start)].partition("\n")
    cwd = os.getcwd()
    os.chdir(FIXTURES.parent)
    try:
        code = main(command.split()[2:])
    finally:
        os.chdir(cwd)
    out, err = capsys.readouterr()
    assert code == 0
    assert err + out == shown


def test_links_given_net_links_json_says_which_form_it_reads(tmp_path: Path) -> None:
    path = tmp_path / "links.json"
    path.write_text('[{"carrier": true, "devtype": null, "ifindex": 2, "ifname": "eth0", '
                    '"mac": "52:54:00:12:34:00", "operstate": "up", "pci_bdf": "00:03.0"}]')
    code, out, err = run(main, ["plan", "--ibft", str(TABLE), "--links", str(path)])
    assert code == 2 and out == ""
    assert err.splitlines() == [f"ibftkit: --links {path}[0]: this is what 'ibftkit net links --json' prints; "
                                "--links reads what 'ip -j -d link show' prints (each link's flags, kind and device)"]


def test_net_without_a_verb_names_the_program_once() -> None:
    code, out, err = run(main, ["net"])
    assert code == 2
    assert err.splitlines() == ["ibftkit: net: give a verb: apply or links (see 'ibftkit net --help')"]


@pytest.mark.parametrize("word,mac", [("ip=eth0:dhcp:1500:ff:ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff"),
                                      ("ip=eth0:dhcp::01:00:5e:00:00:01", "01:00:5e:00:00:01"),
                                      ("ip=192.0.2.2::192.0.2.1:24::eth0:none:1500:00:00:00:00:00:00",
                                       "00:00:00:00:00:00")])
def test_a_mac_no_link_can_take_is_warned_about(tmp_path: Path, word: str, mac: str) -> None:
    code, out, err = dry_run(tmp_path, word)
    assert code == 0, err
    assert f"ip={word[3:]}: MAC {mac} is a group or zero address: the kernel refuses to set it" in err + out


def test_a_unicast_mac_is_still_set(tmp_path: Path) -> None:
    code, out, err = dry_run(tmp_path, "ip=eth0:dhcp:1500:52:54:00:12:34:99")
    assert code == 0, err
    assert "set MAC 52:54:00:12:34:99 on eth0" in out


@pytest.mark.parametrize("line,why", [
    ("vlan=vlan5:eth0 vlan=vlan5:eth1", "vlan=vlan5:eth1: expected a VLAN name no other vlan= uses "
                                        "(vlan=vlan5:eth0 names vlan5 already)"),
    ("vlan=vlan5:eth0 vlan=vlan0005:eth0", "vlan=vlan0005:eth0: expected one VLAN per VID on eth0 "
                                           "(vlan=vlan5:eth0 has VID 5 already)"),
])
def test_two_vlans_the_kernel_cannot_both_create_are_malformed(tmp_path: Path, line: str, why: str) -> None:
    code, out, err = dry_run(tmp_path, line)
    assert code == 3 and out == ""
    assert err.splitlines() == [f"ibftkit-init: kernel command line {why}"]


def test_a_repeated_vlan_word_is_one_vlan(tmp_path: Path) -> None:
    code, out, err = dry_run(tmp_path, "vlan=vlan5:eth0 vlan=vlan5:eth0 ip=vlan5:dhcp")
    assert code == 0, err
    assert out.count("create 802.1Q link vlan5") == 1


def test_static_ip_with_a_gateway_off_its_subnet_gets_the_on_link_route_first(tmp_path: Path) -> None:
    """As the iBFT path's plan (a /32 lease with a gateway elsewhere): without the on-link route the
    kernel refuses 'via 10.0.0.1' (Network is unreachable)."""
    code, out, err = dry_run(tmp_path, "ip=192.168.1.2::10.0.0.1:24::eth0:off")
    assert code == 0, err
    lines = [line.strip() for line in out.splitlines()]
    onlink = ("4. add route 10.0.0.1/32 dev eth0 src 192.168.1.2 (gateway of ip=192.168.1.2::10.0.0.1:24::eth0:off "
              "is outside 192.168.1.0/24)")
    assert onlink in lines
    assert lines[lines.index(onlink) + 1].startswith("5. add route default via 10.0.0.1 dev eth0")
