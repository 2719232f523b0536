"""``ibftkit-init`` end to end in network namespaces (root): iBFT path and DHCP path (real dnsmasq),
ending in the login command, plus the failure matrix with its exit codes and messages.

The client namespace is the machine being booted: its veth ``c0`` has the MAC the table names.
The server namespace holds 10.99.0.1/24 (gateway and "target" address) and, for the DHCP path, a
real dnsmasq. ``ibftkit-init`` runs as the installed script under ``ip netns exec C unshare --uts``
(its own /sys, and it can never rename this machine), with ``--firmware-root`` an empty directory
and ``--cmdline`` a file, so this host's firmware and command line play no part. ``iscsistart``
(and ``iscsiadm``/``iscsid``) are recorders (``tests/netns/recorder.py``) that save argv and
environment; the real ones run in the VM tests. Secrets are checked everywhere they could leak:
stdout, stderr, the kernel-log file, resolv.conf, the child's environment, and the child's argv
outside iscsistart's own ``-w``/``-W`` values.
"""

from __future__ import annotations

import dataclasses
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dnsmasq import Dnsmasq, opt  # tests/netns/dnsmasq.py
from nettools import Namespaces, namespaces, sh  # tests/nettools.py
from recorder import calls, make_recorder  # tests/netns/recorder.py

from ibftkit.model import (
    BootConfig,
    ChapType,
    Initiator,
    Lun,
    Nic,
    Origin,
    PciAddress,
    Secret,
    Target,
    TargetFlags,
    parse_ip,
)
from ibftkit.sources.ibft.encode import encode_table

pytestmark = pytest.mark.netns

MAC = "02:1b:f7:00:00:30"
INIT = "iqn.2026-01.test.ibftkit:init"
DISK0 = "iqn.2026-01.test.ibftkit:disk0"
DISK1 = "iqn.2026-01.test.ibftkit:disk1"
SECRET = "s3cret-chap-0123"
RSECRET = "r3verse-chap-4567"
SECRETS = (SECRET, RSECRET)
BIN = Path(sys.executable).parent / "ibftkit-init"
INIT_CMD = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "ibftkit.cli.init"]
CLEAN = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}


def table(*, mac: str = MAC, chap: bool = True, two: bool = False) -> BootConfig:
    nic = Nic(index=0, ip_address=parse_ip("10.99.0.2"), prefix_len=24, gateway=parse_ip("10.99.0.1"),
              primary_dns=parse_ip("10.99.0.53"), origin=Origin.MANUAL, mac=mac, hostname="bootclient",
              pci_bdf=PciAddress.parse("00:03.0"))  # where QEMU puts the first NIC, as firmware records it
    creds = dict(chap_type=ChapType.MUTUAL, chap_name="user1", chap_secret=Secret(SECRET),
                 reverse_chap_name="target1", reverse_chap_secret=Secret(RSECRET)) if chap else {}
    targets = [Target(index=0, ip_address=parse_ip("10.99.0.1"), port=3260, lun=Lun.from_linux(1), name=DISK0,
                      nic_index=0, **creds)]  # type: ignore[arg-type]
    if two:
        targets.append(Target(index=1, flags=TargetFlags.VALID, ip_address=parse_ip("10.98.0.1"), port=3260,
                              lun=Lun.from_linux(2), name=DISK1, nic_index=0))
    return BootConfig(initiator=Initiator(INIT), nics=(nic,), targets=tuple(targets), source="netns-test")


@dataclass
class Run:
    code: int
    out: str
    err: str
    kmsg: str
    resolv: str


