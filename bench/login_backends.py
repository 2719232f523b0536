#!/usr/bin/env python3
"""What the iscsiadm backend (secrets off every argv) costs at boot against iscsistart, in a real guest.

    python3 bench/login_backends.py [--rounds N]     # as root; needs tools/vm/fetch-assets first

Each round boots the Debian kernel (QEMU, TCG) with a busybox initramfs twice, once per backend,
alternating. The guest brings up its e1000 statically (QEMU user network: guest 10.0.2.15, host
10.0.2.2, which QEMU connects to 127.0.0.1 of a private network namespace where a real ``tgtd``
serves one target with mutual CHAP), then runs exactly what ``ibftkit-init`` runs for that target,
generated on the host by ``ibftkit.login`` (``argv``, ``backends``):

- ``iscsistart``: the ``iscsistart_argv`` command (CHAP in ``-u -w -U -W``, root-disk ``-P`` settings);
- ``iscsiadm``: the ``node_record`` written mode 0600, ``iscsid -i <initiatorname file>``, then
  ``iscsiadm -m node -T … -p …,1 -I default --login``;

and waits until the disk is readable and holds the target's marker. Times come from the guest's
``/proc/uptime`` (10 ms): login command(s) and "start to disk readable". Medians are printed with
the ratio iscsiadm / iscsistart. TCG guests are several times slower than hardware; the ratio is
what carries over.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools" / "vm")]

from vmharness import assets as vm_assets  # noqa: E402
from vmharness import qemu, serial  # noqa: E402
from vmharness.initramfs import LOGIN_MODULES, NIC_MODULES, guest_image  # noqa: E402
from vmharness.netns import private_netns  # noqa: E402
from vmharness.tgt import Account, Tgtd, marker  # noqa: E402

from ibftkit.login.argv import ROOT_DISK_PARAMS, iscsistart_argv, node_record, record_path  # noqa: E402
from ibftkit.login.backends import IscsiadmBackend  # noqa: E402
from ibftkit.model import BootConfig, ChapType, Initiator, Lun, Secret, Target, parse_ip  # noqa: E402

INIT = "iqn.2026-11.org.example:bench-initiator"
TARGET = "iqn.2026-11.org.example:bench.disk"
CHAP, RCHAP = Account("initiator-user", "initiator-secret1"), Account("target-user", "target-secret01")
MAC = "52:54:00:12:34:56"

GUEST_INIT = r"""#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
dmesg -n 1
M=@@IBFTKIT-VM
up() { cut -d' ' -f1 /proc/uptime; }
stamp() { echo "$M time $1 $(up)"; }
note() { echo "$M note $*"; }
BACKEND=none
for arg in $(cat /proc/cmdline); do case "$arg" in ibftkit.backend=*) BACKEND=${arg#*=} ;; esac; done
while read -r ko; do [ -n "$ko" ] && insmod "/lib/modules/$ko" 2>/dev/null; done < /etc/ibftkit-vm/modules
mkdir -p /run/lock/iscsi /var/lock/iscsi /etc/iscsi /run/ibftkit
ip link set lo up; ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
i=0; while [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" != 1 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
stamp start
case "$BACKEND" in
iscsistart)
  @ISCSISTART@ > /tmp/login.out 2>&1; rc=$? ;;
iscsiadm)
  umask 077
  mkdir -p '@RECORD_DIR@'
  cat > '@RECORD@' <<'EOF_RECORD'
@RECORD_TEXT@EOF_RECORD
  umask 022
  echo 'InitiatorName=@INIT@' > /run/ibftkit/initiatorname.iscsi
  stamp record
  iscsid -i /run/ibftkit/initiatorname.iscsi -p /run/iscsid.pid > /tmp/iscsid.out 2>&1
  stamp iscsid
  note "iscsid: $(tr '\n' ' ' < /tmp/iscsid.out | cut -c1-300) pid $(cat /run/iscsid.pid 2>/dev/null)"
  @ISCSIADM@ > /tmp/login.out 2>&1; rc=$? ;;
