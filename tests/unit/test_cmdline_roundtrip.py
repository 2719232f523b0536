"""Everything ``ibftkit dracut`` prints, ``ibftkit-init`` reads back to the same plan and targets.

For every table fixture: the plan ibftkit makes from the table (``plan_network``, a DHCP-origin NIC
asking DHCP again, as ``ip=<dev>:dhcp`` asks) equals the plan it makes from the dracut arguments it
renders for that table (``plan_for_cmdline``), once the ``ifname=ibftN:<mac>`` renames are undone;
and the targets, in login order, are the same (name, portal, LUN).

Two differences are by design and taken out of both sides before comparing: a NIC whose address
comes from DHCP gets its default route, DNS servers and host name from the lease (the dracut form
says ``ip=<dev>:dhcp`` only, as dracut's own ``ibft_to_cmdline`` does), and a host route to an
on-link target (``rd.route=<target>/32::<dev>``) is one the kernel's connected route already gives.
A third: the ARP settings for NICs sharing a subnet (``set_sysctl``) have no dracut word.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ibftkit.model import BootConfig, normalize_mac
from ibftkit.network.links import LinkInfo
from ibftkit.network.plan import NetPlan, plan_network
from ibftkit.network.plan_cmdline import plan_for_cmdline, step_key
from ibftkit.render.installer import render_dracut
from ibftkit.sources.chain import netroot_targets
from ibftkit.sources.cmdline import parse_cmdline
from ibftkit.sources.ibft.locate import load_config

ROOT = Path(__file__).resolve().parents[2] / "fixtures"
TABLES = sorted([*ROOT.glob("ibft/*.bin"), *ROOT.glob("ibft/samples/*.bin"), *ROOT.glob("field/*/*.bin")])


def machine(cfg: BootConfig) -> list[LinkInfo]:
    macs: list[str] = []
    for n in cfg.nics:
        if n.mac and normalize_mac(n.mac) not in macs:
            macs.append(normalize_mac(n.mac))
    return [LinkInfo("lo", None, 1), *(LinkInfo(f"eth{k}", m, k + 2, True) for k, m in enumerate(macs))]


def keys(plan: NetPlan) -> list[str]:
    renamed: dict[str, str] = {}
    out = []
    for s in plan.steps:
        if s.kind == "rename_link":
            renamed[s.to_dict()["new_name"]] = s.to_dict()["ifname"]
            continue
        line = step_key(s)
        for new, old in renamed.items():
            line = " ".join(old + w[len(new):] if w.startswith(new) else w for w in line.split(" "))
        out.append(line)
    return out


def comparable(steps: list[str]) -> list[str]:
    dhcp = {s.split()[1] for s in steps if s.startswith("run_dhcp ")}
    static = [s for s in steps if s.startswith("add_address ")]
    out = []
    for s in steps:
        w = s.split()
        if w[0] == "add_route" and (w[3] in dhcp or (w[2] == "-" and w[1].endswith(("/32", "/128")))):
            continue
        if w[0] in ("set_dns", "set_hostname") and dhcp and not static:
            continue
        if w[0] == "set_sysctl":  # dracut's words carry no ARP settings (plan rule_arp)
            continue
        out.append(s)
    return out


@pytest.mark.parametrize("table", TABLES, ids=[f"{p.parent.name}/{p.stem}" for p in TABLES])
def test_dracut_arguments_read_back_to_the_same_plan(table: Path) -> None:
    try:
        cfg = load_config(str(table))
    except Exception as e:  # a table the decoder refuses has no dracut form
        pytest.skip(f"{table.name} does not decode: {e}")
    if not cfg.login_order():
        pytest.skip(f"{table.name} has no usable target: no dracut form")
    links = machine(cfg)
    from_table = keys(plan_network(cfg, links=links, dhcp_rerun=True))
    text = " ".join(line for line in render_dracut(cfg).splitlines() if not line.startswith("#"))
    cl = parse_cmdline(text)
    assert cl.warnings == () or all("readable by every user" in w for w in cl.warnings), cl.warnings
    from_cmdline = keys(plan_for_cmdline(cl, links))
    assert comparable(from_cmdline) == comparable(from_table), text
    targets, _, _ = netroot_targets(cl)
    lun_left_out = "left out of netroot=" in render_dracut(cfg)  # a LUN dracut cannot match (noted)
    assert [(t.name, t.address, t.port, 0 if lun_left_out else t.lun.linux) for t in targets] == \
        [(t.name, t.address, t.port, 0 if lun_left_out else t.lun.linux) for t in cfg.login_order()]
