"""The DHCP client against real DHCP servers in network namespaces (root).

A client namespace (the machine being booted, interface ``c0``) is joined by a veth pair to a
server namespace running a real ``dnsmasq`` (``tests/netns/dnsmasq.py``); for two servers, both
server namespaces and the client hang off a bridge in a "switch" namespace. The client always
runs inside its namespace under ``ip netns exec``: the library through ``python3 -c``, the CLI
as the installed ``ibftkit`` script. Every namespace and server is removed afterwards.

Elapsed times are checked only as sanity bounds for the deadline (never as speed goals; the
speed comparison with udhcpc is ``bench/dhcp_lease.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dnsmasq import Dnsmasq, opt  # tests/netns/dnsmasq.py (the test's directory is on sys.path)
from nettools import Namespaces, namespaces, sh  # tests/nettools.py

pytestmark = pytest.mark.netns

MAC = "02:1b:f7:00:00:20"
MAC1 = "02:1b:f7:00:00:21"
RANGE = "10.99.0.100,10.99.0.150,255.255.255.0,1h"
ROOT_PATH = "iscsi:10.99.0.1::3260:1:iqn.2026-01.test.example:target0"
IQN = "iqn.2026-01.test.example:initiator-01"
BASE = ("dhcp-option=option:router,10.99.0.1", "dhcp-option=option:dns-server,10.99.0.53,10.99.0.54",
        "dhcp-option=option:domain-name,example.test")
FULL = (*BASE, f"dhcp-host={MAC},10.99.0.77,client-one", opt("option:root-path", ROOT_PATH), opt(203, IQN))
BIN = Path(sys.executable).parent / "ibftkit"
CLI = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "ibftkit.cli.main"]

# Runs in the client namespace: one JSON line with the lease (or the error) and the elapsed time.
CLIENT = r"""
import json, sys, time
from ibftkit.infra.errors import IbftkitError
from ibftkit.sources import dhcp
kw = json.loads(sys.argv[1])
fn = dhcp.acquire_first if "interfaces" in kw else dhcp.acquire_lease
args = [kw.pop("interfaces")] if "interfaces" in kw else [kw.pop("interface", "c0")]
notes = []
out = {}
t = time.monotonic()
try:
    lease = fn(*args, progress=notes.append, **kw)
except IbftkitError as e:
    out["error"], out["message"] = type(e).__name__, str(e)
else:
    out["lease"] = {k: (v if v is None or isinstance(v, (int, str)) else
                        [str(x) for x in v] if isinstance(v, tuple) else str(v))
                    for k, v in vars(lease).items()}
    try:
        out["json"] = lease.to_json_dict()
        out["config"] = lease.to_boot_config().to_dict()
    except IbftkitError as e:
        out["json_error"] = f"{type(e).__name__}: {e}"
