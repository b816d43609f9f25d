"""Office-hours ad-hoc jobs (Let's Wait Awhile, scenario II): issue times, durations and
next-workday deadlines, checked against an independent reading of the rule; and the replay
on real 2020 data (no missed deadline, interruptible saves at least as much)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonshift.errors import UsageError
from carbonshift.forecast.noisy import NoisyOracleForecaster
from carbonshift.planning.chunks import chunk_costs_dp
from carbonshift.signals.files import read_zone
from carbonshift.signals.series import IntensitySeries
from carbonshift.simulate.comparison import CompareSpec, run_comparison
from carbonshift.simulate.office_hours import (
    OfficeHoursSpec,
    next_workday_deadline,
    office_hours_workload,
)
from carbonshift.timeutil import parse_time, to_epoch_s

H = 3600


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(int(ts), UTC)


def _expected_deadline(finish: datetime, rule: str) -> datetime:
    """The rule read from the paper's code, written independently: the first 09:00 at or
    after the finish that is allowed, unless the finish lies in working hours."""
    clock = finish.hour * 60 + finish.minute + finish.second / 60
    if finish.weekday() < 5 and 9 * 60 <= clock <= 17 * 60:
        return finish
    if rule == "paper":
        # Sunday or after 17:00 go to the next day; Saturday skips to Monday.
        allowed = {0, 1, 2, 3, 4, 5} if finish.weekday() != 5 else {0}
    else:
        allowed = {0, 1, 2, 3, 4}
    candidate = datetime(finish.year, finish.month, finish.day, 9, tzinfo=finish.tzinfo)
    while candidate < finish or candidate.weekday() not in allowed:
        candidate += timedelta(days=1)
    return candidate


@settings(max_examples=300, deadline=None)
@given(
    minutes=st.integers(0, 366 * 24 * 60),
    rule=st.sampled_from(["paper", "strict"]),
)
def test_deadline_is_the_next_working_morning(minutes: int, rule: str) -> None:
    finish = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    got = next_workday_deadline(finish, rule)
    assert got == _expected_deadline(finish, rule)
    assert got >= finish
    if got != finish:
        assert (got.hour, got.minute) == (9, 0)
        assert got - finish <= timedelta(days=3)
    if rule == "strict":
        assert got.weekday() < 5 or got == finish


def test_deadline_examples_of_the_paper_rule() -> None:
    fri_evening = datetime(2020, 1, 3, 18, tzinfo=UTC)  # a Friday
    assert next_workday_deadline(fri_evening) == datetime(2020, 1, 4, 9, tzinfo=UTC)
    assert next_workday_deadline(fri_evening, "strict") == datetime(2020, 1, 6, 9, tzinfo=UTC)
    sat = datetime(2020, 1, 4, 3, tzinfo=UTC)
    assert next_workday_deadline(sat) == datetime(2020, 1, 6, 9, tzinfo=UTC)
    sun = datetime(2020, 1, 5, 23, tzinfo=UTC)
    assert next_workday_deadline(sun) == datetime(2020, 1, 6, 9, tzinfo=UTC)
    tue_early = datetime(2020, 1, 7, 4, 30, tzinfo=UTC)
    assert next_workday_deadline(tue_early) == datetime(2020, 1, 7, 9, tzinfo=UTC)
    at_five = datetime(2020, 1, 7, 17, tzinfo=UTC)
    assert next_workday_deadline(at_five) == at_five  # 17:00 is still working hours
    with pytest.raises(UsageError):
        next_workday_deadline(at_five, "nope")


def test_workload_properties() -> None:
    spec = OfficeHoursSpec()
    w = office_hours_workload(spec, seed=0)
    assert len(w) == spec.n
    submit = [_utc(s) for s in w.submit_s]
    assert all(t.weekday() < 5 for t in submit)
    assert all(9 <= t.hour < 17 and t.minute in (0, 30) and t.second == 0 for t in submit)
    assert all(t.year == 2020 for t in submit)
    assert np.all(np.diff(w.submit_s) >= 0)
    hours = w.duration_s / H
    assert hours.min() >= 4 and hours.max() <= 89.5
    assert np.all((w.duration_s % 1800) == 0)
    # uniform over the 172 durations and the 16 issue times: every value occurs
    assert len(np.unique(w.duration_s)) == len(range(240, 5400, 30))
    assert Counter((t.hour, t.minute) for t in submit).keys() == {
        (h, m) for h in range(9, 17) for m in (0, 30)
    }
    finish = w.submit_s + w.duration_s
    for f, d in zip(finish.tolist(), w.deadline_s.tolist(), strict=True):
        assert _utc(d) == _expected_deadline(_utc(f), "paper")
    assert np.all(w.deadline_s >= finish)
    # public holidays are working days for the paper (about 13 jobs a day: none is empty)
    days = {t.date() for t in submit}
    assert {date(2020, 1, 1), date(2020, 12, 25)} <= days
    assert not {date(2020, 1, 4), date(2020, 1, 5)} & days


def test_workload_is_reproducible_and_seeded() -> None:
    spec = OfficeHoursSpec(n=200, to_day=date(2020, 3, 31))
    a, b = office_hours_workload(spec, 3), office_hours_workload(spec, 3)
    c = office_hours_workload(spec, 4)
    assert np.array_equal(a.submit_s, b.submit_s) and np.array_equal(a.duration_s, b.duration_s)
    assert not np.array_equal(a.duration_s, c.duration_s)


def test_workload_in_a_local_timezone() -> None:
    spec = OfficeHoursSpec(n=300, tz="Europe/Berlin", from_day=date(2020, 3, 23))
    w = office_hours_workload(spec, seed=1)
    tz = ZoneInfo("Europe/Berlin")
    local = [datetime.fromtimestamp(int(s), tz) for s in w.submit_s]
    assert all(9 <= t.hour < 17 and t.weekday() < 5 for t in local)
    # across the DST switch (2020-03-29) the UTC hour of 09:00 local moves from 8 to 7
    utc_first = {_utc(s).hour for s, t in zip(w.submit_s, local, strict=True) if t.hour == 9}
    assert utc_first == {7, 8}
    for s, d, f in zip(w.submit_s, w.deadline_s, w.submit_s + w.duration_s, strict=True):
        got = datetime.fromtimestamp(int(d), tz)
        assert got == next_workday_deadline(datetime.fromtimestamp(int(f), tz))
        assert s < d


def test_one_slot_chunks_are_the_cheapest_slots() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        costs = rng.integers(0, 6, size=int(rng.integers(1, 30))).astype(float)
        costs[rng.random(costs.size) < 0.1] = np.inf
        work = int(rng.integers(1, costs.size + 1))
        got = chunk_costs_dp(costs, work, 1, 0)
        if np.isfinite(costs).sum() < work:
            assert got is None
            continue
        assert got is not None and sum(got) == work
        chosen = costs[np.array(got)]
        assert chosen.sum() == np.sort(costs)[:work].sum()
        # ties go to the earliest slot: a skipped slot costs more than every later chosen one
        for i in range(costs.size):
            later = [costs[j] for j in range(i + 1, costs.size) if got[j]]
            if not got[i] and later:
                assert costs[i] > max(later)


@pytest.fixture(scope="module")
def gb_2020(data_dir: Path) -> IntensitySeries:
    s = read_zone(data_dir / "lets_wait_awhile", "GB").resample(1800)
    return s.slice(to_epoch_s(parse_time("2020-01-01T00:00Z")), s.end_s)


def test_replay_on_real_data_interruptible_saves_more(gb_2020: IntensitySeries) -> None:
    spec_w = OfficeHoursSpec(n=120, from_day=date(2020, 2, 1), to_day=date(2020, 3, 31))
    w = office_hours_workload(spec_w, seed=0)
    out: dict[bool, dict[str, float | None]] = {}
    for inter in (False, True):
        spec = CompareSpec(
            zones=("GB",),
            from_s=to_epoch_s(parse_time("2020-02-01T00:00Z")),
            to_s=to_epoch_s(parse_time("2020-04-01T00:00Z")),
            policies=("immediate", "dynamic", "oracle"),
            forecast="noisy_oracle",
            replan_s=400 * 86_400,
            interruptible=inter,
            min_chunk_s=1800,
        )
        forecaster = NoisyOracleForecaster(gb_2020, error=0.05, seed=2)
        c = run_comparison(spec, {"GB": gb_2020}, w, forecaster=forecaster)
        for d in c.decisions.values():
            assert int(d.deadline_missed.sum()) == 0
            assert np.all(d.end_s <= w.deadline_s)
        by = {r.policy: r for r in c.rows}
        out[inter] = {p: r.reduction_vs_immediate_pct for p, r in by.items()}
        dyn, orc = out[inter]["dynamic"], out[inter]["oracle"]
        assert dyn is not None and orc is not None
        assert 0 < dyn <= orc
    # more freedom (chunks) can only help the oracle, and helps the noisy forecast here too
    for policy in ("oracle", "dynamic"):
        chunked, whole = out[True][policy], out[False][policy]
        assert chunked is not None and whole is not None
        assert chunked >= whole
    # no error at all: the noisy oracle is the oracle
    exact = NoisyOracleForecaster(gb_2020, error=0.0)
    spec0 = replace(spec, interruptible=False)
    c0 = run_comparison(spec0, {"GB": gb_2020}, w, forecaster=exact)
    d0 = {r.policy: r for r in c0.rows}
    assert d0["dynamic"].emissions_kg == pytest.approx(d0["oracle"].emissions_kg, rel=1e-9)
