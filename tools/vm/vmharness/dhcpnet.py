"""The DHCP path in a VM: no iBFT, the boot parameters from DHCP options 17 and 203.

``docs/vm-harness.md``, "The recipe": QEMU's user network has no option 17, so each boot gets a
private network namespace (``netns.py``) holding

- a tap device :data:`TAP` with :data:`SERVER`/24, which QEMU's e1000 is plugged into
  (``-netdev tap``; ``romfile=`` so no iPXE runs and no firmware writes a table);
- ``dnsmasq`` on the tap (DHCP only, a ten-address range, ten-minute leases, its log in the work
  directory) serving option 17 (the RFC 4173 root path of the case's target) and option 203 (the
  initiator name), both from a config file: on dnsmasq's command line the double quotes that keep a
  value a string are kept *in* the value (measured);
- a ``tgtd`` (``tgt.py``, its own control port) with the case's target, portal ``SERVER:3260``,
  admitting only the case's initiator name (so a login shows option 203 was decoded and used);
- QEMU booting the Debian kernel directly (``-kernel``/``-initrd``).

Two guests boot there: the ibftkit-init image (``pyguest.build_initrd(..., dhcp=True)``, guest
``init-ibftkit``), which must find no table, take a lease with its scapy client, configure eth0 with
pyroute2 and log in with iscsistart; and the anchor (the capture guest, ``ibftkitvm.mode=dhcp``): busybox
``udhcpc`` then ``iscsistart`` with the root path's fields. Either passes only on the target's marker.
Everything is torn down in reverse order whatever happens (dnsmasq, tgtd, then the namespace with
anything left in it), so ``capture.leftovers()`` stays empty.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from . import qemu, serial
from .assets import Assets
from .capture import IQN, PORT, OneTargetCase, TargetSpec, _anchor_times
from .netns import add_tap, private_netns
from .procs import end_group
from .pyguest import E2eResult, check_e2e
from .tgt import Tgtd, marker

SERVER = "10.99.0.1"  # the tap's address in the namespace: dnsmasq, tgtd's portal, the default router
TAP = "tap0"
LEASE_RANGE = "10.99.0.100,10.99.0.109,255.255.255.0,10m"
APPEND = "console=ttyS0 quiet panic=1"
ANCHOR_APPEND = APPEND + " ibftkitvm.mode=dhcp"
# QEMU's e1000 refuses received frames for 1 s after every write of its RCTL register (hw/net/e1000.c
# set_rx_control: flush_queue_timer), and the guest's driver rewrites RCTL whenever a multicast list
# changes, e.g. when IPv6 joins its groups as the carrier comes up. A DHCP client that sends right at
# carrier (udhcpc) gets its OFFER about 1 s late; real NICs do not do this. Booting with IPv6 off
# removes that second (measured: udhcpc's lease 1.10 s -> 0.15 s, the login unchanged).
NO_RX_HOLD = "ipv6.disable=1"
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


class DhcpNetError(RuntimeError):
    """The DHCP-path plumbing failed, or a guest did not reach its disk."""


@dataclass(frozen=True)
class DhcpCase(OneTargetCase):
    """One DHCP-path boot: the target tgtd serves, what dnsmasq hands out.

    ``fixture`` and ``targets`` are what ``pyguest.check_e2e`` reads from a capture case."""

    name: str
    target: TargetSpec
    initiator: str
    root_path: bool = True  # serve option 17 (False: a lease without it, the failure case)
    summary: str = ""

    def dnsmasq_conf(self) -> list[str]:
        """Config-file lines: option 17 as iPXE and RFC 4173 write it (LUN in hex), option 203."""
        lines = [f'dhcp-option=203,"{self.initiator}"']
        if self.root_path:
            lines.insert(0, f'dhcp-option=17,"{self.target.uri()}"')
        return lines


_DISK = TargetSpec("dhcp.disk", host=SERVER)
CASES: dict[str, DhcpCase] = {c.name: c for c in (
    DhcpCase("dhcp-path", _DISK, f"{IQN}:initiator21",
             summary="no iBFT; direct kernel boot, dnsmasq options 17 and 203 on a tap, target at 10.99.0.1"),
    DhcpCase("dhcp-path-no-root-path", _DISK, f"{IQN}:initiator22", root_path=False,
             summary="no iBFT; a lease without option 17: ibftkit-init must exit 3"),
)}


# --- the plumbing ---------------------------------------------------------------------------------

class Dnsmasq:
    """``dnsmasq --no-daemon`` (DHCP only) in namespace ``ns`` on ``interface``, started by PID and
    stopped by it (SIGTERM, then SIGKILL); the log stays readable after :meth:`stop`."""

    def __init__(self, ns: str, interface: str, workdir: Path, conf: list[str]) -> None:
        self.ns, self.interface, self.dir, self.conf = ns, interface, workdir, conf
        self.log_path = workdir / "dnsmasq.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        return ["ip", "netns", "exec", self.ns, DNSMASQ, "--no-daemon", f"--conf-file={self.dir / 'dnsmasq.conf'}",
                "--no-resolv", "--no-hosts", "--port=0", f"--interface={self.interface}", "--bind-interfaces",
                "--except-interface=lo", f"--dhcp-range={LEASE_RANGE}", f"--dhcp-leasefile={self.dir / 'leases'}",
                "--pid-file=", "--log-dhcp", "--log-facility=-", "--no-ping", "--dhcp-authoritative"]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 15.0) -> Dnsmasq:
        (self.dir / "dnsmasq.conf").write_text("".join(f"{line}\n" for line in self.conf))
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "DHCP, IP range" in self.log():  # ready: the first DISCOVER will not be lost
                return self
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.stop()
                raise DhcpNetError(f"dnsmasq exited {rc}: {self.log().strip()[-400:]}")
            time.sleep(0.05)
        self.stop()
        raise DhcpNetError(f"dnsmasq did not log its DHCP range within {timeout:.0f} s: {self.log().strip()[-400:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        end_group(self.proc, grace=5)  # dnsmasq --no-daemon exits on SIGTERM
        self.proc = None

    def __enter__(self) -> Dnsmasq:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def tap_nic(mac: str = qemu.DEFAULT_MAC, tap: str = TAP, slot: int = qemu.NIC_SLOT) -> list[str]:
    """An e1000 on the namespace's tap, without its iPXE ROM (``romfile=``): nothing writes a table."""
    return ["-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
            "-device", f"e1000,netdev=n0,mac={mac},addr=0x{slot:x},romfile="]


