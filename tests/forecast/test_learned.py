"""The retraining schedule, its cache, fallbacks and intervals of the learned forecaster."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from forecast.forecast_helpers import epoch, small_gbm

from carbonshift.errors import UsageError
from carbonshift.forecast import GradientBoostingForecaster, SeasonalNaiveForecaster
from carbonshift.forecast.features import FEATURE_NAMES, FeatureContext, features
from carbonshift.signals.series import IntensitySeries

H = 3600
DAY = 24 * H


class CountingGBM(GradientBoostingForecaster):
    """Counts the fits, to check the cadence and the cache."""

    fits = 0

    def _fit(self, ctx: FeatureContext, fit_index: int) -> Any | None:
        self.fits += 1
        return super()._fit(ctx, fit_index)


def counting(**overrides: Any) -> CountingGBM:
    options: dict[str, Any] = {
        "max_iter": 10,
        "max_rows": 2000,
        "train_window_s": 21 * DAY,
        "min_train_s": 7 * DAY,
        "calibration_s": 7 * DAY,
    }
    options.update(overrides)
    return CountingGBM(**options)


def test_refits_at_most_once_per_cadence(de_actual: IntensitySeries) -> None:
    model = counting()
    start = epoch("2022-05-05T00:00")  # a fit time (Thursday)
    for hour in range(0, 7 * 24, 12):
        model.predict(de_actual, start + hour * H, 24 * H)
    assert model.fits == 2  # this week's model and the one it is calibrated with
    model.predict(de_actual, start + 7 * DAY, 24 * H)
    assert model.fits == 3  # the next week: one more


def test_changed_past_data_are_never_served_a_stale_model(de_actual: IntensitySeries) -> None:
    model = counting(quantiles=())
    now = epoch("2022-05-06T00:00")
    first = model.forecast(de_actual, now, 24 * H)
    values = de_actual.values.copy()
    values[(now - de_actual.start_s) // H - 48 :] *= 3.0  # the last two days before now, and after
    second = model.forecast(de_actual.replace_values(values), now, 24 * H)
    assert model.fits == 2 and not np.array_equal(first.values, second.values)


def test_same_data_same_forecast_in_any_order(de_actual: IntensitySeries) -> None:
    nows = [epoch("2022-05-06T00:00"), epoch("2022-04-20T07:00"), epoch("2022-05-12T23:00")]
    a, b = small_gbm(), small_gbm()
    forward = [a.forecast(de_actual, n, 24 * H).values for n in nows]
    backward = [b.forecast(de_actual, n, 24 * H).values for n in reversed(nows)][::-1]
    for x, y in zip(forward, backward, strict=True):
        np.testing.assert_array_equal(x, y)


def test_too_little_history_falls_back_to_seasonal_naive(de_actual: IntensitySeries) -> None:
    now = de_actual.start_s + 5 * DAY
    fc = small_gbm().predict(de_actual, now, 24 * H)
    assert fc.notes and "seasonal-naive" in fc.notes[0] and not fc.quantiles
    naive = SeasonalNaiveForecaster(DAY).forecast(de_actual, now, 24 * H)
    np.testing.assert_array_equal(fc.series.values, naive.values)


def test_first_weeks_have_no_intervals_yet(de_actual: IntensitySeries) -> None:
    model = small_gbm(min_train_s=7 * DAY)
    fc = model.predict(de_actual, de_actual.start_s + 16 * DAY, 24 * H)
    assert not fc.quantiles and any("no intervals" in n for n in fc.notes)


def test_horizon_beyond_the_trained_leads(de_actual: IntensitySeries) -> None:
    fc = small_gbm().predict(de_actual, epoch("2022-05-06T00:00"), 72 * H)
    assert len(fc.series) == 72 and not np.isnan(fc.series.values).any()
    assert fc.upper is not None and len(fc.upper) == 72


def test_features_read_only_known_steps(de_actual: IntensitySeries) -> None:
    ctx = FeatureContext(de_actual.values, de_actual.start_s, H)
    last = np.full(48, 10_000, dtype=np.int64)
    target = 10_001 + np.arange(48, dtype=np.int64)
    spoiled = de_actual.values.copy()
    spoiled[10_001:] = np.nan
    x = features(ctx, target, last)
    y = features(FeatureContext(spoiled, de_actual.start_s, H), target, last)
    np.testing.assert_array_equal(x, y)
    assert x.shape == (48, len(FEATURE_NAMES))
    base = de_actual.values[10_001 - 24]
    assert x[0, FEATURE_NAMES.index("base")] == base
    assert x[0, FEATURE_NAMES.index("last_minus_base")] == de_actual.values[10_000] - base
    assert x[30, FEATURE_NAMES.index("base")] == de_actual.values[10_001 + 30 - 48]
    assert x[0, FEATURE_NAMES.index("lead_h")] == 0.0 and x[47, 0] == 47.0


def test_bad_options() -> None:
    with pytest.raises(UsageError, match="quantiles"):
        GradientBoostingForecaster(quantiles=(0.1, 1.5))
    with pytest.raises(UsageError, match="min_train_s"):
        GradientBoostingForecaster(train_window_s=DAY, min_train_s=2 * DAY)
