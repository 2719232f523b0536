"""``ibftkit.network.netlink``: the requests are byte for byte those pyroute2's ``IPRoute`` sends, the
kernel's answers decode as ``IPRoute`` gives them, and the boot path never imports asyncio.

Inputs: ``fixtures/netlink/requests.json`` and ``answers.json``, recorded from pyroute2 0.9.7's
``IPRoute`` and a Linux kernel in a namespace of their own by ``tools/netlink-record``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from ibftkit.infra.errors import errno_text
from ibftkit.network import netlink

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "netlink"
REQUESTS = json.loads((FIXTURES / "requests.json").read_text())["requests"]
ANSWERS = {k: [bytes.fromhex(g) for g in v]
           for k, v in json.loads((FIXTURES / "answers.json").read_text())["answers"].items()}


def _build(obj: str, command: str, kwargs: dict[str, Any]) -> Any:
    return {"link": netlink.link_request, "addr": netlink.addr_request, "route": netlink.route_request}[obj](
        command, dict(kwargs))


@pytest.mark.parametrize("case", REQUESTS, ids=lambda c: f"{c['object']}-{c['command']}-{'-'.join(c['kwargs'])}")
def test_request_is_the_one_iproute_sends(case: dict[str, Any]) -> None:
    mine = netlink.encode_request(_build(case["object"], case["command"], case["kwargs"]), 0, 0)
    assert mine.hex() == case["request"]


@pytest.mark.parametrize(("obj", "command", "kwargs"), [
    ("link", "add", {"ifname": "v5", "kind": "vlan", "link": 2, "vlan_id": 5}),
    ("link", "set", {"index": 2, "kind": "bond", "bond_mode": 1}),
    ("link", "dump", {"ifname": "eth0"}),
    ("addr", "add", {"index": 2, "address": "10.0.0.1/24"}),
    ("addr", "add", {"index": 2, "address": "10.0.0.1", "prefixlen": 24, "broadcast": True}),
    ("route", "add", {"dst": "default", "gateway": "10.0.0.1"}),
    ("route", "add", {"dst": "10.0.0.0/8", "priority": 5}),
    ("route", "get", {"dst": "10.0.0.1"}),
])
def test_what_it_does_not_encode_is_handed_on(obj: str, command: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(netlink.Unsupported):
        _build(obj, command, kwargs)


def test_link_answer_decodes_as_iproute_gives_it() -> None:
    link, ack = netlink.parse(b"".join(ANSWERS["link-get-d0"]))
    assert (link["index"], link.get("IFLA_IFNAME"), link.get("ifname")) == (2, "d0", "d0")
    assert link.get("IFLA_ADDRESS") and link["header"]["error"] is None
    assert ack["header"]["type"] == 2 and ack["error"] == 0 and ack["header"]["error"] is None


def test_dumps_decode_every_message() -> None:
    links = [m for g in ANSWERS["link-dump"] for m in netlink.parse(g)]
    assert [m.get("IFLA_IFNAME") for m in links[:-1]] == ["lo", "d0", "v0"]
    assert links[-1]["header"]["type"] == 3  # NLMSG_DONE
    addrs = [m for g in ANSWERS["addr-dump-all"] for m in netlink.parse(g)][:-1]
    assert ("10.9.0.2", 24, 2) in [(a.get("IFA_ADDRESS"), a["prefixlen"], a["index"]) for a in addrs]
    assert ("fd00::2", 64) in [(a.get("IFA_ADDRESS"), a["prefixlen"]) for a in addrs]
    routes = [m for g in ANSWERS["route-dump-inet"] for m in netlink.parse(g)][:-1]
    shown = [(r.get("RTA_DST"), r["dst_len"], r.get("RTA_GATEWAY"), r.get("RTA_PREFSRC"), r["proto"], r["scope"])
             for r in routes if r.get("RTA_TABLE") == 254 and r.get("RTA_OIF") == 2]
    assert (None, 0, "10.9.0.1", None, 4, 0) in shown  # the default route the calls added
    assert ("10.7.0.9", 32, None, "10.9.0.2", 4, 253) in shown  # the on-link host route


def test_kernel_error_is_pyroute2s_netlink_error_with_the_ext_ack_text() -> None:
    (msg,) = netlink.parse(ANSWERS["addr-add-no-device"][0])
    error = msg["header"]["error"]
    assert isinstance(error, NetlinkError) and error.code == 19
    assert errno_text(error, number=True) == "ipv4: Device not found (errno 19)"


class FakeSocket:
    """Answers each request with recorded datagrams, their sequence number set to the request's."""

    def __init__(self, *answers: list[bytes], stale: bytes = b"") -> None:
        self.answers = list(answers)
        self.stale = stale
        self.sent: list[bytes] = []
        self.queue: list[bytes] = []
        self.closed = False

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        seq = data[8:12]
        self.queue = ([self.stale] if self.stale else []) + [_with_seq(g, seq) for g in self.answers.pop(0)]
        return len(data)

    def recv(self, size: int) -> bytes:
        return self.queue.pop(0)

    def close(self) -> None:
        self.closed = True


