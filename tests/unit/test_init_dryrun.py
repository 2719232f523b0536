"""``ibftkit-init --dry-run`` in-process: sources, plan, exact commands, exit codes, no secret leaks.

The machine's links are replaced by a fixed list (``ibftkit.network.links.list_links``), the firmware root
by an empty directory and the kernel command line by a file, so nothing here depends on this host.
"""

from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

import ibftkit.network.links
from ibftkit.cli.init import main
from ibftkit.network.links import LinkInfo

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ibft"
CHAP = FIXTURES / "ibftkit-chap.bin"
MUTUAL = FIXTURES / "ibftkit-mutual-chap.bin"
MAC = "52:54:00:12:34:00"  # the NIC of the ibftkit-* fixtures
SECRETS = ("chap-secret-one", "reverse-secret-2")


@pytest.fixture
def links(monkeypatch: pytest.MonkeyPatch) -> list[LinkInfo]:
    here = [LinkInfo("lo", None, 1), LinkInfo("eth0", MAC, 2, carrier=True)]
    monkeypatch.setattr(ibftkit.network.links, "list_links", lambda root="/": list(here))
    return here


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An empty firmware root, an empty command line, an absent initiatorname file."""
    (tmp_path / "fw").mkdir()
    (tmp_path / "cmdline").write_text("BOOT_IMAGE=/vmlinuz quiet\n")
    kmsg = tmp_path / "kmsg"
    kmsg.write_text("")
    return {"fw": str(tmp_path / "fw"), "cmdline": str(tmp_path / "cmdline"), "kmsg": str(kmsg),
            "iname": str(tmp_path / "initiatorname.iscsi")}


def init(env: dict[str, str], *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    base = ["--firmware-root", env["fw"], "--cmdline", env["cmdline"], "--kmsg", env["kmsg"],
            "--initiatorname-file", env["iname"]]
    with redirect_stdout(out), redirect_stderr(err):
        code = main(base + list(argv))
    return code, out.getvalue(), err.getvalue()


def no_secret(env: dict[str, str], *texts: str) -> None:
    kmsg = Path(env["kmsg"]).read_text()
    for s in SECRETS:
        for t in (*texts, kmsg):
            assert s not in t


def test_ibft_dry_run_prints_source_plan_and_redacted_command(links: list[LinkInfo], env: dict[str, str]) -> None:
    code, out, err = init(env, "--dry-run", "--ibft", str(MUTUAL), "--iscsistart", "/opt/iscsistart")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"source: boot configuration from options (--ibft {MUTUAL})")
    assert "  1. set link eth0 up" in lines
    assert "  3. add address 192.168.50.101/24 to eth0 (NIC[0])" in lines
    cmd = next(ln for ln in lines if "/opt/iscsistart" in ln).strip()
    assert cmd.startswith("/opt/iscsistart -i iqn.2026-11.org.example.ibftkit:initiator "
                          "-t iqn.2026-11.org.example:disk0 -g 1 -a 192.168.50.1 -p 3260 "
                          "-u user1 -w <redacted> -U target1 -W <redacted> ")
    assert "-P node.session.timeo.replacement_timeout=86400" in cmd
    assert err == ""  # quiet when things work
    no_secret(env, out, err)


def test_param_override_and_iscsiadm_backend(links: list[LinkInfo], env: dict[str, str]) -> None:
    code, out, _ = init(env, "--dry-run", "--ibft", str(CHAP), "--param", "node.session.timeo.replacement_timeout=15")
    assert code == 0 and "replacement_timeout=15" in out and "replacement_timeout=86400" not in out
    code, out, _ = init(env, "--dry-run", "--ibft", str(MUTUAL), "--backend", "iscsiadm")
    assert code == 0
    assert "write /etc/iscsi/nodes/iqn.2026-11.org.example:disk0/192.168.50.1,3260,1/default (mode 0600" in out
    assert "iscsiadm -m node -T iqn.2026-11.org.example:disk0 -p 192.168.50.1:3260,1 -I default --login" in out
    no_secret(env, out)


def test_no_link_with_the_mac_is_a_network_failure(links: list[LinkInfo], env: dict[str, str]) -> None:
    links[1] = LinkInfo("eth0", "02:00:00:00:00:99", 2)
    code, out, err = init(env, "--dry-run", "--ibft", str(MUTUAL))
    assert code == 4
    assert "network plan: cannot be made: NIC[0]: no link has MAC 52:54:00:12:34:00" in out
    assert "-w <redacted>" in out  # the commands are shown anyway
    assert err.splitlines()[-1].startswith("ibftkit-init: NIC[0]: no link has MAC 52:54:00:12:34:00")
    no_secret(env, out, err)


def test_no_configuration_anywhere(links: list[LinkInfo], env: dict[str, str]) -> None:
    Path(env["cmdline"]).write_text("ibftkit.source=ibft\n")
    code, out, err = init(env, "--dry-run")
    assert code == 3 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("ibftkit-init: no boot configuration found: iBFT: no iBFT on this system")


def test_default_order_falls_through_to_dhcp_in_a_dry_run(links: list[LinkInfo], env: dict[str, str]) -> None:
    code, out, _ = init(env, "--dry-run")
    assert code == 0
    assert "not used: kernel command line: no netroot=iscsi:…; iBFT: no iBFT on this system" in out
    assert "would run DHCP on: eth0" in out


def test_table_under_firmware_root_is_the_running_system(links: list[LinkInfo], env: dict[str, str]) -> None:
    acpi = Path(env["fw"]) / "sys/firmware/acpi/tables"
    acpi.mkdir(parents=True)
    (acpi / "iBFT").write_bytes(CHAP.read_bytes())
    (Path(env["fw"]) / "sys/firmware/efi").mkdir()
    code, out, _ = init(env, "--dry-run")
    assert code == 0
    assert "source: boot configuration from ibft (acpi:" in out


def test_kernel_cmdline_netroot_with_static_ip(links: list[LinkInfo], env: dict[str, str]) -> None:
    Path(env["cmdline"]).write_text(
        "rd.iscsi.initiator=iqn.2026-01.test.ibftkit:init ip=10.99.0.2::10.99.0.1:255.255.255.0:client:eth0:none "
        "netroot=iscsi:10.99.0.1::::iqn.2026-01.test.ibftkit:disk0 "
        "netroot=iscsi:10.98.0.1::3261:a:iqn.2026-01.test.ibftkit:disk1\n")
    code, out, err = init(env, "--dry-run", "--no-hostname")
    assert code == 0, err
    assert "source: boot configuration from cmdline (2 netroot=iscsi:…)" in out
    assert "add address 10.99.0.2/24 to eth0" in out
    assert "add route 10.98.0.1/32 via 10.99.0.1 dev eth0" in out
    cmds = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("iscsistart ")]
    assert [c.split(" -t ")[1].split()[0] for c in cmds] == ["iqn.2026-01.test.ibftkit:disk0",
                                                          "iqn.2026-01.test.ibftkit:disk1"]
    assert "-p 3261" in cmds[1]


def test_kernel_cmdline_chap_is_redacted_everywhere(links: list[LinkInfo], env: dict[str, str]) -> None:
    Path(env["cmdline"]).write_text(
        "rd.iscsi.initiator=iqn.2026-01.test.ibftkit:init ip=eth0:dhcp "
        "netroot=iscsi:user1:chap-secret-one@10.99.0.1::::iqn.2026-01.test.ibftkit:disk0\n")
    code, out, err = init(env, "--dry-run")
    assert code == 0, err
    assert "ask DHCP for the address of eth0" in out
    assert "-u user1 -w <redacted>" in out
    assert "/proc/cmdline" in out + err  # the warning about secrets on the command line
    no_secret(env, out, err)


def test_root_path_without_address_asks_dhcp(links: list[LinkInfo], env: dict[str, str]) -> None:
    code, out, _ = init(env, "--dry-run", "--root-path", "iscsi:10.99.0.1::::iqn.2026-01.t:d", "--interface", "eth0",
                        "--initiator-name", "iqn.2026-01.t:i")
    assert code == 0 and "ask DHCP for the address of eth0" in out
    assert "iscsistart -i iqn.2026-01.t:i -t iqn.2026-01.t:d" in out


def test_root_path_without_initiator_name_is_incomplete(links: list[LinkInfo], env: dict[str, str]) -> None:
    code, _, err = init(env, "--dry-run", "--root-path", "iscsi:10.99.0.1::::iqn.2026-01.t:d", "--interface", "eth0",
                        "--address", "10.99.0.2/24")
    assert code == 3 and "no initiator name" in err


def test_initiator_name_from_file_for_a_root_path(links: list[LinkInfo], env: dict[str, str]) -> None:
    Path(env["iname"]).write_text("InitiatorName=iqn.2026-01.t:fromfile\n")
    code, out, _ = init(env, "--dry-run", "--root-path", "iscsi:10.99.0.1::::iqn.2026-01.t:d", "--interface", "eth0",
                        "--address", "10.99.0.2/24")
    assert code == 0 and "-i iqn.2026-01.t:fromfile" in out


@pytest.mark.parametrize("argv,words", [
    (["--login-retries", "-1"], "--login-retries"),
    (["--param", "node.session.auth.password=x"], "CHAP secrets"),
    (["--backend", "tcp"], "--backend"),
    (["--ibft", str(CHAP), "--root-path", "iscsi:1.2.3.4::::iqn.2026-01.t:d"], "not both"),
    (["--ibft", str(CHAP), "--address", "10.0.0.1/24"], "only valid with --root-path"),
    (["--initiator-name", "not an iqn"], "--initiator-name"),
    (["--strict", "--lenient"], "not allowed with"),
])
def test_usage_errors_exit_2(links: list[LinkInfo], env: dict[str, str], argv: list[str], words: str) -> None:
    code, out, err = init(env, "--dry-run", *argv)
    assert code == 2 and out == ""
    assert words in err and "Traceback" not in err


def test_bad_kernel_cmdline_value_is_usage(links: list[LinkInfo], env: dict[str, str]) -> None:
    Path(env["cmdline"]).write_text("ibftkit.login-retries=many\n")
    code, _, err = init(env, "--dry-run")
    assert code == 2 and "ibftkit.login-retries" in err


def test_broken_table_given_explicitly_is_no_config(links: list[LinkInfo], env: dict[str, str],
                                                     tmp_path: Path) -> None:
    bad = tmp_path / "t.bin"
    bad.write_bytes(b"iBFT" + b"\x00" * 20)
    code, _, err = init(env, "--dry-run", "--ibft", str(bad))
    assert code == 3 and err.count("\n") == 1


def test_strict_refuses_a_table_with_warnings(links: list[LinkInfo], env: dict[str, str]) -> None:
    quirks = FIXTURES / "ibftkit-quirks.bin"
    assert init(env, "--dry-run", "--ibft", str(quirks), "--strict")[0] == 3
    code, out, _ = init(env, "--dry-run", "--ibft", str(quirks))
    assert code in (0, 4) and "warning: nic[0]" in out  # lenient (the default) prints the warnings


def test_help_lists_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for line in ("0  the boot target is logged in", "2  usage", "3  no boot configuration found",
                 "4  network failed", "5  login failed"):
        assert line in text


@pytest.mark.allow_subprocess
def test_dry_run_on_the_ibft_path_imports_neither_pyroute2_nor_scapy(tmp_path: Path) -> None:
    (tmp_path / "cmdline").write_text("")
    code = ("import sys; from ibftkit.cli.init import main; "
            f"rc = main(['--dry-run', '--ibft', {str(CHAP)!r}, '--cmdline', {str(tmp_path / 'cmdline')!r}, "
            "'--kmsg', 'none']); "
            "print(rc, 'pyroute2' in sys.modules, 'scapy' in sys.modules, file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    rc, pyroute2, scapy = r.stderr.splitlines()[-1].split()
    assert rc in ("0", "4")  # 4 when this machine has no link with the fixture's MAC
    assert (pyroute2, scapy) == ("False", "False")
