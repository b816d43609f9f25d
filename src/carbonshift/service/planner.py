"""Planning many stored jobs at one decision time, with the planner's code.

Jobs whose allowed zones have a usable forecast are planned **together** under each zone's GPU
capacity (:class:`~carbonshift.planning.CapacityProblem` and
:func:`~carbonshift.planning.solve_greedy`), less what running and kept jobs already hold.
The others go one by one through :class:`~carbonshift.planning.DynamicPolicy`, whose fallbacks
are the DESIGN's (last good forecast, static slot, latest safe start), each recorded on the
plan. A job whose latest safe start has already passed (the service was down) starts at once,
recorded as such: the latest safe start is the one thing never moved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np

from carbonshift.errors import CarbonshiftError
from carbonshift.planning import (
    CapacityProblem,
    DynamicPolicy,
    Fallback,
    InfeasibleBatchError,
    Job,
    Outlook,
    Plan,
    Segment,
    ZoneTerms,
    build_plan,
    solve_greedy,
)
from carbonshift.planning.window import known_ranges
from carbonshift.service.forecasts import ZoneView
from carbonshift.service.records import JobRow
from carbonshift.signals.series import IntArray, IntensitySeries, align
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = ["Decision", "Reservation", "plan_jobs", "plan_one", "to_job"]

log = logging.getLogger("carbonshift.service")

UNLIMITED_GPUS = 1 << 40


@dataclass(frozen=True, slots=True)
class Reservation:
    """GPUs already held in a zone over ``[start_s, end_s)`` (running or kept jobs)."""

    zone: str
    start_s: float
    end_s: float
    gpus: int


@dataclass(frozen=True, slots=True)
class Decision:
    """A plan for one stored job and what it was decided on."""

    job_id: int
    plan: Plan
    solver: str
    view: ZoneView | None
    immediate_mean_g_per_kwh: float | None


def to_job(row: JobRow, zones: Sequence[str]) -> Job:
    """The planner's :class:`Job` for a stored job (submit and deadline in the service clock)."""
    return Job(
        submit=from_epoch_s(int(row.submitted_at_s)),
        duration=timedelta(seconds=row.duration_s),
        deadline=from_epoch_s(int(row.deadline_s)),
        power_w=row.power_w if row.power_w is not None else 1000.0 * max(1, row.gpus),
        gpus=row.gpus,
        zones=tuple(zones),
        interruptible=row.interruptible,
        min_chunk=None if row.min_chunk_s is None else timedelta(seconds=row.min_chunk_s),
        urgent=row.urgent,
        safety_margin=timedelta(seconds=row.safety_margin_s),
        job_id=str(row.id),
    )


def _immediate(series: IntensitySeries | None, start_s: int, duration_s: int) -> float | None:
    if series is None or start_s < series.start_s or start_s + duration_s > series.end_s:
        return None
    mean = float(series.window_mean(start_s, start_s + duration_s))
    return None if np.isnan(mean) else mean


def _decision(
    job: Job, row: JobRow, plan: Plan, solver: str, views: Mapping[str, ZoneView]
) -> Decision:
    view = views.get(plan.zone)
    series = view.series if view is not None else None
    earliest = max(job.submit_s, plan.decision_time_s)
    return Decision(row.id, plan, solver, view, _immediate(series, earliest, job.duration_s))


def _late_plan(job: Job, zone: str, now_s: int, series: IntensitySeries | None) -> Plan:
    start, end = now_s, now_s + job.duration_s
    mean = _immediate(series, start, job.duration_s)
    lss = format_time(from_epoch_s(job.latest_safe_start_s))
    reason = (
        f"the latest safe start {lss} passed before the job could be started (was the "
        "service down?); starting at once, the deadline may be missed"
    )
    return Plan(
        zone=zone,
        segments=(Segment(start, end),),
        mean_intensity_g_per_kwh=float("nan") if mean is None else mean,
        emissions_g=float("nan") if mean is None else job.power_w * mean * job.duration_s / 3.6e6,
        policy="dynamic",
        decision_time_s=now_s,
        fallback=Fallback("latest_safe_start", reason),
        job_id=job.job_id,
        note="late",
    )


