"""A provider's published forecast as a forecaster: at ``now``, only what had been issued.

Trace files store a provider forecast as one stitched column: for each interval ``t`` the value
the provider forecast for it some time ahead (labels ``kind="forecast"`` with a ``lead``). To
replay it honestly we need when each value was *issued*; an :class:`IssueSchedule` says so:

- :class:`FixedLead` (the default, from the column's ``lead`` label): the value for ``t`` was
  issued at ``t - lead``. WattTime's ``forecast_carbon_intensity`` column is exactly that (lead
  60 min).
- :class:`DailyIssue`: one forecast per UTC day, the values for day ``D`` all issued at
  ``D - days_ahead + issue time of day``.

**DACF assumption.** DACF (Maji et al., e-Energy'22) publishes a *day-ahead* forecast per
calendar day; the data do not say at what time of the day before. The ``dacf`` dataset labels
its column ``lead = 24 h`` and we keep that as the default: the value for ``t`` counts as
issued at ``t - 24 h``, so at ``now`` the forecast reaches ``now + 24 h`` (25 hourly steps from
an on-the-hour ``now``). This is the horizon of a true day-ahead product issued just before each
day starts, spread evenly over the day. ``DailyIssue(issue_time_of_day_s=0, days_ahead=1)``
(issued at 00:00 UTC the day before, horizon 24-48 h) is the optimistic alternative;
``DailyIssue(12 * 3600)`` (noon the day before, like ENTSO-E's day-ahead generation forecasts)
lies in between.

A value counts as visible at ``now`` iff it was issued at or before ``now``. The forecast runs
from the step containing ``now`` and **ends at the first step not yet issued** (or outside the
stored column): it is never filled beyond what the provider had published. Missing values
inside what was issued stay missing (NaN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from carbonshift.errors import DataError, UsageError
from carbonshift.forecast.base import (
    BatchForecast,
    Forecast,
    Forecaster,
    ProgressFn,
    first_step_index,
    forecast_labels,
)
from carbonshift.signals.series import IntArray, IntensitySeries
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = ["DailyIssue", "FixedLead", "IssueSchedule", "ProviderForecast"]

_DAY_S = 86_400
BoolArray = npt.NDArray[np.bool_]


class IssueSchedule(Protocol):
    """When the value for each interval start was issued (seconds since the epoch)."""

    def issued_at_s(self, interval_starts_s: IntArray) -> IntArray: ...

    def describe(self) -> str: ...


@dataclass(frozen=True, slots=True)
class FixedLead:
    """The value for interval ``t`` was issued at ``t - lead_s``."""

    lead_s: int

    def __post_init__(self) -> None:
        if self.lead_s < 0:
            raise UsageError("provider lead: must not be negative", hint="e.g. 24h")

    def issued_at_s(self, interval_starts_s: IntArray) -> IntArray:
        return np.asarray(interval_starts_s - self.lead_s, dtype=np.int64)

    def describe(self) -> str:
        return f"each value issued {self.lead_s // 60} min before its interval"


@dataclass(frozen=True, slots=True)
class DailyIssue:
    """One forecast per UTC day: the values for day ``D`` are issued at
    ``D - days_ahead days + issue_time_of_day_s``."""

    issue_time_of_day_s: int = 0
    days_ahead: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.issue_time_of_day_s < _DAY_S:
            raise UsageError("provider issue time: must lie within a day", hint="e.g. 12:00")
        if self.days_ahead < 0:
            raise UsageError("provider days ahead: must not be negative", hint="e.g. 1")

    def issued_at_s(self, interval_starts_s: IntArray) -> IntArray:
        day = (interval_starts_s // _DAY_S) * _DAY_S
        return np.asarray(day - self.days_ahead * _DAY_S + self.issue_time_of_day_s, dtype=np.int64)

    def describe(self) -> str:
        hh, mm = divmod(self.issue_time_of_day_s // 60, 60)
        return f"each day's values issued at {hh:02d}:{mm:02d} UTC, {self.days_ahead} day(s) before"


class ProviderForecast(Forecaster):
    """Replays a stored provider forecast column without lookahead (see the module docstring).

    ``column`` is the stored forecast (labels ``kind="forecast"``); ``schedule`` defaults to
    :class:`FixedLead` of the column's ``lead`` label. The history passed to :meth:`predict`
    is used only to check that the labels match (same zone and signal meaning).
    """

    name = "provider"

    def __init__(self, column: IntensitySeries, schedule: IssueSchedule | None = None) -> None:
        if column.labels.kind != "forecast":
            raise DataError(
                f"{column.zone}: the provider column holds actual values, not a forecast",
                hint="pass the forecast variant of the trace (labels kind='forecast')",
            )
        if schedule is None:
            lead = column.labels.lead
            if lead is None:
                raise UsageError(
                    f"{column.zone}: the provider column carries no lead; say when it was issued",
                    hint="pass schedule=FixedLead(...) or DailyIssue(...)",
                )
            schedule = FixedLead(int(lead.total_seconds()))
        self.column = column
        self.schedule = schedule

    def _check_labels(self, history: IntensitySeries) -> None:
        a, b = history.labels, self.column.labels
        if a.zone != b.zone or not a.comparable_with(b):
            raise DataError(
                f"{b.zone}: the provider forecast means {b.describe()}, the history means "
                f"{a.describe()}",
                hint="backtest a provider forecast against the actuals of the same dataset",
            )

    def _visible(self, nows_s: IntArray, starts_s: IntArray) -> tuple[IntArray, BoolArray]:
        """Column index per (row, step) and whether the step is in the visible prefix."""
        col = self.column
        offset = starts_s - col.start_s
        index = offset // col.resolution_s
        ok = (offset % col.resolution_s == 0) & (index >= 0) & (index < len(col))
        ok &= self.schedule.issued_at_s(starts_s) <= nows_s[:, None]
        prefix = np.logical_and.accumulate(ok, axis=1)
        return np.asarray(np.clip(index, 0, len(col) - 1), dtype=np.int64), prefix

    def _predict(self, known: IntensitySeries, now_s: int, n_steps: int) -> Forecast:
        self._check_labels(known)
        col = self.column
        end_s = known.start_s + (first_step_index(known, now_s) + n_steps) * known.resolution_s
        t0 = col.start_s + first_step_index(col, now_s) * col.resolution_s
        n = -(-(end_s - t0) // col.resolution_s)
        starts = t0 + col.resolution_s * np.arange(n, dtype=np.int64)
        index, prefix = self._visible(np.array([now_s], dtype=np.int64), starts[None, :])
        count = int(prefix[0].sum())
        if count == 0:
            raise DataError(
                f"{col.zone}: no {col.labels.provider} forecast for "
                f"{format_time(from_epoch_s(t0))} had been issued by "
                f"{format_time(from_epoch_s(now_s))} ({self.schedule.describe()}; the stored "
                f"forecast covers {format_time(col.start)}..{format_time(col.end)})",
                hint="choose a decision time inside the provider forecast's period",
            )
        values = col.values[index[0, :count]].copy()
        series = IntensitySeries(t0, col.resolution_s, values, forecast_labels(col.labels, now_s))
        notes: tuple[str, ...] = ()
        if count < n:
            notes = (f"the provider forecast ends at {format_time(series.end)} (not issued yet)",)
        return Forecast(series, self.name, {}, notes)

    def _predict_batch(
        self,
        history: IntensitySeries,
        nows_s: IntArray,
        first_index: IntArray,
        n_steps: int,
        progress: ProgressFn | None,
    ) -> BatchForecast:
        self._check_labels(history)
        col = self.column
        r = history.resolution_s
        if col.resolution_s != r or (col.start_s - history.start_s) % r:
            return super()._predict_batch(history, nows_s, first_index, n_steps, progress)
        starts = history.start_s + r * (first_index[:, None] + np.arange(n_steps)[None, :])
        index, prefix = self._visible(nows_s, np.asarray(starts, dtype=np.int64))
        point = np.where(prefix, col.values[index], np.nan)
        if progress is not None:
            progress(int(nows_s.size))
        return BatchForecast(nows_s, first_index, point, {})

    def __repr__(self) -> str:
        return f"ProviderForecast({self.column!r}, {self.schedule!r})"
