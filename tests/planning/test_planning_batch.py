"""The vectorised many-job planner equals the one-job planner, job by job."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonshift.planning import InfeasibleJobError, MinTable, cheapest_window, plan_many
from planning.reference import T0, make_series


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0, 2.0, 5.0, 9.0]), min_size=1, max_size=200))
def test_min_table_returns_the_leftmost_minimum(values: list[float]) -> None:
    v = np.array(values)
    table = MinTable(v)
    rng = np.random.default_rng(len(values))
    lo = rng.integers(0, v.size, size=50)
    hi = np.array([rng.integers(a, v.size) for a in lo])
    got = table.argmin(lo, hi)
    expected = [a + int(np.argmin(v[a : b + 1])) for a, b in zip(lo, hi, strict=True)]
    assert got.tolist() == expected


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from([10.0, 20.0, 20.0, 35.5, 80.0, np.nan]), min_size=10, max_size=120),
    st.sampled_from([900, 3600]),
    st.integers(0, 2**31),
)
def test_plan_many_equals_the_single_job_planner(
    values: list[float], resolution_s: int, seed: int
) -> None:
    series = make_series(values, resolution_s=resolution_s)
    rng = np.random.default_rng(seed)
    n_jobs = 60
    span = series.end_s - T0
    submit = T0 + rng.integers(-span // 10, span, size=n_jobs)
    duration = rng.choice([600, 3600, 5400, 7 * 3600 + 60, resolution_s], size=n_jobs)
    slack = rng.integers(0, span // 2 + 1, size=n_jobs)
    deadline = submit + duration + slack
    batch = plan_many(series, submit, duration, deadline)
    for j in range(n_jobs):
        d = int(duration[j])
        w = cheapest_window(series, d, [(int(submit[j]), int(submit[j] + slack[j]))])
        if w is None:
            assert batch.fallback[j]
            assert batch.start_s[j] == submit[j] + slack[j]  # the latest safe start
        else:
            assert not batch.fallback[j]
            assert (batch.start_s[j], batch.end_s[j]) == (w.start_s, w.end_s)
            assert batch.mean_intensity_g_per_kwh[j] == w.mean_intensity_g_per_kwh
        assert batch.start_s[j] <= submit[j] + slack[j]
        assert batch.start_s[j] >= submit[j]


def test_plan_many_ties_and_margin() -> None:
    series = make_series([5.0, 1.0, 1.0, 1.0, 1.0, 5.0])
    batch = plan_many(series, [T0, T0 + 1800], 3600, [T0 + 6 * 3600, T0 + 6 * 3600], margin_s=3600)
    assert batch.start_s.tolist() == [T0 + 3600, T0 + 3600]
    with pytest.raises(InfeasibleJobError, match="job 1"):
        plan_many(series, [T0, T0 + 5 * 3600], 3600, [T0 + 6 * 3600, T0 + 6 * 3600], margin_s=3600)
