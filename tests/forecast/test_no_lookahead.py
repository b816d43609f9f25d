"""No lookahead: changing anything at or after ``now`` never moves a forecast made at ``now``.

Run on real data (Electricity Maps DE, 2022), for every model, for single forecasts and for the
vectorised batch path, and across a retraining boundary of the learned model.
"""

from __future__ import annotations

import numpy as np
import pytest
from forecast.forecast_helpers import epoch, small_gbm

from carbonshift.forecast import Forecaster, make_forecaster
from carbonshift.signals.series import IntensitySeries

H = 3600
SIMPLE = ["persistence", "seasonal_24h", "seasonal_168h", "climatology"]


def spoiled(series: IntensitySeries, now_s: int, how: str) -> IntensitySeries:
    """The series with every step not complete at ``now`` changed (``t + r > now``)."""
    values = series.values.copy()
    cut = max(0, (now_s - series.start_s) // series.resolution_s)
    if how == "x10":
        values[cut:] *= 10.0
    elif how == "nan":
        values[cut:] = np.nan
    else:
        values[cut:] = np.random.default_rng(0).uniform(0, 1000, size=values.size - cut)
    return series.replace_values(values)


def assert_same_forecast(
    model: Forecaster, history: IntensitySeries, now_s: int, horizon_s: int
) -> None:
    base = model.predict(history, now_s, horizon_s)
    for how in ("x10", "nan", "noise"):
        other = model.predict(spoiled(history, now_s, how), now_s, horizon_s)
        assert other.series.start_s == base.series.start_s
        np.testing.assert_array_equal(other.series.values, base.series.values)
        assert set(other.quantiles) == set(base.quantiles)
        for q, series in base.quantiles.items():
            np.testing.assert_array_equal(other.quantiles[q].values, series.values)


NOWS = ["2022-03-03T00:00", "2022-06-15T13:00", "2022-11-30T23:00"]


@pytest.mark.parametrize("name", SIMPLE)
@pytest.mark.parametrize("now", NOWS)
def test_simple_models_ignore_the_future(de_actual: IntensitySeries, name: str, now: str) -> None:
    assert_same_forecast(make_forecaster(name), de_actual, epoch(now), 48 * H)


@pytest.mark.parametrize("name", SIMPLE)
def test_off_grid_now_ignores_the_running_step(de_actual: IntensitySeries, name: str) -> None:
    now = epoch("2022-06-15T13:30")
    model = make_forecaster(name)
    base = model.forecast(de_actual, now, 6 * H)
    # the step 13:00-14:00 is not complete at 13:30: changing it must not matter
    assert_same_forecast(model, de_actual, now, 6 * H)
    assert base.start_s == epoch("2022-06-15T13:00")


@pytest.mark.parametrize("name", [*SIMPLE, "gbm"])
def test_batch_rows_equal_single_forecasts_and_ignore_the_future(
    de_actual: IntensitySeries, name: str
) -> None:
    model = small_gbm() if name == "gbm" else make_forecaster(name)
    nows = np.array([epoch("2022-03-02T18:00") + k * 6 * H for k in range(6)], dtype=np.int64)
    nows[1] += 1800  # off the grid: the step containing it is not known yet
    batch = model.predict_batch(de_actual, nows, 30)
    for i, now in enumerate(nows.tolist()):
        single = model.predict(de_actual, now, 30 * H)  # 31 steps from an off-grid now
        np.testing.assert_allclose(batch.point[i], single.series.values[:30], rtol=1e-12)
        for q, series in single.quantiles.items():
            np.testing.assert_allclose(batch.quantiles[q][i], series.values[:30], rtol=1e-12)
    # spoiling everything after the third decision leaves the first three rows alone
    k = 2
    other = model.predict_batch(spoiled(de_actual, int(nows[k]), "x10"), nows, 30)
    np.testing.assert_array_equal(other.point[: k + 1], batch.point[: k + 1])
    if name in ("persistence", "seasonal_24h", "gbm"):  # these read the last hours: they move
        assert not np.array_equal(other.point[k + 1 :], batch.point[k + 1 :])


def test_gbm_across_a_retrain_boundary(de_actual: IntensitySeries) -> None:
    model = small_gbm()
    boundary = epoch("2022-03-03T00:00")  # a Thursday: a multiple of 7 days since the epoch
    assert model.fit_time_s(boundary) == boundary
    assert model.fit_time_s(boundary - H) == boundary - 7 * 86400
    for now in (boundary - H, boundary, boundary + H, boundary + 30 * H):
        assert_same_forecast(model, de_actual, now, 48 * H)


def test_gbm_uses_recent_data_and_has_intervals(de_actual: IntensitySeries) -> None:
    model = small_gbm()
    now = epoch("2022-03-03T05:00")
    fc = model.predict(de_actual, now, 24 * H)
    assert fc.notes == () and set(fc.quantiles) == {0.1, 0.9}
    assert fc.lower is not None and fc.upper is not None
    assert (fc.lower.values <= fc.series.values).all() and (
        fc.series.values <= fc.upper.values
    ).all()
    # the data just before now do matter (the model is not reading a stale copy)
    values = de_actual.values.copy()
    cut = (now - de_actual.start_s) // H
    values[cut - 3 : cut] *= 2.0
    changed = model.predict(de_actual.replace_values(values), now, 24 * H)
    assert not np.array_equal(changed.series.values, fc.series.values)
