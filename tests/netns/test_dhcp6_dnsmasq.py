"""The DHCPv6 client and the SLAAC wait against a real dnsmasq in network namespaces (root).

A client namespace (interface ``c0``) is joined by a veth pair to a server namespace where a real
``dnsmasq`` (``tests/netns/dnsmasq.py``) serves DHCPv6 (options 23 and 59) and, with ``enable-ra``,
router advertisements. The client runs inside its namespace under ``ip netns exec``: the library
through ``python3 -c``, the CLI as the installed ``ibftkit`` script. Every namespace and server is
removed afterwards. Elapsed times are checked only as sanity bounds for deadlines (the speed
comparison with ``dhclient -6`` is ``bench/dhcp6_lease.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dnsmasq import Dnsmasq, opt  # tests/netns/dnsmasq.py (the test's directory is on sys.path)
from nettools import Namespaces, namespaces, sh  # tests/nettools.py

pytestmark = pytest.mark.netns

MAC = "02:1b:f7:00:00:60"
DUID = "00030001" + MAC.replace(":", "")  # DUID-LL (RFC 8415 §11.4)
PREFIX = "fd00:99::"
RANGE = "fd00:99::100,fd00:99::1ff,64,1h"
ROOT_PATH = "iscsi:[fd00:99::1]::3260:1:iqn.2026-01.test.example:target0"
BASE = ("enable-ra", "dhcp-option=option6:dns-server,[fd00:99::53],[fd00:99::54]",
        "dhcp-option=option6:domain-search,example.test")
FULL = (*BASE, f"dhcp-host=id:{':'.join(DUID[i:i + 2] for i in range(0, len(DUID), 2))},[fd00:99::77]",
        opt("option6:bootfile-url", ROOT_PATH))
BIN = Path(sys.executable).parent / "ibftkit"
CLI = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "ibftkit.cli.main"]

# Runs in the client namespace: one JSON line with the lease (or the error) and the elapsed time.
CLIENT = r"""
import json, sys, time
from ibftkit.infra.errors import IbftkitError
from ibftkit.sources import dhcp
kw = json.loads(sys.argv[1])
what = kw.pop("what", "dhcp6")
notes = []
out = {}
t = time.monotonic()
try:
    if what == "slaac":
        got = dhcp.wait_slaac(kw.pop("interface", "c0"), progress=notes.append, **kw)
        out["slaac"] = {"addresses": [str(a) for a in got.addresses], "gateway": str(got.gateway),
                        "warnings": list(got.warnings), "describe": got.describe()}
    else:
        lease = dhcp.acquire_lease6(kw.pop("interface", "c0"), progress=notes.append, **kw)
        out["json"] = lease.to_json_dict()
        out["config"] = lease.to_boot_config().to_dict()
except IbftkitError as e:
    out["error"], out["message"] = type(e).__name__, str(e)
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


