"""Forecasters by name."""

from __future__ import annotations

import pytest

from carbonshift.errors import UsageError
from carbonshift.forecast import (
    ClimatologyForecaster,
    GradientBoostingForecaster,
    PersistenceForecaster,
    SeasonalNaiveForecaster,
    make_forecaster,
    model_names,
    parse_model_names,
)


def test_every_required_name_is_registered() -> None:
    assert set(model_names()) >= {
        "persistence",
        "seasonal_24h",
        "seasonal_168h",
        "climatology",
        "gbm",
        "provider",
    }
    assert isinstance(make_forecaster("persistence"), PersistenceForecaster)
    seasonal = make_forecaster("seasonal_168h")
    assert isinstance(seasonal, SeasonalNaiveForecaster) and seasonal.period_s == 7 * 86400
    assert seasonal.name == "seasonal_168h"
    assert isinstance(make_forecaster("climatology", weeks=2), ClimatologyForecaster)
    assert isinstance(make_forecaster("gbm"), GradientBoostingForecaster)


def test_unknown_names() -> None:
    with pytest.raises(UsageError, match="unknown forecaster 'arima'"):
        make_forecaster("arima")
    with pytest.raises(UsageError, match="--models: unknown model 'arima'"):
        parse_model_names("persistence,arima")
    with pytest.raises(UsageError, match="no model named"):
        parse_model_names(" , ")
    assert parse_model_names("gbm, persistence,gbm") == ["gbm", "persistence"]
