"""Features for learned forecasters, computed for (target step, last known step) pairs.

One row describes "forecast step ``T`` when steps ``0 .. K`` are known" (``K`` is the last
complete step at the decision time, ``T > K``). Every feature reads only ``values[0 .. K]`` of
its own row (checked by the no-lookahead tests), so the same code builds the training rows
(many past origins, targets known) and the rows to predict (one decision time, targets
unknown), for one decision or many at once.

Features (all times UTC). ``base`` is the value one day earlier at the target's time of day
(the newest known one; else the 4-week climatology, else the last value); the lags enter as
departures from it, because trees split on one feature at a time and cannot subtract two:

=======================  ======================================================================
``lead_h``               hours from the end of the last known step to the target step's start
``base``                 the seasonal-naive 24 h value (see above): the level
``last_minus_base``      last known value minus ``base``
``anomaly_now``          last known value minus the value one day before it
``day2_minus_base``      the same time two days back, minus ``base``
``week_minus_base``      the seasonal-naive 168 h value minus ``base``
``clim_minus_base``      the 4-week hour-of-week mean minus ``base``
``mean24_minus_base``    the mean of the last 24 h of known values minus ``base``
``hour_of_day``          of the target step (fractional hours)
``day_of_week``          of the target step (Monday = 0)
``year_sin/cos``         position of the target in the year (annual cycle)
``origin_hour``          hour of day of the decision (the last known step's end)
=======================  ======================================================================

Learned models predict the departure from :func:`baseline` (``base`` plus today's anomaly,
fading with the lead).
"""

from __future__ import annotations

import math

import numpy as np

from carbonshift.forecast.base import steps_in
from carbonshift.forecast.baselines import (
    DAY_S,
    WEEK_S,
    climatology_values,
    forward_filled,
    seasonal_values,
)
from carbonshift.signals.series import FloatArray, IntArray

__all__ = [
    "FEATURE_NAMES",
    "FeatureContext",
    "baseline",
    "coprime_stride",
    "features",
    "lead_steps_for_training",
]

FEATURE_NAMES: tuple[str, ...] = (
    "lead_h",
    "base",
    "last_minus_base",
    "anomaly_now",
    "day2_minus_base",
    "week_minus_base",
    "clim_minus_base",
    "mean24_minus_base",
    "hour_of_day",
    "day_of_week",
    "year_sin",
    "year_cos",
    "origin_hour",
)
BASE = FEATURE_NAMES.index("base")
ANOMALY_DECAY_H = 12.0

_YEAR_S = 365.2425 * DAY_S


class FeatureContext:
    """A history's values and the running sums every feature row reads from."""

    def __init__(self, values: FloatArray, start_s: int, resolution_s: int) -> None:
        self.values = values
        self.start_s = int(start_s)
        self.resolution_s = int(resolution_s)
        self.day_steps = steps_in(DAY_S, self.resolution_s, what="a day")
        self.week_steps = WEEK_S // self.resolution_s
        self.ffill = forward_filled(values)
        ok = ~np.isnan(values)
        self.sums = np.zeros(values.size + 1)
        np.cumsum(np.where(ok, values, 0.0), out=self.sums[1:])
        self.counts = np.zeros(values.size + 1)
        np.cumsum(ok, out=self.counts[1:])


def features(ctx: FeatureContext, target: IntArray, last_known: IntArray) -> FloatArray:
    """The feature matrix (rows, ``len(FEATURE_NAMES)``) for 1-D arrays of pairs."""
    target = np.asarray(target, dtype=np.int64)
    last = np.asarray(last_known, dtype=np.int64)
    r = ctx.resolution_s
    v = ctx.values
    day, week = ctx.day_steps, ctx.week_steps
    last_value = _at(ctx.ffill, last)
    day1 = seasonal_values(v, target, last, day)
    clim = climatology_values(v, target, last, week, 4)
    base = day1.copy()
    for fallback in (clim, last_value):
        missing = np.isnan(base)
        base[missing] = fallback[missing]
    hi = np.clip(last + 1, 0, v.size)
    lo = np.clip(last + 1 - day, 0, v.size)
    count = ctx.counts[hi] - ctx.counts[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean24 = np.where(count > 0, (ctx.sums[hi] - ctx.sums[lo]) / count, np.nan)
    out = np.empty((target.size, len(FEATURE_NAMES)))
    out[:, 0] = (target - last - 1) * (r / 3600.0)
    out[:, 1] = base
    out[:, 2] = last_value - base
    out[:, 3] = last_value - _at(v, last - day)
    out[:, 4] = seasonal_values(v, target - day, last, day) - base
    out[:, 5] = seasonal_values(v, target, last, week) - base
    out[:, 6] = clim - base
    out[:, 7] = mean24 - base
    t_s = ctx.start_s + target * r
    out[:, 8] = (t_s % DAY_S) / 3600.0
    out[:, 9] = ((t_s // DAY_S) + 3) % 7  # 1970-01-01 was a Thursday
    phase = 2 * np.pi * (t_s % _YEAR_S) / _YEAR_S
    out[:, 10] = np.sin(phase)
    out[:, 11] = np.cos(phase)
    out[:, 12] = ((ctx.start_s + (last + 1) * r) % DAY_S) / 3600.0
    return out


def _at(values: FloatArray, index: IntArray) -> FloatArray:
    """``values[index]``, NaN where the index is negative."""
    if values.size == 0:
        return np.full(index.shape, np.nan)
    return np.where(index >= 0, values[np.clip(index, 0, values.size - 1)], np.nan)


def baseline(x: FloatArray, *, anomaly_decay_h: float = ANOMALY_DECAY_H) -> FloatArray:
    """The reference learned models predict a departure from: ``base`` plus today's anomaly
    (``anomaly_now``), fading with the lead as ``exp(-lead_h / anomaly_decay_h)``. At lead 0 that
    is nearly persistence, a day ahead nearly the seasonal-naive value."""
    fade = np.exp(-x[:, 0] / anomaly_decay_h)
    anomaly = np.nan_to_num(x[:, FEATURE_NAMES.index("anomaly_now")])
    return np.asarray(x[:, BASE] + fade * anomaly, dtype=np.float64)


def coprime_stride(stride: int, period: int) -> int:
    """The smallest stride ``>= stride`` that shares no factor with ``period`` (so that thinned
    origins still visit every time of day)."""
    stride = max(1, stride)
    while math.gcd(stride, period) != 1:
        stride += 1
    return stride


def lead_steps_for_training(max_lead_steps: int, *, most: int = 64) -> IntArray:
    """The leads (in steps) that training rows use: all of them up to ``most``, else ``most``
    leads spread evenly (the model takes the lead as a feature and interpolates)."""
    if max_lead_steps <= most:
        return np.arange(1, max_lead_steps + 1, dtype=np.int64)
    return np.unique(np.linspace(1, max_lead_steps, most).round().astype(np.int64))
