"""The ``dynamic`` policy replayed on history: forecast, plan, re-plan until the job starts.

What is done, exactly (the tests check it against :class:`DynamicPolicy` run job by job):

1. A job is first planned at its **arrival** (decision time = submit), then re-planned at
   every tick of the cadence ``replan_s`` (ticks on the epoch grid, e.g. every full hour)
   after its arrival, until its start is fixed.
2. At each decision time ``now`` the forecaster is given only the history known at ``now``
   (:meth:`Forecaster.predict_batch`, which cuts it) and forecasts from the step containing
   ``now``. The plan is the lowest forecast mean over every start in ``[max(submit, now),
   latest safe start]`` (exact over real-valued starts: the range ends, grid points and grid
   points minus the duration; means rounded to 1e-6 and ties to the earliest start, then the
   zone listed first: the rule of :func:`cheapest_window` / :func:`best_over_zones`). With
   several zones (relocation) the lowest expected grams wins.
3. If the planned start comes before the next tick, the job starts then: its start is fixed
   and recorded with its decision time. Otherwise it waits for the next tick and is
   re-planned with the newer forecast.
4. Windows the forecast does not cover (no history yet, beyond its horizon) are skipped
   (``partial_forecast``); if no window is covered at all the plan is the latest safe start
   (flagged as a fallback) and, unless that start comes before the next tick, the job is
   re-planned at the next tick as usual.

Every pending job of a round is planned at once (one matrix of forecast prefix sums per zone,
one gather per candidate start), so a year of hourly jobs costs a few dozen vectorised rounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from carbonshift.forecast.base import BatchForecast, Forecaster
from carbonshift.planning.window import TIE_DECIMALS
from carbonshift.signals.series import FloatArray, IntArray, IntensitySeries
from carbonshift.simulate.workload import BoolArray, Workload

__all__ = ["DynamicRun", "ForecastMatrix", "decision_times", "replay_dynamic"]

ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class ForecastMatrix:
    """Forecasts issued at ``nows_s`` (sorted) as per-row prefix sums on the history grid."""

    nows_s: IntArray
    t0_s: IntArray  # start of each row's first step
    resolution_s: int
    integral: FloatArray  # rows × (steps + 1), value-seconds, NaN counted apart
    nan_count: IntArray
    values: FloatArray

    @classmethod
    def build(cls, history: IntensitySeries, batch: BatchForecast) -> ForecastMatrix:
        r = history.resolution_s
        point = batch.point
        nan = np.isnan(point)
        clean = np.where(nan, 0.0, point)
        integral = np.zeros((point.shape[0], point.shape[1] + 1))
        np.cumsum(clean * r, axis=1, out=integral[:, 1:])
        counts = np.zeros(integral.shape, dtype=np.int64)
        np.cumsum(nan, axis=1, out=counts[:, 1:])
        t0 = history.start_s + batch.first_index * r
        return cls(batch.nows_s, t0, r, integral, counts, clean)

    def means(self, rows: IntArray, a: IntArray, b: IntArray) -> FloatArray:
        """Forecast mean over ``[a, b)`` on each row (broadcast); NaN where not covered."""
        r = self.resolution_s
        n = self.integral.shape[1] - 1
        xa = (a - self.t0_s[rows]).astype(np.float64)
        xb = (b - self.t0_s[rows]).astype(np.float64)
        outside = (xa < 0) | (xb > n * r)
        ka = np.clip((xa // r).astype(np.int64), 0, n - 1)
        kb = np.clip((xb // r).astype(np.int64), 0, n - 1)
        va = self.values[rows, ka]
        vb = self.values[rows, kb]
        head = va * ((ka + 1) * r - xa)
        tail = vb * (xb - kb * r)
        middle = self.integral[rows, kb] - self.integral[rows, np.minimum(ka + 1, kb)]
        total = np.where(ka == kb, va * (xb - xa), head + middle + tail)
        last = np.clip(np.ceil(xb / r).astype(np.int64), 0, n)
        nan = (self.nan_count[rows, np.maximum(last, ka)] - self.nan_count[rows, ka]) > 0
        out: FloatArray = total / (xb - xa)
        out[nan | outside] = np.nan
        return out


@dataclass(frozen=True)
class DynamicRun:
    """Per job: the zone index chosen, the start, when it was fixed, whether it fell back,
    and how many plans were made (arrival plus re-plans)."""

    zone_index: IntArray
    start_s: IntArray
    decision_s: IntArray
    fallback: BoolArray
    rounds: int
    plans: int
    forecast_s: float


def first_tick(submit_s: IntArray, replan_s: int) -> IntArray:
    """The first cadence tick strictly after each arrival."""
    return (submit_s // replan_s + 1) * replan_s


def decision_times(workload: Workload, replan_s: int) -> IntArray:
    """Every decision time the replay may use: arrivals and the cadence ticks up to the last
    latest safe start."""
    lo = int(first_tick(workload.submit_s[:1], replan_s)[0]) if len(workload) else 0
    hi = int(workload.latest_start_s.max()) if len(workload) else 0
    ticks = np.arange(lo, hi + 1, replan_s, dtype=np.int64)
    return np.unique(np.concatenate([workload.submit_s, ticks]))


def _candidates(
    earliest: IntArray, latest: IntArray, dur: IntArray, grid0: int, r: int
) -> IntArray:
    """Padded matrix of candidate starts (jobs × k): the range ends, the grid points inside,
    and grid points minus the duration inside (padding repeats ``latest``)."""
    first = -(-(earliest - grid0) // r)
    count = np.maximum((latest - grid0) // r - first + 1, 0)
    width = int(count.max()) if count.size else 0
    k = np.arange(width, dtype=np.int64)[None, :]
    on_grid = np.where(k < count[:, None], grid0 + (first[:, None] + k) * r, latest[:, None])
    parts = [earliest[:, None], latest[:, None], on_grid]
    off = dur % r != 0
    if off.any():
        first_e = -(-(earliest + dur - grid0) // r)
        count_e = np.maximum((latest + dur - grid0) // r - first_e + 1, 0)
        width_e = int(count_e.max())
        k = np.arange(width_e, dtype=np.int64)[None, :]
        ends = grid0 + (first_e[:, None] + k) * r - dur[:, None]
        parts.append(np.where((k < count_e[:, None]) & off[:, None], ends, latest[:, None]))
    return np.concatenate(parts, axis=1)


def _plan_round(
    matrices: Sequence[ForecastMatrix],
    grid0: int,
    rows: IntArray,
    earliest: IntArray,
    latest: IntArray,
    dur: IntArray,
    power: FloatArray,
) -> tuple[IntArray, IntArray, BoolArray]:
    """Best (zone index, start) per job on the forecasts of ``rows``; fallback where none."""
    r = matrices[0].resolution_s
    cand = _candidates(earliest, latest, dur, grid0, r)
    n = earliest.size
    best_key = np.full((n, 2), np.inf)
    best_start = latest.copy()
    best_zone = np.zeros(n, dtype=np.int64)
    for zi, m in enumerate(matrices):
        means = m.means(rows[:, None], cand, cand + dur[:, None])
        key = np.round(means, TIE_DECIMALS)
        key[np.isnan(key)] = np.inf
        top = key.min(axis=1)
        start = np.where(key == top[:, None], cand, np.iinfo(np.int64).max).min(axis=1)
        grams = np.round(power * top * dur / 3.6e6, TIE_DECIMALS)
        # zones compared on (grams, mean, start); earlier zones win ties
        better = (grams < best_key[:, 0]) | (
            (grams == best_key[:, 0])
            & ((top < best_key[:, 1]) | ((top == best_key[:, 1]) & (start < best_start)))
        )
        better &= np.isfinite(top)
        best_key[better, 0] = grams[better]
        best_key[better, 1] = top[better]
        best_start[better] = start[better]
        best_zone[better] = zi
    found = np.isfinite(best_key[:, 1])
    return best_zone, np.where(found, best_start, latest), ~found


def replay_dynamic(
    workload: Workload,
    histories: Sequence[IntensitySeries],
    forecaster: Forecaster,
    replan_s: int,
    *,
    progress: ProgressFn | None = None,
) -> DynamicRun:
    """Replay ``workload`` (all jobs allowed in every zone of ``histories``, home first) with
    forecasts of ``forecaster`` re-planned every ``replan_s``. ``histories`` must share one
    grid phase (same resolution, aligned starts)."""
    n = len(workload)
    r = histories[0].resolution_s
    grid0 = histories[0].start_s
    nows = decision_times(workload, replan_s)
    horizon = int((workload.deadline_s - workload.submit_s).max()) if n else r
    n_steps = -(-horizon // r) + 2
    t_forecast = time.perf_counter()
    matrices = [
        ForecastMatrix.build(h, forecaster.predict_batch(h, nows, n_steps)) for h in histories
    ]
    forecast_s = time.perf_counter() - t_forecast
    zone = np.zeros(n, dtype=np.int64)
    start = workload.latest_start_s.copy()
    decided = workload.submit_s.copy()
    fallback = np.zeros(n, dtype=bool)
    pending = np.arange(n, dtype=np.int64)
    now = workload.submit_s.copy()
    tick = first_tick(workload.submit_s, replan_s)
    rounds = plans = 0
    while pending.size:
        rounds += 1
        plans += pending.size
        p_now = now[pending]
        rows = np.searchsorted(nows, p_now)
        earliest = np.maximum(workload.submit_s[pending], p_now)
        zi, st, fb = _plan_round(
            matrices,
            grid0,
            rows,
            earliest,
            workload.latest_start_s[pending],
            workload.duration_s[pending],
            workload.power_w[pending],
        )
        commit = st < tick[pending]
        done = pending[commit]
        zone[done], start[done], decided[done], fallback[done] = (
            zi[commit],
            st[commit],
            p_now[commit],
            fb[commit],
        )
        if progress is not None:
            progress(int(commit.sum()))
        pending = pending[~commit]
        now[pending] = tick[pending]
        tick[pending] += replan_s
    return DynamicRun(zone, start, decided, fallback, rounds, plans, forecast_s)
