"""The cheapest contiguous window of a job's length inside some ranges of allowed starts.

With step semantics the integral of intensity over ``[s, s + D)`` is piecewise linear in the
start ``s``; its kinks lie where ``s`` or ``s + D`` crosses a grid point. So over any range of
starts ``[lo, hi]`` the lowest mean is reached at ``lo``, ``hi``, a grid point, or a grid point
minus ``D``: evaluating those candidates (partial first/last steps weighted by overlap through
:meth:`IntensitySeries.window_means`) finds the optimum over *all* real-valued starts, not only
grid-aligned ones. Ties go to the earliest start; means are compared after rounding to
``1e-6`` g/kWh so that windows of equal value tie despite floating-point noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from carbonshift.signals.series import FloatArray, IntArray, IntensitySeries
from carbonshift.timeutil import from_epoch_s

__all__ = [
    "TIE_DECIMALS",
    "Window",
    "candidate_starts",
    "cheapest_window",
    "clip_ranges",
    "comparable",
    "known_ranges",
]

TIE_DECIMALS = 6
"""Means are rounded to this many decimals (g/kWh) before comparing: closer means tie."""


def comparable(means: FloatArray) -> FloatArray:
    """Means rounded for comparison, with unknown (NaN) windows as +inf."""
    out = np.round(means, TIE_DECIMALS)
    out[np.isnan(out)] = np.inf
    return out


@dataclass(frozen=True, slots=True)
class Window:
    """A contiguous run ``[start_s, end_s)`` and its mean intensity on the series used."""

    start_s: int
    end_s: int
    mean_intensity_g_per_kwh: float

    @property
    def start(self) -> datetime:
        return from_epoch_s(self.start_s)

    @property
    def end(self) -> datetime:
        return from_epoch_s(self.end_s)


def candidate_starts(
    grid_start_s: int, resolution_s: int, duration_s: int, lo_s: int, hi_s: int
) -> IntArray:
    """Every start in ``[lo_s, hi_s]`` where the window mean can have a kink: the ends of the
    range, grid points, and grid points minus the duration (window ending on the grid)."""
    if hi_s < lo_s:
        return np.zeros(0, dtype=np.int64)
    r = resolution_s
    first = -(-(lo_s - grid_start_s) // r)
    last = (hi_s - grid_start_s) // r
    on_grid = grid_start_s + r * np.arange(first, last + 1, dtype=np.int64)
    parts = [np.array([lo_s, hi_s], dtype=np.int64), on_grid]
    if duration_s % r:
        first_e = -(-(lo_s + duration_s - grid_start_s) // r)
        last_e = (hi_s + duration_s - grid_start_s) // r
        parts.append(grid_start_s + r * np.arange(first_e, last_e + 1, dtype=np.int64) - duration_s)
    return np.unique(np.concatenate(parts))


def clip_ranges(ranges: Sequence[tuple[int, int]], lo_s: int, hi_s: int) -> list[tuple[int, int]]:
    """The non-empty parts of ``ranges`` (inclusive start ranges) inside ``[lo_s, hi_s]``."""
    out = []
    for a, b in ranges:
        a2, b2 = max(a, lo_s), min(b, hi_s)
        if a2 <= b2:
            out.append((a2, b2))
    return out


def known_ranges(
    series: IntensitySeries, duration_s: int, lo_s: int, hi_s: int
) -> list[tuple[int, int]]:
    """Ranges of starts in ``[lo_s, hi_s]`` whose whole window lies on known (non-NaN) steps of
    ``series``: where planning is possible without guessing."""
    lo = max(lo_s, series.start_s)
    hi = min(hi_s, series.end_s - duration_s)
    if hi < lo:
        return []
    nan = np.isnan(series.values)
    if not nan.any():
        return [(lo, hi)]
    # runs of known steps [i, j) -> starts in [t_i, t_j - D]
    edges = np.diff(np.concatenate(([1], nan.astype(np.int8), [1])))
    run_starts = np.flatnonzero(edges == -1)
    run_ends = np.flatnonzero(edges == 1)
    r, s0 = series.resolution_s, series.start_s
    spans = [
        (s0 + int(i) * r, s0 + int(j) * r - duration_s)
        for i, j in zip(run_starts, run_ends, strict=True)
    ]
    return clip_ranges(spans, lo, hi)


def cheapest_window(
    series: IntensitySeries, duration_s: int, ranges: Sequence[tuple[int, int]]
) -> Window | None:
    """The lowest-mean window of ``duration_s`` whose start lies in one of ``ranges``
    (inclusive ``(lo_s, hi_s)`` pairs), or ``None`` when no such window lies on known data.

    Exact over real-valued starts (see the module notes); ties go to the earliest start.
    """
    usable = clip_ranges(ranges, series.start_s, series.end_s - duration_s)
    if not usable:
        return None
    cands = np.unique(
        np.concatenate(
            [
                candidate_starts(series.start_s, series.resolution_s, duration_s, a, b)
                for a, b in usable
            ]
        )
    )
    means = series.window_means(cands, cands + duration_s)
    key = comparable(means)
    best = int(np.argmin(key))  # argmin returns the first (earliest) of equal keys
    if not np.isfinite(key[best]):
        return None
    start = int(cands[best])
    return Window(start, start + duration_s, float(means[best]))
