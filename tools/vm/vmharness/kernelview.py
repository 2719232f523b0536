"""``tools/vm/kernel-view``: what the real Debian kernel and ``iscsistart -f`` make of any table.

One boot per table (the table is only read at boot: ``iscsi_ibft_find.c`` remembers the address it
found in early setup), about 11 s each under TCG. The table is placed at 0x98000 in guest memory;
the guest has no network (``-nic none``), or with ``nic_mac`` an e1000 on a restricted user network
so that the kernel links ``ethernetN/device`` and ``iscsistart -f`` prints ``iface.net_ifacename``.

Output per table, named after the table file (``NAME.bin`` -> ``NAME``):
``NAME.sysfs`` (``<kobject>/<attribute>=<value>`` lines, sorted, the ``device`` link left out, as in
``fixtures/ibft/samples``) and ``NAME.iscsistart-f`` (its standard output, byte for byte).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import qemu, serial
from .assets import Assets
from .initramfs import IBFT_MODULES, NIC_MODULES, guest_image

APPEND = "console=ttyS0 quiet panic=1 ibftkitvm.mode=view"


@dataclass(frozen=True)
class KernelView:
    name: str
    # What the guest's /dev/mem scan found at 0x98000: nothing, as a rule. The kernel shows System
    # RAM below 1 MB as zeros (devmem_is_allowed()) and the loader's page is ordinary RAM, unlike
    # iPXE's own table in memory iPXE reserved. The proof that the kernel saw the table is its view.
    table: bytes
    sysfs: str
    iscsistart_f: str
    iscsistart_rc: int
    notes: tuple[str, ...]
    seconds: float  # host wall time for the boot
    guest_times: dict[str, float]

    def write(self, outdir: Path) -> list[Path]:
        outdir.mkdir(parents=True, exist_ok=True)
        paths = [outdir / f"{self.name}.sysfs", outdir / f"{self.name}.iscsistart-f"]
        paths[0].write_text(self.sysfs)
        paths[1].write_text(self.iscsistart_f)
        return paths


class ViewError(RuntimeError):
    pass


def build_initrd(assets: Assets, workdir: Path, *, nic: bool) -> Path:
    modules = IBFT_MODULES + (NIC_MODULES if nic else ())
    path = workdir / ("initrd-view-nic.gz" if nic else "initrd-view.gz")
    guest_image(assets, modules=modules).write_gz(path)
    return path


def view_table(assets: Assets, table: Path, *, nic_mac: str | None = None, nic_slot: int = qemu.NIC_SLOT,
               timeout: float = 120,
               workdir: Path | None = None, initrd: Path | None = None, keep_log: Path | None = None) -> KernelView:
    """Boot the kernel once with ``table`` in low memory and collect its view."""
    data = table.read_bytes()
    with tempfile.TemporaryDirectory(prefix="ibftkit-view-") as tmp:
        work = workdir or Path(tmp)
        initrd = initrd or build_initrd(assets, work, nic=nic_mac is not None)
        log = work / f"{table.stem}.serial"
        log.unlink(missing_ok=True)
        argv = (qemu.base(log) + qemu.direct_kernel(assets.vmlinuz, initrd, APPEND)
                + qemu.table_loader(table)
                + (qemu.isolated_nic(nic_mac, nic_slot) if nic_mac else qemu.no_network()))
        result = qemu.run(argv, log, timeout=timeout)
        if keep_log:
            keep_log.write_text(result.serial)
        rep = serial.parse(result.serial)
        if not rep.done:
            raise ViewError(f"{table}: guest did not finish (QEMU exit {result.returncode}); "
                            f"stderr {result.stderr.strip()[-300:]!r}; serial ends {result.serial[-600:]!r}")
    seen = rep.blob("table")
    if seen and seen != data[: len(seen)]:
        raise ViewError(f"{table}: the guest read back different bytes at 0x{qemu.TABLE_ADDR:x} "
                        f"({len(seen)} bytes; first difference at offset "
                        f"{next(i for i, (a, b) in enumerate(zip(seen, data, strict=False)) if a != b)})")
    return KernelView(
        name=table.name.removesuffix(".bin"),
        table=seen,
        sysfs=rep.text("sysfs"),
        iscsistart_f=rep.text("iscsistart-f"),
        iscsistart_rc=rep.rcs.get("iscsistart-f", -1),
        notes=tuple(rep.notes),
        seconds=result.seconds,
        guest_times=rep.times,
    )


def view_many(assets: Assets, tables: list[Path], *, outdir: Path | None, nic_mac: str | None = None,
              nic_slot: int = qemu.NIC_SLOT,
              timeout: float = 120, log: Callable[[str], None] = print) -> list[KernelView]:
    """One boot per table, in sequence; results written beside each table unless ``outdir``."""
    views = []
    with tempfile.TemporaryDirectory(prefix="ibftkit-view-") as tmp:
        work = Path(tmp)
        initrd = build_initrd(assets, work, nic=nic_mac is not None)
        for table in tables:
            view = view_table(assets, table, nic_mac=nic_mac, nic_slot=nic_slot, timeout=timeout,
                              workdir=work, initrd=initrd)
            written = view.write(outdir or table.parent)
            shown = "no /sys/firmware/ibft" if not view.sysfs else f"{len(view.sysfs.splitlines())} attributes"
            log(f"{table}: {shown}, iscsistart -f exit {view.iscsistart_rc}, boot {view.seconds:.1f} s "
                f"-> {', '.join(str(p) for p in written)}")
            views.append(view)
    return views
