"""``Plan``: where and when a job runs, what it is expected to emit, and why.

A plan is one or more segments ``[start, end)`` in one zone (several only for an interruptible
job). Its expected mean intensity is the time-weighted mean of the series the policy planned on
over the segments (step semantics, partial steps by overlap), and its expected emissions are
the job's power times the integral of that intensity, plus any zone penalty. Both are NaN when
the policy had no values for the run (e.g. a static slot planned blind).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np

from carbonshift.planning.errors import InfeasibleJobError
from carbonshift.planning.job import Job
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import Span, format_time, from_epoch_s

__all__ = ["Fallback", "FallbackLevel", "Plan", "Segment", "build_plan", "expected_integral"]

FallbackLevel = Literal[
    "partial_forecast", "last_good_forecast", "static_slot", "latest_safe_start"
]


@dataclass(frozen=True, slots=True)
class Fallback:
    """What a policy did instead of its normal plan, and why (shown in reports).

    - ``partial_forecast``: the forecast did not cover the whole feasible span; the plan was
      chosen among the windows it does cover;
    - ``last_good_forecast``: the current forecast was unusable; an earlier one was used;
    - ``static_slot``: no usable forecast; the job runs at the static slot;
    - ``latest_safe_start``: nothing else applied; the job starts at its latest safe start.
    """

    level: FallbackLevel
    reason: str


@dataclass(frozen=True, slots=True)
class Segment(Span):
    """One uninterrupted run ``[start_s, end_s)``, epoch seconds."""


@dataclass(frozen=True, slots=True)
class Plan:
    """The decision for one job."""

    zone: str
    segments: tuple[Segment, ...]
    mean_intensity_g_per_kwh: float
    emissions_g: float
    policy: str
    decision_time_s: int
    fallback: Fallback | None = None
    penalty_g: float = 0.0
    job_id: str = ""
    note: str = ""

    @property
    def start_s(self) -> int:
        return self.segments[0].start_s

    @property
    def end_s(self) -> int:
        return self.segments[-1].end_s

    @property
    def start(self) -> datetime:
        return from_epoch_s(self.start_s)

    @property
    def end(self) -> datetime:
        return from_epoch_s(self.end_s)

    @property
    def decision_time(self) -> datetime:
        return from_epoch_s(self.decision_time_s)

    @property
    def run_s(self) -> int:
        """Time spent running, pause overheads included."""
        return sum(s.duration_s for s in self.segments)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times ISO 8601 ``Z``)."""
        return {
            "job_id": self.job_id,
            "zone": self.zone,
            "start": format_time(self.start),
            "end": format_time(self.end),
            "segments": [[format_time(s.start), format_time(s.end)] for s in self.segments],
            "mean_intensity_g_per_kwh": _finite_or_none(self.mean_intensity_g_per_kwh),
            "emissions_g": _finite_or_none(self.emissions_g),
            "penalty_g": self.penalty_g,
            "policy": self.policy,
            "decision_time": format_time(self.decision_time),
            "fallback": (
                None
                if self.fallback is None
                else {"level": self.fallback.level, "reason": self.fallback.reason}
            ),
            "note": self.note,
        }


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def expected_integral(series: IntensitySeries | None, segments: Sequence[Segment]) -> float:
    """Integral of intensity over the segments in value-seconds; NaN where unknown."""
    if series is None:
        return float("nan")
    starts = np.array([s.start_s for s in segments], dtype=np.int64)
    ends = np.array([s.end_s for s in segments], dtype=np.int64)
    if starts.min() < series.start_s or ends.max() > series.end_s:
        return float("nan")
    return float(series.window_integrals(starts, ends).sum())


def build_plan(
    job: Job,
    *,
    zone: str,
    segments: Sequence[Segment],
    series: IntensitySeries | None,
    policy: str,
    now_s: int,
    fallback: Fallback | None = None,
    penalty_g: float = 0.0,
    note: str = "",
) -> Plan:
    """Assemble a plan, evaluating it on ``series``, after checking it against the job.

    The check is the planner's last line of defence: segments in order, none before the
    earliest start, the first not after the latest safe start, the last ending by
    ``deadline − margin``, and the useful work covering the job's duration (interruptible
    plans may round it up to a whole slot). A violation is
    a bug; it raises :class:`InfeasibleJobError` rather than hand out a late plan.
    """
    segs = tuple(segments)
    earliest, latest = job.start_span(now_s)
    problems = []
    if not segs:
        problems.append("no segments")
    else:
        if segs[0].start_s < earliest:
            problems.append("starts before the earliest start")
        if segs[0].start_s > latest:
            problems.append("starts after the latest safe start")
        if segs[-1].end_s > job.finish_by_s:
            problems.append("ends after deadline − margin")
        if any(s.end_s <= s.start_s for s in segs) or any(
            b.start_s <= a.end_s for a, b in itertools.pairwise(segs)
        ):
            problems.append("segments overlap or are empty")
        useful = sum(s.duration_s for s in segs) - job.overhead_s * (len(segs) - 1)
        if useful < job.duration_s:
            problems.append(f"runs {useful} s of work, less than the {job.duration_s} s needed")
    if problems:
        raise InfeasibleJobError(
            f"{job.label}: {policy} produced an unsafe plan ({'; '.join(problems)}); "
            f"latest safe start {format_time(from_epoch_s(latest))}",
            hint="this is a bug in the planner; please report it",
        )
    run_s = sum(s.duration_s for s in segs)
    integral = expected_integral(series, segs)
    return Plan(
        zone=zone,
        segments=segs,
        mean_intensity_g_per_kwh=integral / run_s,
        emissions_g=job.power_w * integral / 3.6e6 + penalty_g,
        policy=policy,
        decision_time_s=int(now_s),
        fallback=fallback,
        penalty_g=penalty_g,
        job_id=job.job_id,
        note=note,
    )