def wait_link_local(ns: str, ifname: str, timeout: float = 5.0) -> None:
    """Until ``ifname`` has a link-local address that is no longer tentative (DAD done)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = sh("ip", "-6", "addr", "show", "dev", ifname, "scope", "link", ns=ns).stdout
        if "inet6 fe80" in out and "tentative" not in out:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{ifname} in {ns}: no usable link-local address after {timeout} s")


@pytest.fixture
def net() -> Iterator[Net]:
    """Client ``c0`` (MAC) <-> server ``s0`` holding fd00:99::1/64 (no DAD), both link-locals ready."""
    with namespaces() as ns:
        client, server = ns.add("ib6c"), ns.add("ib6s")
        ns.veth(client, "c0", server, "s0", mac_a=MAC)
        sh("ip", "addr", "add", "fd00:99::1/64", "dev", "s0", "nodad", ns=server)
        wait_link_local(server, "s0")
        wait_link_local(client, "c0")
        yield Net(ns, client, server)


# --- the lease -------------------------------------------------------------------------------------


def test_rapid_commit_lease_with_dns_and_boot_file_url(net: Net) -> None:
    with Dnsmasq(net.server, "s0", RANGE, *FULL) as server:
        out = net.run()
        log = server.log()
    data = out["json"]
    # the Reply's address with the on-link prefix and router that router advertisements gave the kernel
    assert data["address"] == "fd00:99::77/64" and data["gateway"].startswith("fe80::")
    assert data["dns"] == ["fd00:99::53", "fd00:99::54"] and data["domain_search"] == ["example.test"]
    assert data["root_path"] == data["boot_file_url"] == ROOT_PATH
    assert data["target"]["server"] == "fd00:99::1" and data["target"]["server_kind"] == "ipv6"
    assert data["rapid_commit"] is True and data["lease_time"] == 3600
    assert data["server_address"].startswith("fe80::")
    # What the server saw: our DUID-LL, options 23, 24, 59 requested; one Solicit, a Rapid Commit Reply.
    assert f"DHCPSOLICIT(s0) {':'.join(DUID[i:i + 2] for i in range(0, len(DUID), 2))}" in log
    assert "requested options: 23:dns-server, 24:domain-search, 59:bootfile-url" in log
    assert server.count("DHCPSOLICIT") == 1 and server.count("DHCPREPLY") == 1
    assert server.count("DHCPADVERTISE") == 0 and "rapid-commit" in log
    server_id = [line.split("server-id")[1].strip() for line in log.splitlines() if "server-id" in line][0]
    assert data["server_id"] == server_id.replace(":", "")
    # The same BootConfig shape as DHCPv4 and the iBFT.
    cfg = out["config"]
    assert cfg["source"] == "dhcp6:c0"
    (nic,) = cfg["nics"]
    assert (nic["ip_address"], nic["prefix_len"], nic["origin"], nic["mac"]) == ("fd00:99::77", 64, 3, MAC)
    assert nic["gateway"] == data["gateway"]
    assert (nic["primary_dns"], nic["secondary_dns"]) == ("fd00:99::53", "fd00:99::54")
    (target,) = cfg["targets"]
    assert (target["ip_address"], target["port"], target["lun"], target["name"]) == (
        "fd00:99::1", 3260, 1, "iqn.2026-01.test.example:target0")


def test_four_message_exchange_without_rapid_commit(net: Net) -> None:
    with Dnsmasq(net.server, "s0", RANGE, *BASE, opt("option6:bootfile-url", ROOT_PATH)) as server:
        out = net.run(rapid_commit=False)
    address = out["json"]["address"]
    assert address.startswith(PREFIX) and address.endswith("/64")
    assert 0x100 <= int(address.split("/")[0].rsplit(":", 1)[1], 16) <= 0x1FF
    assert out["json"]["rapid_commit"] is False
    for word in ("DHCPSOLICIT", "DHCPADVERTISE", "DHCPREQUEST", "DHCPREPLY"):
        assert server.count(word) == 1, word
    assert any(p.startswith("DHCPv6 Request of " + address.split("/")[0]) for p in out["progress"])


def test_link_local_still_tentative(net: Net) -> None:
    """Right after link-up the link-local address is tentative (DAD, ~1 s): the client waits for it."""
    with Dnsmasq(net.server, "s0", RANGE, *FULL):
        sh("ip", "link", "set", "c0", "down", ns=net.client)
        sh("ip", "link", "set", "c0", "up", ns=net.client)
        out = net.run(timeout=10)
    assert out["json"]["address"] == "fd00:99::77/64", out
    assert any("waiting for its IPv6 link-local address" in p for p in out["progress"])


def test_cli_json_keys(net: Net) -> None:
    with Dnsmasq(net.server, "s0", RANGE, *FULL):
        r = net.cli("dhcp", "--interface", "c0", "--family", "6", "--timeout", "10", "--json")
        human = net.cli("dhcp", "-i", "c0", "--family", "6", "--verbose")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert {"address", "dns", "root_path", "target", "server_id"} <= set(data)
    assert data["address"] == "fd00:99::77/64" and data["dns"] == ["fd00:99::53", "fd00:99::54"]
    assert data["root_path"] == ROOT_PATH and data["target"]["target"] == "iqn.2026-01.test.example:target0"
    assert bytes.fromhex(data["server_id"]) and r.stderr == ""
    assert human.returncode == 0, human.stderr
    assert "fd00:99::77/64" in human.stdout and ROOT_PATH in human.stdout
    assert "DHCPv6 Solicit on c0" in human.stderr and "Rapid Commit" in human.stderr


# --- failures: each is one line ----------------------------------------------------------------------


def test_no_boot_file_url(net: Net) -> None:
    with Dnsmasq(net.server, "s0", RANGE, *BASE):
        out = net.run()
        r = net.cli("dhcp", "-i", "c0", "--family", "6", "--json")
        anyway = net.cli("dhcp", "-i", "c0", "--family", "6", "--json", "--any-lease")
    assert out["json"]["root_path"] is None and out["json"]["target"] is None
    assert out["config"]["targets"] == [] and any("no root path" in w for w in out["config"]["warnings"])
    assert r.returncode == 1 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "has no root path (DHCPv6 option 59, Boot File URL)" in r.stderr
    assert anyway.returncode == 0 and json.loads(anyway.stdout)["root_path"] is None


def test_boot_file_url_not_iscsi(net: Net) -> None:
    with Dnsmasq(net.server, "s0", RANGE, *BASE, opt("option6:bootfile-url", "http://[fd00:99::1]/boot.efi")):
        r = net.cli("dhcp", "-i", "c0", "--family", "6")
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "Boot File URL 'http://[fd00:99::1]/boot.efi' (DHCPv6 option 59) is not an iscsi: root path" in r.stderr


def test_malformed_root_path(net: Net) -> None:
    bad = "iscsi:[fd00:99::1]:17:3260:1:iqn.2026-01.test.example:target0"  # protocol 17: RFC 4173 wants 6
    with Dnsmasq(net.server, "s0", RANGE, *BASE, opt("option6:bootfile-url", bad)):
        r = net.cli("dhcp", "-i", "c0", "--family", "6", "--json")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("ibftkit: root path protocol") and r.stderr.count("\n") == 1


def test_silent_server_deadline_holds(net: Net) -> None:
    """dnsmasq ignores us: DhcpTimeout at the deadline; the server saw every Solicit (RFC 8415 §15:
    1 s first, then about 2, 4 …)."""
    with Dnsmasq(net.server, "s0", RANGE, *BASE, "dhcp-ignore=tag:!known") as server:
        out = net.run(timeout=3.5)
        seen = server.count("DHCPSOLICIT")
        r = net.cli("dhcp", "-i", "c0", "--family", "6", "--timeout", "1.5")
    assert out["error"] == "DhcpTimeout"
    assert out["message"] == "no DHCPv6 Advertise or Reply on c0 within 3.5 s (3 Solicits sent to ff02::1:2)"
    assert seen == 3  # at 0, ~1.05 and ~3.2 s
    assert 3.4 <= out["elapsed"] < 3.5 + 1.5  # sanity bound on the deadline, not a speed goal
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("ibftkit: no DHCPv6 Advertise or Reply on c0 within 1.5 s (2 Solicits")


def test_no_address_available(net: Net) -> None:
    """Static-only range and no host entry for us: the server answers NoAddrsAvail; one line says so."""
    with Dnsmasq(net.server, "s0", "fd00:99::,static,64,1h", *BASE):
        out = net.run(timeout=2.5)
    assert out["error"] == "DhcpTimeout", out
    assert "NO_ADDRS_AVAIL" in out["message"] and out["message"].count("\n") == 0


def test_interface_missing_down_or_ipv6_disabled(net: Net) -> None:
    missing = net.run(interface="nope0", timeout=1)
    sh("ip", "link", "set", "c0", "down", ns=net.client)
    down = net.run(timeout=1)
    sh("ip", "link", "set", "c0", "up", ns=net.client)
    sh("sysctl", "-qw", "net.ipv6.conf.c0.disable_ipv6=1", ns=net.client)
    off = net.run(timeout=1)
    assert missing["message"] == "interface nope0 not found (no /sys/class/net/nope0)"
    assert down["message"] == "interface c0 is down; bring it up first (ip link set c0 up)"
    assert off["error"] == "DhcpError" and off["message"].startswith("IPv6 is disabled on c0")


def test_port_546_taken_by_another_client(net: Net) -> None:
    """Another DHCPv6 client on port 546 would receive the Replies: one line instead of a silent timeout."""
    hold = ("import socket, time; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(('::', 546)); "
            "print('bound', flush=True); time.sleep(60)")
    holder = subprocess.Popen(["ip", "netns", "exec", net.client, sys.executable, "-c", hold],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "bound"
        r = net.cli("dhcp", "-i", "c0", "--family", "6", "--timeout", "2")
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("ibftkit: interface c0: cannot bind UDP port 546: Address already in use "
                               "(another DHCPv6 client is running")


# --- SLAAC -----------------------------------------------------------------------------------------


def test_slaac_address_and_default_route(net: Net) -> None:
    """Router advertisements only (``ra-stateless``): the kernel forms the EUI-64 address; ibftkit
    waits for it and the default route, and says what it got."""
    with Dnsmasq(net.server, "s0", "fd00:99::,ra-stateless,64,1h", *BASE):
        sh("ip", "link", "set", "c0", "down", ns=net.client)
        sh("ip", "link", "set", "c0", "up", ns=net.client)
        out = net.run(what="slaac", timeout=15)
    got = out["slaac"]
    assert got["addresses"] == ["fd00:99::1b:f7ff:fe00:60/64"]  # RFC 4291 §2.5.1 modified EUI-64 of MAC
    assert got["gateway"].startswith("fe80::") and got["warnings"] == []
    assert got["describe"].startswith("SLAAC on c0: fd00:99::1b:f7ff:fe00:60/64, default route via fe80::")


def test_slaac_no_router(net: Net) -> None:
    out = net.run(what="slaac", timeout=1.5)
    assert out["error"] == "DhcpTimeout"
    assert out["message"].startswith("no global IPv6 address on c0 from router advertisements within 1.5 s")
    assert 1.4 <= out["elapsed"] < 3


def test_slaac_refused_when_accept_ra_is_off(net: Net) -> None:
    sh("sysctl", "-qw", "net.ipv6.conf.c0.accept_ra=0", ns=net.client)
    out = net.run(what="slaac", timeout=1)
    assert out["error"] == "DhcpError"
    assert out["message"] == ("no SLAAC on c0: c0 ignores router advertisements "
                              "(net.ipv6.conf.c0.accept_ra=0, forwarding=0)")


# --- the plan steps run_dhcp (family 6) and run_slaac, applied -------------------------------------

APPLY = r"""
import json, sys
from ibftkit.infra.errors import IbftkitError
from ibftkit.network.apply import apply_plan, undo
from ibftkit.network.plan import NetPlan, RunDhcp
from ibftkit.network.plan_cmdline import RunSlaac
steps = {"slaac": RunSlaac("c0"), "dhcp6": RunDhcp("c0", 0, None, 6)}
plan = NetPlan(tuple(steps[s] for s in sys.argv[1].split(",")))
out = {}
try:
    result = apply_plan(plan, resolv_conf="/nonexistent/resolv.conf", dhcp_timeout=float(sys.argv[2]))
