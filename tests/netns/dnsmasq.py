"""Run a real dnsmasq (DHCP only) inside a network namespace, for the netns tier and the bench.

``dnsmasq`` runs in the foreground under ``ip netns exec``, with no config file, no DNS
(``--port=0``), its lease file and log in a private directory, bound to one interface, and
``--no-ping`` (otherwise every new dynamic address costs a 3 s ICMP probe: dnsmasq(8), ``--no-ping``).
``start()`` returns once dnsmasq logs its DHCP range (or, for DHCPv6 and router advertisements,
``enable-ra`` in ``conf_lines``, its DHCPv6 range), so the first DISCOVER or Solicit is not lost.
Options go into a config file (``conf_lines``), because dnsmasq removes the double quotes that
keep a value a string only there, not on its command line (``opt(203, text)`` writes
``dhcp-option=203,"text"``).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
#: Log lines that say dnsmasq serves its range (DHCPv4, DHCPv6, or router advertisements only).
READY = ("DHCP, IP range", "DHCP, static leases only", "DHCPv6, IP range", "DHCPv6, static leases only",
         "IPv6 router advertisement enabled")


def opt(code: str | int, text: str) -> str:
    """The config line ``dhcp-option=CODE,"TEXT"``: TEXT is sent as a string, whatever it looks like."""
    return f'dhcp-option={code},"{text}"'


class Dnsmasq:
    """One dnsmasq serving ``dhcp_range`` on ``interface`` in namespace ``ns``."""

    def __init__(self, ns: str, interface: str, dhcp_range: str, *conf_lines: str, authoritative: bool = True) -> None:
        self.ns = ns
        self.interface = interface
        self.dhcp_range = dhcp_range
        self.conf_lines = list(conf_lines)
        self.authoritative = authoritative
        self.dir = Path(tempfile.mkdtemp(prefix="ibftkit-dnsmasq-"))
        self.log_path = self.dir / "log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._final_log: str | None = None  # kept by stop(), so the log can be read afterwards

    def argv(self) -> list[str]:
        return [
            "ip", "netns", "exec", self.ns, DNSMASQ,
            "--no-daemon", f"--conf-file={self.dir / 'dnsmasq.conf'}", "--no-resolv", "--no-hosts", "--port=0",
            f"--interface={self.interface}", "--bind-interfaces", "--except-interface=lo",
            f"--dhcp-range={self.dhcp_range}",
            f"--dhcp-leasefile={self.dir / 'leases'}", "--pid-file=",
            "--log-dhcp", "--log-facility=-", "--no-ping",
            *(["--dhcp-authoritative"] if self.authoritative else []),
        ]

    def start(self, timeout: float = 10.0) -> Dnsmasq:
        self._final_log = None
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "dnsmasq.conf").write_text("".join(f"{line}\n" for line in self.conf_lines))
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.log()
            if any(mark in text for mark in READY):
                return self
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise RuntimeError(f"dnsmasq exited with {code}: {text.strip()}")
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"dnsmasq did not start within {timeout} s: {self.log().strip()}")

    def log(self) -> str:
        if self._final_log is not None:
            return self._final_log
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def count(self, word: str) -> int:
        """How many log lines show message ``word`` (e.g. ``DHCPNAK``, ``DHCPOFFER``)."""
        return sum(1 for line in self.log().splitlines() if f" {word}(" in line)

    def restart(self, *conf_lines: str, dhcp_range: str | None = None) -> Dnsmasq:
        """Stop and start again with new config lines (the lease file is kept)."""
        self.stop(keep_dir=True)
        self.conf_lines = list(conf_lines)
        if dhcp_range is not None:
            self.dhcp_range = dhcp_range
        return self.start()

    def stop(self, *, keep_dir: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if not keep_dir:
            self._final_log = self.log()
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Dnsmasq:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
