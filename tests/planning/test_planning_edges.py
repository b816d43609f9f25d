"""Edge cases of single-job planning: grid edges, partial steps, ties, fallbacks, lookahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from carbonshift.errors import UsageError
from carbonshift.planning import (
    CronSchedule,
    DynamicPolicy,
    ImmediatePolicy,
    InfeasibleJobError,
    Job,
    LookaheadError,
    OraclePolicy,
    Outlook,
    StaticPolicy,
    cheapest_window,
    known_before,
    learn_static_slot,
)
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import from_epoch_s
from planning.reference import T0, make_series

H = 3600


def job_at(
    submit_s: int = T0, *, duration_s: int = H, deadline_s: int | None = None, **kw: object
) -> Job:
    deadline = from_epoch_s(deadline_s) if deadline_s is not None else None
    return Job(
        submit=from_epoch_s(submit_s),
        duration=timedelta(seconds=duration_s),
        deadline=deadline,
        **kw,  # type: ignore[arg-type]
    )


def plan_dynamic(job: Job, series: IntensitySeries, now_s: int = T0) -> tuple[int, int, float]:
    plan = DynamicPolicy().plan(job, now_s, Outlook(forecasts={"XX": series}))
    assert plan.fallback is None
    return plan.start_s, plan.end_s, plan.mean_intensity_g_per_kwh


def test_window_ending_exactly_at_the_end_of_the_forecast() -> None:
    values = [100.0] * 22 + [5.0, 5.0]
    series = make_series(values)
    job = job_at(duration_s=2 * H, deadline_s=series.end_s)
    start, end, mean = plan_dynamic(job, series)
    assert (start, end, mean) == (T0 + 22 * H, series.end_s, 5.0)


def test_duration_not_a_multiple_of_the_step_uses_windows_ending_on_the_grid() -> None:
    series = make_series([10.0, 10.0, 0.0, 10.0, 10.0, 10.0])
    job = job_at(duration_s=90 * 60, deadline_s=series.end_s)
    start, end, mean = plan_dynamic(job, series)
    # [01:30, 03:00) and [02:00, 03:30) both average 10/3: the earlier wins
    assert start == T0 + 90 * 60
    assert end == T0 + 3 * H
    assert mean == pytest.approx(10 / 3)


def test_first_step_partly_covered_starts_at_the_decision_time() -> None:
    series = make_series([0.0, 100.0, 100.0, 100.0, 100.0, 100.0])
    now = T0 + 20 * 60
    job = job_at(T0, deadline_s=series.end_s)
    start, _, mean = plan_dynamic(job, series, now)
    assert start == now
    assert mean == pytest.approx(100 / 3)  # 40 min at 0, 20 min at 100


def test_last_step_partly_covered_starts_at_the_latest_safe_start() -> None:
    series = make_series([100.0, 100.0, 100.0, 100.0, 50.0, 0.0, 100.0])
    deadline = T0 + 5 * H + 50 * 60  # latest safe start 04:50, off the grid
    job = job_at(deadline_s=deadline)
    start, end, mean = plan_dynamic(job, series)
    assert (start, end) == (T0 + 4 * H + 50 * 60, deadline)
    assert mean == pytest.approx(50 / 6)  # 10 min at 50, 50 min at 0


def test_equal_values_tie_to_the_earliest_start_despite_float_noise() -> None:
    series = make_series([0.1 + 123.456789] * 2000, resolution_s=300)
    job = job_at(T0 + 7, duration_s=47 * 60 + 13, deadline_s=T0 + 100 * H)
    start, _, _ = plan_dynamic(job, series)
    assert start == T0 + 7
    assert cheapest_window(series, 3 * H, [(T0 + 600, T0 + 50 * H)]) is not None
    w = cheapest_window(series, 3 * H, [(T0 + 600, T0 + 50 * H)])
    assert w is not None and w.start_s == T0 + 600


def test_infeasible_job_is_a_clear_usage_error() -> None:
    series = make_series([1.0] * 24)
    job = job_at(duration_s=3 * H, deadline_s=T0 + 2 * H, job_id="train-7")
    with pytest.raises(InfeasibleJobError) as info:
        DynamicPolicy().plan(job, T0, Outlook(forecasts={"XX": series}))
    assert isinstance(info.value, UsageError)
    assert info.value.exit_code == 2
    assert "job train-7: cannot finish by its deadline" in str(info.value)
    assert "latest safe start" in str(info.value)
    # feasible at submit, but decided too late
    ok = job_at(duration_s=H, deadline_s=T0 + 3 * H, safety_margin=timedelta(minutes=30))
    with pytest.raises(InfeasibleJobError, match="decision time"):
        ImmediatePolicy().plan(ok, T0 + 2 * H)


def test_job_validation() -> None:
    with pytest.raises(UsageError, match="both a deadline and a slack"):
        Job(
            submit=from_epoch_s(T0), duration=timedelta(hours=1),
            deadline=from_epoch_s(T0 + 5 * H), slack=timedelta(hours=1),
        )  # fmt: skip
    with pytest.raises(UsageError, match="duration must be positive"):
        Job(submit=from_epoch_s(T0), duration=timedelta(0))
    job = Job(submit=from_epoch_s(T0), duration=timedelta(hours=2), slack=timedelta(hours=10))
    assert job.deadline_s == T0 + 12 * H
    assert job.latest_safe_start_s == T0 + 10 * H


def test_urgent_job_runs_at_once() -> None:
    series = make_series([100.0, 0.0, 0.0, 0.0, 0.0])
    job = job_at(deadline_s=series.end_s, urgent=True)
    plan = DynamicPolicy().plan(job, T0, Outlook(forecasts={"XX": series}))
    assert plan.start_s == T0
    assert "urgent" in plan.note


# ---------------------------------------------------------------- forecast coverage / fallbacks
def test_forecast_shorter_than_the_feasible_span_plans_within_and_says_so() -> None:
    forecast = make_series([50.0, 40.0, 30.0, 60.0])  # ends at 04:00
    job = job_at(deadline_s=T0 + 12 * H)
    plan = DynamicPolicy().plan(job, T0, Outlook(forecasts={"XX": forecast}))
    assert plan.start_s == T0 + 2 * H
    assert plan.fallback is not None and plan.fallback.level == "partial_forecast"
    assert "feasible span" in plan.fallback.reason


def test_fallback_chain_last_good_then_static_then_latest_safe_start() -> None:
    job = job_at(deadline_s=T0 + 12 * H)
    short = make_series([50.0, 40.0, 30.0, 60.0])
    stale = make_series([80.0] * 5 + [10.0] + [80.0] * 10, start_s=T0 - 2 * H)
    strict = DynamicPolicy(partial="fall_back")
    plan = strict.plan(job, T0, Outlook(forecasts={"XX": short}, last_good={"XX": stale}))
    assert plan.fallback is not None and plan.fallback.level == "last_good_forecast"
    assert plan.start_s == T0 + 3 * H
    static = CronSchedule.parse("0 7 * * *")
    plan = strict.plan(job, T0, Outlook(forecasts={"XX": short}, static=static))
    assert plan.fallback is not None and plan.fallback.level == "static_slot"
    assert plan.start_s == T0 + 7 * H
    late_static = CronSchedule.parse("0 20 * * *")
    plan = strict.plan(job, T0, Outlook(forecasts={"XX": short}, static=late_static))
    assert plan.fallback is not None and plan.fallback.level == "latest_safe_start"
    assert plan.start_s == job.latest_safe_start_s
    plan = DynamicPolicy().plan(job, T0, Outlook())
    assert plan.fallback is not None and plan.fallback.level == "latest_safe_start"
    assert plan.start_s == job.latest_safe_start_s
    assert np.isnan(plan.mean_intensity_g_per_kwh)


def test_gaps_in_the_forecast_are_never_planned_on() -> None:
    values = [90.0, np.nan, 90.0, 20.0, np.nan, 90.0, 90.0, 90.0]
    forecast = make_series(values)
    job = job_at(duration_s=H, deadline_s=forecast.end_s)
    plan = DynamicPolicy().plan(job, T0, Outlook(forecasts={"XX": forecast}))
    assert plan.start_s == T0 + 3 * H
    assert plan.fallback is not None and "missing steps" in plan.fallback.reason


# ---------------------------------------------------------------- static slots and DST
def test_static_slot_in_berlin_across_both_dst_changes() -> None:
    daily = CronSchedule.parse("0 3 * * *", "Europe/Berlin")
    spring = datetime(2022, 3, 26, 12, tzinfo=UTC)
    runs = daily.occurrences(spring, spring + timedelta(days=2))
    assert [t.isoformat() for t in runs] == [
        "2022-03-27T01:00:00+00:00",  # 03:00 CEST, the night the clocks went forward
        "2022-03-28T01:00:00+00:00",
    ]
    assert daily.next_at_or_after(datetime(2022, 3, 26, tzinfo=UTC)).hour == 2  # 03:00 CET
    autumn = datetime(2022, 10, 29, 12, tzinfo=UTC)
    assert [t.hour for t in daily.occurrences(autumn, autumn + timedelta(days=2))] == [2, 2]
    assert daily.next_at_or_after(datetime(2022, 10, 29, tzinfo=UTC)).hour == 1  # CEST
    skipped = CronSchedule.parse("30 2 * * *", "Europe/Berlin")
    # 02:30 does not exist on 2022-03-27: it runs at 03:30 CEST (01:30Z), once
    assert skipped.next_at_or_after(datetime(2022, 3, 27, tzinfo=UTC)) == datetime(
        2022, 3, 27, 1, 30, tzinfo=UTC
    )
    # 02:30 happens twice on 2022-10-30: it runs at the first, 02:30 CEST (00:30Z), once
    twice = skipped.occurrences(
        datetime(2022, 10, 29, 23, tzinfo=UTC), datetime(2022, 10, 30, 3, tzinfo=UTC)
    )
    assert twice == [datetime(2022, 10, 30, 0, 30, tzinfo=UTC)]
    job = job_at(int(datetime(2022, 3, 27, tzinfo=UTC).timestamp()), duration_s=H, deadline_s=None, slack=timedelta(hours=20))  # fmt: skip
    plan = StaticPolicy(daily).plan(job, job.submit_s)
    assert plan.start == datetime(2022, 3, 27, 1, tzinfo=UTC)


def test_learned_slot_follows_local_time_across_dst() -> None:
    # the grid is clean every day at 04:00 Berlin time: 03:00Z in winter, 02:00Z in summer
    start = int(datetime(2022, 3, 1, tzinfo=UTC).timestamp())
    n = 40 * 24
    values = np.full(n, 300.0)
    for day in range(40):
        utc_hour = 3 if day < 26 else 2  # 2022-03-27 is day 26
        values[day * 24 + utc_hour] = 50.0
    history = IntensitySeries(start, H, values, SignalLabels("DE"))
    local = learn_static_slot(
        history, H, train_from_s=start, train_to_s=history.end_s, tz="Europe/Berlin"
    )
    assert (local.hour, local.minute) == (4, 0)
    assert local.mean_intensity_g_per_kwh == pytest.approx(50.0)
    assert local.std_g_per_kwh == pytest.approx(0.0)
    assert local.cron_expr() == "0 4 * * *"
    utc = learn_static_slot(history, H, train_from_s=start, train_to_s=history.end_s)
    assert utc.hour == 3  # fixed in UTC: right on 26 days, wrong on 14
    assert utc.mean_intensity_g_per_kwh == pytest.approx((26 * 50 + 14 * 300) / 40)
    weekly = learn_static_slot(
        history, H, train_from_s=start, train_to_s=history.end_s, tz="Europe/Berlin", weekly=True
    )
    assert weekly.hour == 4 and weekly.cron_expr().startswith("0 4 * * ")


def test_learned_static_slot_must_end_before_the_decision_time() -> None:
    history = make_series([100.0] * 72, kind="actual")
    slot = learn_static_slot(history, H, train_from_s=T0, train_to_s=T0 + 48 * H)
    policy = StaticPolicy.learned(slot)
    job = job_at(T0 + 30 * H, deadline_s=T0 + 60 * H)
    with pytest.raises(LookaheadError, match="trained on data up to"):
        policy.plan(job, T0 + 30 * H)
    assert (
        policy.plan(job_at(T0 + 50 * H, deadline_s=T0 + 80 * H), T0 + 50 * H).start_s >= T0 + 50 * H
    )


# ---------------------------------------------------------------- no lookahead
def persistence(history: IntensitySeries, now_s: int, horizon_s: int) -> IntensitySeries:
    """Tomorrow looks like today: the value 24 h earlier (a test forecaster)."""
    r = history.resolution_s
    lag = 86_400 // r
    first = history.end_s
    n = (now_s + horizon_s - first) // r + 1
    values = np.array([history.values[len(history) - lag + (i % lag)] for i in range(n)])
    labels = history.labels.with_(kind="forecast", issued_at=from_epoch_s(now_s))
    return IntensitySeries(first, r, values, labels)


def test_changing_the_future_does_not_move_a_decision() -> None:
    rng = np.random.default_rng(7)
    actuals = make_series(rng.uniform(50, 500, 24 * 6), kind="actual")
    now = T0 + 3 * 24 * H + 1800
    job = job_at(now, duration_s=2 * H + 900, deadline_s=now + 20 * H)

    def decide(truth: IntensitySeries) -> tuple[str, int, int]:
        forecast = persistence(known_before(truth, now), now, 24 * H)
        plan = DynamicPolicy().plan(job, now, Outlook(forecasts={"XX": forecast}))
        return plan.zone, plan.start_s, plan.end_s

    before = decide(actuals)
    changed = actuals.values.copy()
    after_now = actuals.times_s >= now - 1800  # every step not yet over at the decision time
    changed[after_now] = rng.uniform(0, 900, int(after_now.sum()))
    assert decide(actuals.replace_values(changed)) == before
    # the oracle does see the future (it is allowed to): three clean hours at now + 10 h
    flipped = actuals.values.copy()
    flipped[after_now] = 500.0
    k = int(np.searchsorted(actuals.times_s, now + 10 * H))
    flipped[k : k + 3] = 0.0
    truth = actuals.replace_values(flipped)
    assert OraclePolicy({"XX": truth}).plan(job, now).start_s == int(actuals.times_s[k])
    assert decide(truth) == before


def test_actuals_from_after_the_decision_time_are_refused() -> None:
    actuals = make_series([100.0] * 48, kind="actual")
    job = job_at(deadline_s=T0 + 20 * H)
    with pytest.raises(LookaheadError, match="actual values"):
        DynamicPolicy().plan(job, T0, Outlook(forecasts={"XX": actuals}))
    issued_later = actuals.with_labels(
        actuals.labels.with_(kind="forecast", issued_at=from_epoch_s(T0 + H))
    )
    with pytest.raises(LookaheadError, match="issued at"):
        DynamicPolicy().plan(job, T0, Outlook(forecasts={"XX": issued_later}))
    assert known_before(actuals, T0 + 5 * H + 59).end_s == T0 + 5 * H
