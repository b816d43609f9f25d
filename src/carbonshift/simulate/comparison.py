"""``run_comparison``: replay one workload per home zone through the policies, on history.

Each zone of ``zones`` is a home zone: the workload (every job of a regular workload; the
jobs of a file naming that zone, or naming none) arrives there in ``[from, to)``. Without
relocation a job runs at home; with it (``relocate``) ``dynamic`` and ``oracle`` may run it in
any of the zones (home first on ties), while ``immediate`` and ``static`` (the baselines)
stay at home. Emissions are always accounted on the actual series of the zone where the job
ran (:mod:`carbonshift.simulate.decisions`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from carbonshift.errors import DataError, UsageError
from carbonshift.forecast import Forecaster, make_forecaster
from carbonshift.signals.files import read_zone
from carbonshift.signals.series import IntArray, IntensitySeries
from carbonshift.simulate.capacity import (
    CAPACITY_SOLVERS,
    BatchSolve,
    admit,
    oracle_with_capacity,
)
from carbonshift.simulate.chunks import DEFAULT_MIN_CHUNK_S, plan_chunked
from carbonshift.simulate.decisions import Decisions, Segments, evaluate
from carbonshift.simulate.dynamic import replay_dynamic
from carbonshift.simulate.policies import StaticSpec, oracle_starts, static_starts
from carbonshift.simulate.summary import ResultRow, result_rows
from carbonshift.simulate.workload import BoolArray, Workload, concat
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = ["POLICIES", "CompareSpec", "Comparison", "load_zones", "run_comparison"]

POLICIES = ("immediate", "static", "dynamic", "oracle")
ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class CompareSpec:
    """What to replay and how (see ``carbonshift compare --help``)."""

    zones: tuple[str, ...]
    from_s: int
    to_s: int
    policies: tuple[str, ...] = POLICIES
    forecast: str = "seasonal_24h"
    replan_s: int = 3600
    static: StaticSpec = field(default_factory=StaticSpec)
    relocate: bool = False
    capacity: int | None = None
    capacity_solver: str = "auto"
    interruptible: bool = False
    trim: bool = False
    min_chunk_s: int = DEFAULT_MIN_CHUNK_S


@dataclass
class Comparison:
    """Results, the decisions behind them, and where the time went."""

    spec: CompareSpec
    labels: dict[str, Any]
    rows: list[ResultRow]
    decisions: dict[tuple[str, str], Decisions]
    notes: list[str]
    seconds: dict[str, float]
    forecast_seconds: float = 0.0
    jobs: int = 0
    capacity_batches: list[BatchSolve] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "period": {
                "from": format_time(from_epoch_s(self.spec.from_s)),
                "to": format_time(from_epoch_s(self.spec.to_s)),
            },
            "signal": self.labels,
            "results": [r.to_dict() for r in self.rows],
        }
        if self.spec.capacity is not None:
            out["capacity"] = {
                "gpus_per_zone": self.spec.capacity,
                "solver": self.spec.capacity_solver,
                "batches": [b.to_dict() for b in self.capacity_batches],
            }
        return out


def load_zones(data: Path, zones: Sequence[str]) -> dict[str, IntensitySeries]:
    """Each zone's actual series, checked to carry comparable labels."""
    if not zones:
        raise UsageError("--zones: no zone given", hint="e.g. --zones DE,FR")
    out = {z: read_zone(data, z) for z in zones}
    first = out[zones[0]]
    for z, s in out.items():
        if not s.labels.comparable_with(first.labels) or s.resolution_s != first.resolution_s:
            raise DataError(
                f"{z}: {s.labels.describe()} at {s.resolution_s} s is not comparable with "
                f"{first.labels.describe()} at {first.resolution_s} s",
                hint="compare zones of one dataset",
            )
    return out


def _check_period(spec: CompareSpec, series: dict[str, IntensitySeries]) -> None:
    if spec.to_s <= spec.from_s:
        raise UsageError(
            "--to: must come after --from", hint="e.g. --from 2022-01-01 --to 2023-01-01"
        )
    for z, s in series.items():
        if spec.from_s < s.start_s or spec.from_s >= s.end_s:
            raise DataError(
                f"{z}: --from {format_time(from_epoch_s(spec.from_s))} is outside the data "
                f"({format_time(s.start)}..{format_time(s.end)})",
                hint="choose a period inside the data",
            )


