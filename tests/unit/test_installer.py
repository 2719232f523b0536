"""Kickstart and dracut renders (``ibftkit.render.installer``) against the samples
(``fixtures/ibft/samples``) and our fixtures; kickstart output parsed back with pykickstart when it is installed."""

from __future__ import annotations

import io
import shlex
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from ibftkit.cli.main import main
from ibftkit.model import BootConfig, ChapType, Initiator, Lun, Nic, Origin, Secret, Target, TargetFlags, parse_ip
from ibftkit.render import render
from ibftkit.render.installer import render_dracut, render_kickstart
from ibftkit.sources.ibft.locate import load_config

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ibft"
SAMPLES = ("ipxe-bios-dhcp", "ipxe-bios-chap", "dracut-test30", "lkml-3targets")
OWN = ("ibftkit-chap", "ibftkit-mutual-chap", "ibftkit-vlan", "ibftkit-ipv6", "ibftkit-3targets-edk2",
       "ibftkit-wide-lun", "ibftkit-edk2")


def sample(samples_dir: Path, name: str) -> BootConfig:
    return load_config(samples_dir / f"{name}.bin")


def own(name: str) -> BootConfig:
    return load_config(FIXTURES / f"{name}.bin")


def all_configs(samples_dir: Path) -> list[tuple[str, BootConfig]]:
    return [(n, sample(samples_dir, n)) for n in SAMPLES] + [(n, own(n)) for n in OWN]


def kickstart_handler(text: str):  # type: ignore[no-untyped-def]
    parser_mod = pytest.importorskip("pykickstart.parser")
    version = pytest.importorskip("pykickstart.version")
    ks = parser_mod.KickstartParser(version.makeVersion())
    ks.readKickstartFromString(text)
    return ks.handler


def args_of(line: str) -> dict[str, str]:
    out = {}
    for word in shlex.split(line)[1:]:
        key, _, value = word.partition("=")
        out[key] = value
    return out


# --- kickstart ---------------------------------------------------------------------------------------------


def test_kickstart_ipxe_dhcp_sample(samples_dir: Path) -> None:
    text = render_kickstart(sample(samples_dir, "ipxe-bios-dhcp"))
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert lines == ["iscsiname iqn.2026-11.org.example:initiator01",
                     "network --device=52:54:00:12:34:56 --bootproto=dhcp",
                     "iscsi --ipaddr=10.0.2.2 --port=3260 --target=iqn.2026-11.org.example:boot.disk1"]
    assert "LUN 1" in text


def test_kickstart_iscsiname_comes_first_and_every_sample_parses(samples_dir: Path) -> None:
    for name, cfg in all_configs(samples_dir):
        for show in (False, True):
            text = render_kickstart(cfg, show_secrets=show)
            commands = [ln.split()[0] for ln in text.splitlines() if ln and not ln.startswith("#")]
            assert commands[0] == "iscsiname", name
            assert commands.index("iscsiname") < commands.index("iscsi"), name
            h = kickstart_handler(text)
            assert h.iscsiname.iscsiname == cfg.initiator.name  # type: ignore[union-attr]
            order = cfg.login_order()
            assert [(i.ipaddr, i.port, i.target) for i in h.iscsi.iscsi] == \
                [(t.address, t.port, t.name) for t in order], name


def test_kickstart_static_nic_values(samples_dir: Path) -> None:
    h = kickstart_handler(render_kickstart(own("ibftkit-vlan")))
    (n,) = h.network.network
    assert (n.device, n.bootProto, n.ip, n.netmask, n.gateway, n.hostname, n.vlanid) == \
        ("52:54:00:12:34:00", "static", "192.168.50.101", "255.255.255.0", "192.168.50.1", "vlanhost", "100")


def test_kickstart_ipv6(samples_dir: Path) -> None:
    h = kickstart_handler(render_kickstart(own("ibftkit-ipv6")))
    (n,) = h.network.network
    assert n.ipv6 == "2001:db8:1::10/64" and n.ipv6gateway == "2001:db8:1::1" and n.noipv4
    (i,) = h.iscsi.iscsi
    assert i.ipaddr == "2001:db8:2::5"


def test_kickstart_secrets_left_out_by_default_with_a_comment(samples_dir: Path) -> None:
    cfg = own("ibftkit-mutual-chap")
    secrets = cfg.secrets()
    assert len(secrets) == 2
    text = render_kickstart(cfg)
    assert not any(s in text for s in secrets)
    assert "credentials left out" in text and "--show-secrets" in text
    h = kickstart_handler(text)
    assert h.iscsi.iscsi[0].password is None


