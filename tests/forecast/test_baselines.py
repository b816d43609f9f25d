"""Persistence, seasonal naive and climatology against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from forecast.forecast_helpers import epoch, synthetic

from carbonshift.errors import DataError, UsageError
from carbonshift.forecast import (
    ClimatologyForecaster,
    PersistenceForecaster,
    SeasonalNaiveForecaster,
)
from carbonshift.signals.series import IntensitySeries

H = 3600
DAY = 24 * H
WEEK = 7 * DAY


def ramp(n: int) -> IntensitySeries:
    return synthetic(np.arange(n, dtype=np.float64) * 1.5 + 100.0)


def test_persistence_is_last_known_value() -> None:
    series = ramp(100)
    now = series.start_s + 50 * H
    fc = PersistenceForecaster().forecast(series, now, 6 * H)
    assert fc.start_s == now and fc.resolution_s == H and len(fc) == 6
    np.testing.assert_array_equal(fc.values, np.full(6, series.values[49]))


def test_persistence_skips_missing_values() -> None:
    values = np.arange(20, dtype=np.float64)
    values[17:] = np.nan
    series = synthetic(values)
    fc = PersistenceForecaster().forecast(series, series.start_s + 19 * H, 2 * H)
    np.testing.assert_array_equal(fc.values, [16.0, 16.0])


def test_labels_say_forecast_issued_now() -> None:
    series = ramp(100)
    now = series.start_s + 50 * H
    fc = PersistenceForecaster().forecast(series, now, H)
    assert fc.labels.kind == "forecast"
    assert fc.labels.issued_at is not None and int(fc.labels.issued_at.timestamp()) == now
    assert fc.labels.lead is None
    assert fc.labels.comparable_with(series.labels) and fc.labels.zone == series.labels.zone


def test_off_grid_now_starts_with_the_step_containing_it() -> None:
    series = ramp(100)
    now = series.start_s + 50 * H + 1800  # 50.5 h: step 50 is not complete
    fc = PersistenceForecaster().forecast(series, now, 2 * H)
    assert fc.start_s == series.start_s + 50 * H
    assert len(fc) == 3  # covers [now, now + 2 h) = steps 50, 51, 52
    np.testing.assert_array_equal(fc.values, np.full(3, series.values[49]))


def test_seasonal_24h_equals_value_a_day_earlier() -> None:
    series = ramp(24 * 10)
    now = series.start_s + 24 * 5 * H
    fc = SeasonalNaiveForecaster(DAY).forecast(series, now, 24 * H)
    first = 24 * 5
    np.testing.assert_array_equal(fc.values, series.values[first - 24 : first])


def test_seasonal_beyond_one_period_uses_newest_known_same_hour() -> None:
    series = ramp(24 * 10)
    first = 24 * 5
    fc = SeasonalNaiveForecaster(DAY).forecast(series, series.start_s + first * H, 48 * H)
    expected = np.concatenate([series.values[first - 24 : first]] * 2)
    np.testing.assert_array_equal(fc.values, expected)


def test_seasonal_168h_equals_value_a_week_earlier() -> None:
    series = ramp(24 * 21)
    first = 24 * 15 + 7
    fc = SeasonalNaiveForecaster(WEEK).forecast(series, series.start_s + first * H, 30 * H)
    np.testing.assert_array_equal(fc.values, series.values[first - 168 : first - 168 + 30])


def test_seasonal_keeps_missing_values_missing() -> None:
    values = np.arange(24 * 3, dtype=np.float64)
    values[24 * 2 - 1] = np.nan  # yesterday 23:00
    series = synthetic(values)
    fc = SeasonalNaiveForecaster(DAY).forecast(series, series.start_s + 48 * H, 24 * H)
    assert np.isnan(fc.values[23]) and not np.isnan(fc.values[:23]).any()


def test_climatology_is_hour_of_week_mean_of_last_weeks() -> None:
    rng = np.random.default_rng(1)
    values = rng.uniform(50, 500, size=24 * 7 * 6)
    series = synthetic(values)
    first = 24 * 7 * 5 + 10  # Monday of week 6, 10:00
    fc = ClimatologyForecaster(weeks=4).forecast(series, series.start_s + first * H, 3 * H)
    for j in range(3):
        t = first + j
        hand = (values[t - 168] + values[t - 336] + values[t - 504] + values[t - 672]) / 4
        assert fc.values[j] == pytest.approx(hand, rel=1e-12)


def test_climatology_ignores_missing_weeks_and_short_history() -> None:
    values = np.arange(24 * 7 * 3, dtype=np.float64)
    values[24 * 7 * 2 + 5 - 168] = np.nan  # last week's value at the target hour is missing
    series = synthetic(values)
    first = 24 * 7 * 2 + 5  # only 2 weeks of history: 1 known value + 1 missing
    fc = ClimatologyForecaster(weeks=4).forecast(series, series.start_s + first * H, H)
    assert fc.values[0] == values[first - 336]


def test_no_history_is_a_data_error() -> None:
    series = ramp(48)
    for model in (PersistenceForecaster(), SeasonalNaiveForecaster(DAY), ClimatologyForecaster()):
        with pytest.raises(DataError, match="no values known before"):
            model.forecast(series, series.start_s, 6 * H)


def test_period_must_be_whole_steps_and_horizon_positive() -> None:
    series = synthetic(np.ones(200), resolution_s=7 * 60)  # 7-minute steps do not divide a day
    with pytest.raises(UsageError, match="whole number"):
        SeasonalNaiveForecaster(DAY).forecast(series, series.start_s + 100 * 420, H)
    with pytest.raises(UsageError, match="horizon"):
        PersistenceForecaster().forecast(ramp(10), epoch("2022-01-03T05:00"), 0)


def test_sub_hourly_grid() -> None:
    values = np.arange(288 * 3, dtype=np.float64)
    series = synthetic(values, resolution_s=300)
    first = 288 * 2
    fc = SeasonalNaiveForecaster(DAY).forecast(series, series.start_s + first * 300, H)
    np.testing.assert_array_equal(fc.values, values[first - 288 : first - 288 + 12])
