"""RFC 4173 root paths: the hand-written vectors in fixtures/rootpath/cases.json, properties, models."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ibftkit.infra.errors import IscsiNameError, RootPathError
from ibftkit.model import BootConfig, ChapType, Lun, Nic, Secret, TargetFlags
from ibftkit.sources.rootpath import RootPath, config_from_root_path, format_root_path, parse_lun, parse_root_path

CASES_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "rootpath" / "cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]
VALID = [c for c in CASES if "expect" in c]
INVALID = [c for c in CASES if "error" in c]
FIELDS = {"scheme", "server", "protocol", "port", "lun", "target", "credentials", "interface"}
IQN = "iqn.2009-06.com.example:target0"


def test_vector_count() -> None:
    assert len(VALID) >= 30 and len(INVALID) >= 30 and len(CASES) >= 60


@pytest.mark.parametrize("case", VALID, ids=[c["id"] for c in VALID])
def test_valid_vector(case: dict[str, Any]) -> None:
    rp = parse_root_path(case["input"], dialect=case["dialect"])
    got = rp.to_json_dict()
    expect = dict(case["expect"])
    fragments = expect.pop("warnings")
    warnings = got.pop("warnings")
    assert got == expect
    assert len(warnings) == len(fragments), warnings
    for fragment, warning in zip(fragments, warnings, strict=True):
        assert fragment in warning
    for attr, value in case.get("dracut", {}).items():
        assert getattr(rp, attr) == value, attr


@pytest.mark.parametrize("case", INVALID, ids=[c["id"] for c in INVALID])
def test_invalid_vector(case: dict[str, Any]) -> None:
    with pytest.raises(RootPathError) as info:
        parse_root_path(case["input"], dialect=case["dialect"])
    err = info.value
    assert err.field == case["error"]
    message = str(err)
    assert message.startswith(f"root path {case['error']}: ")
    assert case["message_contains"] in message
    assert "\n" not in message and len(message) < 400


@pytest.mark.parametrize("case", VALID, ids=[c["id"] for c in VALID])
def test_valid_vector_round_trips(case: dict[str, Any]) -> None:
    rp = parse_root_path(case["input"], dialect=case["dialect"])
    text = format_root_path(rp)
    again = parse_root_path(text, dialect=case["dialect"])
    assert dataclasses.replace(again, warnings=()) == dataclasses.replace(rp, warnings=())
    assert format_root_path(again) == text


# --- details the vectors do not show -------------------------------------------------------------


def test_lun_bytes_are_big_endian_levels() -> None:
    rp = parse_root_path(f"iscsi:10.0.0.1:::4752-3A4F-6b7e-2F99:{IQN}")
    assert rp.lun.raw == bytes.fromhex("47523a4f6b7e2f99")
    assert parse_lun("1-7").raw == bytes.fromhex("0001000700000000")
    assert parse_lun("").raw == bytes(8)


@pytest.mark.parametrize(("text", "by_path"), [("0", "lun-0"), ("ff", "lun-255"), ("100", "lun-0x0100000000000000"),
                                               ("1-7", "lun-0x0001000700000000"),
                                               ("1-2-3", "lun-0x0001000200000000")])
def test_by_path_lun_matches_udev(text: str, by_path: str) -> None:
    rp = parse_root_path(f"iscsi:10.0.0.1:::{text}:{IQN}")
    assert rp.by_path_lun == by_path


def test_format_is_canonical() -> None:
    rp = parse_root_path(f"ISCSI:[2001:DB8:0::1]:06:03260:00A-0:{IQN}")
    assert format_root_path(rp) == f"iscsi:[2001:db8::1]:::a:{IQN}"
    assert format_root_path(parse_root_path(f"iscsi:h.example:6:3261:0:{IQN}")) == f"iscsi:h.example::3261::{IQN}"


def test_format_dracut_fields_and_redaction() -> None:
    text = f"iscsi:alice:correct-horse-1:tgt:staple-battery-2@10.0.0.1:::if0:eth0:1:{IQN}"
    rp = parse_root_path(text, dialect="dracut")
    assert format_root_path(rp) == text
    assert rp.chap_type is ChapType.MUTUAL
    redacted = format_root_path(rp, redact=True)
    assert "correct-horse-1" not in redacted and "staple-battery-2" not in redacted
    assert redacted.count("<redacted>") == 2


def test_secrets_never_leak() -> None:
    secret = "correct-horse-battery"
    rp = parse_root_path(f"iscsi:alice:{secret}@10.0.0.1::::{IQN}", dialect="dracut")
    assert isinstance(rp.password, Secret) and rp.password.reveal() == secret
    assert secret not in repr(rp)
    assert secret not in json.dumps(rp.to_json_dict())
    assert all(secret not in w for w in rp.warnings)


@pytest.mark.parametrize("text", [
    "iscsi:alice:correct-horse@10.0.0.1::::",         # target error after credentials
    "iscsi:alice:correct-horse@[10.0.0.1::::" + IQN,  # server error after credentials
    "iscsi:alice:correct-horse:bob@10.0.0.1::::" + IQN,
    "alice:correct-horse@10.0.0.1::::" + IQN,         # no scheme
    "iscsi:[alice:correct-horse]x@10.0.0.1::::" + IQN,
])
@pytest.mark.parametrize("dialect", ["rfc4173", "dracut"])
def test_errors_never_show_the_password(text: str, dialect: str) -> None:
    try:
        rp = parse_root_path(text, dialect=dialect)
    except RootPathError as e:
        assert "correct-horse" not in str(e)
    else:  # dracut: the user is '[alice', the password 'correct-horse]x'
        assert dialect == "dracut" and rp.password == Secret("correct-horse]x")


def test_whitespace_policy_is_consistent() -> None:
    """Around the text: removed with a warning. Inside a field: an error naming the field."""
    base = f"iscsi:10.0.0.1::::{IQN}"
    for padded in (f" {base}", f"{base} ", f"\t{base}\r\n", f"{base}\x00\x00"):
        rp = parse_root_path(padded)
        assert rp.target == IQN and rp.warnings
    for inner, field in ((f"iscsi: 10.0.0.1::::{IQN}", "server"), (f"iscsi:10.0.0.1:: 3260::{IQN}", "port"),
                         (f"iscsi:10.0.0.1:::1 :{IQN}", "lun"), (f"iscsi:10.0.0.1::::{IQN} x", "target")):
        with pytest.raises(RootPathError) as info:
            parse_root_path(inner)
        assert info.value.field == field


def test_unknown_dialect_and_non_text() -> None:
    with pytest.raises(RootPathError):
        parse_root_path(f"iscsi:10.0.0.1::::{IQN}", dialect="ipxe")
    with pytest.raises(RootPathError):
        parse_root_path(b"iscsi:10.0.0.1::::" + IQN.encode())  # type: ignore[arg-type]


def test_root_path_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_root_path("nfs:x")


# --- properties ----------------------------------------------------------------------------------

_ALPHABET = list("iscI:[]@.-_0123456789abcdefxqnAF% \t\x00\u00e9\u05d0\ud800\uff21") + [
    "iqn.2001-04.com.example", "iscsi:", "::", "ffff", "eui.", "naa.", ":6:", "3260", "[::1]", "@"]
_fuzz_text = st.one_of(
    st.text(),
    st.lists(st.sampled_from(_ALPHABET)).map("".join),
    st.lists(st.sampled_from(_ALPHABET)).map(lambda parts: "iscsi:" + "".join(parts)),
)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(text=_fuzz_text, dialect=st.sampled_from(["rfc4173", "dracut"]))
@example(text="iscsi:", dialect="dracut")
@example(text="iscsi:" + "9" * 5000, dialect="rfc4173")
@example(text="iscsi:10.0.0.1::" + "9" * 5000 + "::" + IQN, dialect="rfc4173")
@example(text="iscsi:[" + ":" * 3000, dialect="rfc4173")
@example(text="iscsi:" + "@" * 200, dialect="dracut")
def test_fuzz_only_root_path_errors(text: str, dialect: str) -> None:
    """Arbitrary text: a RootPath, or RootPathError with a known field, one line. Nothing else."""
    try:
        rp = parse_root_path(text, dialect=dialect)
    except RootPathError as e:
        assert e.field in FIELDS
        assert "\n" not in str(e)
        return
    again = parse_root_path(format_root_path(rp), dialect=dialect)
    assert dataclasses.replace(again, warnings=()) == dataclasses.replace(rp, warnings=())


_hex = st.integers(0, 0xFFFF)
_label = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
_server = st.one_of(
    st.just(""),
    st.ip_addresses(v=4).filter(lambda a: not (a.is_unspecified or a.is_multicast or int(a) == 0xFFFFFFFF))
    .map(str),
    st.ip_addresses(v=6).filter(lambda a: not (a.is_unspecified or a.is_multicast or a.ipv4_mapped))
    .map(lambda a: f"[{a}]"),
    st.lists(_label, min_size=1, max_size=4).map(".".join),
)
_target = st.one_of(
    st.builds(lambda y, m, auth, rest: f"iqn.{y:04d}-{m:02d}.{auth}{rest}",
              st.integers(1985, 2099), st.integers(1, 12), st.lists(_label, min_size=1, max_size=3).map(".".join),
              st.one_of(st.just(""), st.from_regex(r":[a-z0-9.:-]{1,40}", fullmatch=True))),
    st.from_regex(r"eui\.[0-9a-f]{16}", fullmatch=True),
    st.from_regex(r"naa\.([0-9a-f]{16}|[0-9a-f]{32})", fullmatch=True),
)
_secret = st.from_regex(r"[A-Za-z0-9@!#$%^&*()_+=.,/-]{1,30}", fullmatch=True)


@st.composite
def _canonical_text(draw: st.DrawFn) -> tuple[str, str]:
    """Canonical root paths (what format_root_path writes), in both dialects."""
    levels = draw(st.lists(_hex, max_size=4))
    lun = Lun.from_levels(levels)
    lun_text = "" if lun.linux == 0 else lun.text
    port = draw(st.one_of(st.just(3260), st.integers(1, 65535)))
    dialect = draw(st.sampled_from(["rfc4173", "dracut"]))
    creds = iface = ""
    if dialect == "dracut":
        users = draw(st.lists(st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True), min_size=0, max_size=2))
        if users:
            secrets = draw(st.lists(_secret, min_size=len(users), max_size=len(users)))
            creds = ":".join(x for pair in zip(users, secrets, strict=True) for x in pair) + "@"
        if draw(st.booleans()):
            iface = (draw(st.one_of(st.just(""), st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True))) + ":"
                     + draw(st.from_regex(r"[a-z][a-z0-9.]{0,8}", fullmatch=True)) + ":")
    text = (f"iscsi:{creds}{draw(_server)}::{'' if port == 3260 else port}:{iface}{lun_text}:"
            f"{draw(_target)}")
    return text, dialect


@settings(max_examples=800)
@given(_canonical_text())
def test_parse_format_parse_is_identity(case: tuple[str, str]) -> None:
    """``parse(format(x)) == x`` (warnings included) and canonical text formats to itself."""
    text, dialect = case
    x = parse_root_path(text, dialect=dialect)
    assert format_root_path(x) == text
    assert parse_root_path(format_root_path(x), dialect=dialect) == x


@given(st.lists(_hex, min_size=1, max_size=4))
def test_lun_text_levels_and_linux_agree(levels: list[int]) -> None:
    raw = "-".join(f"{x:X}" for x in levels)
    lun = parse_lun(raw)
    assert lun.linux == sum(x << (16 * i) for i, x in enumerate(levels))
    assert parse_lun(lun.text) == lun == Lun.from_linux(lun.linux)


# --- into the model ------------------------------------------------------------------------------


def test_config_from_root_path_ipv4() -> None:
    rp = parse_root_path(f"iscsi:192.0.2.10::3261:1-7:{IQN}")
    cfg = config_from_root_path(rp, initiator_name="IQN.2001-04.com.example:Host")
    assert isinstance(cfg, BootConfig) and cfg.source == "root-path" and cfg.header is None
    assert cfg.initiator is not None and cfg.initiator.name == "iqn.2001-04.com.example:host"
    (t,) = cfg.targets
    assert t.index == 0 and t.flags == TargetFlags.VALID | TargetFlags.BOOT_SELECTED
    assert t.ip_address == ipaddress.IPv4Address("192.0.2.10") and t.server_name is None
    assert (t.port, t.lun.linux, t.name, t.nic_index) == (3261, 0x70001, IQN, 0)
    assert t.chap_type is ChapType.NONE and t.chap_secret is None
    assert cfg.nics == ()
    assert any("normalised" in w for w in cfg.warnings)
    assert cfg.login_order() == [t]


def test_config_from_root_path_dns_chap_and_nic() -> None:
    rp = parse_root_path(f"iscsi:alice:correct-horse-1@san.example::::{IQN}", dialect="dracut")
    nic = Nic(index=1, mac="52:54:00:12:34:56", ifname="eth0")
    cfg = config_from_root_path(rp, initiator_name="iqn.2001-04.com.example:host", nic=nic, source="dhcp")
    (t,) = cfg.targets
    assert t.ip_address is None and t.server_name == "san.example" and t.address == "san.example"
    assert t.chap_type is ChapType.CHAP and t.chap_name == "alice"
    assert t.chap_secret == Secret("correct-horse-1") and t.reverse_chap_secret is None
    assert t.nic_index == 1 and cfg.nics == (nic,) and cfg.source == "dhcp"
    assert cfg.secrets() == ["correct-horse-1"]
    assert list(cfg.warnings[:len(rp.warnings)]) == list(rp.warnings)


def test_config_from_root_path_mutual_ipv6_mapped() -> None:
    rp = parse_root_path(f"iscsi:a:correct-horse-1:b:staple-battery-2@[::ffff:192.0.2.1]::::{IQN}",
                         dialect="dracut")
    (t,) = config_from_root_path(rp, initiator_name="iqn.2001-04.com.example:h").targets
    assert t.ip_address == ipaddress.IPv4Address("192.0.2.1")
    assert t.chap_type is ChapType.MUTUAL and t.reverse_chap_name == "b"
    assert t.reverse_chap_secret == Secret("staple-battery-2")


def test_config_without_initiator_warns_and_bad_initiator_raises() -> None:
    rp = parse_root_path(f"iscsi:[2001:db8::5]::::{IQN}")
    cfg = config_from_root_path(rp)
    assert cfg.initiator is not None and cfg.initiator.name is None
    assert any("initiator name" in w for w in cfg.warnings)
    assert cfg.targets[0].ip_address == ipaddress.IPv6Address("2001:db8::5")
    with pytest.raises(IscsiNameError):
        config_from_root_path(rp, initiator_name="not a name")


def test_config_model_json_round_trip() -> None:
    rp = parse_root_path(f"iscsi:alice:correct-horse-1@san.example:::40:{IQN}", dialect="dracut")
    cfg = config_from_root_path(rp, initiator_name="iqn.2001-04.com.example:host",
                                nic=Nic(index=0, mac="52:54:00:12:34:56"))
    again = BootConfig.from_dict(cfg.to_dict(show_secrets=True))
    assert again.targets == cfg.targets and again.initiator == cfg.initiator


def _renderable_config() -> BootConfig:
    rp = parse_root_path(f"iscsi:alice:correct-horse-1@192.0.2.10::3261:1-7:{IQN}", dialect="dracut")
    nic = Nic(index=0, mac="52:54:00:12:34:56", ip_address=ipaddress.IPv4Address("192.0.2.20"), prefix_len=24,
              gateway=ipaddress.IPv4Address("192.0.2.1"))
    return config_from_root_path(rp, initiator_name="iqn.2001-04.com.example:host", nic=nic)


@pytest.mark.parametrize("fmt", ["text", "json", "iscsistart"])
def test_decode_style_renders_work_on_root_path_config(fmt: str) -> None:
    render_module = pytest.importorskip("ibftkit.render")
    cfg = _renderable_config()
    out = render_module.render(cfg, fmt)
    assert IQN in out and "192.0.2.10" in out
    assert "correct-horse-1" not in out
    shown = render_module.render(cfg, fmt, show_secrets=True)
    assert "correct-horse-1" in shown
    if fmt == "json":
        data = json.loads(out)
        (t,) = data["targets"]
        assert (t["port"], t["lun"], t["name"], t["chap_name"]) == (3261, 0x70001, IQN, "alice")
        assert data["initiator"]["name"] == "iqn.2001-04.com.example:host"
    if fmt == "iscsistart":
        assert "node.conn[0].port = 3261" in out
        assert "iface.initiatorname = iqn.2001-04.com.example:host" in out
        assert "node.session.auth.username = alice" in out


def test_root_path_is_frozen_and_json_keys_are_exact() -> None:
    rp = parse_root_path(f"iscsi:10.0.0.1::::{IQN}")
    assert isinstance(rp, RootPath)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rp.port = 1  # type: ignore[misc]
    assert list(rp.to_json_dict()) == ["server", "server_kind", "protocol", "port", "lun", "lun_text", "target",
                                       "needs_discovery", "warnings"]


def test_dracut_ambiguous_reading_is_reported() -> None:
    text = "iscsi:10.0.0.1:::1:iqn.2000-01.ab:2:iqn.2000-01.com.example:y"
    rp = parse_root_path(text, dialect="dracut")
    assert (rp.iface, rp.netdev, rp.lun.linux, rp.target) == ("1", "iqn.2000-01.ab", 2, "iqn.2000-01.com.example:y")
    assert any("ambiguous" in w for w in rp.warnings)
    strict = parse_root_path(text)
    assert (strict.iface, strict.lun.linux, strict.target) == (None, 1, "iqn.2000-01.ab:2:iqn.2000-01.com.example:y")


def test_same_secret_both_directions_is_flagged() -> None:
    rp = parse_root_path(f"iscsi:a:correct-horse-1:b:correct-horse-1@10.0.0.1::::{IQN}", dialect="dracut")
    assert any("both directions" in w for w in rp.warnings)
