"""IntensitySeries: window means against a brute-force integral, resampling, slicing, alignment."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonshift.errors import DataError, UsageError
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries, align

LABELS = SignalLabels(zone="TEST")
RESOLUTIONS = [300, 900, 1800, 3600]
T0 = int(datetime(2022, 3, 1, tzinfo=UTC).timestamp())


def tolerance(series: IntensitySeries, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Prefix sums lose about eps x (integral so far) in absolute terms; as a mean over the
    window that is eps x integral / length. Anything beyond a few of those is a real error."""
    scale = float(np.nansum(np.abs(series.values))) * series.resolution_s
    bound: np.ndarray = 1e-9 + 8 * np.finfo(float).eps * scale / (ends - starts)
    return bound


def brute_mean(series: IntensitySeries, a: float, b: float) -> float:
    """Independent reference: walk the steps and weight each by its overlap with [a, b)."""
    total = 0.0
    for i, v in enumerate(series.values):
        lo = series.start_s + i * series.resolution_s
        hi = lo + series.resolution_s
        overlap = max(0.0, min(b, hi) - max(a, lo))
        if overlap > 0:
            if np.isnan(v):
                return float("nan")
            total += float(v) * overlap
    return total / (b - a)


@st.composite
def series_and_windows(draw: st.DrawFn) -> tuple[IntensitySeries, np.ndarray, np.ndarray]:
    res = draw(st.sampled_from(RESOLUTIONS))
    n = draw(st.integers(min_value=1, max_value=60))
    values = draw(st.lists(st.floats(0, 1500, allow_nan=False), min_size=n, max_size=n))
    offset = draw(st.integers(0, 10)) * res
    series = IntensitySeries(T0 + offset, res, np.array(values), LABELS)
    span = n * res
    k = draw(st.integers(1, 12))
    starts, ends = [], []
    for _ in range(k):
        a = draw(st.integers(0, span - 1))
        b = draw(st.integers(a + 1, span))
        starts.append(series.start_s + a)
        ends.append(series.start_s + b)
    return series, np.array(starts), np.array(ends)


@settings(max_examples=300, deadline=None)
@given(series_and_windows())
def test_window_means_equal_brute_force(
    case: tuple[IntensitySeries, np.ndarray, np.ndarray],
) -> None:
    series, starts, ends = case
    got = series.window_means(starts, ends)
    want = np.array([brute_mean(series, a, b) for a, b in zip(starts, ends, strict=True)])
    assert (np.abs(got - want) <= 1e-9 * np.abs(want) + tolerance(series, starts, ends)).all()


