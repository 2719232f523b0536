"""The import graph of ``ibftkit-init``'s boot path up to the network phase (docs/init.md, "Boot time").

Every module costs at boot (10-20x a host's import time under emulation), so modules the path does
not need before the first netlink message must not load by then. A fresh interpreter runs
``ibftkit-init`` as the initramfs does on a BIOS machine (the iBFT from the low-memory scan of
``/dev/mem``, here a 1 MiB image under ``--firmware-root``) and reports ``sys.modules`` at the moment
the network phase would begin.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from ibftkit.infra.lazyimport import LOCALE_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "fixtures" / "ibft" / "ipxe-bios-dhcp.bin"  # NIC 52:54:00:12:34:56, one target
MAC = "52:54:00:12:34:56"

#: Not before the network phase on the iBFT path: pyroute2 and scapy belong to the network phase and
#: DHCP; construct (the iBFT's declared layout) to encoding and to the reference decoder: the table
#: is read through the ``struct`` formats generated from it (``ibftkit/sources/ibft/flat.py``); the
#: rest are standard-library modules that only rarely used functions of the path's modules (or of
#: dataclasses) need, imported on first use (``ibftkit.infra.lazyimport``).
NOT_BEFORE_NETWORK = (
    "pyroute2", "scapy", "asyncio", "json", "logging", "subprocess", "threading", "unittest", "ssl",
    "inspect", "ast", "dis", "tokenize", "traceback", "pdb", "hashlib", "pickle", "bz2", "lzma",
    "zlib", "platform", "textwrap", "urllib", "ibftkit.cli.init_dryrun", "ibftkit.render", "ibftkit.model_json",
    "gettext", "locale",  # argparse's translations: none without a locale (lazyimport.LOCALE_VARIABLES)
    "ibftkit.network.plan_cmdline",  # the command line's own steps: only with network words on it
    "construct", "ibftkit.sources.ibft.layout",
    "ibftkit.network.plan_extra",  # VLAN, DHCP re-run, sysctl, host name steps: only in plans that hold one
    "socket", "selectors",  # network.linkup's ioctls take _socket's socket; socket.py loads with the network code
    "difflib", "ibftkit.sources.cmdline_checks",  # warnings about a misspelt key or a link named twice
    "ibftkit.sources.cmdline_net",  # the network words' grammar and six word types: only with such a word
    "ibftkit.sources.cmdline_debian",  # Debian's iscsi_target_* words / iscsi.initramfs: only when given
)

# -I -S as the initramfs launcher runs it (no site: its .pth files import more); this checkout first
CHILD_PATHS = """
import os, sys
sys.path[:0] = [sys.argv.pop(1)]
sys.path += sys.argv.pop(1).split(os.pathsep)
"""
CHILD = CHILD_PATHS + """
import ibftkit.cli.init as init
from ibftkit.network import links
links.list_links = lambda root="/": [links.LinkInfo("eth0", mac=sys.argv[1], ifindex=2, carrier=True)]
def stop(*args, **kwargs):
    print("MODULES", " ".join(sorted(sys.modules)), flush=True)
    os._exit(0)