@dataclass
class Box:
    ns: Namespaces
    client: str
    server: str
    tmp: Path
    rec: Path = field(init=False)

    def __post_init__(self) -> None:
        (self.tmp / "fw").mkdir()
        (self.tmp / "cmdline").write_text("BOOT_IMAGE=/vmlinuz quiet\n")
        self.rec = make_recorder(self.tmp / "rec")

    def write_table(self, cfg: BootConfig) -> Path:
        path = self.tmp / "table.bin"
        path.write_bytes(encode_table(cfg))
        return path

    def init(self, *argv: str, iscsistart: Path | str | None = None, timeout: float = 120) -> Run:
        kmsg, resolv = self.tmp / "kmsg", self.tmp / "resolv.conf"
        kmsg.touch()
        cmd = ["unshare", "--uts", *INIT_CMD, "--iscsistart", str(iscsistart or self.rec),
               "--resolv-conf", str(resolv), "--firmware-root", str(self.tmp / "fw"),
               "--cmdline", str(self.tmp / "cmdline"), "--kmsg", str(kmsg),
               "--initiatorname-file", str(self.tmp / "initiatorname.iscsi"), "--login-backoff", "0.1",
               "--portal-timeout", "0", *argv]  # no portal listens here unless a test starts one
        r = sh(*cmd, ns=self.client, check=False, timeout=timeout)
        return Run(r.returncode, r.stdout, r.stderr, kmsg.read_text(),
                   resolv.read_text() if resolv.exists() else "")

    def addresses(self) -> str:
        return sh("ip", "-o", "-4", "addr", "show", "dev", "c0", ns=self.client).stdout


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    with namespaces() as ns:
        client, server = ns.add("ibkic"), ns.add("ibkis")
        ns.veth(client, "c0", server, "s0", mac_a=MAC, up=False)
        sh("ip", "link", "set", "s0", "up", ns=server)  # c0 stays down: ibftkit-init sets it up
        sh("ip", "addr", "add", "10.99.0.1/24", "dev", "s0", ns=server)
        yield Box(ns, client, server, tmp_path)


def assert_no_leak(run: Run, *, extra: tuple[str, ...] = ()) -> None:
    for s in SECRETS + extra:
        for where, text in (("stdout", run.out), ("stderr", run.err), ("kmsg", run.kmsg), ("resolv", run.resolv)):
            assert s not in text, f"secret in {where}"


def assert_child_clean(call: dict[str, object], *, allowed: dict[str, str] | None = None) -> None:
    """The child's environment is the clean one, and secrets appear in its argv only after -w/-W."""
    env = dict(call["env"])  # type: ignore[call-overload]
    env.pop("LC_CTYPE", None)  # Python's C-locale coercion in the recorder itself (PEP 538)
    assert env == CLEAN
    for s in SECRETS:
        assert not any(s in v for v in env.values())
    argv: list[str] = call["argv"]  # type: ignore[assignment]
    holders = [argv[k - 1] for k, a in enumerate(argv) if any(s in a for s in SECRETS)]
    assert set(holders) <= set((allowed or {"-w": "", "-W": ""}).keys())


# --- the iBFT path -----------------------------------------------------------------------------------------


def test_ibft_path_end_to_end(box: Box) -> None:
    t = box.write_table(table())
    r = box.init("--ibft", str(t))
    assert r.code == 0, r.err
    # the network as the table says
    assert "inet 10.99.0.2/24" in box.addresses()
    assert "default via 10.99.0.1 dev c0" in sh("ip", "route", "show", ns=box.client).stdout
    assert r.resolv.startswith("# generated by ibftkit") and "nameserver 10.99.0.53" in r.resolv
    # the exact iscsistart invocation
    (call,) = calls(box.tmp / "rec")
    assert call["argv"][1:] == [
        "-i", INIT, "-t", DISK0, "-g", "1", "-a", "10.99.0.1", "-p", "3260",
        "-u", "user1", "-w", SECRET, "-U", "target1", "-W", RSECRET,
        "-P", "node.session.timeo.replacement_timeout=86400", "-P", "node.conn[0].timeo.noop_out_interval=0",
        "-P", "node.conn[0].timeo.noop_out_timeout=0", "-P", "node.session.initial_login_retry_max=3"]
    assert call["cwd"] == "/" and not call["stdin_tty"]
    assert_child_clean(call)
    assert_no_leak(r)
    # quiet when it works: the source line and the login line, nothing else; the kernel log has them too
    lines = r.err.splitlines()
    assert lines[0].startswith("ibftkit-init: boot configuration from options (--ibft ")
    assert lines[-1].startswith(f"ibftkit-init: logged in to target[0] {DISK0} at 10.99.0.1:3260")
    assert len(lines) == 3  # + "logging in to …"
    assert "<5>ibftkit: logged in to target[0]" in r.kmsg


def test_timings_line_even_when_quiet(box: Box) -> None:
    """--timings: one line at the end naming every phase, from the process's start, also with --quiet."""
    r = box.init("--ibft", str(box.write_table(table())), "--timings", "--quiet")
    assert r.code == 0, r.err
    (line,) = r.err.splitlines()
    assert re.fullmatch(r"ibftkit-init: times: start-up [0-9.]+ s, options [0-9.]+ s, source [0-9.]+ s, "
                        r"plan [0-9.]+ s, network [0-9.]+ s, login [0-9.]+ s, total [0-9.]+ s "
                        r"\([0-9.]+-[0-9.]+ s since boot\)", line), line


