"""Accounting benchmarks: what the sampler thread costs, and how fast the math is.

1. Sampling overhead: CPU time used by the sampler thread (``time.thread_time`` inside the
   thread) as a share of one core, at the default interval (1 s) with the meter ``track()``
   chooses on this machine, and with a RAPL meter on a sysfs-shaped folder (target < 1%).
   Also the CPU cost of one meter read, measured directly over many reads.
2. Integration and accounting: a week of 1-second cumulative readings accounted on 5-minute
   intensity steps.

Run: ``.venv/bin/python benchmarks/bench_accounting.py [--seconds 20]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from carbonshift.accounting.emissions import account
from carbonshift.accounting.meters.base import PowerMeter
from carbonshift.accounting.meters.process import MachineCpu, ProcessTree
from carbonshift.accounting.meters.rapl import RaplMeter
from carbonshift.accounting.meters.select import select_meter
from carbonshift.accounting.profile import PowerProfile
from carbonshift.accounting.tracker import track
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries

DEFAULT_INTERVAL_S = 1.0


def read_cost_s(meter: PowerMeter, reads: int = 300) -> float:
    """CPU seconds per read of a started meter."""
    meter.start()
    t0 = time.thread_time()
    for _ in range(reads):
        meter.read()
    cost = (time.thread_time() - t0) / reads
    meter.stop()
    return cost


def sampler_share(meter: PowerMeter | str, seconds: float, interval_s: float) -> tuple[float, str]:
    """Sampler-thread CPU over wall time (one core = 1.0) while the main thread sleeps."""
    with track(meter=meter, interval_s=interval_s) as t:
        time.sleep(seconds)
    info = t.meter
    return t.sampler_cpu_s / t.duration_s, info.name if info else "?"


def fake_powercap(root: Path) -> Path:
    for i in range(2):
        zone = root / f"intel-rapl:{i}"
        zone.mkdir(parents=True)
        (zone / "name").write_text(f"package-{i}\n")
        (zone / "energy_uj").write_text("123456789\n")
        (zone / "max_energy_range_uj").write_text("262143328850\n")
    return root


def bench_overhead(seconds: float) -> None:
    print(
        f"sampling overhead at the default interval ({DEFAULT_INTERVAL_S:g} s), {seconds:g} s runs"
    )
    share, name = sampler_share("auto", seconds, DEFAULT_INTERVAL_S)
    print(
        f"  meter chosen here ({name}): sampler thread {100 * share:.3f}% of one core (target < 1%)"
    )
    per_read = read_cost_s(select_meter("auto"))
    print(
        f"  one {name} read: {1e6 * per_read:.0f} µs CPU -> {100 * per_read / DEFAULT_INTERVAL_S:.3f}% at 1 s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = fake_powercap(Path(tmp) / "powercap")
        rapl = RaplMeter(root, job_cpu=ProcessTree(), machine_cpu=MachineCpu())
        share, _ = sampler_share(rapl, seconds, DEFAULT_INTERVAL_S)
        print(f"  rapl with cpu-time share (written sysfs): {100 * share:.3f}% of one core")
        per_read = read_cost_s(RaplMeter(root, job_cpu=ProcessTree(), machine_cpu=MachineCpu()))
        print(f"  one rapl read: {1e6 * per_read:.0f} µs CPU")
    share, name = sampler_share("auto", min(seconds, 5.0), 0.1)
    print(f"  for scale, {name} at 0.1 s: {100 * share:.3f}% of one core")


def bench_math() -> None:
    n = 7 * 86400
    t = 1_654_041_600.0 + np.arange(n + 1, dtype=np.float64)
    rng = np.random.default_rng(0)
    energy = np.concatenate(([0.0], np.cumsum(rng.uniform(200, 400, n))))
    labels = SignalLabels("DE")
    series = IntensitySeries(1_654_041_600, 300, rng.uniform(50, 500, 7 * 288 + 1), labels)
    t0 = time.perf_counter()
    prof = PowerProfile.from_energy(t, energy)
    acc = account(prof, series)
    dt = time.perf_counter() - t0
    print(
        f"account a week of 1 s readings ({n:,}) on 5-min steps ({len(acc.steps):,}): "
        f"{1000 * dt:.0f} ms; energy {acc.energy_kwh:.1f} kWh, {acc.emissions_g / 1000:.1f} kg"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="accounting benchmarks")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each sampling run")
    args = parser.parse_args()
    bench_overhead(args.seconds)
    bench_math()


if __name__ == "__main__":
    main()
