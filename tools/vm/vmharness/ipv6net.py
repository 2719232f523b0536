"""IPv6-only boots: an ibftkit-encoded IPv6 iBFT, and DHCPv6 without a table (``tests/vm/test_e2e_ipv6.py``).

Each boot gets a private network namespace (``netns.py``) with a tap device :data:`TAP` holding
:data:`SERVER6`/64 (added without duplicate address detection, so ``tgtd`` can bind it at once) and
no IPv4 address at all; ``tgtd`` (``tgt.py``) listens on ``[SERVER6]:3260`` and admits only the
case's initiator name. QEMU boots the Debian kernel directly, its e1000 (no ROM) on the tap.

- **iBFT case**: ibftkit's encoder writes a table (iPXE layout) whose NIC has the static
  :data:`GUEST6`/64 and whose target is :data:`SERVER6`; QEMU's generic loader puts it in low
  memory, as for the VLAN case (``vlanswitch.py``).
- **DHCPv6 case**: no table; ``dnsmasq`` on the tap serves DHCPv6 only (a static address for the
  guest's DUID-LL, the root path as Boot File URL, option 59) and router advertisements
  (``enable-ra``: the on-link prefix); the initiator name comes from ``rd.iscsi.initiator=``
  (DHCPv6 has no option 203).
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from . import dhcpnet, qemu
from .assets import Assets
from .capture import IQN, PORT, OneTargetCase, TargetSpec
from .netns import exec_prefix, ip_in, private_netns
from .pyguest import REPO, E2eResult, check_e2e
from .tgt import Tgtd

SERVER6 = "fd00:99::1"
GUEST6 = "fd00:99::20"
LEASED6 = "fd00:99::77"
TAP = "tap0"
DHCP6_RANGE = "fd00:99::100,fd00:99::1ff,64,10m"
APPEND = "console=ttyS0 quiet panic=1"


@dataclass(frozen=True)
class Ipv6Case(OneTargetCase):
    name: str
    target: TargetSpec
    initiator: str
    ibft: bool  # True: the encoded table in guest memory; False: DHCPv6
    summary: str = ""

    def root_path(self) -> str:
        """RFC 4173 root path with the IPv6 server in brackets (RFC 4173 §5)."""
        return f"iscsi:[{SERVER6}]::{PORT}:{self.target.lun:x}:{self.target.iqn}"

    def dnsmasq_conf(self) -> list[str]:
        duid = "00:03:00:01:" + qemu.DEFAULT_MAC  # the DUID-LL ibftkit sends (RFC 8415 §11.4)
        return ["enable-ra", f"dhcp-host=id:{duid},[{LEASED6}]",
                f'dhcp-option=option6:bootfile-url,"{self.root_path()}"']


_DISK = TargetSpec("ipv6.disk", host=SERVER6)
CASES: dict[str, Ipv6Case] = {c.name: c for c in (
    Ipv6Case("ipv6-ibft", _DISK, f"{IQN}:initiator61", ibft=True,
             summary=f"ibftkit-encoded IPv6 iBFT (static {GUEST6}/64), target [{SERVER6}]:3260, no IPv4"),
    Ipv6Case("ipv6-dhcp6", _DISK, f"{IQN}:initiator62", ibft=False,
             summary="no iBFT; DHCPv6 (option 59) and router advertisements from dnsmasq, no IPv4"),
)}


def ipv6_table(case: Ipv6Case) -> bytes:
    """The iBFT (iPXE layout): one NIC with the static IPv6 address at QEMU's MAC and PCI slot."""
    if str(REPO) not in sys.path:  # this checkout's ibftkit, as the guest gets it
        sys.path.insert(0, str(REPO))
    from ibftkit.model import BootConfig, Initiator, Lun, Nic, Origin, PciAddress, Target
    from ibftkit.sources.ibft.encode import encode_table

    nic = Nic(ip_address=ipaddress.ip_address(GUEST6), prefix_len=64, origin=Origin.MANUAL, mac=qemu.DEFAULT_MAC,
              pci_bdf=PciAddress(0, qemu.NIC_SLOT, 0))
    target = Target(index=0, ip_address=ipaddress.ip_address(SERVER6), lun=Lun.from_linux(case.target.lun),
                    name=case.target.iqn)
    return encode_table(BootConfig(initiator=Initiator(name=case.initiator), nics=(nic,), targets=(target,)), "ipxe")


class Dnsmasq6(dhcpnet.Dnsmasq):
    """dhcpnet's dnsmasq serving a DHCPv6 range (and, from its config lines, router advertisements)."""

    def argv(self) -> list[str]:
        return [f"--dhcp-range={DHCP6_RANGE}" if a.startswith("--dhcp-range=") else a for a in super().argv()]

    def start(self, timeout: float = 15.0) -> Dnsmasq6:
        (self.dir / "dnsmasq.conf").write_text("".join(f"{line}\n" for line in self.conf))
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "DHCPv6, static leases only" in self.log() or "DHCPv6, IP range" in self.log():
                return self
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.stop()
                raise dhcpnet.DhcpNetError(f"dnsmasq exited {rc}: {self.log().strip()[-400:]}")
            time.sleep(0.05)
        self.stop()
        raise dhcpnet.DhcpNetError(f"dnsmasq did not start within {timeout:.0f} s: {self.log().strip()[-400:]}")


@dataclass(frozen=True)
class Ipv6Boot:
    result: E2eResult
    dnsmasq_log: str


def run_e2e(assets: Assets, case: Ipv6Case, *, initrd: Path, timeout: float = 300,
            keep_log: Path | None = None) -> Ipv6Boot:
    """One boot of ``case``; raises ``pyguest.E2eError`` unless ibftkit-init exited 0 and the marker was read."""
    append = APPEND + ("" if case.ibft else f" rd.iscsi.initiator={case.initiator}")
    said = ""
    with tempfile.TemporaryDirectory(prefix=f"ibftkit-{case.name}-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        log = work / "serial.log"
        ns = stack.enter_context(private_netns())
        ip_in(ns, "tuntap", "add", "dev", TAP, "mode", "tap")
        subprocess.run(exec_prefix(ns) + ["sysctl", "-qw", f"net.ipv6.conf.{TAP}.accept_dad=0"], check=True)
        ip_in(ns, "addr", "add", f"{SERVER6}/64", "dev", TAP, "nodad")
        ip_in(ns, "link", "set", TAP, "up")
        tgtd = stack.enter_context(Tgtd(work, portal=f"[{SERVER6}]:{PORT}", netns=ns))
        tid = tgtd.add_target(case.target.iqn, (case.target.lun,))
        tgtd.admit_only(tid, case.initiator)
        argv = qemu.base(log) + qemu.direct_kernel(assets.vmlinuz, initrd, append) + dhcpnet.tap_nic()
        dnsmasq = None
        if case.ibft:
            table = work / "ibft.bin"
            table.write_bytes(ipv6_table(case))
            argv += qemu.table_loader(table)
        else:
            dnsmasq = stack.enter_context(Dnsmasq6(ns, TAP, work, case.dnsmasq_conf()))
        try:
            result = qemu.run(argv, log, timeout=timeout, netns=ns)
        finally:
            said = dnsmasq.log() if dnsmasq is not None else ""
            if keep_log is not None and log.exists():
                keep_log.write_text(log.read_text(errors="replace"))
    return Ipv6Boot(check_e2e(case, result), said)  # type: ignore[arg-type]  # reads .fixture and .targets
