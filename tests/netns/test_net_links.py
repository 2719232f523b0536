"""The link steps of a plan (``set_mtu``, ``set_mac``, ``rename_link``, ``create_bridge``, ``create_bond``)
against real namespaces and veth pairs (root), from kernel command lines through the real parser and
planner (``parse_cmdline`` -> ``plan_for_cmdline`` -> ``apply_plan``).

This host's kernel has veth and bridge but neither bonding nor 802.1Q nor dummy links: MTU, MAC,
rename and bridge are proven here, bond and VLAN in a VM whose kernel has them
(tests/vm/test_e2e_cmdline.py). Each case checks that the change reached the kernel, that traffic
flows where it should, that a second apply changes nothing, and that undo (or a failure later in the
run) leaves the namespace exactly as it was. Every namespace is removed afterwards.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from nettools import Namespaces, namespaces, sh  # tests/nettools.py (tests/ is on sys.path via its conftest)

from ibftkit.infra.errors import NetError
from ibftkit.network.apply import ApplyResult, apply_plan, list_links, undo
from ibftkit.network.plan import NetPlan
from ibftkit.network.plan_cmdline import plan_for_cmdline
from ibftkit.sources.cmdline import parse_cmdline

pytestmark = pytest.mark.netns

MAC0 = "02:1b:f7:00:00:20"
MAC1 = "02:1b:f7:00:00:21"
STATIC = "ip=10.99.0.2::10.99.0.1:255.255.255.0::{dev}:none"


@dataclass
class Net:
    ns: Namespaces
    client: str
    server: str


@pytest.fixture
def net() -> Iterator[Net]:
    """Client c0 (MAC0) <-> server s0 (10.99.0.1/24); client c1 (MAC1) <-> server s1, not addressed.
    Every link has been up once, so that the queueing discipline the kernel gives a link when it
    first goes up (noop -> noqueue) is no difference between before and after."""
    with namespaces() as ns:
        client, server = ns.add("ibkc"), ns.add("ibks")
        ns.veth(client, "c0", server, "s0", mac_a=MAC0)
        ns.veth(client, "c1", server, "s1", mac_a=MAC1)
        sh("ip", "addr", "add", "10.99.0.1/24", "dev", "s0", ns=server)
        for link in ("c0", "c1"):
            sh("ip", "link", "set", link, "down", ns=client)
        yield Net(ns, client, server)


def state(ns: str) -> str:
    """Links (name, flags, MTU, master, MAC, kind), addresses (no link-local) and routes."""
    links = []
    for line in sh("ip", "-d", "-o", "link", "show", ns=ns).stdout.splitlines():
        head, _, rest = line.partition(" link/")
        mac = rest.split()[1] if rest else ""
        kind = next((k for k in ("bridge_slave", "bridge", "veth") if f" {k} " in f" {rest} "), "")
        links.append(re.sub(r" (qdisc|qlen|mode|group) \S+", "", head) + f" {mac} {kind}")
    addrs = [ln for ln in sh("ip", "-o", "addr", "show", ns=ns).stdout.splitlines() if "scope link" not in ln]
    routes = sh("ip", "route", "show", ns=ns).stdout
    return "\n".join(sorted(links) + addrs) + "\n" + routes


def settles_to(ns: str, expected: str, seconds: float = 3.0) -> bool:
    """The namespace's state becomes ``expected`` (a link set up again needs a moment for carrier)."""
    deadline = time.monotonic() + seconds
    while state(ns) != expected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def plan(n: Net, cmdline: str) -> NetPlan:
    return plan_for_cmdline(parse_cmdline(cmdline), list_links(n.client), set_hostname=False)


def apply(n: Net, cmdline: str) -> ApplyResult:
    return apply_plan(plan(n, cmdline), netns=n.client, resolv_conf="/nonexistent/resolv.conf", carrier_timeout=5)


def link(ns: str, name: str) -> str:
    return sh("ip", "-d", "-o", "link", "show", "dev", name, ns=ns).stdout