def _firmware_tree(box: Box, cfg: BootConfig) -> None:
    """This system's iBFT as the ACPI table and the kernel's view of its NIC, under --firmware-root."""
    fw = box.tmp / "fw" / "sys/firmware"
    (fw / "acpi/tables").mkdir(parents=True, exist_ok=True)
    (fw / "acpi/tables/iBFT").write_bytes(encode_table(cfg))
    (fw / "ibft/ethernet0").mkdir(parents=True, exist_ok=True)
    (fw / "ibft/ethernet0/mac").write_text(cfg.nics[0].mac + "\n")  # type: ignore[operator]


def test_firmware_nic_is_set_up_first_and_down_again_when_the_run_fails(box: Box) -> None:
    """ibftkit.network.linkup: the NIC of the kernel's iBFT view goes up before anything is imported; when no
    login is possible (here: the table's target has no name) it goes down again, exit 3."""
    _firmware_tree(box, table())
    r = box.init("--verbose")
    assert r.code == 0, r.err
    assert any("set c0 up (before the imports)" in ln for ln in r.err.splitlines())
    sh("ip", "link", "set", "c0", "down", ns=box.client)
    sh("ip", "addr", "flush", "dev", "c0", ns=box.client)
    bad = table()
    _firmware_tree(box, bad.replace(targets=(dataclasses.replace(bad.targets[0], name=""),)))
    r = box.init("--verbose")
    assert r.code == 3, r.err
    assert r.err.splitlines()[0] == "ibftkit-init: set c0 up at start-up (its MAC is a NIC's in /sys/firmware/ibft)"
    assert "state DOWN" in sh("ip", "link", "show", "c0", ns=box.client).stdout
    assert calls(box.tmp / "rec")[1:] == []  # only the first run logged in


def test_table_written_by_real_firmware(tmp_path: Path) -> None:
    """The iPXE table captured under SeaBIOS (mutual CHAP): its NIC's MAC on a veth, its gateway and
    target address 10.0.2.2 on the other side."""
    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "ibft" / "ipxe-bios-mutual-chap.bin"
    with namespaces() as ns:
        client, server = ns.add("ibkic"), ns.add("ibkis")
        ns.veth(client, "c0", server, "s0", mac_a="52:54:00:12:34:56", up=False)
        sh("ip", "link", "set", "s0", "up", ns=server)
        sh("ip", "addr", "add", "10.0.2.2/24", "dev", "s0", ns=server)
        box = Box(ns, client, server, tmp_path)
        r = box.init("--ibft", str(fixture))
        assert r.code == 0, r.err
        assert "inet 10.0.2.15/24" in box.addresses()  # origin DHCP, applied as the firmware had it
    (call,) = calls(box.tmp / "rec")
    assert call["argv"][1:19] == ["-i", "iqn.2026-11.org.example:initiator03", "-t",
                                  "iqn.2026-11.org.example:mutual.disk", "-g", "1", "-a", "10.0.2.2", "-p", "3260",
                                  "-u", "initiator-user", "-w", "initiator-secret1",
                                  "-U", "target-user", "-W", "target-secret01"]
    env = dict(call["env"])
    env.pop("LC_CTYPE", None)
    assert env == CLEAN
    assert_no_leak(r, extra=("initiator-secret1", "target-secret01"))


def test_ibft_path_is_idempotent_and_the_hostname_stays_in_its_uts_namespace(box: Box) -> None:
    import socket

    t = box.write_table(table(chap=False))
    assert box.init("--ibft", str(t)).code == 0
    assert box.init("--ibft", str(t)).code == 0  # a second run finds the network as planned
    assert socket.gethostname() != "bootclient"
    assert len(calls(box.tmp / "rec")) == 2


def test_multipath_second_target_logged_in_after_the_boot_target(box: Box) -> None:
    sh("ip", "addr", "add", "10.98.0.1/32", "dev", "lo", ns=box.server)
    t = box.write_table(table(two=True))
    r = box.init("--ibft", str(t), "--verbose", "--wait-for-all-paths")
    assert r.code == 0, r.err
    got = [c["argv"][c["argv"].index("-t") + 1] for c in calls(box.tmp / "rec")]
    assert got == [DISK0, DISK1]
    assert "10.98.0.1 via 10.99.0.1 dev c0" in sh("ip", "route", "show", ns=box.client).stdout
    second = calls(box.tmp / "rec")[1]["argv"]
    assert "-w" not in second  # the second target has no CHAP
    assert "2 of 2 targets logged in" in r.err
    assert_no_leak(r)


