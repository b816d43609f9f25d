"""Many jobs, shared capacity: the batch problem, its candidates and checked schedules.

Every job gets one contiguous run (interruptible jobs are not split here) in one zone, starting
at one of its **candidates**: its earliest start and every point of the start grid (the data
grid, or a coarser ``start_stride_s``) up to its latest safe start, inside the zone's
availability and the data. A run holds ``job.gpus`` in every step it overlaps (a partly covered
step counts whole, which is conservative). Its cost is the job's energy times the window mean,
plus the zone penalty, in grams.

Solvers: :func:`~carbonshift.planning.exact.solve_exact` (MILP, HiGHS) and
:func:`~carbonshift.planning.greedy.solve_greedy` (fast heuristic); both results pass
:func:`make_schedule`'s check (every deadline, every step's capacity) before they are returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from carbonshift.errors import UsageError
from carbonshift.planning.errors import InfeasibleBatchError
from carbonshift.planning.job import Job
from carbonshift.planning.outlook import NO_TERMS, ZoneTerms
from carbonshift.planning.window import TIE_DECIMALS
from carbonshift.signals.series import FloatArray, IntArray, IntensitySeries

__all__ = [
    "Candidates",
    "CapacityProblem",
    "Schedule",
    "candidates",
    "check_schedule",
    "first_argmin_per_job",
    "make_schedule",
    "usage",
]


@dataclass(frozen=True)
class CapacityProblem:
    """A batch of jobs, one series per zone on one grid, and GPUs per step per zone.

    ``capacity`` maps zone → an int (every step) or an array with one value per step.
    ``now_s`` is the decision time (default: each job's submit time).
    """

    jobs: Sequence[Job]
    series: Mapping[str, IntensitySeries]
    capacity: Mapping[str, int | IntArray]
    now_s: int | None = None
    zone_terms: Mapping[str, ZoneTerms] = field(default_factory=dict)
    start_stride_s: int | None = None


@dataclass(frozen=True)
class Candidates:
    """Every (job, zone, start) option of a problem, sorted by job, then cost (rounded), start
    and zone, so that the first feasible option of a job is its preferred one. ``bounds[j]``
    to ``bounds[j + 1]`` index job ``j``'s options."""

    zones: tuple[str, ...]
    grid_start_s: int
    resolution_s: int
    cap: IntArray  # zones × steps
    gpus: IntArray  # per job
    job: IntArray  # per candidate ...
    zone: IntArray
    start_s: IntArray
    first_step: IntArray
    last_step: IntArray  # exclusive
    cost_g: FloatArray
    earliest_s: IntArray  # per job
    latest_s: IntArray
    finish_by_s: IntArray
    duration_s: IntArray

    @property
    def bounds(self) -> IntArray:
        return np.searchsorted(self.job, np.arange(self.gpus.size + 1))

    @property
    def n_jobs(self) -> int:
        return int(self.gpus.size)


def _grid(problem: CapacityProblem) -> tuple[tuple[str, ...], IntensitySeries]:
    zones = tuple(problem.series)
    if not zones:
        raise UsageError("capacity planning: no zones given", hint="pass one series per zone")
    ref = problem.series[zones[0]]
    for z in zones[1:]:
        s = problem.series[z]
        if (s.start_s, s.resolution_s, len(s)) != (ref.start_s, ref.resolution_s, len(ref)):
            raise UsageError(
                f"capacity planning: {z} is not on the grid of {zones[0]}",
                hint="put the series on one grid first (carbonshift.signals.series.align)",
            )
        if not s.labels.comparable_with(ref.labels):
            raise UsageError(f"capacity planning: {z} and {zones[0]} carry different signals")
    return zones, ref


def candidates(problem: CapacityProblem) -> Candidates:
    zones, ref = _grid(problem)
    s0, r, n = ref.start_s, ref.resolution_s, len(ref)
    stride = problem.start_stride_s or r
    if stride % r:
        raise UsageError("start stride: must be a multiple of the data resolution")
    cap = np.zeros((len(zones), n), dtype=np.int64)
    for zi, z in enumerate(zones):
        cap[zi] = np.broadcast_to(np.asarray(problem.capacity.get(z, 0), dtype=np.int64), n)
    cols: dict[str, list[IntArray | FloatArray]] = {k: [] for k in ("job", "zone", "start", "cost")}
    n_jobs = len(problem.jobs)
    earliest = np.zeros(n_jobs, dtype=np.int64)
    latest = np.zeros(n_jobs, dtype=np.int64)
    for j, job in enumerate(problem.jobs):
        now = job.submit_s if problem.now_s is None else problem.now_s
        e, last = job.start_span(now)
        earliest[j], latest[j] = e, last
        d = job.duration_s
        for zi, z in enumerate(zones):
            if job.zones and z not in job.zones:
                continue
            terms = problem.zone_terms.get(z, NO_TERMS)
            starts_list = []
            for a, b in terms.start_ranges(e, last, d):
                a, b = max(a, s0), min(b, ref.end_s - d)
                if a > b:
                    continue
                k0 = (a - s0) // stride + 1
                k1 = (b - s0) // stride
                starts_list += [np.array([a]), s0 + stride * np.arange(k0, k1 + 1, dtype=np.int64)]
            if not starts_list:
                continue
            starts = np.unique(np.concatenate(starts_list))
            series = problem.series[z]
            means = series.window_means(starts, starts + d)
            ok = ~np.isnan(means)
            cost = job.power_w * means[ok] * d / 3.6e6 + terms.penalty_g
            cols["job"].append(np.full(int(ok.sum()), j))
            cols["zone"].append(np.full(int(ok.sum()), zi))
            cols["start"].append(starts[ok])
            cols["cost"].append(cost)
    job_idx = np.concatenate(cols["job"]).astype(np.int64) if cols["job"] else np.zeros(0, np.int64)
    missing = np.setdiff1d(np.arange(n_jobs), job_idx)
    if missing.size:
        j = int(missing[0])
        raise InfeasibleBatchError(
            f"{problem.jobs[j].label} (index {j}) and {missing.size - 1} more have no window on "
            "known data in any allowed zone before their deadlines",
            hint="load data covering the jobs' spans or allow more zones",
        )
    start = np.concatenate(cols["start"]).astype(np.int64)
    dur = np.array([job.duration_s for job in problem.jobs], dtype=np.int64)
    order = np.lexsort(
        (
            np.concatenate(cols["zone"]),
            start,
            np.round(np.concatenate(cols["cost"]), TIE_DECIMALS),
            job_idx,
        )
    )
    start = start[order]
    job_idx = job_idx[order]
    return Candidates(
        zones=zones,
        grid_start_s=s0,
        resolution_s=r,
        cap=cap,
        gpus=np.array([job.gpus for job in problem.jobs], dtype=np.int64),
        job=job_idx,
        zone=np.concatenate(cols["zone"]).astype(np.int64)[order],
        start_s=start,
        first_step=(start - s0) // r,
        last_step=-(-(start + dur[job_idx] - s0) // r),
        cost_g=np.concatenate(cols["cost"]).astype(np.float64)[order],
        earliest_s=earliest,
        latest_s=latest,
        finish_by_s=np.array([job.finish_by_s for job in problem.jobs], dtype=np.int64),
        duration_s=dur,
    )


@dataclass(frozen=True)
class Schedule:
    """Where and when each job of the batch runs (arrays indexed like ``problem.jobs``)."""

    solver: str
    zones: tuple[str, ...]
    zone_index: IntArray
    start_s: IntArray
    end_s: IntArray
    emissions_g: FloatArray
    optimal: bool
    lower_bound_g: float = float("nan")

    @property
    def total_emissions_g(self) -> float:
        return float(self.emissions_g.sum())

    def zone_of(self, j: int) -> str:
        return self.zones[int(self.zone_index[j])]


def usage(c: Candidates, chosen: IntArray) -> IntArray:
    """GPUs in use per (zone, step) when each job runs its ``chosen`` option."""
    used = np.zeros_like(c.cap)
    lengths = c.last_step[chosen] - c.first_step[chosen]
    rep = np.repeat(chosen, lengths)
    within = np.arange(rep.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    np.add.at(used, (c.zone[rep], c.first_step[rep] + within), c.gpus[c.job[rep]])
    return used


def make_schedule(
    c: Candidates, chosen: IntArray, solver: str, optimal: bool, bound: float
) -> Schedule:
    """Build and check a schedule from one chosen candidate per job (in job order)."""
    start = c.start_s[chosen]
    end = start + c.duration_s
    late = (start > c.latest_s) | (end > c.finish_by_s) | (start < c.earliest_s)
    over = usage(c, chosen) > c.cap
    if late.any() or over.any():
        raise InfeasibleBatchError(
            f"{solver}: produced a schedule that breaks a deadline or the capacity",
            hint="this is a bug in the planner; please report it",
        )
    return Schedule(solver, c.zones, c.zone[chosen], start, end, c.cost_g[chosen], optimal, bound)


def check_schedule(problem: CapacityProblem, schedule: Schedule) -> None:
    """Raise :class:`InfeasibleBatchError` if ``schedule`` misses a deadline or overfills a
    step of ``problem`` (for schedules built or edited elsewhere)."""
    c = candidates(problem)
    lookup = {
        (int(j), int(z), int(s)): i
        for i, (j, z, s) in enumerate(zip(c.job, c.zone, c.start_s, strict=True))
    }
    try:
        chosen = np.array(
            [
                lookup[(j, int(schedule.zone_index[j]), int(schedule.start_s[j]))]
                for j in range(len(problem.jobs))
            ],
            dtype=np.int64,
        )
    except KeyError as exc:
        raise InfeasibleBatchError(
            f"schedule: job {exc.args[0][0]} has a start that is not feasible"
        ) from None
    make_schedule(c, chosen, schedule.solver, schedule.optimal, schedule.lower_bound_g)


def first_argmin_per_job(c: Candidates, values: FloatArray) -> IntArray:
    """For each job, the index of its first option with the lowest ``values``."""
    mins = np.minimum.reduceat(values, c.bounds[:-1])
    hit = np.flatnonzero(values <= mins[c.job])
    first = np.unique(c.job[hit], return_index=True)[1]
    return hit[first]
