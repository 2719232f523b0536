"""``ibftkit.network.apply_links`` without a kernel: the bond paths this host's kernel cannot run (no
bonding module), and the checks before a netlink call, over a small stand-in for pyroute2's
``IPRoute`` that keeps links as the kernel would (a bond enslaves only a link that is down and
opens it; releasing closes it). The same handlers run against real links in
tests/netns/test_net_links.py (MTU, MAC, rename, bridge) and in a VM (bond, VLAN:
tests/vm/test_e2e_cmdline.py)."""

from __future__ import annotations

import errno
from typing import Any

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from ibftkit.network import apply as A
from ibftkit.network import apply_links as L
from ibftkit.network.plan import NetPlan
from ibftkit.network.plan_cmdline import CreateBond, RenameLink, SetMtu

IFF_UP = 0x1


class Kernel:
    """Links by index: name, flags, MTU, master, kind and the kind's data (IFLA_BOND_*, IFLA_VLAN_*)."""

    def __init__(self, *names: str, bonding: bool = True) -> None:
        self.links: dict[int, dict[str, Any]] = {}
        self.bonding = bonding
        self.calls: list[tuple[str, dict[str, Any]]] = []
        for name in names:
            self.add(name)

    def add(self, name: str, kind: str | None = None, up: bool = False, **data: Any) -> int:
        index = max(self.links, default=1) + 1
        self.links[index] = {"name": name, "flags": IFF_UP if up else 0, "mtu": 1500, "master": None,
                             "kind": kind, "data": data, "min": 68, "max": 9000}
        return index

    def link_lookup(self, ifname: str) -> list[int]:
        return [i for i, x in self.links.items() if x["name"] == ifname]

    def _msg(self, i: int) -> dict[str, Any]:
        x = self.links[i]
        info = {"IFLA_INFO_KIND": x["kind"], "IFLA_INFO_DATA": {f"IFLA_{k.upper()}": v for k, v in x["data"].items()}}
        return {"index": i, "flags": x["flags"], "IFLA_IFNAME": x["name"], "IFLA_MTU": x["mtu"],
                "IFLA_MASTER": x["master"], "IFLA_LINKINFO": info if x["kind"] else None, "IFLA_MIN_MTU": x["min"],
                "IFLA_MAX_MTU": x["max"], "IFLA_LINK": x["data"].get("lower")}

    def get_links(self) -> tuple[dict[str, Any], ...]:
        return tuple(self._msg(i) for i in self.links)

    def link(self, command: str, **kw: Any) -> Any:
        self.calls.append((command, kw))
        if command == "get":
            return (self._msg(kw["index"]),)
        if command == "add":
            if kw["kind"] == "bond" and not self.bonding:
                raise NetlinkError(errno.EOPNOTSUPP, "Unknown device type")
            data = {k: v for k, v in kw.items() if k.startswith("bond_")}
            return self.add(kw["ifname"], kw["kind"], **data)
        if command == "del":
            for x in self.links.values():
                if x["master"] == kw["index"]:
                    x["master"], x["flags"] = None, x["flags"] & ~IFF_UP
            del self.links[kw["index"]]
            return None
        self._set(self.links[kw["index"]], kw)
        return None

    def _set(self, x: dict[str, Any], kw: dict[str, Any]) -> None:
        if "master" in kw:
            master = self.links.get(kw["master"])
            if master and master["kind"] == "bond":
                if x["flags"] & IFF_UP:
                    raise NetlinkError(errno.EPERM, "Device can not be enslaved while up")
                x["flags"] |= IFF_UP
            if not kw["master"] and x["master"] and self.links[x["master"]]["kind"] == "bond":
                x["flags"] &= ~IFF_UP
            x["master"] = kw["master"] or None
        if "state" in kw:
            x["flags"] = (x["flags"] | IFF_UP) if kw["state"] == "up" else (x["flags"] & ~IFF_UP)
        if "mtu" in kw:
            x["mtu"] = kw["mtu"]
        if "ifname" in kw:
            x["name"] = kw["ifname"]
        for k, v in kw.items():
            if k.startswith("bond_"):
                if k == "bond_mode" and x["flags"] & IFF_UP:
                    raise NetlinkError(errno.EBUSY, "bond is up")
                x["data"][k] = v


def applier(kernel: Kernel) -> A._Applier:
    return A._Applier(kernel, A.ApplyResult(NetPlan()), resolv_conf="/nonexistent", carrier_timeout=1,
                      progress=None)


def state(k: Kernel) -> dict[int, tuple[Any, ...]]:
    return {i: (x["name"], x["flags"], x["mtu"], x["master"], x["kind"], tuple(sorted(x["data"].items())))
            for i, x in k.links.items()}


def test_new_bond_gets_mii_monitoring_its_slaves_down_then_enslaved_and_all_undone() -> None:
    k = Kernel("eth0", "eth1")
    k.links[2]["flags"] = IFF_UP  # eth0 is up: it must go down to be enslaved
    before = state(k)
    a = applier(k)
    line = L.run_link_step(a, CreateBond("bond0", ("eth0", "eth1"), "active-backup"))
    assert line == "created bond bond0 (mode active-backup, miimon 100); enslaved eth0, eth1"
    bond = k.link_lookup("bond0")[0]
    assert k.links[bond]["data"] == {"bond_mode": 1, "bond_miimon": 100}
    assert [k.links[i]["master"] for i in (2, 3)] == [bond, bond]
    assert [c.what for c in a.result.changes] == ["created bond bond0", "added eth0 to bond0", "added eth1 to bond0"]
    assert L.run_link_step(a, CreateBond("bond0", ("eth0", "eth1"), "active-backup")) == \
        "bond bond0 already has eth0, eth1"
    assert A._undo_with(k, a.result) == []
    assert state(k) == before  # eth0 up again, eth1 down, no bond0


