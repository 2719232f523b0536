"""IPv6-only boots of a real VM to its iSCSI disk (tools/vm/vmharness/ipv6net.py).

No IPv4 anywhere: the namespace's tap has only fd00:99::1/64, where ``tgtd`` listens. Each case
passes only when ibftkit-init exits 0 and the target's marker is read from the disk.

- **IPv6 iBFT**: an ibftkit-encoded table (static fd00:99::20/64, target fd00:99::1) in guest memory.
- **DHCPv6**: no table; ibftkit-init runs DHCPv4 and DHCPv6 at once, dnsmasq answers only DHCPv6
  (Rapid Commit, option 59) and sends router advertisements for the on-link prefix.

The last test is pure (no guest): the table and the dnsmasq lines.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from vmharness import capture, ipv6net, pyguest


@pytest.fixture(scope="module")
def v6_initrd(capture_ready, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("dnsmasq") is None:
        pytest.skip("vm IPv6 path: missing dnsmasq (run tools/install-test-deps)")
    path = tmp_path_factory.mktemp("e2e-ipv6") / "initrd.gz"
    pyguest.build_initrd(capture_ready, path, dhcp=True)  # scapy for DHCPv6
    return path


@pytest.mark.vm
def test_ipv6_ibft_boot(capture_ready, v6_initrd: Path, tmp_path: Path) -> None:
    boot = ipv6net.run_e2e(capture_ready, ipv6net.CASES["ipv6-ibft"], initrd=v6_initrd,
                           keep_log=tmp_path / "serial.log")
    r = boot.result
    assert capture.leftovers() == []
    assert r.rc == 0 and len(r.disks) == 1  # run_e2e raised unless the marker was read
    assert f"at [{ipv6net.SERVER6}]:3260" in r.output or f"at {ipv6net.SERVER6}" in r.output, r.output
    assert f"inet6 {ipv6net.GUEST6}/64" in r.net, r.net
    assert "inet " not in r.net.replace("inet 127.0.0.1", ""), r.net  # no IPv4 address but loopback


@pytest.mark.vm
def test_dhcp6_boot(capture_ready, v6_initrd: Path, tmp_path: Path) -> None:
    boot = ipv6net.run_e2e(capture_ready, ipv6net.CASES["ipv6-dhcp6"], initrd=v6_initrd,
                           keep_log=tmp_path / "serial.log")
    r = boot.result
    assert capture.leftovers() == []
    assert r.rc == 0 and len(r.disks) == 1
    assert "boot configuration from dhcp" in r.output and ipv6net.LEASED6 in r.output, r.output
    assert f"inet6 {ipv6net.LEASED6}/64" in r.net, r.net
    assert "DHCPSOLICIT" in boot.dnsmasq_log and "rapid-commit" in boot.dnsmasq_log


def test_ipv6_table_and_dnsmasq_lines() -> None:
    from ibftkit.sources.ibft.decode import decode_table

    case = ipv6net.CASES["ipv6-ibft"]
    cfg = decode_table(ipv6net.ipv6_table(case))
    (nic,), (target,) = cfg.nics, cfg.targets
    assert (str(nic.ip_address), nic.prefix_len, str(target.ip_address)) == (ipv6net.GUEST6, 64, ipv6net.SERVER6)
    lines = ipv6net.CASES["ipv6-dhcp6"].dnsmasq_conf()
    assert lines[0] == "enable-ra" and lines[1] == "dhcp-host=id:00:03:00:01:52:54:00:12:34:56,[fd00:99::77]"
    assert lines[2] == ('dhcp-option=option6:bootfile-url,"iscsi:[fd00:99::1]::3260:1:'
                        'iqn.2026-11.org.example:ipv6.disk"')
