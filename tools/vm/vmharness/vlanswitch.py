"""A userspace 802.1Q switch, and the VLAN e2e case that boots through it.

Neither Debian's iPXE (no ``vcreate``) nor this host's kernel (no 802.1Q, no bridge
``vlan_filtering``) can give the guest a VLAN, so the case is built from parts that can:

- **the table**: ibftkit's encoder writes an iBFT (iPXE layout) whose NIC has VLAN :data:`VID`, the
  static address 10.99.0.20/24 and the target 10.99.0.1; QEMU's generic loader puts it at 0x98000,
  where the guest kernel's low-memory scan (and ibftkit-init's ``/dev/mem`` scan) finds it, and the
  Debian kernel is booted directly (``-kernel``/``-initrd``: no firmware writes a table);
- **the wire**: the guest's e1000 sits on ``-netdev dgram`` (QEMU 7.2), which sends every Ethernet
  frame as one UDP datagram to this switch, run as a process inside the case's network namespace.
  The switch forwards only frames tagged with the case's VID, without the tag, to a tap device
  (10.99.0.1/24, where ``tgtd`` listens), and tags every frame coming back from the tap. Untagged
  frames and other VIDs are dropped and counted. So the login, and the marker read from the disk,
  can only happen if the guest really tagged its frames, that is, if ibftkit-init made the VLAN link.

The switch reports its counters (a JSON object) in a file when it stops (SIGTERM).
Run by :class:`VlanSwitch` as ``python3 -m vmharness.vlanswitch --vid N --tap IF --listen H:P --peer H:P
--stats FILE``; it prints ``ready`` once the tap is open and the socket bound.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import qemu
from .assets import Assets
from .capture import IQN, Case, TargetSpec
from .netns import add_tap, private_netns
from .procs import end_group
from .pyguest import REPO, E2eResult, check_e2e
from .tgt import Tgtd

TPID = 0x8100  # IEEE 802.1Q tag protocol identifier
MIN_TAGGED = 18  # destination, source, TPID + TCI, inner EtherType
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
VLAN_MODULES = ("8021q",)  # the guest's VLAN links (with their dependencies garp, mrp, stp, llc)
HARNESS_DIR = Path(__file__).resolve().parent.parent  # tools/vm: on PYTHONPATH for ``-m vmharness...``


# --- frames ---------------------------------------------------------------------------------------

def tag(frame: bytes, vid: int) -> bytes:
    """``frame`` with an 802.1Q tag (priority 0, VID ``vid``) after the source MAC."""
    return frame[:12] + struct.pack("!HH", TPID, vid & 0xFFF) + frame[12:]


def untag(frame: bytes, vid: int) -> tuple[bytes | None, str]:
    """The inner frame if ``frame`` carries VID ``vid``, else ``None``; and the counter it goes to."""
    if len(frame) < 14 or struct.unpack_from("!H", frame, 12)[0] != TPID:
        return None, "untagged_dropped"
    if len(frame) < MIN_TAGGED:
        return None, "runt_dropped"
    if struct.unpack_from("!H", frame, 14)[0] & 0xFFF != vid:
        return None, "other_vid_dropped"
    return frame[:12] + frame[16:], "tagged_forwarded"


@dataclass
class Counters:
    tagged_forwarded: int = 0  # guest -> tap: tagged with the case's VID, tag stripped
    untagged_dropped: int = 0
    other_vid_dropped: int = 0
    runt_dropped: int = 0
    to_guest: int = 0  # tap -> guest, tagged
    tap_write_errors: int = 0
    largest_from_guest: int = 0  # bytes of the largest frame forwarded to the tap (tag stripped)
    largest_to_guest: int = 0  # bytes of the largest frame from the tap (before its tag)
    first_untagged: list[str] = field(default_factory=list)  # EtherType and destination of a few drops

    def count(self, verdict: str, frame: bytes) -> None:
        setattr(self, verdict, getattr(self, verdict) + 1)
        if verdict == "untagged_dropped" and len(self.first_untagged) < 5 and len(frame) >= 14:
            self.first_untagged.append(f"type 0x{struct.unpack_from('!H', frame, 12)[0]:04x} to {frame[:6].hex(':')}")


# --- the switch process ---------------------------------------------------------------------------

def open_tap(name: str) -> int:
    """Attach to the tap device ``name`` (made beforehand with ``ip tuntap add``): raw frames, no header."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


