"""The small interface every grid-signal provider implements, and what it declares it can do."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Self

from carbonshift.errors import UsageError
from carbonshift.signals.labels import Accounting, Basis, Signal
from carbonshift.signals.series import IntensitySeries

__all__ = ["AuthKind", "Provider", "ProviderCapabilities"]

AuthKind = Literal["none", "token", "login"]


@dataclass(frozen=True, slots=True)
class ProviderCapabilities:
    """What a provider offers, so callers can choose without trying.

    ``credential_env`` names the environment variables a user sets for ``auth`` (the same
    names are the keys of the config file). ``forecast_horizon`` is how far ahead forecasts
    reach; ``max_range`` the longest period one history request may ask for (the client
    splits longer ranges into chunks).
    """

    name: str
    history: bool
    forecast: bool
    forecast_horizon: timedelta | None
    resolution: timedelta
    signal: Signal
    accounting: Accounting
    basis: Basis
    auth: AuthKind
    credential_env: tuple[str, ...] = ()
    max_range: timedelta | None = None
    zones_hint: str = ""


class Provider(abc.ABC):
    """A source of intensity series. Implementations do I/O; the series they return are pure."""

    capabilities: ProviderCapabilities

    @abc.abstractmethod
    def history(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        """Actual values covering ``[start, end)`` (steps may be missing: NaN)."""

    def forecast(self, zone: str, *, now: datetime | None = None) -> IntensitySeries:
        """The provider's latest forecast issued at or before ``now`` (labels carry issue time)."""
        raise UsageError(
            f"provider {self.capabilities.name} has no forecasts",
            hint="use a forecaster from carbonshift.forecast, or a provider that offers one",
        )

    def close(self) -> None:
        """Release connections; safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
