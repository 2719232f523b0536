"""``ibftkit.sources.dhcp.lease``: option decoding (RFC 2132, RFC 3396), the Lease, its JSON and BootConfig."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibftkit.infra.errors import DhcpError, IscsiNameError, RootPathError
from ibftkit.model import NicFlags, Origin
from ibftkit.sources.dhcp import Lease
from ibftkit.sources.dhcp.lease import (
    classful_prefix,
    decode_options,
    lease_from_reply,
    mask_to_prefix,
    message_text,
)
from ibftkit.sources.dhcp.options import PARAMETER_REQUEST_LIST, Option

IP = ipaddress.IPv4Address
ROOT_PATH = "iscsi:10.99.0.1::3260:1:iqn.2026-01.test.example:target0"
IQN = "iqn.2026-01.test.example:initiator-01"
MAC = "02:1b:f7:00:00:20"


def tlv(code: int, value: bytes) -> bytes:
    return bytes([code, len(value)]) + value


def full_options(**override: bytes | None) -> dict[int, bytes]:
    opts: dict[int, bytes | None] = {
        Option.SUBNET_MASK: IP("255.255.255.0").packed,
        Option.ROUTER: IP("10.99.0.1").packed + IP("10.99.0.2").packed,
        Option.DOMAIN_NAME_SERVER: IP("10.99.0.53").packed + IP("10.99.0.54").packed,
        Option.HOST_NAME: b"client-one\x00",
        Option.DOMAIN_NAME: b"example.test",
        Option.BROADCAST_ADDRESS: IP("10.99.0.255").packed,
        Option.INTERFACE_MTU: (1400).to_bytes(2, "big"),
        Option.SERVER_ID: IP("10.99.0.1").packed,
        Option.LEASE_TIME: (3600).to_bytes(4, "big"),
        Option.ROOT_PATH: ROOT_PATH.encode(),
        Option.ISCSI_INITIATOR_IQN: IQN.encode(),
    }
    opts.update({int(Option[k.upper()]): v for k, v in override.items()})
    return {k: v for k, v in opts.items() if v is not None}


def make_lease(**override: bytes | None) -> Lease:
    return lease_from_reply(interface="c0", mac=MAC, xid=0x1234, yiaddr=IP("10.99.0.77"),
                            options=full_options(**override), source_ip=IP("10.99.0.9"))


# --- decode_options --------------------------------------------------------------------------------


def test_decode_simple_pad_and_end() -> None:
    data = b"\x00\x00" + tlv(53, b"\x05") + tlv(1, b"\xff\xff\xff\x00") + b"\xff" + tlv(3, b"\x01\x02\x03\x04")
    assert decode_options(data) == {53: b"\x05", 1: b"\xff\xff\xff\x00"}  # nothing after END


def test_decode_without_end_is_accepted() -> None:
    assert decode_options(tlv(53, b"\x02")) == {53: b"\x02"}


def test_rfc3396_repeated_option_is_concatenated() -> None:
    first, second = b"iscsi:10.0.0.1::::iqn.2026-01.x:" + b"a" * 200, b"b" * 100
    data = tlv(17, first) + tlv(53, b"\x05") + tlv(17, second) + b"\xff"
    assert decode_options(data)[17] == first + second


def test_overload_reads_file_then_sname_in_rfc3396_order() -> None:
    options = tlv(52, b"\x03") + tlv(17, b"A") + b"\xff"
    file = tlv(17, b"B") + tlv(12, b"host") + b"\xff" + b"\x00" * 10
    sname = tlv(17, b"C") + b"\xff"
    got = decode_options(options, file=file, sname=sname)
    assert got[17] == b"ABC" and got[12] == b"host"


def test_overload_file_only_ignores_sname() -> None:
    got = decode_options(tlv(52, b"\x01") + b"\xff", file=tlv(17, b"F") + b"\xff", sname=tlv(17, b"S") + b"\xff")
    assert got[17] == b"F"


def test_without_overload_file_and_sname_are_not_options() -> None:
    assert 17 not in decode_options(b"\xff", file=tlv(17, b"F"), sname=tlv(17, b"S"))


@pytest.mark.parametrize(("data", "message"), [
    (b"\x35", "option 53 at offset 0 has no length byte"),
    (tlv(53, b"\x05") + b"\x11\x10abc", "option 17 at offset 3 claims 16 bytes, only 3 left"),
])
def test_decode_truncated(data: bytes, message: str) -> None:
    with pytest.raises(DhcpError, match=message):
        decode_options(data)


def test_decode_bad_overload() -> None:
    with pytest.raises(DhcpError, match="option 52"):
        decode_options(tlv(52, b"\x07"))


@given(st.dictionaries(st.integers(1, 254).filter(lambda c: c != 52), st.binary(max_size=600), max_size=6),
       st.randoms(use_true_random=False))
def test_any_split_decodes_to_the_concatenation(values: dict[int, bytes], rnd: object) -> None:
    """Property (RFC 3396): however each value is cut into option instances and interleaved, the
    decoder gives back each value whole."""
    import random

    assert isinstance(rnd, random.Random)
    pieces: list[tuple[int, bytes]] = []
    for code, value in values.items():
        chunks, i = [], 0
        while i < len(value) or not chunks:
            n = rnd.randint(0, 255)
            chunks.append(value[i:i + n])
            i += n
        pieces += [(code, c) for c in chunks]
    # Interleave codes but keep each code's chunks in order.
    order: list[tuple[int, bytes]] = []
    queues = {code: [c for k, c in pieces if k == code] for code in values}
    while any(queues.values()):
        code = rnd.choice([k for k, q in queues.items() if q])
        order.append((code, queues[code].pop(0)))
    data = b"".join(tlv(code, chunk) for code, chunk in order) + b"\xff"
    assert decode_options(data) == values


# --- small decoders --------------------------------------------------------------------------------


@pytest.mark.parametrize(("mask", "prefix"), [("0.0.0.0", 0), ("255.0.0.0", 8), ("255.255.255.252", 30),
                                              ("255.255.255.255", 32)])
def test_mask_to_prefix(mask: str, prefix: int) -> None:
    assert mask_to_prefix(IP(mask)) == prefix


def test_mask_not_contiguous() -> None:
    with pytest.raises(DhcpError, match="255.0.255.0 is not a contiguous netmask"):
        mask_to_prefix(IP("255.0.255.0"))


@pytest.mark.parametrize(("address", "prefix"), [("10.1.2.3", 8), ("172.16.0.1", 16), ("192.168.1.2", 24)])
def test_classful_prefix(address: str, prefix: int) -> None:
    assert classful_prefix(IP(address)) == prefix


def test_message_text() -> None:
    assert message_text({56: b"wrong network\x00"}) == "wrong network"
    assert message_text({}) is None


# --- the Lease -------------------------------------------------------------------------------------


def test_lease_fields() -> None:
    lease = make_lease()
    assert lease.address == ipaddress.IPv4Interface("10.99.0.77/24")
    assert (lease.ip_address, lease.prefix_len) == (IP("10.99.0.77"), 24)  # what ibftkit.network.apply reads
    assert lease.gateway == IP("10.99.0.1")  # the first router (RFC 2132 §3.5: in order of preference)
    assert lease.dns == (IP("10.99.0.53"), IP("10.99.0.54"))
    assert lease.hostname == "client-one"  # trailing NUL dropped (RFC 2132 §2)
    assert (lease.domain, lease.mtu, lease.broadcast) == ("example.test", 1400, IP("10.99.0.255"))
    assert (lease.server_id, lease.lease_time, lease.xid) == (IP("10.99.0.1"), 3600, 0x1234)
    assert (lease.root_path, lease.initiator_name) == (ROOT_PATH, IQN)
    assert lease.warnings == ()


def test_lease_minimal_uses_class_and_source_address() -> None:
    lease = lease_from_reply(interface="c0", mac=MAC, xid=1, yiaddr=IP("172.16.5.5"), options={},
                             source_ip=IP("172.16.0.1"))
    assert lease.address == ipaddress.IPv4Interface("172.16.5.5/16")
    assert lease.server_id == IP("172.16.0.1")
    assert (lease.gateway, lease.dns, lease.root_path, lease.lease_time) == (None, (), None, None)
    assert lease.warnings == ("no subnet mask (DHCP option 1) in the lease; assumed /16 (the address class)",)


def test_root_path_is_kept_raw() -> None:
    lease = make_lease(root_path=ROOT_PATH.encode() + b"\x00")
    assert lease.root_path == ROOT_PATH + "\x00"
    assert lease.to_json_dict()["target"]["warnings"]  # the parser reports the NUL it removed


@pytest.mark.parametrize(("override", "message"), [
    ({"router": b"\x0a\x00\x00"}, "option 3 \\(router\\): 3 bytes"),
    ({"subnet_mask": b"\xff\x00\xff\x00"}, "not a contiguous netmask"),
    ({"lease_time": b"\x00\x01"}, "option 51 \\(lease time\\): 2 bytes \\(expected 4\\)"),
    ({"server_id": b"\x01"}, "option 54"),
])
def test_bad_option_values(override: dict[str, bytes], message: str) -> None:
    with pytest.raises(DhcpError, match=message):
        make_lease(**override)


def test_ack_without_address() -> None:
    with pytest.raises(DhcpError, match="offers address 0.0.0.0"):
        lease_from_reply(interface="c0", mac=MAC, xid=1, yiaddr=IP("0.0.0.0"), options={})


def test_to_json_dict_is_exactly_the_issue_shape() -> None:
    data = make_lease().to_json_dict()
    assert list(data) == ["interface", "address", "gateway", "dns", "hostname", "server_id", "lease_time",
                          "root_path", "initiator_name", "target"]
    assert data["address"] == "10.99.0.77/24" and data["dns"] == ["10.99.0.53", "10.99.0.54"]
    assert data["server_id"] == "10.99.0.1" and data["lease_time"] == 3600
    from ibftkit.sources.rootpath import parse_root_path

    assert data["target"] == parse_root_path(ROOT_PATH).to_json_dict()


def test_to_json_dict_without_root_path() -> None:
    data = make_lease(root_path=None, iscsi_initiator_iqn=None).to_json_dict()
    assert data["root_path"] is None and data["target"] is None and data["initiator_name"] is None


def test_malformed_root_path_is_a_root_path_error() -> None:
    lease = make_lease(root_path=b"nfs:10.0.0.1:/export")
    with pytest.raises(RootPathError, match="root path scheme"):
        lease.to_json_dict()
    with pytest.raises(RootPathError):
        lease.usable_root_path()


def test_usable_root_path_needs_a_server() -> None:
    with pytest.raises(DhcpError, match="names no server"):
        make_lease(root_path=b"iscsi:::::iqn.2026-01.test.example:target0").usable_root_path()
    with pytest.raises(DhcpError, match=r"has no root path \(DHCP option 17\)"):
        make_lease(root_path=None).usable_root_path()
    assert make_lease().usable_root_path().server == "10.99.0.1"


def test_to_boot_config() -> None:
    cfg = make_lease().to_boot_config()
    assert cfg.source == "dhcp:c0"
    assert cfg.initiator is not None and cfg.initiator.name == IQN
    (nic,) = cfg.nics
    assert nic.index == 0 and nic.flags == NicFlags.VALID | NicFlags.BOOT_SELECTED and nic.origin == Origin.DHCP
    assert (nic.ip_address, nic.prefix_len, nic.gateway) == (IP("10.99.0.77"), 24, IP("10.99.0.1"))
    assert (nic.primary_dns, nic.secondary_dns, nic.dhcp_server) == (IP("10.99.0.53"), IP("10.99.0.54"),
                                                                     IP("10.99.0.1"))
    assert (nic.mac, nic.hostname, nic.ifname) == (MAC, "client-one", "c0")
    (target,) = cfg.targets
    assert (target.ip_address, target.port, target.lun.linux, target.name, target.nic_index) == (
        IP("10.99.0.1"), 3260, 1, "iqn.2026-01.test.example:target0", 0)
    assert cfg.login_order() == [target]


def test_to_boot_config_initiator_override_and_case_folding() -> None:
    cfg = make_lease().to_boot_config(initiator_name="iqn.2026-01.test.example:Other")
    assert cfg.initiator is not None and cfg.initiator.name == "iqn.2026-01.test.example:other"
    assert any("case folding" in w for w in cfg.warnings)


def test_to_boot_config_without_203_warns() -> None:
    cfg = make_lease(iscsi_initiator_iqn=None).to_boot_config()
    assert cfg.initiator is not None and cfg.initiator.name is None
    assert any("no initiator name" in w for w in cfg.warnings)


def test_to_boot_config_bad_initiator_name() -> None:
    with pytest.raises(IscsiNameError):
        make_lease(iscsi_initiator_iqn=b"not an iqn").to_boot_config()


def test_to_boot_config_without_root_path() -> None:
    cfg = make_lease(root_path=None, subnet_mask=None).to_boot_config()
    assert cfg.targets == () and len(cfg.nics) == 1
    assert cfg.warnings == ("no subnet mask (DHCP option 1) in the lease; assumed /8 (the address class)",
                            "no root path (DHCP option 17) in the lease: no target")


def test_to_boot_config_round_trips_through_json() -> None:
    from ibftkit.model import BootConfig

    cfg = make_lease().to_boot_config()
    back = BootConfig.from_dict(cfg.to_dict(show_secrets=True))
    assert back.targets == cfg.targets and back.initiator == cfg.initiator
    fields = ("ip_address", "prefix_len", "origin", "gateway", "dhcp_server", "mac", "hostname")
    assert [getattr(back.nics[0], f) for f in fields] == [getattr(cfg.nics[0], f) for f in fields]


def test_request_list_has_root_path_and_initiator_name() -> None:
    assert Option.ROOT_PATH in PARAMETER_REQUEST_LIST and Option.ISCSI_INITIATOR_IQN in PARAMETER_REQUEST_LIST


@pytest.mark.allow_subprocess
def test_importing_the_dhcp_api_does_not_import_scapy() -> None:
    code = ("import sys, ibftkit.sources.dhcp, ibftkit.sources.dhcp.client, ibftkit.cli.dhcp, ibftkit.cli.main;"
            "ibftkit.cli.main.build_parser();"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scapy'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.stdout.strip() == "[]"
