"""Cron schedules against a minute-by-minute walk, and learned slots against a brute force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonshift.errors import UsageError
from carbonshift.planning import CronSchedule, learn_static_slot
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries
from planning.reference import MinuteIntegrator, cron_matches_local


@pytest.mark.parametrize(
    ("expr", "field", "expected"),
    [
        ("*/15 * * * *", "minutes", {0, 15, 30, 45}),
        ("0 1-5/2 * * *", "hours", {1, 3, 5}),
        ("0 0,12,23 * * *", "hours", {0, 12, 23}),
        ("0 0 * * 7", "weekdays", {0}),
        ("0 0 * * 1-5", "weekdays", {1, 2, 3, 4, 5}),
        ("0 0 10/10 * *", "days", {10, 20, 30}),
        ("0 0 * 6-8 *", "months", {6, 7, 8}),
    ],
)
def test_cron_fields(expr: str, field: str, expected: set[int]) -> None:
    assert getattr(CronSchedule.parse(expr), field) == frozenset(expected)


@pytest.mark.parametrize(
    ("expr", "tz", "message"),
    [
        ("0 3 * *", "UTC", "expected 5 fields"),
        ("60 3 * * *", "UTC", "minute field"),
        ("0 3 * * MON", "UTC", "day of week field"),
        ("0 5-3 * * *", "UTC", "hour field"),
        ("*/0 3 * * *", "UTC", "step"),
        ("0 3 * * *", "Mars/Olympus", "IANA"),
    ],
)
def test_cron_errors_name_the_field(expr: str, tz: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        CronSchedule.parse(expr, tz)


def test_cron_never_firing_is_an_error() -> None:
    with pytest.raises(UsageError, match="never fires"):
        CronSchedule.parse("0 0 31 2 *").next_at_or_after(datetime(2022, 1, 1, tzinfo=UTC))


def test_day_of_month_or_day_of_week() -> None:
    both = CronSchedule.parse("0 12 1 * 1")  # the 1st, or any Monday (Vixie cron)
    runs = both.occurrences(datetime(2022, 8, 1, tzinfo=UTC), datetime(2022, 8, 16, tzinfo=UTC))
    assert [t.day for t in runs] == [1, 8, 15]


def _field(draw: st.DrawFn, lo: int, hi: int, allowed: list[int] | None = None) -> set[int]:
    pool = allowed if allowed is not None else list(range(lo, hi + 1))
    return set(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3)))


@st.composite
def schedules(draw: st.DrawFn) -> tuple[str, str, dict[str, set[int] | None]]:
    tz = draw(st.sampled_from(["UTC", "Asia/Tokyo", "Europe/Berlin", "America/New_York"]))
    # hour 2 (and 1 for New York) is skipped or repeated at DST changes; those rules have their
    # own tests, so the walk is compared on the other hours
    hours = [h for h in range(24) if not (tz != "UTC" and tz != "Asia/Tokyo" and h in (1, 2))]
    minutes = _field(draw, 0, 59, [0, 7, 15, 30, 45, 59])
    hour_set = _field(draw, 0, 23, hours)
    doms: set[int] | None = draw(
        st.one_of(st.none(), st.sets(st.integers(1, 28), min_size=1, max_size=3))
    )
    dows: set[int] | None = draw(
        st.one_of(st.none(), st.sets(st.integers(0, 6), min_size=1, max_size=2))
    )

    def fmt(values: set[int] | None) -> str:
        return "*" if values is None else ",".join(map(str, sorted(values)))

    expr = f"{fmt(minutes)} {fmt(hour_set)} {fmt(doms)} * {fmt(dows)}"
    return expr, tz, {"minutes": minutes, "hours": hour_set, "doms": doms, "dows": dows}


@settings(max_examples=60, deadline=None)
@given(schedules(), st.integers(0, 365 * 24 * 60 - 1))
def test_next_occurrence_matches_a_minute_walk(
    sched: tuple[str, str, dict[str, set[int] | None]], offset_min: int
) -> None:
    expr, tz, f = sched
    start_s = int(datetime(2022, 1, 1, tzinfo=UTC).timestamp()) + 60 * offset_min
    got = int(
        CronSchedule.parse(expr, tz)
        .next_at_or_after(datetime.fromtimestamp(start_s, UTC))
        .timestamp()
    )
    t = start_s
    months = set(range(1, 13))
    while not cron_matches_local(
        t, tz, f["minutes"] or set(), f["hours"] or set(), f["doms"], months, f["dows"]
    ):
        t += 60
    assert got == t


# ---------------------------------------------------------------- learned slots vs brute force
@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(0, 400), min_size=24 * 9, max_size=24 * 9),
    st.sampled_from(["UTC", "Europe/Berlin"]),
    st.integers(1, 3),
    st.integers(0, 23),
)
def test_learned_daily_slot_is_the_lowest_historical_mean(
    values: list[int], tz: str, hours: int, start_hour: int
) -> None:
    # March 2022 spans the Berlin spring change on day 26
    start_s = int(datetime(2022, 3, 22, start_hour, tzinfo=UTC).timestamp())
    history = IntensitySeries(start_s, 3600, np.array(values, dtype=float), SignalLabels("DE"))
    train_to = history.end_s - 5 * 3600
    duration_s = hours * 3600
    slot = learn_static_slot(history, duration_s, train_from_s=start_s, train_to_s=train_to, tz=tz)
    integ = MinuteIntegrator(history)
    zone = ZoneInfo(tz)
    best: tuple[float, int] | None = None
    for hour in range(24):
        means = []
        day0 = datetime.fromtimestamp(start_s, zone).date() - timedelta(days=1)
        for k in range(12):
            d = day0 + timedelta(days=k)
            s = int(datetime(d.year, d.month, d.day, hour, tzinfo=zone).timestamp())
            if s >= start_s and s + duration_s <= train_to:
                means.append(integ.integral(s, s + duration_s) / (duration_s / 60))
        if means:
            m = float(np.mean(means))
            if best is None or m < best[0] - 1e-9:
                best = (m, hour)
    assert best is not None
    assert slot.mean_intensity_g_per_kwh == pytest.approx(best[0], abs=1e-6)
    assert slot.offset_min == 60 * best[1]
    assert slot.p10_g_per_kwh <= slot.p90_g_per_kwh
