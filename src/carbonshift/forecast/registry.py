"""Forecasters by name, as the CLI and configuration files name them.

========================  ======================================================================
``persistence``           :class:`PersistenceForecaster`: the last known value
``seasonal_24h``          :class:`SeasonalNaiveForecaster` with a 24 h period
``seasonal_168h``         :class:`SeasonalNaiveForecaster` with a 168 h (weekly) period
``climatology``           :class:`ClimatologyForecaster`: hour-of-week mean of the last 4 weeks
``gbm``                   :class:`GradientBoostingForecaster`: gradient-boosted trees, retrained
                          weekly, with p10/p90 intervals
``provider``              :class:`ProviderForecast`: a provider's stored forecast column, replayed
                          as issued (needs ``provider_column``)
``noisy_oracle``          :class:`NoisyOracleForecaster`: **perfect foresight + Gaussian noise**
                          (reads the future; for reproducing studies, never a real forecast;
                          needs ``actuals``, takes ``error``, ``seed``, ``scale``)
========================  ======================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from carbonshift.errors import UsageError
from carbonshift.forecast.base import Forecaster
from carbonshift.forecast.baselines import (
    DAY_S,
    WEEK_S,
    ClimatologyForecaster,
    PersistenceForecaster,
    SeasonalNaiveForecaster,
)
from carbonshift.forecast.learned import GradientBoostingForecaster
from carbonshift.forecast.noisy import NoisyOracleForecaster
from carbonshift.forecast.provider import IssueSchedule, ProviderForecast
from carbonshift.signals.series import IntensitySeries

__all__ = ["FORECASTERS", "make_forecaster", "model_names", "parse_model_names", "register"]

Factory = Callable[..., Forecaster]


def _provider(
    *, provider_column: IntensitySeries | None = None, schedule: IssueSchedule | None = None
) -> Forecaster:
    if provider_column is None:
        raise UsageError(
            "provider: no provider forecast was given",
            hint="load the zone's forecast variant (e.g. from the dacf dataset) and pass it",
        )
    return ProviderForecast(provider_column, schedule)


def _noisy_oracle(
    *,
    actuals: IntensitySeries | Mapping[str, IntensitySeries] | None = None,
    error: float = 0.05,
    seed: int = 0,
    scale: str = "series",
) -> Forecaster:
    if actuals is None:
        raise UsageError(
            "noisy_oracle: no actual series was given (it is perfect foresight plus noise)",
            hint="pass actuals=<the replayed series>",
        )
    return NoisyOracleForecaster(actuals, error=error, seed=seed, scale=scale)


FORECASTERS: dict[str, Factory] = {
    "persistence": lambda **kw: PersistenceForecaster(**kw),
    "seasonal_24h": lambda **kw: SeasonalNaiveForecaster(DAY_S, **kw),
    "seasonal_168h": lambda **kw: SeasonalNaiveForecaster(WEEK_S, **kw),
    "climatology": lambda **kw: ClimatologyForecaster(**kw),
    "gbm": lambda **kw: GradientBoostingForecaster(**kw),
    "provider": _provider,
    "noisy_oracle": _noisy_oracle,
}


def model_names() -> tuple[str, ...]:
    """Every registered name, in registry order."""
    return tuple(FORECASTERS)


def register(name: str, factory: Factory) -> None:
    """Add (or replace) a forecaster under ``name``."""
    FORECASTERS[name] = factory


def make_forecaster(name: str, **options: Any) -> Forecaster:
    """A new forecaster by registry name; ``options`` go to its constructor (the provider
    takes ``provider_column`` and optionally ``schedule``)."""
    factory = FORECASTERS.get(name)
    if factory is None:
        raise UsageError(
            f"model: unknown forecaster {name!r}", hint=f"use one of {', '.join(FORECASTERS)}"
        )
    return factory(**options)


def parse_model_names(text: str | Sequence[str], *, field: str = "--models") -> list[str]:
    """Comma-separated (or listed) names, checked against the registry, duplicates dropped."""
    raw = text.split(",") if isinstance(text, str) else list(text)
    names = [n.strip() for n in raw if n.strip()]
    if not names:
        raise UsageError(f"{field}: no model named", hint=f"e.g. {','.join(FORECASTERS)}")
    for n in names:
        if n not in FORECASTERS:
            raise UsageError(
                f"{field}: unknown model {n!r}", hint=f"use one of {', '.join(FORECASTERS)}"
            )
    return list(dict.fromkeys(names))
