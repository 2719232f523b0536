"""Two NICs on one subnet, one target per NIC: does each session's traffic cross its own NIC?

The layout (``docs/vm-e2e.md``, "Two NICs on one subnet"), inside a private network namespace
(``netns.py``):

- a bridge :data:`BRIDGE` holding both portal addresses on ONE subnet, :data:`PORTALS`
  (10.0.2.2/24 and 10.0.2.3/24), and one ``tgtd`` (``tgt.py``) listening on both, serving
  target0 and target1 (each an :data:`DISK_MIB` MiB disk whose first sector is its marker);
- two taps, :data:`TAPS`, ports of that bridge; the guest has two e1000s (no ROM), one per tap
  (``-netdev tap``, no hub), with distinct MACs :data:`MACS` at PCI slots 3 and 4;
- an iBFT written by ibftkit's encoder (iPXE layout) and put in guest memory by QEMU's loader, the
  kernel booted directly (as the VLAN case, ``vlanswitch.py``): NIC0 10.0.2.15/24 and NIC1
  10.0.2.16/24, no gateway; target0 at 10.0.2.2 via NIC0, target1 at 10.0.2.3 via NIC1.

After the guest logged in to both targets it reads :data:`STREAM_MIB` MiB from each disk
(``tools/vm/guest/paths-report``, kernel argument ``ibftkitvm.paths=``) and prints its TCP
connections, routes, neighbours, ARP settings and iSCSI hosts. The host reads every tap's
``/sys/class/net/<tap>/statistics/{rx,tx}_bytes`` inside the namespace before QEMU starts and after
it exits: a tap's ``tx_bytes`` is what went to the guest's NIC on it (the disk's data), its
``rx_bytes`` what that NIC sent (requests, ACKs). So the counters show, with nothing timed, which
NIC carried which session. The bridge delivers unicast by the MAC the namespace resolved for the
guest's address, so the inbound split also shows which NIC answered ARP for which address.

Two guests boot there: the ibftkit-init image (``pyguest.build_initrd``; guest ``init-ibftkit``
with ``--wait-for-all-paths``) and the open-iscsi anchor (``capture.build_initrd``; guest ``init``:
``iscsistart -N``, then ``iscsistart -b``). Everything is torn down in reverse order whatever
happens (tgtd, then the namespace with the bridge and taps), so ``capture.leftovers()`` stays empty.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from . import qemu, serial
from .assets import Assets
from .capture import IQN, PORT, Case, TargetSpec
from .netns import NetnsError, exec_prefix, ip_in, private_netns
from .pyguest import REPO, E2eResult, check_e2e
from .tgt import Tgtd, marker

NET = "10.0.2"
PORTALS = (f"{NET}.2", f"{NET}.3")  # target0's and target1's portal: both on the bridge, one /24
GUESTS = (f"{NET}.15", f"{NET}.16")  # NIC0's and NIC1's address in the table
MACS = (qemu.DEFAULT_MAC, "52:54:00:12:34:57")
SLOTS = (qemu.NIC_SLOT, qemu.NIC_SLOT + 1)  # PCI 00:03.0 and 00:04.0, as the table names them
BRIDGE = "br0"
TAPS = ("tap0", "tap1")
DISK_MIB = 8
STREAM_MIB = DISK_MIB  # read every disk whole: each session carries at least this much
APPEND = "console=ttyS0 quiet panic=1"


class PathsError(RuntimeError):
    """The two-NIC plumbing failed, or the guest printed no paths report."""


class EncodedCase(Case):
    """A case whose table ibftkit's encoder writes (no firmware): the kernel is booted directly."""

    @property
    def producer(self) -> str:
        return "ibftkit-bios"


CASE = EncodedCase(
    "two-nics-one-subnet", "bios",
    (TargetSpec("path0.disk", host=PORTALS[0]), TargetSpec("path1.disk", host=PORTALS[1])), f"{IQN}:initiator41",
    summary=f"ibftkit-encoded table: NIC0 {GUESTS[0]}/24 -> target0 {PORTALS[0]}, NIC1 {GUESTS[1]}/24 -> "
            f"target1 {PORTALS[1]}, one subnet, one tap per NIC")


