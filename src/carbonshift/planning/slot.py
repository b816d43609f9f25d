"""Learning a static slot: the fixed daily (or weekly) start with the lowest historical mean.

A slot is a wall-clock time in an IANA zone (``tz``): 03:00 in Europe/Berlin is 01:00Z in
summer and 02:00Z in winter, and the learning evaluates every day at its own UTC offset, so
the slot it finds is the one a cron job in that zone would run at. A slot learned in ``UTC``
is fixed in UTC (it moves by an hour in local time across daylight-saving changes).

The training period must end before the decision time of any plan that uses the slot; the
:class:`~carbonshift.planning.policies.StaticPolicy` checks that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from carbonshift.errors import DataError, UsageError
from carbonshift.planning.cron import CronSchedule, zone_info
from carbonshift.planning.window import comparable
from carbonshift.signals.series import FloatArray, IntArray, IntensitySeries
from carbonshift.timeutil import format_duration, format_time, from_epoch_s

__all__ = ["StaticSlot", "learn_static_slot", "slot_starts"]

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class StaticSlot:
    """A learned slot and how its windows fared over the training period.

    ``offset_min`` counts minutes after local midnight (daily) or after local Monday 00:00
    (weekly). The spread (``std``, ``p10``, ``p90``) is over the individual days (weeks).
    """

    zone: str
    tz: str
    weekly: bool
    offset_min: int
    duration_s: int
    mean_intensity_g_per_kwh: float
    std_g_per_kwh: float
    p10_g_per_kwh: float
    p90_g_per_kwh: float
    occurrences: int
    trained_from_s: int
    trained_until_s: int

    @property
    def hour(self) -> int:
        return (self.offset_min // 60) % 24

    @property
    def minute(self) -> int:
        return self.offset_min % 60

    @property
    def weekday(self) -> int:
        """0 = Monday (Python's convention); only meaningful for weekly slots."""
        return self.offset_min // 1440

    def cron_expr(self) -> str:
        """``minute hour * * day-of-week`` (cron's day of week: 0 = Sunday)."""
        dow = str((self.weekday + 1) % 7) if self.weekly else "*"
        return f"{self.minute} {self.hour} * * {dow}"

    def schedule(self) -> CronSchedule:
        return CronSchedule.parse(self.cron_expr(), self.tz)

    def describe(self) -> str:
        when = f"{_WEEKDAYS[self.weekday]}s " if self.weekly else "daily "
        return (
            f"{when}{self.hour:02d}:{self.minute:02d} {self.tz} for "
            f"{format_duration(timedelta(seconds=self.duration_s))}"
        )


def _period_starts(train_from_s: int, train_to_s: int, tz: str, weekly: bool) -> list[date]:
    zone = zone_info(tz)
    first = from_epoch_s(train_from_s).astimezone(zone).date()
    if weekly:
        first -= timedelta(days=first.weekday())
    last = from_epoch_s(train_to_s).astimezone(zone).date()
    step = timedelta(days=7 if weekly else 1)
    out = []
    day = first
    while day <= last:
        out.append(day)
        day += step
    return out


def slot_starts(days: list[date], offsets_min: IntArray, tz: str) -> IntArray:
    """UTC epoch seconds of each local ``day`` + wall-clock offset, shape (days, offsets).

    Wall-clock times skipped by a daylight-saving change are shifted forward by the gap and
    repeated ones take their first occurrence (``fold=0``), as for cron schedules.
    """
    if tz == "UTC":
        base = np.array(
            [int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) for d in days]
        )
        return base[:, None] + 60 * offsets_min[None, :].astype(np.int64)
    zone = zone_info(tz)
    out = np.empty((len(days), offsets_min.size), dtype=np.int64)
    for i, d in enumerate(days):
        midnight = datetime(d.year, d.month, d.day, tzinfo=zone)
        for j, off in enumerate(offsets_min.tolist()):
            # aware + timedelta is wall-clock arithmetic in Python; fold=0 as in cron.py
            out[i, j] = int((midnight + timedelta(minutes=off)).timestamp())
    return out


def learn_static_slot(
    history: IntensitySeries,
    duration_s: int,
    *,
    train_from_s: int,
    train_to_s: int,
    tz: str = "UTC",
    weekly: bool = False,
    step_s: int | None = None,
) -> StaticSlot:
    """The daily (weekly) wall-clock start in ``tz`` whose windows of ``duration_s`` have the
    lowest mean intensity over ``[train_from_s, train_to_s)``; ties go to the earliest offset.

    Only windows that lie wholly inside the training period and on known data count. Candidate
    offsets are every ``step_s`` (default: the data resolution, at least one minute).
    """
    if train_to_s <= train_from_s:
        raise UsageError("training period: --to must come after --from")
    if duration_s <= 0:
        raise UsageError("duration: must be positive", hint="e.g. 1h")
    step = step_s if step_s is not None else max(60, history.resolution_s)
    if step % 60 or step <= 0:
        raise UsageError("slot step: must be a whole number of minutes", hint="e.g. 15m or 1h")
    period_min = (7 if weekly else 1) * 1440
    offsets = np.arange(0, period_min, step // 60, dtype=np.int64)
    days = _period_starts(train_from_s, train_to_s, tz, weekly)
    starts = slot_starts(days, offsets, tz)
    lo = max(train_from_s, history.start_s)
    hi = min(train_to_s, history.end_s)
    valid = (starts >= lo) & (starts + duration_s <= hi)
    means: FloatArray = np.full(starts.shape, np.nan)
    if valid.any():
        s = starts[valid]
        means[valid] = history.window_means(s, s + duration_s)
    counts = (~np.isnan(means)).sum(axis=0)
    if not counts.any():
        raise DataError(
            f"{history.zone}: no complete {format_duration(timedelta(seconds=duration_s))} window "
            f"on known data between {format_time(from_epoch_s(train_from_s))} and "
            f"{format_time(from_epoch_s(train_to_s))}",
            hint="choose a longer training period inside the data",
        )
    with np.errstate(invalid="ignore"):
        col_means = np.where(counts > 0, np.nansum(means, axis=0) / np.maximum(counts, 1), np.nan)
    best = int(np.argmin(comparable(col_means)))
    column = means[:, best]
    column = column[~np.isnan(column)]
    return StaticSlot(
        zone=history.zone,
        tz=tz,
        weekly=weekly,
        offset_min=int(offsets[best]),
        duration_s=int(duration_s),
        mean_intensity_g_per_kwh=float(column.mean()),
        std_g_per_kwh=float(column.std()),
        p10_g_per_kwh=float(np.percentile(column, 10)),
        p90_g_per_kwh=float(np.percentile(column, 90)),
        occurrences=int(column.size),
        trained_from_s=int(train_from_s),
        trained_until_s=int(train_to_s),
    )