SLOW_PATH = """#!{python}
import os, sys, time
name = sys.argv[sys.argv.index("-t") + 1]
open(os.path.join({d!r}, "started-" + name[-5:]), "w").close()
if name.endswith("disk1"):
    time.sleep(8)  # a path that does not answer: iscsistart waits for its transport timeout
    open(os.path.join({d!r}, "done-" + name[-5:]), "w").close()
    print("iscsistart: initiator reported error (8 - connection timed out)", file=sys.stderr)
    sys.exit(8)
print("iscsistart: Logging into target")
"""


def test_a_dead_path_does_not_hold_the_boot(box: Box) -> None:
    """The boot target logs in; the second path hangs: ibftkit-init returns while that login still
    runs (in a child process), and the child's outcome reaches the kernel log later."""
    sh("ip", "addr", "add", "10.98.0.1/32", "dev", "lo", ns=box.server)
    d = box.tmp / "slow"
    d.mkdir()
    prog = d / "iscsistart"
    prog.write_text(SLOW_PATH.format(python=sys.executable, d=str(d)))
    prog.chmod(0o755)
    t = box.write_table(table(two=True))
    r = box.init("--ibft", str(t), "--login-retries", "0", iscsistart=prog)
    assert r.code == 0, r.err
    assert not (d / "done-disk1").exists()  # returned while the second path was still logging in
    assert "1 other path(s) still logging in" in r.err and f"logged in to target[0] {DISK0}" in r.err
    for _ in range(300):
        if "target[1]" in box.tmp.joinpath("kmsg").read_text() and (d / "done-disk1").exists():
            if "login failed after 1 attempt" in box.tmp.joinpath("kmsg").read_text():
                break
        time.sleep(0.1)
    kmsg = box.tmp.joinpath("kmsg").read_text()
    assert f"target[1] {DISK1} at 10.98.0.1:3260: login failed after 1 attempt; last: iscsistart exit 8" in kmsg
    assert "another path; the boot target is what counts" in kmsg


def test_a_dead_boot_portal_is_given_up_without_a_login(box: Box) -> None:
    """Nothing listens on 10.99.0.1:3260: each attempt is a refused TCP connect, reported, and no
    iscsistart runs; the first progress line announced the bound."""
    t = box.write_table(table())
    r = box.init("--ibft", str(t), "--login-retries", "1", "--portal-timeout", "2")
    assert r.code == 5
    assert calls(box.tmp / "rec") == []
    lines = r.err.splitlines()
    assert sum("TCP connect to the portal failed: connection refused; no login attempt" in ln for ln in lines) == 2
    assert any("(attempt 1 of 2; the boot target is given up within 4 s if its portal does not answer, within "
               "244 s in any case)" in ln for ln in lines)
    assert lines[-1].endswith("login failed after 2 attempts; last: TCP connect to the portal failed: "
                              "connection refused")
    assert_no_leak(r)


def test_a_live_portal_is_probed_then_logged_in(box: Box) -> None:
    srv = subprocess.Popen(["ip", "netns", "exec", box.server, sys.executable, "-c",
                            "import socket,time; s=socket.create_server(('10.99.0.1', 3260)); time.sleep(60)"])
    try:
        for _ in range(50):
            if ":3260" in sh("ss", "-ltn", ns=box.server).stdout:
                break
            time.sleep(0.1)
        t = box.write_table(table())
        r = box.init("--ibft", str(t), "--portal-timeout", "3", "--verbose")
        assert r.code == 0, r.err
        assert "the portal answers (TCP connect)" in r.err and len(calls(box.tmp / "rec")) == 1
    finally:
        srv.kill()
        srv.wait()


def test_param_override_reaches_iscsistart(box: Box) -> None:
    t = box.write_table(table(chap=False))
    r = box.init("--ibft", str(t), "--param", "node.session.timeo.replacement_timeout=20",
                 "--param", "node.session.auth.chap_algs=SHA256,MD5")
    assert r.code == 0, r.err
    argv = calls(box.tmp / "rec")[0]["argv"]
    params = [argv[k + 1] for k, a in enumerate(argv) if a == "-P"]
    assert params[0] == "node.session.timeo.replacement_timeout=20"
    assert params[-1] == "node.session.auth.chap_algs=SHA256,MD5"


