"""Finding missing steps in a series and filling them by a method the caller names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from carbonshift.errors import GapError, UsageError
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import Span, format_time, from_epoch_s

__all__ = ["FillMethod", "Gap", "fill_gaps", "find_gaps"]

FillMethod = Literal["linear", "previous", "previous_day", "previous_week", "constant"]
FILL_METHODS: tuple[str, ...] = get_args(FillMethod)


@dataclass(frozen=True, slots=True)
class Gap(Span):
    """A run of missing steps ``[start_s, end_s)``."""

    def __str__(self) -> str:
        return f"{format_time(self.start)}..{format_time(self.end)}"


def find_gaps(series: IntensitySeries) -> list[Gap]:
    """Every run of missing (NaN) steps, in time order."""
    nan = np.isnan(series.values).astype(np.int8)
    if not nan.any():
        return []
    edges = np.diff(np.concatenate(([0], nan, [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    r = series.resolution_s
    return [
        Gap(series.start_s + int(i) * r, series.start_s + int(j) * r)
        for i, j in zip(starts, ends, strict=True)
    ]


def fill_gaps(
    series: IntensitySeries,
    method: FillMethod,
    *,
    max_gap_s: int | None = None,
    value: float | None = None,
) -> IntensitySeries:
    """Fill missing steps by ``method`` and mark them in ``filled``.

    - ``linear``: straight line in time between the known neighbours (inner gaps only);
    - ``previous``: carry the last known value forward;
    - ``previous_day`` / ``previous_week``: the value 24 h / 168 h earlier (repeated if needed);
    - ``constant``: the given ``value``.

    Gaps longer than ``max_gap_s`` are refused with a :class:`GapError` rather than papered
    over. A gap that the method cannot reach (e.g. a leading gap with ``previous``) is too.
    """
    if method not in FILL_METHODS:
        raise UsageError(
            f"fill method: {method!r} is unknown", hint=f"use one of {', '.join(FILL_METHODS)}"
        )
    gaps = find_gaps(series)
    if not gaps:
        return series
    if max_gap_s is not None:
        long = [g for g in gaps if g.duration_s > max_gap_s]
        if long:
            raise GapError(
                f"{series.zone}: gap {long[0]} is longer than the allowed {max_gap_s} s",
                hint="raise max_gap or fill that span by another method",
            )
    values = series.values.copy()
    nan = np.isnan(values)
    idx = np.arange(values.size)
    if method == "constant":
        if value is None or not np.isfinite(value):
            raise UsageError(
                "fill value: constant filling needs a finite value", hint="pass value=..."
            )
        values[nan] = value
    elif method == "linear":
        known = np.flatnonzero(~nan)
        if known.size == 0 or nan[0] or nan[-1]:
            raise GapError(
                f"{series.zone}: linear filling cannot reach a gap at the edge of the series",
                hint="slice the series to start and end on known values, or use 'previous'",
            )
        values[nan] = np.interp(idx[nan], known, values[known])
    elif method == "previous":
        if nan[0]:
            raise GapError(
                f"{series.zone}: the series starts with a gap ({gaps[0]}) that has no previous value",
                hint="slice it off or fill by 'constant'",
            )
        last_known = np.maximum.accumulate(np.where(nan, 0, idx))
        values = values[last_known]
    else:
        period_s = 86_400 if method == "previous_day" else 604_800
        if period_s % series.resolution_s:
            raise UsageError("fill method: the period is not a whole number of steps")
        lag = period_s // series.resolution_s
        for i in np.flatnonzero(nan):  # runs are short; each value depends on the filled one before
            if i - lag < 0 or np.isnan(values[i - lag]):
                raise GapError(
                    f"{series.zone}: no value {method.replace('_', ' ')} before "
                    f"{format_time(from_epoch_s(series.start_s + int(i) * series.resolution_s))}",
                    hint="use 'linear' or 'previous' for this gap",
                )
            values[i] = values[i - lag]
    filled = nan if series.filled is None else (series.filled | nan)
    return series.replace_values(values, filled=filled)
