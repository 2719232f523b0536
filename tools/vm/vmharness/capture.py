"""``tools/vm/capture``: iBFTs written by real boot firmware (Debian's iPXE under SeaBIOS or OVMF).

Per case, inside a private network namespace (``netns.py``): a ``tgtd`` serving the case's targets
(marker LUNs, CHAP accounts) on 127.0.0.1:3260; QEMU (TCG) whose e1000 iPXE ROM DHCPs from QEMU's
user network, fetches the generated ``boot.ipxe`` by TFTP, ``sanhook``s every target (so iPXE
writes the iBFT) and boots the Debian kernel with the harness's busybox initramfs. The guest prints
the table (BIOS: low memory via ``/dev/mem``; UEFI: the ACPI table), the kernel's
``/sys/firmware/ibft`` view and ``iscsistart -f``; with ``login`` it then runs the open-iscsi
anchor (``iscsistart -N``, ``iscsistart -b``) and reads every disk's first sector, which must hold
the marker of a target the case defined.

Saved as ``fixtures/ibft/<producer>-<case>.{bin,sysfs,iscsistart-f}`` (producer ``ipxe-bios`` or
``ipxe-uefi``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import qemu, serial
from .assets import Assets
from .initramfs import IBFT_MODULES, LOGIN_MODULES, NIC_MODULES, guest_image
from .netns import ip_in, private_netns
from .tgt import SOCKET_DIR, Account, Tgtd, marker

HOST = "10.0.2.2"  # the host (here: the namespace's 127.0.0.1) as QEMU's user network shows it
# An address outside QEMU's user network (10.0.2.0/24): the guest reaches it through the gateway
# 10.0.2.2, and QEMU connects to it from the namespace it runs in, where boot_case puts it on ``lo``.
OFF_SUBNET = "192.168.77.1"
PORT = 3260
IQN = "iqn.2026-11.org.example"


@dataclass(frozen=True)
class TargetSpec:
    name: str  # after "IQN:"
    lun: int = 1
    chap: Account | None = None
    mutual: Account | None = None
    host: str = HOST  # the portal address the guest connects to; not HOST: off the guest's subnet

    @property
    def iqn(self) -> str:
        return f"{IQN}:{self.name}"

    def uri(self, port: int = PORT) -> str:
        """RFC 4173 root path as iPXE takes it; iPXE reads the LUN field as hexadecimal."""
        return f"iscsi:{self.host}::{port}:{self.lun:x}:{self.iqn}"


class OneTargetCase:
    """For a case dataclass with ``name`` and one ``target`` (the DHCP, DHCPv6 and command-line
    cases): the ``fixture`` and ``targets`` the shared boot code reads from every case."""

    name: str
    target: TargetSpec

    @property
    def fixture(self) -> str:
        return self.name

    @property
    def targets(self) -> tuple[TargetSpec, ...]:
        return (self.target,)


@dataclass(frozen=True)
class Case:
    name: str
    firmware: str  # "bios" | "uefi"
    targets: tuple[TargetSpec, ...]
    initiator: str
    static: dict[str, str] = field(default_factory=dict)  # iPXE net0/<setting> -> value; empty = DHCP
    hostname: str | None = None
    summary: str = ""

    @property
    def producer(self) -> str:
        return f"ipxe-{self.firmware}"

    @property
    def fixture(self) -> str:
        return f"{self.producer}-{self.name}"

    def ipxe_script(self, port: int = PORT) -> str:
        lines = ["#!ipxe", "echo ibftkit capture: " + self.fixture]
        if self.static:
            lines.append("ifopen net0")
            lines += [f"set net0/{k} {v}" for k, v in self.static.items()]
        else:
            lines.append("dhcp || goto fail")
        if self.hostname:
            lines.append(f"set hostname {self.hostname}")
        lines.append(f"set initiator-iqn {self.initiator}")
        for drive, t in enumerate(self.targets):
            # CHAP settings are global in iPXE: each sanhook takes the values set at that moment.
            for setting, value in (("username", t.chap and t.chap.user), ("password", t.chap and t.chap.password),
                                   ("reverse-username", t.mutual and t.mutual.user),
                                   ("reverse-password", t.mutual and t.mutual.password)):
                lines.append(f"set {setting} {value}" if value else f"clear {setting}")
            lines.append(f"sanhook --drive 0x{0x80 + drive:x} {t.uri(port)} || goto fail")
        lines += [f"kernel tftp://{HOST}/vmlinuz initrd=initrd.gz {APPEND}",
                  f"initrd tftp://{HOST}/initrd.gz",
                  "boot || goto fail",
                  ":fail",
                  "echo ibftkit capture: FAILED",
                  "reboot"]
        return "\n".join(lines) + "\n"


APPEND = "console=ttyS0 quiet panic=1 ibftkitvm.mode=view ibftkitvm.login=1"

_ONE = TargetSpec("boot.disk1")
_CHAP = Account("initiator-user", "initiator-secret1")
_RCHAP = Account("target-user", "target-secret01")

CASES: dict[str, Case] = {c.fixture: c for c in (
    Case("dhcp", "bios", (_ONE,), f"{IQN}:initiator01", summary="DHCP, one target, LUN 1, no CHAP"),
    Case("chap", "bios", (TargetSpec("chap.disk", chap=_CHAP),), f"{IQN}:initiator02",
         summary="one-way CHAP (chap-type 1)"),
    Case("mutual-chap", "bios", (TargetSpec("mutual.disk", chap=_CHAP, mutual=_RCHAP),), f"{IQN}:initiator03",
         summary="mutual CHAP (chap-type 2)"),
    Case("two-targets", "bios", (TargetSpec("disk.a", lun=1), TargetSpec("disk.b", lun=2)), f"{IQN}:initiator04",
         summary="two targets (sanhook --drive 0x80, 0x81), LUNs 1 and 2"),
    Case("static", "bios", (TargetSpec("static.disk", lun=0x10),), f"{IQN}:initiator05",
         static={"ip": "10.0.2.20", "netmask": "255.255.255.0", "gateway": HOST, "dns": "10.0.2.3"},
         hostname="ibftkit-static", summary="static address (ifopen, set net0/ip ...), hostname, LUN 16"),
    Case("off-subnet", "bios", (TargetSpec("offnet.disk", host=OFF_SUBNET),), f"{IQN}:initiator06",
         static={"ip": "10.0.2.20", "netmask": "255.255.255.0", "gateway": HOST},
         summary=f"static address, target {OFF_SUBNET} off the NIC's subnet (reached via the gateway)"),
    Case("dhcp", "uefi", (_ONE,), f"{IQN}:initiator11", summary="OVMF: the table as an ACPI table"),
    Case("three-targets", "uefi",
         (TargetSpec("disk.a", lun=1), TargetSpec("disk.b", lun=2), TargetSpec("disk.c", lun=3)),
         f"{IQN}:initiator12", summary="OVMF: three targets (control expansion)"),
    Case("mutual-chap", "uefi", (TargetSpec("mutual.disk", chap=_CHAP, mutual=_RCHAP),), f"{IQN}:initiator13",
         summary="OVMF: mutual CHAP"),
)}


class CaptureError(RuntimeError):
    pass


@dataclass(frozen=True)
class Capture:
    case: Case
    table: bytes
    sysfs: str
    iscsistart_f: str
    disks: dict[str, bytes]  # "sda-2:0:0:1" -> first sector
    anchor: dict[str, float]  # seconds: network (-N), login (-b), disk (first read), total
    seconds: float
    notes: tuple[str, ...]

    def write(self, outdir: Path) -> list[Path]:
        outdir.mkdir(parents=True, exist_ok=True)
        stem = outdir / self.case.fixture
        paths = [stem.with_suffix(".bin"), stem.with_suffix(".sysfs"), stem.with_suffix(".iscsistart-f")]
        paths[0].write_bytes(self.table)
        paths[1].write_text(self.sysfs)
        paths[2].write_text(self.iscsistart_f)
        return paths


def build_initrd(assets: Assets, path: Path) -> Path:
    guest_image(assets, modules=IBFT_MODULES + NIC_MODULES + LOGIN_MODULES).write_gz(path)
    return path


def _anchor_times(times: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    start = times.get("anchor-start")
    if start is None:
        return out
    if "anchor-network" in times:
        out["network"] = times["anchor-network"] - start
    if "anchor-login" in times:
        out["login"] = times["anchor-login"] - times.get("anchor-network", start)
    reads = [v for k, v in times.items() if k.startswith("anchor-read-")]
    if reads:
        out["disk"] = min(reads) - start
        out["all_disks"] = max(reads) - start
    return out


def boot_case(assets: Assets, case: Case, *, initrd: Path, script: str, work: Path, timeout: float,
              keep_log: Path | None = None,
              during: Callable[[str, Path], Callable[[], None]] | None = None) -> qemu.RunResult:
    """One boot of ``case``: a private namespace holding its tgtd and QEMU, iPXE running ``script``
    from QEMU's TFTP server with ``initrd``. Shared by capture mode and the ibftkit-init e2e mode.
    ``during(namespace, serial_log)`` is called once QEMU is about to start; what it returns is
    called when QEMU has ended, before the namespace goes (the dead-path case: ``deadpath.py``)."""
    tftp = work / "tftp"
    tftp.mkdir()
    shutil.copyfile(assets.vmlinuz, tftp / "vmlinuz")
    shutil.copyfile(initrd, tftp / "initrd.gz")
    (tftp / "boot.ipxe").write_text(script)
    log = work / "serial.log"
    with private_netns() as ns, Tgtd(work, portal=f"127.0.0.1:{PORT}", netns=ns) as tgtd:
        for host in sorted({t.host for t in case.targets} - {HOST}):
            _off_subnet_portal(ns, tgtd, host)
        for t in case.targets:
            tgtd.add_target(t.iqn, (t.lun,), chap=t.chap, mutual=t.mutual)
        argv = qemu.base(log) + qemu.ipxe_nic(qemu.DEFAULT_MAC, tftp)
        argv += qemu.uefi(work) if case.firmware == "uefi" else qemu.bios_serial_console(work)
        stop = during(ns, log) if during is not None else None
        try:
            result = qemu.run(argv, log, timeout=timeout, netns=ns)
        finally:
            if stop is not None:
                stop()
    if keep_log:
        keep_log.write_text(result.serial)
    return result


def _off_subnet_portal(ns: str, tgtd: Tgtd, host: str) -> None:
    """Serve ``host`` too: QEMU's user network turns the guest's connection to an address outside
    10.0.2.0/24 into a real connect() from QEMU's namespace, so the address goes on that ``lo``."""
    ip_in(ns, "addr", "add", f"{host}/32", "dev", "lo")
    tgtd.adm("--lld", "iscsi", "--op", "new", "--mode", "portal", "--param", f"portal={host}:{PORT}")