def test_debug_shows_commands_redacted(box: Box) -> None:
    t = box.write_table(table())
    r = box.init("--ibft", str(t), "--debug")
    assert r.code == 0, r.err
    plus = [ln for ln in r.err.splitlines() if "+ " in ln and str(box.rec) in ln]
    assert plus and "-w <redacted>" in plus[0] and "-W <redacted>" in plus[0]
    assert_no_leak(r)


# --- the DHCP path (real dnsmasq) ---------------------------------------------------------------------------


def test_dhcp_path_end_to_end(box: Box) -> None:
    root_path = f"iscsi:10.99.0.1::3260:1:{DISK0}"
    with Dnsmasq(box.server, "s0", "10.99.0.100,10.99.0.150,255.255.255.0,1h",
                 "dhcp-option=option:router,10.99.0.1", "dhcp-option=option:dns-server,10.99.0.53",
                 f"dhcp-host={MAC},10.99.0.77,dhcpclient", opt("option:root-path", root_path), opt(203, INIT)):
        r = box.init("--dhcp-timeout", "20", "--no-hostname")
    assert r.code == 0, r.err
    assert "not used: kernel command line: no netroot=iscsi:…; iBFT: no iBFT on this system" in r.err
    assert "boot configuration from dhcp (lease 10.99.0.77/24 on c0 from 10.99.0.1)" in r.err
    assert "inet 10.99.0.77/24" in box.addresses()
    assert "default via 10.99.0.1 dev c0" in sh("ip", "route", "show", ns=box.client).stdout
    assert "nameserver 10.99.0.53" in r.resolv
    (call,) = calls(box.tmp / "rec")
    assert call["argv"][1:11] == ["-i", INIT, "-t", DISK0, "-g", "1", "-a", "10.99.0.1", "-p", "3260"]
    assert_child_clean(call)
    assert_no_leak(r)


def test_kernel_cmdline_netroot_with_address_by_dhcp_and_chap(box: Box) -> None:
    (box.tmp / "cmdline").write_text(
        f"rd.iscsi.initiator={INIT} ip=c0:dhcp netroot=iscsi:user1:{SECRET}@10.99.0.1::::{DISK0}\n")
    with Dnsmasq(box.server, "s0", "10.99.0.100,10.99.0.150,255.255.255.0,1h",
                 "dhcp-option=option:router,10.99.0.1", f"dhcp-host={MAC},10.99.0.78"):
        r = box.init("--dhcp-timeout", "20")
    assert r.code == 0, r.err
    assert "boot configuration from cmdline (1 netroot=iscsi:…)" in r.err
    assert "inet 10.99.0.78/24" in box.addresses()
    (call,) = calls(box.tmp / "rec")
    argv = call["argv"]
    assert argv[argv.index("-u") + 1] == "user1" and argv[argv.index("-w") + 1] == SECRET
    assert "/proc/cmdline" in r.err  # the warning that the command line carries a secret
    assert_child_clean(call)
    assert_no_leak(r)


def test_kernel_cmdline_static_ip_as_dracut_writes_it(box: Box) -> None:
    """The command line alone (no iBFT, no DHCP): a static ip= with the MTU field, nameserver=, two
    netroot= and rd.iscsi.target.group; the plan is applied for real and both targets are logged in to."""
    (box.tmp / "cmdline").write_text(
        f"rd.iscsi.initiator={INIT} ip=10.99.0.77::10.99.0.1:255.255.255.0:cmdhost:c0:none "
        f"nameserver=10.99.0.53 rd.iscsi.target.group=3 netroot=iscsi:10.99.0.1::::{DISK0} "
        f"netroot=iscsi:10.99.0.1::3261::{DISK1} team=team0:c0\n")
    r = box.init("--no-hostname", "--wait-for-all-paths")
    assert r.code == 0, r.err
    assert "boot configuration from cmdline (2 netroot=iscsi:…)" in r.err
    assert "team=team0:c0: teaming (teamd) is not supported" in r.err  # a valid word, warned, not fatal
    assert "inet 10.99.0.77/24" in box.addresses()
    assert "default via 10.99.0.1 dev c0" in sh("ip", "route", "show", ns=box.client).stdout
    assert "nameserver 10.99.0.53" in r.resolv
    first, second = calls(box.tmp / "rec")
    assert first["argv"][1:9] == ["-i", INIT, "-t", DISK0, "-g", "3", "-a", "10.99.0.1"]
    assert second["argv"][second["argv"].index("-p") + 1] == "3261"
    assert_child_clean(first)


