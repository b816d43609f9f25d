"""Planner benchmarks (printed as times and ratios; not a timed test).

1. One decision over a 48 h horizon at 5-minute resolution (WattTime MOER, CAISO_NORTH, from
   ``$CARBONSHIFT_SHARED/data/watttime_moer``): median and p99 time of ``DynamicPolicy.plan``
   for a contiguous 2 h job and for an interruptible one (30 min chunks, 5 min overhead).
2. 100,000 jobs (one every 5 minutes over DE 2022 hourly data, 24 h slack, lengths 30 min to
   4 h) planned with the ``dynamic`` rule in one vectorised call (``plan_many``), against a
   plain per-job Python loop over the same windows (``cheapest_window``). Target: < 1 s.
3. If ``climate-aware-task-scheduler`` (cats) is installed: the same forecast and job lengths
   through cats' ``WindowedForecast`` (starts every 5 minutes from now, trapezoid rule: the
   points are joined by straight lines) against ours (step semantics: a value is the mean of
   its interval; starts also on the grid, at now and at the latest start): time per decision,
   how often the chosen start agrees, and what cats' window costs under step semantics.
4. Shared capacity: 1,000 jobs (1-2 h, 1-2 GPUs, up to 12 h slack) over one real week
   (DE, FR, ES, 2022-06-06..13, 8 GPUs per zone): exact MILP (HiGHS) against the greedy
   heuristic, the gap between them, and the uncapacitated "everyone in the cheapest hour" bound.

5. ``compare --capacity --relocate`` on one real week (DE, FR, ES, 2022-06-06..13, one 1 h
   job per hour per home zone, 24 h slack, 1 GPU per zone): the oracle batch solved by the
   greedy and by the exact MILP, planned totals and the time ratio.

Run: ``.venv/bin/python benchmarks/bench_planner.py [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from carbonshift.planning import (
    CapacityProblem,
    DynamicPolicy,
    Job,
    Outlook,
    cheapest_window,
    heuristic_gap,
    plan_many,
)
from carbonshift.signals.files import read_trace
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import from_epoch_s

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CARBONSHIFT_SHARED", REPO.parent / "shared"))
H = 3600


def timings(fn: Callable[[int], object], count: int) -> tuple[float, float]:
    """Median and p99 of ``fn(i)`` for ``i`` in ``range(count)``, in milliseconds."""
    out = []
    for i in range(count):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    ms = np.array(out) * 1000
    return float(np.median(ms)), float(np.percentile(ms, 99))


def as_forecast(series: IntensitySeries, now_s: int) -> IntensitySeries:
    return series.with_labels(series.labels.with_(kind="forecast", issued_at=from_epoch_s(now_s)))


def bench_decision(moer: IntensitySeries, count: int) -> None:
    starts = moer.start_s + H * np.arange(count) % (len(moer) * 300 - 50 * H)
    policy = DynamicPolicy()

    def decide(i: int, *, interruptible: bool) -> None:
        now = int(starts[i])
        horizon = moer.slice(now, now + 48 * H)
        job = Job(
            submit=from_epoch_s(now),
            duration=timedelta(hours=2),
            deadline=from_epoch_s(now + 48 * H),
            interruptible=interruptible,
            min_chunk=timedelta(minutes=30) if interruptible else None,
            pause_overhead=timedelta(minutes=5) if interruptible else timedelta(0),
        )
        policy.plan(job, now, Outlook(forecasts={moer.zone: as_forecast(horizon, now)}))

    med, p99 = timings(lambda i: decide(i, interruptible=False), count)
    print(f"one decision, 48 h at 5 min, 2 h job:        median {med:.2f} ms, p99 {p99:.2f} ms")
    med, p99 = timings(lambda i: decide(i, interruptible=True), max(10, count // 10))
    print(f"same, interruptible (30 min chunks, 5 min): median {med:.2f} ms, p99 {p99:.2f} ms")


def bench_many(de: IntensitySeries, n_jobs: int) -> None:
    year = de.slice(de.start_s, de.start_s + 365 * 86_400) if len(de) > 8760 else de
    submit = year.start_s + 300 * np.arange(n_jobs, dtype=np.int64)
    duration = np.array([1800, 3600, 7200, 4 * H], dtype=np.int64)[np.arange(n_jobs) % 4]
    slack = 24 * H
    deadline = submit + slack + duration
    plan_many(year, submit[:10], duration[:10], deadline[:10])  # warm-up
    t0 = time.perf_counter()
    batch = plan_many(year, submit, duration, deadline)
    vectorised = time.perf_counter() - t0
    t0 = time.perf_counter()
    loop_start = np.empty(n_jobs, dtype=np.int64)
    for j in range(n_jobs):
        w = cheapest_window(year, int(duration[j]), [(int(submit[j]), int(submit[j]) + slack)])
        loop_start[j] = w.start_s if w is not None else -1
    loop = time.perf_counter() - t0
    same = int((loop_start == batch.start_s).sum())
    print(
        f"{n_jobs:,} jobs, {year.zone} {len(year):,} hourly steps, 24 h slack: vectorised "
        f"{vectorised:.3f} s ({'meets' if vectorised < 1 else 'misses'} the 1 s target), "
        f"per-job loop {loop:.2f} s, ratio {loop / vectorised:.0f}x; identical starts "
        f"{same:,}/{n_jobs:,}"
    )


def bench_cats(moer: IntensitySeries, count: int) -> None:
    try:
        cats = importlib.import_module("cats.forecast")  # optional; untyped
    except ImportError:
        print("cats: not installed (pip install climate-aware-task-scheduler) - skipped")
        return
    times = moer.times_s
    for minutes in (30, 120, 360):
        d = minutes * 60
        ours_t, cats_t, agree, extra = [], [], 0, []
        for i in range(count):
            now = int(moer.start_s + (i * 7 * H + 1500) % (len(moer) * 300 - 50 * H))
            now -= now % 300  # cats starts its windows at the first point; keep both on the grid
            k0 = int(np.searchsorted(times, now))
            k1 = k0 + 48 * 12 + 1
            horizon = IntensitySeries(now, 300, moer.values[k0 : k1 - 1], moer.labels)
            points: list[Any] = [
                cats.PointEstimate(value=float(v), datetime=from_epoch_s(int(t)))
                for t, v in zip(times[k0:k1], moer.values[k0:k1], strict=True)
            ]
            job = Job(
                submit=from_epoch_s(now), duration=timedelta(minutes=minutes),
                deadline=from_epoch_s(now + 48 * H),
            )  # fmt: skip
            t0 = time.perf_counter()
            plan = DynamicPolicy().plan(
                job, now, Outlook(forecasts={"X": as_forecast(horizon, now)})
            )
            ours_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            wf = cats.WindowedForecast(
                points, minutes, from_epoch_s(now), max_window_minutes=48 * 60 - minutes
            )
            best = min(wf)
            cats_t.append(time.perf_counter() - t0)
            cats_start = int(best.start.timestamp())
            agree += cats_start == plan.start_s
            step_mean = horizon.window_mean(cats_start, cats_start + d)
            extra.append(
                100 * (step_mean - plan.mean_intensity_g_per_kwh) / plan.mean_intensity_g_per_kwh
            )
        print(
            f"cats vs ours, {minutes:>3} min job, 48 h of 5-min MOER, {count} decisions: "
            f"ours {1000 * np.median(ours_t):.2f} ms, cats {1000 * np.median(cats_t):.2f} ms per "
            f"decision; same start {agree}/{count}; cats' window under step semantics "
            f"+{np.mean(extra):.3f} % mean (max +{np.max(extra):.3f} %)"
        )


def bench_capacity(data: Path) -> None:
    week = 1_654_473_600  # 2022-06-06T00:00Z
    series = {
        z: read_trace(data / f"{z}.csv.gz").slice(week, week + 7 * 86_400)
        for z in ("DE", "FR", "ES")
    }
    rng = np.random.default_rng(1)
    jobs = []
    for j in range(1000):
        submit = week + int(rng.integers(0, 6 * 96)) * 900
        duration = int(rng.choice([H, 2 * H]))
        slack = min(int(rng.integers(0, 13)) * H, week + 7 * 86_400 - submit - duration)
        jobs.append(
            Job(
                submit=from_epoch_s(submit),
                duration=timedelta(seconds=duration),
                slack=timedelta(seconds=slack),
                gpus=int(rng.integers(1, 3)),
                power_w=float(rng.integers(300, 2000)),
                job_id=f"j{j}",
            )
        )
    problem = CapacityProblem(jobs, series, {"DE": 8, "FR": 8, "ES": 8})
    t0 = time.perf_counter()
    report = heuristic_gap(problem, time_limit_s=90)
    print(
        f"capacity, 1,000 jobs x 3 zones, one week: {report.describe()} [{time.perf_counter() - t0:.1f} s]"
    )


def bench_compare_capacity(data: Path) -> None:
    from carbonshift.simulate.comparison import CompareSpec, load_zones, run_comparison
    from carbonshift.simulate.workload import regular_workload

    week = 1_654_473_600  # 2022-06-06T00:00Z
    zones = ("DE", "FR", "ES")
    series = load_zones(data, zones)
    w = regular_workload(week, week + 7 * 86_400, H, H, 24 * H)
    out = {}
    for solver in ("greedy", "exact"):
        spec = CompareSpec(
            zones, week, week + 7 * 86_400, policies=("oracle",), relocate=True, capacity=1,
            capacity_solver=solver,
        )  # fmt: skip
        (batch,) = run_comparison(spec, series, w).capacity_batches
        out[solver] = batch
    g, e = out["greedy"], out["exact"]
    print(
        f"compare --capacity 1 --relocate, {g.jobs} jobs x 3 zones, one week ({e.options:,} "
        f"options): greedy {g.emissions_g / 1000:.1f} kg in {g.seconds:.2f} s, exact "
        f"{e.emissions_g / 1000:.1f} kg ({'optimal' if e.optimal else 'not proven'}) in "
        f"{e.exact_seconds or 0:.2f} s; greedy +{100 * (g.emissions_g / e.emissions_g - 1):.2f} %, "
        f"exact/greedy time {(e.exact_seconds or 0) / g.seconds:.0f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    args = parser.parse_args()
    moer = read_trace(SHARED / "data" / "watttime_moer" / "CAISO_NORTH.csv.gz")
    de = read_trace(SHARED / "data" / "DE.csv.gz")
    de2022 = de.slice(1_640_995_200, 1_672_531_200)  # 2022-01-01 .. 2023-01-01
    bench_decision(moer, 50 if args.quick else 500)
    bench_many(de2022, 10_000 if args.quick else 100_000)
    bench_cats(moer, 10 if args.quick else 50)
    if not args.quick:
        bench_capacity(SHARED / "data")
    bench_compare_capacity(SHARED / "data")


if __name__ == "__main__":
    main()
