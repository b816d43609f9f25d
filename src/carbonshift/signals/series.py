"""``IntensitySeries``: a zone's values on a regular time grid, with step semantics.

A value stamped ``t`` with resolution ``r`` is the mean over ``[t, t + r)``. The mean over any
window ``[a, b)`` is the time-weighted mean of the steps it overlaps, partial steps weighted by
overlap; nothing is ever interpolated unless a caller asks for it by name. Missing values are
NaN and poison any window that overlaps them (see :mod:`carbonshift.signals.gaps` to fill them
explicitly). Times are whole seconds since the Unix epoch (UTC) inside; the ``datetime`` helpers
convert at the edges.

All window computations are vectorised with prefix sums: ``window_means`` evaluates millions of
windows without a Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt

from carbonshift.errors import DataError, UsageError
from carbonshift.signals.labels import SignalLabels
from carbonshift.timeutil import format_duration, format_time, from_epoch_s, to_epoch_s

__all__ = ["FloatArray", "IntArray", "IntensitySeries", "align"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
TimeLike = datetime | int | np.integer


def _as_epoch(value: TimeLike) -> int:
    if isinstance(value, datetime):
        return to_epoch_s(value)
    return int(value)


@dataclass(frozen=True, eq=False)
class IntensitySeries:
    """Values on the grid ``start_s + i * resolution_s`` for ``i`` in ``range(len(values))``.

    ``values`` are in the unit of ``labels.unit`` (gCO2eq/kWh unless said otherwise); NaN marks
    a missing step. ``filled`` marks steps whose value was filled in rather than measured.
    """

    start_s: int
    resolution_s: int
    values: FloatArray
    labels: SignalLabels
    filled: npt.NDArray[np.bool_] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.resolution_s <= 0:
            raise UsageError(
                f"resolution: {self.resolution_s} s is not positive",
                hint="give the step length in seconds, e.g. 3600",
            )
        values = np.ascontiguousarray(self.values, dtype=np.float64)
        if values.ndim != 1:
            raise UsageError("values: expected a 1-D array", hint="pass one value per time step")
        if np.isinf(values).any():
            raise DataError(
                f"{self.labels.zone}: infinite intensity values",
                hint="replace them with NaN (missing) or a real value",
            )
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "start_s", int(self.start_s))
        object.__setattr__(self, "resolution_s", int(self.resolution_s))
        if self.filled is not None:
            filled = np.asarray(self.filled, dtype=bool)
            if filled.shape != values.shape:
                raise UsageError("filled: mask length differs from values")
            object.__setattr__(self, "filled", filled)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_points(
        cls,
        times_s: npt.ArrayLike,
        values: npt.ArrayLike,
        labels: SignalLabels,
        *,
        resolution_s: int | None = None,
        source: str = "input",
        row_label: str = "row",
        row_base: int = 1,
    ) -> IntensitySeries:
        """Build a series from (time, value) points that may skip steps (those become NaN).

        The resolution is the smallest spacing between points unless given. Points must be
        strictly increasing and lie on one grid; anything else is a :class:`DataError` that
        names the offending row of ``source``.
        """
        t = np.asarray(times_s, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        if t.ndim != 1 or t.shape != v.shape:
            raise UsageError("times and values must be 1-D arrays of the same length")
        if t.size == 0:
            raise DataError(f"{source}: no data rows", hint="the file or answer holds no values")
        diffs = np.diff(t)
        if diffs.size and (diffs <= 0).any():
            i = int(np.argmax(diffs <= 0)) + 1
            what = "duplicated" if diffs[i - 1] == 0 else "out of order"
            raise DataError(
                f"{source}: {row_label} {i + row_base}: timestamp "
                f"{format_time(from_epoch_s(t[i]))} is {what}",
                hint="sort the rows by timestamp and keep one value per interval",
            )
        if resolution_s is None:
            if t.size < 2:
                raise DataError(
                    f"{source}: a single row cannot tell the resolution",
                    hint="give the resolution explicitly or provide at least two rows",
                )
            # the most common spacing is the resolution; a skipped step is a gap, while a
            # spacing that is not a multiple of it means the file mixes resolutions
            spacings, counts = np.unique(diffs, return_counts=True)
            resolution_s = int(spacings[np.argmax(counts)])
        off = diffs % resolution_s if diffs.size else diffs
        if off.size and (off != 0).any():
            i = int(np.argmax(off != 0)) + 1
            raise DataError(
                f"{source}: {row_label} {i + row_base}: timestamp "
                f"{format_time(from_epoch_s(t[i]))} is off the "
                f"{format_duration(timedelta(seconds=resolution_s))} grid (mixed resolutions)",
                hint="resample the file to one resolution before importing",
            )
        n = int((t[-1] - t[0]) // resolution_s) + 1
        grid = np.full(n, np.nan)
        grid[(t - t[0]) // resolution_s] = v
        return cls(int(t[0]), int(resolution_s), grid, labels)

    # ------------------------------------------------------------------ basic properties
    def __len__(self) -> int:
        return int(self.values.size)

    @property
    def end_s(self) -> int:
        """End of the last step (exclusive)."""
        return self.start_s + self.resolution_s * len(self)

    @property
    def start(self) -> datetime:
        return from_epoch_s(self.start_s)

    @property
    def end(self) -> datetime:
        return from_epoch_s(self.end_s)

    @property
    def resolution(self) -> timedelta:
        return timedelta(seconds=self.resolution_s)

    @property
    def times_s(self) -> IntArray:
        """Start of every step, seconds since the epoch."""
        return self.start_s + self.resolution_s * np.arange(len(self), dtype=np.int64)

    @property
    def zone(self) -> str:
        return self.labels.zone

    def mean(self) -> float:
        """Mean of the known values (NaN steps ignored)."""
        known = self.values[~np.isnan(self.values)]
        return float(known.mean()) if known.size else float("nan")

    def has_gaps(self) -> bool:
        return bool(np.isnan(self.values).any())

    def __repr__(self) -> str:
        return (
            f"IntensitySeries({self.labels.zone!r}, {format_time(self.start)}..{format_time(self.end)}, "
            f"{format_duration(self.resolution)}, n={len(self)})"
        )

    def replace_values(
        self, values: FloatArray, *, filled: npt.NDArray[np.bool_] | None = None
    ) -> IntensitySeries:
        """Same grid and labels, new values (e.g. a what-if or a filled copy)."""
        if values.shape != self.values.shape:
            raise UsageError("values: new values must have the same length as the series")
        return IntensitySeries(self.start_s, self.resolution_s, values, self.labels, filled)

    def with_labels(self, labels: SignalLabels) -> IntensitySeries:
        return IntensitySeries(self.start_s, self.resolution_s, self.values, labels, self.filled)

    # ------------------------------------------------------------------ window means
    def _prefix(self) -> tuple[FloatArray, IntArray]:
        """Cumulative integral (value-seconds) and cumulative NaN count, computed once."""
        cached = self.__dict__.get("_prefix_cache")
        if cached is None:
            nan = np.isnan(self.values)
            nan_count = np.zeros(len(self) + 1, dtype=np.int64)
            np.cumsum(nan, out=nan_count[1:])
            clean = np.where(nan, 0.0, self.values) if nan_count[-1] else self.values
            integral = np.zeros(len(self) + 1)
            np.cumsum(clean, out=integral[1:])
            integral *= self.resolution_s
            cached = (integral, nan_count)
            self.__dict__["_prefix_cache"] = cached
        return cached

    def _grid(self) -> IntArray:
        """Step starts, computed once and shared read-only."""
        grid = self.__dict__.get("_grid_cache")
        if grid is None:
            grid = self.times_s
            grid.flags.writeable = False
            self.__dict__["_grid_cache"] = grid
        return grid

    def window_integrals(self, starts_s: npt.ArrayLike, ends_s: npt.ArrayLike) -> FloatArray:
        """Integral of intensity over each ``[start, end)`` in value-seconds (NaN over a gap)."""
        a = np.asarray(starts_s, dtype=np.float64)
        b = np.asarray(ends_s, dtype=np.float64)
        a, b = np.broadcast_arrays(a, b)
        if a.size == 0:
            return np.zeros(a.shape)
        if (b < a).any():
            raise UsageError("window: an end lies before its start", hint="pass end >= start")
        if a.min() < self.start_s or b.max() > self.end_s:
            lo, hi = float(a.min()), float(b.max())
            raise DataError(
                f"{self.labels.zone}: window {format_time(from_epoch_s(lo))}.."
                f"{format_time(from_epoch_s(hi))} reaches outside the data "
                f"({format_time(self.start)}..{format_time(self.end)})",
                hint="choose windows inside the series or load more data",
            )
        integral, nan_count = self._prefix()
        res = self.resolution_s
        n = len(self)
        xa = a - self.start_s
        xb = b - self.start_s
        ka = np.minimum((xa // res).astype(np.int64), n - 1)
        kb = np.minimum((xb // res).astype(np.int64), n - 1)
        clean = np.where(np.isnan(self.values), 0.0, self.values) if nan_count[-1] else self.values
        # full steps strictly between the end steps come from the prefix sums; the two partial
        # end steps are computed directly, and a window inside one step never touches the
        # prefix sums at all (no cancellation error for short windows)
        va, vb = clean[ka], clean[kb]
        head = va * ((ka + 1) * res - xa)
        tail = vb * (xb - kb * res)
        middle = integral[kb] - integral[np.minimum(ka + 1, kb)]
        out = np.where(ka == kb, va * (xb - xa), head + middle + tail)
        # steps touched with positive overlap: [floor(a), ceil(b))
        first = ka
        last = np.minimum(np.ceil(xb / res).astype(np.int64), n)
        touched_nan = (nan_count[np.maximum(last, first)] - nan_count[first]) > 0
        out = np.where(touched_nan & (b > a), np.nan, out)
        return out

    def window_means(self, starts_s: npt.ArrayLike, ends_s: npt.ArrayLike) -> FloatArray:
        """Mean intensity over each ``[start, end)``; vectorised over any number of windows.

        Partial steps count by overlap. A window that overlaps a missing step is NaN. Windows
        must have positive length and lie inside ``[start_s, end_s]``.
        """
        a = np.asarray(starts_s, dtype=np.float64)
        b = np.asarray(ends_s, dtype=np.float64)
        a, b = np.broadcast_arrays(a, b)
        if a.size and (b <= a).any():
            raise UsageError("window: length must be positive", hint="pass end > start")
        return self.window_integrals(a, b) / (b - a)

    def window_mean(self, start: TimeLike, end: TimeLike) -> float:
        """Mean over one window ``[start, end)``."""
        return float(self.window_means(np.array([_as_epoch(start)]), np.array([_as_epoch(end)]))[0])

    def rolling_means(
        self, duration_s: int, *, step_s: int | None = None
    ) -> tuple[IntArray, FloatArray]:
        """Mean of every window of ``duration_s`` that starts on the grid and fits in the data.

        Returns ``(starts_s, means)``. ``step_s`` (a multiple of the resolution, default the
        resolution) thins the candidate starts. When ``duration_s`` is a whole number of steps
        this is a single subtraction of prefix sums.
        """
        step = self.resolution_s if step_s is None else int(step_s)
        if duration_s <= 0:
            raise UsageError("duration: must be positive", hint="e.g. 1h")
        if step % self.resolution_s:
            raise UsageError(
                "step: must be a multiple of the series resolution",
                hint=f"use a multiple of {format_duration(self.resolution)}",
            )
        last_start = self.end_s - duration_s
        if last_start < self.start_s:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        stride = step // self.resolution_s
        count = (last_start - self.start_s) // step + 1
        starts = self._grid()[: (count - 1) * stride + 1 : stride]
        if duration_s % self.resolution_s == 0:
            # whole steps: one subtraction of contiguous (strided) prefix-sum slices, no gathers
            k = duration_s // self.resolution_s
            integral, nan_count = self._prefix()
            hi = slice(k, k + (count - 1) * stride + 1, stride)
            lo = slice(0, (count - 1) * stride + 1, stride)
            means = np.subtract(integral[hi], integral[lo])
            means *= 1.0 / duration_s
            if nan_count[-1]:
                means[(nan_count[hi] - nan_count[lo]) > 0] = np.nan
            return starts, means
        return starts, self.window_means(starts, starts + duration_s)

    # ------------------------------------------------------------------ reshaping
    def slice(self, start: TimeLike, end: TimeLike) -> IntensitySeries:
        """The steps that overlap ``[start, end)`` (whole steps; the grid is kept)."""
        a, b = _as_epoch(start), _as_epoch(end)
        if b <= a:
            raise UsageError("slice: end must come after start", hint="pass --from < --to")
        i0 = max(0, (a - self.start_s) // self.resolution_s)
        i1 = min(len(self), -(-(b - self.start_s) // self.resolution_s))
        if i1 <= i0:
            raise DataError(
                f"{self.labels.zone}: no data between {format_time(from_epoch_s(a))} and "
                f"{format_time(from_epoch_s(b))} (data covers {format_time(self.start)}.."
                f"{format_time(self.end)})",
                hint="choose a period inside the data",
            )
        filled = self.filled[i0:i1] if self.filled is not None else None
        return IntensitySeries(
            self.start_s + i0 * self.resolution_s,
            self.resolution_s,
            self.values[i0:i1].copy(),
            self.labels,
            filled,
        )

    def resample(self, resolution_s: int) -> IntensitySeries:
        """Mean-preserving change of resolution, in either direction.

        The new grid is aligned to multiples of ``resolution_s`` since the epoch and keeps only
        steps fully covered by the data. Each new step is the time-weighted mean of the old
        steps it overlaps, so coarsening averages and refining repeats the step value (no
        interpolation), and the integral over any span made of whole new steps is unchanged.
        """
        new = int(resolution_s)
        if new <= 0:
            raise UsageError("resolution: must be positive", hint="e.g. 15m or 1h")
        if new == self.resolution_s:
            return self
        first = -(-self.start_s // new) * new
        last_end = (self.end_s // new) * new
        if last_end <= first:
            raise DataError(
                f"{self.labels.zone}: the series is shorter than one "
                f"{format_duration(timedelta(seconds=new))} step",
                hint="resample to a finer resolution or load more data",
            )
        starts = np.arange(first, last_end, new, dtype=np.int64)
        values = self.window_means(starts, starts + new)
        filled = None
        if self.filled is not None and self.filled.any():
            marks = self.replace_values(self.filled.astype(np.float64))
            filled = marks.window_means(starts, starts + new) > 0
        return IntensitySeries(first, new, values, self.labels, filled)

    def to_frame(self) -> object:
        """A pandas DataFrame with ``timestamp`` (UTC) and ``carbon_intensity`` columns."""
        import pandas as pd

        frame = pd.DataFrame(
            {
                "timestamp": pd.to_datetime(self.times_s, unit="s", utc=True),
                "carbon_intensity": self.values,
            }
        )
        if self.filled is not None:
            frame["filled"] = self.filled.astype(np.int8)
        return frame


def align(
    series: Sequence[IntensitySeries],
    *,
    resolution_s: int | None = None,
    span: Literal["intersection", "union"] = "intersection",
) -> list[IntensitySeries]:
    """Put several series on one grid: one resolution (the coarsest unless given) and one span.

    ``intersection`` keeps the period every series covers; ``union`` covers all of them and
    pads with NaN (missing) where a series has no data.
    """
    if not series:
        return []
    res = resolution_s or max(s.resolution_s for s in series)
    resampled = [s.resample(res) for s in series]
    if span == "intersection":
        lo = max(s.start_s for s in resampled)
        hi = min(s.end_s for s in resampled)
        if hi <= lo:
            zones = ", ".join(s.labels.zone for s in series)
            raise DataError(
                f"{zones}: the series share no period", hint="pick series that overlap in time"
            )
    else:
        lo = min(s.start_s for s in resampled)
        hi = max(s.end_s for s in resampled)
    n = (hi - lo) // res
    out = []
    for s in resampled:
        values = np.full(n, np.nan)
        src0 = max(0, (lo - s.start_s) // res)
        dst0 = max(0, (s.start_s - lo) // res)
        count = min(len(s) - src0, n - dst0)
        if count > 0:
            values[dst0 : dst0 + count] = s.values[src0 : src0 + count]
        filled = None
        if s.filled is not None:
            filled = np.zeros(n, dtype=bool)
            if count > 0:
                filled[dst0 : dst0 + count] = s.filled[src0 : src0 + count]
        out.append(IntensitySeries(lo, res, values, s.labels, filled))
    return out