def test_words_naming_no_interface_use_the_nics_with_carrier(box: Box) -> None:
    """ip=link6 names no interface; of two NICs only c0 has carrier (c1's peer is down): the words
    configure c0 and the run does not wait for, or fail on, the unplugged c1 (ifb-like links never count)."""
    box.ns.veth(box.client, "c1", box.server, "s1", up=False)
    (box.tmp / "cmdline").write_text(f"rd.iscsi.initiator={INIT} ip=link6 netroot=iscsi:10.99.0.1::::{DISK0}\n")
    r = box.init("--carrier-timeout", "3", "--verbose")
    assert r.code == 0, r.err
    assert "ip= words naming no interface: c0 (the NICs with carrier)" in r.err
    assert "c1" not in "".join(line for line in r.err.splitlines() if "step" in line)
    (call,) = calls(box.tmp / "rec")
    assert call["argv"][1:5] == ["-i", INIT, "-t", DISK0]


# --- the failure matrix -------------------------------------------------------------------------------------


def test_no_configuration_anywhere(box: Box) -> None:
    r = box.init("--dhcp-timeout", "2", "--carrier-timeout", "2")  # no table, no netroot, DHCP silent
    assert r.code == 3
    (line,) = r.err.splitlines()[-1:]
    assert line.startswith("ibftkit-init: no boot configuration found: kernel command line: no netroot=iscsi:…; "
                           "iBFT: no iBFT on this system")
    assert "DHCP: " in line and "c0" in line
    assert calls(box.tmp / "rec") == []
    assert "<3>ibftkit: no boot configuration found" in r.kmsg


def test_firmware_demanded_but_absent(box: Box) -> None:
    (box.tmp / "cmdline").write_text("rd.iscsi.firmware=1\n")
    r = box.init()
    assert r.code == 3 and "iBFT: no iBFT on this system" in r.err and "DHCP" not in r.err


def test_no_nic_with_that_mac(box: Box) -> None:
    t = box.write_table(table(mac="02:1b:f7:00:00:99"))
    r = box.init("--ibft", str(t))
    assert r.code == 4
    assert r.err.splitlines()[-1] == ("ibftkit-init: NIC[0]: no link has MAC 02:1b:f7:00:00:99 "
                                      f"(links: c0 {MAC})")
    assert calls(box.tmp / "rec") == [] and "10.99.0.2" not in box.addresses()


def test_no_carrier(box: Box) -> None:
    sh("ip", "link", "set", "s0", "down", ns=box.server)
    t = box.write_table(table())
    r = box.init("--ibft", str(t), "--carrier-timeout", "1.5")
    assert r.code == 4
    assert r.err.splitlines()[-1] == ("ibftkit-init: step 2 (wait for carrier on c0): no carrier on c0 after 1.5 s "
                                      "(cable, switch port or peer down?); this run's changes were undone")
    assert any("waiting for carrier on c0" in ln for ln in r.err.splitlines())  # progress during the wait
    assert calls(box.tmp / "rec") == []
    assert "state DOWN" in sh("ip", "link", "show", "c0", ns=box.client).stdout  # undone


def test_dhcp_silent_for_the_address(box: Box) -> None:
    r = box.init("--root-path", f"iscsi:10.99.0.1::::{DISK0}", "--interface", "c0", "--initiator-name", INIT,
                 "--carrier-timeout", "3")
    assert r.code == 4
    assert "ask DHCP for the address of c0" in r.err.splitlines()[-1]
    assert "no DHCPOFFER" in r.err or "DHCP" in r.err.splitlines()[-1]
    assert calls(box.tmp / "rec") == []