out["elapsed"] = time.monotonic() - t
out["progress"] = notes
print(json.dumps(out))
"""


@dataclass
class Net:
    ns: Namespaces
    client: str
    server: str

    def run(self, **kw: Any) -> dict[str, Any]:
        kw.setdefault("timeout", 10)
        r = sh(sys.executable, "-c", CLIENT, json.dumps(kw), ns=self.client, timeout=120)
        return json.loads(r.stdout)

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return sh(*CLI, *argv, ns=self.client, check=False, timeout=120)


@pytest.fixture
def net() -> Iterator[Net]:
    """Client ``c0`` (MAC) <-> server ``s0`` holding 10.99.0.1/24."""
    with namespaces() as ns:
        client, server = ns.add("ibkc"), ns.add("ibks")
        ns.veth(client, "c0", server, "s0", mac_a=MAC)
        sh("ip", "addr", "add", "10.99.0.1/24", "dev", "s0", ns=server)
        yield Net(ns, client, server)


# --- the normal lease ------------------------------------------------------------------------------


def test_lease_with_root_path_and_initiator_name(net: Net) -> None:
    with Dnsmasq(net.server, "s0", RANGE, *FULL, "dhcp-option=option:mtu,1400") as server:
        out = net.run()
        log = server.log()
    lease = out["lease"]
    assert lease["address"] == "10.99.0.77/24"
    assert lease["gateway"] == "10.99.0.1"
    assert lease["dns"] == ["10.99.0.53", "10.99.0.54"]
    assert (lease["hostname"], lease["domain"], lease["mtu"]) == ("client-one", "example.test", 1400)
    assert (lease["server_id"], lease["lease_time"], lease["broadcast"]) == ("10.99.0.1", 3600, "10.99.0.255")
    assert lease["root_path"] == ROOT_PATH and lease["initiator_name"] == IQN
    assert lease["mac"] == MAC and lease["interface"] == "c0"
    assert out["json"]["target"]["target"] == "iqn.2026-01.test.example:target0"
    assert out["json"]["target"]["lun"] == 1
    # What the server saw: our vendor class, options 17 and 203 requested, the client identifier.
    assert "vendor class: ibftkit" in log
    assert "17:root-path" in log and "203" in log
    assert server.count("DHCPDISCOVER") == 1 and server.count("DHCPACK") == 1
    # The same BootConfig shape the iBFT path gives.
    cfg = out["config"]
    assert cfg["source"] == "dhcp:c0"
    assert cfg["initiator"]["name"] == IQN
    (nic,) = cfg["nics"]
    assert (nic["ip_address"], nic["prefix_len"], nic["origin"], nic["dhcp_server"]) == ("10.99.0.77", 24, 3,
                                                                                         "10.99.0.1")
    assert (nic["primary_dns"], nic["secondary_dns"], nic["mac"], nic["hostname"]) == (
        "10.99.0.53", "10.99.0.54", MAC, "client-one")
    (target,) = cfg["targets"]
    assert (target["ip_address"], target["port"], target["lun"], target["name"]) == (
        "10.99.0.1", 3260, 1, "iqn.2026-01.test.example:target0")


def test_dynamic_address_and_client_identifier(net: Net) -> None:
    """No static host: a range address, and dnsmasq keys the lease on our client id (01:MAC)."""
    with Dnsmasq(net.server, "s0", RANGE, *BASE, opt(17, ROOT_PATH)) as server:
        out = net.run()
        leases = (server.dir / "leases").read_text()
    address = out["lease"]["address"]
    assert address.startswith("10.99.0.") and address.endswith("/24")
    assert 100 <= int(address.split("/")[0].rsplit(".", 1)[1]) <= 150
    assert out["lease"]["initiator_name"] is None
    assert f"01:{MAC}" in leases and address.split("/")[0] in leases


def test_cli_json(net: Net) -> None:
    with Dnsmasq(net.server, "s0", RANGE, *FULL):
        r = net.cli("dhcp", "--interface", "c0", "--json", "--timeout", "10")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert list(data) == ["interface", "address", "gateway", "dns", "hostname", "server_id", "lease_time",
                          "root_path", "initiator_name", "target"]
    assert data["address"] == "10.99.0.77/24" and data["root_path"] == ROOT_PATH
    assert data["initiator_name"] == IQN
    assert data["target"]["server"] == "10.99.0.1" and data["target"]["needs_discovery"] is False
    assert r.stderr == ""


def test_cli_human_output_and_progress(net: Net) -> None:
    with Dnsmasq(net.server, "s0", RANGE, *FULL):
        r = net.cli("dhcp", "-i", "c0", "--verbose")
    assert r.returncode == 0, r.stderr
    assert "10.99.0.77/24" in r.stdout and ROOT_PATH in r.stdout and "iqn.2026-01.test.example:target0" in r.stdout
    assert "DHCPDISCOVER on c0" in r.stderr and "DHCPACK of 10.99.0.77/24" in r.stderr


# --- bad cases: each is one line ------------------------------------------------------------------


def test_lease_without_root_path(net: Net) -> None:
    with Dnsmasq(net.server, "s0", RANGE, *BASE):
        out = net.run()
        r = net.cli("dhcp", "--interface", "c0", "--json")
        anyway = net.cli("dhcp", "--interface", "c0", "--json", "--any-lease")
        first = net.run(interfaces=["c0"], timeout=10)
    assert out["lease"]["root_path"] is None and out["json"]["target"] is None
    assert any("no root path" in w for w in out["config"]["warnings"]) and out["config"]["targets"] == []
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "has no root path (DHCP option 17)" in r.stderr
    assert anyway.returncode == 0, anyway.stderr
    assert json.loads(anyway.stdout)["root_path"] is None
    assert first["error"] == "DhcpError" and "c0: " in first["message"] and "no root path" in first["message"]


def test_malformed_root_path(net: Net) -> None:
    bad = "iscsi:10.99.0.1:17:3260:1:iqn.2026-01.test.example:target0"  # protocol 17 (UDP): RFC 4173 wants 6
    with Dnsmasq(net.server, "s0", RANGE, *BASE, opt(17, bad)):
        out = net.run()
        r = net.cli("dhcp", "--interface", "c0", "--json")
        human = net.cli("dhcp", "--interface", "c0")
    assert out["lease"]["root_path"] == bad  # the lease itself is fine; its target is not
    assert out["json_error"].startswith("RootPathError: root path protocol")
    for result in (r, human):
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.startswith("ibftkit: root path protocol") and result.stderr.count("\n") == 1


def test_silent_server_deadline_holds(net: Net) -> None:
    """A real dnsmasq that ignores us: DhcpTimeout at the deadline, every DISCOVER seen by the server."""
    with Dnsmasq(net.server, "s0", RANGE, *BASE, "dhcp-ignore=tag:!known") as server:
        out = net.run(timeout=3, first_timeout=0.5)
        seen = server.count("DHCPDISCOVER")
        r = net.cli("dhcp", "--interface", "c0", "--timeout", "1.5", "--first-timeout", "0.5")
    assert out["error"] == "DhcpTimeout"
    sent = int(out["message"].split("(")[1].split()[0])
    assert out["message"] == f"no DHCP reply on c0 within 3 s ({sent} DISCOVERs sent)"
    assert sent == seen and 3 <= sent <= 4  # waits 0.5, 1, 2 s (±jitter) inside a 3 s deadline
    assert 2.9 <= out["elapsed"] < 3 + 1.5  # sanity bound on the deadline, not a speed goal
    assert r.returncode == 1 and r.stderr.startswith("ibftkit: no DHCP reply on c0 within 1.5 s")
    assert r.stderr.count("\n") == 1


def test_no_server_no_carrier(net: Net) -> None:
    """The peer is down: the error says so, and the deadline still holds."""
    sh("ip", "link", "set", "s0", "down", ns=net.server)
    out = net.run(timeout=1.5, first_timeout=0.5)
    assert out["error"] == "DhcpTimeout" and out["message"].endswith("c0 had no carrier)")
    assert "no carrier on c0 yet; sending anyway" in out["progress"]


def test_nak_loop(net: Net) -> None:
    """dnsmasq offers from a range that does not apply once option 50 is present (the DHCPREQUEST),
    so, being authoritative, it NAKs every REQUEST: a real, endless NAK loop."""
    with Dnsmasq(net.server, "s0", f"tag:!req,{RANGE}", *BASE, opt(17, ROOT_PATH),
                 "dhcp-match=set:req,option:requested-address") as server:
        out = net.run()
        naks = server.count("DHCPNAK")
        r = net.cli("dhcp", "--interface", "c0")
    assert out["error"] == "DhcpError"
    assert out["message"] == "DHCP on c0: 3 DHCPNAKs in a row from 10.99.0.1, giving up (last: 'wrong network')"
    assert naks == 3
    assert sum("restarting" in p for p in out["progress"]) == 3
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "DHCPNAKs in a row" in r.stderr


def test_nak_then_lease(net: Net) -> None:
    """INIT-REBOOT with an address from another network: dnsmasq NAKs it, the client restarts at
    DISCOVER and gets a lease (RFC 2131 §3.2 step 3, §4.3.2)."""
    with Dnsmasq(net.server, "s0", RANGE, *FULL) as server:
        out = net.run(reboot_address="192.0.2.50")
        log = server.log()
    assert out["lease"]["address"] == "10.99.0.77/24"
    assert server.count("DHCPNAK") == 1 and "DHCPNAK(s0) 192.0.2.50" in log and "wrong network" in log
    assert any(p.startswith("DHCPNAK from 10.99.0.1: wrong network") for p in out["progress"])


def test_init_reboot_keeps_address(net: Net) -> None:
    with Dnsmasq(net.server, "s0", RANGE, *FULL) as server:
        out = net.run(reboot_address="10.99.0.77")
        discovers = server.count("DHCPDISCOVER")
    assert out["lease"]["address"] == "10.99.0.77/24" and out["lease"]["root_path"] == ROOT_PATH
    assert discovers == 0


# --- the interface ---------------------------------------------------------------------------------


def test_interface_missing_or_down(net: Net) -> None:
    missing = net.run(interface="nope0")
    r = net.cli("dhcp", "--interface", "nope0")
    sh("ip", "link", "set", "c0", "down", ns=net.client)
    down = net.run()
    assert missing["error"] == "DhcpError"
    assert missing["message"] == "interface nope0 not found (no /sys/class/net/nope0)"
    assert r.returncode == 1 and r.stderr == "ibftkit: interface nope0 not found (no /sys/class/net/nope0)\n"
    assert down["error"] == "DhcpError" and down["message"].startswith("interface c0 is down")


def test_cli_usage(net: Net) -> None:
    r = net.cli("dhcp", "--interface", "c0", "--timeout", "0")
    assert r.returncode == 2 and "--timeout" in r.stderr
    r = net.cli("dhcp")
    assert r.returncode == 2


# --- several servers, several interfaces -----------------------------------------------------------


@pytest.fixture
def lan() -> Iterator[Net]:
    """Client ``c0`` and two servers on one bridge: s1 10.99.0.1, s2 10.99.0.2 (same subnet)."""
    with namespaces() as ns:
        client, switch = ns.add("ibkc"), ns.add("ibkw")
        one, two = ns.add("ibk1"), ns.add("ibk2")
        sh("ip", "link", "add", "br0", "type", "bridge", ns=switch)
        sh("ip", "link", "set", "br0", "up", ns=switch)
        for name, (peer_ns, peer_if) in {"p0": (client, "c0"), "p1": (one, "s1"), "p2": (two, "s2")}.items():
            ns.veth(switch, name, peer_ns, peer_if, mac_b=MAC if peer_if == "c0" else None)
            sh("ip", "link", "set", name, "master", "br0", ns=switch)
        sh("ip", "addr", "add", "10.99.0.1/24", "dev", "s1", ns=one)
        sh("ip", "addr", "add", "10.99.0.2/24", "dev", "s2", ns=two)
        net = Net(ns, client, one)
        net.second = two  # type: ignore[attr-defined]
        yield net


def test_two_servers_first_offer_wins(lan: Net) -> None:
    """Both offer a root path; s2 answers a second late: s1's offer is taken, every time."""
    two = lan.second  # type: ignore[attr-defined]
    rp2 = "iscsi:10.99.0.2::3260:2:iqn.2026-01.test.example:other"
    with (Dnsmasq(lan.server, "s1", "10.99.0.100,10.99.0.120,255.255.255.0,1h", *BASE, opt(17, ROOT_PATH)) as s1,
          Dnsmasq(two, "s2", "10.99.0.130,10.99.0.150,255.255.255.0,1h", opt(17, rp2),
                  "dhcp-reply-delay=1") as s2):
        runs = [lan.run(timeout=10) for _ in range(2)]
        assert s1.count("DHCPACK") == 2 and s2.count("DHCPACK") == 0
    for out in runs:
        assert out["lease"]["server_id"] == "10.99.0.1" and out["lease"]["root_path"] == ROOT_PATH
        assert 100 <= int(out["lease"]["address"].split("/")[0].rsplit(".", 1)[1]) <= 120


