"""The simple forecasters every learned model must beat: persistence, seasonal naive and
hour-of-week climatology.

All three are exact, cheap and fully vectorised over decision times. For a target step ``T``
(an index on the history's grid) forecast at a decision time whose last complete step is ``K``:

- **persistence**: the last known non-missing value (the newest step ``<= K`` with a value);
- **seasonal naive** with period ``P`` steps: ``y[T - k * P]`` for the smallest ``k >= 1``
  that lands on a known step (``T - kP <= K``): the value one period earlier when that is known
  (lead up to one period), else two periods earlier, and so on. A missing value there stays
  missing (NaN): the forecast does not silently substitute another hour;
- **climatology**: the mean of the last ``weeks`` known values at the same step of the week,
  ``y[T - (k + q) * P_week]`` for ``q = 0 .. weeks - 1`` (missing values ignored; NaN only
  when all of them are missing).

Periods are measured in grid steps, so the grid's resolution must divide them (a day or a week).
"""

from __future__ import annotations

import numpy as np

from carbonshift.errors import UsageError
from carbonshift.forecast.base import (
    BatchForecast,
    Forecast,
    Forecaster,
    ProgressFn,
    first_step_index,
    require_history,
    steps_in,
)
from carbonshift.signals.series import FloatArray, IntArray, IntensitySeries

__all__ = [
    "DAY_S",
    "WEEK_S",
    "ClimatologyForecaster",
    "PersistenceForecaster",
    "SeasonalNaiveForecaster",
    "climatology_values",
    "forward_filled",
    "seasonal_values",
]

DAY_S = 86_400
WEEK_S = 7 * DAY_S


def forward_filled(values: FloatArray) -> FloatArray:
    """Each position's newest non-missing value at or before it (NaN before the first one)."""
    idx = np.where(np.isnan(values), -1, np.arange(values.size))
    np.maximum.accumulate(idx, out=idx)
    out = np.where(idx >= 0, values[np.maximum(idx, 0)], np.nan)
    return out


def _lookup(values: FloatArray, index: IntArray) -> FloatArray:
    """``values[index]`` with NaN where the index is negative."""
    if values.size == 0:
        return np.full(index.shape, np.nan)
    return np.where(index >= 0, values[np.clip(index, 0, values.size - 1)], np.nan)


def seasonal_source(target: IntArray, last_known: IntArray, period: int, back: int = 0) -> IntArray:
    """Index of the newest known step at the same phase as ``target`` (``back`` periods further)."""
    k = (target - last_known + period - 1) // period  # smallest k >= 1 with target - kP <= K
    return np.asarray(target - (k + back) * period, dtype=np.int64)


def seasonal_values(
    values: FloatArray, target: IntArray, last_known: IntArray, period: int
) -> FloatArray:
    """Seasonal-naive values for target steps, given each row's last known step."""
    return _lookup(values, seasonal_source(target, last_known, period))


def climatology_values(
    values: FloatArray, target: IntArray, last_known: IntArray, period: int, count: int
) -> FloatArray:
    """Mean of the last ``count`` known values at the target's phase (missing ones ignored)."""
    total = np.zeros(target.shape)
    n = np.zeros(target.shape)
    for back in range(count):
        v = _lookup(values, seasonal_source(target, last_known, period, back))
        ok = ~np.isnan(v)
        total += np.where(ok, v, 0.0)
        n += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _rows(first_index: IntArray, n_known: IntArray, n_steps: int) -> tuple[IntArray, IntArray]:
    target = first_index[:, None] + np.arange(n_steps, dtype=np.int64)[None, :]
    last_known = (n_known - 1)[:, None]
    return target, np.broadcast_to(last_known, target.shape)


class _Vectorised(Forecaster):
    """A forecaster defined by one vectorised formula over (target, last known step) pairs."""

    def _values(
        self, values: FloatArray, target: IntArray, last_known: IntArray, resolution_s: int
    ) -> FloatArray:
        raise NotImplementedError

    def _predict(self, known: IntensitySeries, now_s: int, n_steps: int) -> Forecast:
        require_history(known, now_s, self.name)
        first = np.array([first_step_index(known, now_s)], dtype=np.int64)
        target, last = _rows(first, np.array([len(known)], dtype=np.int64), n_steps)
        values = self._values(known.values, target, last, known.resolution_s)[0]
        return Forecast(self._series(known, now_s, values), self.name)

    def _predict_batch(
        self,
        history: IntensitySeries,
        nows_s: IntArray,
        first_index: IntArray,
        n_steps: int,
        progress: ProgressFn | None,
    ) -> BatchForecast:
        n_known = np.clip(first_index, 0, len(history))
        target, last = _rows(first_index, n_known, n_steps)
        point = self._values(history.values, target, last, history.resolution_s)
        point[n_known == 0] = np.nan  # no history: no forecast (predict() would refuse)
        if progress is not None:
            progress(int(nows_s.size))
        return BatchForecast(nows_s, first_index, point, {})


class PersistenceForecaster(_Vectorised):
    """Every future step equals the last known value."""

    name: str = "persistence"

    def _values(
        self, values: FloatArray, target: IntArray, last_known: IntArray, resolution_s: int
    ) -> FloatArray:
        return _lookup(forward_filled(values), np.asarray(last_known, dtype=np.int64))


class SeasonalNaiveForecaster(_Vectorised):
    """Every future step equals the newest known value one period (24 h, 168 h...) earlier."""

    def __init__(self, period_s: int = DAY_S) -> None:
        if period_s <= 0:
            raise UsageError("seasonal period: must be positive", hint="e.g. 24h or 168h")
        self.period_s = int(period_s)
        self.name = f"seasonal_{self.period_s // 3600}h"

    def _values(
        self, values: FloatArray, target: IntArray, last_known: IntArray, resolution_s: int
    ) -> FloatArray:
        period = steps_in(self.period_s, resolution_s, what="seasonal period")
        return seasonal_values(values, target, last_known, period)

    def __repr__(self) -> str:
        return f"SeasonalNaiveForecaster(period_s={self.period_s})"


class ClimatologyForecaster(_Vectorised):
    """Every future step equals the mean of the last ``weeks`` known values at the same step of
    the week (hour-of-week on hourly data)."""

    name: str = "climatology"

    def __init__(self, weeks: int = 4, *, period_s: int = WEEK_S) -> None:
        if weeks < 1:
            raise UsageError("climatology: weeks must be at least 1", hint="e.g. 4")
        self.weeks = int(weeks)
        self.period_s = int(period_s)

    def _values(
        self, values: FloatArray, target: IntArray, last_known: IntArray, resolution_s: int
    ) -> FloatArray:
        period = steps_in(self.period_s, resolution_s, what="climatology period")
        return climatology_values(values, target, last_known, period, self.weeks)

    def __repr__(self) -> str:
        return f"ClimatologyForecaster(weeks={self.weeks})"
