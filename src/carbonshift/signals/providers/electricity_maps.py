"""Client for the Electricity Maps API v3 (https://api.electricitymap.org/v3), token-authenticated.

Signal labels, and why
    ``signal="average"``: Electricity Maps' carbon intensity is the mean intensity of the mix
    (not a marginal signal).
    ``basis="consumption"``: its carbon intensity is flow-traced: imports are followed back to
    the generation that made them, so the number describes electricity consumed in the zone.
    ``accounting``: ``lifecycle`` (the API's default, LCA factors incl. upstream) or ``direct``
    (operational), chosen by ``emission_factor_type`` and sent as ``emissionFactorType``. The
    label kept on a series is the one the answer states in ``emissionFactorType`` when present,
    so a series is never mislabelled even if the API ignored the query parameter.
    ``unit="gCO2eq/kWh"``.

Estimated values
    Where Electricity Maps had no measurement it returns a modelled value with ``isEstimated``
    true (``estimationMethod`` e.g. ``TIME_SLICER_AVERAGE``). The returned series keep that in
    :attr:`IntensitySeries.filled` (True = estimated by the provider rather than measured);
    ``disable_estimations=True`` asks the API to leave those steps out instead (they become
    NaN).

Endpoints
    :meth:`ElectricityMapsProvider.latest` ``/carbon-intensity/latest`` (one step);
    :meth:`ElectricityMapsProvider.recent_history` ``/carbon-intensity/history`` (the last
    24 h, list key ``history``); :meth:`ElectricityMapsProvider.history`
    ``/carbon-intensity/past-range`` (list key ``data``; the API allows at most 10 days
    (240 h) per request at hourly granularity, so longer ranges are fetched in 10-day chunks);
    :meth:`ElectricityMapsProvider.forecast` ``/carbon-intensity/forecast`` (list key
    ``forecast``; ``updatedAt`` becomes the forecast's ``issued_at``). Values are hourly,
    stamped at the start of their hour. Query times are sent as ``2024-03-05T20:00:00.000Z``.

Credentials
    The token comes from ``token=`` or else from ``ELECTRICITYMAPS_TOKEN`` (environment, then
    the config file), resolved on the first request, and is sent only as the ``auth-token``
    header. It never appears in a repr, an error message, a log line or a cache key.

Errors: ``{"error": "No recent data for zone \\"X\\""}`` (any status) and the legacy
``{"status": "no-data"}`` body raise :class:`NoDataError` naming the zone, never a zero value.

Caching (with a :class:`ResponseCache`): latest, recent history and forecasts are kept until
the next hour boundary; a past-range chunk that ended more than one day before the request is
kept 30 days, a more recent one until the next hour boundary.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import httpx
import numpy as np

from carbonshift.errors import (
    AuthenticationError,
    DataError,
    NoDataError,
    ProviderError,
    UsageError,
)
from carbonshift.signals.labels import Accounting, Kind, SignalLabels
from carbonshift.signals.providers.base import ProviderCapabilities
from carbonshift.signals.providers.cache import ResponseCache
from carbonshift.signals.providers.credentials import Secret, get_credential
from carbonshift.signals.providers.http import HttpClient, HttpProvider
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import format_time, from_epoch_s, parse_time, utc

__all__ = ["PROVIDER", "TOKEN_ENV", "ElectricityMapsProvider"]

PROVIDER = "electricity_maps"
TOKEN_ENV = "ELECTRICITYMAPS_TOKEN"
DEFAULT_BASE_URL = "https://api.electricitymap.org/v3"
UNIT = "gCO2eq/kWh"
STEP_S = 3600
MAX_RANGE = timedelta(days=10)
SETTLED_AFTER = timedelta(days=1)
SETTLED_CACHE_FOR = timedelta(days=30)

_NO_DATA_RE = re.compile(r"no (recent )?data", re.IGNORECASE)
_FACTOR_TYPES: tuple[str, ...] = get_args(Accounting)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _api_time(value: datetime) -> str:
    """Electricity Maps' format: milliseconds and ``Z`` (``2024-03-05T20:00:00.000Z``)."""
    v = utc(value)
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"


