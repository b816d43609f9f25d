"""RAPL read from a sysfs-shaped folder the test writes, including a counter wrap."""

from __future__ import annotations

from pathlib import Path

import pytest
from accounting.helpers_accounting import FakeClock, FakeCpu

from carbonshift.accounting.meters.rapl import RaplMeter, RaplZone, counter_delta_uj, find_zones

MAX_UJ = 262_143_328_850


def write_zone(path: Path, name: str, energy_uj: int, max_uj: int = MAX_UJ) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "name").write_text(name + "\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return path


def set_uj(path: Path, energy_uj: int) -> None:
    (path / "energy_uj").write_text(f"{energy_uj}\n")


@pytest.fixture
def powercap(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "powercap"
    pkg0 = write_zone(root / "intel-rapl:0", "package-0", 1_000_000)
    core = write_zone(pkg0 / "intel-rapl:0:0", "core", 500_000)
    dram = write_zone(pkg0 / "intel-rapl:0:1", "dram", 2_000_000)
    pkg1 = write_zone(root / "intel-rapl:1", "package-1", MAX_UJ - 3_000_000)
    psys = write_zone(root / "intel-rapl:2", "psys", 9_000_000)
    return {"root": root, "pkg0": pkg0, "core": core, "dram": dram, "pkg1": pkg1, "psys": psys}


def test_zones_found_without_double_counting(powercap: dict[str, Path]) -> None:
    zones = find_zones(powercap["root"])
    assert [(z.name, z.part) for z in zones] == [
        ("package-0", "cpu"),
        ("dram", "ram"),
        ("package-1", "cpu"),
    ]
    assert zones[0].max_range_uj == MAX_UJ


def test_counter_delta_wraps() -> None:
    assert counter_delta_uj(100, 250, 1000) == 150
    assert counter_delta_uj(900, 50, 1000) == 150  # 100 to the top, then 50


def test_energy_across_a_wrap(powercap: dict[str, Path], clock: FakeClock) -> None:
    meter = RaplMeter(powercap["root"], clock=clock)
    assert meter.available()
    first = meter.start()
    assert first.energy_j == 0.0
    clock.advance(10.0)
    set_uj(powercap["pkg0"], 1_000_000 + 600_000_000)  # +600 J
    set_uj(powercap["dram"], 2_000_000 + 50_000_000)  # +50 J
    set_uj(powercap["pkg1"], 7_000_000)  # wrapped: 3 J to the top + 7 J = 10 J
    set_uj(powercap["core"], 123)  # inside the package: ignored
    set_uj(powercap["psys"], 10**12)  # whole platform: ignored
    r = meter.read()
    assert r.energy_j == pytest.approx(660.0)
    assert r.parts_j == pytest.approx({"cpu": 610.0, "ram": 50.0})
    assert r.power_w == pytest.approx(66.0)
    clock.advance(5.0)
    set_uj(powercap["pkg1"], 7_000_000 + 100_000_000)
    last = meter.stop()
    assert last.energy_j == pytest.approx(760.0) and last.power_w == pytest.approx(20.0)
    info = meter.info()
    assert info.name == "rapl" and info.measured and "whole machine" in info.attribution
    assert info.devices == ("package-0", "dram", "package-1")


def test_shared_machine_is_attributed_by_cpu_time_share(
    powercap: dict[str, Path], clock: FakeClock
) -> None:
    job, machine = FakeCpu(), FakeCpu()
    meter = RaplMeter(powercap["root"], job_cpu=job, machine_cpu=machine, clock=clock)
    meter.start()
    # interval 1: package +100 J, the job used 1 of 4 busy CPU seconds -> 25 J
    clock.advance(1.0)
    set_uj(powercap["pkg0"], 1_000_000 + 100_000_000)
    job.value, machine.value = 1.0, 4.0
    assert meter.read().energy_j == pytest.approx(25.0)
    # interval 2: +200 J, the job used 3 of 4 -> 150 J more
    clock.advance(1.0)
    set_uj(powercap["pkg0"], 1_000_000 + 300_000_000)
    job.value, machine.value = 4.0, 8.0
    r = meter.read()
    assert r.energy_j == pytest.approx(175.0)
    info = meter.info()
    assert "cpu-time share" in info.attribution and "58.3%" in info.attribution


def test_unreadable_counters_are_reported(
    powercap: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # energy_uj is root-only on many kernels; as root the test simulates the refusal
    def refuse(self: RaplZone) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(RaplZone, "read_uj", refuse)
    assert "not readable" in (RaplMeter(powercap["root"]).unavailable_reason() or "")


def test_missing_root(tmp_path: Path) -> None:
    meter = RaplMeter(tmp_path / "nope")
    assert not meter.available() and "not found" in (meter.unavailable_reason() or "")