def test_kickstart_show_secrets_round_trips_through_pykickstart(samples_dir: Path) -> None:
    for cfg in (own("ibftkit-mutual-chap"), sample(samples_dir, "ipxe-bios-chap")):
        h = kickstart_handler(render_kickstart(cfg, show_secrets=True))
        t, (i,) = cfg.login_order()[0], h.iscsi.iscsi
        assert (i.user, i.password) == (t.chap_name, t.chap_secret.reveal())  # type: ignore[union-attr]
        if t.chap_type == ChapType.MUTUAL:
            assert (i.user_in, i.password_in) == (t.reverse_chap_name,
                                                  t.reverse_chap_secret.reveal())  # type: ignore[union-attr]


def test_kickstart_quotes_awkward_secrets() -> None:
    awkward = "it's a \"secret\" $x"
    cfg = BootConfig(initiator=Initiator("iqn.2026-01.t:i"), nics=(Nic(mac="02:00:00:00:00:01"),),
                     targets=(Target(ip_address=parse_ip("10.0.0.1"), name="iqn.2026-01.t:d", chap_type=ChapType.CHAP,
                                     chap_name="u", chap_secret=Secret(awkward)),))
    h = kickstart_handler(render_kickstart(cfg, show_secrets=True))
    assert h.iscsi.iscsi[0].password == awkward


def test_kickstart_uses_interface_name_when_the_mac_is_here(samples_dir: Path) -> None:
    text = render_kickstart(sample(samples_dir, "ipxe-bios-dhcp"), mac_to_ifname={"52:54:00:12:34:56": "ens3"})
    assert "network --device=ens3 --bootproto=dhcp" in text


def test_kickstart_multipath_order(samples_dir: Path) -> None:
    text = render_kickstart(sample(samples_dir, "lkml-3targets"))
    targets = [args_of(ln)["--target"] for ln in text.splitlines() if ln.startswith("iscsi ")]
    assert targets == ["iqn.2009-06.test:target0", "iqn.2009-06.test:target1", "iqn.2009-06.test:target2"]
    assert "boot target" in text and "another path" in text


# --- dracut --------------------------------------------------------------------------------------------


def dracut_args(text: str) -> list[str]:
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert len(lines) == 1
    return lines[0].split()


def test_dracut_ipxe_dhcp_sample(samples_dir: Path) -> None:
    assert dracut_args(render_dracut(sample(samples_dir, "ipxe-bios-dhcp"))) == [
        "rd.iscsi.initiator=iqn.2026-11.org.example:initiator01",
        "ifname=ibft0:52:54:00:12:34:56", "ip=ibft0:dhcp",
        "netroot=iscsi:10.0.2.2:::1:iqn.2026-11.org.example:boot.disk1", "rd.neednet=1"]


def test_dracut_static_vlan_hostname(samples_dir: Path) -> None:
    args = dracut_args(render_dracut(own("ibftkit-vlan"), mac_to_ifname={"52:54:00:12:34:00": "eth0"}))
    assert "vlan=eth0.100:eth0" in args
    assert "ip=192.168.50.101::192.168.50.1:255.255.255.0:vlanhost:eth0.100:none" in args
    assert not any(a.startswith("ifname=") for a in args)


def test_dracut_ipv6_brackets_and_host_route(samples_dir: Path) -> None:
    args = dracut_args(render_dracut(own("ibftkit-ipv6")))
    assert "ip=[2001:db8:1::10]::[2001:db8:1::1]:64::ibft0:none:[2001:db8:1::53]" in args
    assert "netroot=iscsi:[2001:db8:2::5]:::1:iqn.2026-11.org.example:v6disk" in args
    assert "rd.route=[2001:db8:2::5]/128:[2001:db8:1::1]:ibft0" in args


def test_dracut_lun_is_decimal_as_dracut_reads_it() -> None:
    cfg = BootConfig(initiator=Initiator("iqn.2026-01.t:i"), nics=(Nic(mac="02:00:00:00:00:01"),),
                     targets=(Target(ip_address=parse_ip("10.0.0.1"), name="iqn.2026-01.t:d", port=3261,
                                     lun=Lun.from_linux(16)),))
    assert "netroot=iscsi:10.0.0.1::3261:16:iqn.2026-01.t:d" in dracut_args(render_dracut(cfg))


