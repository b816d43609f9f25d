"""Many jobs sharing GPUs: exact MILP and greedy, on brute-forced small cases and real data."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonshift.planning import (
    CapacityProblem,
    InfeasibleBatchError,
    Job,
    Schedule,
    check_schedule,
    heuristic_gap,
    solve_exact,
    solve_greedy,
)
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import from_epoch_s
from planning.reference import T0, MinuteIntegrator, make_series

H = 3600


def assert_feasible(problem: CapacityProblem, schedule: Schedule) -> None:
    """Independent check: deadlines and GPUs per (zone, hour)."""
    ref = next(iter(problem.series.values()))
    used: dict[tuple[str, int], int] = {}
    for j, job in enumerate(problem.jobs):
        start, end = int(schedule.start_s[j]), int(schedule.end_s[j])
        assert start >= job.submit_s
        assert start <= job.latest_safe_start_s
        assert end == start + job.duration_s <= job.deadline_s - job.margin_s
        zone = schedule.zone_of(j)
        assert not job.zones or zone in job.zones
        first = (start - ref.start_s) // ref.resolution_s
        last = -(-(end - ref.start_s) // ref.resolution_s)
        for step in range(first, last):
            used[(zone, step)] = used.get((zone, step), 0) + job.gpus
    for (zone, step), gpus in used.items():
        cap = np.broadcast_to(np.asarray(problem.capacity[zone]), len(ref))[step]
        assert gpus <= cap, f"{zone} step {step}: {gpus} GPUs > {cap}"


# ---------------------------------------------------------------- brute force on small batches
@st.composite
def small_batches(draw: st.DrawFn) -> CapacityProblem:
    n_steps = 6
    zones = ["A", "B"]
    series = {
        z: make_series(
            draw(st.lists(st.integers(0, 9), min_size=n_steps, max_size=n_steps)), zone=z
        )
        for z in zones
    }
    jobs = []
    for j in range(draw(st.integers(1, 4))):
        submit_min = draw(st.integers(0, 3 * 60))
        duration_min = draw(st.sampled_from([30, 60, 90, 120]))
        room = n_steps * 60 - submit_min - duration_min
        slack_min = draw(st.integers(0, max(0, min(room, 150))))
        if room < 0:
            continue
        jobs.append(
            Job(
                submit=from_epoch_s(T0 + 60 * submit_min),
                duration=timedelta(minutes=duration_min),
                slack=timedelta(minutes=slack_min),
                gpus=draw(st.integers(1, 2)),
                power_w=float(draw(st.integers(100, 900))),
                zones=tuple(draw(st.sampled_from([zones, ["A"], ["B"]]))),
                job_id=str(j),
            )
        )
    if not jobs:
        jobs.append(Job(submit=from_epoch_s(T0), duration=timedelta(hours=1), slack=timedelta(0)))
    capacity = {z: draw(st.integers(1, 3)) for z in zones}
    return CapacityProblem(jobs, series, capacity)


def brute_batch(problem: CapacityProblem) -> float | None:
    """Cheapest feasible schedule by enumerating every job's options (documented candidate set:
    the earliest start plus every grid point up to the latest safe start)."""
    ref = problem.series["A"]
    options: list[list[tuple[str, int, float]]] = []
    for job in problem.jobs:
        e, last = job.submit_s, job.latest_safe_start_s
        starts = sorted({e, *range(ref.start_s + (-(e - ref.start_s) // H) * -H, last + 1, H)})
        starts = [s for s in starts if e <= s <= last and s + job.duration_s <= ref.end_s]
        opts = []
        for zone in job.zones or tuple(problem.series):
            integ = MinuteIntegrator(problem.series[zone])
            for s in starts:
                mean = integ.integral(s, s + job.duration_s) / (job.duration_s / 60)
                opts.append((zone, s, job.power_w * mean * job.duration_s / 3.6e6))
        options.append(opts)
    best = None
    for combo in itertools.product(*options):
        used: dict[tuple[str, int], int] = {}
        ok = True
        for job, (zone, s, _) in zip(problem.jobs, combo, strict=True):
            for step in range((s - ref.start_s) // H, -(-(s + job.duration_s - ref.start_s) // H)):
                used[(zone, step)] = used.get((zone, step), 0) + job.gpus
                ok &= used[(zone, step)] <= int(np.asarray(problem.capacity[zone]))
        if ok:
            total = sum(o[2] for o in combo)
            best = total if best is None else min(best, total)
    return best


@settings(max_examples=40, deadline=None)
@given(small_batches())
def test_exact_matches_brute_force_and_greedy_is_feasible(problem: CapacityProblem) -> None:
    best = brute_batch(problem)
    if best is None:
        with pytest.raises(InfeasibleBatchError):
            solve_exact(problem)
        return
    exact = solve_exact(problem, mip_rel_gap=1e-9)
    assert_feasible(problem, exact)
    assert exact.total_emissions_g == pytest.approx(best, rel=1e-9, abs=1e-9)
    try:
        greedy = solve_greedy(problem)
    except InfeasibleBatchError:
        return  # a heuristic may fail where the exact solver succeeds; it must say so
    assert_feasible(problem, greedy)
    assert greedy.total_emissions_g >= best - 1e-6
    assert greedy.lower_bound_g <= best + 1e-6
    check_schedule(problem, greedy)


def test_infeasible_batch_is_reported_clearly() -> None:
    series = {"A": make_series([5.0, 1.0, 5.0, 5.0])}
    jobs = [
        Job(
            submit=from_epoch_s(T0 + H),
            duration=timedelta(hours=1),
            slack=timedelta(0),
            job_id=str(i),
        )
        for i in range(3)
    ]
    problem = CapacityProblem(jobs, series, {"A": 2})
    with pytest.raises(InfeasibleBatchError, match="no assignment of the 3 jobs"):
        solve_exact(problem)
    with pytest.raises(InfeasibleBatchError, match="greedy: 1 jobs found no window"):
        solve_greedy(problem)
    ok = CapacityProblem(jobs, series, {"A": 3})
    assert solve_exact(ok).start_s.tolist() == [T0 + H] * 3
    late = CapacityProblem(
        [Job(submit=from_epoch_s(T0 + 3 * H), duration=timedelta(hours=2), slack=timedelta(0))],
        series,
        {"A": 3},
    )
    with pytest.raises(InfeasibleBatchError, match="no window on known data"):
        solve_exact(late)


def test_capacity_prevents_herding_into_the_cheapest_hour() -> None:
    series = {"A": make_series([9.0, 1.0, 9.0, 9.0, 9.0, 9.0])}
    jobs = [
        Job(submit=from_epoch_s(T0), duration=timedelta(hours=1), slack=timedelta(hours=5))
        for _ in range(4)
    ]
    for solver in (solve_exact, solve_greedy):
        schedule = solver(CapacityProblem(jobs, series, {"A": 2}))
        starts = schedule.start_s.tolist()
        assert starts.count(T0 + H) == 2  # two in the clean hour, the rest elsewhere
        assert schedule.total_emissions_g == pytest.approx(2 * 1.0 + 2 * 9.0)
    assert sorted(solve_greedy(CapacityProblem(jobs, series, {"A": 2})).start_s) == [
        T0,
        T0,
        T0 + H,
        T0 + H,
    ]  # the greedy breaks ties to the earliest start


# ---------------------------------------------------------------- 1,000 jobs on real data
def read_week(data_dir: Path, zone: str, start_s: int) -> IntensitySeries:
    frame = pd.read_csv(data_dir / f"{zone}.csv.gz", usecols=["timestamp", "carbon_intensity"])
    times = pd.to_datetime(frame["timestamp"], utc=True)
    epoch = ((times - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy()
    keep = (epoch >= start_s) & (epoch < start_s + 7 * 86_400)
    values = frame["carbon_intensity"].to_numpy(dtype=float)[keep]
    assert values.size == 168 and not np.isnan(values).any()
    return IntensitySeries(start_s, H, values, SignalLabels(zone))


@pytest.mark.slow
def test_thousand_jobs_three_zones_real_week(data_dir: Path) -> None:
    week = int(pd.Timestamp("2022-06-06T00:00Z").timestamp())
    series = {z: read_week(data_dir, z, week) for z in ("DE", "FR", "ES")}
    rng = np.random.default_rng(1)
    jobs = []
    for j in range(1000):
        submit = week + int(rng.integers(0, 6 * 96)) * 900  # quarter hours over six days
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
    t = time.perf_counter()
    report = heuristic_gap(problem, time_limit_s=90)
    elapsed = time.perf_counter() - t
    assert_feasible(problem, report.exact)
    assert_feasible(problem, report.heuristic)
    assert report.exact_optimal
    assert report.uncapacitated_g < report.exact_g  # capacity binds: herding was prevented
    assert report.lower_bound_g <= report.exact_g + 1e-6
    assert report.heuristic_bound_g <= report.exact_g + 1e-6
    assert report.exact_g <= report.heuristic_g + 1e-6
    assert 0.0 <= report.gap_pct < 15.0
    print(f"\n{report.describe()} [exact + greedy in {elapsed:.1f} s]")
