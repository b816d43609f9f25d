"""Planning many independent jobs against one series in one vectorised call.

The same optimum as :func:`~carbonshift.planning.window.cheapest_window` for each job (the
batch tests check equality): for each distinct duration, the means of every window starting on
the grid and of every window ending on the grid are computed once; a sparse table (range-minimum
query, O(n log n) to build, O(1) per query, leftmost minimum) answers each job's feasible range;
the windows starting exactly at the job's earliest and latest start are evaluated directly. The
best of the four candidates wins, ties to the earliest start.

Jobs whose feasible range holds no window on known values (a gap, or the range lies outside the
series) start at their latest safe start, flagged in ``fallback``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from carbonshift.errors import UsageError
from carbonshift.planning.errors import InfeasibleJobError
from carbonshift.planning.window import comparable
from carbonshift.signals.series import FloatArray, IntArray, IntensitySeries
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = ["BatchPlan", "MinTable", "plan_many"]

BoolArray = npt.NDArray[np.bool_]


class MinTable:
    """Sparse table over ``values``: the index of the leftmost minimum of any index range."""

    def __init__(self, values: FloatArray) -> None:
        self.values = values
        n = values.size
        levels = max(1, int(n).bit_length())
        table = np.zeros((levels, max(n, 1)), dtype=np.int64)
        table[0, :n] = np.arange(n)
        for k in range(1, levels):
            width = 1 << k
            count = n - width + 1
            if count <= 0:
                break
            left = table[k - 1, :count]
            right = table[k - 1, width // 2 : width // 2 + count]
            table[k, :count] = np.where(values[left] <= values[right], left, right)
        self.table = table

    def argmin(self, lo: IntArray, hi: IntArray) -> IntArray:
        """Leftmost index of the minimum in each inclusive range ``[lo, hi]`` (``lo <= hi``)."""
        length = hi - lo + 1
        k = np.frexp(length.astype(np.float64))[1].astype(np.int64) - 1  # floor(log2(length))
        left = self.table[k, lo]
        right = self.table[k, hi - (np.int64(1) << k) + 1]
        return np.where(self.values[left] <= self.values[right], left, right)


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """One start per job (epoch seconds), its end, mean and whether it fell back."""

    start_s: IntArray
    end_s: IntArray
    mean_intensity_g_per_kwh: FloatArray
    fallback: BoolArray


def _query(
    table: MinTable, grid_s: IntArray, step: int, lo: IntArray, hi: IntArray, valid: BoolArray
) -> tuple[FloatArray, IntArray]:
    """Best (key, start) over the regular candidate starts ``grid_s`` (spaced ``step``) inside
    each ``[lo, hi]``."""
    key = np.full(lo.size, np.inf)
    start = np.zeros(lo.size, dtype=np.int64)
    i_lo = -(-(lo - grid_s[0]) // step)
    i_hi = (hi - grid_s[0]) // step
    i_lo = np.maximum(i_lo, 0)
    i_hi = np.minimum(i_hi, grid_s.size - 1)
    ok = valid & (i_lo <= i_hi)
    if ok.any():
        idx = table.argmin(i_lo[ok], i_hi[ok])
        key[ok] = table.values[idx]
        start[ok] = grid_s[idx]
    return key, start


def plan_many(
    series: IntensitySeries,
    submit_s: npt.ArrayLike,
    duration_s: npt.ArrayLike,
    deadline_s: npt.ArrayLike,
    *,
    now_s: npt.ArrayLike | None = None,
    margin_s: npt.ArrayLike = 0,
) -> BatchPlan:
    """Plan every job (arrays broadcast to one length) with the ``dynamic`` rule on ``series``.

    ``now_s`` is each job's decision time (default: its submit time). Raises
    :class:`InfeasibleJobError` naming the first job whose latest safe start comes before its
    earliest start.
    """
    submit, dur, deadline, margin = (
        np.asarray(x, dtype=np.int64) for x in (submit_s, duration_s, deadline_s, margin_s)
    )
    now = submit if now_s is None else np.asarray(now_s, dtype=np.int64)
    submit, dur, deadline, margin, now = np.broadcast_arrays(submit, dur, deadline, margin, now)
    if (dur <= 0).any():
        raise UsageError(f"job {int(np.argmax(dur <= 0))}: duration must be positive")
    earliest = np.maximum(submit, now)
    latest = deadline - dur - margin
    bad = latest < earliest
    if bad.any():
        j = int(np.argmax(bad))
        raise InfeasibleJobError(
            f"job {j} (and {int(bad.sum()) - 1} more): latest safe start "
            f"{format_time(from_epoch_s(latest[j]))} is before its earliest start "
            f"{format_time(from_epoch_s(earliest[j]))}",
            hint="move those deadlines later or shorten the jobs",
        )
    n_jobs = submit.size
    best_key = np.full(n_jobs, np.inf)
    best_start = latest.copy()
    s0, r, end = series.start_s, series.resolution_s, series.end_s
    for d in np.unique(dur).tolist():
        if end - d < s0:
            continue  # no window of this length fits in the series: those jobs fall back
        sel = np.flatnonzero(dur == d)
        lo = np.maximum(earliest[sel], s0)
        hi = np.minimum(latest[sel], end - d)
        valid = lo <= hi
        lo_c, hi_c = np.where(valid, lo, s0), np.where(valid, hi, s0)
        candidates: list[tuple[FloatArray, IntArray]] = []
        grids = [s0 + r * np.arange(0, (end - d - s0) // r + 1, dtype=np.int64)]
        if d % r:
            k_first = -(-d // r)
            grids.append(s0 + r * np.arange(k_first, len(series) + 1, dtype=np.int64) - d)
        for grid in grids:
            if grid.size == 0:
                continue
            table = MinTable(comparable(series.window_means(grid, grid + d)))
            candidates.append(_query(table, grid, r, lo_c, hi_c, valid))
        for point in (lo_c, hi_c):
            key = comparable(series.window_means(point, point + d))
            candidates.append((np.where(valid, key, np.inf), point))
        keys = np.stack([c[0] for c in candidates])
        starts = np.stack([c[1] for c in candidates])
        top = keys.min(axis=0)
        starts = np.where(keys == top, starts, np.iinfo(np.int64).max).min(axis=0)
        found = np.isfinite(top)
        best_key[sel] = top
        best_start[sel] = np.where(found, starts, latest[sel])
    fallback = ~np.isfinite(best_key)
    ends = best_start + dur
    means = np.full(n_jobs, np.nan)
    inside = (best_start >= s0) & (ends <= end)
    if inside.any():
        means[inside] = series.window_means(best_start[inside], ends[inside])
    return BatchPlan(best_start, ends, means, fallback)
