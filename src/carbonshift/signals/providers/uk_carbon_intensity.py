"""Client for the GB Carbon Intensity API (https://api.carbonintensity.org.uk, NESO; no key).

Zones
    ``GB``
        Great Britain as a whole (``/intensity/...``): a forecast and, for settled half-hours,
        an estimated ``actual`` value computed from metered generation.
    ``GB-1`` … ``GB-17``
        A region by the API's ``regionid`` (1 North Scotland … 14 South East England,
        15 England, 16 Scotland, 17 Wales), from ``/regional/intensity/.../regionid/{id}``.
    ``GB-postcode-<outward code>``
        The region of a postcode's outward part, e.g. ``GB-postcode-BH1``, from
        ``/regional/intensity/.../postcode/{code}``.

Signal labels, and why
    ``signal="average"``: the API divides the CO2 of the whole generation mix by demand; it is
    not a marginal signal.
    ``accounting="direct"``: the fuel factors are operational (combustion) CO2 factors: wind,
    solar, nuclear and hydro count zero and gas CCGT about 394 g/kWh. No upstream (life-cycle)
    emissions are included, with one exception the methodology itself makes: biomass carries
    a small supply-chain factor (about 120 g/kWh).
    ``basis="consumption"``: the figures cover transmission-metered and embedded generation
    *plus interconnector imports* (at the exporting country's factor), less losses, over GB
    demand, and regional figures model the power flows between regions. That is the intensity
    of electricity consumed, not of local production alone.
    ``unit="gCO2/kWh"``: the API counts CO2 only, not CO2-equivalent, so these numbers are
    labelled apart from gCO2eq/kWh sources and never compared with them silently.

Actuals and forecasts
    :meth:`UKCarbonIntensityProvider.history` returns, for ``GB``, the ``actual`` column only:
    a half-hour whose ``actual`` is null is NaN (missing), never replaced by the forecast.
    Regional zones have no actuals at all in the API (entries carry ``forecast`` only), so a
    regional history is the API's regional values labelled ``kind="forecast"`` (without an
    issue time), so that nobody mistakes them for measurements.
    :meth:`UKCarbonIntensityProvider.forecast` returns the ``forecast`` column with
    ``kind="forecast"`` and ``issued_at`` = the request time floored to the half hour (the API
    refreshes its forecast every half hour and publishes no issue time).

Limits: ``/intensity/{from}/{to}`` answers at most 14 days per request, so longer ranges are
split into 14-day chunks (regional ranges likewise). Values are stamped at the start of their
half-hour (``from``) and hold over ``[from, from + 30 min)``.

Caching (with a :class:`ResponseCache`): forecasts are kept until the next half-hour boundary;
a history chunk that ended more than one day before the request is kept 30 days; a more
recent one until the next half-hour boundary (its actuals may still be revised).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx

from carbonshift.errors import NoDataError, ProviderError, UnknownZoneError, UsageError
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.providers.base import ProviderCapabilities
from carbonshift.signals.providers.cache import ResponseCache
from carbonshift.signals.providers.http import HttpClient, HttpProvider
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import format_time, from_epoch_s, parse_time, utc

__all__ = ["PROVIDER", "UKCarbonIntensityProvider", "UKZone", "parse_zone"]

PROVIDER = "uk_carbon_intensity"
DEFAULT_BASE_URL = "https://api.carbonintensity.org.uk"
UNIT = "gCO2/kWh"
STEP_S = 1800
MAX_RANGE = timedelta(days=14)
REGION_IDS = range(1, 18)
SETTLED_AFTER = timedelta(days=1)
SETTLED_CACHE_FOR = timedelta(days=30)

ForecastWindow = Literal["fw24h", "fw48h"]

_ZONE_HINT = "use GB, GB-1 … GB-17 (region id) or GB-postcode-<outward code>, e.g. GB-postcode-BH1"
_POSTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class UKZone:
    """A zone of this provider: national (``GB``), a region id, or a postcode's region."""

    zone: str
    region_id: int | None = None
    postcode: str | None = None

    @property
    def national(self) -> bool:
        return self.region_id is None and self.postcode is None

    @property
    def prefix(self) -> str:
        return "intensity" if self.national else "regional/intensity"

    @property
    def suffix(self) -> str:
        if self.region_id is not None:
            return f"/regionid/{self.region_id}"
        if self.postcode is not None:
            return f"/postcode/{self.postcode}"
        return ""