def test_dracut_secrets(samples_dir: Path) -> None:
    cfg = own("ibftkit-mutual-chap")
    text = render_dracut(cfg)
    assert not any(s in text for s in cfg.secrets())
    assert text.startswith("# CHAP credentials left out")
    shown = dracut_args(render_dracut(cfg, show_secrets=True))
    netroot = next(a for a in shown if a.startswith("netroot="))
    from ibftkit.sources.rootpath import parse_root_path

    rp = parse_root_path(netroot.split("=", 1)[1], dialect="dracut")
    t = cfg.login_order()[0]
    assert (rp.username, rp.password, rp.reverse_username, rp.reverse_password) == (
        t.chap_name, t.chap_secret, t.reverse_chap_name, t.reverse_chap_secret)
    assert rp.target == t.name and rp.server == str(t.ip_address)


def test_dracut_netroots_parse_back_for_every_sample(samples_dir: Path) -> None:
    from ibftkit.sources.rootpath import parse_root_path

    for name, cfg in all_configs(samples_dir):
        args = dracut_args(render_dracut(cfg))
        netroots = [a.split("=", 1)[1] for a in args if a.startswith("netroot=")]
        assert [parse_root_path(n, dialect="dracut").target for n in netroots] == \
            [t.name for t in cfg.login_order()], name
        assert args[0] == f"rd.iscsi.initiator={cfg.initiator.name}"  # type: ignore[union-attr]


def test_dracut_dhcp_nic_gets_no_host_routes(samples_dir: Path) -> None:
    args = dracut_args(render_dracut(sample(samples_dir, "lkml-3targets")))
    assert "ip=ibft0:dhcp" in args and not any(a.startswith("rd.route=") for a in args)


def test_root_path_model_renders_too() -> None:
    from ibftkit.sources.rootpath import config_from_root_path, parse_root_path

    nic = Nic(index=0, ip_address=parse_ip("10.0.0.5"), prefix_len=24, gateway=parse_ip("10.0.0.1"), ifname="eth0",
              origin=Origin.MANUAL)
    cfg = config_from_root_path(parse_root_path("iscsi:10.0.0.1::::iqn.2026-01.t:d"),
                                initiator_name="iqn.2026-01.t:i", nic=nic)
    assert "network --device=eth0 --bootproto=static --ip=10.0.0.5 --netmask=255.255.255.0 --gateway=10.0.0.1" \
        in render_kickstart(cfg)
    assert "ip=10.0.0.5::10.0.0.1:255.255.255.0::eth0:none" in render_dracut(cfg)


def test_registry_names() -> None:
    cfg = own("ibftkit-chap")
    assert render(cfg, "kickstart") == render_kickstart(cfg)
    assert render(cfg, "dracut", show_secrets=True) == render_dracut(cfg, show_secrets=True)


def test_invalid_targets_are_left_out() -> None:
    cfg = BootConfig(initiator=Initiator("iqn.2026-01.t:i"), nics=(Nic(mac="02:00:00:00:00:01"),),
                     targets=(Target(flags=TargetFlags(0), ip_address=parse_ip("10.0.0.1"), name="iqn.2026-01.t:d"),))
    assert "iscsi " not in render_kickstart(cfg) and "no valid target" in render_kickstart(cfg)
    assert "netroot" not in render_dracut(cfg)


# --- the CLI ---------------------------------------------------------------------------------------------


def cli(*argv: str) -> tuple[int, str]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(list(argv))
    return code, buf.getvalue()


def test_cli_kickstart_and_dracut(samples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = str(FIXTURES / "ibftkit-mutual-chap.bin")
    code, out = cli("kickstart", "--ibft", table)
    assert code == 0 and out.startswith("# iSCSI boot disk") and "iscsiname" in out
    code, out = cli("kickstart", "--ibft", table, "--show-secrets")
    assert code == 0 and "--password=chap-secret-one" in out
    code, out = cli("dracut", "--ibft", table)
    assert code == 0 and "netroot=iscsi:192.168.50.1" in out and "chap-secret-one" not in out
    code, out = cli("dracut", "--root-path", "iscsi:10.0.0.1::::iqn.2026-01.t:d", "--interface", "eth0",
                    "--address", "10.0.0.5/24", "--initiator-name", "iqn.2026-01.t:i")
    assert code == 0 and "ip=10.0.0.5:::255.255.255.0::eth0:none" in out
    code, out = cli("kickstart", "--ibft", str(FIXTURES / "ibftkit-vlan.bin"), "--no-hostname")
    assert code == 0 and "--hostname" not in out
    assert cli("kickstart", "--root-path", "iscsi:10.0.0.1::::iqn.2026-01.t:d")[0] == 2  # needs --interface
    assert "ibftkit:" in capsys.readouterr().err