init.configure_network = stop
print("EXIT", init.main(sys.argv[2:]), flush=True)
"""


def _site_dirs() -> str:
    return os.pathsep.join([*site.getsitepackages(), site.getusersitepackages()])


def initramfs_env() -> dict[str, str]:
    """This environment without a locale (as an initramfs runs: the kernel passes ``HOME`` and
    ``TERM``, initramfs-tools' and the VM guest's ``init`` add ``PATH``): argparse's messages then
    need no gettext (``ibftkit.infra.lazyimport.LOCALE_VARIABLES``)."""
    return {k: v for k, v in os.environ.items() if k not in LOCALE_VARIABLES}


def boot_path_modules(tmp_path: Path) -> set[str]:
    image = bytearray(0x100000)
    image[0x9A000:0x9A000 + TABLE.stat().st_size] = TABLE.read_bytes()
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "mem").write_bytes(bytes(image))
    (tmp_path / "cmdline").write_text("console=ttyS0\n")
    missing = str(tmp_path / "missing")
    argv = ["--firmware-root", str(tmp_path), "--cmdline", str(tmp_path / "cmdline"), "--kmsg", "none",
            "--initiatorname-file", missing, "--iscsi-initramfs", missing, "--open-iscsi-script", missing,
            "--run-dir", str(tmp_path / "run"), "--node-dir", str(tmp_path / "nodes"),
            "--resolv-conf", str(tmp_path / "resolv.conf"), "--iscsistart", sys.executable, "--quiet"]
    done = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD, str(ROOT), _site_dirs(), MAC, *argv],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=initramfs_env())
    lines = [line for line in done.stdout.splitlines() if line.startswith("MODULES ")]
    assert lines, f"the run did not reach the network phase: {done.stdout} {done.stderr}"
    return set(lines[0].split()[1:])


@pytest.mark.allow_subprocess
def test_the_ibft_path_imports_nothing_it_does_not_use_before_the_network(tmp_path: Path) -> None:
    modules = boot_path_modules(tmp_path)
    assert {"ibftkit.sources.ibft.decode", "ibftkit.sources.ibft.flat", "ibftkit.network.plan"} <= modules  # it ran
    loaded = sorted(m for m in modules if m.split(".")[0] in NOT_BEFORE_NETWORK or m in NOT_BEFORE_NETWORK)
    assert not loaded, f"imported before the network phase: {loaded}"


@pytest.mark.allow_subprocess
def test_a_dry_run_with_ibft_never_imports_construct(tmp_path: Path) -> None:
    """``ibftkit-init --dry-run --ibft TABLE --json``, the whole run to its exit: the table is found
    and decoded, the plan printed, and construct (with ``layout.py``) never imported."""
    code = CHILD_PATHS + ("import ibftkit.cli.init as init\ncode = init.main(sys.argv[1:])\n"
                          "print('CONSTRUCT', sorted(m for m in sys.modules if m.split('.')[0] == 'construct'"
                          " or m == 'ibftkit.sources.ibft.layout'), 'ibftkit.sources.ibft.flat' in sys.modules,"
                          " code, flush=True)\n")
    links = tmp_path / "links.json"  # `ip -j -d link show` of the machine: eth0 with the NIC's MAC
    links.write_text(f'[{{"ifindex": 2, "ifname": "eth0", "address": "{MAC}", "link_type": "ether"}}]')
    (tmp_path / "cmdline").write_text("console=ttyS0\n")
    argv = ["--dry-run", "--json", "--links", str(links), "--ibft", str(TABLE), "--cmdline", str(tmp_path / "cmdline"),
            "--kmsg", "none", "--initiatorname-file", str(tmp_path / "missing")]
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(ROOT), _site_dirs(), *argv],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert '"iscsistart"' in done.stdout, done.stdout + done.stderr  # the table was decoded, the plan printed
    assert done.stdout.splitlines()[-1] == "CONSTRUCT [] True 0", done.stdout + done.stderr


@pytest.mark.allow_subprocess
def test_the_portal_probe_and_one_path_load_no_codec_and_no_json() -> None:
    """Between the network and the login: the TCP probe to the portal (here loopback, a closed port)
    passes an address to getaddrinfo without the "idna" codec (``encodings.idna``, ``stringprep``),
    and a boot with one target does not import json (only a multipath boot's child writes it)."""
    code = ("import sys\nfrom ipaddress import ip_address\nfrom ibftkit.model import Target\n"
            "from ibftkit.login import retry\n"
            "print(retry.tcp_probe(2.0)(Target(ip_address=ip_address('127.0.0.1'), port=9)))\n"
            "print([m for m in ('encodings.idna', 'stringprep', 'json') if m in sys.modules])\n")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD_PATHS + code, str(ROOT), _site_dirs()],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines()[-2:] == ["connection refused", "[]"], done.stdout + done.stderr


def test_the_collector_is_back_on_for_the_logins() -> None:
    """``entry()`` turns the cyclic garbage collector off for the start-up; before the logins (or a
    DHCP exchange) it is on again, with what the start-up made frozen out of its scans. Left alone
    when it was on."""
    import gc

    from ibftkit.infra.timing import collect_again

    gc.disable()
    try:
        collect_again()
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()
    collect_again()
    assert gc.isenabled() and gc.get_freeze_count() == 0


@pytest.mark.allow_subprocess
def test_the_network_and_login_modules_define_no_step_the_plan_lacks() -> None:
    """The network phase and the logins (``network.apply``, ``login.*``) load neither the steps only
    some plans hold (``network.plan_extra``) nor the command line's (``network.plan_cmdline``): each
    class costs its definition at boot (docs/init.md, "Boot time"); a plan with such a step has loaded them."""
    code = ("import sys\nimport ibftkit.network.apply, ibftkit.login.retry, ibftkit.login.paths\n"
            "import ibftkit.login.backends, ibftkit.login.argv, ibftkit.login.handoff\n"
            "print([m for m in ('ibftkit.network.plan_extra', 'ibftkit.network.plan_cmdline') if m in sys.modules])\n")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD_PATHS + code, str(ROOT), _site_dirs()],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines()[-1:] == ["[]"], done.stdout + done.stderr