@dataclass(frozen=True)
class DhcpBoot:
    result: qemu.RunResult
    dnsmasq_log: str

    def acked(self) -> list[str]:
        """The addresses dnsmasq acknowledged (``DHCPACK(tap0) 10.99.0.10x <mac>``), in order."""
        return re.findall(r"DHCPACK\(\S+\) (\d+\.\d+\.\d+\.\d+)", self.dnsmasq_log)


def boot(assets: Assets, case: DhcpCase, *, initrd: Path, append: str, work: Path, timeout: float,
         keep_log: Path | None = None) -> DhcpBoot:
    """One direct-kernel boot of ``initrd`` on the case's tap network; returns the serial log and what
    dnsmasq logged. ``keep_log``: also write both there (``.serial``, ``.dnsmasq``)."""
    log = work / "serial.log"
    dnsmasq: Dnsmasq | None = None
    try:
        with ExitStack() as stack:
            ns = stack.enter_context(private_netns())
            add_tap(ns, TAP, f"{SERVER}/24")
            tgtd = stack.enter_context(Tgtd(work, portal=f"{SERVER}:{PORT}", netns=ns))
            tid = tgtd.add_target(case.target.iqn, (case.target.lun,), chap=case.target.chap,
                                  mutual=case.target.mutual)
            tgtd.admit_only(tid, case.initiator)  # a login shows the name option 203 carried was used
            dnsmasq = stack.enter_context(Dnsmasq(ns, TAP, work, case.dnsmasq_conf()))
            argv = qemu.base(log) + qemu.direct_kernel(assets.vmlinuz, initrd, append) + tap_nic()
            result = qemu.run(argv, log, timeout=timeout, netns=ns)
    except qemu.QemuError as e:
        said = dnsmasq.log().strip()[-600:] if dnsmasq else ""
        raise DhcpNetError(f"{case.name}: {e}; dnsmasq said {said!r}") from None
    finally:
        if keep_log:
            if log.exists():
                shutil.copyfile(log, keep_log)
            if dnsmasq:
                keep_log.with_suffix(".dnsmasq").write_text(dnsmasq.log())
    assert dnsmasq is not None
    return DhcpBoot(result, dnsmasq.log())


# --- ibftkit-init on the DHCP path ----------------------------------------------------------------

@dataclass(frozen=True)
class InitRun:
    """What the init-ibftkit guest printed, whatever ibftkit-init's exit status."""

    case: DhcpCase
    boot: DhcpBoot
    report: serial.GuestReport

    @property
    def rc(self) -> int:
        return self.report.rcs.get("ibftkit-init", -1)

    @property
    def output(self) -> str:
        return self.report.blobs.get("ibftkit-init", b"").decode(errors="replace")


def _append(init_args: tuple[str, ...], kernel_args: str) -> str:
    return APPEND + (f" ibftkitvm.args={','.join(init_args)}" if init_args else "") + \
        (f" {kernel_args}" if kernel_args else "")


def run_init(assets: Assets, case: DhcpCase, *, initrd: Path, init_args: tuple[str, ...] = (),
             kernel_args: str = "", timeout: float = 300, keep_log: Path | None = None) -> InitRun:
    """Boot the ibftkit-init image (built with ``dhcp=True``) on the case's network; no verdict.
    ``kernel_args``: more for the kernel command line (e.g. :data:`NO_RX_HOLD`)."""
    with tempfile.TemporaryDirectory(prefix=f"ibftkit-{case.name}-") as tmp:
        b = boot(assets, case, initrd=initrd, append=_append(init_args, kernel_args), work=Path(tmp),
                 timeout=timeout, keep_log=keep_log)
    rep = serial.parse(b.result.serial)
    if not rep.done:
        raise DhcpNetError(f"{case.name}: guest did not finish (QEMU exit {b.result.returncode}); "
                           f"serial ends {b.result.serial[-800:]!r}")
    return InitRun(case, b, rep)


