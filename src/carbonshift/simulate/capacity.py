"""Shared capacity (``--capacity N`` GPUs per zone and step) in a replay.

- ``oracle``: the whole batch (every job with ``--relocate``, else each home zone's) is planned
  at once by the capacity planner on :class:`CapacityProblem` (actual values, every arrival
  known in advance: the upper bound), whose schedule is checked against every deadline and
  step. ``--capacity-solver``: ``greedy`` (:func:`solve_greedy`), ``exact`` (the HiGHS MILP,
  :func:`solve_exact`) or ``auto`` (exact when the batch has at most
  :data:`AUTO_EXACT_MAX_OPTIONS` (job, zone, start) options, else greedy). Whenever the exact
  solver ran, the greedy runs too (milliseconds) and the gap is recorded. If the chosen solver
  fails (MILP time limit without a schedule; greedy finding no placement) the other one is
  tried, and the fallback is recorded in :class:`BatchSolve` and the report's notes.
- ``immediate``, ``static``, ``dynamic``: **admission in decision order**: each job asks for
  the start its policy chose; if a step it would overlap has too few free GPUs it takes the
  next grid start where it fits (first come, first served). Such a job may finish late: that
  is counted as a deadline miss, never hidden.

A run holds its GPUs in every step it overlaps (a partly covered step counts whole), as in
:mod:`carbonshift.planning.capacity`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from carbonshift.errors import UsageError
from carbonshift.planning import CapacityProblem, InfeasibleBatchError, Job, Schedule
from carbonshift.planning.capacity import candidates
from carbonshift.planning.exact import solve_candidates_exact
from carbonshift.planning.greedy import solve_candidates_greedy
from carbonshift.signals.series import IntArray, IntensitySeries
from carbonshift.simulate.workload import Workload
from carbonshift.timeutil import from_epoch_s

__all__ = [
    "AUTO_EXACT_MAX_OPTIONS",
    "CAPACITY_SOLVERS",
    "EXACT_TIME_LIMIT_S",
    "BatchSolve",
    "admit",
    "oracle_with_capacity",
    "peak_usage",
    "solve_batch",
]

CAPACITY_SOLVERS = ("greedy", "exact", "auto")

AUTO_EXACT_MAX_OPTIONS = 20_000
"""``auto`` runs the MILP up to this many (job, zone, start) options per batch. Measured on
this project's 2-core machine (DE, FR, ES, June 2022, 1-2 h jobs, 24 h slack): 5,400 options
0.6 s, 12,600 options 1.2 s, 10,800 (tighter capacity) 2.5 s, 25,200 options 11.4 s."""

EXACT_TIME_LIMIT_S = 60.0
"""The MILP's time limit per batch; without a schedule by then the greedy takes over."""


@dataclass(frozen=True)
class BatchSolve:
    """One capacity batch: who solved it, its planned grams, and the greedy's gap if both ran."""

    batch: str
    jobs: int
    options: int
    requested: str
    solver: str
    emissions_g: float
    seconds: float
    optimal: bool
    greedy_g: float | None = None
    exact_g: float | None = None
    greedy_seconds: float | None = None
    exact_seconds: float | None = None
    note: str = ""

    @property
    def gap_pct(self) -> float | None:
        """How much more the greedy plans than the exact solver, in percent."""
        if self.greedy_g is None or self.exact_g is None or not self.exact_g:
            return None
        return 100.0 * (self.greedy_g - self.exact_g) / self.exact_g

    def to_dict(self) -> dict[str, Any]:
        gap = self.gap_pct
        return {
            "batch": self.batch,
            "jobs": self.jobs,
            "options": self.options,
            "requested": self.requested,
            "solver": self.solver,
            "optimal": self.optimal,
            "planned_emissions_kg": round(self.emissions_g / 1000, 6),
            "seconds": round(self.seconds, 4),
            "greedy_kg": None if self.greedy_g is None else round(self.greedy_g / 1000, 6),
            "exact_kg": None if self.exact_g is None else round(self.exact_g / 1000, 6),
            "gap_pct": None if gap is None else round(gap, 4),
            "note": self.note,
        }

    def describe(self) -> str:
        text = (
            f"capacity batch {self.batch}: {self.jobs} jobs, {self.options} options, "
            f"{self.solver} ({'optimal' if self.optimal else 'heuristic'}"
            f"{'' if self.requested == self.solver else ', asked ' + self.requested}) "
            f"{self.emissions_g / 1000:.3f} kg planned in {self.seconds:.2f} s"
        )
        if self.gap_pct is not None:
            text += f"; greedy {self.greedy_g / 1000:.3f} kg, +{self.gap_pct:.2f} % vs exact"  # type: ignore[operator]
        return text + (f"; {self.note}" if self.note else "")


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