def _labels(series: dict[str, IntensitySeries], spec: CompareSpec) -> dict[str, Any]:
    lab = next(iter(series.values())).labels.to_dict()
    for k in ("zone", "issued_at", "lead_s"):
        lab.pop(k, None)
    lab["zones"] = list(series)
    lab["resolution_s"] = next(iter(series.values())).resolution_s
    lab["evaluated_on"] = "actual"
    lab["baseline"] = "immediate"
    if "dynamic" in spec.policies:
        lab["forecast"] = spec.forecast
        lab["replan_every_s"] = spec.replan_s
    if "static" in spec.policies:
        lab["static"] = spec.static.describe()
    return lab


def _home_workload(workload: Workload, home: str, zones: Sequence[str]) -> Workload:
    stray = ~np.isin(workload.zone, [*zones, ""])
    if stray.any():
        j = int(np.argmax(stray))
        raise DataError(
            f"--jobs: job {workload.job_id[j]} names zone {workload.zone[j]!r}, not in --zones",
            hint="add it to --zones or clear the job's zone",
        )
    return workload.take((workload.zone == home) | (workload.zone == ""))


@dataclass
class _Group:
    home: str
    workload: Workload
    allowed: list[str]


def run_comparison(
    spec: CompareSpec,
    series: dict[str, IntensitySeries],
    workload: Workload,
    *,
    progress: ProgressFn | None = None,
    forecaster: Forecaster | None = None,
) -> Comparison:
    """Replay ``workload`` in every home zone of ``spec`` through ``spec.policies``.

    ``dynamic`` uses ``forecaster`` when given, else the registry's ``spec.forecast`` (the
    ``noisy_oracle``, perfect foresight plus noise, is built on ``series`` with its defaults).
    """
    _check_period(spec, series)
    for p in spec.policies:
        if p not in POLICIES:
            raise UsageError(f"--policies: unknown policy {p!r}", hint=f"use {','.join(POLICIES)}")
    if spec.capacity_solver not in CAPACITY_SOLVERS:
        raise UsageError(
            f"--capacity-solver: unknown solver {spec.capacity_solver!r}",
            hint="use " + ", ".join(CAPACITY_SOLVERS),
        )
    if spec.interruptible:
        workload = workload.with_interruptible()
    workload = workload.in_period(spec.from_s, spec.to_s)
    groups: list[_Group] = []
    for home in spec.zones:
        allowed = [home, *[z for z in spec.zones if z != home]] if spec.relocate else [home]
        w = _home_workload(workload, home, spec.zones)
        lo = max(series[z].start_s for z in allowed)
        hi = min(series[z].end_s for z in allowed)
        w = w.check_within(lo, hi, trim=spec.trim)
        groups.append(_Group(home, w, allowed))
    if not sum(len(g.workload) for g in groups):
        raise DataError(
            f"no job arrives in {format_time(from_epoch_s(spec.from_s))}.."
            f"{format_time(from_epoch_s(spec.to_s))} (inside the data)",
            hint="widen the period, or check --jobs/--anchor",
        )
    zone_pos = {z: i for i, z in enumerate(spec.zones)}
    grid0 = min(s.start_s for s in series.values())
    r = next(iter(series.values())).resolution_s
    n_steps = -(-(max(s.end_s for s in series.values()) - grid0) // r)
    seconds: dict[str, float] = {}
    notes: list[str] = []
    forecast_s = 0.0
    decisions: dict[tuple[str, str], Decisions] = {}
    batches: list[BatchSolve] = []
    if forecaster is None and "dynamic" in spec.policies:
        options: dict[str, Any] = {"actuals": series} if spec.forecast == "noisy_oracle" else {}
        forecaster = make_forecaster(spec.forecast, **options)
    for policy in spec.policies:
        t0 = time.perf_counter()
        per_group: list[
            tuple[IntArray, IntArray, IntArray, BoolArray, list[Segments | None] | None]
        ] = []
        for g in groups:
            w = g.workload
            hist = [series[z] for z in g.allowed]
            zi = np.zeros(len(w), dtype=np.int64)
            decided = w.submit_s.copy()
            fallback = np.zeros(len(w), dtype=bool)
            segs: list[Segments | None] | None = None
            if policy == "immediate":
                start = w.submit_s.copy()
            elif policy == "static":
                start, fallback, slot_notes = static_starts(
                    w, series[g.home], spec.static, spec.from_s
                )
                notes += [f"static {g.home}: {n}" for n in slot_notes]
            elif spec.interruptible and len(w):
                zi, segs, fallback = plan_chunked(
                    policy,
                    w,
                    g.allowed,
                    hist,
                    forecaster,
                    min_chunk_s=spec.min_chunk_s,
                    progress=progress,
                )
                start = np.array([s[0][0] if s else 0 for s in segs], dtype=np.int64)
            elif policy == "oracle":
                zi, start, fallback = oracle_starts(w, hist)
            else:
                assert forecaster is not None
                run = replay_dynamic(w, hist, forecaster, spec.replan_s, progress=progress)
                zi, start, decided, fallback = (
                    run.zone_index,
                    run.start_s,
                    run.decision_s,
                    run.fallback,
                )
                forecast_s += run.forecast_s
            global_zi = np.array([zone_pos[g.allowed[int(k)]] for k in zi], dtype=np.int64)
            per_group.append((global_zi, start, decided, fallback, segs))
        if spec.capacity is not None and not spec.interruptible:
            per_group = _with_capacity(
                policy,
                spec,
                groups,
                series,
                per_group,
                grid0=grid0,
                r=r,
                n_steps=n_steps,
                batches=batches,
            )
        for g, (gzi, start, decided, fallback, segs) in zip(groups, per_group, strict=True):
            zone_names = np.array([spec.zones[int(k)] for k in gzi], dtype=np.str_)
            decisions[(g.home, policy)] = evaluate(
                policy,
                g.workload,
                series,
                home=np.full(len(g.workload), g.home, dtype=np.str_),
                zone=zone_names,
                decision_s=decided,
                start_s=start,
                fallback=fallback,
                segments=segs,
            )
            if (
                progress is not None
                and policy in ("immediate", "static", "oracle")
                and segs is None
            ):
                progress(len(g.workload))
        seconds[policy] = time.perf_counter() - t0
    notes += [b.describe() for b in batches]
    rows: list[ResultRow] = []
    for g in groups:
        rows += result_rows(g.home, {p: decisions[(g.home, p)] for p in spec.policies})
    return Comparison(
        spec,
        _labels(series, spec),
        rows,
        decisions,
        notes,
        seconds,
        forecast_s,
        sum(len(g.workload) for g in groups),
        batches,
    )


def _with_capacity(
    policy: str,
    spec: CompareSpec,
    groups: list[_Group],
    series: dict[str, IntensitySeries],
    per_group: list[tuple[IntArray, IntArray, IntArray, BoolArray, list[Segments | None] | None]],
    *,
    grid0: int,
    r: int,
    n_steps: int,
    batches: list[BatchSolve],
) -> list[tuple[IntArray, IntArray, IntArray, BoolArray, list[Segments | None] | None]]:
    """Apply ``--capacity`` to every group at once (zones are shared between home zones)."""
    assert spec.capacity is not None
    sizes = [len(g.workload) for g in groups]
    cut = np.cumsum(sizes)[:-1]
    both = concat([g.workload for g in groups])
    gzi = np.concatenate([p[0] for p in per_group])
    start = np.concatenate([p[1] for p in per_group])
    decided = np.concatenate([p[2] for p in per_group])
    fallback = np.concatenate([p[3] for p in per_group])
    if policy == "oracle":
        allowed = [g.allowed for g in groups]
        if spec.relocate:
            zi, start, record = oracle_with_capacity(
                both,
                [series[z] for z in spec.zones],
                spec.zones,
                spec.capacity,
                solver=spec.capacity_solver,
                batch="oracle " + ",".join(spec.zones),
            )
            gzi = zi
            batches.append(record)
        else:
            for i, g in enumerate(groups):
                if not len(g.workload):
                    continue
                _, st_g, record = oracle_with_capacity(
                    g.workload,
                    [series[g.home]],
                    allowed[i],
                    spec.capacity,
                    solver=spec.capacity_solver,
                    batch=f"oracle {g.home}",
                )
                batches.append(record)
                start[(cut[i - 1] if i else 0) : (cut[i] if i < len(cut) else None)] = st_g
    else:
        start = admit(
            both,
            gzi,
            start,
            decided,
            n_zones=len(spec.zones),
            grid0=grid0,
            resolution_s=r,
            n_steps=n_steps,
            capacity=spec.capacity,
        )
    split = [np.split(a, cut) for a in (gzi, start, decided, fallback)]
    return [(split[0][i], split[1][i], split[2][i], split[3][i], None) for i in range(len(groups))]
