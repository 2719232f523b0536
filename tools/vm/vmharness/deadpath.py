"""The dead-path case: two targets written into the iBFT by iPXE, the second one's portal dead once
the guest's kernel runs (``tools/vm/e2e ipxe-bios-dead-path``, ``tests/vm/test_e2e_deadpath.py``,
``bench/vm_boot.py``; docs/vm-e2e.md).

iPXE must log in to every target it ``sanhook``s, or it writes no table entry for it; so both
portals answer while the firmware runs. The second target's portal is an address off the guest's
subnet (``capture.OFF_SUBNET`` style: QEMU's user network turns the guest's connection into a
``connect()`` from QEMU's namespace, where tgtd listens on that address on ``lo``). As soon as the
guest's ``/init`` starts (its ``time init`` line on the serial port: iPXE is gone), the harness
takes the address off ``lo`` and routes it into a veth link where its packets are dropped
(:func:`kill_portal`; the host kernel has no ``dummy`` module and no nftables here): QEMU's
``connect()`` never completes, so the guest's SYNs go unanswered, as with a powered-off storage
port or a dropping firewall (not a refusal: that would be answered at once).
"""

from __future__ import annotations

import dataclasses
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .assets import Assets
from .capture import APPEND, IQN, Case, TargetSpec, boot_case
from .netns import exec_prefix
from .pyguest import E2eResult, check_e2e

DEAD = "192.168.77.2"  # the dead path's portal (tgtd serves it until the guest's /init starts)
CASE = Case("dead-path", "bios", (TargetSpec("disk.a", lun=1), TargetSpec("disk.b", lun=2, host=DEAD)),
            f"{IQN}:initiator07",
            summary=f"two targets; the second one's portal {DEAD} drops every packet once the kernel runs")
CASES = {CASE.fixture: CASE}
#: what the guest waits for in the kernel log before it powers off (dots: any character; the
#: kernel command line splits at spaces): the background child's final line for the dead path.
KMSG_WAIT = "login.failed.after"
_INIT_SEEN = b"@@IBFTKIT-VM time init "


class DeadPathError(RuntimeError):
    pass


def kill_portal(ns: str, host: str = DEAD) -> None:
    """``host`` stops answering in namespace ``ns``: off ``lo``, routed into one end of a veth pair
    with a permanent neighbour entry for a MAC nobody has, so every packet to it is sent and dropped
    on the other end (no ARP failure, no ICMP error: silence)."""
    for args in (("addr", "del", f"{host}/32", "dev", "lo"),
                 ("link", "add", "dead0", "type", "veth", "peer", "name", "dead1"),
                 ("link", "set", "dead0", "up"), ("link", "set", "dead1", "up"),
                 ("route", "add", f"{host}/32", "dev", "dead0"),
                 ("neigh", "add", host, "lladdr", "02:00:00:00:de:ad", "dev", "dead0", "nud", "permanent")):
        done = subprocess.run([*exec_prefix(ns), "ip", *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise DeadPathError(f"ip {' '.join(args)} in {ns}: {done.stderr.strip()}")


def cut_when_kernel_runs(host: str = DEAD) -> tuple[Callable[[str, Path], Callable[[], None]], list[float]]:
    """A ``boot_case`` ``during`` hook: a thread that watches the serial log and kills ``host``'s
    portal when the guest's ``/init`` prints its first line. The list gets the host-clock seconds
    from QEMU's start to the cut (empty: the guest never got there)."""
    when: list[float] = []
    errors: list[str] = []

    def during(ns: str, log: Path) -> Callable[[], None]:
        stop = threading.Event()
        start = time.monotonic()

        def watch() -> None:
            while not stop.is_set():
                try:
                    seen = _INIT_SEEN in log.read_bytes()
                except OSError:
                    seen = False
                if seen:
                    try:
                        kill_portal(ns, host)
                    except DeadPathError as e:
                        errors.append(str(e))
                    when.append(time.monotonic() - start)
                    return
                stop.wait(0.05)

        t = threading.Thread(target=watch, daemon=True)
        t.start()

        def end() -> None:
            stop.set()
            t.join()
            if errors:
                raise DeadPathError(errors[0])

        return end

    return during, when


def run_e2e(assets: Assets, *, initrd: Path, init_args: tuple[str, ...] = (), wait_kmsg: bool = True,
            cut: bool = True, timeout: float = 300, keep_log: Path | None = None) -> E2eResult:
    """Boot the dead-path case into the ibftkit-init guest (``pyguest.build_initrd``).

    The guest waits for one disk (the boot target's) and, with ``wait_kmsg``, until the kernel log
    has the dead path's final line (:data:`KMSG_WAIT`, at most 60 s) before it dumps that log.
    ``cut=False``: the same boot with the second path alive (the comparison in ``bench/vm_boot.py``).
    Raises :class:`pyguest.E2eError` unless ibftkit-init exited 0 and the boot target's marker was
    read, :class:`DeadPathError` if the portal could not be cut."""
    append = ("console=ttyS0 quiet panic=1 ibftkitvm.disks=1"
              + (f" ibftkitvm.kmsg={KMSG_WAIT}" if wait_kmsg else "")
              + (f" ibftkitvm.args={','.join(init_args)}" if init_args else ""))
    during, when = cut_when_kernel_runs()
    with tempfile.TemporaryDirectory(prefix=f"ibftkit-e2e-{CASE.fixture}-") as tmp:
        result = boot_case(assets, CASE, initrd=initrd, script=CASE.ipxe_script().replace(APPEND, append),
                           work=Path(tmp), timeout=timeout, keep_log=keep_log, during=during if cut else None)
    if cut and not when:
        raise DeadPathError("the guest's /init never started: the portal was not cut")
    return check_e2e(dataclasses.replace(CASE, targets=CASE.targets[:1]), result)