def parse_zone(zone: str) -> UKZone:
    """Read ``GB``, ``GB-<regionid>`` or ``GB-postcode-<outward code>`` (case-insensitive)."""
    raw = zone.strip()
    upper = raw.upper()
    if upper == "GB":
        return UKZone("GB")
    m = re.fullmatch(r"GB-(\d{1,2})", upper)
    if m:
        region = int(m.group(1))
        if region in REGION_IDS:
            return UKZone(f"GB-{region}", region_id=region)
    m = re.fullmatch(r"GB-POSTCODE-([A-Z0-9]+)", upper)
    if m and _POSTCODE_RE.match(m.group(1)):
        return UKZone(f"GB-postcode-{m.group(1)}", postcode=m.group(1))
    raise UnknownZoneError(f"{PROVIDER}: unknown zone {zone!r}", hint=_ZONE_HINT)


@dataclass(frozen=True, slots=True)
class _Period:
    start_s: int
    forecast: float
    actual: float


def _api_time(value: datetime) -> str:
    """The API's path format: minute precision with ``Z`` (``2023-03-14T12:00Z``)."""
    return utc(value).strftime("%Y-%m-%dT%H:%MZ")


def _floor_s(seconds: float, step_s: int) -> int:
    return int(seconds // step_s) * step_s


def _ceil_s(seconds: float, step_s: int) -> int:
    return -int(-seconds // step_s) * step_s


def _num(value: Any) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"not a number: {value!r}")
    return float(value)


def _period(entry: Any) -> _Period:
    start = parse_time(str(entry["from"]), field="from")
    intensity = entry["intensity"]
    return _Period(
        int(start.timestamp()),
        _num(intensity.get("forecast")),
        _num(intensity.get("actual")),
    )


def _raise_api_error(payload: Any, where: str) -> None:
    if isinstance(payload, dict) and "error" in payload:
        err = payload["error"]
        if isinstance(err, dict):
            msg = err.get("message") or err.get("code") or "unknown error"
        else:
            msg = err
        raise ProviderError(
            f"{PROVIDER}: {where}: {msg}",
            hint="check the zone and the period",
            provider=PROVIDER,
        )


def periods_by_region(payload: Any, where: str) -> dict[int | None, list[_Period]]:
    """Half-hours per region id (``None`` for national entries) from any answer shape.

    Shapes: national ``{"data": [{from, to, intensity}]}``; one region ``{"data": [{regionid,
    ..., "data": [...]}]}`` or, for postcodes, ``{"data": {regionid, ..., "data": [...]}}``;
    all regions ``{"data": [{from, to, "regions": [{regionid, intensity}, ...]}]}``.
    """
    _raise_api_error(payload, where)
    try:
        data = payload["data"]
        entries: list[Any] = [data] if isinstance(data, dict) else list(data)
        out: dict[int | None, list[_Period]] = {}
        for entry in entries:
            if "regions" in entry:
                for region in entry["regions"]:
                    merged = {"from": entry["from"], "intensity": region["intensity"]}
                    out.setdefault(int(region["regionid"]), []).append(_period(merged))
            elif isinstance(entry.get("data"), list):
                rid = entry.get("regionid")
                key = int(rid) if rid is not None else None
                out.setdefault(key, []).extend(_period(p) for p in entry["data"])
            else:
                out.setdefault(None, []).append(_period(entry))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProviderError(
            f"{PROVIDER}: {where}: unexpected answer ({type(exc).__name__}: {exc})",
            hint="the API may have changed its format; report it",
            provider=PROVIDER,
        ) from None
    return out


def _select(periods: dict[int | None, list[_Period]], zone: UKZone) -> list[_Period]:
    if zone.national:
        return periods.get(None, [])
    if zone.region_id is not None and zone.region_id in periods:
        return periods[zone.region_id]
    if zone.postcode is not None and len(periods) == 1:
        return next(iter(periods.values()))
    if len(periods) == 1 and None in periods:
        return periods[None]
    return []


def _chunks(start_s: int, end_s: int, max_s: int) -> Iterator[tuple[int, int]]:
    a = start_s
    while a < end_s:
        b = min(a + max_s, end_s)
        yield a, b
        a = b


class UKCarbonIntensityProvider(HttpProvider):
    """GB national and regional carbon intensity: average, direct, consumption-based, gCO2/kWh.

    See the module docstring for the zones, why these labels, and how actuals and forecasts
    are told apart. ``forecast_window`` picks the API's ``fw48h`` (default) or ``fw24h``
    forward query. ``clock`` and ``sleep`` are injectable for tests.
    """

    capabilities = ProviderCapabilities(
        name=PROVIDER,
        history=True,
        forecast=True,
        forecast_horizon=timedelta(hours=48),
        resolution=timedelta(seconds=STEP_S),
        signal="average",
        accounting="direct",
        basis="consumption",
        auth="none",
        max_range=MAX_RANGE,
        zones_hint="GB; GB-1 … GB-17 (regionid); GB-postcode-<outward code>, e.g. GB-postcode-BH1",
    )

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        cache: ResponseCache | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
        timeout_s: float = 20.0,
        max_retries: int = 4,
        forecast_window: ForecastWindow = "fw48h",
    ) -> None:
        if forecast_window not in ("fw24h", "fw48h"):
            raise UsageError(
                f"forecast_window: {forecast_window!r} is not fw24h or fw48h",
                hint="use fw48h (48 h ahead) or fw24h",
            )
        self._clock = clock
        self.forecast_window: ForecastWindow = forecast_window
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
        return f"UKCarbonIntensityProvider(base_url={self._http.base_url!r})"

    # ------------------------------------------------------------------ helpers
    def _now(self) -> datetime:
        return utc(self._clock())

    def _get(self, path: str, zone: UKZone, *, cache_until: datetime) -> Any:
        response = self._http.request(
            "GET", path, cache_until=cache_until, not_found=f"no data for zone {zone.zone}"
        )
        try:
            return response.json()
        except ValueError:
            raise ProviderError(
                f"{PROVIDER}: {path}: the answer is not JSON",
                hint="the service may be failing; retry later",
                status_code=response.status_code,
                provider=PROVIDER,
            ) from None

    def _labels(self, zone: UKZone, **kind: Any) -> SignalLabels:
        return SignalLabels(
            zone=zone.zone,
            signal="average",
            accounting="direct",
            basis="consumption",
            provider=PROVIDER,
            unit=UNIT,
            **kind,
        )

    @staticmethod
    def _next_boundary(now: datetime) -> datetime:
        return from_epoch_s(_floor_s(now.timestamp(), STEP_S) + STEP_S)

    def _range_cache_until(self, chunk_end_s: int, now: datetime) -> datetime:
        if now - from_epoch_s(chunk_end_s) > SETTLED_AFTER:
            return now + SETTLED_CACHE_FOR
        return self._next_boundary(now)

    # ------------------------------------------------------------------ public API
    def history(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        """Values over ``[start, end)`` (widened to whole half-hours), NaN where missing.

        ``GB``: the ``actual`` column (NaN where the API has no actual yet). Regional zones: the
        API's regional values, labelled ``kind="forecast"`` since it publishes no regional
        actuals. Ranges over 14 days are fetched in 14-day chunks.
        """
        z = parse_zone(zone)
        a = _floor_s(utc(start).timestamp(), STEP_S)
        b = _ceil_s(utc(end).timestamp(), STEP_S)
        if b <= a:
            raise UsageError(
                f"{PROVIDER}: period {format_time(utc(start))}..{format_time(utc(end))} is empty",
                hint="pass an end after the start",
            )
        now = self._now()
        values: dict[int, float] = {}
        for ca, cb in _chunks(a, b, int(MAX_RANGE.total_seconds())):
            path = (
                f"/{z.prefix}/{_api_time(from_epoch_s(ca))}/{_api_time(from_epoch_s(cb))}{z.suffix}"
            )
            payload = self._get(path, z, cache_until=self._range_cache_until(cb, now))
            for p in _select(periods_by_region(payload, path), z):
                if a <= p.start_s < b and p.start_s not in values:
                    values[p.start_s] = p.actual if z.national else p.forecast
        if not values:
            raise NoDataError(
                f"{PROVIDER}: no data for zone {z.zone} between "
                f"{format_time(from_epoch_s(a))} and {format_time(from_epoch_s(b))}",
                hint="choose a period the API covers",
                provider=PROVIDER,
            )
        # pad to the whole requested grid, so the series covers [start, end)
        values.setdefault(a, math.nan)
        values.setdefault(b - STEP_S, math.nan)
        times = sorted(values)
        labels = self._labels(z) if z.national else self._labels(z, kind="forecast")
        return IntensitySeries.from_points(
            times,
            [values[t] for t in times],
            labels,
            resolution_s=STEP_S,
            source=f"{PROVIDER} {z.zone} history",
        )

    def forecast(self, zone: str, *, now: datetime | None = None) -> IntensitySeries:
        """The API's current forecast from the half-hour containing ``now`` (default: the
        clock), ``kind="forecast"`` with ``issued_at`` = request time floored to 30 min.

        The API keeps no archive of past forecasts, so a ``now`` before the current half-hour
        is refused rather than answered with a forecast made later (that would leak the future
        into a past decision).
        """
        z = parse_zone(zone)
        request_time = self._now()
        issued = from_epoch_s(_floor_s(request_time.timestamp(), STEP_S))
        decision = utc(now) if now is not None else request_time
        if decision < issued:
            raise UsageError(
                f"{PROVIDER}: no forecast issued at or before {format_time(decision)}: the API "
                f"serves only its current forecast (issued {format_time(issued)})",
                hint="replay past decisions on stored forecasts or history instead",
            )
        from_s = _floor_s(decision.timestamp(), STEP_S)
        path = f"/{z.prefix}/{_api_time(from_epoch_s(from_s))}/{self.forecast_window}{z.suffix}"
        payload = self._get(path, z, cache_until=self._next_boundary(request_time))
        points = _select(periods_by_region(payload, path), z)
        return self._forecast_series(z, points, from_s, issued, path)

    def forecast_all_regions(self, *, now: datetime | None = None) -> dict[str, IntensitySeries]:
        """Forecasts of regions ``GB-1`` … ``GB-17`` from one ``/regional/intensity/{from}/fw..``
        request (the API's region 18, its regional model's GB total, is left out: use ``GB``)."""
        request_time = self._now()
        issued = from_epoch_s(_floor_s(request_time.timestamp(), STEP_S))
        decision = utc(now) if now is not None else request_time
        if decision < issued:
            raise UsageError(
                f"{PROVIDER}: no forecast issued at or before {format_time(decision)}",
                hint="replay past decisions on stored forecasts or history instead",
            )
        from_s = _floor_s(decision.timestamp(), STEP_S)
        path = f"/regional/intensity/{_api_time(from_epoch_s(from_s))}/{self.forecast_window}"
        payload = self._get(
            path, UKZone("GB-regions"), cache_until=self._next_boundary(request_time)
        )
        out: dict[str, IntensitySeries] = {}
        for rid, points in sorted(
            periods_by_region(payload, path).items(), key=lambda kv: kv[0] or 0
        ):
            if rid is not None and rid in REGION_IDS:
                z = UKZone(f"GB-{rid}", region_id=rid)
                out[z.zone] = self._forecast_series(z, points, from_s, issued, path)
        if not out:
            raise NoDataError(f"{PROVIDER}: {path}: no regional forecasts", provider=PROVIDER)
        return out

    def _forecast_series(
        self, z: UKZone, points: list[_Period], from_s: int, issued: datetime, path: str
    ) -> IntensitySeries:
        by_time: dict[int, float] = {}
        for p in points:
            if p.start_s + STEP_S > from_s:  # drop half-hours that ended before the forecast
                by_time.setdefault(p.start_s, p.forecast)
        if not by_time:
            raise NoDataError(
                f"{PROVIDER}: no forecast for zone {z.zone} ({path})",
                hint="check the zone; the API may be between updates",
                provider=PROVIDER,
            )
        times = sorted(by_time)
        return IntensitySeries.from_points(
            times,
            [by_time[t] for t in times],
            self._labels(z, kind="forecast", issued_at=issued),
            resolution_s=STEP_S,
            source=f"{PROVIDER} {z.zone} forecast",
        )
