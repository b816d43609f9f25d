"""WattTime API v3 client: the marginal operating emissions rate (MOER, ``co2_moer``).

Endpoints used (``https://api.watttime.org``):

- ``GET /login`` with HTTP basic auth returns ``{"token": "<JWT>"}``; data calls send
  ``Authorization: Bearer <token>``. Tokens live 30 minutes: the client logs in again before
  that, and on a 401/403 from a data call it logs in once more and retries once; a second
  refusal is an :class:`AuthenticationError` (whose message is the provider's, e.g. "Invalid
  scope ..." when the plan does not cover a region). A 403 body may be nginx HTML, not JSON.
- ``GET /v3/historical`` (actual MOER), ``GET /v3/forecast`` (the latest forecast),
  ``GET /v3/forecast/historical`` (past forecasts, one per ``generated_at``),
  ``GET /v3/signal-index`` (the current percentile, 0-100), ``GET /v3/region-from-loc``.

Assumed API limits (WattTime documents them per plan; these are the values its own Python
client uses): ``/v3/historical`` answers at most 32 days per request, so ranges are split into
30-day chunks; ``/v3/forecast/historical`` is split into 1-day chunks. WattTime treats ``end`` as
inclusive; chunk answers are merged by ``point_time`` and everything at or after the requested
end is dropped, so a series covers ``[start, end)`` on the 5-minute grid.

Meaning of the values and their labels:

- ``signal="marginal"``: MOER is the emission rate of the generators that respond to a change
  in load, not the mix's average.
- ``accounting="direct"``: MOER counts operating (stack) CO2 emissions only, no life cycle.
- ``basis="production"``: WattTime's regional MOER models are built from the region's own
  generators' response; imports are not flow-traced, which is what ``production`` means in
  :class:`~carbonshift.signals.labels.SignalLabels`. (It still answers a consumer's question,
  "what does one more kWh of load here emit"; the label says how it is computed.)
- unit ``gCO2/kWh``: ``co2_moer`` is CO2 only, not CO2-equivalent. WattTime sends
  lbs CO2/MWh (``meta.units`` ``lbs_co2_per_mwh``), converted with 1 lb/MWh = 0.45359237 g/kWh.

``meta.warnings`` are passed to the ``carbonshift.providers`` logger; they never fail a call.
The token, the username and the password are never logged or put in an error message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np

from carbonshift.errors import (
    AuthenticationError,
    DataError,
    NoDataError,
    ProviderError,
    UsageError,
)
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.providers.base import ProviderCapabilities
from carbonshift.signals.providers.cache import ResponseCache
from carbonshift.signals.providers.credentials import Secret, get_credential
from carbonshift.signals.providers.http import HttpClient, HttpProvider
from carbonshift.signals.series import FloatArray, IntArray, IntensitySeries
from carbonshift.timeutil import format_time, parse_time, utc

__all__ = [
    "LBS_PER_MWH_TO_G_PER_KWH",
    "WattTimeProvider",
]

log = logging.getLogger("carbonshift.providers")

DEFAULT_BASE_URL = "https://api.watttime.org"
SIGNAL_TYPE = "co2_moer"
#: 1 lb/MWh = 453.59237 g / 1000 kWh
LBS_PER_MWH_TO_G_PER_KWH = 0.45359237
#: grams per kWh for each unit ``meta.units`` may name for an emission rate
_UNIT_FACTORS: dict[str, float] = {
    "lbs_co2_per_mwh": LBS_PER_MWH_TO_G_PER_KWH,
    "lbs_co2e_per_mwh": LBS_PER_MWH_TO_G_PER_KWH,
    "kg_co2_per_mwh": 1.0,
    "g_co2_per_kwh": 1.0,
}
UNIT = "gCO2/kWh"
RESOLUTION_S = 300
HISTORY_CHUNK = timedelta(days=30)
FORECAST_HISTORY_CHUNK = timedelta(days=1)
TOKEN_LIFETIME = timedelta(minutes=30)
#: log in again this long before the token's 30 minutes are up
_TOKEN_MARGIN = timedelta(minutes=2)
#: a range ending this long before now is settled: cached for SETTLED_CACHE
SETTLED_AFTER = timedelta(days=1)
SETTLED_CACHE = timedelta(days=30)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime) -> str:
    return utc(value).isoformat(timespec="seconds")


def _chunks(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    out = []
    a = start
    while a < end:
        b = min(end, a + size)
        out.append((a, b))
        a = b
    return out


def _floor_s(t: int, step: int) -> int:
    return (t // step) * step


def _ceil_s(t: int, step: int) -> int:
    return -(-t // step) * step


class WattTimeProvider(HttpProvider):
    """WattTime v3 MOER (``co2_moer``) for a WattTime region (e.g. ``CAISO_NORTH``).

    Credentials come from ``username``/``password`` when given, else from
    ``WATTTIME_USERNAME``/``WATTTIME_PASSWORD`` (environment or config file), read at the first
    request. ``cache`` (optional) keeps answers: the latest forecast and signal index until the
    end of the current 5-minute interval, ranges that ended more than a day ago for 30 days.
    """

    capabilities = ProviderCapabilities(
        name="watttime",
        history=True,
        forecast=True,
        forecast_horizon=timedelta(hours=24),
        resolution=timedelta(seconds=RESOLUTION_S),
        signal="marginal",
        accounting="direct",
        basis="production",
        auth="login",
        credential_env=("WATTTIME_USERNAME", "WATTTIME_PASSWORD"),
        max_range=HISTORY_CHUNK,
        zones_hint="WattTime region abbreviations such as CAISO_NORTH or PSCO "
        "(region_from_loc finds one from coordinates)",
    )

    def __init__(
        self,
        username: Secret | None = None,
        password: Secret | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        cache: ResponseCache | None = None,
        horizon_hours: int = 24,
        timeout_s: float = 20.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        clock: Clock = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 <= horizon_hours <= 72:
            raise UsageError(
                f"horizon_hours: {horizon_hours} is outside 0..72",
                hint="WattTime forecasts reach at most 72 hours",
            )
        self._username = username
        self._password = password
        self.horizon_hours = horizon_hours
        self._clock = clock
        self._token: Secret | None = None
        self._token_until: datetime | None = None
        self.logins = 0
        self._http = HttpClient(
            provider="watttime",
            base_url=base_url,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
            cache=cache,
            transport=transport,
            clock=clock,
            sleep=sleep,
        )

    # ------------------------------------------------------------------ auth
    def _credentials(self) -> tuple[Secret, Secret]:
        user = self._username or get_credential(
            "WATTTIME_USERNAME", provider="watttime", purpose="username"
        )
        password = self._password or get_credential(
            "WATTTIME_PASSWORD", provider="watttime", purpose="password"
        )
        return user, password

    def _login(self) -> Secret:
        user, password = self._credentials()
        self.logins += 1
        try:
            response = self._http.request("GET", "/login", auth=(user, password))
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"watttime: login refused (HTTP {exc.status_code})",
                hint="check WATTTIME_USERNAME and WATTTIME_PASSWORD",
                status_code=exc.status_code,
                provider="watttime",
            ) from None
        try:
            token = response.json().get("token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                "watttime: the login answer holds no token",
                hint="check WATTTIME_USERNAME and WATTTIME_PASSWORD, or retry later",
                status_code=response.status_code,
                provider="watttime",
            )
        self._token = Secret(token)
        self._token_until = self._clock() + TOKEN_LIFETIME - _TOKEN_MARGIN
        return self._token

    def _valid_token(self) -> Secret:
        if self._token is None or self._token_until is None or self._clock() >= self._token_until:
            return self._login()
        return self._token

    def _get(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        cache_until: datetime | None,
        not_found: str | None = None,
    ) -> dict[str, Any]:
        """GET a data endpoint with the bearer token; on 401/403 log in again once and retry."""
        for attempt in range(2):
            token = self._valid_token()
            try:
                response = self._http.request(
                    "GET",
                    path,
                    params=params,
                    headers={"Authorization": Secret("Bearer " + token.reveal())},
                    cache_until=cache_until,
                    not_found=not_found,
                )
            except AuthenticationError:
                self._token = None
                self._token_until = None
                if attempt:
                    raise
                log.info("watttime: %s refused the token; logging in again", path)
                continue
            return self._json(response, path)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _json(response: httpx.Response, path: str) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise ProviderError(
                f"watttime: {path} answered with something that is not JSON",
                hint="retry later; the service may be misbehaving",
                status_code=response.status_code,
                provider="watttime",
            ) from None
        if not isinstance(data, dict):
            raise ProviderError(
                f"watttime: {path} answered with a JSON {type(data).__name__}, not an object",
                status_code=response.status_code,
                provider="watttime",
            )
        return data

    # ------------------------------------------------------------------ cache policy
    def _interval_end(self) -> datetime:
        now_s = int(self._clock().timestamp())
        return datetime.fromtimestamp(_floor_s(now_s, RESOLUTION_S) + RESOLUTION_S, tz=UTC)

    def _range_cache_until(self, end: datetime) -> datetime:
        now = self._clock()
        if end <= now - SETTLED_AFTER:
            return now + SETTLED_CACHE
        return self._interval_end()

    # ------------------------------------------------------------------ parsing
    @staticmethod
    def _meta(data: Mapping[str, Any], region: str) -> dict[str, Any]:
        meta = data.get("meta")
        if not isinstance(meta, dict):
            return {}
        warnings = meta.get("warnings") or []
        if isinstance(warnings, list):
            for w in warnings:
                if isinstance(w, dict):
                    log.warning(
                        "watttime: %s: %s (%s)",
                        region,
                        w.get("message", ""),
                        w.get("type", "warning"),
                    )
                else:
                    log.warning("watttime: %s: %s", region, w)
        return meta

    @staticmethod
    def _unit_factor(meta: Mapping[str, Any], region: str) -> float:
        units = meta.get("units")
        if units is None:
            log.debug("watttime: %s: no meta.units; assuming lbs_co2_per_mwh", region)
            return LBS_PER_MWH_TO_G_PER_KWH
        factor = _UNIT_FACTORS.get(str(units).lower())
        if factor is None:
            raise DataError(
                f"watttime: {region}: unexpected units {units!r} for {SIGNAL_TYPE}",
                hint=f"expected one of {', '.join(_UNIT_FACTORS)}",
            )
        return factor

    @staticmethod
    def _resolution(meta: Mapping[str, Any]) -> int:
        period = meta.get("data_point_period_seconds")
        try:
            res = int(period) if period is not None else RESOLUTION_S
        except (TypeError, ValueError):
            res = RESOLUTION_S
        return res if res > 0 else RESOLUTION_S

    @staticmethod
    def _points(items: Any, path: str) -> Iterable[tuple[int, float]]:
        if not isinstance(items, list):
            raise ProviderError(
                f"watttime: {path}: the answer has no data list",
                provider="watttime",
            )
        for i, item in enumerate(items):
            try:
                t = int(parse_time(str(item["point_time"]), field="point_time").timestamp())
                raw = item.get("value")
                v = float(raw) if raw is not None else float("nan")
            except (KeyError, TypeError, ValueError, UsageError):
                raise ProviderError(
                    f"watttime: {path}: data point {i + 1} has no readable point_time/value",
                    provider="watttime",
                ) from None
            yield t, v

    def _labels(self, region: str, issued_at: datetime | None = None) -> SignalLabels:
        caps = self.capabilities
        return SignalLabels(
            zone=region,
            signal=caps.signal,
            accounting=caps.accounting,
            basis=caps.basis,
            provider=caps.name,
            kind="forecast" if issued_at is not None else "actual",
            issued_at=issued_at,
            unit=UNIT,
        )

    @staticmethod
    def _arrays(points: Mapping[int, float]) -> tuple[IntArray, FloatArray]:
        times = np.array(sorted(points), dtype=np.int64)
        values = np.array([points[int(t)] for t in times], dtype=np.float64)
        return times, values

    # ------------------------------------------------------------------ public API
    def history(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        """Actual MOER for region ``zone`` over ``[start, end)`` in gCO2/kWh, 5-minute steps.

        The series covers the whole requested range on the 5-minute grid; steps WattTime did
        not answer are NaN. Ranges longer than 30 days are fetched in 30-day chunks.
        """
        start, end = utc(start), utc(end)
        if end <= start:
            raise UsageError("history: end must come after start", hint="pass --from < --to")
        points: dict[int, float] = {}
        res = RESOLUTION_S
        for a, b in _chunks(start, end, HISTORY_CHUNK):
            data = self._get(
                "/v3/historical",
                {"region": zone, "signal_type": SIGNAL_TYPE, "start": _iso(a), "end": _iso(b)},
                cache_until=self._range_cache_until(b),
                not_found=f"no {SIGNAL_TYPE} history for region {zone}",
            )
            meta = self._meta(data, zone)
            factor = self._unit_factor(meta, zone)
            res = self._resolution(meta)
            for t, v in self._points(data.get("data"), "/v3/historical"):
                points[t] = v * factor
        a_s = _floor_s(int(start.timestamp()), res)
        b_s = _ceil_s(int(end.timestamp()), res)
        inside = {t: v for t, v in points.items() if a_s <= t < b_s}
        if not inside:
            raise NoDataError(
                f"watttime: no {SIGNAL_TYPE} values for {zone} between {format_time(start)} "
                f"and {format_time(end)}",
                hint="check the region and the period (and that your plan covers it)",
                provider="watttime",
            )
        values = np.full((b_s - a_s) // res, np.nan)
        times, vals = self._arrays(inside)
        values[(times - a_s) // res] = vals
        return IntensitySeries(a_s, res, values, self._labels(zone))

    def forecast(self, zone: str, *, now: datetime | None = None) -> IntensitySeries:
        """WattTime's forecast for region ``zone`` issued at or before ``now`` (default: latest).

        The latest forecast comes from ``/v3/forecast`` (its ``meta.generated_at`` is the issue
        time). When ``now`` lies before that issue time (a replayed decision), the forecast
        generated last at or before ``now`` is read from ``/v3/forecast/historical`` instead.
        """
        if now is not None:
            now = utc(now)
            if now < self._clock() - timedelta(seconds=RESOLUTION_S):
                return self._forecast_at(zone, now)
        data = self._get(
            "/v3/forecast",
            {
                "region": zone,
                "signal_type": SIGNAL_TYPE,
                "horizon_hours": str(self.horizon_hours),
            },
            cache_until=self._interval_end(),
            not_found=f"no {SIGNAL_TYPE} forecast for region {zone}",
        )
        meta = self._meta(data, zone)
        factor = self._unit_factor(meta, zone)
        res = self._resolution(meta)
        points = {t: v * factor for t, v in self._points(data.get("data"), "/v3/forecast")}
        if not points:
            raise NoDataError(
                f"watttime: the {SIGNAL_TYPE} forecast for {zone} is empty",
                hint="retry in a few minutes",
                provider="watttime",
            )
        times, values = self._arrays(points)
        generated = meta.get("generated_at")
        if generated:
            issued = parse_time(str(generated), field="generated_at")
        else:
            issued = datetime.fromtimestamp(int(times[0]), tz=UTC)
            log.warning("watttime: %s: forecast without generated_at; using its first step", zone)
        if now is not None and issued > now:
            return self._forecast_at(zone, now)
        return IntensitySeries.from_points(
            times, values, self._labels(zone, issued), resolution_s=res, source="watttime forecast"
        )

    def _forecast_at(self, zone: str, at: datetime) -> IntensitySeries:
        lookback = timedelta(minutes=30)
        forecasts = self.historical_forecasts(zone, at - lookback, at + timedelta(seconds=1))
        usable = [
            f for f in forecasts if f.labels.issued_at is not None and f.labels.issued_at <= at
        ]
        if not usable:
            raise NoDataError(
                f"watttime: no {SIGNAL_TYPE} forecast for {zone} issued in the 30 minutes "
                f"before {format_time(at)}",
                hint="pick a decision time WattTime has forecasts for",
                provider="watttime",
            )
        return usable[-1]

    def historical_forecasts(
        self, zone: str, start: datetime, end: datetime
    ) -> list[IntensitySeries]:
        """Every forecast WattTime generated in ``[start, end)``, one series each, oldest first.

        Each series carries ``kind="forecast"`` and ``issued_at`` = its ``generated_at``.
        Fetched in 1-day chunks.
        """
        start, end = utc(start), utc(end)
        if end <= start:
            raise UsageError(
                "historical_forecasts: end must come after start", hint="pass --from < --to"
            )
        by_issue: dict[int, IntensitySeries] = {}
        for a, b in _chunks(start, end, FORECAST_HISTORY_CHUNK):
            data = self._get(
                "/v3/forecast/historical",
                {"region": zone, "signal_type": SIGNAL_TYPE, "start": _iso(a), "end": _iso(b)},
                cache_until=self._range_cache_until(b),
                not_found=f"no past {SIGNAL_TYPE} forecasts for region {zone}",
            )
            meta = self._meta(data, zone)
            factor = self._unit_factor(meta, zone)
            res = self._resolution(meta)
            items = data.get("data")
            if not isinstance(items, list):
                raise ProviderError(
                    "watttime: /v3/forecast/historical: the answer has no data list",
                    provider="watttime",
                )
            for item in items:
                if not isinstance(item, dict) or "generated_at" not in item:
                    raise ProviderError(
                        "watttime: /v3/forecast/historical: a forecast has no generated_at",
                        provider="watttime",
                    )
                issued = parse_time(str(item["generated_at"]), field="generated_at")
                key = int(issued.timestamp())
                if not start <= issued < end or key in by_issue:
                    continue
                points = {
                    t: v * factor
                    for t, v in self._points(item.get("forecast"), "/v3/forecast/historical")
                }
                if not points:
                    continue
                times, values = self._arrays(points)
                by_issue[key] = IntensitySeries.from_points(
                    times,
                    values,
                    self._labels(zone, issued),
                    resolution_s=res,
                    source="watttime historical forecast",
                )
        return [by_issue[k] for k in sorted(by_issue)]

    def signal_index(self, zone: str) -> float:
        """The current MOER percentile for region ``zone`` (0 = cleanest, 100 = dirtiest of the
        recent past, as WattTime defines it)."""
        data = self._get(
            "/v3/signal-index",
            {"region": zone, "signal_type": SIGNAL_TYPE},
            cache_until=self._interval_end(),
            not_found=f"no {SIGNAL_TYPE} signal index for region {zone}",
        )
        meta = self._meta(data, zone)
        units = meta.get("units", "percentile")
        if str(units).lower() != "percentile":
            raise DataError(
                f"watttime: {zone}: signal index in {units!r}, expected a percentile",
                hint="report this answer; the API may have changed",
            )
        points = list(self._points(data.get("data"), "/v3/signal-index"))
        if not points:
            raise NoDataError(
                f"watttime: no signal index for {zone}",
                hint="retry in a few minutes",
                provider="watttime",
            )
        return max(points)[1]

    def region_from_loc(self, latitude: float, longitude: float) -> str:
        """The WattTime region (e.g. ``PSCO``) covering a location; :class:`NoDataError` when
        WattTime has no coverage there."""
        if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
            raise UsageError(
                f"location: ({latitude}, {longitude}) is not a latitude/longitude",
                hint="latitude in -90..90, longitude in -180..180",
            )
        data = self._get(
            "/v3/region-from-loc",
            {"latitude": str(latitude), "longitude": str(longitude), "signal_type": SIGNAL_TYPE},
            cache_until=self._clock() + SETTLED_CACHE,
            not_found=f"no {SIGNAL_TYPE} region at latitude {latitude}, longitude {longitude}",
        )
        region = data.get("region")
        if not isinstance(region, str) or not region:
            raise NoDataError(
                f"watttime: no region at latitude {latitude}, longitude {longitude}",
                hint="WattTime covers the locations listed at https://watttime.org",
                provider="watttime",
            )
        return region
