"""Independent brute-force references for the planner tests.

Nothing here calls the planner or ``IntensitySeries.window_means``: intensities are integrated
numerically on a one-minute grid (exact for step functions whose steps, starts and durations
are whole minutes), and chunk plans are enumerated slot by slot.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
T0 = int(datetime(2022, 3, 1, tzinfo=UTC).timestamp())


def make_series(
    values: Sequence[float] | FloatArray,
    *,
    start_s: int = T0,
    resolution_s: int = 3600,
    zone: str = "XX",
    kind: str = "forecast",
) -> IntensitySeries:
    labels = SignalLabels(zone, kind="forecast") if kind == "forecast" else SignalLabels(zone)
    return IntensitySeries(start_s, resolution_s, np.asarray(values, dtype=np.float64), labels)


class MinuteIntegrator:
    """Per-minute samples of a step function (value at each minute's midpoint)."""

    def __init__(self, series: IntensitySeries) -> None:
        assert series.start_s % 60 == 0 and series.resolution_s % 60 == 0
        self.t0 = series.start_s
        minutes = len(series) * series.resolution_s // 60
        mid_s = self.t0 + 60 * np.arange(minutes) + 30
        step = (mid_s - series.start_s) // series.resolution_s
        self.per_minute = series.values[step]
        nan = np.isnan(self.per_minute)
        self.cum = np.concatenate(([0.0], np.cumsum(np.where(nan, 0.0, self.per_minute))))
        self.nan_cum = np.concatenate(([0], np.cumsum(nan)))

    def integral(self, start_s: int, end_s: int) -> float:
        """Integral in value-minutes over ``[start_s, end_s)`` (whole minutes)."""
        assert start_s % 60 == 0 and end_s % 60 == 0
        a, b = (start_s - self.t0) // 60, (end_s - self.t0) // 60
        if self.nan_cum[b] - self.nan_cum[a]:
            return float("nan")
        return float(self.cum[b] - self.cum[a])

    def means(self, starts_s: IntArray, duration_s: int) -> FloatArray:
        """Mean over ``[s, s + duration)`` for each start (NaN if a step is unknown)."""
        a = (starts_s - self.t0) // 60
        b = a + duration_s // 60
        means = (self.cum[b] - self.cum[a]) / (duration_s // 60)
        return np.asarray(
            np.where(self.nan_cum[b] > self.nan_cum[a], np.nan, means), dtype=np.float64
        )


def brute_window(
    series: IntensitySeries, duration_s: int, lo_s: int, hi_s: int
) -> tuple[FloatArray, IntArray]:
    """Means of every whole-minute start in ``[lo_s, hi_s]`` and the starts."""
    starts = np.arange(lo_s, hi_s + 1, 60, dtype=np.int64)
    return MinuteIntegrator(series).means(starts, duration_s), starts


def brute_chunks(costs: list[float], work: int, min_chunk: int, overhead: int) -> float | None:
    """Cheapest valid set of occupied slots, by enumerating every subset (slot units)."""
    n = len(costs)
    best: float | None = None
    for mask in itertools.product((False, True), repeat=n):
        runs: list[tuple[int, int]] = []
        i = 0
        while i < n:
            if mask[i]:
                j = i
                while j < n and mask[j]:
                    j += 1
                runs.append((i, j))
                i = j
            else:
                i += 1
        if not runs:
            continue
        useful = [b - a - (overhead if k else 0) for k, (a, b) in enumerate(runs)]
        if sum(useful) != work:
            continue
        if any(u < min(min_chunk, work) for u in useful):
            continue
        cost = sum(costs[i] for i in range(n) if mask[i])
        if best is None or cost < best - 1e-12:
            best = cost
    return best


def cron_matches_local(
    t_s: int,
    tz: str,
    minutes: set[int],
    hours: set[int],
    doms: set[int] | None,
    months: set[int],
    dows: set[int] | None,
) -> bool:
    """Whether the UTC instant ``t_s`` shows a wall-clock time the cron fields accept
    (``None`` = the field is ``*``; both restricted = either matches)."""
    local = datetime.fromtimestamp(t_s, tz=ZoneInfo(tz))
    if local.minute not in minutes or local.hour not in hours or local.month not in months:
        return False
    dom_ok = doms is None or local.day in doms
    dow_ok = dows is None or (local.weekday() + 1) % 7 in dows
    if doms is not None and dows is not None:
        return dom_ok or dow_ok
    return dom_ok and dow_ok
