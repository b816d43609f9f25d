"""Policies: one interface, ``plan(job, now, outlook) -> Plan``.

- :class:`ImmediatePolicy` starts at once (the carbon-agnostic baseline).
- :class:`StaticPolicy` starts at the next occurrence of a fixed cron slot in an IANA zone,
  given or learned (:meth:`StaticPolicy.learned`); if that would miss the deadline, at the
  closest feasible start, the latest safe start.
- :class:`DynamicPolicy` picks the lowest expected mean over the feasible span from the
  outlook's forecasts (over every allowed zone, after zone penalties: spatial), or the
  cheapest chunks for an interruptible job.
- :class:`OraclePolicy` does the same on the actual values: perfect foresight, the upper bound.

Every policy starts an ``urgent`` job at once, never starts before the submit or the decision
time or after the latest safe start, and raises :class:`InfeasibleJobError` when no start is
possible at all.

Forecast that falls short (``DynamicPolicy``), in order, each step recorded as the plan's
``fallback`` with its reason: plan within the windows the forecast does cover
(``partial="plan_within"``, the default; ``"fall_back"`` skips this step); the last good
forecast; the static slot of the outlook; the latest safe start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from carbonshift.planning.cron import CronSchedule
from carbonshift.planning.errors import LookaheadError
from carbonshift.planning.job import Job
from carbonshift.planning.outlook import Outlook
from carbonshift.planning.plan import Fallback, FallbackLevel, Plan, Segment, build_plan
from carbonshift.planning.slot import StaticSlot
from carbonshift.planning.spatial import Search, best_over_zones
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import format_time, from_epoch_s, to_epoch_s

__all__ = [
    "DynamicPolicy",
    "ImmediatePolicy",
    "OraclePolicy",
    "Policy",
    "StaticPolicy",
    "as_epoch_s",
]

NO_OUTLOOK = Outlook()


class Policy(Protocol):
    """What every policy offers."""

    @property
    def name(self) -> str: ...

    def plan(self, job: Job, now: datetime | int, outlook: Outlook = NO_OUTLOOK) -> Plan:
        """The plan for ``job`` decided at ``now`` from what ``outlook`` holds."""
        ...


def as_epoch_s(now: datetime | int) -> int:
    return to_epoch_s(now) if isinstance(now, datetime) else int(now)


def _home(job: Job, outlook: Outlook) -> str:
    zones = outlook.zones_for(job.zones)
    return zones[0] if zones else ""


def _evaluation_series(zone: str, outlook: Outlook) -> IntensitySeries | None:
    found = outlook.forecasts.get(zone)
    return found if found is not None else outlook.last_good.get(zone)


def _contiguous(
    job: Job,
    start_s: int,
    now_s: int,
    outlook: Outlook,
    policy: str,
    *,
    fallback: Fallback | None = None,
    note: str = "",
) -> Plan:
    zone = _home(job, outlook)
    return build_plan(
        job,
        zone=zone,
        segments=[Segment(start_s, start_s + job.duration_s)],
        series=_evaluation_series(zone, outlook),
        policy=policy,
        now_s=now_s,
        fallback=fallback,
        note=note,
    )


def _urgent(job: Job, now_s: int, outlook: Outlook, policy: str) -> Plan:
    earliest, _ = job.start_span(now_s)
    return _contiguous(job, earliest, now_s, outlook, policy, note="urgent: runs at once")


@dataclass(frozen=True)
class ImmediatePolicy:
    """Start at the submit time (or the decision time, if later)."""

    name: str = "immediate"

    def plan(self, job: Job, now: datetime | int, outlook: Outlook = NO_OUTLOOK) -> Plan:
        now_s = as_epoch_s(now)
        outlook.check_known_at(now_s)
        earliest, _ = job.start_span(now_s)
        return _contiguous(job, earliest, now_s, outlook, self.name)


def _static_start(job: Job, schedule: CronSchedule, earliest_s: int) -> tuple[int, Fallback | None]:
    slot_s = schedule.next_s(earliest_s)
    if slot_s <= job.latest_safe_start_s:
        return slot_s, None
    latest = job.latest_safe_start_s
    return latest, Fallback(
        "latest_safe_start",
        f"the next static slot {format_time(from_epoch_s(slot_s))} ({schedule}) would miss "
        f"the deadline; starting at the latest safe start {format_time(from_epoch_s(latest))}",
    )


@dataclass(frozen=True)
class StaticPolicy:
    """Start at the next occurrence of ``schedule`` at or after the earliest start.

    ``trained_until_s``, set for a learned slot, is the end of its training period: planning
    at an earlier decision time would use the future and raises :class:`LookaheadError`.
    """

    schedule: CronSchedule
    trained_until_s: int | None = None
    name: str = "static"

    @classmethod
    def learned(cls, slot: StaticSlot) -> StaticPolicy:
        """The policy for a slot found by :func:`~carbonshift.planning.slot.learn_static_slot`."""
        return cls(slot.schedule(), slot.trained_until_s)

    def plan(self, job: Job, now: datetime | int, outlook: Outlook = NO_OUTLOOK) -> Plan:
        now_s = as_epoch_s(now)
        outlook.check_known_at(now_s)
        if self.trained_until_s is not None and self.trained_until_s > now_s:
            raise LookaheadError(
                f"static slot: trained on data up to "
                f"{format_time(from_epoch_s(self.trained_until_s))}, after the decision time "
                f"{format_time(from_epoch_s(now_s))}",
                hint="end the training period at or before the decision time",
            )
        if job.urgent:
            return _urgent(job, now_s, outlook, self.name)
        earliest, _ = job.start_span(now_s)
        start, fallback = _static_start(job, self.schedule, earliest)
        return _contiguous(job, start, now_s, outlook, self.name, fallback=fallback)


def _from_search(
    job: Job,
    search: Search,
    series: Mapping[str, IntensitySeries],
    now_s: int,
    policy: str,
    fallback: Fallback | None,
) -> Plan:
    assert search.choice is not None
    c = search.choice
    return build_plan(
        job,
        zone=c.zone,
        segments=c.segments,
        series=series[c.zone],
        policy=policy,
        now_s=now_s,
        fallback=fallback,
        penalty_g=c.penalty_g,
    )


@dataclass(frozen=True)
class DynamicPolicy:
    """Lowest expected mean (or grams, across zones) on the forecasts of the outlook."""

    partial: Literal["plan_within", "fall_back"] = "plan_within"
    name: str = "dynamic"

    def plan(self, job: Job, now: datetime | int, outlook: Outlook = NO_OUTLOOK) -> Plan:
        now_s = as_epoch_s(now)
        outlook.check_known_at(now_s)
        if job.urgent:
            return _urgent(job, now_s, outlook, self.name)
        earliest, latest = job.start_span(now_s)
        zones = outlook.zones_for(job.zones)
        search = best_over_zones(
            job,
            earliest_s=earliest,
            series=outlook.forecasts,
            zones=zones,
            terms=outlook.terms,
            require_full=self.partial == "fall_back",
        )
        if search.choice is not None:
            fallback = None
            if search.incomplete:
                fallback = Fallback(
                    "partial_forecast",
                    "planned within the known windows; " + "; ".join(search.incomplete),
                )
            return _from_search(job, search, outlook.forecasts, now_s, self.name, fallback)
        why = "; ".join(search.incomplete) or "no window on known values"
        if outlook.last_good:
            stale = best_over_zones(
                job, earliest_s=earliest, series=outlook.last_good, zones=zones, terms=outlook.terms
            )
            if stale.choice is not None:
                fallback = Fallback("last_good_forecast", f"current forecast unusable ({why})")
                return _from_search(job, stale, outlook.last_good, now_s, self.name, fallback)
        if outlook.static is not None:
            start, late = _static_start(job, outlook.static, earliest)
            level: FallbackLevel = "static_slot" if late is None else "latest_safe_start"
            reason = f"no usable forecast ({why}); static slot {outlook.static}"
            if late is not None:
                reason += "; " + late.reason
            return _contiguous(
                job, start, now_s, outlook, self.name, fallback=Fallback(level, reason)
            )
        reason = (
            f"no usable forecast ({why}) and no static slot; starting at the latest safe "
            f"start {format_time(from_epoch_s(latest))}"
        )
        return _contiguous(
            job, latest, now_s, outlook, self.name, fallback=Fallback("latest_safe_start", reason)
        )


@dataclass(frozen=True)
class OraclePolicy:
    """Dynamic planning on the actual values, future included: the upper bound on savings.

    ``actuals`` maps zone → actual series. The outlook contributes only zone terms. Where the
    actuals do not cover the feasible span the oracle plans within them (recorded as a
    ``partial_forecast`` fallback) or, with nothing known, starts at the latest safe start.
    """

    actuals: Mapping[str, IntensitySeries] = field(default_factory=dict)
    name: str = "oracle"

    def plan(self, job: Job, now: datetime | int, outlook: Outlook = NO_OUTLOOK) -> Plan:
        now_s = as_epoch_s(now)
        truth = Outlook(forecasts=self.actuals, zone_terms=outlook.zone_terms)
        truth.check_comparable()
        if job.urgent:
            return _urgent(job, now_s, truth, self.name)
        earliest, latest = job.start_span(now_s)
        search = best_over_zones(
            job,
            earliest_s=earliest,
            series=self.actuals,
            zones=truth.zones_for(job.zones),
            terms=truth.terms,
        )
        if search.choice is not None:
            fallback = None
            if search.incomplete:
                fallback = Fallback(
                    "partial_forecast",
                    "planned within the known actuals; " + "; ".join(search.incomplete),
                )
            return _from_search(job, search, self.actuals, now_s, self.name, fallback)
        reason = "no window on known actuals (" + "; ".join(search.incomplete) + ")"
        return _contiguous(
            job, latest, now_s, truth, self.name, fallback=Fallback("latest_safe_start", reason)
        )