def plan_one(
    job: Job, now_s: int, views: Mapping[str, ZoneView], terms: Mapping[str, ZoneTerms]
) -> Plan:
    """One job alone through :class:`DynamicPolicy` and its fallbacks (no capacity)."""
    zones = list(job.zones)
    fresh = {z: v.series for z in zones if (v := views.get(z)) and v.status == "fresh" and v.series}
    stale = {z: v.series for z in zones if (v := views.get(z)) and v.status == "stale" and v.series}
    home = views.get(zones[0])
    static = home.static if home is not None else None
    outlook = Outlook(forecasts=fresh, last_good=stale, static=static, zone_terms=terms)
    try:
        plan = DynamicPolicy().plan(job, now_s, outlook)
    except CarbonshiftError as exc:  # e.g. zones on signals that cannot be compared
        log.warning("job %s: planning over %s failed (%s); home zone only", job.job_id, zones, exc)
        only = {k: v for k, v in fresh.items() if k == zones[0]}
        last = {k: v for k, v in stale.items() if k == zones[0]}
        plan = DynamicPolicy().plan(job, now_s, Outlook(only, last, static, terms))
    # a fallback says why each zone had no forecast (a failed fetch, history too old, ...)
    why = [f"{z}: {v.reason}" for z in zones if (v := views.get(z)) and v.status == "none"]
    if plan.fallback is not None and why:
        reason = "; ".join(
            [plan.fallback.reason, *[w for w in why if w not in plan.fallback.reason]]
        )
        plan = replace(plan, fallback=replace(plan.fallback, reason=reason))
    return plan


def _meaning(series: IntensitySeries) -> tuple[str, ...]:
    labels = series.labels
    return (labels.signal, labels.accounting, labels.basis, labels.unit)


def _has_window(series: IntensitySeries, job: Job, now_s: int) -> bool:
    earliest, latest = job.start_span(now_s)
    return bool(known_ranges(series, job.duration_s, earliest, latest))


