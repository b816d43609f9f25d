"""Ranking the windows of a series: the cleanest non-overlapping windows of a given length.

A small pure helper for displays (``carbonshift demo``, ``signals``); deadline-aware planning of
jobs lives in :mod:`carbonshift.planning`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from carbonshift.errors import DataError
from carbonshift.signals.series import IntensitySeries

__all__ = ["RankedWindow", "cleanest_windows"]


@dataclass(frozen=True, slots=True)
class RankedWindow:
    start_s: int
    end_s: int
    mean_intensity_g_per_kwh: float


def cleanest_windows(
    series: IntensitySeries,
    *,
    earliest_start_s: int,
    latest_start_s: int,
    duration_s: int,
    top: int = 3,
) -> list[RankedWindow]:
    """The ``top`` lowest-mean windows of ``duration_s`` starting in
    ``[earliest_start_s, latest_start_s]`` on the series grid, not overlapping each other,
    cleanest first (ties: earliest first)."""
    starts, means = series.rolling_means(duration_s)
    ok = (starts >= earliest_start_s) & (starts <= latest_start_s) & ~np.isnan(means)
    starts, means = starts[ok], means[ok]
    if starts.size == 0:
        raise DataError(
            f"{series.zone}: no complete {duration_s} s window between the given starts",
            hint="widen the period or load more data",
        )
    order = np.lexsort((starts, means))  # by mean, then earliest
    chosen: list[RankedWindow] = []
    for i in order:
        s = int(starts[i])
        if all(s + duration_s <= w.start_s or s >= w.end_s for w in chosen):
            chosen.append(RankedWindow(s, s + duration_s, float(means[i])))
            if len(chosen) == top:
                break
    return chosen
