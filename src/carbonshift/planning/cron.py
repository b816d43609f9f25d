"""Cron schedules (the 5-field subset) evaluated in an IANA time zone.

Fields: ``minute hour day-of-month month day-of-week``, each ``*``, a number, a range ``a-b``,
a step ``*/n`` or ``a-b/n`` or ``a/n``, or a comma list of those. Day of week is 0-7 with 0
and 7 both Sunday. As in Vixie cron, when both day fields are restricted (neither starts with
``*``) a day matches if *either* matches.

Occurrences are wall-clock times in the schedule's zone, converted with :mod:`zoneinfo`:

- a time skipped when clocks go forward (02:30 on 2022-03-27 in Europe/Berlin) runs at the
  same offset as before the change, i.e. shifted forward by the gap (03:30 CEST = 01:30Z);
- a time that happens twice when clocks go back (02:30 on 2022-10-30 in Europe/Berlin) runs
  once, at its first occurrence (02:30 CEST = 00:30Z).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from carbonshift.errors import UsageError
from carbonshift.timeutil import from_epoch_s, utc

__all__ = ["CronSchedule", "zone_info"]

_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_SEARCH_DAYS = 366 * 8 + 2


def zone_info(tz: str) -> ZoneInfo:
    """The IANA zone ``tz``, or a :class:`UsageError` naming it."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"time zone: {tz!r} is not an IANA time zone", hint="e.g. UTC or Europe/Berlin"
        ) from None


def _parse_field(text: str, name: str, lo: int, hi: int, expr: str) -> frozenset[int]:
    out: set[int] = set()

    def bad(why: str) -> UsageError:
        return UsageError(
            f"cron {expr!r}: {name} field {text!r} {why}",
            hint=f"use numbers {lo}-{hi}, lists, ranges a-b, steps */n or *",
        )

    for part in text.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                a, b = lo, hi
            elif "-" in base:
                a_text, b_text = base.split("-", 1)
                a, b = int(a_text), int(b_text)
            else:
                a = int(base)
                b = hi if step_text else a
        except ValueError:
            raise bad("is not understood") from None
        if step <= 0:
            raise bad("has a step that is not positive")
        if not (lo <= a <= hi and lo <= b <= hi) or a > b:
            raise bad(f"is outside {lo}-{hi}")
        out.update(range(a, b + 1, step))
    return frozenset(out)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression in a time zone. Build with :meth:`parse`."""

    expr: str
    tz: str = "UTC"
    minutes: frozenset[int] = field(default=frozenset(), repr=False)
    hours: frozenset[int] = field(default=frozenset(), repr=False)
    days: frozenset[int] = field(default=frozenset(), repr=False)
    months: frozenset[int] = field(default=frozenset(), repr=False)
    weekdays: frozenset[int] = field(default=frozenset(), repr=False)
    days_restricted: bool = field(default=False, repr=False)
    weekdays_restricted: bool = field(default=False, repr=False)

    @classmethod
    def parse(cls, expr: str, tz: str = "UTC") -> CronSchedule:
        zone_info(tz)
        parts = expr.split()
        if len(parts) != 5:
            raise UsageError(
                f"cron {expr!r}: expected 5 fields (minute hour day-of-month month day-of-week)",
                hint="e.g. '0 3 * * *' for 03:00 every day",
            )
        sets = [
            _parse_field(p, name, lo, hi, expr)
            for p, (name, lo, hi) in zip(parts, _FIELDS, strict=True)
        ]
        weekdays = frozenset(d % 7 for d in sets[4])
        return cls(
            " ".join(parts),
            tz,
            sets[0],
            sets[1],
            sets[2],
            sets[3],
            weekdays,
            not parts[2].startswith("*"),
            not parts[4].startswith("*"),
        )

    @property
    def zone(self) -> ZoneInfo:
        return zone_info(self.tz)

    def matches_day(self, day: date) -> bool:
        """Whether the schedule fires on this local calendar day."""
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.weekday() + 1) % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow

    def _day_times(self, day: date) -> list[datetime]:
        zone = self.zone
        out = []
        for h in sorted(self.hours):
            for m in sorted(self.minutes):
                local = datetime(day.year, day.month, day.day, h, m, tzinfo=zone)  # fold=0
                out.append(local.astimezone(UTC))
        return out

    def occurrences(self, start: datetime, end: datetime) -> list[datetime]:
        """Every firing time in ``[start, end)``, as UTC datetimes, in order, each once."""
        a, b = utc(start), utc(end)
        zone = self.zone
        day = a.astimezone(zone).date() - timedelta(days=1)
        last = b.astimezone(zone).date() + timedelta(days=1)
        found: set[datetime] = set()
        while day <= last:
            if self.matches_day(day):
                found.update(t for t in self._day_times(day) if a <= t < b)
            day += timedelta(days=1)
        return sorted(found)

    def next_at_or_after(self, when: datetime) -> datetime:
        """The first firing time at or after ``when`` (UTC)."""
        t = utc(when)
        zone = self.zone
        day = t.astimezone(zone).date() - timedelta(days=1)
        best: datetime | None = None
        for _ in range(_SEARCH_DAYS):
            if best is not None and datetime(
                day.year, day.month, day.day, tzinfo=UTC
            ) > best + timedelta(days=2):
                return best
            if self.matches_day(day):
                for occ in self._day_times(day):
                    if occ >= t and (best is None or occ < best):
                        best = occ
            day += timedelta(days=1)
        if best is not None:
            return best
        raise UsageError(
            f"cron {self.expr!r}: never fires (in {self.tz}) after {t.isoformat()}",
            hint="check the day-of-month and month fields",
        )

    def next_s(self, when_s: int) -> int:
        """:meth:`next_at_or_after` in epoch seconds."""
        return int(self.next_at_or_after(from_epoch_s(when_s)).timestamp())

    def __str__(self) -> str:
        return f"{self.expr} ({self.tz})"