def _with_seq(gram: bytes, seq: bytes) -> bytes:
    out, offset = bytearray(gram), 0
    while offset + 16 <= len(out):
        out[offset + 8:offset + 12] = seq
        offset += max((int.from_bytes(out[offset:offset + 4], sys.byteorder) + 3) & ~3, 16)
    return bytes(out)


def _client(sock: FakeSocket, fallback: Any = None, netns: str | None = "fake") -> netlink.Rtnl:
    """A client on ``sock``; in a named namespace (``netns``) unless told otherwise, so that every
    call goes over the (fake) netlink socket."""
    client = object.__new__(netlink.Rtnl)
    client.netns, client.ext_ack, client._seq, client.pid = netns, True, 0, 4242
    client.sock, client._fallback = sock, fallback  # type: ignore[assignment]
    return client


def test_client_collects_a_dump_to_its_end_and_skips_an_earlier_acknowledgement() -> None:
    stale = ANSWERS["link-get-d0"][1]  # the ack of an earlier "get": sequence number 0, not ours
    sock = FakeSocket(ANSWERS["link-dump"], stale=stale)
    links = _client(sock).get_links()
    assert [m.get("IFLA_IFNAME") for m in links] == ["lo", "d0", "v0"]
    assert int.from_bytes(sock.sent[0][8:12], sys.byteorder) == 1  # our sequence number
    assert int.from_bytes(sock.sent[0][12:16], sys.byteorder) == 4242  # our port id


def test_client_lookup_get_and_filters() -> None:
    sock = FakeSocket(ANSWERS["link-get-d0"], ANSWERS["addr-dump-all"], ANSWERS["route-dump-inet"])
    ipr = _client(sock)
    assert ipr.link_lookup(ifname="d0") == [2]
    assert {a.get("IFA_ADDRESS") for a in ipr.get_addr(index=2, scope=0)} >= {"10.9.0.2", "fd00::2"}
    routes = ipr.get_routes(family=2, table=254, oif=2)
    assert routes and all(r.get("RTA_OIF") == 2 and r.get("RTA_TABLE") == 254 for r in routes)


def test_client_raises_the_kernels_error_and_lookup_gives_nothing() -> None:
    ipr = _client(FakeSocket(ANSWERS["addr-add-no-device"], ANSWERS["addr-add-no-device"]))
    with pytest.raises(NetlinkError) as e:
        ipr.addr("add", index=999, address="10.9.0.2", prefixlen=24)
    assert e.value.code == 19 and e.value.args[1] == "ipv4: Device not found"
    assert ipr.link_lookup(ifname="nosuch0") == []


def test_in_its_own_namespace_index_and_flags_cost_no_link_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a named namespace the index comes from ``if_nametoindex`` and the flags from
    ``linkup.local_flags`` (ioctl and sysfs); a link either does not know is asked by ``RTM_GETLINK``."""
    def index(name: str) -> int:
        if name != "d0":
            raise OSError(19, "No such device")
        return 2

    def flags(name: str) -> int:
        if name != "d0":
            raise OSError(19, "No such device")
        return 0x10043  # IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_LOWER_UP

    monkeypatch.setattr(netlink.socket, "if_nametoindex", index)
    monkeypatch.setattr(netlink, "local_flags", flags)
    sock = FakeSocket(ANSWERS["link-get-d0"], ANSWERS["link-get-d0"])
    ipr = _client(sock, netns=None)
    assert ipr.link_lookup(ifname="d0") == [2] and ipr.link_flags("d0", 2) == 0x10043
    assert sock.sent == []
    (recorded,) = netlink.parse(ANSWERS["link-get-d0"][0])[:1]
    assert ipr.link_lookup(ifname="x0") == [2]  # the kernel's (recorded) answer
    assert ipr.link_flags("x0", 2) == int(recorded["flags"])
    assert [int.from_bytes(m[4:6], sys.byteorder) for m in sock.sent] == [18, 18]  # RTM_GETLINK


def test_client_hands_other_calls_to_iproute_and_closes_both() -> None:
    class Fallback:
        calls: list[tuple[str, str, dict[str, Any]]] = []
        closed = False

        def link(self, command: str, **kw: Any) -> list[str]:
            self.calls.append(("link", command, kw))
            return ["done"]

        def close(self) -> None:
            self.closed = True

    sock, fallback = FakeSocket(), Fallback()
    ipr = _client(sock, fallback)
    assert ipr.link("add", ifname="c0.5", kind="vlan", link=2, vlan_id=5) == ["done"]
    assert fallback.calls == [("link", "add", {"ifname": "c0.5", "kind": "vlan", "link": 2, "vlan_id": 5})]
    assert sock.sent == []
    ipr.close()
    assert fallback.closed and sock.closed


@pytest.mark.allow_subprocess
def test_boot_path_modules_do_not_import_asyncio() -> None:
    """In a fresh interpreter: the netlink client, apply, its link steps and the hand-off load
    without asyncio (and without pyroute2's IPRoute or its package __init__)."""
    code = ("import sys\nfrom ibftkit.network import netlink, apply, apply_links\nfrom ibftkit.login import handoff\n"
            "unwanted = ('asyncio', 'pyroute2.iproute.linux', 'pyroute2.ndb', 'unittest.mock', 'pkgutil')\n"
            "bad = [m for m in unwanted if m in sys.modules]\n"
            "print(bad)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr
