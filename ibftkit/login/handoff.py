"""The hand-off from ``ibftkit-init`` in the initramfs to the installed system (docs/after-boot.md).

After the login, with ``--handoff``, ``ibftkit-init`` leaves in ``/run`` (which initramfs-tools and
dracut move into the real root) what the root's own tools need to keep the iSCSI disk:

``run/initramfs/ibftkit/nodes/<target>/<address>,<port>,<tpgt>/default``
    one open-iscsi node record per session (``login.argv.node_record``: ``node.startup = onboot``, the
    login's session parameters, CHAP if any; mode 0600), in the layout of ``/etc/iscsi/nodes``
    (open-iscsi ``usr/idbm.c``). ``iscsid`` takes a running session over with its record's timers
    when it finds one (``usr/iscsid.c`` ``sync_session``; without one it uses ``iscsid.conf``'s
    defaults, 120 s and NOP-outs), and ``iscsiadm --logoutall`` skips ``onboot`` records.
``run/systemd/system/ibftkit-handoff.service`` (+ ``sysinit.target.wants/``)
    copies those records into ``/etc/iscsi/nodes`` once the root is writable, before ``iscsid``.
``run/net-<if>.conf``
    per boot NIC, in klibc ``ipconfig``'s format (initramfs-tools ``scripts/functions``
    ``configure_networking`` writes the same): Debian's open-iscsi
    (``/lib/open-iscsi/net-interface-handler``) feeds its DNS servers to ``resolvconf``.
``run/systemd/network/10-ibftkit-<if>.network``
    systemd-networkd keeps the address, route and DNS servers as they are (``KeepConfiguration=yes``,
    ``IgnoreCarrierLoss=yes``: systemd.network(5)).
``run/systemd/system/ifup@<if>.service`` -> ``/dev/null`` and ``networking.service.d/ibftkit.conf``
    ifupdown's hotplug unit is masked for the boot NICs and ``ifup -a``/``ifdown -a`` exclude them
    (``EXCLUDE_INTERFACES``, read with ``--read-environment``: ifup(8)), so neither re-addresses
    them at boot nor takes them down at shutdown while the root is still mounted.

Files that are there already (written by open-iscsi's script or by ``ipconfig``) are left alone,
except the node records, which are ibftkit's own.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ..model import BootConfig, IPAddress, Target

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

if TYPE_CHECKING:
    from ..infra.log import Logger
    from ..network.plan import AddAddress, NetPlan, SetDns
    from ..network.plan_extra import RunDhcp, SetHostname

NODES = "run/initramfs/ibftkit/nodes"
UNIT = "ibftkit-handoff.service"
UNIT_TEXT = f"""# Written by ibftkit-init in the initramfs (docs/after-boot.md): the node records of the
# sessions it opened, for iscsid to take them over with the same timers and never log them out.
[Unit]
Description=Hand the initramfs's iSCSI sessions to open-iscsi (ibftkit)
Documentation=file:/usr/share/doc/ibftkit/after-boot.md
DefaultDependencies=no
After=systemd-remount-fs.service
Wants=iscsid.service
Before=iscsid.service iscsid.socket open-iscsi.service sysinit.target
ConditionPathIsDirectory=/{NODES}

