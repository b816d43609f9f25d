"""Signal-layer benchmarks (printed as times and ratios; not a timed test).

1. Import all of ``$CARBONSHIFT_SHARED/data`` into an empty store (cold), then again (warm:
   unchanged files are recognised and not re-read), and load every stored series back, against
   parsing every file again.
2. Window means: every window of 1 to 24 hours, at every start, over one year of 5-minute data,
   with ``IntensitySeries.rolling_means`` against a plain pandas ``rolling().mean()`` baseline run
   side by side on the same values. Target: at least 10x faster than pandas.

Run: ``.venv/bin/python benchmarks/bench_signals.py`` (or ``make bench``).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from carbonshift.signals.files import discover_traces, parse_trace_file
from carbonshift.signals.importer import import_paths
from carbonshift.signals.series import IntensitySeries
from carbonshift.signals.store import SignalStore

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CARBONSHIFT_SHARED", REPO.parent / "shared"))


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_import(data: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SignalStore(Path(tmp) / "store")
        t0 = time.perf_counter()
        report = import_paths(store, [data])
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = import_paths(store, [data])
        warm = time.perf_counter() - t0
        catalog = store.catalog()
        load_all = best_of(
            lambda: [store.load(i.zone, dataset=i.dataset, variant=i.variant) for i in catalog]
        )
        sources, _ = discover_traces([data])
        parse_all = best_of(lambda: [parse_trace_file(s.path) for s in sources], repeat=1)
        rows = sum(i.rows for i in catalog)
    print(
        f"import, cold: {report.files} files, {len(report.imported)} series, {rows:,} steps in {cold:.2f} s"
    )
    print(
        f"import, warm (nothing changed): {len(again.unchanged)} files recognised in {warm:.3f} s  (x{cold / warm:.0f} faster)"
    )
    print(
        f"reload every series from the store: {load_all:.3f} s vs re-parsing every file {parse_all:.2f} s  (x{parse_all / load_all:.1f})"
    )


def bench_windows(data: Path) -> None:
    src = parse_trace_file(data / "lets_wait_awhile" / "DE.csv.gz").series["actual"]  # 15-min, 2020
    year = src.slice(1577836800, 1577836800 + 366 * 86400).resample(300)  # one year at 5 minutes
    values = year.values
    print(
        f"window means: {len(year):,} five-minute steps ({year.zone} 2020, Let's Wait Awhile data)"
    )
    durations = [h * 3600 for h in range(1, 25)]
    windows = sum(len(year) - d // 300 + 1 for d in durations)

    def ours() -> None:
        fresh = IntensitySeries(
            year.start_s, year.resolution_s, values, year.labels
        )  # no cached prefix
        for d in durations:
            fresh.rolling_means(d)

    def pandas_baseline() -> None:
        ser = pd.Series(values)
        for d in durations:
            ser.rolling(d // 300).mean().to_numpy()

    # same answers first
    fresh = IntensitySeries(year.start_s, year.resolution_s, values, year.labels)
    for d in (3600, 7 * 3600, 24 * 3600):
        _, m = fresh.rolling_means(d)
        ref = pd.Series(values).rolling(d // 300).mean().to_numpy()[d // 300 - 1 :]
        np.testing.assert_allclose(m, ref, rtol=1e-8)
    t_ours, t_pd = best_of(ours, 5), best_of(pandas_baseline, 5)
    print(f"  every 1..24 h window at every start: {windows:,} windows")
    print(
        f"  carbonshift rolling_means: {t_ours * 1e3:8.1f} ms  ({windows / t_ours / 1e6:.0f} M windows/s)"
    )
    print(
        f"  pandas rolling().mean():   {t_pd * 1e3:8.1f} ms  ({windows / t_pd / 1e6:.0f} M windows/s)"
    )
    print(f"  ratio: carbonshift is x{t_pd / t_ours:.1f} faster than pandas (target >= 10x)")
    # arbitrary windows that start and end mid-step
    rng = np.random.default_rng(0)
    starts = year.start_s + rng.integers(0, len(year) * 300 - 86400, size=1_000_000)
    ends = starts + rng.integers(60, 86400, size=starts.size)
    t_any = best_of(lambda: fresh.window_means(starts, ends))
    print(f"  1,000,000 arbitrary windows (mid-step ends): {t_any * 1e3:.0f} ms")


def main() -> None:
    data = SHARED / "data"
    if not data.is_dir():
        raise SystemExit(f"no shared data at {data}; set CARBONSHIFT_SHARED")
    bench_import(data)
    bench_windows(data)


if __name__ == "__main__":
    main()
