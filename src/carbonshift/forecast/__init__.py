"""Forecasters: history in, forecast series out, using only data stamped before the decision
time; and their backtest.

Pure: no I/O, no clock. Every forecaster has one interface,
``Forecaster.forecast(history, now_s, horizon_s) -> IntensitySeries`` (and ``predict`` for the
same with intervals and notes), and takes only the steps complete at ``now`` (see
:mod:`carbonshift.forecast.base`). Build them by name with :func:`make_forecaster`.
"""

from carbonshift.forecast.backtest import (
    BacktestResult,
    ErrorRow,
    RankingRow,
    RankingStats,
    backtest,
    backtest_zone,
    decision_times,
    error_metrics,
    ranking_capture,
)
from carbonshift.forecast.base import BatchForecast, Forecast, Forecaster
from carbonshift.forecast.baselines import (
    ClimatologyForecaster,
    PersistenceForecaster,
    SeasonalNaiveForecaster,
)
from carbonshift.forecast.learned import GradientBoostingForecaster, RetrainingForecaster
from carbonshift.forecast.noisy import NoisyOracleForecaster
from carbonshift.forecast.provider import DailyIssue, FixedLead, IssueSchedule, ProviderForecast
from carbonshift.forecast.registry import (
    FORECASTERS,
    make_forecaster,
    model_names,
    parse_model_names,
)

__all__ = [
    "FORECASTERS",
    "BacktestResult",
    "BatchForecast",
    "ClimatologyForecaster",
    "DailyIssue",
    "ErrorRow",
    "FixedLead",
    "Forecast",
    "Forecaster",
    "GradientBoostingForecaster",
    "IssueSchedule",
    "NoisyOracleForecaster",
    "PersistenceForecaster",
    "ProviderForecast",
    "RankingRow",
    "RankingStats",
    "RetrainingForecaster",
    "SeasonalNaiveForecaster",
    "backtest",
    "backtest_zone",
    "decision_times",
    "error_metrics",
    "make_forecaster",
    "model_names",
    "parse_model_names",
    "ranking_capture",
]
