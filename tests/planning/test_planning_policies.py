"""Every policy against an independent brute force on random series, and deadline safety."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from carbonshift.planning import (
    CronSchedule,
    DynamicPolicy,
    ImmediatePolicy,
    InfeasibleJobError,
    Job,
    OraclePolicy,
    Outlook,
    Plan,
    Policy,
    StaticPolicy,
    ZoneTerms,
)
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import from_epoch_s
from planning.reference import T0, MinuteIntegrator, brute_chunks, brute_window, make_series

SETTINGS = settings(max_examples=80, deadline=None)


@dataclass(frozen=True)
class Case:
    series: IntensitySeries
    job: Job
    now_s: int


@st.composite
def cases(draw: st.DrawFn, *, kind: str = "forecast", zone: str = "XX") -> Case:
    """A random step series (whole-minute grid) and a feasible job inside it."""
    resolution_s = draw(st.sampled_from([900, 1800, 3600]))
    n = draw(st.integers(4, 40))
    palette = draw(st.lists(st.integers(0, 600), min_size=1, max_size=5))
    values = draw(st.lists(st.sampled_from(palette), min_size=n, max_size=n))
    span_min = n * resolution_s // 60
    submit_min = draw(st.integers(0, span_min // 2))
    duration_min = draw(st.integers(1, max(1, (span_min - submit_min) // 2)))
    margin_min = draw(st.integers(0, 20))
    max_slack = span_min - submit_min - duration_min
    assume(max_slack >= margin_min)
    slack_min = draw(st.integers(margin_min, max_slack))
    now_offset_min = draw(st.integers(-30, slack_min - margin_min))
    submit_s = T0 + 60 * submit_min
    job = Job(
        submit=from_epoch_s(submit_s),
        duration=timedelta(minutes=duration_min),
        slack=timedelta(minutes=slack_min),
        safety_margin=timedelta(minutes=margin_min),
        zones=(zone,),
    )
    series = make_series(values, resolution_s=resolution_s, zone=zone, kind=kind)
    return Case(series, job, submit_s + 60 * now_offset_min)


def assert_safe(plan: Plan, job: Job, now_s: int) -> None:
    earliest = max(job.submit_s, now_s)
    assert plan.start_s >= earliest
    assert plan.start_s <= job.latest_safe_start_s
    assert plan.end_s <= job.deadline_s - job.margin_s
    assert plan.decision_time_s == now_s


def assert_brute_optimal(plan: Plan, case: Case) -> None:
    job, series = case.job, case.series
    earliest = max(job.submit_s, case.now_s)
    means, starts = brute_window(series, job.duration_s, earliest, job.latest_safe_start_s)
    best = float(means.min())
    own = MinuteIntegrator(series).integral(plan.start_s, plan.end_s) / (job.duration_s / 60)
    assert plan.mean_intensity_g_per_kwh == pytest.approx(own, abs=1e-7)
    assert own <= best + 1e-9, "a feasible window is cheaper"
    earliest_best = int(starts[np.flatnonzero(means <= best + 1e-9)[0]])
    assert plan.start_s == earliest_best, "ties must go to the earliest start"


@SETTINGS
@given(cases())
def test_dynamic_matches_brute_force(case: Case) -> None:
    plan = DynamicPolicy().plan(case.job, case.now_s, Outlook(forecasts={"XX": case.series}))
    assert plan.fallback is None
    assert_safe(plan, case.job, case.now_s)
    assert_brute_optimal(plan, case)
    assert plan.emissions_g == pytest.approx(
        case.job.power_w * plan.mean_intensity_g_per_kwh * case.job.duration_s / 3.6e6
    )


@SETTINGS
@given(cases(kind="actual"))
def test_oracle_matches_brute_force(case: Case) -> None:
    plan = OraclePolicy({"XX": case.series}).plan(case.job, case.now_s)
    assert plan.policy == "oracle"
    assert_safe(plan, case.job, case.now_s)
    assert_brute_optimal(plan, case)


@SETTINGS
@given(cases(), st.data())
def test_immediate_and_static_match_reference(case: Case, data: st.DataObject) -> None:
    outlook = Outlook(forecasts={"XX": case.series})
    earliest = max(case.job.submit_s, case.now_s)
    immediate = ImmediatePolicy().plan(case.job, case.now_s, outlook)
    assert immediate.start_s == earliest
    assert_safe(immediate, case.job, case.now_s)
    hour = data.draw(st.integers(0, 23))
    minute = data.draw(st.sampled_from([0, 15, 30, 45]))
    static = StaticPolicy(CronSchedule.parse(f"{minute} {hour} * * *")).plan(
        case.job, case.now_s, outlook
    )
    assert_safe(static, case.job, case.now_s)
    # reference: walk the minutes from the earliest start to the first hh:mm
    t = earliest + (-earliest) % 60
    while not (from_epoch_s(t).hour == hour and from_epoch_s(t).minute == minute):
        t += 60
    expected = t if t <= case.job.latest_safe_start_s else case.job.latest_safe_start_s
    assert static.start_s == expected
    assert (static.fallback is None) == (t <= case.job.latest_safe_start_s)


@st.composite
def spatial_cases(draw: st.DrawFn) -> tuple[Case, dict[str, IntensitySeries], dict[str, ZoneTerms]]:
    base = draw(cases(zone="A"))
    zones = ["A", "B", "C"][: draw(st.integers(2, 3))]
    series = {"A": base.series}
    for z in zones[1:]:
        values = draw(
            st.lists(st.integers(0, 600), min_size=len(base.series), max_size=len(base.series))
        )
        series[z] = make_series(values, resolution_s=base.series.resolution_s, zone=z)
    terms = {
        z: ZoneTerms(
            penalty_g=float(draw(st.integers(0, 300))),
            transfer_s=60 * draw(st.integers(0, 90)) if z != "A" else 0,  # data lives at home
        )
        for z in zones
    }
    job = Job(
        submit=base.job.submit,
        duration=base.job.duration,
        slack=base.job.slack,
        safety_margin=base.job.safety_margin,
        zones=tuple(zones),
        power_w=float(draw(st.integers(100, 5000))),
    )
    return Case(base.series, job, base.now_s), series, terms


@SETTINGS
@given(spatial_cases())
def test_spatial_picks_best_zone_after_penalties(
    sc: tuple[Case, dict[str, IntensitySeries], dict[str, ZoneTerms]],
) -> None:
    case, series, terms = sc
    job = case.job
    plan = DynamicPolicy().plan(job, case.now_s, Outlook(forecasts=series, zone_terms=terms))
    assert_safe(plan, job, case.now_s)
    earliest = max(job.submit_s, case.now_s)
    assert plan.start_s >= earliest + terms[plan.zone].transfer_s
    kwh = job.power_w * job.duration_s / 3.6e6
    best = np.inf
    for z, s in series.items():
        lo = earliest + terms[z].transfer_s
        if lo > job.latest_safe_start_s:
            continue
        means, _ = brute_window(s, job.duration_s, lo, job.latest_safe_start_s)
        best = min(best, float(means.min()) * kwh + terms[z].penalty_g)
    own_mean = MinuteIntegrator(series[plan.zone]).integral(plan.start_s, plan.end_s) / (
        job.duration_s / 60
    )
    own = own_mean * kwh + terms[plan.zone].penalty_g
    assert plan.emissions_g == pytest.approx(own, abs=1e-6)
    assert own <= best + 1e-5


def test_spatial_penalty_moves_the_job_home() -> None:
    home = make_series([300.0] * 24, zone="HOME")
    away = make_series([100.0] * 24, zone="AWAY")
    job = Job(
        submit=from_epoch_s(T0), duration=timedelta(hours=2), slack=timedelta(hours=10),
        zones=("HOME", "AWAY"), power_w=1000.0,
    )  # fmt: skip
    outlook = Outlook(forecasts={"HOME": home, "AWAY": away})
    assert DynamicPolicy().plan(job, T0, outlook).zone == "AWAY"  # 200 g against 600 g
    cheap = Outlook(forecasts=outlook.forecasts, zone_terms={"AWAY": ZoneTerms(penalty_g=399.0)})
    assert DynamicPolicy().plan(job, T0, cheap).zone == "AWAY"
    dear = Outlook(forecasts=outlook.forecasts, zone_terms={"AWAY": ZoneTerms(penalty_g=401.0)})
    plan = DynamicPolicy().plan(job, T0, dear)
    assert plan.zone == "HOME"
    assert plan.penalty_g == 0.0


def test_spatial_availability_and_transfer() -> None:
    values = [500.0] * 24
    values[3] = 10.0  # AWAY is clean only at 03:00, while it is unavailable
    home = make_series([300.0] * 24, zone="HOME")
    away = make_series(values, zone="AWAY")
    job = Job(
        submit=from_epoch_s(T0), duration=timedelta(hours=1), slack=timedelta(hours=12),
        zones=("HOME", "AWAY"),
    )  # fmt: skip
    blocked = ZoneTerms(available=((T0 + 5 * 3600, T0 + 24 * 3600),))
    plan = DynamicPolicy().plan(
        job, T0, Outlook(forecasts={"HOME": home, "AWAY": away}, zone_terms={"AWAY": blocked})
    )
    assert plan.zone == "HOME"
    late = ZoneTerms(transfer_s=4 * 3600)
    plan = DynamicPolicy().plan(
        job, T0, Outlook(forecasts={"HOME": home, "AWAY": away}, zone_terms={"AWAY": late})
    )
    assert plan.zone == "HOME"
    plan = DynamicPolicy().plan(job, T0, Outlook(forecasts={"HOME": home, "AWAY": away}))
    assert (plan.zone, plan.start_s) == ("AWAY", T0 + 3 * 3600)


@st.composite
def chunk_cases(draw: st.DrawFn) -> tuple[list[int], int, int, int, int]:
    """Hourly values, and work / min chunk / overhead in slots of ``slot_min`` minutes."""
    slot_min = draw(st.sampled_from([60, 30]))
    n_hours = draw(st.integers(2, 10 if slot_min == 60 else 5))
    palette = draw(st.lists(st.integers(0, 50), min_size=1, max_size=3))
    values = draw(st.lists(st.sampled_from(palette), min_size=n_hours, max_size=n_hours))
    n_slots = n_hours * 60 // slot_min
    work = draw(st.integers(1, min(5, n_slots)))
    if slot_min == 30:
        assume(work % 2 == 1)  # forces 30-minute slots in the planner too
    min_chunk = draw(st.integers(1, 3))
    overhead = draw(st.integers(0, 2))
    return values, slot_min, work, min_chunk, overhead


@settings(max_examples=200, deadline=None)
@given(chunk_cases())
def test_interruptible_is_optimal_against_enumeration(
    c: tuple[list[int], int, int, int, int],
) -> None:
    values, slot_min, work, min_chunk, overhead = c
    series = make_series([float(v) for v in values])
    job = Job(
        submit=from_epoch_s(T0),
        duration=timedelta(minutes=work * slot_min),
        deadline=from_epoch_s(series.end_s),
        interruptible=True,
        min_chunk=timedelta(minutes=min_chunk * slot_min),
        pause_overhead=timedelta(minutes=overhead * slot_min),
    )
    plan = DynamicPolicy().plan(job, T0, Outlook(forecasts={"XX": series}))
    assert plan.fallback is None
    assert_safe(plan, job, T0)
    slot_costs = [
        values[i * slot_min // 60] * slot_min / 60 for i in range(len(values) * 60 // slot_min)
    ]
    best = brute_chunks(slot_costs, work, min_chunk, overhead)
    assert best is not None
    integ = MinuteIntegrator(series)
    own = sum(integ.integral(s.start_s, s.end_s) for s in plan.segments) / 60
    assert own == pytest.approx(best, abs=1e-9)
    # the plan obeys the chunk rules, overhead counted in time
    useful = [s.duration_s - (job.overhead_s if k else 0) for k, s in enumerate(plan.segments)]
    assert sum(useful) == job.duration_s
    assert all(u >= min(job.min_chunk_s, job.duration_s) for u in useful)
    assert all(b.start_s > a.end_s for a, b in zip(plan.segments, plan.segments[1:], strict=False))
    # never worse than the best contiguous window
    contiguous = DynamicPolicy().plan(
        Job(submit=job.submit, duration=job.duration, deadline=job.deadline), T0,
        Outlook(forecasts={"XX": series}),
    )  # fmt: skip
    assert own <= contiguous.mean_intensity_g_per_kwh * job.duration_s / 3600 + 1e-9


@st.composite
def any_inputs(draw: st.DrawFn) -> tuple[Case, IntensitySeries, bool]:
    """A job that may be infeasible, and a forecast that may be cut short or have gaps."""
    case = draw(cases())
    values = case.series.values.copy()
    for i in draw(st.lists(st.integers(0, values.size - 1), max_size=4)):
        values[i] = np.nan
    cut_front = draw(st.integers(0, values.size // 2))
    cut_back = draw(st.integers(0, values.size // 2))
    kept = values[cut_front : values.size - cut_back] if cut_back else values[cut_front:]
    assume(kept.size > 0)
    forecast = IntensitySeries(
        case.series.start_s + cut_front * case.series.resolution_s,
        case.series.resolution_s,
        kept,
        case.series.labels,
    )
    late_by = draw(st.integers(0, 3)) * 3600  # may push the decision past the latest start
    interruptible = draw(st.booleans())
    return Case(case.series, case.job, case.now_s + late_by), forecast, interruptible


@settings(max_examples=150, deadline=None)
@given(any_inputs())
def test_no_plan_ever_starts_after_the_latest_safe_start(
    inputs: tuple[Case, IntensitySeries, bool],
) -> None:
    case, forecast, interruptible = inputs
    job = case.job
    if interruptible:
        job = Job(
            submit=job.submit, duration=job.duration, slack=job.slack,
            safety_margin=job.safety_margin, zones=job.zones, interruptible=True,
            min_chunk=timedelta(minutes=15), pause_overhead=timedelta(minutes=5),
        )  # fmt: skip
    feasible = job.latest_safe_start_s >= max(job.submit_s, case.now_s)
    outlook = Outlook(forecasts={"XX": forecast}, static=CronSchedule.parse("0 3 * * *"))
    policies: list[Policy] = [
        ImmediatePolicy(),
        StaticPolicy(CronSchedule.parse("30 4 * * *")),
        DynamicPolicy(),
        DynamicPolicy(partial="fall_back"),
        OraclePolicy({"XX": forecast}),
    ]
    for policy in policies:
        if not feasible:
            with pytest.raises(InfeasibleJobError, match="latest safe start"):
                policy.plan(job, case.now_s, outlook)
            continue
        plan = policy.plan(job, case.now_s, outlook)
        assert_safe(plan, job, case.now_s)


@pytest.mark.parametrize(
    ("costs", "work", "min_chunk", "overhead", "expected"),
    [
        ([0, 100, 0, 0], 3, 2, 0, [True, True, True, False]),  # no short first chunk
        ([0, 100, 0, 0], 3, 1, 0, [True, False, True, True]),
        ([0, 100, 0, 0], 3, 1, 1, [True, True, True, False]),  # a pause would cost a restore
        ([5, 0, 9, 0, 0, 9], 3, 1, 1, [True, True, False, True, True, False]),
        ([1, 1, 1, 1], 2, 1, 0, [True, True, False, False]),  # ties: earliest
    ],
)
def test_chunk_dp_small_cases(
    costs: list[float], work: int, min_chunk: int, overhead: int, expected: list[bool]
) -> None:
    from carbonshift.planning.chunks import chunk_costs_dp

    got = chunk_costs_dp(np.array(costs, dtype=float), work, min_chunk, overhead)
    assert got == expected
    assert brute_chunks(costs, work, min_chunk, overhead) == sum(
        c for c, used in zip(costs, expected, strict=True) if used
    )


def test_chunk_dp_against_enumeration_sweep() -> None:
    """Many small random cases (seeded): the DP cost equals the enumerated optimum."""
    from carbonshift.planning.chunks import chunk_costs_dp

    rng = np.random.default_rng(2022)
    for _ in range(400):
        n = int(rng.integers(2, 11))
        palette = rng.integers(0, 51, size=int(rng.integers(1, 4)))
        costs = rng.choice(palette, size=n).astype(float)
        costs[rng.random(n) < 0.1] = np.inf  # unusable slots (gaps)
        work = int(rng.integers(1, min(5, n) + 1))
        min_chunk, overhead = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        best = brute_chunks(list(costs), work, min_chunk, overhead)
        got = chunk_costs_dp(costs, work, min_chunk, overhead)
        if best is None or not np.isfinite(best):
            assert got is None
            continue
        assert got is not None
        assert sum(c for c, used in zip(costs, got, strict=True) if used) == pytest.approx(best)
