"""Helpers for the accounting tests: hand-made intensity series, a clock the test moves, and
a small ledger with known contents (imported as ``accounting.helpers_accounting``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from carbonshift.accounting.counterfactual import counterfactuals
from carbonshift.accounting.emissions import account
from carbonshift.accounting.ledger import Ledger
from carbonshift.accounting.meters.base import MeterInfo
from carbonshift.accounting.profile import PowerProfile
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries

T0 = 1_654_041_600  # 2022-06-01T00:00Z


def make_series(
    values: npt.ArrayLike,
    *,
    start_s: int = T0,
    resolution_s: int = 3600,
    zone: str = "DE",
    **labels: Any,
) -> IntensitySeries:
    return IntensitySeries(
        start_s, resolution_s, np.array(values, dtype=np.float64), SignalLabels(zone, **labels)
    )


class FakeClock:
    """A clock that moves only when the test says so."""

    def __init__(self, now: float = float(T0)) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeCpu:
    """Cumulative CPU seconds that the test sets."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def cpu_time_s(self) -> float:
        return self.value


H = 3600
GPU_METER = MeterInfo(
    "nvml", True, "NVML total-energy counters", ("GPU 0 NVIDIA H100",), parts=("gpu",)
)
CPU_METER = MeterInfo(
    "rapl",
    True,
    "RAPL energy counters (powercap)",
    ("package-0",),
    "cpu-time share of the job's processes (machine shared): 50.0% of the measured energy",
    parts=("cpu",),
)
HOST = {
    "os": "Linux-test",
    "python_version": "3.11.7",
    "cpu_count": 8,
    "cpu_model": "Xeon",
    "gpu_count": 1,
    "gpu_model": "1 x NVIDIA H100",
    "ram_total_size_gb": 64.0,
}


def build_ledger(path: Path) -> Ledger:
    """Jobs:
    - a (ada, DE, June): 1 kW 02:00-04:00 on 200,100 -> 300 g; immediate at 00:00 (400,300 -> 700 g),
      static at 04:00 (150,250 -> 400 g), oracle at 03:00 (100,150 -> 250 g). GPU meter, parts split.
    - b (bob, DE, June): 500 W 05:00-07:00, hour 06:00 is a gap -> 0.5 kWh × 250 = 125 g + 0.5 kWh unattributed.
    - c (ada, FR, July): 2 kW for 1 h on a forecast (provisional) of 50 g/kWh -> 100 g. RAPL meter.
    - d (bob, FR, July): marginal signal, 1 kWh × 600 = 600 g (never summed with average).
    - a correction: job a's first record is corrected from 1 kWh to 1.2 kWh (240 g).
    """
    led = Ledger(path)
    de = make_series([400, 300, 200, 100, 150, 250, np.nan, 300], provider="em")
    prof_a = PowerProfile.constant(T0 + 2 * H, 2 * H, 1000.0)
    acc_a = account(prof_a, de)
    parts = {"gpu": [r.energy_kwh for r in acc_a.steps]}
    detail = {"pue": 1.0, "host": HOST}
    led.record_account(
        acc_a, job_id="a", user="ada", meter=GPU_METER, meter_detail=detail, parts_kwh=parts
    )
    cf = counterfactuals(
        prof_a, de, immediate_start_s=T0, static_start_s=T0 + 4 * H, oracle_start_s=T0 + 3 * H
    )
    led.record_counterfactuals(cf, job_id="a", user="ada", meter=GPU_METER)
    acc_b = account(PowerProfile.constant(T0 + 5 * H, 2 * H, 500.0), de)
    led.record_account(acc_b, job_id="b", user="bob", meter=GPU_METER, meter_detail=detail)
    july = T0 + 30 * 24 * H
    fr = make_series([50, 60], start_s=july, zone="FR", kind="forecast", provider="em")
    acc_c = account(PowerProfile.constant(july, H, 2000.0), fr)
    led.record_account(
        acc_c, job_id="c", user="ada", meter=CPU_METER, meter_detail={"pue": 1.2, "host": HOST}
    )
    frm = make_series([600, 600], start_s=july, zone="FR", signal="marginal", provider="wt")
    acc_d = account(PowerProfile.constant(july + H, H, 1000.0), frm)
    led.record_account(acc_d, job_id="d", user="bob", meter=CPU_METER)
    first_a = led.records(job_id="a", scenario="actual")[0]
    led.correct(first_a.id, note="meter recalibrated", energy_kwh=1.2)
    return led