esac
stamp login
note "login rc=$rc $(tr '\n' ' ' < /tmp/login.out | cut -c1-300)"
i=0; while [ ! -b /dev/sda ] && [ $i -lt 400 ]; do sleep 0.02; i=$((i+1)); done
dd if=/dev/sda of=/tmp/head bs=512 count=1 2>/dev/null
stamp disk
note "marker $(head -c 60 /tmp/head | tr -c 'A-Za-z0-9=.:-' '_')"
echo "$M done"; sync; poweroff -f; sleep 5; echo o > /proc/sysrq-trigger
"""


def boot_config() -> BootConfig:
    t = Target(index=0, ip_address=parse_ip("10.0.2.2"), port=3260, lun=Lun.from_linux(1), name=TARGET,
               chap_type=ChapType.MUTUAL, chap_name=CHAP.user, chap_secret=Secret(CHAP.password),
               reverse_chap_name=RCHAP.user, reverse_chap_secret=Secret(RCHAP.password))
    return BootConfig(initiator=Initiator(INIT), targets=(t,), source="bench")


def guest_init() -> bytes:
    cfg = boot_config()
    t = cfg.targets[0]
    adm = IscsiadmBackend()
    rec = record_path(t)
    text = GUEST_INIT
    text = text.replace("@ISCSISTART@", shlex.join(iscsistart_argv(cfg, t, params=ROOT_DISK_PARAMS)))
    text = text.replace("@ISCSIADM@", shlex.join(adm._login_argv(t)))
    text = text.replace("@RECORD_DIR@", str(rec.parent)).replace("@RECORD@", str(rec))
    text = text.replace("@RECORD_TEXT@", node_record(cfg, t, params=ROOT_DISK_PARAMS)).replace("@INIT@", INIT)
    return text.encode()


def build_initrd(assets: vm_assets.Assets, work: Path) -> Path:
    extra = work / "extra"
    for b in ("iscsid", "iscsiadm"):
        vm_assets.copy_with_libraries(Path(f"/usr/sbin/{b}"), f"usr/sbin/{b}", extra)
    (extra / "etc/iscsi").mkdir(parents=True, exist_ok=True)
    (extra / "etc/iscsi/iscsid.conf").write_bytes(Path("/etc/iscsi/iscsid.conf").read_bytes())
    # iscsid serves only a peer whose uid it can name ("peeruser_unix: unknown local user with uid 0"
    # in its debug log): without /etc/passwd, iscsiadm dies of SIGPIPE (exit 141). Found here.
    (extra / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (extra / "etc/group").write_text("root:x:0:\n")
    init = work / "init"
    init.write_bytes(guest_init())
    img = guest_image(assets, modules=NIC_MODULES + LOGIN_MODULES, init=init)
    img.add_tree(extra)
    path = work / "initrd.gz"
    img.write_gz(path)
    return path


def boot(assets: vm_assets.Assets, initrd: Path, work: Path, backend: str) -> dict[str, float]:
    log = work / f"serial-{backend}.log"
    with private_netns("ibkbl") as ns, Tgtd(work, portal="127.0.0.1:3260", netns=ns) as tgtd:
        tgtd.add_target(TARGET, (1,), chap=CHAP, mutual=RCHAP)
        argv = qemu.base(log) + qemu.direct_kernel(assets.vmlinuz, initrd,
                                                   f"console=ttyS0 quiet panic=1 ibftkit.backend={backend}")
        argv += ["-netdev", "user,id=n0,restrict=off", "-device", f"e1000,netdev=n0,mac={MAC},romfile="]
        result = qemu.run(argv, log, timeout=180, netns=ns)
    rep = serial.parse(result.serial)
    notes = "; ".join(rep.notes)
    want = marker(TARGET, 1).decode().strip().replace(" ", "_")
    if not rep.done or "login rc=0" not in notes or want[:40] not in notes:
        raise RuntimeError(f"{backend}: no login or no marker (notes: {notes or 'none'}; "
                           f"serial ends {result.serial[-600:]!r})")
    t = rep.times
    out = {"login": t["login"] - t["start"], "disk": t["disk"] - t["start"]}
    if "iscsid" in t:
        out["iscsid"] = t["iscsid"] - t["record"]
        out["iscsiadm"] = t["login"] - t["iscsid"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (a network namespace and tgtd)", file=sys.stderr)
        return 2
    assets = vm_assets.load()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results: dict[str, list[dict[str, float]]] = {"iscsistart": [], "iscsiadm": []}
    with tempfile.TemporaryDirectory(prefix="ibftkit-bench-login-") as d:
        work = Path(d)
        initrd = build_initrd(assets, work)
        for r in range(args.rounds):
            for backend in ("iscsistart", "iscsiadm") if r % 2 == 0 else ("iscsiadm", "iscsistart"):
                got = boot(assets, initrd, work, backend)
                results[backend].append(got)
                print(f"round {r + 1} {backend:<10} " + "  ".join(f"{k} {v:.2f} s" for k, v in got.items()))
    med = {b: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for b, rs in results.items()}
    for b, m in med.items():
        print(f"median {b:<10} " + "  ".join(f"{k} {v:.2f} s" for k, v in m.items()))
    a, s = med["iscsiadm"], med["iscsistart"]
    print(f"iscsiadm / iscsistart: login {a['login'] / s['login']:.2f}x ({a['login'] - s['login']:+.2f} s), "
          f"start to disk readable {a['disk'] / s['disk']:.2f}x ({a['disk'] - s['disk']:+.2f} s)")
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