def _capacity(
    grid: IntensitySeries, zone: str, capacity_gpus: int | None, reserved: Sequence[Reservation]
) -> IntArray:
    cap = np.full(len(grid), UNLIMITED_GPUS if capacity_gpus is None else capacity_gpus, np.int64)
    r, s0 = grid.resolution_s, grid.start_s
    for res in reserved:
        if res.zone != zone or res.gpus <= 0:
            continue
        i0 = max(0, int((res.start_s - s0) // r))
        i1 = min(len(grid), int(-(-(res.end_s - s0) // r)))
        if i1 > i0:
            cap[i0:i1] -= res.gpus
    return np.maximum(cap, 0)


def _batch_fallback(
    job: Job, view: ZoneView, series: IntensitySeries, now_s: int
) -> Fallback | None:
    if view.status == "stale":
        return Fallback("last_good_forecast", f"{view.zone}: {view.reason}")
    if series.end_s < job.finish_by_s or series.start_s > max(job.submit_s, now_s):
        return Fallback(
            "partial_forecast",
            f"planned within the known windows; {view.zone}: forecast ends "
            f"{format_time(series.end)}, the job may finish until {format_time(from_epoch_s(job.finish_by_s))}",
        )
    return None


def _plan_batch(
    batch: list[tuple[JobRow, Job]],
    now_s: int,
    views: Mapping[str, ZoneView],
    capacity: Mapping[str, int | None],
    reserved: Sequence[Reservation],
    terms: Mapping[str, ZoneTerms],
) -> tuple[list[Decision], list[tuple[JobRow, Job]]]:
    """Plan ``batch`` together; return the decisions and the jobs left to plan one by one."""
    zones = sorted({z for _, job in batch for z in job.zones if views[z].series is not None})
    raw = [views[z].series for z in zones]
    series_list = [s for s in raw if s is not None]
    grids = dict(zip(zones, align(series_list, span="union"), strict=True))
    grid0 = grids[zones[0]]
    leftover: list[tuple[JobRow, Job]] = []
    kept: list[tuple[JobRow, Job]] = []
    for row, job in batch:
        fits = any(z in grids and _has_window(grids[z], job, now_s) for z in job.zones)
        (kept if fits else leftover).append((row, job))
    batch = kept
    if not batch:
        return [], leftover
    problem = CapacityProblem(
        jobs=[job for _, job in batch],
        series=grids,
        capacity={z: _capacity(grid0, z, capacity.get(z), reserved) for z in zones},
        now_s=now_s,
        zone_terms=terms,
    )
    try:
        schedule = solve_greedy(problem)
    except (InfeasibleBatchError, CarbonshiftError) as exc:
        log.info("capacity planning of %d jobs: %s; placing them one by one", len(batch), exc)
        return _sequential(batch, grids, problem, now_s, views, terms), leftover
    decisions: list[Decision] = []
    for j, (row, job) in enumerate(batch):
        zone = schedule.zone_of(j)
        view = views[zone]
        series = view.series
        assert series is not None
        start, end = int(schedule.start_s[j]), int(schedule.end_s[j])
        try:
            plan = build_plan(
                job,
                zone=zone,
                segments=[Segment(start, end)],
                series=series,
                policy="dynamic",
                now_s=now_s,
                fallback=_batch_fallback(job, view, series, now_s),
                penalty_g=terms[zone].penalty_g if zone in terms else 0.0,
                note=f"capacity-planned with {len(batch)} jobs",
            )
        except CarbonshiftError:
            leftover.append((row, job))
            continue
        decisions.append(_decision(job, row, plan, "greedy", views))
    return decisions, leftover


def _sequential(
    batch: list[tuple[JobRow, Job]],
    grids: Mapping[str, IntensitySeries],
    problem: CapacityProblem,
    now_s: int,
    views: Mapping[str, ZoneView],
    terms: Mapping[str, ZoneTerms],
) -> list[Decision]:
    """When the batch does not fit: jobs by latest safe start, each taking its cheapest window
    that still has free GPUs (or, if none has, its cheapest window, noted as over capacity)."""
    grid = next(iter(grids.values()))
    r, s0, n = grid.resolution_s, grid.start_s, len(grid)
    free = {z: np.array(problem.capacity[z], dtype=np.int64) for z in grids}
    out: list[Decision] = []
    for row, job in sorted(batch, key=lambda rj: rj[1].latest_safe_start_s):
        earliest, latest = job.start_span(now_s)
        d = job.duration_s
        best: tuple[float, int, str, bool] | None = None  # (grams, start, zone, fits)
        for zone in job.zones:
            series = grids.get(zone)
            if series is None:
                continue
            lo, hi = max(earliest, s0), min(latest, s0 + n * r - d)
            if lo > hi:
                continue
            k0, k1 = -(-(lo - s0) // r), (hi - s0) // r
            starts = np.unique(np.concatenate([[lo], s0 + r * np.arange(k0, k1 + 1)]))
            means = series.window_means(starts, starts + d)
            first = (starts - s0) // r
            span = int((-(-(starts + d - s0) // r) - first).max())
            cap = np.concatenate([free[zone], np.full(span, np.iinfo(np.int64).max)])
            windows = np.lib.stride_tricks.sliding_window_view(cap, span)
            fits = windows[first].min(axis=1) >= job.gpus
            penalty = terms[zone].penalty_g if zone in terms else 0.0
            grams = job.power_w * means * d / 3.6e6 + penalty
            known = ~np.isnan(grams)
            for want_fit in (True, False):
                ok = known & (fits if want_fit else True)
                if ok.any():
                    i = int(np.argmin(np.where(ok, np.round(grams, 6), np.inf)))
                    cand = (float(grams[i]), int(starts[i]), zone, want_fit)
                    if best is None or (not cand[3], round(cand[0], 6)) < (
                        not best[3],
                        round(best[0], 6),
                    ):
                        best = cand
                    break
        if best is None:
            continue
        _, start, zone, fits = best
        a, b = (start - s0) // r, -(-(start + d - s0) // r)
        free[zone][a:b] -= job.gpus
        view = views[zone]
        series = view.series
        assert series is not None
        note = "placed alone: the batch did not fit the capacity"
        if not fits:
            note = "over capacity: no window before the deadline had free GPUs"
        try:
            plan = build_plan(
                job,
                zone=zone,
                segments=[Segment(start, start + d)],
                series=series,
                policy="dynamic",
                now_s=now_s,
                fallback=_batch_fallback(job, view, series, now_s),
                penalty_g=terms[zone].penalty_g if zone in terms else 0.0,
                note=note,
            )
        except CarbonshiftError:
            continue
        out.append(_decision(job, row, plan, "sequential", views))
    return out


def plan_jobs(
    rows: Sequence[JobRow],
    now_s: int,
    views: Mapping[str, ZoneView],
    *,
    zones_for: Callable[[JobRow], list[str]],
    capacity: Mapping[str, int | None],
    reserved: Sequence[Reservation] = (),
    penalties_g: Mapping[str, float] | None = None,
) -> list[Decision]:
    """A decision for every job in ``rows`` at ``now_s`` (see the module docstring)."""
    terms = {z: ZoneTerms(penalty_g=p) for z, p in (penalties_g or {}).items() if p}
    decisions: list[Decision] = []
    # batches by signal meaning: grams on different signals are never compared
    batches: dict[tuple[str, ...], list[tuple[JobRow, Job]]] = {}
    single: list[tuple[JobRow, Job]] = []
    for row in rows:
        job = to_job(row, zones_for(row))
        if job.latest_safe_start_s < now_s:
            home = job.zones[0]
            view = views.get(home)
            plan = _late_plan(job, home, now_s, view.series if view is not None else None)
            decisions.append(_decision(job, row, plan, "late", views))
            continue
        usable = [s for z in job.zones if z in views and (s := views[z].series) is not None]
        meanings = {_meaning(s) for s in usable}
        if (
            job.urgent
            or job.interruptible
            or len(meanings) != 1
            or not any(_has_window(s, job, now_s) for s in usable)
        ):
            single.append((row, job))
        else:
            batches.setdefault(meanings.pop(), []).append((row, job))
    for batch in batches.values():
        done, leftover = _plan_batch(batch, now_s, views, capacity, reserved, terms)
        decisions += done
        seen = {d.job_id for d in done} | {r.id for r, _ in leftover}
        single += leftover + [(r, j) for r, j in batch if r.id not in seen]
    for row, job in single:
        plan = plan_one(job, now_s, views, terms)
        decisions.append(_decision(job, row, plan, "single", views))
    return decisions
