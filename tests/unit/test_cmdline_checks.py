"""A kernel command line that boots but is not what its user meant: one warning per word, never an
exit (docs/cmdline.md, "Words ibftkit warns about"; ``ibftkit.sources.cmdline_checks``)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from ibftkit.cli import init as init_cli
from ibftkit.infra.errors import UsageError
from ibftkit.sources.cmdline import IBFTKIT_KEYS, parse_cmdline

LINKS = Path(__file__).resolve().parents[2] / "fixtures" / "cmdline" / "links" / "two-nics.json"
M0, M1 = "52:54:00:12:34:00", "52:54:00:12:34:01"  # eth0 and eth1 of two-nics.json


def dry_run(tmp_path: Path, line: str) -> tuple[int, str, str]:
    (tmp_path / "fw").mkdir(exist_ok=True)
    (tmp_path / "cmdline").write_text(line + "\n")
    none = str(tmp_path / "none")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = init_cli.main(["--dry-run", "--firmware-root", str(tmp_path / "fw"), "--cmdline",
                              str(tmp_path / "cmdline"), "--kmsg", "none", "--initiatorname-file", none,
                              "--links", str(LINKS), "--iscsi-initramfs", none, "--open-iscsi-script", none])
    return code, out.getvalue(), err.getvalue()


# (word, the key named, the close keys the warning offers)
UNKNOWN_KEYS = [
    ("ibftkit.dhcp-timout=5", "ibftkit.dhcp-timout=5", ["ibftkit.dhcp-timeout"]),
    ("ibftkit.carier-timeout=3", "ibftkit.carier-timeout=3", ["ibftkit.carrier-timeout"]),
    ("ibftkit.backnd=iscsiadm", "ibftkit.backnd=iscsiadm", ["ibftkit.backend"]),
    ("ibftkit.stric", "ibftkit.stric", ["ibftkit.strict"]),
    ("ibftkit.login-retry=2", "ibftkit.login-retry=2", ["ibftkit.login-retries"]),
    ("ibftkit.initator=iqn.2026-11.org.example:i", "ibftkit.initator=", ["ibftkit.initiator"]),
    ("rd.iscsi.initator=iqn.2026-11.org.example:i", "rd.iscsi.initator=", ["rd.iscsi.initiator"]),
    ("rd.iscsi.firmwre=1", "rd.iscsi.firmwre=1", ["rd.iscsi.firmware"]),
    ("rd.iscsi.pasword=x", "rd.iscsi.pasword=x", ["rd.iscsi.password"]),
    ("rd.iscsi.params=a.b=c", "rd.iscsi.params=a.b=c", ["rd.iscsi.param"]),
]


@pytest.mark.parametrize(("word", "named", "close"), UNKNOWN_KEYS, ids=[w[0] for w in UNKNOWN_KEYS])
def test_an_unknown_key_is_one_warning_naming_it_and_the_close_ones(word: str, named: str, close: list[str]) -> None:
    cl = parse_cmdline(f"quiet {word} ro")
    assert len(cl.warnings) == 1
    w = cl.warnings[0]
    assert w.startswith(f"kernel command line {named}") and "ignored" in w and "did you mean" in w
    assert all(c in w for c in close)


@pytest.mark.parametrize("word", ["ibftkit.zzz=1", "rd.iscsi.qqqqqqqq"])
def test_an_unknown_key_far_from_any_says_where_the_list_is(word: str) -> None:
    (w,) = parse_cmdline(word).warnings
    assert "did you mean" not in w and "docs/" in w


@pytest.mark.parametrize("key", IBFTKIT_KEYS)
def test_every_known_ibftkit_key_is_not_called_unknown(key: str) -> None:
    value = {"ibftkit.source": "ibft", "ibftkit.backend": "iscsiadm", "ibftkit.param": "a.b=c"}.get(key, "1")
    assert not [w for w in parse_cmdline(f"{key}={value}").warnings if "not an ibftkit key" in w]


@pytest.mark.parametrize("line", ["rd.iscsi.mp", "rd.iscsi.firmware=1 rd.iscsi.ibft rd.iscsi.waitnet=0",
                                  "rd.iscsi.login_retry_max=2 rd.iscsi.target.group=1 rd.iscsi.param=a.b=c",
                                  "rd.iscsi.initiator=iqn.2026-11.org.example:i rd.iscsi.username=u"])
def test_dracut_iscsi_keys_are_known(line: str) -> None:
    assert not [w for w in parse_cmdline(line).warnings if "not a dracut iSCSI key" in w]


@pytest.mark.parametrize(("word", "why"), [
    ("ibftkit.strict=flase", "read as on"), ("ibftkit.quiet=nope", "read as on"), ("ibftkit.debug=2", "read as on"),
    ("ibftkit.ibft", "expected a value"), ("ibftkit.interface=", "expected a value"),
    ("ibftkit.initiator", "expected a value"), ("ibftkit.param=", "expected a value"),
    ("ibftkit.dhcp-timeout", "expected a value"),
])
def test_a_known_key_with_a_value_it_cannot_take_warns(word: str, why: str) -> None:
    (w,) = parse_cmdline(word).warnings
    assert w.startswith(f"kernel command line {word}") and why in w


@pytest.mark.parametrize("word", ["ibftkit.strict", "ibftkit.strict=1", "ibftkit.strict=off", "ibftkit.verbose=Yes",
                                  "ibftkit.dhcp-rerun=false"])
def test_a_flag_in_a_known_form_is_quiet(word: str) -> None:
    assert parse_cmdline(word).warnings == ()


@pytest.mark.parametrize(("word", "hint"), [("ibftkit.source=ibtf", "did you mean ibft?"),
                                            ("ibftkit.source=ibft,dchp", "did you mean dhcp?"),
                                            ("ibftkit.source=floppy", "expected a list of ibft, dhcp, cmdline")])
def test_a_bad_source_value_stays_a_usage_error_with_the_close_one(word: str, hint: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_cmdline(word)
    assert hint in str(e.value)


def test_unknown_keys_never_stop_ibftkit_init(tmp_path: Path) -> None:
    line = ("ibftkit.dhcp-timout=5 rd.iscsi.initator=iqn.2026-11.org.example:x ibftkit.strict=maybe "
            "rd.iscsi.initiator=iqn.2026-11.org.example:i netroot=iscsi:192.0.2.10::::iqn.2026-11.org.example:d "
            "ip=eth0:dhcp")
    code, out, err = dry_run(tmp_path, line)
    assert code == 0, err
    shown = err + out
    assert "ibftkit.dhcp-timout=5: not an ibftkit key, ignored (did you mean ibftkit.dhcp-timeout" in shown
    assert "rd.iscsi.initator=iqn.2026-11.org.example:x: not a dracut iSCSI key" in shown
    assert "ibftkit.strict=maybe: expected" in shown


# (line, fragment of the one warning, the ifname= words kept)
IFNAMES = [
    (f"ifname=a:{M0} ifname=b:{M0}", f"MAC {M0} is named a by an earlier ifname=", [("b", M0)]),
    (f"ifname=a:{M0} ifname=b:{M0.upper()}", f"MAC {M0} is named a by an earlier ifname=", [("b", M0)]),
    (f"ifname=a:{M0} ifname=a:{M1}", f"ifname=a:{M1}: the name a is given to MAC {M0} already", [("a", M0)]),
    (f"ifname=x:{M0} ifname=y:{M1} ifname=x:{M1}", "the name x is given to MAC", [("x", M0), ("y", M1)]),
]


@pytest.mark.parametrize(("line", "why", "kept"), IFNAMES, ids=[c[0] for c in IFNAMES])
def test_ifname_naming_twice_warns_as_dracut_and_keeps_what_udev_would(line: str, why: str,
                                                                        kept: list[tuple[str, str]]) -> None:
    cl = parse_cmdline(line)
    assert len(cl.warnings) == 1 and why in cl.warnings[0]
    assert [(w.name, w.mac) for w in cl.ifnames] == kept


@pytest.mark.parametrize("line", [f"ifname=a:{M0} ifname=a:{M0}", f"ifname=a:{M0} ifname=a:{M0.upper()}",
                                  f"ifname=a:{M0} ifname=b:{M1}"])
def test_a_repeated_or_distinct_ifname_is_quiet(line: str) -> None:
    cl = parse_cmdline(line)
    assert cl.warnings == () and len(cl.ifnames) == len({(w.name, w.mac) for w in cl.ifnames})


Members = tuple[str, tuple[str, ...]]

# (line, fragment of each warning, bonds kept as (name, slaves), bridges kept as (name, ports))
MEMBERS = [
    ("bond=bond0:eth0,eth0", ["slave eth0 is listed twice in bond=bond0"], [("bond0", ("eth0",))], []),
    ("bond=bond0:eth0,eth1,eth0,eth1", ["slave eth0 is listed twice", "slave eth1 is listed twice"],
     [("bond0", ("eth0", "eth1"))], []),
    ("bond=bond0:eth0,eth1 bond=bond1:eth1,eth2", ["slave eth1 is a slave or port of bond=bond0 already"],
     [("bond0", ("eth0", "eth1")), ("bond1", ("eth2",))], []),
    ("bond=bond0:eth0 bond=bond0:eth1", ["bond=bond0: given twice; the last"], [("bond0", ("eth1",))], []),
    ("bridge=br0:eth0,eth0", ["port eth0 is listed twice in bridge=br0"], [], [("br0", ("eth0",))]),
    ("bond=bond0:eth0,eth1 bridge=br0:eth1", ["port eth1 is a slave or port of bond=bond0 already"],
     [("bond0", ("eth0", "eth1"))], [("br0", ())]),
    ("bridge=br0:eth0 bridge=br0:eth1", ["bridge=br0: given twice"], [], [("br0", ("eth1",))]),
]


@pytest.mark.parametrize(("line", "whys", "bonds", "bridges"), MEMBERS, ids=[c[0] for c in MEMBERS])
def test_a_link_enslaved_twice_warns_and_is_kept_once(line: str, whys: list[str], bonds: list[Members],
                                                      bridges: list[Members]) -> None:
    cl = parse_cmdline(line)
    assert len(cl.warnings) == len(whys)
    for warning, why in zip(cl.warnings, whys, strict=True):
        assert warning.startswith("kernel command line ") and why in warning
    assert [(b.name, b.slaves) for b in cl.bonds] == bonds
    assert [(b.name, b.ports) for b in cl.bridges] == bridges


@pytest.mark.parametrize("line", ["bond", "bond=bond0:eth0,eth1 bridge=br0:bond0", "bridge",
                                  "bond=bond0:eth0 bond=bond1:eth1 bridge=br0:bond0,bond1"])
def test_distinct_members_are_quiet(line: str) -> None:
    assert parse_cmdline(line).warnings == ()


@pytest.mark.parametrize(("line", "plan"), [
    (f"ifname=a:{M0} ifname=b:{M0} ip=b:dhcp", "rename link eth0 to b"),
    (f"ifname=a:{M0} ifname=a:{M1} ip=a:dhcp", "rename link eth0 to a"),
    ("bond=bond0:eth0,eth0 ip=bond0:dhcp", "create bond bond0 (mode balance-rr) over eth0\n"),
])
def test_ibftkit_init_warns_and_plans_instead_of_failing(tmp_path: Path, line: str, plan: str) -> None:
    target = ("rd.iscsi.initiator=iqn.2026-11.org.example:i "
              "netroot=iscsi:192.0.2.10::::iqn.2026-11.org.example:d")
    code, out, err = dry_run(tmp_path, f"{line} {target}")
    assert code == 0, err
    assert plan in out and "warning: kernel command line" in err + out


@pytest.mark.parametrize("name", ["eth0", "eth1", "eth12", "eth1234"])
def test_ifname_with_a_kernel_name_warns_as_dracut(name: str) -> None:
    (w,) = parse_cmdline(f"ifname={name}:{M1}").warnings
    assert w.startswith(f"kernel command line ifname={name}:{M1}: {name} is a name the kernel gives")
    assert parse_cmdline(f"ifname={name}:{M1}").ifnames[0].name == name  # still honoured


@pytest.mark.parametrize("name", ["bootnet", "eth", "ethx", "eth12345", "net0", "ibft0"])
def test_ifname_with_a_name_of_ones_own_is_quiet(name: str) -> None:
    assert parse_cmdline(f"ifname={name}:{M1}").warnings == ()


@pytest.mark.parametrize(("word", "hint"), [("ibftkit.backend=iscsiadmin", "(did you mean iscsiadm"),
                                            ("ibftkit.backend=iscsistar", "(did you mean iscsistart"),
                                            ("ibftkit.backend=open-iscsi", "expected iscsistart or iscsiadm")])
def test_a_bad_backend_stays_a_usage_error_with_the_close_one(word: str, hint: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_cmdline(word)
    assert hint in str(e.value)
