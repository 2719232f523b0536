"""``ibftkit-init --dry-run [--json] --cmdline F --links F``: the kernel command line as users write it.

No subprocess, no socket: the links come from ``fixtures/cmdline/links`` (``--links``), the firmware
root is empty unless a table is given with ``ibftkit.ibft=``/``--ibft``.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from ibftkit.cli.init import main

ROOT = Path(__file__).resolve().parents[2] / "fixtures"
LINKS = ROOT / "cmdline" / "links"
CHAP = ROOT / "ibft" / "ibftkit-chap.bin"  # NIC 52:54:00:12:34:00 (eth0 of two-nics), 192.168.50.101/24
INIT = "rd.iscsi.initiator=iqn.2026-11.org.example:initiator01"


def init(tmp_path: Path, cmdline: str, *argv: str, links: str = "two-nics") -> tuple[int, str, str]:
    (tmp_path / "fw").mkdir(exist_ok=True)
    (tmp_path / "cmdline").write_text(cmdline + "\n")
    out, err = io.StringIO(), io.StringIO()
    base = ["--dry-run", "--firmware-root", str(tmp_path / "fw"), "--cmdline", str(tmp_path / "cmdline"),
            "--kmsg", "none", "--initiatorname-file", str(tmp_path / "none"), "--links", str(LINKS / f"{links}.json"),
            "--iscsi-initramfs", str(tmp_path / "none"), "--open-iscsi-script", str(tmp_path / "none")]
    with redirect_stdout(out), redirect_stderr(err):
        code = main(base + list(argv))
    return code, out.getvalue(), err.getvalue()


def as_json(tmp_path: Path, cmdline: str, *argv: str, links: str = "two-nics") -> dict[str, Any]:
    code, out, err = init(tmp_path, cmdline, "--json", *argv, links=links)
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def steps(doc: dict[str, Any]) -> list[str]:
    return [f"{s['step']} {s.get('ifname', '')}".strip() for s in doc["plan"]["steps"]]


def test_json_has_exactly_the_interface_keys(tmp_path: Path) -> None:
    doc = as_json(tmp_path, f"{INIT} ip=192.0.2.20::192.0.2.1:24:client1:eth0:none:1500 "
                  "netroot=iscsi:192.0.2.10::::iqn.2026-11.org.example:disk0")
    assert set(doc) == {"version", "source", "warnings", "plan", "logins"}
    assert doc["version"] == 1 and doc["source"] == "cmdline"
    (login,) = doc["logins"]
    assert set(login) == {"target", "address", "port", "lun", "tpgt", "ifname", "argv"}
    assert login == {**login, "target": "iqn.2026-11.org.example:disk0", "address": "192.0.2.10", "port": 3260,
                     "lun": 0, "tpgt": 1, "ifname": "eth0"}
    assert login["argv"][:3] == ["iscsistart", "-i", "iqn.2026-11.org.example:initiator01"]
    assert set(doc["plan"]) == {"version", "source", "steps", "notes"}
    assert {"step": "set_mtu", "ifname": "eth0", "mtu": 1500}.items() <= doc["plan"]["steps"][0].items()


def test_json_plan_is_what_ibftkit_plan_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ibftkit.cli.main import main as ibftkit

    line = f"{INIT} ip=192.0.2.20::192.0.2.1:24::eth0:none netroot=iscsi:192.0.2.10::::iqn.2026-11.org.example:d"
    doc = as_json(tmp_path, line)
    assert ibftkit(["plan", "--json", "--cmdline", str(tmp_path / "cmdline"), "--links",
                    str(LINKS / "two-nics.json")]) == 0
    assert json.loads(capsys.readouterr().out) == doc["plan"]


@pytest.mark.parametrize("word", ["ip=off", "ip=none", "ip=eth0:dhcp:9000", "ip=either6", "ip=single-dhcp",
                                  "ip=192.0.2.5::192.0.2.1:24::eth1:none:1400",
                                  "ip=eth0:dhcp:1500:52:54:00:12:34:00", "ip=dhcp6", "ip=auto6"])
def test_valid_ip_words_never_exit_2_with_a_table(tmp_path: Path, word: str) -> None:
    code, out, err = init(tmp_path, f"{word}", "--ibft", str(CHAP))
    assert code == 0, err
    assert out.startswith("source: boot configuration from options")


def test_malformed_value_is_one_line_exit_3(tmp_path: Path) -> None:
    code, out, err = init(tmp_path, f"{INIT} ip=eth0:dhcp:huge netroot=iscsi:192.0.2.10::::iqn.2026-11.org.example:d")
    assert code == 3 and out == ""
    assert err.strip().splitlines() == ["ibftkit-init: kernel command line ip=eth0:dhcp:huge: expected an MTU of "
                                        "68..65535 bytes (not 'huge')"]


def test_dhcp6_plans_family_6_never_dhcpv4(tmp_path: Path) -> None:
    doc = as_json(tmp_path, f"{INIT} ip=eth0:dhcp6 netroot=iscsi:[2001:db8::10]::::iqn.2026-11.org.example:d")
    dhcp = [s for s in doc["plan"]["steps"] if s["step"] == "run_dhcp"]
    assert [(s["ifname"], s["family"]) for s in dhcp] == [("eth0", 6)]
    doc = as_json(tmp_path, f"{INIT} ip=eth0:auto6 netroot=iscsi:[2001:db8::10]::::iqn.2026-11.org.example:d")
    assert "run_slaac eth0" in steps(doc) and not any(s.startswith("run_dhcp") for s in steps(doc))


def test_ifb_never_gets_dhcp(tmp_path: Path) -> None:
    doc = as_json(tmp_path, f"{INIT} ip=dhcp netroot=iscsi:192.0.2.10::::iqn.2026-11.org.example:d")
    assert [s for s in steps(doc) if s.startswith("run_dhcp")] == ["run_dhcp eth0", "run_dhcp eth1"]


def test_two_static_nics_each_target_through_its_own(tmp_path: Path) -> None:
    """dracut's TEST-35-ISCSI-MULTI: two ip= on two subnets, one target on each."""
    doc = as_json(tmp_path, f"{INIT} ip=192.168.50.101:::255.255.255.0::enp0s1:off "
                  "ip=192.168.51.101:::255.255.255.0::enp0s2:off "
                  "netroot=iscsi:192.168.51.1::::iqn.2009-06.dracut:target1 "
                  "netroot=iscsi:192.168.50.1::::iqn.2009-06.dracut:target2", links="dracut-multinic")
    assert [(x["target"], x["ifname"]) for x in doc["logins"]] == [("iqn.2009-06.dracut:target1", "enp0s2"),
                                                                   ("iqn.2009-06.dracut:target2", "enp0s1")]


