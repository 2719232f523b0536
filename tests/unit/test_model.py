"""The boot model: value types, enums, redaction and the JSON form."""

from __future__ import annotations

import ipaddress
import json

import pytest

from ibftkit.infra.errors import ModelError
from ibftkit.model import (
    BootConfig,
    Lun,
    Nic,
    NicFlags,
    Origin,
    PciAddress,
    Secret,
    Target,
    ip_from_packed16,
    ip_to_packed16,
    normalize_mac,
    parse_ip,
)


@pytest.mark.parametrize(("raw", "linux", "text", "sysfs"), [
    (bytes(8), 0, "0", "00000000"),
    (b"\x00\x01" + bytes(6), 1, "1", "01000000"),
    (b"\x00\x40" + bytes(6), 64, "40", "040000000"),
    (b"\x01\x00" + bytes(6), 256, "100", "10000000"),  # u-root's little-endian LUN 1
    (bytes.fromhex("47523a4f6b7e2f99"), 0x2F996B7E3A4F4752, "4752-3a4f-6b7e-2f99", "47523a4f6b7e2f99"),
    (bytes.fromhex("0001000700000000"), 1 | 7 << 16, "1-7", "01070000"),
])
def test_lun_views(raw: bytes, linux: int, text: str, sysfs: str) -> None:
    lun = Lun(raw)
    assert (lun.linux, lun.text, lun.sysfs) == (linux, text, sysfs)
    assert Lun.from_linux(linux) == lun
    assert lun.hex == raw.hex()


def test_lun_rejects_wrong_sizes() -> None:
    with pytest.raises(ValueError):
        Lun(b"\x00")
    with pytest.raises(ValueError):
        Lun.from_levels([1, 2, 3, 4, 5])
    with pytest.raises(ValueError):
        Lun.from_linux(-1)


def test_secret_never_shows() -> None:
    s = Secret("hunter2")
    t = Target(chap_name="u", chap_secret=s)
    for text in (repr(s), str(s), repr(t), str(t), f"{s}", repr(BootConfig(targets=(t,)))):
        assert "hunter2" not in text
    assert s.reveal() == "hunter2"
    assert s == Secret("hunter2") and s != Secret("other")


def test_origin_accepts_15_and_unknown() -> None:
    assert Origin(15) is Origin.UNCHANGED and int(Origin(15)) == 16
    odd = Origin(7)
    assert int(odd) == 7 and not odd.known and odd.name == "UNKNOWN_7"
    assert Origin.DHCP.known


def test_addresses() -> None:
    assert ip_from_packed16(bytes(16)) is None
    assert ip_from_packed16(bytes(10) + b"\xff\xff" + bytes(4)) == ipaddress.IPv4Address("0.0.0.0")
    v4 = ipaddress.IPv4Address("10.0.2.15")
    assert ip_from_packed16(ip_to_packed16(v4)) == v4
    assert parse_ip("::ffff:10.0.2.15") == v4  # IPv4-mapped shown as IPv4
    assert parse_ip("[2001:db8::1]") == ipaddress.IPv6Address("2001:db8::1")
    assert parse_ip("") is None


def test_pci_and_mac() -> None:
    p = PciAddress.from_int(0x0018)
    assert str(p) == "00:03.0" and p.to_int() == 0x18
    assert PciAddress.parse("0000:00:03.0") == p
    with pytest.raises(ValueError):
        PciAddress.parse("0001:00:03.0")
    assert normalize_mac("52-54-00-12-34-AB") == "52:54:00:12:34:ab"
    with pytest.raises(ValueError):
        normalize_mac("52:54:00")


def test_nic_views() -> None:
    n = Nic(ip_address=ipaddress.IPv4Address("10.0.0.5"), prefix_len=24, vlan=0x2064,
            flags=NicFlags.VALID)
    assert str(n.interface) == "10.0.0.5/24"
    assert n.vlan_id == 100 and n.valid and not n.boot_selected


def test_json_redacts_unless_asked() -> None:
    cfg = BootConfig(targets=(Target(chap_name="u", chap_secret=Secret("s3cret")),))
    assert "s3cret" not in json.dumps(cfg.to_dict())
    assert cfg.to_dict(show_secrets=True)["targets"][0]["chap_secret"] == "s3cret"
    with pytest.raises(ModelError, match="redacted"):
        BootConfig.from_dict(cfg.to_dict())


@pytest.mark.parametrize(("patch", "message"), [
    ({"nics": [{"ip_address": "not-an-ip"}]}, r"nics\[0\]\.ip_address: 'not-an-ip' is not an IP address"),
    ({"nics": [{"vlan": 70000}]}, r"nics\[0\]\.vlan: 70000 out of range"),
    ({"targets": [{"lun_bytes": "00"}]}, r"targets\[0\]\.lun_bytes"),
    ({"targets": [{"port": "x"}]}, r"targets\[0\]\.port: expected an integer"),
    ({"nics": [{"mac": "zz"}]}, r"nics\[0\]: MAC address"),
])
def test_from_dict_names_the_key(patch: dict[str, object], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        BootConfig.from_dict(patch)


def test_login_order_boot_selected_first() -> None:
    from ibftkit.model import TargetFlags
    a = Target(index=0, flags=TargetFlags.VALID, ip_address=ipaddress.IPv4Address("10.0.0.1"))
    b = Target(index=1, flags=TargetFlags.VALID | TargetFlags.BOOT_SELECTED,
               ip_address=ipaddress.IPv4Address("10.0.0.2"))
    c = Target(index=2, flags=TargetFlags(0), ip_address=ipaddress.IPv4Address("10.0.0.3"))
    assert [t.index for t in BootConfig(targets=(a, b, c)).login_order()] == [1, 0]