def test_an_idle_bond0_from_the_module_load_is_taken_and_given_back() -> None:
    k = Kernel("eth0", "eth1")
    k.add("bond0", "bond", up=True, bond_mode=0, bond_miimon=0, bond_updelay=0)  # set up early by ibftkit-init
    before = state(k)
    a = applier(k)
    line = L.run_link_step(a, CreateBond("bond0", ("eth0", "eth1"), "1", (("updelay", "200"),)))
    assert line.startswith("set bond bond0 to mode active-backup, updelay 200, miimon 100 (it existed")
    assert line.endswith("; enslaved eth0, eth1")
    assert k.links[4]["data"] == {"bond_mode": 1, "bond_miimon": 100, "bond_updelay": 200}
    assert k.links[4]["flags"] & IFF_UP  # up again after the mode change
    assert A._undo_with(k, a.result) == []
    assert state(k) == before


def test_a_bond_with_slaves_in_another_mode_is_left_alone() -> None:
    k = Kernel("eth0", "eth1", "eth2")
    bond = k.add("bond0", "bond", bond_mode=4, bond_miimon=100)
    k.links[4]["master"] = bond
    with pytest.raises(A._StepFailed, match="^bond bond0 exists in mode 802.3ad with slaves; not changing it to "
                                             "active-backup$"):
        L.run_link_step(applier(k), CreateBond("bond0", ("eth0", "eth1"), "active-backup"))


@pytest.mark.parametrize(("options", "want"), [
    ((("lacp_rate", "fast"), ("xmit_hash_policy", "layer3+4")),
     {"bond_ad_lacp_rate": 1, "bond_xmit_hash_policy": 1, "bond_miimon": 100}),
    ((("arp_interval", "200"),), {"bond_arp_interval": 200}),  # ARP monitoring: no miimon added
    ((("miimon", "0"), ("fail_over_mac", "1")), {"bond_miimon": 0, "bond_fail_over_mac": 1}),
])
def test_bond_options_become_netlink_attributes(options: tuple[tuple[str, str], ...], want: dict[str, int]) -> None:
    k = Kernel("eth0")
    L.run_link_step(applier(k), CreateBond("bond0", ("eth0",), "802.3ad", options))
    assert k.links[k.link_lookup("bond0")[0]]["data"] == {"bond_mode": 4, **want}


@pytest.mark.parametrize(("mode", "options", "message"), [
    ("active-backup", (("miimon", "fast"),), "bond option miimon=fast: expected a whole number"),
    ("active-backup", (("lacp_rate", "sometimes"),), "bond option lacp_rate=sometimes: expected one of slow, fast"),
    ("active-backup", (("arp_ip_target", "10.0.0.1"),), "bond option arp_ip_target=10.0.0.1: not one ibftkit sets"),
    ("active-backup", (("primary", "eth9"),), "bond option primary=eth9: not one of the slaves eth0"),
    ("round-robin", (), "bonding mode 'round-robin' is not one of balance-rr, active-backup"),
])
def test_bad_bond_settings_fail_in_one_line_before_any_change(mode: str, options: tuple[tuple[str, str], ...],
                                                               message: str) -> None:
    k = Kernel("eth0")
    before = state(k)
    with pytest.raises(A._StepFailed) as e:
        L.run_link_step(applier(k), CreateBond("bond0", ("eth0",), mode, options))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
    assert state(k) == before and not [c for c in k.calls if c[0] != "get"]


def test_primary_is_set_once_the_slaves_are_in() -> None:
    k = Kernel("eth0", "eth1")
    line = L.run_link_step(applier(k), CreateBond("bond0", ("eth0", "eth1"), "active-backup", (("primary", "eth1"),)))
    assert line.endswith("; enslaved eth0, eth1; primary eth1")
    assert k.calls[-1] == ("set", {"index": 4, "kind": "bond", "bond_primary": 3})


def test_no_bonding_in_the_kernel_is_one_line() -> None:
    with pytest.raises(A._StepFailed, match=r"^the kernel has no bond support \(modprobe bonding\)$"):
        L.run_link_step(applier(Kernel("eth0", bonding=False)), CreateBond("bond0", ("eth0",), "active-backup"))


def test_mtu_of_a_vlan_above_its_lower_link_and_outside_the_driver_range() -> None:
    k = Kernel("eth0")
    k.add("eth0.5", "vlan", lower=2)
    with pytest.raises(A._StepFailed, match=r"^MTU 1600 is above the MTU 1500 of eth0\.5's lower link eth0$"):
        L.run_link_step(applier(k), SetMtu("eth0.5", 1600))
    with pytest.raises(A._StepFailed, match=r"^MTU 9216 is outside what eth0 accepts \(68\.\.9000\)$"):
        L.run_link_step(applier(k), SetMtu("eth0", 9216))


def test_rename_checks_the_name_and_follows_in_the_applier() -> None:
    k = Kernel("eth0", "eth1")
    a = applier(k)
    for bad in ("", "a" * 16, "a/b", "a:b", "a b", ".."):
        with pytest.raises(A._StepFailed, match="is not a valid link name"):
            L.run_link_step(a, RenameLink("eth0", bad))
    with pytest.raises(A._StepFailed, match="^another link is already named eth1$"):
        L.run_link_step(a, RenameLink("eth0", "eth1"))
    assert a.index("eth0") == 2
    assert L.run_link_step(a, RenameLink("eth0", "boot0")) == "renamed eth0 to boot0"
    assert a.index("boot0") == 2  # the applier's name cache followed
    assert L.run_link_step(a, RenameLink("eth0", "boot0")) == "boot0 already named so"
