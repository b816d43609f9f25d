"""``Outlook``: what a policy may know at its decision time, and per-zone terms.

The outlook holds, per zone, the forecast available at the decision time, optionally the last
good (earlier) forecast, the static slot used as a fallback, and each zone's terms for spatial
planning. It never holds actual values from after the decision time: :meth:`Outlook.check_known_at`
refuses a series labelled ``actual`` that reaches past ``now`` and a forecast issued after
``now`` (:class:`LookaheadError`). Only the oracle policy, which holds its actuals itself, sees
the future. :func:`known_before` cuts an actual series down to what was known at ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from carbonshift.errors import DataError, UsageError
from carbonshift.planning.cron import CronSchedule
from carbonshift.planning.errors import LookaheadError
from carbonshift.planning.window import clip_ranges
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import format_time, from_epoch_s, to_epoch_s

__all__ = ["Outlook", "ZoneTerms", "known_before"]


@dataclass(frozen=True, slots=True)
class ZoneTerms:
    """What running in a zone costs beyond its grid intensity, and when it is available.

    ``penalty_g`` adds grams to any plan there (e.g. the energy of moving the data, converted
    by the caller). ``transfer_s`` delays the earliest start there (the data must arrive
    first); the deadline is unchanged. ``available`` lists ``[start_s, end_s)`` spans in which
    the zone can run the job (``None``: always); a run must lie inside one span.
    """

    penalty_g: float = 0.0
    transfer_s: int = 0
    available: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        if self.transfer_s < 0:
            raise UsageError("zone terms: transfer_s must not be negative")
        if self.available is not None:
            spans = tuple((int(a), int(b)) for a, b in self.available)
            if any(b <= a for a, b in spans):
                raise UsageError("zone terms: every available span needs end > start")
            object.__setattr__(self, "available", spans)

    def start_ranges(
        self, earliest_s: int, latest_s: int, duration_s: int
    ) -> list[tuple[int, int]]:
        """Inclusive ranges of contiguous-run starts allowed in this zone."""
        lo = earliest_s + self.transfer_s
        if self.available is None:
            return [(lo, latest_s)] if lo <= latest_s else []
        return clip_ranges([(a, b - duration_s) for a, b in self.available], lo, latest_s)


NO_TERMS = ZoneTerms()


@dataclass(frozen=True)
class Outlook:
    """Everything a non-oracle policy may use at one decision time.

    ``forecasts`` and ``last_good`` map zone → series (forecast values, or actual values that
    end by the decision time); ``static`` is the fallback slot; ``zone_terms`` maps zone →
    :class:`ZoneTerms` (zones not listed have none).
    """

    forecasts: Mapping[str, IntensitySeries] = field(default_factory=dict)
    last_good: Mapping[str, IntensitySeries] = field(default_factory=dict)
    static: CronSchedule | None = None
    zone_terms: Mapping[str, ZoneTerms] = field(default_factory=dict)

    def terms(self, zone: str) -> ZoneTerms:
        return self.zone_terms.get(zone, NO_TERMS)

    def zones_for(self, allowed: Sequence[str]) -> list[str]:
        """The zones to consider: the job's (home first) or, if it names none, every zone
        with a forecast."""
        if allowed:
            return list(allowed)
        return list(self.forecasts) or list(self.last_good)

    def check_known_at(self, now_s: int) -> None:
        """Refuse anything that could not have been known at ``now_s`` (and series whose
        labels cannot be compared)."""
        for zone, series in [*self.forecasts.items(), *self.last_good.items()]:
            _check_series(zone, series, now_s)
        self.check_comparable()

    def check_comparable(self) -> None:
        """Refuse series on different signals, accountings or bases (grams would not add up)."""
        everything = [*self.forecasts.items(), *self.last_good.items()]
        for zone, series in everything:
            first = everything[0][1].labels
            if not series.labels.comparable_with(first):
                raise DataError(
                    f"{zone}: the series means {series.labels.describe()}, not comparable "
                    f"with {first.describe()}",
                    hint="plan across zones on one signal, accounting and basis",
                )


def _check_series(zone: str, series: IntensitySeries, now_s: int) -> None:
    labels = series.labels
    if labels.kind == "actual" and series.end_s > now_s:
        raise LookaheadError(
            f"{zone}: actual values up to {format_time(series.end)} were passed to a policy "
            f"deciding at {format_time(from_epoch_s(now_s))}",
            hint="pass a forecast (labels kind='forecast'), cut the actuals with "
            "known_before(), or use the oracle policy",
        )
    if labels.issued_at is not None and to_epoch_s(labels.issued_at) > now_s:
        raise LookaheadError(
            f"{zone}: the forecast was issued at {format_time(labels.issued_at)}, after the "
            f"decision time {format_time(from_epoch_s(now_s))}",
            hint="use a forecast issued at or before the decision time",
        )


def known_before(series: IntensitySeries, now_s: int) -> IntensitySeries:
    """The steps of an actual series that had ended by ``now_s`` (a step's mean is known only
    once its interval is over)."""
    n = max(0, (now_s - series.start_s) // series.resolution_s)
    n = min(n, len(series))
    if n == 0:
        raise DataError(
            f"{series.zone}: no values known before {format_time(from_epoch_s(now_s))}",
            hint="decide later or load earlier data",
        )
    return series.slice(series.start_s, series.start_s + n * series.resolution_s)
