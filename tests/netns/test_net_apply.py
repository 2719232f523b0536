"""``apply_plan`` and ``ibftkit net apply`` against real namespaces and veth pairs (root).

Each test builds a client namespace (the machine being booted) joined by veth pairs to a server
namespace that holds the gateway(s) and, on its loopback, the "target" addresses behind them. The
library is driven with ``netns=``; the CLI runs under ``ip netns exec NS unshare --uts`` so it sees
the namespace's own /sys and can never rename this machine. Every namespace is removed afterwards.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nettools import Namespaces, namespaces, sh  # tests/nettools.py (tests/ is on sys.path via its conftest)

from ibftkit.infra.errors import NetError
from ibftkit.model import BootConfig, Initiator, Nic, Target, TargetFlags, parse_ip
from ibftkit.network.apply import apply_plan, list_links, undo
from ibftkit.network.plan import NetPlan, plan_network

pytestmark = pytest.mark.netns

MAC0 = "02:1b:f7:00:00:10"
MAC1 = "02:1b:f7:00:00:11"
CLI = [sys.executable, "-m", "ibftkit.cli.main"]


@dataclass
class Net:
    ns: Namespaces
    client: str
    server: str


@pytest.fixture
def net() -> Iterator[Net]:
    """Client c0 (MAC0) <-> server s0 with gateway 10.99.0.1/24 and 2001:db8:1::1/64."""
    with namespaces() as ns:
        client, server = ns.add("ibkc"), ns.add("ibks")
        ns.veth(client, "c0", server, "s0", mac_a=MAC0)
        sh("ip", "addr", "add", "10.99.0.1/24", "dev", "s0", ns=server)
        sh("ip", "addr", "add", "2001:db8:1::1/64", "dev", "s0", "nodad", ns=server)
        yield Net(ns, client, server)


def second_pair(n: Net) -> None:
    """Client c1 (MAC1) <-> server s1 with gateway 10.98.0.1/24."""
    n.ns.veth(n.client, "c1", n.server, "s1", mac_a=MAC1)
    sh("ip", "addr", "add", "10.98.0.1/24", "dev", "s1", ns=n.server)


def state(ns: str) -> str:
    """What the tests compare: addresses (link-local left out: DAD timing), links' up/down, routes."""
    addrs = [ln for ln in sh("ip", "-o", "addr", "show", ns=ns).stdout.splitlines() if "scope link" not in ln]
    links = [ln.split(" link/")[0] for ln in sh("ip", "-o", "link", "show", ns=ns).stdout.splitlines()]
    routes = sh("ip", "route", "show", ns=ns).stdout + sh("ip", "-6", "route", "show", ns=ns).stdout
    return "\n".join(addrs + links) + "\n" + routes


def route_get(ns: str, dst: str) -> str:
    return sh("ip", "route", "get", dst, ns=ns).stdout


def boot_config(*nics: Nic, targets: tuple[Target, ...]) -> BootConfig:
    return BootConfig(initiator=Initiator("iqn.2026-01.test.ibftkit:init"), nics=nics, targets=targets,
                      source="netns-test")


def nic0(**kw: object) -> Nic:
    args: dict[str, object] = dict(index=0, ip_address=parse_ip("10.99.0.2"), prefix_len=24,
                                   gateway=parse_ip("10.99.0.1"), mac=MAC0)
    args.update(kw)
    return Nic(**args)  # type: ignore[arg-type]


def tgt(ip: str, index: int = 0, nic_index: int = 0, boot: bool = True) -> Target:
    flags = TargetFlags.VALID | (TargetFlags.BOOT_SELECTED if boot else 0)
    return Target(index=index, flags=flags, ip_address=parse_ip(ip), nic_index=nic_index,
                  name=f"iqn.2026-01.test.ibftkit:disk{index}")


