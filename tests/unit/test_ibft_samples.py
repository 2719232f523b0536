"""Real tables: other producers' samples (``fixtures/ibft/samples``, with the Linux kernel's and
iscsistart -f's view beside each; provenance in ``PROVENANCE.md`` there), the VM harness's captures
and ibftkit's own fixtures (golden renders; kernel views where the VM harness has recorded them).

A sample whose file is missing fails :func:`test_every_sample_is_here`; it is never silently
dropped from the parametrized cases.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ibftkit.model import BootConfig
from ibftkit.render import render
from ibftkit.sources.ibft.decode import decode_table
from ibftkit.sources.ibft.encode import encode_table

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "ibft"
SAMPLES = FIXTURES / "samples"

SAMPLE_LAYOUTS = {"ipxe-bios-dhcp": "ipxe", "ipxe-bios-chap": "ipxe", "dracut-test30": "ibftpl",
                  "lkml-3targets": "ibftpl"}


def tables_with(suffix: str) -> list[Path]:
    """Every sample (its view must exist: :func:`test_every_sample_is_here`), and each fixture that has one."""
    samples = [SAMPLES / f"{name}.bin" for name in sorted(SAMPLE_LAYOUTS)]
    return samples + [p for p in sorted(FIXTURES.glob("*.bin")) if p.with_suffix(suffix).exists()]


def case_id(table: Path) -> str:
    return str(table.relative_to(FIXTURES).with_suffix(""))


def test_every_fixture_family_has_its_provenance() -> None:
    """Each table in fixtures/ibft belongs to a family that PROVENANCE.md describes."""
    text = (FIXTURES / "PROVENANCE.md").read_text()
    families = {p.name.split("-", 2)[0] + "-" + p.name.split("-", 2)[1] if p.name.startswith("ipxe-")
                else p.name.split("-", 1)[0] for p in FIXTURES.glob("*.bin")}
    assert {"ibftkit", "broken", "ipxe-bios", "ipxe-uefi"} <= families, families
    missing = [f for f in sorted(families) if f"`{f}-*`" not in text]
    assert not missing, f"fixtures/ibft/PROVENANCE.md does not say where these come from: {missing}"


def test_every_sample_is_here() -> None:
    """The samples directory holds exactly the four tables, each with both views and its provenance."""
    assert (SAMPLES / "PROVENANCE.md").is_file()
    expected = {f"{n}{v}" for n in SAMPLE_LAYOUTS for v in (".bin", ".sysfs", ".iscsistart-f")}
    assert {p.name for p in SAMPLES.iterdir() if p.name != "PROVENANCE.md"} == expected


@pytest.mark.parametrize("name", ["ipxe-bios-dhcp", "ipxe-bios-chap"])
def test_ipxe_samples_equal_the_harness_captures(name: str) -> None:
    """Two independent recordings of the same iPXE run (PROVENANCE.md) stay byte-identical."""
    for suffix in (".bin", ".sysfs", ".iscsistart-f"):
        assert (SAMPLES / f"{name}{suffix}").read_bytes() == (FIXTURES / f"{name}{suffix}").read_bytes()


def guest_ifnames(expected: str) -> dict[str, str]:
    """The guest's MAC -> name, read back from the expected records (the guest had eth0)."""
    macs, out = None, {}
    for line in expected.splitlines():
        if line.startswith("iface.hwaddress = "):
            macs = line.split(" = ", 1)[1]
        if line.startswith("iface.net_ifacename = ") and macs:
            out[macs] = line.split(" = ", 1)[1]
    return out


def load(path: Path) -> BootConfig:
    return decode_table(path.read_bytes(), source=str(path))


@pytest.mark.parametrize("table", tables_with(".sysfs"), ids=case_id)
def test_sysfs_render_equals_the_kernels_view(table: Path) -> None:
    expected = table.with_suffix(".sysfs").read_text()
    assert render(load(table), "sysfs", show_secrets=True) == expected


@pytest.mark.parametrize("table", tables_with(".iscsistart-f"), ids=case_id)
def test_iscsistart_render_equals_iscsistart_f(table: Path) -> None:
    expected = table.with_suffix(".iscsistart-f").read_text()
    got = render(load(table), "iscsistart", show_secrets=True, mac_to_ifname=guest_ifnames(expected))
    assert without_version(got) == without_version(expected)


def without_version(records: str) -> list[str]:
    """The BEGIN RECORD line carries the producer's version (open-iscsi's there, ibftkit's here)."""
    return ["# BEGIN RECORD" if line.startswith("# BEGIN RECORD") else line for line in records.splitlines()]


def test_begin_record_carries_ibftkit_version() -> None:
    from ibftkit import __version__
    out = render(load(SAMPLES / "ipxe-bios-dhcp.bin"), "iscsistart")
    assert out.splitlines()[0] == f"# BEGIN RECORD ibftkit-{__version__}"


@pytest.mark.parametrize("name", sorted(SAMPLE_LAYOUTS))
def test_samples_reencode_byte_for_byte(name: str) -> None:
    raw = (SAMPLES / f"{name}.bin").read_bytes()
    assert encode_table(decode_table(raw), SAMPLE_LAYOUTS[name]) == raw


@pytest.mark.parametrize("table", sorted(FIXTURES.glob("ipxe-*.bin")), ids=lambda p: p.stem)
def test_ipxe_captures_reencode_byte_for_byte(table: Path) -> None:
    raw = table.read_bytes()
    assert encode_table(decode_table(raw), "ipxe") == raw


OWN = sorted(FIXTURES.glob("ibftkit-*.bin"))


@pytest.mark.parametrize("table", OWN, ids=lambda p: p.stem)
def test_own_fixture_golden_renders(table: Path) -> None:
    cfg = decode_table(table.read_bytes(), source=f"file:fixtures/ibft/{table.name}")
    assert render(cfg, "text") == table.with_suffix(".txt").read_text()
    assert render(cfg, "json", show_secrets=True) == table.with_suffix(".model.json").read_text()


@pytest.mark.parametrize("table", OWN, ids=lambda p: p.stem)
def test_own_fixture_model_encodes_back(table: Path) -> None:
    """``encode MODEL.json`` of what ``decode --format json --show-secrets`` printed gives the bytes."""
    model = json.loads(table.with_suffix(".model.json").read_text())
    layout = "edk2" if len(table.read_bytes()) == 2048 else ("ibftpl" if "quirks" in table.name else "ipxe")
    assert encode_table(BootConfig.from_dict(model), layout) == table.read_bytes()


def test_every_sample_decodes_cleanly(samples_dir: Path) -> None:
    for table in (samples_dir / f"{name}.bin" for name in sorted(SAMPLE_LAYOUTS)):
        cfg = load(table)
        assert cfg.header is not None and cfg.header.checksum_ok
        assert cfg.targets and cfg.nics and cfg.initiator


def test_secrets_redacted_in_every_format() -> None:
    cfg = load(FIXTURES / "ibftkit-mutual-chap.bin")
    for fmt in ("text", "json", "sysfs", "iscsistart"):
        out = render(cfg, fmt)
        assert "chap-secret-one" not in out and "reverse-secret-2" not in out, fmt
        assert "<redacted>" in out, fmt
    assert "chap-secret-one" in render(cfg, "sysfs", show_secrets=True)