def paths_table(case: Case = CASE) -> bytes:
    """The iBFT (iPXE layout): NIC i at ``MACS[i]``/``SLOTS[i]`` with ``GUESTS[i]``/24, target i via NIC i."""
    if str(REPO) not in sys.path:  # this checkout's ibftkit, as the guest gets it
        sys.path.insert(0, str(REPO))
    from ibftkit.model import BootConfig, Initiator, Lun, Nic, Origin, PciAddress, Target
    from ibftkit.sources.ibft.encode import encode_table

    nics = tuple(Nic(index=i, ip_address=ipaddress.ip_address(GUESTS[i]), prefix_len=24, origin=Origin.MANUAL,
                     mac=MACS[i], pci_bdf=PciAddress(0, SLOTS[i], 0)) for i in range(2))
    targets = tuple(Target(index=i, ip_address=ipaddress.ip_address(t.host), lun=Lun.from_linux(t.lun),
                           name=t.iqn, nic_index=i) for i, t in enumerate(case.targets))
    return encode_table(BootConfig(initiator=Initiator(name=case.initiator), nics=nics, targets=targets), "ipxe")


# --- the host side: bridge, taps, counters --------------------------------------------------------

def _in_ns(ns: str, *argv: str) -> str:
    done = subprocess.run([*exec_prefix(ns), *argv], text=True, capture_output=True, timeout=30)
    if done.returncode != 0:
        raise NetnsError(f"ip netns exec {ns} {' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def build_layout(ns: str) -> None:
    """The bridge with both portal addresses, and the taps as its ports (IPv6 off in the namespace,
    so the namespace's side adds no chatter of its own to the counters)."""
    _in_ns(ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
    ip_in(ns, "link", "add", BRIDGE, "type", "bridge", "forward_delay", "0", "stp_state", "0")
    for portal in PORTALS:
        ip_in(ns, "addr", "add", f"{portal}/24", "dev", BRIDGE)
    for tap in TAPS:
        ip_in(ns, "tuntap", "add", "dev", tap, "mode", "tap")
        ip_in(ns, "link", "set", tap, "master", BRIDGE)
        ip_in(ns, "link", "set", tap, "up")
    ip_in(ns, "link", "set", BRIDGE, "up")


@dataclass(frozen=True)
class TapBytes:
    """One tap's byte counters: ``rx`` = frames the guest's NIC sent, ``tx`` = frames sent to it."""

    rx: int
    tx: int

    def __sub__(self, other: TapBytes) -> TapBytes:
        return TapBytes(self.rx - other.rx, self.tx - other.tx)

    @property
    def total(self) -> int:
        return self.rx + self.tx


def tap_bytes(ns: str) -> dict[str, TapBytes]:
    """Every tap's ``/sys/class/net/<tap>/statistics/{rx,tx}_bytes`` as the namespace sees them
    (``ip netns exec`` mounts that namespace's sysfs)."""
    out = {}
    for tap in TAPS:
        stats = f"/sys/class/net/{tap}/statistics"
        rx, tx = _in_ns(ns, "cat", f"{stats}/rx_bytes", f"{stats}/tx_bytes").split()
        out[tap] = TapBytes(int(rx), int(tx))
    return out


def nics() -> list[str]:
    """Two e1000s (no ROM: the kernel is booted directly), NIC i on tap i."""
    argv: list[str] = []
    for i, (tap, mac, slot) in enumerate(zip(TAPS, MACS, SLOTS, strict=True)):
        argv += ["-netdev", f"tap,id=t{i},ifname={tap},script=no,downscript=no",
                 "-device", f"e1000,netdev=t{i},mac={mac},addr=0x{slot:x},romfile="]
    return argv


def _disk(work: Path, t: TargetSpec) -> Path:
    path = work / f"{t.name}.img"
    with open(path, "wb") as f:
        f.write(marker(t.iqn, t.lun).ljust(512, b"\0"))
        f.truncate(DISK_MIB << 20)
    return path


@dataclass(frozen=True)
class PathsBoot:
    result: qemu.RunResult
    taps: dict[str, TapBytes]  # tap -> bytes it carried during the boot (after minus before)


def boot(assets: Assets, case: Case, *, initrd: Path, append: str, work: Path, timeout: float,
         keep_log: Path | None = None) -> PathsBoot:
    """One direct-kernel boot of ``initrd`` with the case's table on the two-tap layout."""
    table = work / "ibft.bin"
    table.write_bytes(paths_table(case))
    log = work / "serial.log"
    try:
        with private_netns() as ns, ExitStack() as stack:
            build_layout(ns)
            tgtd = stack.enter_context(Tgtd(work, portal=f"{PORTALS[0]}:{PORT}", netns=ns))
            tgtd.adm("--lld", "iscsi", "--op", "new", "--mode", "portal", "--param", f"portal={PORTALS[1]}:{PORT}")
            for t in case.targets:
                tid = tgtd.add_target(t.iqn, (t.lun,), images={t.lun: _disk(work, t)})
                tgtd.admit_only(tid, case.initiator)
            before = tap_bytes(ns)
            argv = (qemu.base(log) + qemu.direct_kernel(assets.vmlinuz, initrd, append) + qemu.table_loader(table)
                    + nics())
            result = qemu.run(argv, log, timeout=timeout, netns=ns)
            after = tap_bytes(ns)
    finally:
        if keep_log and log.exists():
            keep_log.write_text(log.read_text(errors="replace"))
    return PathsBoot(result, {tap: after[tap] - before[tap] for tap in TAPS})


# --- the guest's report ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Connection:
    local: str
    local_port: int
    remote: str
    remote_port: int


def _hex_addr(text: str) -> tuple[str, int]:
    """``/proc/net/tcp``'s ``0F02000A:8C2A`` (IPv4 in host byte order, little-endian here; port big-endian)."""
    addr, port = text.split(":")
    return str(ipaddress.IPv4Address(bytes.fromhex(addr)[::-1])), int(port, 16)


@dataclass(frozen=True)
class PathsReport:
    """What ``tools/vm/guest/paths-report`` printed, by section."""

    sections: dict[str, list[str]]

    @classmethod
    def parse(cls, text: str) -> PathsReport:
        sections: dict[str, list[str]] = {}
        current: list[str] | None = None
        for line in text.splitlines():
            if line.startswith("== "):
                current = sections.setdefault(line[3:].strip(), [])
            elif current is not None and line.strip():
                current.append(line.rstrip())
        return cls(sections)

    def connections(self, port: int = PORT) -> list[Connection]:
        """Established TCP connections (state 01) to ``port``."""
        out = []
        for line in self.sections.get("tcp", [])[1:]:
            f = line.split()
            if len(f) > 3 and f[3] == "01":
                (la, lp), (ra, rp) = _hex_addr(f[1]), _hex_addr(f[2])
                if rp == port:
                    out.append(Connection(la, lp, ra, rp))
        return out

    def route_get(self, dst: str) -> str:
        """``ip route get DST``'s line, whitespace squeezed ("" if the guest printed none)."""
        for line in self.sections.get("route-get", []):
            if line.startswith(f"{dst} "):
                return " ".join(line.split())
        return ""

    def arp(self) -> dict[str, dict[str, int]]:
        out = {}
        for line in self.sections.get("arp", []):
            name, *pairs = line.split()
            out[name] = {k: int(v) for k, v in (p.split("=") for p in pairs)}
        return out

    def nic_macs(self) -> dict[str, str]:
        return {line.split()[0]: line.split()[1] for line in self.sections.get("nic", []) if len(line.split()) > 1}

    def flux(self) -> dict[str, tuple[str, int, str]]:
        """ethN -> (its address, arping -D's exit status, the MAC that answered or "") from the
        ``flux`` section: which NIC answers ARP for an address another NIC holds."""
        out = {}
        for line in self.sections.get("flux", []):
            name, addr, rc, *mac = line.split()
            out[name] = (addr, int(rc.removeprefix("rc=")), mac[0].lower() if mac else "")
        return out

    def streamed(self) -> list[str]:
        return self.sections.get("stream", [])


@dataclass(frozen=True)
class PathsRun:
    """One boot's verdict material: the tap counters and the guest's report."""

    taps: dict[str, TapBytes]
    report: PathsReport
    serial: serial.GuestReport
    e2e: E2eResult | None  # ibftkit-init's boot: its result (raised unless both markers were read)

    def by_tap(self) -> str:
        return ", ".join(f"{tap} rx {b.rx} tx {b.tx}" for tap, b in self.taps.items())


def _report(rep: serial.GuestReport, what: str) -> PathsReport:
    if "paths" not in rep.blobs:
        raise PathsError(f"{what}: the guest printed no paths report (notes {rep.notes})")
    return PathsReport.parse(rep.blobs["paths"].decode(errors="replace"))


def run_init(assets: Assets, case: Case = CASE, *, initrd: Path, init_args: tuple[str, ...] = ("--wait-for-all-paths",),
             timeout: float = 300, keep_log: Path | None = None) -> PathsRun:
    """Boot 1: ibftkit-init (image from ``pyguest.build_initrd``). Raises ``pyguest.E2eError`` unless
    it exited 0 and both markers were read, :class:`PathsError` without the paths report."""
    append = f"{APPEND} ibftkitvm.paths={STREAM_MIB} ibftkitvm.args={','.join(init_args)}"
    with tempfile.TemporaryDirectory(prefix=f"ibftkit-{case.name}-") as tmp:
        b = boot(assets, case, initrd=initrd, append=append, work=Path(tmp), timeout=timeout, keep_log=keep_log)
    r = check_e2e(case, b.result)
    rep = serial.parse(b.result.serial)
    return PathsRun(b.taps, _report(rep, "ibftkit-init"), rep, r)


def run_anchor(assets: Assets, case: Case = CASE, *, initrd: Path, timeout: float = 300,
               keep_log: Path | None = None) -> PathsRun:
    """Boot 2: the open-iscsi anchor (image from ``capture.build_initrd``): ``iscsistart -N``, then
    ``iscsistart -b``. Raises :class:`PathsError` unless both markers were read."""
    append = f"{APPEND} ibftkitvm.mode=view ibftkitvm.login=1 ibftkitvm.paths={STREAM_MIB}"
    with tempfile.TemporaryDirectory(prefix=f"ibftkit-{case.name}-anchor-") as tmp:
        b = boot(assets, case, initrd=initrd, append=append, work=Path(tmp), timeout=timeout, keep_log=keep_log)
    rep = serial.parse(b.result.serial)
    if not rep.done:
        raise PathsError(f"anchor: guest did not finish (QEMU exit {b.result.returncode}); "
                         f"serial ends {b.result.serial[-800:]!r}")
    disks = [d for n, d in rep.blobs.items() if n.startswith("disk-")]
    want = {marker(t.iqn, t.lun) for t in case.targets}
    got = {m for m in want for d in disks if d.startswith(m)}
    if got != want:
        said = {k: rep.blobs.get(k, b"").decode(errors="replace")[-300:] for k in ("iscsistart-N", "iscsistart-b")}
        raise PathsError(f"anchor: markers missing for {sorted(m.decode().strip() for m in want - got)}; "
                         f"iscsistart said {said}; notes {rep.notes}")
    return PathsRun(b.taps, _report(rep, "anchor"), rep, None)


def session_split(run: PathsRun) -> dict[str, str]:
    """Portal -> the guest's local address of the connection to it (from ``/proc/net/tcp``)."""
    return {c.remote: c.local for c in run.report.connections()}