def test_login_fails_every_time(box: Box) -> None:
    rec = make_recorder(box.tmp / "always", fail_times=99)
    t = box.write_table(table())
    r = box.init("--ibft", str(t), "--login-retries", "2", iscsistart=rec)
    assert r.code == 5
    assert len(calls(box.tmp / "always")) == 3
    last = r.err.splitlines()[-1]
    assert last.startswith(f"ibftkit-init: target[0] {DISK0} at 10.99.0.1:3260: login failed after 3 attempts; "
                           "last: iscsistart exit 1: error 19: login failed (target refused)")
    assert sum("retrying in" in ln for ln in r.err.splitlines()) == 2
    assert "inet 10.99.0.2/24" in box.addresses()  # the network stays up for a rescue shell
    for c in calls(box.tmp / "always"):
        assert_child_clean(c)
    assert_no_leak(r)


def test_login_fails_twice_then_succeeds(box: Box) -> None:
    rec = make_recorder(box.tmp / "flaky", fail_times=2)
    t = box.write_table(table())
    r = box.init("--ibft", str(t), iscsistart=rec)
    assert r.code == 0, r.err
    assert len(calls(box.tmp / "flaky")) == 3
    lines = r.err.splitlines()
    assert any("(attempt 3 of 4)" in ln for ln in lines)
    assert lines[-1].startswith(f"ibftkit-init: logged in to target[0] {DISK0}")
    assert_no_leak(r)


def test_iscsistart_missing(box: Box) -> None:
    t = box.write_table(table())
    r = box.init("--ibft", str(t), iscsistart=box.tmp / "no-such-iscsistart")
    assert r.code == 5
    assert r.err.splitlines()[-1] == (f"ibftkit-init: {box.tmp / 'no-such-iscsistart'}: not found or not executable "
                                      "(needed to log in; --iscsistart)")
    assert "10.99.0.2" not in box.addresses()  # checked before touching the network


def test_exit_codes_in_help() -> None:
    r = subprocess.run([*INIT_CMD, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for code in ("0  the boot target", "2  usage", "3  no boot configuration", "4  network failed", "5  login failed"):
        assert code in r.stdout


# --- the iscsiadm backend: secrets only in a mode-0600 node record --------------------------------------------


def test_iscsiadm_backend_keeps_secrets_off_argv(box: Box) -> None:
    adm = make_recorder(box.tmp / "adm", "iscsiadm", ok_message="Login to [iface: default, ...] successful.")
    iscsid = make_recorder(box.tmp / "iscsid", "iscsid", ok_message="")
    nodes, run_dir = box.tmp / "nodes", box.tmp / "run"
    t = box.write_table(table())
    r = box.init("--ibft", str(t), "--backend", "iscsiadm", "--iscsiadm", str(adm), "--iscsid", str(iscsid),
                 "--node-dir", str(nodes), "--run-dir", str(run_dir), "--iscsid-pidfile", str(box.tmp / "pid"))
    assert r.code == 0, r.err
    (d,) = calls(box.tmp / "iscsid")
    assert d["argv"][1:] == ["-i", str(run_dir / "initiatorname.iscsi"), "-p", str(box.tmp / "pid")]
    assert (run_dir / "initiatorname.iscsi").read_text() == f"InitiatorName={INIT}\n"
    (a,) = calls(box.tmp / "adm")
    assert a["argv"][1:] == ["-m", "node", "-T", DISK0, "-p", "10.99.0.1:3260,1", "-I", "default", "--login"]
    for c in (a, d):
        assert_child_clean(c, allowed={})
    record = nodes / DISK0 / "10.99.0.1,3260,1" / "default"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert stat.S_IMODE(record.parent.stat().st_mode) == 0o700
    text = record.read_text()
    assert f"node.session.auth.password = {SECRET}" in text and f"node.session.auth.password_in = {RSECRET}" in text
    assert_no_leak(r)


def test_iscsiadm_backend_removes_the_record_when_login_fails(box: Box) -> None:
    adm = make_recorder(box.tmp / "adm", "iscsiadm", fail_times=99, fail_code=24,
                        fail_message="iscsiadm: Login failed: authorization failure")
    iscsid = make_recorder(box.tmp / "iscsid", "iscsid", ok_message="")
    nodes = box.tmp / "nodes"
    t = box.write_table(table())
    r = box.init("--ibft", str(t), "--backend", "iscsiadm", "--iscsiadm", str(adm), "--iscsid", str(iscsid),
                 "--node-dir", str(nodes), "--run-dir", str(box.tmp / "run"), "--iscsid-pidfile",
                 str(box.tmp / "pid"), "--login-retries", "1")
    assert r.code == 5
    assert "error 24: authorization failure" in r.err.splitlines()[-1]
    assert not list(nodes.rglob("default"))
    assert_no_leak(r)