except IbftkitError as e:
    out["error"] = str(e)
else:
    out["log"] = result.log
    import subprocess
    out["addrs"] = subprocess.run(["ip", "-6", "-o", "addr", "show", "dev", "c0", "scope", "global"],
                                  capture_output=True, text=True).stdout
    out["undo_failed"] = undo(result)
    out["after_undo"] = subprocess.run(["ip", "-6", "-o", "addr", "show", "dev", "c0", "scope", "global"],
                                       capture_output=True, text=True).stdout
print(json.dumps(out))
"""


def apply_steps(net: Net, steps: str, timeout: float = 10) -> dict[str, Any]:
    r = sh(sys.executable, "-c", APPLY, steps, str(timeout), ns=net.client, timeout=120)
    return json.loads(r.stdout)


def test_apply_either6_slaac_and_dhcp6(net: Net) -> None:
    """``ip=either6`` plans run_slaac then run_dhcp family 6: both applied (the DHCPv6 address with the
    advertised on-link prefix); undo removes the DHCPv6 address (the SLAAC address is the kernel's)."""
    with Dnsmasq(net.server, "s0", "fd00:99::100,fd00:99::1ff,slaac,64,1h", *FULL):
        sh("ip", "link", "set", "c0", "down", ns=net.client)
        sh("ip", "link", "set", "c0", "up", ns=net.client)
        out = apply_steps(net, "slaac,dhcp6")
    assert "error" not in out, out
    slaac, dhcp6 = out["log"]
    assert slaac.startswith("step 1: SLAAC on c0: fd00:99::1b:f7ff:fe00:60/64, default route via fe80::")
    assert dhcp6 == "step 2: DHCPv6: added fd00:99::77/64 to c0"
    assert "fd00:99::77/64" in out["addrs"] and "fd00:99::1b:f7ff:fe00:60/64" in out["addrs"]
    assert out["undo_failed"] == [] and "fd00:99::77" not in out["after_undo"]
    assert "fd00:99::1b:f7ff:fe00:60/64" in out["after_undo"]


def test_apply_either6_without_router_falls_back_to_dhcp6(net: Net) -> None:
    with Dnsmasq(net.server, "s0", RANGE, *FULL[1:]):  # no enable-ra: no router advertisements
        out = apply_steps(net, "slaac,dhcp6", timeout=3)
        alone = apply_steps(net, "slaac", timeout=1)
    assert "error" not in out, out
    assert out["log"][0].startswith("step 1: no global IPv6 address on c0 from router advertisements within 3 s")
    assert out["log"][0].endswith("; DHCPv6 next") and out["log"][1] == "step 2: DHCPv6: added fd00:99::77/128 to c0"
    assert alone["error"].startswith("step 1 (wait for an IPv6 address from router advertisements on c0 (SLAAC)): "
                                     "no global IPv6 address on c0")