def test_two_servers_prefers_offer_with_root_path(lan: Net) -> None:
    """s1 answers at once without a root path, s2 a moment later with one: the client waits a short
    window after an offer without option 17 and takes s2's."""
    two = lan.second  # type: ignore[attr-defined]
    rp2 = "iscsi:10.99.0.2::3260:2:iqn.2026-01.test.example:other"
    with (Dnsmasq(lan.server, "s1", "10.99.0.100,10.99.0.120,255.255.255.0,1h", *BASE),
          Dnsmasq(two, "s2", "10.99.0.130,10.99.0.150,255.255.255.0,1h", opt(17, rp2))):
        out = lan.run(timeout=10)
    assert out["lease"]["server_id"] == "10.99.0.2" and out["lease"]["root_path"] == rp2
    assert out["json"]["target"]["lun"] == 2


def test_acquire_first_carrier_first_and_usable_root_path(net: Net) -> None:
    """c0: a lease without root path; c1: a usable one; c2: no carrier. Tried c0, c1 (carrier, in
    the order given) and never c2; c1's lease wins."""
    net.ns.veth(net.client, "c1", net.server, "s1", mac_a=MAC1)
    net.ns.veth(net.client, "c2", net.server, "s2", mac_a="02:1b:f7:00:00:22")
    sh("ip", "link", "set", "s2", "down", ns=net.server)
    sh("ip", "addr", "add", "10.98.0.1/24", "dev", "s1", ns=net.server)
    rp1 = "iscsi:10.98.0.1::3260:0:iqn.2026-01.test.example:via-c1"
    with (Dnsmasq(net.server, "s0", RANGE, *BASE),
          Dnsmasq(net.server, "s1", "10.98.0.100,10.98.0.150,255.255.255.0,1h", opt(17, rp1))):
        out = net.run(interfaces=["c2", "c0", "c1"], timeout=12)
        r = net.cli("dhcp", "-i", "c2", "-i", "c0", "-i", "c1", "--json", "--timeout", "12")
    assert out["lease"]["interface"] == "c1" and out["lease"]["root_path"] == rp1
    assert out["progress"][0].startswith("DHCPDISCOVER on c0")
    assert not any("on c2" in p for p in out["progress"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["interface"] == "c1"


def test_acquire_first_all_fail_names_each(net: Net) -> None:
    net.ns.veth(net.client, "c1", net.server, "s1", mac_a=MAC1)
    sh("ip", "link", "set", "c1", "down", ns=net.client)
    with Dnsmasq(net.server, "s0", RANGE, *BASE):
        out = net.run(interfaces=["c0", "c1", "nope0"], timeout=6)
    assert out["error"] == "DhcpError"
    message = out["message"]
    assert message.startswith("no usable DHCP lease on 3 interfaces: ")
    assert "c0: the lease on c0" in message and "no root path" in message
    assert "c1: interface c1 is down" in message and "nope0: interface nope0 not found" in message
    assert "\n" not in message


# --- RFC 3396: a root path longer than one option --------------------------------------------------


def _dhcpd() -> str | None:
    return os.environ.get("IBFTKIT_DHCPD") or shutil.which("dhcpd") or (
        "/usr/sbin/dhcpd" if Path("/usr/sbin/dhcpd").exists() else None)


def test_dnsmasq_refuses_options_over_255_bytes(net: Net) -> None:
    """Why the RFC 3396 test below needs ISC dhcpd: dnsmasq 2.90 does not split long options."""
    long_rp = "iscsi:" + ".".join(["a" * 60] * 4) + "::3260:1:iqn.2026-01.test.example:t"
    server = Dnsmasq(net.server, "s0", RANGE, opt(17, long_rp))
    with pytest.raises(RuntimeError, match="dhcp-option too long"):
        server.start()
    assert not server.dir.exists()  # start() cleaned up after the failed start


def test_long_root_path_split_by_isc_dhcpd(net: Net) -> None:
    """ISC dhcpd sends a 323-byte root path as two option-17 instances; the client joins them."""
    dhcpd = _dhcpd()
    if dhcpd is None:
        pytest.skip("ISC dhcpd not found (apt-get install isc-dhcp-server, or IBFTKIT_DHCPD=/path/to/dhcpd)")
    long_rp = "iscsi:" + ".".join(["a" * 60] * 4) + "::3260:1:iqn.2026-01.test.example:" + "t" * 40
    assert len(long_rp) > 255
    tmp = Path(tempfile.mkdtemp(prefix="ibftkit-dhcpd-"))
    (tmp / "conf").write_text(
        "option iscsi-initiator-iqn code 203 = string;\n"
        "authoritative; ping-check false; default-lease-time 3600; max-lease-time 7200;\n"
        "subnet 10.99.0.0 netmask 255.255.255.0 { range 10.99.0.100 10.99.0.150; option routers 10.99.0.1;\n"
        f'  option root-path "{long_rp}"; option iscsi-initiator-iqn "{IQN}"; }}\n')
    (tmp / "leases").write_text("")
    log = (tmp / "log").open("wb")
    proc = subprocess.Popen(["ip", "netns", "exec", net.server, dhcpd, "-f", "-d", "-4", "-cf", str(tmp / "conf"),
                             "-lf", str(tmp / "leases"), "-pf", str(tmp / "pid"), "s0"], stdout=log, stderr=log)
    try:
        end = time.monotonic() + 10
        while b"Server starting service" not in (tmp / "log").read_bytes() and time.monotonic() < end:
            assert proc.poll() is None, (tmp / "log").read_text()
            time.sleep(0.02)
        out = net.run()
    finally:
        proc.terminate()
        proc.wait(5)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    assert out["lease"]["root_path"] == long_rp and out["lease"]["initiator_name"] == IQN
    assert out["json"]["target"]["server"] == ".".join(["a" * 60] * 4)
