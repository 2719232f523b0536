"""The plan steps only some plans hold: a VLAN link, a DHCP re-run, the ARP sysctls of NICs that
share a subnet, a host name (``ibftkit.network.plan``'s rules and ``plan_cmdline`` make them).

They live apart from the steps every plan holds so that a boot whose plan has none of them does
not define their classes: under emulation each frozen dataclass costs about 10 ms to define
(Python 3.11's ``dataclasses`` compiles six methods per class; docs/init.md, "Boot time").
``ibftkit.network.plan`` imports this module when a rule makes one of these steps, and its names
stay importable from there (``from ibftkit.network.plan import RunDhcp`` loads this module).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from .plan import IPInterface, Step


@dataclasses.dataclass(frozen=True)
class CreateVlan(Step):
    """Create an 802.1Q link on the NIC for the firmware's VLAN id."""

    kind: ClassVar[str] = "create_vlan"
    ifname: str
    parent: str
    vlan_id: int

    def describe(self) -> str:
        return f"create 802.1Q link {self.ifname} (VID {self.vlan_id}) on {self.parent}"


@dataclasses.dataclass(frozen=True)
class RunDhcp(Step):
    """Ask DHCP for the link's address instead of applying the firmware's (``--dhcp-rerun``)."""

    kind: ClassVar[str] = "run_dhcp"
    exchanges_packets: ClassVar[bool] = True
    ifname: str
    nic_index: int
    firmware_address: IPInterface | None = None
    family: int = 4  # 4: DHCPv4 (RFC 2131); 6: DHCPv6 (RFC 8415)

    def describe(self) -> str:
        had = f", firmware had {self.firmware_address}" if self.firmware_address else ""
        proto = "DHCP" if self.family == 4 else "DHCPv6"
        return f"ask {proto} for the address of {self.ifname} (NIC[{self.nic_index}]{had})"


@dataclasses.dataclass(frozen=True)
class SetSysctl(Step):
    """Set one per-interface IPv4 sysctl (``net.ipv4.conf.<if>.<key>``); undone with the rest."""

    kind: ClassVar[str] = "set_sysctl"
    ifname: str
    key: str
    value: int
    reason: str = ""

    @property
    def path(self) -> str:
        return f"/proc/sys/net/ipv4/conf/{self.ifname}/{self.key}"

    def describe(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return f"set net.ipv4.conf.{self.ifname}.{self.key} = {self.value}{why}"


@dataclasses.dataclass(frozen=True)
class SetHostname(Step):
    """Set the host name the firmware or DHCP gave."""

    kind: ClassVar[str] = "set_hostname"
    hostname: str

    def describe(self) -> str:
        return f"set hostname {self.hostname}"
