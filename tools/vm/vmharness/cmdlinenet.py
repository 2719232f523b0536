"""Boots from the kernel command line alone (no iBFT, no DHCP): dracut's network words in a real guest.

Each boot gets a private network namespace (``netns.py``) holding a tap device :data:`TAP` with
:data:`SERVER`/24 and a ``tgtd`` (``tgt.py``) whose portal is there and which admits only the case's
initiator name (so a login shows the command line's ``rd.iscsi.initiator=`` was used). The Debian
kernel is booted directly (``-kernel``/``-initrd``, no NIC ROM: nothing writes a table), with the
case's words on its command line; ``ibftkit-init`` runs with no options and must reach the disk.
The guest image carries the ``8021q`` and ``bonding`` modules (:data:`MODULES`). Two wires:

- ``vlan``: one e1000 (MAC :data:`MAC0`) behind ``vlanswitch.py``, which passes only frames tagged
  with the case's VID to the tap (and tags the replies): the login can only happen over the 802.1Q
  link the command line asked for. The switch also reports the largest frame it carried each way,
  so the case can show the MTU the command line set is the one on the wire;
- ``bond``: two e1000s (:data:`MAC0`, :data:`MAC1`) and the tap on one QEMU hub (``-netdev
  hubport``): either NIC reaches the target, so an active-backup bond over both carries the login
  through its active slave.

Everything is torn down in reverse order whatever happens (the switch, tgtd, then the namespace
with anything left in it), so ``capture.leftovers()`` stays empty. See docs/vm-e2e.md
"From the kernel command line alone".
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from . import qemu
from .assets import Assets
from .capture import IQN, PORT, OneTargetCase, TargetSpec
from .netns import add_tap, private_netns
from .pyguest import E2eResult, check_e2e
from .tgt import Tgtd
from .vlanswitch import Counters, VlanSwitch

NET = "10.99.0"
SERVER = f"{NET}.1"  # the tap: tgtd's portal and the guest's gateway
GUEST = f"{NET}.20"
TAP = "tap0"
MAC0 = qemu.DEFAULT_MAC
MAC1 = "52:54:00:12:34:57"
VID = 299  # above 255: both bytes of the VID matter on the wire
MTU = 1400  # below the tap's 1500, so the largest frames show which MTU the guest used
MODULES = ("8021q", "bonding")  # bonding with its default max_bonds=1 makes an idle bond0 at load
APPEND = "console=ttyS0 quiet panic=1"


@dataclass(frozen=True)
class CmdlineCase(OneTargetCase):
    """One boot: the words for ibftkit-init on the kernel command line, the wire, the target.

    ``fixture`` and ``targets`` are what ``pyguest.check_e2e`` reads from a capture case."""

    name: str
    wire: str  # "vlan" | "bond"
    words: str
    target: TargetSpec
    initiator: str
    summary: str = ""


def netroot(target: TargetSpec, port: int = PORT) -> str:
    """dracut's ``netroot=iscsi:<server>::<port>:<lun>:<iqn>`` (dracut.cmdline(7) "iSCSI")."""
    return f"netroot=iscsi:{target.host}::{port}:{target.lun}:{target.iqn}"


_VLAN_DISK = TargetSpec("cmdline-vlan.disk", host=SERVER)
_BOND_DISK = TargetSpec("cmdline-bond.disk", host=SERVER)
_VLAN_INIT = f"{IQN}:initiator31"
_BOND_INIT = f"{IQN}:initiator32"
CASES: dict[str, CmdlineCase] = {c.name: c for c in (
    CmdlineCase(
        "cmdline-vlan", "vlan",
        f"ifname=bootnet:{MAC0} vlan=bootnet.{VID}:bootnet "
        f"ip={GUEST}::{SERVER}:255.255.255.0:cmdline-vlan:bootnet.{VID}:none:{MTU} "
        f"rd.iscsi.initiator={_VLAN_INIT} {netroot(_VLAN_DISK)}",
        _VLAN_DISK, _VLAN_INIT,
        summary=f"no iBFT: ifname= names the NIC bootnet, vlan= puts VLAN {VID} on it, a static ip= with "
                f"MTU {MTU} on the VLAN link; the switch passes only VID {VID}"),
    CmdlineCase(
        "cmdline-bond", "bond",
        f"bond=bond0:eth0,eth1:mode=active-backup ip={GUEST}::{SERVER}:24::bond0:none "
        f"rd.iscsi.initiator={_BOND_INIT} {netroot(_BOND_DISK)}",
        _BOND_DISK, _BOND_INIT,
        summary="no iBFT: an active-backup bond of two NICs with a static ip= on it"),
)}


