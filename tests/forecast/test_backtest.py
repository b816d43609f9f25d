"""Backtest metrics against independent computations on small cases."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from forecast.forecast_helpers import synthetic

from carbonshift.errors import UsageError
from carbonshift.forecast import (
    Forecast,
    Forecaster,
    PersistenceForecaster,
    ProviderForecast,
    SeasonalNaiveForecaster,
    backtest,
    backtest_zone,
    error_metrics,
    ranking_capture,
)
from carbonshift.forecast.base import first_step_index
from carbonshift.forecast.provider import FixedLead
from carbonshift.signals.series import IntensitySeries

H = 3600
DAY = 24 * H


class Oracle(Forecaster):
    """Perfect foresight, for testing only: it holds the actual series itself."""

    name = "oracle"

    def __init__(self, truth: IntensitySeries) -> None:
        self.truth = truth

    def _predict(self, known: IntensitySeries, now_s: int, n_steps: int) -> Forecast:
        first = first_step_index(known, now_s)
        values = np.full(n_steps, np.nan)
        avail = self.truth.values[first : first + n_steps]
        values[: avail.size] = avail
        return Forecast(self._series(known, now_s, values), self.name)


def noisy_days(days: int, seed: int = 3) -> IntensitySeries:
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    values = 300 + 80 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 25, hours.size)
    return synthetic(np.maximum(values, 0.0))


def test_error_metrics_match_a_hand_computation() -> None:
    f = np.array([110.0, 90.0, np.nan, 50.0, 7.0])
    a = np.array([100.0, 100.0, 80.0, 0.0, 10.0])
    n, mae, n_mape, mape = error_metrics(f, a)
    assert n == 4 and n_mape == 3
    assert mae == pytest.approx((10 + 10 + 50 + 3) / 4)
    # the zero actual is left out of MAPE
    assert mape == pytest.approx((0.1 + 0.1 + 0.3) / 3 * 100)
    assert error_metrics(np.array([np.nan]), np.array([1.0])) == (0, None, 0, None)
    assert error_metrics(np.array([1.0]), np.array([0.0]))[3] is None


def test_ranking_capture_hand_case() -> None:
    actual = np.array([[10.0, 5.0, 8.0], [6.0, 6.0, 2.0]])
    forecast = np.array([[9.0, 7.0, 3.0], [5.0, 1.0, 9.0]])
    stats = ranking_capture(forecast, actual, 1)
    # picks 8 (instead of 10; oracle 5) and 6 (instead of 6; oracle 2): sums over decisions
    assert (stats.decisions, stats.immediate_sum, stats.chosen_sum, stats.oracle_sum) == (
        2,
        16.0,
        14.0,
        7.0,
    )
    assert stats.capture_pct == pytest.approx(200 / 9)
    assert stats.reduction_pct == pytest.approx(12.5)
    assert stats.oracle_reduction_pct == pytest.approx(9 / 16 * 100)
    # a 2-step job: windows [0,1] and [1,2]
    two = ranking_capture(forecast, actual, 2)
    assert two.immediate_sum == pytest.approx(7.5 + 6.0)
    assert two.chosen_sum == pytest.approx(
        6.5 + 6.0
    )  # forecast means 8, 5 -> second; 3, 5 -> first
    assert two.oracle_sum == pytest.approx(6.5 + 4.0)
    # ties go to the earliest start; a window with a missing value is skipped
    flat = ranking_capture(np.full((1, 30), 0.1 + 0.2), np.arange(30.0)[None, ::-1] + 1, 3)
    assert flat.chosen_sum == flat.immediate_sum  # a flat forecast starts at once
    tie = ranking_capture(
        np.array([[1.0, 1.0], [1.0, np.nan]]), np.array([[3.0, 1.0], [2.0, 2.0]]), 1
    )
    assert tie.decisions == 1 and tie.chosen_sum == 3.0 and tie.capture_pct == 0.0


def test_oracle_captures_everything() -> None:
    actual = noisy_days(30)
    start = actual.start_s + 7 * DAY
    errors, ranking = backtest_zone(
        actual,
        {"oracle": Oracle(actual), "seasonal_24h": SeasonalNaiveForecaster(DAY)},
        start_s=start,
        end_s=start + 14 * DAY,
        every_s=6 * H,
        horizons_s=[H, 24 * H],
    )
    oracle = next(r for r in ranking if r.model == "oracle")
    assert oracle.decisions == 56 and oracle.capture_pct == pytest.approx(100.0)
    assert oracle.reduction_pct == pytest.approx(oracle.oracle_reduction_pct)
    assert all(e.mae_g_per_kwh == 0.0 for e in errors if e.model == "oracle")
    seasonal = next(r for r in ranking if r.model == "seasonal_24h")
    assert seasonal.capture_pct is not None and 0 < seasonal.capture_pct < 100


def test_backtest_errors_equal_an_independent_loop() -> None:
    actual = noisy_days(20)
    start = actual.start_s + 3 * DAY + 5 * H
    end = start + 5 * DAY
    models: dict[str, Forecaster] = {
        "persistence": PersistenceForecaster(),
        "seasonal_24h": SeasonalNaiveForecaster(DAY),
    }
    errors, _ = backtest_zone(
        actual, models, start_s=start, end_s=end, every_s=7 * H, horizons_s=[2 * H, 6 * H]
    )
    for name, model in models.items():
        for h in (2 * H, 6 * H):
            abs_err: list[float] = []
            pct_err: list[float] = []
            at_err: list[float] = []
            for now in range(start, end, 7 * H):
                fc = model.forecast(actual, now, h)
                for j in range(h // H):
                    a = float(actual.values[(now - actual.start_s) // H + j])
                    abs_err.append(abs(float(fc.values[j]) - a))
                    pct_err.append(abs(float(fc.values[j]) - a) / a * 100)
                at_err.append(abs_err[-1])
            row = next(e for e in errors if e.model == name and e.horizon_s == h)
            assert row.n == len(abs_err)
            assert row.mae_g_per_kwh == pytest.approx(math.fsum(abs_err) / len(abs_err), rel=1e-12)
            assert row.mape_pct == pytest.approx(math.fsum(pct_err) / len(pct_err), rel=1e-12)
            assert row.mae_at_horizon_g_per_kwh == pytest.approx(
                math.fsum(at_err) / len(at_err), rel=1e-12
            )


def test_a_provider_that_stops_early_does_not_shrink_the_others() -> None:
    actual = noisy_days(20)
    column = actual.with_labels(
        actual.labels.with_(kind="forecast", provider="file")
    ).replace_values(actual.values + 5.0)
    models: dict[str, Forecaster] = {
        "provider": ProviderForecast(column, FixedLead(24 * H)),
        "persistence": PersistenceForecaster(),
    }
    start = actual.start_s + 2 * DAY
    errors, ranking = backtest_zone(
        actual,
        models,
        start_s=start,
        end_s=start + 5 * DAY,
        every_s=6 * H,
        horizons_s=[24 * H, 48 * H],
    )
    by = {(e.model, e.horizon_s): e for e in errors}
    assert by["provider", 24 * H].mae_g_per_kwh == pytest.approx(5.0)
    assert by["provider", 48 * H].n == 0 and by["provider", 48 * H].mape_pct is None
    assert by["persistence", 48 * H].n == 20 * 48  # every decision, every lead
    assert all(r.decisions == 20 for r in ranking)


def test_period_and_step_checks() -> None:
    actual = noisy_days(10)
    models: dict[str, Forecaster] = {"persistence": PersistenceForecaster()}
    s = actual.start_s
    cases: list[tuple[dict[str, Any], str]] = [
        ({"start_s": s + DAY, "end_s": s + DAY}, "end must come after"),
        ({"start_s": s - DAY, "end_s": s + DAY}, "outside the data"),
        ({"start_s": s + DAY, "end_s": s + 20 * DAY}, "outside the data"),
        ({"start_s": s + DAY + 60, "end_s": s + 2 * DAY}, "grid"),
        ({"start_s": s + DAY, "end_s": s + 2 * DAY, "every_s": 1800}, "every"),
        ({"start_s": s + DAY, "end_s": s + 2 * DAY, "horizons_s": [5400]}, "horizon"),
        ({"start_s": s + DAY, "end_s": s + 2 * DAY, "job_duration_s": 2 * DAY}, "job duration"),
    ]
    for kwargs, message in cases:
        options: dict[str, Any] = {"every_s": 6 * H, "horizons_s": [H], **kwargs}
        with pytest.raises(UsageError, match=message):
            backtest_zone(actual, models, **options)


def test_backtest_many_zones_and_json() -> None:
    a, b = noisy_days(12, seed=1), noisy_days(12, seed=2)
    b = b.with_labels(b.labels.with_(zone="OTHER"))
    result = backtest(
        [
            (a, {"persistence": PersistenceForecaster()}),
            (b, {"persistence": PersistenceForecaster()}),
        ],
        start_s=a.start_s + DAY,
        end_s=a.start_s + 8 * DAY,
    )
    data = result.to_dict()
    assert {r["zone"] for r in data["errors"]} == {"TEST", "OTHER"}
    assert data["period"]["from"] == "2022-01-04T00:00Z" and data["every_s"] == 6 * H
    assert len(data["errors"]) == 2 * 4 and len(data["ranking"]) == 2