def test_firmware_and_netroot_firmware_targets_first(tmp_path: Path) -> None:
    """dracut's iscsiroot.sh: handle_firmware, then each netroot=."""
    doc = as_json(tmp_path, f"ibftkit.ibft={CHAP} rd.iscsi.firmware "
                  "netroot=iscsi:192.168.50.7::::iqn.2026-11.org.example:extra")
    assert doc["source"] == "ibft+cmdline"
    assert [x["target"] for x in doc["logins"]] == ["iqn.2026-11.org.example:disk0",
                                                    "iqn.2026-11.org.example:extra"]
    assert [x["ifname"] for x in doc["logins"]] == ["eth0", "eth0"]
    assert not any(s.startswith("run_dhcp") for s in steps(doc))  # the table's network, no DHCP anywhere


def test_ip_ibft_with_netroot_keeps_the_table(tmp_path: Path) -> None:
    doc = as_json(tmp_path, f"ibftkit.ibft={CHAP} ip=ibft netroot=iscsi:192.168.50.7::::iqn.2026-11.org.example:x")
    assert doc["source"] == "ibft+cmdline" and "add_address eth0" in steps(doc)


def test_named_words_join_the_table_plan(tmp_path: Path) -> None:
    doc = as_json(tmp_path, "ip=eth1:dhcp ip=dhcp nameserver=192.0.2.53", "--ibft", str(CHAP))
    assert "run_dhcp eth1" in steps(doc) and "add_address eth0" in steps(doc)
    assert not any(s == "run_dhcp eth0" for s in steps(doc))  # the generic ip=dhcp leaves the table's NIC alone


def test_debian_words(tmp_path: Path) -> None:
    doc = as_json(tmp_path, "iscsi_initiator=iqn.2026-11.org.example:initiator01 "
                  "iscsi_target_name=iqn.2026-11.org.example:disk0 iscsi_target_ip=192.0.2.10 "
                  "iscsi_target_port=3261 iscsi_target_group=2 iscsi_username=u iscsi_password=debian-secret-1 "
                  "ip=192.0.2.20::192.0.2.1:24::eth0:none")
    (login,) = doc["logins"]
    assert (login["address"], login["port"], login["ifname"], login["tpgt"]) == ("192.0.2.10", 3261, "eth0", 2)
    assert login["argv"][login["argv"].index("-g") + 1] == "2"
    assert login["argv"][login["argv"].index("-w") + 1] == "<redacted>"
    assert "debian-secret-1" not in json.dumps(doc)


