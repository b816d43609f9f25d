"""NVML (through a fake pynvml), the declared model, and choosing the best meter."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from accounting.helpers_accounting import FakeClock, FakeCpu

from carbonshift.accounting.meters import (
    CombinedMeter,
    ModelMeter,
    NvmlMeter,
    assigned_gpus,
    select_meter,
)
from carbonshift.errors import UsageError


class NVMLError(Exception):
    pass


class FakeNvml:
    """The slice of pynvml the meter uses: GPUs with a power (mW) and an energy counter (mJ)."""

    def __init__(self, gpus: list[dict[str, Any]]) -> None:
        self.gpus = gpus
        self.inits = 0
        self.shutdowns = 0

    def nvmlInit(self) -> None:
        self.inits += 1

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetUUID(self, h: int) -> str:
        return str(self.gpus[h]["uuid"])

    def nvmlDeviceGetName(self, h: int) -> bytes:
        return b"NVIDIA H100"

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        return int(self.gpus[h]["mw"])

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> int:
        if self.gpus[h].get("mj") is None:
            raise NVMLError("Not Supported")
        return int(self.gpus[h]["mj"])


def gpus() -> list[dict[str, Any]]:
    return [
        {"uuid": "GPU-aaaa-1111", "mw": 300_000, "mj": 5_000_000},
        {"uuid": "GPU-bbbb-2222", "mw": 100_000, "mj": None},  # no counter: integrate power
        {"uuid": "GPU-cccc-3333", "mw": 50_000, "mj": 0},
    ]


def test_assigned_gpus_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert assigned_gpus() is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1, GPU-cccc,-1,0")
    assert assigned_gpus() == ["1", "GPU-cccc"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert assigned_gpus() == []
    assert assigned_gpus([0, "GPU-x"]) == ["0", "GPU-x"]


def test_counter_and_integrated_power(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-aaaa,1")  # UUID prefix and an index
    fake = FakeNvml(gpus())
    meter = NvmlMeter(nvml=fake, clock=clock)
    assert meter.unavailable_reason() is None
    assert meter.start().power_w == pytest.approx(400.0)
    clock.advance(10.0)
    fake.gpus[0]["mj"] += 3_100_000  # 3100 J on the counter
    fake.gpus[1]["mw"] = 200_000  # 100 W -> 200 W: trapezoid 150 W × 10 s
    fake.gpus[2]["mj"] += 10**9  # not assigned: ignored
    r = meter.read()
    assert r.energy_j == pytest.approx(3100.0 + 1500.0)
    assert r.parts_j == {"gpu": pytest.approx(4600.0)}
    last = meter.stop()
    assert fake.shutdowns >= 1 and last.energy_j == pytest.approx(4600.0)
    info = meter.info()
    assert info.devices == ("GPU 0 NVIDIA H100", "GPU 1 NVIDIA H100")
    assert "energy counters (1 GPUs) and power samples" in info.method


def test_nvml_unavailable_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert "assigns no GPU" in (NvmlMeter(nvml=FakeNvml(gpus())).unavailable_reason() or "")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    assert "NVML sees 3" in (NvmlMeter(nvml=FakeNvml(gpus())).unavailable_reason() or "")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert "no NVIDIA GPU" in (NvmlMeter(nvml=FakeNvml([])).unavailable_reason() or "")
    if importlib.util.find_spec("pynvml") is None:
        assert "not installed" in (NvmlMeter().unavailable_reason() or "")


def test_model_constant_and_profile(clock: FakeClock) -> None:
    const = ModelMeter.constant(250.0, clock=clock)
    const.start()
    clock.advance(4.0)
    assert const.read().energy_j == pytest.approx(1000.0)
    assert not const.info().measured and "constant power 250 W" in const.info().method

    prof = ModelMeter.profile([10, 10], [100.0, 300.0], clock=clock)
    prof.start()
    clock.advance(15.0)
    r = prof.read()
    assert r.energy_j == pytest.approx(1000 + 1500) and r.power_w == pytest.approx(300.0)
    clock.advance(10.0)  # past the declaration: the last piece holds
    assert prof.read().energy_j == pytest.approx(1000 + 3000 + 1500)


def test_model_tdp_times_utilisation(clock: FakeClock) -> None:
    cpu = FakeCpu(100.0)
    meter = ModelMeter(tdp_w=120.0, cpu=cpu, cores=4, clock=clock)
    meter.start()
    clock.advance(10.0)
    cpu.value = 120.0  # 20 CPU s in 10 s on 4 cores: 50% -> 60 W
    r = meter.read()
    assert r.energy_j == pytest.approx(600.0) and r.power_w == pytest.approx(60.0)
    assert "TDP 120 W (declared)" in meter.info().method
    with pytest.raises(UsageError, match="exactly one"):
        ModelMeter(power_w=1.0, tdp_w=2.0)


def test_select_meter_here_and_with_written_rapl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    none = tmp_path / "no-powercap"
    chosen = select_meter(rapl_root=none, nvml_module=FakeNvml([]), power_w=42.0)
    assert isinstance(chosen, ModelMeter)
    notes = chosen.info().notes
    assert any("no NVIDIA GPU" in n for n in notes) and any("rapl:" in n for n in notes)
    assert "constant power 42 W" in chosen.info().method

    default = select_meter(rapl_root=none, nvml_module=FakeNvml([]))
    assert "default, not declared" in default.info().method

    zone = tmp_path / "pc" / "intel-rapl:0"
    zone.mkdir(parents=True)
    (zone / "name").write_text("package-0\n")
    (zone / "energy_uj").write_text("5\n")
    (zone / "max_energy_range_uj").write_text("1000\n")
    both = select_meter(rapl_root=tmp_path / "pc", nvml_module=FakeNvml(gpus()))
    assert isinstance(both, CombinedMeter) and both.name == "nvml+rapl"
    assert both.info().parts == ("gpu", "cpu")
    with pytest.raises(UsageError, match="meter nvml cannot measure"):
        select_meter("nvml", nvml_module=FakeNvml([]))
    with pytest.raises(UsageError, match="not known"):
        select_meter("watts")