@settings(max_examples=100, deadline=None)
@given(series_and_windows(), st.data())
def test_window_means_with_gaps_match_brute_force(
    case: tuple[IntensitySeries, np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    series, starts, ends = case
    values = series.values.copy()
    holes = data.draw(st.lists(st.integers(0, len(values) - 1), max_size=3))
    values[holes] = np.nan
    gappy = series.replace_values(values)
    got = gappy.window_means(starts, ends)
    want = np.array([brute_mean(gappy, a, b) for a, b in zip(starts, ends, strict=True)])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    tol = tolerance(gappy, starts, ends)[ok]
    assert (np.abs(got[ok] - want[ok]) <= 1e-9 * np.abs(want[ok]) + tol).all()


def test_partial_steps_weighted_by_overlap() -> None:
    s = IntensitySeries(T0, 3600, np.array([100.0, 200.0, 400.0]), LABELS)
    # 30 min of 100, 60 min of 200, 15 min of 400
    a, b = T0 + 1800, T0 + 2 * 3600 + 900
    assert s.window_mean(a, b) == pytest.approx((100 * 1800 + 200 * 3600 + 400 * 900) / 6300)
    # a window inside one step is that step's value: no interpolation
    assert s.window_mean(T0 + 600, T0 + 1200) == 100.0


def test_window_that_ends_at_a_gap_is_not_poisoned() -> None:
    s = IntensitySeries(T0, 3600, np.array([100.0, np.nan, 300.0]), LABELS)
    assert s.window_mean(T0, T0 + 3600) == 100.0
    assert s.window_mean(T0 + 7200, T0 + 10800) == 300.0
    assert np.isnan(s.window_mean(T0 + 3000, T0 + 3700))


def test_windows_outside_the_data_are_refused() -> None:
    s = IntensitySeries(T0, 3600, np.ones(3), LABELS)
    with pytest.raises(DataError, match="outside the data"):
        s.window_mean(T0 - 1, T0 + 10)
    with pytest.raises(UsageError, match="positive"):
        s.window_mean(T0 + 10, T0 + 10)


@pytest.mark.parametrize("res", RESOLUTIONS)
@pytest.mark.parametrize("duration_s", [3600, 4 * 3600, 5400, 24 * 3600])
def test_rolling_means_agree_with_window_means(res: int, duration_s: int) -> None:
    rng = np.random.default_rng(res + duration_s)
    s = IntensitySeries(T0, res, rng.uniform(50, 600, size=3 * 86400 // res), LABELS)
    starts, means = s.rolling_means(duration_s)
    assert starts[0] == s.start_s and starts[-1] + duration_s <= s.end_s
    np.testing.assert_allclose(means, s.window_means(starts, starts + duration_s), rtol=1e-10)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(RESOLUTIONS),
    st.sampled_from(RESOLUTIONS),
    st.integers(1, 4),
    st.integers(0, 2**31),
)
def test_resample_preserves_the_mean_both_directions(
    src: int, dst: int, hours: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    n = hours * 3600 // src
    s = IntensitySeries(T0, src, rng.uniform(0, 900, size=n), LABELS)
    r = s.resample(dst)
    assert r.resolution_s == dst
    assert (r.start_s, r.end_s) == (s.start_s, s.end_s)  # T0 is aligned to every resolution
    assert r.mean() == pytest.approx(s.mean(), rel=1e-12)
    # each new step is the mean of the old series over it, by an independent computation
    want = np.array([brute_mean(s, t, t + dst) for t in r.times_s])
    np.testing.assert_allclose(r.values, want, rtol=1e-9, atol=1e-9)
    # refining then coarsening gives the original back
    if dst < src:
        np.testing.assert_allclose(r.resample(src).values, s.values, rtol=1e-9)


def test_resample_drops_partly_covered_edge_steps() -> None:
    s = IntensitySeries(T0 + 900, 900, np.arange(8, dtype=float), LABELS)  # 00:15 .. 02:15
    r = s.resample(3600)
    assert r.start_s == T0 + 3600 and len(r) == 1
    assert r.values[0] == pytest.approx(np.mean([3, 4, 5, 6]))


def test_slice_keeps_steps_that_overlap() -> None:
    s = IntensitySeries(T0, 3600, np.arange(10, dtype=float), LABELS)
    part = s.slice(T0 + 5400, T0 + 4 * 3600 + 1)
    assert part.start_s == T0 + 3600 and list(part.values) == [1, 2, 3, 4]
    with pytest.raises(DataError, match="no data"):
        s.slice(T0 + 20 * 3600, T0 + 30 * 3600)


def test_align_puts_zones_on_one_grid() -> None:
    a = IntensitySeries(T0, 900, np.arange(16, dtype=float), SignalLabels(zone="A"))  # 4 h
    b = IntensitySeries(T0 + 3600, 3600, np.array([10.0, 20.0, 30.0, 40.0]), SignalLabels(zone="B"))
    ia, ib = align([a, b])
    assert (ia.resolution_s, ia.start_s, len(ia)) == (3600, T0 + 3600, 3)
    assert (ib.start_s, len(ib)) == (T0 + 3600, 3)
    assert ia.values[0] == pytest.approx(np.mean([4, 5, 6, 7]))
    ua, ub = align([a, b], span="union")
    assert (ua.start_s, len(ua)) == (T0, 5)
    assert np.isnan(ua.values[-1]) and np.isnan(ub.values[0])


def test_from_points_turns_missing_steps_into_gaps() -> None:
    t = np.array([T0, T0 + 3600, T0 + 4 * 3600])
    s = IntensitySeries.from_points(t, np.array([1.0, 2.0, 5.0]), LABELS)
    assert s.resolution_s == 3600 and len(s) == 5
    assert np.isnan(s.values[2:4]).all()


@pytest.mark.parametrize(
    ("times", "message"),
    [
        ([0, 3600, 3600], "duplicated"),
        ([0, 7200, 3600], "out of order"),
        ([0, 3600, 7200, 10800, 12600], "mixed resolutions"),
    ],
)
def test_from_points_names_the_bad_row(times: list[int], message: str) -> None:
    t = np.array(times) + T0
    with pytest.raises(DataError, match=message) as err:
        IntensitySeries.from_points(t, np.ones(len(t)), LABELS, source="x.csv")
    assert "x.csv: row" in str(err.value)
