"""``immediate``, ``static`` and ``oracle`` replayed on history, vectorised over jobs.

- **immediate**: every job starts at its submit time (decision time = submit).
- **static**: every job starts at the next occurrence of its zone's slot at or after its
  submit time, or at its latest safe start when that occurrence would miss the deadline (the
  rule of :class:`StaticPolicy`). The slot is a given cron schedule, or learned per zone and
  job length with :func:`learn_static_slot` (see :class:`StaticSpec`):

  A daily slot is learned on windows of the job's length rounded up to whole hours and
  capped at 24 h (longer jobs start at the slot that begins their cleanest first day), so a
  trace with thousands of distinct lengths needs at most 24 slots per zone.

  * ``before`` (default): on the ``train_days`` before ``--from`` (error if the data do not
    cover them);
  * ``rolling``: re-learned at every UTC midnight on the ``train_days`` before it (or on the
    whole days known so far, at least one); jobs arriving before one whole day of data is
    known start at once (flagged as a fallback). For zones whose data start at ``--from``.

- **oracle**: :func:`plan_many` on the actual values (perfect foresight, the upper bound),
  decided at the submit time; with several zones (relocation) the lowest grams wins, ties to
  the lower mean, the earlier start, then the zone listed first (:func:`best_over_zones`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from carbonshift.errors import DataError, UsageError
from carbonshift.planning import CronSchedule, learn_static_slot, plan_many
from carbonshift.planning.window import TIE_DECIMALS
from carbonshift.signals.series import IntArray, IntensitySeries
from carbonshift.simulate.workload import BoolArray, Workload
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = ["StaticSpec", "oracle_starts", "static_starts"]

DAY_S = 86_400


@dataclass(frozen=True)
class StaticSpec:
    """How the static slot is obtained: a ``cron`` expression in ``tz``, or learned
    (``mode`` ``before`` or ``rolling``) over ``train_days`` in ``tz``."""

    cron: str | None = None
    tz: str = "UTC"
    mode: str = "before"
    train_days: int = 28

    def describe(self) -> str:
        if self.cron:
            return f"cron '{self.cron}' ({self.tz})"
        if self.mode == "rolling":
            return f"learned daily on the {self.train_days} days before each day ({self.tz})"
        return f"learned on the {self.train_days} days before --from ({self.tz})"


def _next_occurrences(schedule: CronSchedule, lo_s: int, hi_s: int) -> IntArray:
    occ = schedule.occurrences(from_epoch_s(lo_s), from_epoch_s(hi_s + 8 * DAY_S))
    return np.array([int(t.timestamp()) for t in occ], dtype=np.int64)


def _learn_length(duration_s: IntArray) -> IntArray:
    """The window length a slot is learned on (see the module notes)."""
    return np.minimum(-(-duration_s // 3600) * 3600, DAY_S)


def _apply_slot(workload: Workload, occurrences: IntArray) -> tuple[IntArray, BoolArray]:
    submit = workload.submit_s
    idx = np.searchsorted(occurrences, submit)
    slot = np.where(idx < occurrences.size, occurrences[np.minimum(idx, occurrences.size - 1)], 0)
    late = (idx >= occurrences.size) | (slot > workload.latest_start_s)
    return np.where(late, workload.latest_start_s, slot), late


def static_starts(
    workload: Workload, history: IntensitySeries, spec: StaticSpec, from_s: int
) -> tuple[IntArray, BoolArray, list[str]]:
    """Start per job, a fallback flag per job (slot missed the deadline or no slot known yet),
    and a description of each slot used."""
    n = len(workload)
    start = workload.submit_s.copy()
    fallback = np.zeros(n, dtype=bool)
    if n == 0:
        return start, fallback, []
    lo, hi = int(workload.submit_s.min()), int(workload.latest_start_s.max())
    if spec.cron:
        occ = _next_occurrences(CronSchedule.parse(spec.cron, spec.tz), lo, hi)
        start, fallback = _apply_slot(workload, occ)
        return start, fallback, [spec.describe()]
    notes: list[str] = []
    if spec.mode == "before":
        train_from = from_s - spec.train_days * DAY_S
        if history.start_s > train_from:
            raise DataError(
                f"{history.zone}: static training period {format_time(from_epoch_s(train_from))}"
                f"..{format_time(from_epoch_s(from_s))} starts before the data "
                f"({format_time(history.start)})",
                hint="use --static-train rolling, a shorter --train-days, or --static-cron",
            )
        learn = _learn_length(workload.duration_s)
        for d in np.unique(learn).tolist():
            sel = learn == d
            slot = learn_static_slot(
                history, int(d), train_from_s=train_from, train_to_s=from_s, tz=spec.tz
            )
            occ = _next_occurrences(slot.schedule(), lo, hi)
            s, f = _apply_slot(workload.take(sel), occ)
            start[sel], fallback[sel] = s, f
            notes.append(f"{slot.describe()} ({slot.cron_expr()})")
        return start, fallback, notes
    if spec.mode != "rolling":
        raise UsageError(f"--static-train: unknown mode {spec.mode!r}", hint="before or rolling")
    if spec.tz != "UTC":
        raise UsageError("--static-train rolling: only with --static-tz UTC")
    day = workload.submit_s // DAY_S * DAY_S
    learn = _learn_length(workload.duration_s)
    for d in np.unique(learn).tolist():
        for day_s in np.unique(day[learn == d]).tolist():
            sel = (learn == d) & (day == day_s)
            train_from = max(day_s - spec.train_days * DAY_S, history.start_s)
            train_from = -(-train_from // DAY_S) * DAY_S
            if day_s - train_from < DAY_S:
                fallback[sel] = True  # nothing known yet: start at once
                continue
            slot = learn_static_slot(
                history, int(d), train_from_s=train_from, train_to_s=day_s, tz="UTC"
            )
            off = slot.offset_min * 60
            occ = np.array([day_s + off, day_s + DAY_S + off, day_s + 2 * DAY_S + off])
            s, f = _apply_slot(workload.take(sel), occ)
            start[sel], fallback[sel] = s, f
    notes.append(spec.describe())
    return start, fallback, notes


def oracle_starts(
    workload: Workload, actuals: Sequence[IntensitySeries]
) -> tuple[IntArray, IntArray, BoolArray]:
    """Zone index (into ``actuals``), start and fallback flag per job, on perfect foresight."""
    n = len(workload)
    best_grams = np.full(n, np.inf)
    best_mean = np.full(n, np.inf)
    best_start = workload.latest_start_s.copy()
    best_zone = np.zeros(n, dtype=np.int64)
    for zi, series in enumerate(actuals):
        bp = plan_many(series, workload.submit_s, workload.duration_s, workload.deadline_s)
        mean = np.round(bp.mean_intensity_g_per_kwh, TIE_DECIMALS)
        mean[np.isnan(mean) | bp.fallback] = np.inf
        grams = np.round(workload.power_w * mean * workload.duration_s / 3.6e6, TIE_DECIMALS)
        better = (grams < best_grams) | (
            (grams == best_grams)
            & ((mean < best_mean) | ((mean == best_mean) & (bp.start_s < best_start)))
        )
        better &= np.isfinite(mean)
        best_grams[better], best_mean[better] = grams[better], mean[better]
        best_start[better], best_zone[better] = bp.start_s[better], zi
    return best_zone, best_start, ~np.isfinite(best_mean)