def reaches(n: Net, ip: str = "10.99.0.1", port: int = 3260) -> bool:
    """A TCP connection from the client to a listener on the server: the link carries traffic."""
    listener = subprocess.Popen(["ip", "netns", "exec", n.server, sys.executable, "-c", textwrap.dedent(f"""
        import socket
        s = socket.create_server(({ip!r}, {port}))
        print('ready', flush=True); c, _ = s.accept(); c.sendall(b'ok'); c.close()
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
        got = sh(sys.executable, "-c", f"import socket; c = socket.create_connection(({ip!r}, {port}), timeout=5); "
                 "print(c.recv(2).decode())", ns=n.client, check=False)
        return got.stdout.strip() == "ok"
    finally:
        listener.kill()
        listener.wait()


def test_mtu_applied_then_undone(net: Net) -> None:
    before = state(net.client)
    words = STATIC.format(dev="c0") + ":1400"
    assert [s.to_dict()["step"] for s in plan(net, words).steps][:2] == ["set_mtu", "link_up"]
    result = apply(net, words)
    assert "mtu 1400 " in link(net.client, "c0")
    assert result.log[0] == "step 1: set the MTU of c0 to 1400 (was 1500)"
    assert reaches(net)
    again = apply(net, words)
    assert not again.changed and again.log[0] == "step 1: MTU of c0 already 1400"
    assert undo(result) == []
    assert state(net.client) == before and "mtu 1500 " in link(net.client, "c0")


def test_mac_and_mtu_fields_of_ip(net: Net) -> None:
    before = state(net.client)
    result = apply(net, STATIC.format(dev="c0") + ":1400:02:1b:f7:00:00:99")
    shown = link(net.client, "c0")
    assert "mtu 1400 " in shown and "link/ether 02:1b:f7:00:00:99 " in shown
    assert reaches(net)
    assert undo(result) == []
    assert state(net.client) == before and f"link/ether {MAC0} " in link(net.client, "c0")


def test_bridge_with_its_port_and_the_address_on_it_then_undone(net: Net) -> None:
    before = state(net.client)
    words = f"bridge=br0:c0 {STATIC.format(dev='br0')}"
    result = apply(net, words)
    assert "bridge_slave" in link(net.client, "c0") and " master br0 " in link(net.client, "c0")
    assert " bridge " in link(net.client, "br0")
    addr = sh("ip", "-o", "-4", "addr", "show", ns=net.client).stdout
    assert "br0    inet 10.99.0.2/24" in addr and " c0 " not in addr  # on the bridge, not on its port
    assert "default via 10.99.0.1 dev br0" in sh("ip", "route", ns=net.client).stdout
    assert reaches(net)
    again = apply(net, words)
    assert not again.changed, again.log
    assert undo(result) == []
    assert state(net.client) == before
    assert "br0" not in sh("ip", "-o", "link", ns=net.client).stdout


def test_rename_by_mac_then_undone(net: Net) -> None:
    before = state(net.client)
    sh("ip", "link", "set", "c0", "up", ns=net.client)  # an up link is set down for the rename, then up again
    deadline = time.monotonic() + 3
    while "NO-CARRIER" in link(net.client, "c0") and time.monotonic() < deadline:
        time.sleep(0.05)
    up_before = state(net.client)
    words = f"ifname=boot0:{MAC0} {STATIC.format(dev='boot0')}"
    result = apply(net, words)
    assert result.log[0] == "step 1: renamed c0 to boot0 (set down for it, and up again)"
    assert f"link/ether {MAC0} " in link(net.client, "boot0")
    assert reaches(net)
    again = apply(net, words)
    assert not again.changed, again.log
    assert undo(result) == []
    assert settles_to(net.client, up_before), state(net.client)
    sh("ip", "link", "set", "c0", "down", ns=net.client)
    assert state(net.client) == before


def test_failure_at_the_last_step_undoes_rename_bridge_and_mtu(net: Net) -> None:
    """resolv.conf cannot be written (its directory is missing): the last step fails after c0 was
    renamed, br0 made with it as port, br0 given MTU 1400 and set up, its address and default route
    added. All of it is undone."""
    before = state(net.client)
    words = f"ifname=boot0:{MAC0} bridge=br0:boot0 ip=10.99.0.2::10.99.0.1:24::br0:none:1400 nameserver=10.99.0.53"
    done: list[str] = []
    with pytest.raises(NetError) as e:
        apply_plan(plan(net, words), netns=net.client, resolv_conf="/nonexistent/dir/resolv.conf",
                   progress=done.append)
    assert [line.split(":")[0] for line in done] == [f"step {n}" for n in range(1, len(done) + 1)]
    assert done[:3] == ["step 1: renamed c0 to boot0", "step 2: created bridge br0; added boot0; set boot0 up",
                        "step 3: boot0 already up"]
    assert "step 4: set the MTU of br0 to 1400 (was 1500)" in done
    assert any("added route 0.0.0.0/0 via 10.99.0.1 dev br0" in line for line in done), done
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"step {len(done) + 1} (write resolv.conf with nameserver 10.99.0.53)")
    assert msg.endswith("; this run's changes were undone")
    assert state(net.client) == before


def test_a_port_of_another_bridge_is_refused_and_nothing_stays(net: Net) -> None:
    sh("ip", "link", "add", "brx", "type", "bridge", ns=net.client)
    sh("ip", "link", "set", "c1", "master", "brx", ns=net.client)
    before = state(net.client)
    words = f"ifname=boot0:{MAC0} bridge=br0:boot0,c1 {STATIC.format(dev='br0')}"
    with pytest.raises(NetError) as e:
        apply(net, words)
    assert str(e.value) == ("step 2 (create bridge br0 with ports boot0, c1): c1 already belongs to brx; "
                            "this run's changes were undone")
    assert state(net.client) == before


def test_bond_here_is_created_or_refused_in_one_line(net: Net) -> None:
    """This host's kernel has no bonding: the step says so and the rename before it is undone. On a
    kernel with bonding the bond is made, and undone."""
    before = state(net.client)
    words = f"ifname=boot0:{MAC0} bond=bond7:boot0,c1:mode=active-backup,miimon=50 {STATIC.format(dev='bond7')}"
    try:
        result = apply(net, words)
    except NetError as e:
        assert str(e) == ("step 2 (create bond bond7 (mode active-backup, miimon=50) over boot0, c1): the kernel has "
                          "no bond support (modprobe bonding); this run's changes were undone")
        assert state(net.client) == before
        return
    assert " master bond7 " in link(net.client, "boot0") and "active-backup" in link(net.client, "bond7")
    assert undo(result) == []
    assert state(net.client) == before