def leftovers() -> list[str]:
    """Namespaces and tgtd control sockets this process's harness runs left behind (should be none)."""
    mine = f"ibkvm{os.getpid()}n"
    listed = subprocess.run(["ip", "netns", "list"], text=True, capture_output=True).stdout.splitlines()
    ns = [line.split()[0] for line in listed if line.startswith(mine)]
    sockets = [p.name for p in SOCKET_DIR.glob(f"socket.{1000 + os.getpid() % 20000}*")] \
        if SOCKET_DIR.exists() else []
    return ns + sockets


def run_case(assets: Assets, case: Case, *, initrd: Path, login: bool = True, timeout: float = 300,
             keep_log: Path | None = None) -> Capture:
    """Boot ``case`` once; return what the guest saw (raises :class:`CaptureError` if incomplete)."""
    with tempfile.TemporaryDirectory(prefix=f"ibftkit-capture-{case.fixture}-") as tmp:
        script = case.ipxe_script()
        if not login:
            script = script.replace(" ibftkitvm.login=1", "")
        result = boot_case(assets, case, initrd=initrd, script=script, work=Path(tmp), timeout=timeout,
                           keep_log=keep_log)
        rep = serial.parse(result.serial)
        if not rep.done:
            raise CaptureError(f"{case.fixture}: guest did not finish (QEMU exit {result.returncode}); "
                               f"serial ends {result.serial[-800:]!r}")
    table = rep.blob("table")
    if not table:
        raise CaptureError(f"{case.fixture}: the guest found no table ({'; '.join(rep.notes)})")
    disks = {name.removeprefix("disk-"): data for name, data in rep.blobs.items() if name.startswith("disk-")}
    if login:
        want = {marker(t.iqn, t.lun) for t in case.targets}
        got = {d[: len(m)] for d in disks.values() for m in want if d.startswith(m)}
        if got != want:
            raise CaptureError(f"{case.fixture}: after iscsistart -b the guest read {sorted(disks)}; "
                               f"markers missing for {sorted(m.decode().strip() for m in want - got)}; "
                               f"iscsistart -b said {rep.blobs.get('iscsistart-b', b'').decode()[-400:]!r}")
    return Capture(case, table, rep.text("sysfs"), rep.text("iscsistart-f"), disks,
                   _anchor_times(rep.times), result.seconds, tuple(rep.notes))