def _addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def serve(sock: socket.socket, tap: int, peer: tuple[str, int], vid: int, counters: Counters,
          stopping: list[bool]) -> None:
    """Move frames until ``stopping[0]``: UDP (the guest's NIC) <-> tap, tags checked and stripped/added."""
    while not stopping[0]:
        ready, _, _ = select.select([sock, tap], [], [], 0.2)
        if sock in ready:
            frame = sock.recv(65535)
            inner, verdict = untag(frame, vid)
            counters.count(verdict, frame)
            if inner is not None:
                counters.largest_from_guest = max(counters.largest_from_guest, len(inner))
                try:
                    os.write(tap, inner)
                except OSError:
                    counters.tap_write_errors += 1
        if tap in ready:
            frame = os.read(tap, 65535)
            counters.largest_to_guest = max(counters.largest_to_guest, len(frame))
            sock.sendto(tag(frame, vid), peer)
            counters.to_guest += 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="vlanswitch", description="an 802.1Q port between QEMU's dgram netdev "
                                 "(tagged) and a tap device (untagged)")
    ap.add_argument("--vid", type=int, required=True)
    ap.add_argument("--tap", required=True, help="tap device (exists, not attached)")
    ap.add_argument("--listen", required=True, metavar="HOST:PORT", help="where QEMU sends its frames")
    ap.add_argument("--peer", required=True, metavar="HOST:PORT", help="QEMU's own dgram address")
    ap.add_argument("--stats", type=Path, required=True, help="counters (JSON) written here on exit")
    args = ap.parse_args(argv)
    stopping = [False]

    def stop(signum: int, frame: object) -> None:
        stopping[0] = True

    signal.signal(signal.SIGTERM, stop)
    counters = Counters()
    tap = open_tap(args.tap)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(_addr(args.listen))
        print("ready", flush=True)
        try:
            serve(sock, tap, _addr(args.peer), args.vid, counters, stopping)
        finally:
            os.close(tap)
            tmp = args.stats.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(counters), sort_keys=True))
            tmp.rename(args.stats)
    return 0


# --- the host side --------------------------------------------------------------------------------

class SwitchError(RuntimeError):
    pass


@dataclass
class VlanSwitch:
    """The switch process inside ``netns``, between QEMU (``qemu_nic``) and the tap ``tap``."""

    netns: str
    workdir: Path
    vid: int
    tap: str = "tap0"
    listen: tuple[str, int] = ("127.0.0.1", 7701)
    peer: tuple[str, int] = ("127.0.0.1", 7702)
    proc: subprocess.Popen[str] | None = None
    counters: Counters | None = None

    @property
    def stats(self) -> Path:
        return self.workdir / "vlanswitch.json"

    def qemu_nic(self, mac: str = qemu.DEFAULT_MAC, slot: int = qemu.NIC_SLOT) -> list[str]:
        """An e1000 (no ROM: the kernel is booted directly) whose frames go to the switch over UDP."""
        return ["-netdev", f"dgram,id=n0,local.type=inet,local.host={self.peer[0]},local.port={self.peer[1]},"
                           f"remote.type=inet,remote.host={self.listen[0]},remote.port={self.listen[1]}",
                "-device", f"e1000,netdev=n0,mac={mac},addr=0x{slot:x},romfile="]

    def start(self, timeout: float = 30) -> None:
        cmd = ["ip", "netns", "exec", self.netns, sys.executable, "-m", "vmharness.vlanswitch",
               "--vid", str(self.vid), "--tap", self.tap, "--listen", "{}:{}".format(*self.listen),
               "--peer", "{}:{}".format(*self.peer), "--stats", str(self.stats)]
        env = {**os.environ, "PYTHONPATH": str(HARNESS_DIR)}
        err = open(self.workdir / "vlanswitch.stderr", "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True,
                                     env=env, start_new_session=True)
        err.close()
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().strip() if ready else ""
        if line != "ready":
            self.stop()
            raise SwitchError(f"vlanswitch did not start within {timeout:.0f} s (said {line!r}): "
                              f"{(self.workdir / 'vlanswitch.stderr').read_text()[-400:]}")

    def stop(self) -> Counters | None:
        """SIGTERM, then SIGKILL of its process group if it lingers; the counters it wrote."""
        if self.proc is None:
            return self.counters
        try:
            end_group(self.proc, grace=10)
        finally:
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None
        if self.stats.exists():
            self.counters = Counters(**json.loads(self.stats.read_text()))
        return self.counters

    def __enter__(self) -> VlanSwitch:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the VLAN e2e case ----------------------------------------------------------------------------