def hub_nics(tap: str = TAP, macs: tuple[str, ...] = (MAC0, MAC1)) -> list[str]:
    """e1000s (no ROM) and the tap on QEMU hub 0: every frame reaches every port."""
    argv = ["-netdev", f"tap,id=t0,ifname={tap},script=no,downscript=no",
            "-netdev", "hubport,id=h0,hubid=0,netdev=t0"]
    for n, mac in enumerate(macs, 1):
        argv += ["-netdev", f"hubport,id=h{n},hubid=0",
                 "-device", f"e1000,netdev=h{n},mac={mac},addr=0x{qemu.NIC_SLOT + n - 1:x},romfile="]
    return argv


@dataclass(frozen=True)
class CmdlineBoot:
    result: qemu.RunResult
    counters: Counters | None  # the VLAN switch's, for the vlan wire


def boot(assets: Assets, case: CmdlineCase, *, initrd: Path, append: str, work: Path, timeout: float,
         keep_log: Path | None = None) -> CmdlineBoot:
    """One direct-kernel boot of ``initrd`` with ``append`` on the case's wire (no table anywhere)."""
    log = work / "serial.log"
    switch: VlanSwitch | None = None
    try:
        with private_netns() as ns, ExitStack() as stack:
            add_tap(ns, TAP, f"{SERVER}/24")
            tgtd = stack.enter_context(Tgtd(work, portal=f"{SERVER}:{PORT}", netns=ns))
            tid = tgtd.add_target(case.target.iqn, (case.target.lun,))
            tgtd.admit_only(tid, case.initiator)
            if case.wire == "vlan":
                switch = stack.enter_context(VlanSwitch(ns, work, VID, TAP))
                nics = switch.qemu_nic(MAC0)
            elif case.wire == "bond":
                nics = hub_nics()
            else:
                raise ValueError(f"{case.name}: unknown wire {case.wire!r} (vlan or bond)")
            argv = qemu.base(log) + qemu.direct_kernel(assets.vmlinuz, initrd, append) + nics
            result = qemu.run(argv, log, timeout=timeout, netns=ns)
    finally:
        if keep_log and log.exists():
            shutil.copyfile(log, keep_log)
    return CmdlineBoot(result, switch.counters if switch else None)


def run_e2e(assets: Assets, case: CmdlineCase, *, initrd: Path, words: str | None = None,
            init_args: tuple[str, ...] = (), timeout: float = 300,
            keep_log: Path | None = None) -> tuple[E2eResult, Counters | None]:
    """Boot ``case`` into the ibftkit-init image (built with :data:`MODULES`); ``words`` replaces the
    case's command-line words. Raises ``pyguest.E2eError`` unless ibftkit-init exited 0 and the
    target's marker was read."""
    append = " ".join([APPEND, case.words if words is None else words]
                      + ([f"ibftkitvm.args={','.join(init_args)}"] if init_args else []))
    with tempfile.TemporaryDirectory(prefix=f"ibftkit-{case.name}-") as tmp:
        b = boot(assets, case, initrd=initrd, append=append, work=Path(tmp), timeout=timeout, keep_log=keep_log)
    return check_e2e(case, b.result), b.counters  # type: ignore[arg-type]  # it reads only .fixture and .targets


@dataclass(frozen=True)
class GuestLink:
    """One link of the guest's ``ip addr`` (busybox) in the e2e report's ``net`` block."""

    name: str
    flags: frozenset[str]
    mtu: int
    master: str | None
    addresses: tuple[str, ...]  # IPv4, "a.b.c.d/n"


def guest_links(net: str) -> dict[str, GuestLink]:
    """The guest's links by name, from busybox ``ip addr`` lines such as
    ``3: eth1: <BROADCAST,MULTICAST,SLAVE,UP,LOWER_UP> mtu 1500 qdisc fq_codel master bond0 qlen 1000``
    and the ``inet a.b.c.d/n`` lines under each."""
    header = re.compile(r"^\d+: ([^:@]+)(?:@\S+)?: <([^>]*)> mtu (\d+)(.*)$")
    out: dict[str, GuestLink] = {}
    addresses: dict[str, list[str]] = {}
    name = None
    for line in net.splitlines():
        m = header.match(line)
        if m:
            name = m.group(1)
            master = re.search(r" master (\S+)", m.group(4))
            out[name] = GuestLink(name, frozenset(m.group(2).split(",")), int(m.group(3)),
                                  master.group(1) if master else None, ())
            addresses[name] = []
        elif name is not None and line.startswith(" ") and line.strip().startswith("inet "):
            addresses[name].append(line.split()[1])
        elif not line.startswith(" "):
            name = None
    return {n: dataclasses.replace(link, addresses=tuple(addresses[n])) for n, link in out.items()}
