"""Shared capacity (``--capacity N`` GPUs per zone and step) in a replay.

- ``oracle``: the whole batch is planned at once by the capacity planner's fast solver
  (:func:`solve_greedy` on :class:`CapacityProblem`, actual values, every arrival known in
  advance: the upper bound), whose schedule is checked against every deadline and step.
- ``immediate``, ``static``, ``dynamic``: **admission in decision order**: each job asks for
  the start its policy chose; if a step it would overlap has too few free GPUs it takes the
  next grid start where it fits (first come, first served). Such a job may finish late: that
  is counted as a deadline miss, never hidden.

A run holds its GPUs in every step it overlaps (a partly covered step counts whole), as in
:mod:`carbonshift.planning.capacity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np

from carbonshift.errors import UsageError
from carbonshift.planning import CapacityProblem, Job, solve_greedy
from carbonshift.signals.series import IntArray, IntensitySeries
from carbonshift.simulate.workload import Workload
from carbonshift.timeutil import from_epoch_s

__all__ = ["admit", "oracle_with_capacity", "peak_usage"]


def _check_fits(workload: Workload, capacity: int) -> None:
    if len(workload) and int(workload.gpus.max()) > capacity:
        raise UsageError(
            f"--capacity: a job needs {int(workload.gpus.max())} GPUs, more than the "
            f"{capacity} per zone",
            hint="raise --capacity",
        )


def _steps(start_s: IntArray, end_s: IntArray, grid0: int, r: int) -> tuple[IntArray, IntArray]:
    return (start_s - grid0) // r, -(-(end_s - grid0) // r)


def admit(
    workload: Workload,
    zone_index: IntArray,
    start_s: IntArray,
    decision_s: IntArray,
    *,
    n_zones: int,
    grid0: int,
    resolution_s: int,
    n_steps: int,
    capacity: int,
) -> IntArray:
    """Starts after first-come-first-served admission (see the module notes)."""
    _check_fits(workload, capacity)
    r = resolution_s
    free = np.full((n_zones, n_steps + 1), capacity, dtype=np.int64)
    out = start_s.copy()
    dur = workload.duration_s
    for j in np.lexsort((np.arange(len(workload)), decision_s)).tolist():
        z, need, s = int(zone_index[j]), int(workload.gpus[j]), int(start_s[j])
        while True:
            a, b = _steps(np.array([s]), np.array([s + int(dur[j])]), grid0, r)
            a0, b0 = int(a[0]), int(min(b[0], n_steps))
            if a0 >= n_steps or bool((free[z, a0:b0] >= need).all()):
                break
            blocked = a0 + int(np.argmax(free[z, a0:b0] < need))
            s = grid0 + (blocked + 1) * r
        if a0 < n_steps:
            free[z, a0:b0] -= need
        out[j] = s
    return out


def peak_usage(
    workload: Workload,
    zone_index: IntArray,
    start_s: IntArray,
    end_s: IntArray,
    *,
    n_zones: int,
    grid0: int,
    resolution_s: int,
    n_steps: int,
) -> IntArray:
    """GPUs in use per (zone, step)."""
    used = np.zeros((n_zones, n_steps + 1), dtype=np.int64)
    a, b = _steps(start_s, end_s, grid0, resolution_s)
    for j in range(len(workload)):
        used[int(zone_index[j]), int(a[j]) : int(min(b[j], n_steps))] += int(workload.gpus[j])
    return used


def oracle_with_capacity(
    workload: Workload, actuals: Sequence[IntensitySeries], zones: Sequence[str], capacity: int
) -> tuple[IntArray, IntArray]:
    """Zone index and start per job from the capacity planner on the actual values."""
    _check_fits(workload, capacity)
    jobs = [
        Job(
            submit=from_epoch_s(int(workload.submit_s[j])),
            duration=timedelta(seconds=int(workload.duration_s[j])),
            deadline=from_epoch_s(int(workload.deadline_s[j])),
            power_w=float(workload.power_w[j]),
            gpus=int(workload.gpus[j]),
            zones=tuple(zones),
            job_id=str(workload.job_id[j]),
        )
        for j in range(len(workload))
    ]
    lo = max(s.start_s for s in actuals)
    hi = min(s.end_s for s in actuals)
    series = {z: s.slice(lo, hi) for z, s in zip(zones, actuals, strict=True)}
    schedule = solve_greedy(
        CapacityProblem(jobs=jobs, series=series, capacity=dict.fromkeys(zones, capacity))
    )
    order = {z: i for i, z in enumerate(zones)}
    zone_index = np.array([order[schedule.zones[int(k)]] for k in schedule.zone_index])
    return zone_index.astype(np.int64), schedule.start_s.astype(np.int64)