def capture_many(assets: Assets, names: list[str], *, outdir: Path | None, login: bool = True,
                 timeout: float = 300, logdir: Path | None = None,
                 log: Callable[[str], None] = print) -> list[Capture]:
    """Run the named cases in sequence (one guest at a time: 2 cores)."""
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise CaptureError(f"unknown case(s) {', '.join(unknown)} (known: {', '.join(CASES)})")
    done = []
    with tempfile.TemporaryDirectory(prefix="ibftkit-capture-") as tmp:
        initrd = build_initrd(assets, Path(tmp) / "initrd.gz")
        for name in names:
            if logdir:
                logdir.mkdir(parents=True, exist_ok=True)
            cap = run_case(assets, CASES[name], initrd=initrd, login=login, timeout=timeout,
                           keep_log=logdir / f"{name}.serial" if logdir else None)
            written = cap.write(outdir) if outdir else []
            anchor = ", ".join(f"{k} {v:.2f} s" for k, v in cap.anchor.items())
            log(f"{name}: {len(cap.table)}-byte table, {len(cap.sysfs.splitlines())} attributes, "
                f"{len(cap.disks)} disk(s) with marker, boot {cap.seconds:.1f} s"
                + (f"; anchor: {anchor}" if anchor else "")
                + (f" -> {', '.join(str(p) for p in written)}" if written else ""))
            done.append(cap)
    return done