def solve_batch(
    problem: CapacityProblem,
    solver: str,
    batch: str,
    *,
    max_exact_options: int = AUTO_EXACT_MAX_OPTIONS,
    time_limit_s: float = EXACT_TIME_LIMIT_S,
) -> tuple[Schedule, BatchSolve]:
    """Solve one batch with ``solver`` (greedy, exact or auto; see the module notes)."""
    if solver not in CAPACITY_SOLVERS:
        raise UsageError(
            f"--capacity-solver: unknown solver {solver!r}", hint="use greedy, exact or auto"
        )
    c = candidates(problem)
    options = int(c.job.size)
    use_exact = solver == "exact" or (solver == "auto" and options <= max_exact_options)
    t0 = time.perf_counter()
    exact: Schedule | None = None
    greedy: Schedule | None = None
    t_exact = t_greedy = None
    notes: list[str] = []
    exact_error: InfeasibleBatchError | None = None
    greedy_error: InfeasibleBatchError | None = None
    if use_exact:
        try:
            exact = solve_candidates_exact(c, time_limit_s, 1e-4)
        except InfeasibleBatchError as exc:
            exact_error = exc
            notes.append(f"exact failed ({exc.message}); greedy used")
        t_exact = time.perf_counter() - t0
    t1 = time.perf_counter()
    try:
        greedy = solve_candidates_greedy(c, problem.jobs)
    except InfeasibleBatchError as exc:
        greedy_error = exc
        if not use_exact:
            notes.append(f"greedy failed ({exc.message}); exact used")
    t_greedy = time.perf_counter() - t1
    if greedy is None and exact is None and not use_exact:
        t2 = time.perf_counter()
        try:
            exact = solve_candidates_exact(c, time_limit_s, 1e-4)
        except InfeasibleBatchError as exc:
            exact_error = exc
        t_exact = time.perf_counter() - t2
    chosen = exact if exact is not None else greedy
    if chosen is None:
        error = exact_error or greedy_error
        assert error is not None
        raise error
    if exact is not None and not exact.optimal:
        notes.append(f"exact stopped at its {time_limit_s:.0f} s limit, not proven optimal")
    record = BatchSolve(
        batch=batch,
        jobs=len(problem.jobs),
        options=options,
        requested=solver,
        solver="exact" if chosen is exact else "greedy",
        emissions_g=chosen.total_emissions_g,
        seconds=time.perf_counter() - t0,
        optimal=chosen is exact and exact.optimal,
        greedy_g=None if greedy is None else greedy.total_emissions_g,
        exact_g=None if exact is None else exact.total_emissions_g,
        greedy_seconds=t_greedy,
        exact_seconds=t_exact,
        note="; ".join(notes),
    )
    return chosen, record


def oracle_with_capacity(
    workload: Workload,
    actuals: Sequence[IntensitySeries],
    zones: Sequence[str],
    capacity: int,
    *,
    solver: str = "greedy",
    batch: str = "",
) -> tuple[IntArray, IntArray, BatchSolve]:
    """Zone index and start per job from the capacity planner on the actual values, and how
    the batch was solved."""
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
    problem = CapacityProblem(jobs=jobs, series=series, capacity=dict.fromkeys(zones, capacity))
    schedule, record = solve_batch(problem, solver, batch or ",".join(zones))
    order = {z: i for i, z in enumerate(zones)}
    zone_index = np.array([order[schedule.zones[int(k)]] for k in schedule.zone_index])
    return zone_index.astype(np.int64), schedule.start_s.astype(np.int64), record