[Service]
Type=oneshot
RemainAfterExit=yes
UMask=0077
ExecStart=/bin/mkdir -p /etc/iscsi/nodes
ExecStart=/bin/cp -a /{NODES}/. /etc/iscsi/nodes/
"""


@dataclass(frozen=True)
class NicState:
    """What a boot NIC carries after ``ibftkit-init`` configured it (read from the kernel)."""

    ifname: str
    addresses: tuple[IPInterface, ...]
    gateway: IPAddress | None = None
    dhcp: bool = False


@dataclass(frozen=True)
class NodeRecord:
    """One session's record: target name, portal address and port, TPGT, the record's text."""

    target: str
    address: str
    port: int
    tpgt: int
    text: str

    @property
    def path(self) -> str:
        return f"{NODES}/{self.target}/{self.address},{self.port},{self.tpgt}/default"


def net_conf(nic: NicState, dns: Sequence[IPAddress], hostname: str | None) -> str:
    """``/run/net-<if>.conf`` as klibc ``ipconfig`` writes it (``usr/kinit/ipconfig/main.c``
    ``dump_device_config``): shell assignments, IPv4 only (empty when the NIC has none)."""
    v4 = [a for a in nic.addresses if a.version == 4]
    addr = v4[0] if v4 else None
    dns4 = [str(d) for d in dns if d.version == 4] + ["", ""]
    rows = [("DEVICE", nic.ifname), ("PROTO", "dhcp" if nic.dhcp else "none"),
            ("IPV4ADDR", str(addr.ip) if addr else ""),
            ("IPV4BROADCAST", str(addr.network.broadcast_address) if addr else ""),
            ("IPV4NETMASK", str(addr.netmask) if addr else ""),
            ("IPV4GATEWAY", str(nic.gateway) if nic.gateway and nic.gateway.version == 4 else ""),
            ("IPV4DNS0", dns4[0]), ("IPV4DNS1", dns4[1]), ("HOSTNAME", hostname or ""),
            ("DNSDOMAIN", ""), ("NISDOMAIN", ""), ("ROOTSERVER", ""), ("ROOTPATH", ""), ("filename", ""),
            ("UPTIME", "0"), ("DHCPLEASETIME", "0"), ("DOMAINSEARCH", "")]
    return "".join(f"{k}='{v}'\n" for k, v in rows)


def networkd_file(nic: NicState, dns: Sequence[IPAddress]) -> str:
    """A systemd-networkd ``.network`` that keeps what the initramfs configured (systemd.network(5)):
    the same static addresses, gateway and DNS servers, ``KeepConfiguration=yes`` (nothing
    dropped at start or stop), ``IgnoreCarrierLoss=yes`` (nothing dropped when the link blinks)."""
    lines = ["# Written by ibftkit-init in the initramfs (docs/after-boot.md): the iSCSI boot NIC keeps",
             "# its configuration while the root file system is on it.", "[Match]", f"Name={nic.ifname}", "",
             "[Network]"]
    lines += [f"Address={a}" for a in nic.addresses]
    if nic.gateway:
        lines.append(f"Gateway={nic.gateway}")
    lines += [f"DNS={d}" for d in dns]
    lines += ["DHCP=no", "LinkLocalAddressing=no", "IPv6AcceptRA=no", "KeepConfiguration=yes",
              "IgnoreCarrierLoss=yes", "ConfigureWithoutCarrier=yes"]
    return "\n".join(lines) + "\n"


def files(records: Sequence[NodeRecord], nics: Sequence[NicState], dns: Sequence[IPAddress],
          hostname: str | None) -> dict[str, tuple[str, int, bool]]:
    """Every hand-off file: relative path -> (text, mode, replace if present). A text ``"@/dev/null"``
    is a symlink to ``/dev/null`` (a masked unit)."""
    out: dict[str, tuple[str, int, bool]] = {}
    for r in records:
        out[r.path] = (r.text, 0o600, True)
    if records:
        out[f"run/systemd/system/{UNIT}"] = (UNIT_TEXT, 0o644, True)
        out[f"run/systemd/system/sysinit.target.wants/{UNIT}"] = (f"@../{UNIT}", 0o777, True)
    names = [n.ifname for n in nics]
    for nic in nics:
        out[f"run/net-{nic.ifname}.conf"] = (net_conf(nic, dns, hostname), 0o644, False)
        out[f"run/systemd/network/10-ibftkit-{nic.ifname}.network"] = (networkd_file(nic, dns), 0o644, True)
        out[f"run/systemd/system/ifup@{nic.ifname}.service"] = ("@/dev/null", 0o777, True)
    if names:
        out["run/systemd/system/networking.service.d/ibftkit.conf"] = (
            "# Written by ibftkit-init (docs/after-boot.md): ifup -a / ifdown -a leave the iSCSI boot NICs alone.\n"
            f"[Service]\nEnvironment=\"EXCLUDE_INTERFACES={' '.join(names)}\"\n", 0o644, True)
    return out


def write(root: str | os.PathLike[str], records: Sequence[NodeRecord], nics: Sequence[NicState],
          dns: Sequence[IPAddress], hostname: str | None) -> list[Path]:
    """Write :func:`files` under ``root`` (``/`` in the initramfs); returns the paths written.
    Directories of node records are 0700. Raises ``OSError`` as the file system does."""
    written = []
    for rel, (text, mode, replace) in sorted(files(records, nics, dns, hostname).items()):
        path = Path(root) / rel
        if (path.exists() or path.is_symlink()) and not replace:
            continue
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700 if rel.startswith(NODES) else 0o755)
        if path.is_symlink() or path.exists():
            path.unlink()
        if text.startswith("@"):
            path.symlink_to(text[1:])
        else:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "w") as f:
                f.write(text)
        written.append(path)
    return written


def kernel_nics(ifnames: Sequence[str], dhcp: Sequence[str] = ()) -> list[NicState]:
    """The addresses and default gateway each named link carries now (rtnetlink through
    ``ibftkit.network.netlink.Rtnl``, pyroute2's message classes)."""
    from ..network.netlink import Rtnl

    out = []
    with Rtnl() as ipr:
        for name in ifnames:
            idx = ipr.link_lookup(ifname=name)
            if not idx:
                continue
            addrs = tuple(ipaddress.ip_interface(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}")
                          for a in ipr.get_addr(index=idx[0]) if a["scope"] == 0)
            gw = None
            for r in ipr.get_routes(oif=idx[0]):
                if r["dst_len"] == 0 and r.get_attr("RTA_GATEWAY"):
                    gw = ipaddress.ip_address(r.get_attr("RTA_GATEWAY"))
                    break
            out.append(NicState(name, addrs, gw, name in dhcp))
    return out


def session_tpgt(target: str, address: str, port: int, *, sys_root: str = "/") -> int | None:
    """The TPGT of the kernel's session to (target, portal), from ``/sys/class/iscsi_session/*/tpgt``
    and ``iscsi_connection/*/persistent_{address,port}``; None when there is no such session."""
    sessions = Path(sys_root) / "sys/class/iscsi_session"
    conns = Path(sys_root) / "sys/class/iscsi_connection"
    try:
        entries = sorted(sessions.iterdir())
    except OSError:
        return None
    for s in entries:
        try:
            if (s / "targetname").read_text().strip() != target:
                continue
            sid = s.name.removeprefix("session")
            for c in conns.iterdir():
                if c.name.removeprefix("connection").split(":")[0] != sid:
                    continue
                if ((c / "persistent_address").read_text().strip() == address
                        and (c / "persistent_port").read_text().strip() == str(port)):
                    return int((s / "tpgt").read_text().strip())
        except (OSError, ValueError):
            continue
    return None


def leave_handoff(cfg: BootConfig, plan: NetPlan, targets: Sequence[Target], params: Sequence[tuple[str, str]],
                  *, log: Logger, sys_root: str = "/", root: str = "/") -> list[Path]:
    """``ibftkit-init --handoff``: the records of ``targets`` (logged in; TPGT from sysfs, else
    ``argv.DEFAULT_TPGT``), the NICs the plan configured as the kernel has them now, the plan's DNS
    servers and host name; see the module's description. Logs one line; ``OSError`` as :func:`write`."""
    from . import argv

    records = []
    for t in targets:
        addr = str(t.address)
        tpgt = session_tpgt(str(t.name), addr, t.port, sys_root=sys_root) or argv.DEFAULT_TPGT
        records.append(NodeRecord(str(t.name), addr, t.port, tpgt, argv.node_record(cfg, t, params=params, tpgt=tpgt)))
    names: list[str] = []
    dhcp: list[str] = []
    dns: tuple[IPAddress, ...] = ()
    hostname = None
    for step in plan.steps:  # by ``kind``: RunDhcp's and SetHostname's module loads only with such a step
        if step.kind in ("add_address", "run_dhcp"):
            ifname = cast("AddAddress | RunDhcp", step).ifname
            if ifname not in names:
                names.append(ifname)
        if step.kind == "run_dhcp":
            dhcp.append(cast("RunDhcp", step).ifname)
        if step.kind == "set_dns":
            dns = cast("SetDns", step).servers
        if step.kind == "set_hostname":
            hostname = cast("SetHostname", step).hostname
    nics = kernel_nics(names, dhcp)
    written = write(root, records, nics, dns, hostname)
    log.info(f"hand-off: {len(records)} node record(s), {len(nics)} NIC(s) ({', '.join(names) or 'none'}) "
             f"in /run for the installed system")
    return written
