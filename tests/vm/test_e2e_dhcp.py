"""The DHCP path boots a real VM to its iSCSI disk (tools/vm/vmharness/dhcpnet.py, docs/vm-e2e.md).

No firmware writes a table: QEMU boots the Debian kernel directly, its e1000 (no ROM) on a tap device
in a private network namespace where a real ``dnsmasq`` serves options 17 (root path) and 203
(initiator name) and a real ``tgtd`` serves the target. The guest's ``ibftkit-init`` must find no
iBFT, take a lease with its scapy client, configure eth0 with pyroute2 and log in with the real
``iscsistart``; the case passes only if the target's marker is read from the disk. The anchor guest
(busybox ``udhcpc``, then ``iscsistart`` with the root path's fields) must read it too, so the
bench's DHCP-path anchor (bench/vm_boot.py) is proven here as well.

The tests at the end are pure (no guest, not marked ``vm``): what dnsmasq is given, and how the
host reads ibftkit-init's step times and dnsmasq's leases.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from vmharness import capture, dhcpnet, pyguest, qemu


@pytest.fixture(scope="module")
def dhcp_ready(capture_ready):
    """Root, QEMU, tgtd and the assets (capture_ready), and dnsmasq."""
    if shutil.which("dnsmasq") is None and not Path(dhcpnet.DNSMASQ).exists():
        pytest.skip("vm DHCP path: missing dnsmasq (run tools/install-test-deps)")
    return capture_ready


@pytest.fixture(scope="module")
def dhcp_initrd(dhcp_ready, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("e2e-dhcp") / "initrd.gz"
    pyguest.build_initrd(dhcp_ready, path, dhcp=True)
    return path


@pytest.mark.vm
def test_dhcp_path_reads_the_marker(dhcp_ready, dhcp_initrd: Path, tmp_path: Path) -> None:
    """No iBFT, a lease with options 17 and 203: ibftkit-init configures eth0 and logs in."""
    case = dhcpnet.CASES["dhcp-path"]
    r, boot = dhcpnet.run_e2e(dhcp_ready, case, initrd=dhcp_initrd, keep_log=tmp_path / "serial.log")
    assert capture.leftovers() == []
    assert r.rc == 0 and len(r.disks) == 1  # run_e2e raised unless the marker was read
    (address,) = boot.acked()  # the one lease dnsmasq granted
    assert f"boot configuration from dhcp (lease {address}/24 on eth0 from {dhcpnet.SERVER})" in r.output
    assert "iBFT: no iBFT on this system" in r.output
    assert f"inet {address}/24" in r.net and f"default via {dhcpnet.SERVER} dev eth0" in r.net
    # tgtd admits only the case's initiator name: the login itself shows option 203 was used.


@pytest.mark.vm
def test_lease_without_root_path_exits_3(dhcp_ready, dhcp_initrd: Path, tmp_path: Path) -> None:
    """dnsmasq grants a lease without option 17: no boot configuration, one clear line, exit 3."""
    run = dhcpnet.run_init(dhcp_ready, dhcpnet.CASES["dhcp-path-no-root-path"], initrd=dhcp_initrd,
                           keep_log=tmp_path / "serial.log")
    assert capture.leftovers() == []
    assert run.boot.acked(), "dnsmasq granted no lease"
    assert run.rc == 3, run.output
    errors = [line for line in run.output.splitlines() if "no boot configuration found" in line]
    assert len(errors) == 1 and errors[0] == run.output.splitlines()[-1]
    assert errors[0].startswith("ibftkit-init: no boot configuration found: kernel command line: ")
    assert "iBFT: no iBFT on this system" in errors[0]
    # the DHCP source asks DHCPv4 and DHCPv6 on every NIC (docs/dhcp.md): both reasons, DHCPv4's first
    assert re.search(r"DHCP: no usable lease by DHCPv4 or DHCPv6: DHCPv4: no usable DHCP lease on 1 interface: eth0: "
                     r"the lease on eth0 \(10\.99\.0\.\d+/24 from 10\.99\.0\.1\) has no root path \(DHCP option 17\); "
                     r"DHCPv6: no usable DHCP lease on 1 interface: eth0: no DHCPv6 Advertise or Reply on eth0 within "
                     r"[\d.]+ s \(\d+ Solicits sent to ff02::1:2\)$", errors[0]), errors[0]
    assert "Traceback" not in run.output
    assert not [n for n in run.report.blobs if n.startswith("disk-")]


@pytest.mark.vm
def test_anchor_udhcpc_then_iscsistart(dhcp_ready, tmp_path: Path) -> None:
    """The bench's anchor: busybox udhcpc (option 203 arrives hex-encoded), iscsistart, the marker
    (tgtd admits only the case's initiator name, so the decoded option 203 was used)."""
    initrd = capture.build_initrd(dhcp_ready, tmp_path / "anchor.gz")
    case = dhcpnet.CASES["dhcp-path"]
    a = dhcpnet.run_anchor(dhcp_ready, case, initrd=initrd, keep_log=tmp_path / "serial.log")
    assert capture.leftovers() == []
    lease = dict(line.split("=", 1) for line in a.lease.splitlines())
    assert lease["rootpath"] == case.target.uri()
    assert bytes.fromhex(lease["opt203"]).decode() == case.initiator
    assert set(a.times) >= {"network", "login", "disk"} and a.carrier < a.times["network"] < a.times["disk"]


# --- pure: no guest ---------------------------------------------------------------------------------

def test_dnsmasq_options_are_quoted_strings_in_its_config_file() -> None:
    """Quoted in the config file, dnsmasq sends the text as is (on its command line it would keep
    the quotes in the value); the failure case serves no option 17."""
    ok, bad = dhcpnet.CASES["dhcp-path"], dhcpnet.CASES["dhcp-path-no-root-path"]
    assert ok.dnsmasq_conf() == ['dhcp-option=17,"iscsi:10.99.0.1::3260:1:iqn.2026-11.org.example:dhcp.disk"',
                                 'dhcp-option=203,"iqn.2026-11.org.example:initiator21"']
    assert bad.dnsmasq_conf() == ['dhcp-option=203,"iqn.2026-11.org.example:initiator22"']


def test_init_phases_on_the_uptime_clock() -> None:
    """The kernel log's clock is tied to /proc/uptime by the guest's "ibftkit-vm: uptime" line."""
    kmsg = ("[    4.010411] ibftkit-vm: uptime 3.98\n"
            "[    6.744391] e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: RX\n"
            "[    6.765011] ibftkit: DHCP on eth0 (up to 30 s)\n"
            "[    7.692766] ibftkit: DHCPDISCOVER on eth0 (52:54:00:12:34:56, xid 0x2e0dbd25)\n"
            "[    7.802789] ibftkit: DHCPACK of 10.99.0.108/24 from 10.99.0.1, lease 600 s\n"
            "[    7.957380] ibftkit: logging in to target[0] iqn.2026-11.org.example:dhcp.disk at 10.99.0.1:3260\n"
            "[    9.300049] ibftkit: logged in to target[0] iqn.2026-11.org.example:dhcp.disk at 10.99.0.1:3260 "
            "in 1.3 s\n")
    r = pyguest.E2eResult(dhcpnet.CASES["dhcp-path"], 0, "", {}, {"e2e-start": 3.99, "e2e-read-sda": 9.46}, "",
                          20.0, (), kmsg)
    got = dhcpnet.init_phases(r)
    offset = 4.010411 - 3.98
    want = {"carrier": 6.744391, "dhcp": 6.765011, "discover": 7.692766, "ack": 7.802789, "login-start": 7.957380,
            "logged-in": 9.300049}
    assert got == pytest.approx({k: v - offset - 3.99 for k, v in want.items()})
    assert r.to_disk == pytest.approx(5.47)
    assert dhcpnet.init_phases(pyguest.E2eResult(r.case, 0, "", {}, r.times, "", 1.0, ())) == {}  # no kmsg block


def test_acked_addresses_from_the_dnsmasq_log() -> None:
    log = ("Nov 21 03:01:46 dnsmasq-dhcp[5501]: 3463646780 DHCPREQUEST(tap0) 10.99.0.108 52:54:00:12:34:56 \n"
           "Nov 21 03:01:46 dnsmasq-dhcp[5501]: 3463646780 DHCPACK(tap0) 10.99.0.108 52:54:00:12:34:56 \n")
    assert dhcpnet.DhcpBoot(qemu.RunResult(0, 1.0, "", ""), log).acked() == ["10.99.0.108"]
