"""Boot the real root (``realroot.py``) from a ``tgtd`` LUN and drive faults from the host.

The machine: SeaBIOS, the Debian kernel and the root's own initramfs booted directly (``-kernel``),
an iBFT from ibftkit's encoder placed where the kernel's low-memory scan finds it (0x98000, as the
kernel-view mode does), and **two** e1000 NICs on two QEMU user networks: ``ens3`` 10.0.2.15/24
(host 10.0.2.2) and ``ens4`` 10.0.3.15/24 (host 10.0.3.2). The table lists two targets, the same
IQN and LUN through the two portals, one per NIC; QEMU turns both into connections to one ``tgtd``
in the harness's private network namespace, so the root sees one LUN on two paths and
dm-multipath puts ``/dev/mapper/mpatha`` over them. ``root=/dev/mapper/mpatha``.

Serial ports: ``ttyS0`` the console (kernel and systemd), ``ttyS1`` the guest services' reports
(``tools/vm/realroot/guest/``: ``@@W`` writer, ``@@M`` hand-off facts, ``@@S`` ``iscsiadm -m session
-P 3`` and ``multipath -ll``, ``@@P`` path states every 3 s), ``ttyS2`` a command line from the host
(``reboot``). The QEMU monitor (a UNIX socket) sets the NICs' links (``set_link``).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import qemu
from .procs import end_group
from .tgt import Tgtd

IQN = "iqn.2026-11.org.example:realroot.disk"
INITIATOR = "iqn.2026-11.org.example:realroot.initiator"
HOSTNAME = "rr-host"
MACS = ("52:54:00:12:34:56", "52:54:00:12:34:57")
NETS = ("10.0.2", "10.0.3")
PORT = 3260
CONSOLE = "root=/dev/mapper/mpatha ro console=ttyS0 panic=10 net.ifnames=1"
WRITER_PATH = "/var/lib/rr/records"
# A shutdown that cannot end: systemd could not exec systemd-shutdown (the root is gone), or a panic.
STUCK = re.compile(r"Failed to execute shutdown binary|Kernel panic")


def table() -> bytes:
    """The iBFT: two NICs (static, the first with gateway, DNS and host name), two targets."""
    from ibftkit.model import BootConfig, Initiator, Lun, Nic, NicFlags, PciAddress, Target
    from ibftkit.sources.ibft.encode import encode_table

    ip = ipaddress.ip_address
    nics = tuple(Nic(index=i, flags=NicFlags.VALID | NicFlags.BOOT_SELECTED, ip_address=ip(f"{net}.15"),
                     prefix_len=24, gateway=ip(f"{net}.2") if i == 0 else None,
                     primary_dns=ip(f"{net}.3") if i == 0 else None, mac=MACS[i],
                     pci_bdf=PciAddress(0, 3 + i, 0), hostname=HOSTNAME if i == 0 else None)
                 for i, net in enumerate(NETS))
    targets = tuple(Target(index=i, ip_address=ip(f"{net}.2"), port=PORT, lun=Lun.from_linux(1), nic_index=i,
                           name=IQN) for i, net in enumerate(NETS))
    return encode_table(BootConfig(initiator=Initiator(name=INITIATOR), nics=nics, targets=targets))


class Monitor:
    """QEMU's human monitor on a UNIX socket."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def command(self, text: str, timeout: float = 10) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.path))
            buf = b""
            while b"(qemu)" not in buf:
                buf += s.recv(4096)
            s.sendall(text.encode() + b"\n")
            out = b""
            while out.count(b"(qemu)") < 1:
                chunk = s.recv(4096)
                if not chunk:
                    break
                out += chunk
        return out.decode(errors="replace")


@dataclass
class Ack:
    seq: int
    uptime: float


@dataclass
class Reports:
    """What the guest said on ttyS1 so far."""

    acks: list[Ack] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    session_text: list[str] = field(default_factory=list)
    paths: list[tuple[float, str]] = field(default_factory=list)  # (uptime, "sda:active:ready sdb:...")
    stopped: int | None = None


def parse(text: str) -> Reports:
    r = Reports()
    for line in text.splitlines():
        line = line.rstrip("\r")
        if line.startswith("@@W ack "):
            _, _, seq, up = line.split()[:4]
            r.acks.append(Ack(int(seq), float(up)))
        elif line.startswith("@@W error "):
            r.errors.append(line)
        elif line.startswith("@@W stop "):
            r.stopped = int(line.split()[2])
        elif line.startswith("@@M "):
            key, _, value = line[4:].partition(" ")
            r.facts[key] = value.strip()
        elif line.startswith("@@S "):
            r.session_text.append(line[4:])
        elif line.startswith("@@P "):
            up, _, rest = line[4:].partition(" ")
            r.paths.append((float(up), rest.split(" sessions:")[0].strip()))
    return r


def healthy(paths: str) -> bool:
    """Both paths ``active`` and ``ready`` in multipathd's view (``%d:%t:%T``: dm state, checker state)."""
    states = paths.split()
    return len(states) == 2 and all(s.endswith(":active:ready") for s in states)