@pytest.mark.allow_subprocess
def test_addresses_and_routes_load_no_link_messages_and_no_logging() -> None:
    """The network phase of the iBFT path sends address and route messages only (the links' index and
    flags come without netlink: ``Rtnl.link_lookup``, ``Rtnl.link_flags``): building and parsing them
    loads neither pyroute2's link messages (``ifinfmsg``, its plugins, ``pyroute2.config`` with
    ``multiprocessing`` and ``platform``) nor ``logging``/``traceback`` (pyroute2's error paths). The
    first link message loads ``ifinfmsg`` and decodes as before."""
    answers = ROOT / "fixtures" / "netlink" / "answers.json"
    code = ("import json, sys\nfrom ibftkit.network import apply, netlink\n"
            "apply._netlink_error()\n"
            f"a = json.loads(open({str(answers)!r}).read())['answers']\n"
            "gram = lambda k: b''.join(bytes.fromhex(g) for g in a[k])\n"
            "netlink.encode_request(netlink.addr_request('add', {'index': 2, 'address': '10.0.0.2',"
            " 'prefixlen': 24}), 1, 1)\n"
            "netlink.encode_request(netlink.route_request('add', {'dst': '0.0.0.0/0', 'oif': 2,"
            " 'gateway': '10.0.0.1'}), 2, 1)\n"
            "netlink.parse(gram('addr-dump-all')); netlink.parse(gram('route-dump-inet'))\n"
            "netlink.parse(gram('addr-add-no-device'))\n"
            "unwanted = ('pyroute2.netlink.rtnl.ifinfmsg', 'pyroute2.config', 'multiprocessing', 'platform',"
            " 'logging', 'traceback', 'pkgutil', 'ibftkit.network.apply_extra')\n"
            "print([m for m in unwanted if m in sys.modules])\n"
            "print(netlink.parse(gram('link-get-d0'))[0].get('IFLA_IFNAME'),"
            " 'pyroute2.netlink.rtnl.ifinfmsg' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD_PATHS + code, str(ROOT), _site_dirs()],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines() == ["[]", "d0 True"], done.stdout + done.stderr


@pytest.mark.allow_subprocess
def test_the_probe_imports_what_the_login_needs_during_its_connect() -> None:
    """``meanwhile`` (``ibftkit.infra.run.prepare``, the imports of the first command) runs once,
    during the first probe's connect; the answers are the same: a listening portal answers, a
    closed port refuses, the first connect refused at once as well as the next, a portal that does
    not answer is given up after the timeout."""
    code = ("import socket, sys\nfrom ipaddress import ip_address\nfrom ibftkit.model import Target\n"
            "from ibftkit.login import retry\nfrom ibftkit.infra import run\n"
            "ran = []\n"
            "def meanwhile():\n    ran.append(sorted(m for m in ('subprocess', 'tempfile') if m in sys.modules))\n"
            "    run.prepare()\n"
            "srv = socket.socket()\nsrv.bind(('127.0.0.1', 0))\nsrv.listen(1)\n"
            "portal = Target(ip_address=ip_address('127.0.0.1'), port=srv.getsockname()[1])\n"
            "probe = retry.tcp_probe(2.0, meanwhile=meanwhile)\n"
            "print(probe(portal))\nsrv.close()\nprint(probe(portal))\n"
            "print(retry.tcp_probe(2.0, meanwhile=lambda: ran.append('again'))(portal))\n"
            "print(ran, [m for m in ('subprocess', 'tempfile') if m in sys.modules])\n"
            # a listener whose accept queue is full drops the SYN (Linux): no answer, both ways
            "srv = socket.socket()\nsrv.bind(('127.0.0.1', 0))\nsrv.listen(0)\n"
            "full = Target(ip_address=ip_address('127.0.0.1'), port=srv.getsockname()[1])\nheld = []\n"
            "for _ in range(3):\n"
            "    held.append(socket.socket())\n    held[-1].setblocking(False)\n"
            "    held[-1].connect_ex(('127.0.0.1', full.port))\n"
            "print(retry.tcp_probe(0.3, meanwhile=run.prepare)(full), '|', retry.tcp_probe(0.3)(full))\n")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD_PATHS + code, str(ROOT), _site_dirs()],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines() == ["None", "connection refused", "connection refused",
                                        "[[], 'again'] ['subprocess', 'tempfile']",
                                        "no answer within 0.3 s | no answer within 0.3 s"], done.stdout + done.stderr