def _floor_s(seconds: float, step_s: int) -> int:
    return int(seconds // step_s) * step_s


def _ceil_s(seconds: float, step_s: int) -> int:
    return -int(-seconds // step_s) * step_s


def _chunks(start_s: int, end_s: int, max_s: int) -> Iterator[tuple[int, int]]:
    a = start_s
    while a < end_s:
        b = min(a + max_s, end_s)
        yield a, b
        a = b


@dataclass(frozen=True, slots=True)
class _Point:
    start_s: int
    value: float
    estimated: bool
    factor_type: str | None


class ElectricityMapsProvider(HttpProvider):
    """Electricity Maps carbon intensity: average, consumption-based, lifecycle or direct.

    See the module docstring for the endpoints, labels and caching. Keyword-only options:
    ``token`` (overrides ``ELECTRICITYMAPS_TOKEN``), ``emission_factor_type`` (``lifecycle``
    or ``direct``), ``disable_estimations``, ``cache``, ``transport``, ``clock``, ``sleep``,
    ``timeout_s`` and ``max_retries``.
    """

    capabilities = ProviderCapabilities(
        name=PROVIDER,
        history=True,
        forecast=True,
        forecast_horizon=timedelta(hours=24),
        resolution=timedelta(seconds=STEP_S),
        signal="average",
        accounting="lifecycle",
        basis="consumption",
        auth="token",
        credential_env=(TOKEN_ENV,),
        max_range=MAX_RANGE,
        zones_hint="Electricity Maps zone keys, e.g. DE, DK-DK2, US-MIDW-MISO (see /v3/zones)",
    )
    """Class-level defaults (lifecycle); an instance built with ``emission_factor_type="direct"``
    declares ``accounting="direct"`` instead."""

    def __init__(
        self,
        *,
        token: Secret | None = None,
        base_url: str = DEFAULT_BASE_URL,
        emission_factor_type: Accounting = "lifecycle",
        disable_estimations: bool = False,
        cache: ResponseCache | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
        timeout_s: float = 20.0,
        max_retries: int = 4,
    ) -> None:
        if emission_factor_type not in _FACTOR_TYPES:
            raise UsageError(
                f"emission_factor_type: {emission_factor_type!r} is not a known value",
                hint="use lifecycle or direct",
            )
        if token is not None and not isinstance(token, Secret):
            raise UsageError(
                "token: pass the token wrapped in Secret(...)",
                hint="so it never shows in logs or tracebacks",
            )
        self._token = token
        self._clock = clock
        self.emission_factor_type: Accounting = emission_factor_type
        self.disable_estimations = disable_estimations
        self.capabilities = replace(type(self).capabilities, accounting=emission_factor_type)
        self._http = HttpClient(
            provider=PROVIDER,
            base_url=base_url,
            timeout_s=timeout_s,
            max_retries=max_retries,
            cache=cache,
            transport=transport,
            clock=clock,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return (
            f"ElectricityMapsProvider(base_url={self._http.base_url!r}, "
            f"emission_factor_type={self.emission_factor_type!r})"
        )

    # ------------------------------------------------------------------ helpers
    def _now(self) -> datetime:
        return utc(self._clock())

    def _auth_header(self) -> dict[str, str | Secret]:
        if self._token is None:
            self._token = get_credential(TOKEN_ENV, provider=PROVIDER, purpose="API token")
        return {"auth-token": self._token}

    def _params(self, zone: str, **extra: str) -> dict[str, str]:
        params = {"zone": zone, "emissionFactorType": self.emission_factor_type}
        if self.disable_estimations:
            params["disableEstimations"] = "true"
        params.update(extra)
        return params

    @staticmethod
    def _next_hour(now: datetime) -> datetime:
        return from_epoch_s(_floor_s(now.timestamp(), STEP_S) + STEP_S)

    def _no_data(self, zone: str, detail: str, status: int | None) -> NoDataError:
        return NoDataError(
            f"{PROVIDER}: no data for zone {zone}: {detail}",
            hint="check the zone key, or allow estimations (disable_estimations=False)",
            status_code=status,
            provider=PROVIDER,
        )

    def _get(self, path: str, zone: str, params: dict[str, str], cache_until: datetime) -> Any:
        if not zone or not zone.strip():
            raise UsageError("zone: empty zone name", hint="name the zone, e.g. DE or DK-DK2")
        headers = self._auth_header()
        try:
            response = self._http.request(
                "GET",
                path,
                params=params,
                headers=headers,
                cache_until=cache_until,
                not_found=f"no data for zone {zone}",
            )
        except (AuthenticationError, NoDataError):
            raise
        except ProviderError as exc:
            status = exc.status_code
            if status is not None and 400 <= status < 500 and _NO_DATA_RE.search(exc.message):
                detail = exc.message.removeprefix(f"{PROVIDER}: ")
                raise self._no_data(zone, detail, status) from None
            raise
        try:
            payload = response.json()
        except ValueError:
            raise ProviderError(
                f"{PROVIDER}: {path} for zone {zone}: the answer is not JSON",
                hint="the service may be failing; retry later",
                status_code=response.status_code,
                provider=PROVIDER,
            ) from None
        if not isinstance(payload, dict):
            raise ProviderError(
                f"{PROVIDER}: {path} for zone {zone}: unexpected answer (not a JSON object)",
                provider=PROVIDER,
            )
        if "error" in payload:
            message = str(payload["error"])
            if _NO_DATA_RE.search(message):
                raise self._no_data(zone, message, response.status_code)
            raise ProviderError(
                f"{PROVIDER}: {path} for zone {zone}: {message}",
                hint="check the request parameters",
                status_code=response.status_code,
                provider=PROVIDER,
            )
        status_field = payload.get("status")
        if status_field == "no-data":
            raise self._no_data(zone, "the answer says status no-data", response.status_code)
        if status_field not in (None, "ok"):
            raise ProviderError(
                f"{PROVIDER}: {path} for zone {zone}: status {status_field!r}",
                provider=PROVIDER,
            )
        answered = payload.get("zone")
        if answered is not None and str(answered) != zone:
            raise DataError(
                f"{PROVIDER}: asked for zone {zone} but the answer is for {answered}",
                hint="check the zone key against /v3/zones",
            )
        return payload

    def _point(self, entry: Any, zone: str, where: str) -> _Point:
        try:
            start = parse_time(str(entry["datetime"]), field="datetime")
            raw = entry.get("carbonIntensity")
            if raw is None:
                value = math.nan
            elif isinstance(raw, bool) or not isinstance(raw, int | float):
                raise TypeError(f"carbonIntensity is {raw!r}")
            else:
                value = float(raw)
            factor = entry.get("emissionFactorType")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProviderError(
                f"{PROVIDER}: {where} for zone {zone}: unexpected answer "
                f"({type(exc).__name__}: {exc})",
                hint="the API may have changed its format; report it",
                provider=PROVIDER,
            ) from None
        answered = entry.get("zone")
        if answered is not None and str(answered) != zone:
            raise DataError(f"{PROVIDER}: asked for zone {zone} but a point is for {answered}")
        if factor is not None and factor not in _FACTOR_TYPES:
            raise ProviderError(
                f"{PROVIDER}: {where}: unknown emissionFactorType {factor!r}",
                provider=PROVIDER,
            )
        return _Point(int(start.timestamp()), value, bool(entry.get("isEstimated")), factor)

    def _points(self, payload: dict[str, Any], key: str, zone: str, where: str) -> list[_Point]:
        entries = payload.get(key)
        if not isinstance(entries, list):
            raise ProviderError(
                f"{PROVIDER}: {where} for zone {zone}: the answer has no {key!r} list",
                hint="the API may have changed its format; report it",
                provider=PROVIDER,
            )
        return [self._point(e, zone, where) for e in entries]

    def _series(
        self,
        zone: str,
        points: list[_Point],
        *,
        kind: Kind = "actual",
        issued_at: datetime | None = None,
        pad: tuple[int, int] | None = None,
        where: str,
    ) -> IntensitySeries:
        factors = {p.factor_type for p in points if p.factor_type is not None}
        if len(factors) > 1:
            raise DataError(
                f"{PROVIDER}: {where} for zone {zone}: mixed emission factor types "
                f"{sorted(factors)}",
                hint="request one emissionFactorType",
            )
        accounting: Accounting = self.emission_factor_type
        if factors:
            accounting = "direct" if factors.pop() == "direct" else "lifecycle"
        by_time: dict[int, _Point] = {}
        for p in points:
            by_time.setdefault(p.start_s, p)
        if pad is not None:
            for t in pad:
                by_time.setdefault(t, _Point(t, math.nan, False, None))
        times = sorted(by_time)
        labels = SignalLabels(
            zone=zone,
            signal="average",
            accounting=accounting,
            basis="consumption",
            provider=PROVIDER,
            kind=kind,
            issued_at=issued_at,
            unit=UNIT,
        )
        series = IntensitySeries.from_points(
            times,
            [by_time[t].value for t in times],
            labels,
            resolution_s=STEP_S,
            source=f"{PROVIDER} {zone} {where}",
        )
        estimated = np.zeros(len(series), dtype=bool)
        for t in times:
            if by_time[t].estimated:
                estimated[(t - series.start_s) // STEP_S] = True
        return IntensitySeries(series.start_s, STEP_S, series.values, labels, estimated)

    # ------------------------------------------------------------------ public API
    def latest(self, zone: str) -> IntensitySeries:
        """The latest hourly value as a one-step series (``filled`` marks an estimate)."""
        now = self._now()
        where = "carbon-intensity/latest"
        payload = self._get(where, zone, self._params(zone), self._next_hour(now))
        entry: Any = payload
        if "carbonIntensity" not in payload and isinstance(payload.get("data"), dict):
            entry = dict(payload["data"])  # the legacy CO2 Signal / home-assistant shape
        if "datetime" not in entry:
            raise self._no_data(zone, "the answer holds no value", None)
        return self._series(zone, [self._point(entry, zone, where)], where=where)

    def recent_history(self, zone: str) -> IntensitySeries:
        """The last 24 hours (``/carbon-intensity/history``); ``filled`` marks estimates."""
        now = self._now()
        where = "carbon-intensity/history"
        payload = self._get(where, zone, self._params(zone), self._next_hour(now))
        points = self._points(payload, "history", zone, where)
        if not points:
            raise self._no_data(zone, "empty history", None)
        return self._series(zone, points, where=where)

    def history(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        """Hourly values over ``[start, end)`` (widened to whole hours; NaN where missing),
        from ``/carbon-intensity/past-range`` in chunks of at most 10 days."""
        a = _floor_s(utc(start).timestamp(), STEP_S)
        b = _ceil_s(utc(end).timestamp(), STEP_S)
        if b <= a:
            raise UsageError(
                f"{PROVIDER}: period {format_time(utc(start))}..{format_time(utc(end))} is empty",
                hint="pass an end after the start",
            )
        now = self._now()
        where = "carbon-intensity/past-range"
        points: list[_Point] = []
        for ca, cb in _chunks(a, b, int(MAX_RANGE.total_seconds())):
            settled = now - from_epoch_s(cb) > SETTLED_AFTER
            cache_until = now + SETTLED_CACHE_FOR if settled else self._next_hour(now)
            params = self._params(
                zone, start=_api_time(from_epoch_s(ca)), end=_api_time(from_epoch_s(cb))
            )
            payload = self._get(where, zone, params, cache_until)
            points.extend(
                p for p in self._points(payload, "data", zone, where) if a <= p.start_s < b
            )
        if not points:
            span = f"{format_time(from_epoch_s(a))} and {format_time(from_epoch_s(b))}"
            raise self._no_data(zone, f"nothing between {span}", None)
        return self._series(zone, points, pad=(a, b - STEP_S), where=where)

    def forecast(self, zone: str, *, now: datetime | None = None) -> IntensitySeries:
        """The current forecast, ``kind="forecast"``, ``issued_at`` from ``updatedAt``.

        ``updatedAt`` is read at the top level, else the newest per-point ``updatedAt``, else
        the request hour. The API keeps no archive of forecasts, so if ``now`` lies before the
        forecast's issue time this raises rather than leak later information into a past
        decision.
        """
        request_time = self._now()
        where = "carbon-intensity/forecast"
        payload = self._get(where, zone, self._params(zone), self._next_hour(request_time))
        points = self._points(payload, "forecast", zone, where)
        if not points:
            raise self._no_data(zone, "empty forecast", None)
        issued = self._issued_at(payload, where, zone) or from_epoch_s(
            _floor_s(request_time.timestamp(), STEP_S)
        )
        if now is not None and issued > utc(now):
            raise UsageError(
                f"{PROVIDER}: no forecast issued at or before {format_time(utc(now))}: the API "
                f"serves only its current forecast (issued {format_time(issued)})",
                hint="replay past decisions on stored forecasts or history instead",
            )
        return self._series(zone, points, kind="forecast", issued_at=issued, where=where)

    @staticmethod
    def _issued_at(payload: dict[str, Any], where: str, zone: str) -> datetime | None:
        stamps: list[str] = []
        if payload.get("updatedAt"):
            stamps = [str(payload["updatedAt"])]
        else:
            stamps = [
                str(e["updatedAt"])
                for e in payload.get("forecast", [])
                if isinstance(e, dict) and e.get("updatedAt")
            ]
        if not stamps:
            return None
        try:
            return max(parse_time(s, field="updatedAt") for s in stamps)
        except ValueError:
            raise ProviderError(
                f"{PROVIDER}: {where} for zone {zone}: unreadable updatedAt",
                provider=PROVIDER,
            ) from None
