"""Inputs from every producer and kernel era: a table the OS will never find (field case 07 and
the other placements Linux's memory scan misses) and ``/sys/firmware/ibft`` trees that are old,
partial or hand-edited (one rule and a warning per absent or contradictory attribute)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from ibftkit.cli.main import main
from ibftkit.infra.errors import StrictError
from ibftkit.render import render
from ibftkit.sources.ibft import spec as L
from ibftkit.sources.ibft.locate import load_config
from ibftkit.sources.ibft.sysfs import load_sysfs_tree

FIELD = Path(__file__).resolve().parents[2] / "fixtures" / "field"
TABLE = (FIELD / "07-below-window" / "table.bin").read_bytes()


def low_memory_image(tmp_path: Path, at: int, size: int = L.SCAN_END) -> Path:
    """A dump of physical memory from address 0 (``pmemsave 0 0x100000``) with the table at ``at``."""
    image = bytearray(max(size, at + len(TABLE)))
    image[at:at + len(TABLE)] = TABLE
    path = tmp_path / f"mem-{at:x}.img"
    path.write_bytes(bytes(image))
    return path


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("at, why", [
    (0x727F0, "below the window"),        # field case 07: iPXE below 512 KiB
    (0x7FFF0, "below the window"),
    (0xA1000, "VGA hole"),
    (0xBFFF0, "VGA hole"),
    (0x9A008, "16-byte boundary"),        # misaligned inside the window
    (0xFFF00, "runs past 0xfffff"),       # starts inside, ends past 1 MiB
    (0x100010, "above the window"),       # a larger dump, table above 1 MiB
])
def test_table_the_os_will_not_find(tmp_path: Path, at: int, why: str) -> None:
    path = low_memory_image(tmp_path, at)
    cfg = load_config(path, scan=True)
    warning = next(w for w in cfg.warnings if "will not find it" in w)
    assert why in warning and "0x80000-0xfffff" in warning and f"0x{at:x}" in warning
    assert render(cfg, "sysfs") == ""  # the kernel would show no attributes
    with pytest.raises(StrictError, match="will not find it"):
        load_config(path, scan=True, strict=True)
    assert cli("decode", "--scan", "--strict", str(path))[0] == 1
    rc, out, _ = cli("decode", "--scan", "--format", "sysfs", str(path))
    assert rc == 0 and out == ""


@pytest.mark.parametrize("at", [0x9A000, 0x80000, 0xC0000, 0xFF000])
def test_table_in_the_window_decodes_cleanly(tmp_path: Path, at: int) -> None:
    path = low_memory_image(tmp_path, at)
    cfg = load_config(path, scan=True, strict=True)
    assert cfg.source.endswith(f"@0x{at:x}") and not cfg.warnings
    assert "ethernet0/ip-addr=192.0.2.20" in render(cfg, "sysfs")


def test_a_table_linux_finds_is_preferred_to_one_it_misses(tmp_path: Path) -> None:
    image = bytearray(L.SCAN_END)
    image[0x727F0:0x727F0 + len(TABLE)] = TABLE
    image[0x9A000:0x9A000 + len(TABLE)] = TABLE
    path = tmp_path / "two.img"
    path.write_bytes(bytes(image))
    cfg = load_config(path, scan=True)
    assert cfg.source.endswith("@0x9a000")
    assert any("another iBFT signature at 0x727f0" in w for w in cfg.warnings)


# --- /sys/firmware/ibft trees from every kernel era ------------------------------------------------


def tree(tmp_path: Path, **nic: str) -> Path:
    root = tmp_path / "ibft"
    d = root / "ethernet0"
    d.mkdir(parents=True)
    for attr, value in nic.items():
        (d / attr.replace("_", "-")).write_text(value)
    return root


def test_old_kernel_subnet_mask_without_prefix_len_reads_as_its_prefix(tmp_path: Path) -> None:
    # The reproduction: a tree from a kernel before the 2010 rework (RHEL 5, SLES 10/11).
    root = tree(tmp_path, flags="3\n", index="0\n", ip_addr="192.0.2.20\n", subnet_mask="255.255.255.0")
    cfg = load_sysfs_tree(root)
    assert str(cfg.nics[0].interface) == "192.0.2.20/24"
    assert any("prefix /24 read from subnet-mask" in w for w in cfg.warnings)
    rc, out, _ = cli("decode", str(root))
    assert rc == 0 and "192.0.2.20/24" in out


@pytest.mark.parametrize("mask, prefix", [("255.255.255.252", 30), ("255.255.0.0", 16), ("255.255.255.255", 32),
                                          ("255.255.255.254", 31)])
def test_subnet_mask_other_instances(tmp_path: Path, mask: str, prefix: int) -> None:
    cfg = load_sysfs_tree(tree(tmp_path, flags="3\n", index="0\n", ip_addr="198.51.100.7\n", subnet_mask=mask))
    assert cfg.nics[0].prefix_len == prefix


def test_contradictory_prefix_len_and_mask_use_prefix_len_and_warn(tmp_path: Path) -> None:
    cfg = load_sysfs_tree(tree(tmp_path, flags="3\n", index="0\n", origin="1\n", vlan="0\n",
                               mac="52:54:00:12:34:00\n", ip_addr="192.0.2.20\n", prefix_len="24\n",
                               subnet_mask="255.255.0.0"))
    assert cfg.nics[0].prefix_len == 24
    assert any("contradicts subnet-mask" in w for w in cfg.warnings)


def test_non_contiguous_mask_is_warned(tmp_path: Path) -> None:
    cfg = load_sysfs_tree(tree(tmp_path, flags="3\n", index="0\n", ip_addr="192.0.2.20\n",
                               subnet_mask="255.0.255.0"))
    assert cfg.nics[0].prefix_len == 16 and any("not contiguous" in w for w in cfg.warnings)


def test_address_without_prefix_or_mask_is_prefix_0_with_a_warning(tmp_path: Path) -> None:
    cfg = load_sysfs_tree(tree(tmp_path, flags="3\n", index="0\n", ip_addr="192.0.2.20\n"))
    assert cfg.nics[0].prefix_len == 0 and any("neither prefix-len nor subnet-mask" in w for w in cfg.warnings)


def test_kernel_tree_as_written_today_has_no_extra_warnings(tmp_path: Path) -> None:
    cfg = load_sysfs_tree(tree(tmp_path, flags="3\n", index="0\n", origin="1\n", vlan="0\n",
                               mac="52:54:00:12:34:00\n", ip_addr="192.0.2.20\n", prefix_len="24\n",
                               subnet_mask="255.255.255.0"))
    assert len(cfg.warnings) == 1  # only "read from the kernel's sysfs view"
    assert cfg.nics[0].prefix_len == 24


def test_absent_always_shown_attributes_get_a_rule_and_a_warning(tmp_path: Path) -> None:
    root = tree(tmp_path, ip_addr="192.0.2.20\n", prefix_len="24\n", mac="52:54:00:12:34:00\n")
    (root / "target1").mkdir()
    (root / "target1" / "ip-addr").write_text("192.0.2.10\n")
    (root / "target1" / "index").write_text("2\n")
    cfg = load_sysfs_tree(root)
    n, t = cfg.nics[0], cfg.targets[0]
    assert n.index == 0 and n.valid and t.port == 3260 and t.nic_index == 0 and t.valid
    text = "\n".join(cfg.warnings)
    for attr in ("ethernet0/index", "ethernet0/flags", "ethernet0/origin", "target1/port",
                 "target1/nic-assoc", "target1/flags", "target1/lun"):
        assert f"{attr}: absent" in text
    assert "target1/index: 2 contradicts the directory name" in text


def test_ipv6_address_with_only_a_mask_cannot_guess(tmp_path: Path) -> None:
    cfg = load_sysfs_tree(tree(tmp_path, flags="3\n", index="0\n", ip_addr="2001:db8::20\n",
                               subnet_mask="255.255.255.0"))
    assert cfg.nics[0].prefix_len == 0 and any("cannot give an IPv6 prefix" in w for w in cfg.warnings)


# --- the iscsistart render on this machine: a NIC whose PCI address has no network interface --------


def _one_nic_table(pci: str) -> bytes:
    import json

    from ibftkit.model import BootConfig
    from ibftkit.sources.ibft.encode import encode_table

    model = json.loads((FIELD / "03-dhcp-origin" / "origin3.json").read_text())
    model["nics"][0]["pci_bdf"] = pci
    return encode_table(BootConfig.from_dict(model), layout="ipxe")


@pytest.mark.parametrize("pci", ["00:00.0", "00:01.0", "3b:00.1"])
def test_iscsistart_render_drops_a_nic_whose_pci_device_has_no_network_interface(pci: str) -> None:
    from ibftkit.render.kernel import NO_TARGETS
    from ibftkit.sources.ibft.decode import decode_table

    cfg = decode_table(_one_nic_table(pci))
    assert render(cfg, "iscsistart", netless_pci={pci}) == f"{NO_TARGETS}\n"
    assert "# BEGIN RECORD" in render(cfg, "iscsistart")  # a machine where the device is a NIC (or absent)
    zero = [w for w in cfg.warnings if "00:00.0" in w]
    assert bool(zero) == (pci == "00:00.0")
    for w in zero:
        assert "iscsistart -f drops the NIC" in w and "ibftkit-init, which passes -t/-a, is not affected" in w


def test_netless_pci_reads_this_machines_devices(tmp_path: Path) -> None:
    from ibftkit.cli.decode import netless_pci
    from ibftkit.model import BootConfig, Nic, PciAddress

    devices = tmp_path / "sys/bus/pci/devices"
    (devices / "0000:00:01.0").mkdir(parents=True)                 # ISA bridge: no net
    (devices / "0000:00:03.0/net/eth0").mkdir(parents=True)        # a NIC
    (devices / "0000:00:04.0/virtio1/net/eth1").mkdir(parents=True)  # virtio: net one level down
    nics = tuple(Nic(index=i, pci_bdf=PciAddress.parse(b))
                 for i, b in enumerate(("00:01.0", "00:03.0", "00:04.0", "00:05.0")))
    assert netless_pci(BootConfig(nics=nics), root=str(tmp_path)) == {"00:01.0": 0}