def test_iscsi_initramfs_file_when_on_its_own(tmp_path: Path) -> None:
    conf = tmp_path / "iscsi.initramfs"
    conf.write_text('ISCSI_INITIATOR=iqn.2026-11.org.example:initiator01\nISCSI_TARGET_NAME=iqn.2026-11.org.example:d\n'
                    'ISCSI_TARGET_IP="192.0.2.10 192.0.2.11"\nISCSI_TARGET_PORT=3260\n')
    doc = as_json(tmp_path, "ip=192.0.2.20::192.0.2.1:24::eth0:none", "--iscsi-initramfs", str(conf))
    assert [x["address"] for x in doc["logins"]] == ["192.0.2.10", "192.0.2.11"]
    script = tmp_path / "local-top-iscsi"
    script.write_text("#!/bin/sh\n")
    code, out, err = init(tmp_path, "ip=192.0.2.20::192.0.2.1:24::eth0:none", "--iscsi-initramfs", str(conf),
                          "--open-iscsi-script", str(script), "--json")
    assert code == 0 and json.loads(out)["logins"] == []  # inside Debian's image the file is open-iscsi's


def test_json_needs_dry_run(tmp_path: Path) -> None:
    (tmp_path / "cmdline").write_text("")
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()) as err:
        code = main(["--json", "--ibft", str(CHAP), "--cmdline", str(tmp_path / "cmdline"), "--kmsg", "none"])
    assert code == 2 and "--json: only with --dry-run" in err.getvalue()



@pytest.mark.parametrize("name", ["cmdline-dhcp-mac", "cmdline-static-mac", "cmdline-static-mtu-mac"])
def test_field_case_anaconda2834_boots(tmp_path: Path, name: str) -> None:
    """The MTU and MAC fields of ip= (rhinstaller/anaconda PR 2834, dracutdevs/dracut PR 755): exit 0."""
    line = (ROOT / "cmdline" / "anaconda2834-ip-mtu-macaddr" / f"{name}.txt").read_text().strip()
    doc = as_json(tmp_path, line)
    kinds = [s["step"] for s in doc["plan"]["steps"]]
    if name == "cmdline-dhcp-mac":
        assert "run_dhcp eth0" in steps(doc) and "add_address" not in kinds
    else:
        by = {s["step"]: s for s in doc["plan"]["steps"]}
        assert by["add_address"]["address"] == "192.0.2.20/24" and by["add_address"]["ifname"] == "eth0"
        assert (by["add_route"]["dst"], by["add_route"]["gateway"]) == ("0.0.0.0/0", "192.0.2.1")
        assert by["set_hostname"]["hostname"] == "client1"
        assert ("set_mtu" in kinds) == (name == "cmdline-static-mtu-mac")
    assert [x["ifname"] for x in doc["logins"]] == ["eth0"]


def test_firmware_demanded_but_absent_netroot_still_logs_in(tmp_path: Path) -> None:
    """dracut logs in to netroot= even when the firmware it was also asked for has no table."""
    doc = as_json(tmp_path, f"{INIT} rd.iscsi.firmware ip=192.0.2.20::192.0.2.1:24::eth0:none "
                  "netroot=iscsi:192.0.2.10::::iqn.2026-11.org.example:d")
    assert doc["source"] == "cmdline" and [x["target"] for x in doc["logins"]] == ["iqn.2026-11.org.example:d"]


def test_no_target_still_prints_the_words_plan_with_exactly_the_interface_keys(tmp_path: Path) -> None:
    """A line with network words and no target (NetworkManager's test lines): the plan of its words."""
    doc = as_json(tmp_path, "ip=eth0:dhcp:1530:00:11:22:33:44:55")
    assert set(doc) == {"version", "source", "warnings", "plan", "logins"} and doc["logins"] == []
    assert steps(doc) == ["set_mac eth0", "set_mtu eth0", "link_up eth0", "wait_carrier eth0", "run_dhcp eth0"]
    assert doc["warnings"][-1].endswith("DHCP would run on eth0")


def test_missing_named_table_is_never_silent(tmp_path: Path) -> None:
    """``ibftkit.ibft=PATH`` names a table that is not there: the next source is tried, with a warning
    that names the word and the path (the boot does not quietly run on another source)."""
    code, _, err = init(tmp_path, f"{INIT} ibftkit.ibft={tmp_path}/missing.bin")
    assert f"iBFT: ibftkit.ibft={tmp_path}/missing.bin: {tmp_path}/missing.bin: no such file; trying the next source" \
        in err