def run_e2e(assets: Assets, case: DhcpCase, *, initrd: Path, init_args: tuple[str, ...] = (),
            kernel_args: str = "", timeout: float = 300,
            keep_log: Path | None = None) -> tuple[E2eResult, DhcpBoot]:
    """The DHCP-path e2e case: raises ``pyguest.E2eError`` unless ibftkit-init exited 0 and the
    target's marker was read."""
    with tempfile.TemporaryDirectory(prefix=f"ibftkit-{case.name}-") as tmp:
        b = boot(assets, case, initrd=initrd, append=_append(init_args, kernel_args), work=Path(tmp),
                 timeout=timeout, keep_log=keep_log)
    return check_e2e(case, b.result), b  # type: ignore[arg-type]  # it reads only .fixture and .targets


_KMSG = re.compile(r"^\[\s*([0-9.]+)\]\s+(.*)$")
# Kernel-log lines that end each phase of ibftkit-init's DHCP path (the first line holding the text):
# the e1000 driver's carrier, ibftkit-init starting DHCP (after start-up, imports, link up, carrier),
# its first DISCOVER (after importing scapy), the ACK, the login's start (after netlink) and end.
PHASES = (("carrier", "e1000: eth0 NIC Link is Up"), ("dhcp", "ibftkit: DHCP on "),
          ("discover", "ibftkit: DHCPDISCOVER"), ("ack", "ibftkit: DHCPACK"),
          ("login-start", "ibftkit: logging in to "), ("logged-in", "ibftkit: logged in to "))


def init_phases(r: E2eResult) -> dict[str, float]:
    """Seconds after ibftkit-init started at which it logged each of :data:`PHASES`, from the
    guest's kernel-log block (its clock tied to /proc/uptime by the ``ibftkit-vm: uptime`` line)."""
    lines = [(float(m.group(1)), m.group(2)) for m in map(_KMSG.match, r.kmsg.splitlines()) if m]
    ties = [(ts, float(text.split()[-1])) for ts, text in lines if text.startswith("ibftkit-vm: uptime ")]
    if not ties:
        return {}
    offset = ties[-1][0] - ties[-1][1]  # printk clock minus uptime
    start = r.times["e2e-start"]
    out: dict[str, float] = {}
    for name, prefix in PHASES:
        hit = next((ts for ts, text in lines if prefix in text), None)
        if hit is not None:
            out[name] = hit - offset - start
    return out


# --- the anchor: busybox udhcpc, then iscsistart ----------------------------------------------------

@dataclass(frozen=True)
class AnchorResult:
    case: DhcpCase
    times: dict[str, float]  # network (link, carrier, udhcpc), login (iscsistart), disk (first read)
    carrier: float  # seconds from the start to carrier on eth0 (part of "network")
    lease: str  # what udhcpc's script saw (ip, router, rootpath, opt203)
    disks: dict[str, bytes]
    seconds: float

    @property
    def to_disk(self) -> float:
        return self.times["disk"]


def run_anchor(assets: Assets, case: DhcpCase, *, initrd: Path, kernel_args: str = "", timeout: float = 300,
               keep_log: Path | None = None) -> AnchorResult:
    """Boot the capture guest in its DHCP-anchor mode (``initrd`` from ``capture.build_initrd``);
    raises :class:`DhcpNetError` unless it read the target's marker."""
    append = ANCHOR_APPEND + (f" {kernel_args}" if kernel_args else "")
    with tempfile.TemporaryDirectory(prefix=f"ibftkit-{case.name}-anchor-") as tmp:
        b = boot(assets, case, initrd=initrd, append=append, work=Path(tmp), timeout=timeout, keep_log=keep_log)
    rep = serial.parse(b.result.serial)
    if not rep.done:
        raise DhcpNetError(f"{case.name} anchor: guest did not finish (QEMU exit {b.result.returncode}); "
                           f"serial ends {b.result.serial[-800:]!r}")
    disks = {n.removeprefix("disk-"): d for n, d in rep.blobs.items() if n.startswith("disk-")}
    want = marker(case.target.iqn, case.target.lun)
    if not any(d.startswith(want) for d in disks.values()):
        def said(name: str) -> str:
            return f"{name} exit {rep.rcs.get(name)} said {rep.blobs.get(name, b'').decode(errors='replace')[-300:]!r}"

        raise DhcpNetError(f"{case.name} anchor: no disk with {want.decode().strip()!r} (read {sorted(disks)}); "
                           f"{said('udhcpc')}; {said('lease')}; {said('iscsistart')}; notes {rep.notes}")
    carrier = rep.times["anchor-carrier"] - rep.times["anchor-start"]
    return AnchorResult(case, _anchor_times(rep.times), carrier, rep.text("lease"), disks, b.result.seconds)