class Machine:
    """One boot of the real root: QEMU in ``netns``, serving ``image`` from ``tgtd``."""

    def __init__(self, work: Path, netns: str, vmlinuz: Path, initrd: Path, image: Path, append: str) -> None:
        self.work, self.netns, self.image = work, netns, image
        self.console = work / "console.log"
        self.reports = work / "reports.log"
        self.ctl = work / "ctl.sock"
        self.monitor = Monitor(work / "monitor.sock")
        tbl = work / "ibft.bin"
        tbl.write_bytes(table())
        self.tgtd = Tgtd(work, portal=f"127.0.0.1:{PORT}", netns=netns)
        self.argv = [qemu.QEMU, "-accel", "tcg", "-machine", "pc", "-cpu", "qemu64,+rdrand", "-m", "1024",
                     "-smp", "1", "-nodefaults", "-display", "none", "-no-reboot",
                     "-monitor", f"unix:{self.monitor.path},server=on,wait=off",
                     "-serial", f"file:{self.console}", "-serial", f"file:{self.reports}",
                     "-serial", f"unix:{self.ctl},server=on,wait=off",
                     *qemu.direct_kernel(vmlinuz, initrd, append), *qemu.table_loader(tbl)]
        for i, (mac, net) in enumerate(zip(MACS, NETS, strict=True)):
            self.argv += ["-netdev", f"user,id=n{i},net={net}.0/24",
                          "-device", f"e1000,netdev=n{i},mac={mac},addr=0x{3 + i:x},romfile="]
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def start_target(self) -> None:
        self.tgtd.start()
        self.tgtd.add_target(IQN, (1,), images={1: self.image})
        self.tgtd.targets.clear()

    def stop_target(self) -> None:
        port = self.tgtd.control_port
        self.tgtd.stop()
        self.tgtd.control_port = port

    def start(self) -> None:
        self.start_target()
        err = open(self.work / "qemu.stderr", "wb")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.netns, *self.argv], stdin=subprocess.DEVNULL,
                                     stdout=err, stderr=err, start_new_session=True)
        err.close()
        self.started = time.monotonic()

    def read(self) -> Reports:
        return parse(self.reports.read_text(errors="replace") if self.reports.exists() else "")

    def console_text(self) -> str:
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, what: str, cond: Callable[[Reports], bool], timeout: float) -> Reports:
        deadline = time.monotonic() + timeout
        while True:
            r = self.read()
            if cond(r):
                return r
            if not self.alive():
                raise RuntimeError(f"{what}: QEMU exited ({self.proc and self.proc.returncode}); console ends "
                                   f"{self.console_text()[-1500:]!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not within {timeout:.0f} s; reports end "
                                   f"{self.reports.read_text(errors='replace')[-800:]!r}; console ends "
                                   f"{self.console_text()[-1500:]!r}")
            time.sleep(1)

    def command(self, text: str) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(self.ctl))
            s.sendall(text.encode() + b"\n")
            time.sleep(1)

    def wait_exit(self, timeout: float) -> int | None:
        """QEMU's exit status once the guest rebooted (``-no-reboot``); None after ``timeout`` or as
        soon as the console shows that the shutdown cannot finish (:data:`STUCK`)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                if STUCK.search(self.console_text()):
                    return None
        return None

    def close(self) -> None:
        if self.proc is not None:
            end_group(self.proc, grace=0, term=False)
        self.tgtd.stop()


@dataclass
class Fault:
    name: str
    seconds: float  # the outage the host made
    start_uptime: float  # guest uptime of the last ack before it began
    end_uptime: float  # of the first ack once it was over and the paths were healthy again
    max_gap: float = 0.0  # the longest time between two acks in that window (s)
    acks_during: int = 0  # acks while the fault lasted
    errors: list[str] = field(default_factory=list)
    note: str = ""


def window(r: Reports, start: float, end: float) -> tuple[float, int]:
    ups = [a.uptime for a in r.acks if start <= a.uptime <= end]
    gaps = [b - a for a, b in zip(ups, ups[1:], strict=False)]
    return (max(gaps) if gaps else end - start), len(ups)


def records_on_image(image: Path) -> tuple[list[int], list[str]]:
    """The records file read from the ext4 image with ``debugfs`` (no mount): the sequence numbers of
    intact records, and the lines that are not (bad checksum or torn)."""
    import hashlib

    done = subprocess.run(["debugfs", "-R", f"cat {WRITER_PATH}", str(image)], capture_output=True, timeout=120)
    good, bad = [], []
    for raw in done.stdout.decode(errors="replace").splitlines():
        m = re.fullmatch(r"(\d{8} \S+ r{64}) ([0-9a-f]{32})", raw)
        if m and hashlib.sha256(m.group(1).encode()).hexdigest()[:32] == m.group(2):
            good.append(int(raw[:8]))
        else:
            bad.append(raw[:80])
    return good, bad


def replayed(image: Path, work: Path) -> Path:
    """A copy of ``image`` with its ext4 journal replayed (``e2fsck -E journal_only``), as the next
    mount would see it; ``image`` itself when it needs no recovery."""
    if "needs_recovery" not in fs_state(image):
        return image
    copy = work / (image.stem + ".replayed" + image.suffix)
    subprocess.run(["cp", "--sparse=always", str(image), str(copy)], check=True, timeout=300)
    subprocess.run(["e2fsck", "-y", "-E", "journal_only", str(copy)], capture_output=True, timeout=300)
    return copy


def fsck(image: Path) -> tuple[int, str]:
    done = subprocess.run(["e2fsck", "-f", "-n", str(image)], text=True, capture_output=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


def fs_state(image: Path) -> str:
    done = subprocess.run(["dumpe2fs", "-h", str(image)], text=True, capture_output=True, timeout=60)
    m = re.search(r"^Filesystem state:\s*(.*)$", done.stdout, re.M)
    feats = re.search(r"^Filesystem features:\s*(.*)$", done.stdout, re.M)
    recover = " needs_recovery" if feats and "needs_recovery" in feats.group(1) else ""
    return (m.group(1).strip() if m else "?") + recover