def tcp_reaches(n: Net, ip: str, port: int = 3260) -> bool:
    """Listen on ip:port in the server namespace and connect from the client: a real round trip."""
    sh("ip", "addr", "add", ip + ("/32" if ":" not in ip else "/128"), "dev", "lo", *(("nodad",) if ":" in ip else ()),
       ns=n.server)
    listener = subprocess.Popen(["ip", "netns", "exec", n.server, sys.executable, "-c", textwrap.dedent(f"""
        import socket, sys
        s = socket.create_server(({ip!r}, {port}), family=socket.AF_INET6 if ':' in {ip!r} else socket.AF_INET)
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


# --- the Must-show cases, through the library ----------------------------------------------------


def test_one_nic_target_on_link(net: Net, tmp_path: Path) -> None:
    cfg = boot_config(nic0(primary_dns=parse_ip("10.99.0.53")), targets=(tgt("10.99.0.1"),))
    plan = plan_network(cfg, links=list_links(net.client), set_hostname=False)
    resolv = tmp_path / "resolv.conf"
    apply_plan(plan, netns=net.client, resolv_conf=str(resolv))
    addr = sh("ip", "-o", "-4", "addr", "show", "dev", "c0", ns=net.client).stdout
    assert "inet 10.99.0.2/24" in addr
    routes = sh("ip", "route", "show", ns=net.client).stdout.splitlines()
    assert "default via 10.99.0.1 dev c0 proto static " in routes
    assert "10.99.0.1 dev c0 proto static scope link src 10.99.0.2 " in routes  # on-link: dev, no gateway
    assert "dev c0 src 10.99.0.2" in route_get(net.client, "10.99.0.1")  # direct, not via anything
    assert resolv.read_text() == "# generated by ibftkit\nnameserver 10.99.0.53\n"


def test_target_off_subnet_gets_host_route(net: Net) -> None:
    cfg = boot_config(nic0(gateway=parse_ip("10.99.0.1")), targets=(tgt("10.77.0.7"),))
    apply_plan(plan_network(cfg, links=list_links(net.client)), netns=net.client, resolv_conf="/nonexistent/x")
    routes = sh("ip", "route", "show", ns=net.client).stdout
    assert "10.77.0.7 via 10.99.0.1 dev c0 proto static" in routes
    assert route_get(net.client, "10.77.0.7").startswith("10.77.0.7 via 10.99.0.1 dev c0")
    assert tcp_reaches(net, "10.77.0.7")


def test_multipath_two_nics_two_targets(net: Net) -> None:
    second_pair(net)
    nic1 = Nic(index=1, ip_address=parse_ip("10.98.0.2"), prefix_len=24, gateway=parse_ip("10.98.0.1"), mac=MAC1)
    cfg = boot_config(nic0(), nic1, targets=(tgt("10.50.0.10", 0, 0), tgt("10.51.0.10", 1, 1, boot=False)))
    apply_plan(plan_network(cfg, links=list_links(net.client)), netns=net.client)
    routes = sh("ip", "route", "show", ns=net.client).stdout.splitlines()
    assert "10.50.0.10 via 10.99.0.1 dev c0 proto static src 10.99.0.2 " in routes
    assert "10.51.0.10 via 10.98.0.1 dev c1 proto static src 10.98.0.2 " in routes
    assert [r for r in routes if r.startswith("default")] == ["default via 10.99.0.1 dev c0 proto static "]
    assert tcp_reaches(net, "10.50.0.10") and tcp_reaches(net, "10.51.0.10")


def test_ipv6_nic_and_off_link_target(net: Net) -> None:
    n = nic0(ip_address=parse_ip("2001:db8:1::2"), prefix_len=64, gateway=parse_ip("2001:db8:1::1"))
    cfg = boot_config(n, targets=(tgt("2001:db8:9::10"),))
    sh("ip", "-6", "route", "add", "2001:db8:1::/64", "dev", "s0", ns=net.server, check=False)
    apply_plan(plan_network(cfg, links=list_links(net.client)), netns=net.client)
    addr = sh("ip", "-o", "-6", "addr", "show", "dev", "c0", ns=net.client).stdout
    assert "inet6 2001:db8:1::2/64 scope global nodad" in addr
    routes = sh("ip", "-6", "route", "show", ns=net.client).stdout
    assert "2001:db8:9::10 via 2001:db8:1::1 dev c0 proto static" in routes
    assert "default via 2001:db8:1::1 dev c0 proto static" in routes
    assert tcp_reaches(net, "2001:db8:9::10")


def test_apply_twice_same_state_and_nothing_changed(net: Net, tmp_path: Path) -> None:
    cfg = boot_config(nic0(primary_dns=parse_ip("10.99.0.53")), targets=(tgt("10.77.0.7"),))
    plan = plan_network(cfg, links=list_links(net.client), set_hostname=False)
    first = apply_plan(plan, netns=net.client, resolv_conf=str(tmp_path / "r"))
    after_first = state(net.client)
    second = apply_plan(plan, netns=net.client, resolv_conf=str(tmp_path / "r"))
    assert state(net.client) == after_first
    assert first.changed and not second.changed
    assert all("already" in line or "carrier on" in line for line in second.log)


def test_failure_mid_way_undoes_this_run_only(net: Net, tmp_path: Path) -> None:
    """NIC1's gateway is its subnet's broadcast address: its route fails (the kernel: Nexthop has invalid gateway)
    after NIC0 is fully done."""
    second_pair(net)
    sh("ip", "link", "set", "c1", "down", ns=net.client)  # so the run brings it up, and must put it down
    sh("ip", "addr", "add", "10.99.0.2/24", "dev", "c0", ns=net.client)  # already there: must survive
    sh("ip", "route", "add", "default", "via", "10.99.0.254", "dev", "c0", ns=net.client)  # replaced, restored
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 192.0.2.1\n")
    before = state(net.client)
    nic1 = Nic(index=1, ip_address=parse_ip("10.98.0.2"), prefix_len=24, gateway=parse_ip("10.98.0.255"), mac=MAC1)
    cfg = boot_config(nic0(), nic1, targets=(tgt("10.50.0.10", 0, 0), tgt("10.51.0.10", 1, 1, boot=False)))
    plan = plan_network(cfg, links=list_links(net.client))
    done: list[str] = []
    with pytest.raises(NetError) as e:
        apply_plan(plan, netns=net.client, resolv_conf=str(resolv), progress=done.append)
    assert done == ["step 1: c0 already up", done[1], "step 3: 10.99.0.2/24 already on c0", "step 4: set c1 up",
                    done[4], "step 6: added 10.98.0.2/24 to c1",
                    "step 7: replaced route 0.0.0.0/0 via 10.99.0.1 dev c0",
                    "step 8: added route 10.50.0.10/32 via 10.99.0.1 dev c0 src 10.99.0.2"]
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("step 9 (add route 10.51.0.10/32 via 10.98.0.255 dev c1 src 10.98.0.2 (target[1] is off")
    assert "Nexthop has invalid gateway" in msg or "unreachable" in msg
    assert state(net.client) == before
    assert resolv.read_text() == "nameserver 192.0.2.1\n"


def test_failure_undo_is_also_available_later(net: Net, tmp_path: Path) -> None:
    before = state(net.client)
    cfg = boot_config(nic0(primary_dns=parse_ip("10.99.0.53")), targets=(tgt("10.77.0.7"),))
    result = apply_plan(plan_network(cfg, links=list_links(net.client)), netns=net.client,
                        resolv_conf=str(tmp_path / "r"))
    assert state(net.client) != before
    assert undo(result) == []
    assert state(net.client) == before and not (tmp_path / "r").exists()


def test_carrier_never_comes(net: Net) -> None:
    sh("ip", "link", "set", "s0", "down", ns=net.server)  # the peer is down
    sh("ip", "link", "set", "c0", "down", ns=net.client)
    before = state(net.client)
    messages: list[str] = []
    plan = plan_network(boot_config(nic0(), targets=(tgt("10.99.0.1"),)), links=list_links(net.client))
    with pytest.raises(NetError) as e:
        apply_plan(plan, netns=net.client, carrier_timeout=1.5, progress=messages.append)
    assert str(e.value).startswith("step 2 (wait for carrier on c0): no carrier on c0 after 1.5 s")
    assert "\n" not in str(e.value)
    assert any(m.startswith("waiting for carrier on c0 (") and m.endswith("of 1.5 s)") for m in messages)
    assert state(net.client) == before  # c0 is down again


def test_vlan_apply_creates_the_link_or_says_why(net: Net) -> None:
    """This kernel has no 802.1Q: then the error names it and nothing stays; elsewhere c0.42 appears."""
    before = state(net.client)
    plan = plan_network(boot_config(nic0(vlan=42), targets=(tgt("10.99.0.1"),)), links=list_links(net.client))
    try:
        apply_plan(plan, netns=net.client)
    except NetError as e:
        assert str(e) == ("step 3 (create 802.1Q link c0.42 (VID 42) on c0): kernel has no 802.1Q support "
                          "(modprobe 8021q); this run's changes were undone")
        assert state(net.client) == before
        return
    out = sh("ip", "-d", "-o", "addr", "show", "dev", "c0.42", ns=net.client).stdout
    assert "vlan protocol 802.1Q id 42" in sh("ip", "-d", "link", "show", "c0.42", ns=net.client).stdout
    assert "inet 10.99.0.2/24" in out


def test_missing_namespace_is_not_created() -> None:
    with pytest.raises(NetError, match="network namespace 'ibk-no-such-ns' does not exist"):
        apply_plan(NetPlan(), netns="ibk-no-such-ns")
    assert not Path("/run/netns/ibk-no-such-ns").exists()


# --- the CLI, under ip netns exec + unshare --uts --------------------------------------------------


def write_table(tmp_path: Path, cfg: BootConfig) -> Path:
    from ibftkit.sources.ibft.encode import encode_table

    path = tmp_path / "ibft.bin"
    path.write_bytes(encode_table(cfg, "ipxe"))
    return path


def cli(ns: str, *argv: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    root = str(Path(__file__).resolve().parents[2])
    return sh("unshare", "--uts", *CLI, *argv, ns=ns, check=check, cwd=root)


def test_cli_plan_sees_the_namespace_links(net: Net, tmp_path: Path) -> None:
    table = write_table(tmp_path, boot_config(nic0(), targets=(tgt("10.77.0.7"),)))
    out = cli(net.client, "plan", "--ibft", str(table), check=True).stdout
    assert "  1. set link c0 up" in out and "add route 10.77.0.7/32 via 10.99.0.1 dev c0" in out


def test_cli_apply_twice_then_hostname(net: Net, tmp_path: Path) -> None:
    cfg = boot_config(nic0(primary_dns=parse_ip("10.99.0.53"), hostname="ibft-client"), targets=(tgt("10.77.0.7"),))
    table = write_table(tmp_path, cfg)
    resolv = tmp_path / "resolv.conf"
    args = ["net", "apply", "--ibft", str(table), "--resolv-conf", str(resolv), "--carrier-timeout", "5"]
    # Each run gets a fresh UTS namespace, so the host name would be "changed" every time: leave it out here.
    first = cli(net.client, *args, "--no-hostname")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "network configured: 4 changes\n"  # address, default route, host route, resolv.conf
    after_first = state(net.client)
    second = cli(net.client, *args, "--no-hostname")
    assert second.returncode == 0, second.stderr
    assert second.stdout == "network configured: 0 changes (already as planned)\n"
    assert state(net.client) == after_first
    assert "nameserver 10.99.0.53" in resolv.read_text()
    # The host name lives in the private UTS namespace of the command: ask it there.
    root = str(Path(__file__).resolve().parents[2])
    shown = sh("unshare", "--uts", "sh", "-c", " ".join([*CLI, *args]) + " >/dev/null && hostname",
               ns=net.client, cwd=root)
    assert shown.stdout.strip() == "ibft-client"
    no_name = sh("unshare", "--uts", "sh", "-c", " ".join([*CLI, *args, "--no-hostname"]) + " >/dev/null && hostname",
                 ns=net.client, cwd=root)
    assert no_name.stdout.strip() != "ibft-client"


def test_cli_failure_is_one_line_and_leaves_nothing(net: Net, tmp_path: Path) -> None:
    second_pair(net)
    before = state(net.client)
    nic1 = Nic(index=1, ip_address=parse_ip("10.98.0.2"), prefix_len=24, gateway=parse_ip("10.98.0.255"), mac=MAC1)
    cfg = boot_config(nic0(), nic1, targets=(tgt("10.50.0.10", 0, 0), tgt("10.51.0.10", 1, 1, boot=False)))
    table = write_table(tmp_path, cfg)
    got = cli(net.client, "net", "apply", "--ibft", str(table), "--resolv-conf", str(tmp_path / "r"), "--json")
    assert got.returncode == 1
    errors = [ln for ln in got.stderr.splitlines() if not re.match(r"ibftkit: (note: |warning: |step \d+: )", ln)]
    assert len(errors) == 1 and errors[0].startswith("ibftkit: step 9 (add route 10.51.0.10/32 via 10.98.0.255")
    assert "Traceback" not in got.stderr
    assert state(net.client) == before


def test_cli_apply_static_root_path(net: Net, tmp_path: Path) -> None:
    got = cli(net.client, "net", "apply", "--root-path", "iscsi:10.77.0.7::3260:1:iqn.2026-01.test.ibftkit:disk",
              "--interface", "c0", "--address", "10.99.0.2/24", "--gateway", "10.99.0.1", "--dns", "10.99.0.53",
              "--initiator-name", "iqn.2026-01.test.ibftkit:init", "--resolv-conf", str(tmp_path / "r"))
    assert got.returncode == 0, got.stderr
    assert "10.77.0.7 via 10.99.0.1 dev c0 proto static" in sh("ip", "route", ns=net.client).stdout
    assert tcp_reaches(net, "10.77.0.7")


def test_cli_apply_speaks_netlink_without_asyncio(net: Net, tmp_path: Path) -> None:
    """``net apply`` in the namespace (address, routes, resolv.conf) through ``network.netlink.Rtnl``:
    neither asyncio nor pyroute2's ``IPRoute`` is imported on the way."""
    table = write_table(tmp_path, boot_config(nic0(), targets=(tgt("10.77.0.7"),)))
    code = ("import sys\nfrom ibftkit.cli.main import main\n"
            f"rc = main(['net', 'apply', '--ibft', {str(table)!r}, '--resolv-conf', {str(tmp_path / 'r')!r}, "
            "'--no-hostname'])\n"
            "print(rc, [m for m in ('asyncio', 'pyroute2.iproute.linux') if m in sys.modules], file=sys.stderr)\n")
    root = str(Path(__file__).resolve().parents[2])
    got = sh("unshare", "--uts", sys.executable, "-c", code, ns=net.client, cwd=root)
    assert got.stderr.splitlines()[-1] == "0 []", got.stderr
    assert "10.77.0.7 via 10.99.0.1 dev c0 proto static" in sh("ip", "route", "show", ns=net.client).stdout