VID = 299  # above 255: both bytes of the VID matter, in the table and on the wire
NET = "10.99.0"  # the VLAN's subnet (/24): target .1 (the tap), guest .20


class EncodedCase(Case):
    """A case whose table ibftkit's encoder writes (no firmware): the kernel is booted directly."""

    @property
    def producer(self) -> str:
        return "ibftkit-bios"


CASE = EncodedCase("vlan", "bios", (TargetSpec("vlan.disk", host=f"{NET}.1"),), f"{IQN}:initiator07",
                   summary=f"ibftkit-encoded table, NIC on VLAN {VID} (static {NET}.20/24) through a "
                           "userspace 802.1Q switch")
CASES: dict[str, Case] = {CASE.fixture: CASE}


def vlan_table(case: Case = CASE, vid: int = VID) -> bytes:
    """The iBFT (iPXE layout) for ``case``: one NIC on VLAN ``vid`` at QEMU's MAC and PCI slot."""
    import ipaddress

    if str(REPO) not in sys.path:  # this checkout's ibftkit, as the guest gets it (not whatever is installed)
        sys.path.insert(0, str(REPO))
    from ibftkit.model import BootConfig, Initiator, Lun, Nic, Origin, PciAddress, Target
    from ibftkit.sources.ibft.encode import encode_table

    nic = Nic(ip_address=ipaddress.ip_address(f"{NET}.20"), prefix_len=24, origin=Origin.MANUAL, vlan=vid,
              mac=qemu.DEFAULT_MAC, pci_bdf=PciAddress(0, qemu.NIC_SLOT, 0))
    targets = tuple(Target(index=i, ip_address=ipaddress.ip_address(t.host), lun=Lun.from_linux(t.lun), name=t.iqn)
                    for i, t in enumerate(case.targets))
    return encode_table(BootConfig(initiator=Initiator(name=case.initiator), nics=(nic,), targets=targets), "ipxe")


@dataclass(frozen=True)
class VlanBoot:
    result: qemu.RunResult
    counters: Counters


def boot_vlan_case(assets: Assets, case: Case, *, initrd: Path, append: str, work: Path, timeout: float,
                   vid: int = VID, keep_log: Path | None = None) -> VlanBoot:
    """One boot: a private namespace holding the tap (target address), the switch, tgtd and QEMU."""
    table = work / "ibft.bin"
    table.write_bytes(vlan_table(case, vid))
    log = work / "serial.log"
    with private_netns() as ns:
        tap = "tap0"
        add_tap(ns, tap, f"{NET}.1/24")
        with VlanSwitch(ns, work, vid, tap) as switch, Tgtd(work, portal=f"{NET}.1:3260", netns=ns) as tgtd:
            for t in case.targets:
                tgtd.add_target(t.iqn, (t.lun,), chap=t.chap, mutual=t.mutual)
            argv = (qemu.base(log) + qemu.direct_kernel(assets.vmlinuz, initrd, append) + qemu.table_loader(table)
                    + switch.qemu_nic())
            result = qemu.run(argv, log, timeout=timeout, netns=ns)
        counters = switch.counters
    if keep_log:
        keep_log.write_text(result.serial)
    if counters is None:
        raise SwitchError(f"vlanswitch wrote no counters ({(work / 'vlanswitch.stderr').read_text()[-400:]!r})")
    return VlanBoot(result, counters)


def run_vlan_e2e(assets: Assets, case: Case = CASE, *, initrd: Path, init_args: tuple[str, ...] = (),
                 timeout: float = 300, keep_log: Path | None = None) -> tuple[E2eResult, Counters]:
    """Boot the VLAN case into the ibftkit-init guest (an image with :data:`VLAN_MODULES`).

    Raises :class:`pyguest.E2eError` unless ibftkit-init exited 0 and every marker was read."""
    append = "console=ttyS0 quiet panic=1" + (f" ibftkitvm.args={','.join(init_args)}" if init_args else "")
    with tempfile.TemporaryDirectory(prefix=f"ibftkit-e2e-{case.fixture}-") as tmp:
        boot = boot_vlan_case(assets, case, initrd=initrd, append=append, work=Path(tmp), timeout=timeout,
                              keep_log=keep_log)
    return check_e2e(case, boot.result), boot.counters


if __name__ == "__main__":
    sys.exit(main())
