"""Where each zone's forecast comes from, and the book of current and last good forecasts.

Sources (one per zone, from the configuration):

- ``provider``: a provider client (:mod:`carbonshift.signals.providers`) pointed at its API
  (``base_url`` overridable); its own forecast when it has one, else a forecaster from
  :mod:`carbonshift.forecast` on its recent history;
- ``forecast_file``: a trace file whose values *are* the forecast (as ``plan --forecast
  given``), re-read when it changes;
- ``history_file``: actual values; the zone's forecaster (``seasonal_24h`` by default) makes the
  forecast from the steps complete at the decision time only.

:class:`ForecastBook` refreshes every zone at each planning pass. A forecast is **fresh** when
the refresh succeeded, it was issued no longer than ``max_age`` ago and reaches past now.
Otherwise the zone falls back (DESIGN: last good forecast, then static slot, then latest safe
start), and the book says why. Good forecasts are stored in the job store, so the last good one
survives a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from carbonshift.errors import CarbonshiftError, StaleDataError
from carbonshift.forecast import make_forecaster
from carbonshift.planning import CronSchedule, known_before
from carbonshift.planning.slot import learn_static_slot
from carbonshift.service.clock import Clock
from carbonshift.service.config import ZoneConfig
from carbonshift.service.store import JobStore
from carbonshift.signals.files import read_trace
from carbonshift.signals.providers import make_provider
from carbonshift.signals.providers.base import Provider
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import format_time, from_epoch_s, to_epoch_s

__all__ = ["ForecastBook", "ForecastSource", "ZoneView", "make_source"]

log = logging.getLogger("carbonshift.service")

Status = Literal["fresh", "stale", "none"]


class ForecastSource(Protocol):
    description: str

    def fetch(self, now: datetime, horizon_s: int) -> IntensitySeries:
        """The forecast known at ``now`` (labels ``kind="forecast"``, ``issued_at <= now``)."""
        ...

    def actuals(self, start: datetime, end: datetime) -> IntensitySeries | None:
        """Actual values over ``[start, end)`` where the source has them (for accounting)."""
        ...


class GivenFileSource:
    """A trace file whose values are the forecast, issued when it is read."""

    def __init__(self, zone: str, path: Path) -> None:
        self.zone, self.path = zone, path
        self.description = f"forecast file {path.name}"
        self._cache: tuple[tuple[int, int], IntensitySeries] | None = None

    def fetch(self, now: datetime, horizon_s: int) -> IntensitySeries:
        stat = self.path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, read_trace(self.path, zone=self.zone))
        series = self._cache[1]
        labels = series.labels.with_(kind="forecast", issued_at=now, lead=None)
        return series.with_labels(labels)

    def actuals(self, start: datetime, end: datetime) -> IntensitySeries | None:
        return None  # the file's values are a forecast, never actuals


class HistorySource:
    """A forecaster run on actual values known before now.

    History that ends more than ``max_gap_s`` before the decision time is refused
    (:class:`StaleDataError`): a forecast from it would present an old period as today's.
    The service then falls back, and says why."""

    def __init__(
        self, zone: str, path: Path, forecaster: str, max_gap_s: float = 2 * 86400.0
    ) -> None:
        self.zone, self.path, self.max_gap_s = zone, path, max_gap_s
        self.forecaster = forecaster
        self.model = make_forecaster(forecaster)
        self.description = f"{forecaster} on {path.name}"
        self._history: IntensitySeries | None = None
        self._key: tuple[int, int] | None = None

    def _load(self) -> IntensitySeries:
        stat = self.path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        if self._history is None or self._key != key:
            self._history, self._key = read_trace(self.path, zone=self.zone), key
        return self._history

    def fetch(self, now: datetime, horizon_s: int) -> IntensitySeries:
        now_s = to_epoch_s(now)
        known = known_before(self._load(), now_s)
        gap_s = now_s - known.end_s
        if gap_s > self.max_gap_s:
            raise StaleDataError(
                f"{self.zone}: the history in {self.path.name} ends {format_time(known.end)}, "
                f"{_age(gap_s)} before the decision time {format_time(now)}; a "
                f"{self.forecaster} forecast from it would replay an old period as today's",
                hint="import current data (carbonshift signals fetch) or use a provider; to "
                "replay the file's period, start the service clock inside it (--clock-origin "
                "with --clock-anchor); history_max_gap sets the limit",
            )
        return self.model.forecast(known, now_s, horizon_s)

    def actuals(self, start: datetime, end: datetime) -> IntensitySeries | None:
        return self._load()


class ProviderSource:
    """A provider's forecast (or a forecaster on its last four weeks of history)."""

    def __init__(self, zone: str, provider: Provider, forecaster: str) -> None:
        self.zone, self.provider, self.forecaster = zone, provider, forecaster
        self.description = f"provider {provider.capabilities.name}"

    def fetch(self, now: datetime, horizon_s: int) -> IntensitySeries:
        if self.provider.capabilities.forecast:
            return self.provider.forecast(self.zone, now=now)
        history = self.provider.history(self.zone, now - timedelta(days=28), now)
        now_s = to_epoch_s(now)
        return make_forecaster(self.forecaster).forecast(
            known_before(history, now_s), now_s, horizon_s
        )

    def actuals(self, start: datetime, end: datetime) -> IntensitySeries | None:
        if not self.provider.capabilities.history:
            return None
        return self.provider.history(self.zone, start, end)


def learn_zone_static(zone: ZoneConfig, days: int = 28) -> ZoneConfig:
    """``zone`` with a static slot (the fallback when no forecast is usable) learned from its
    history file when it has none: the daily 1-hour UTC slot with the lowest mean over the
    file's last ``days`` days (the static strategy; a slot, unlike a forecast, is meant to come
    from history). Unchanged when a slot is set, there is no history file, or it has too little
    data (logged)."""
    if zone.static_slot or zone.history_file is None:
        return zone
    try:
        history = read_trace(zone.history_file, zone=zone.name)
        end_s = history.end_s
        start_s = max(history.start_s, end_s - days * 86400)
        slot = learn_static_slot(history, 3600, train_from_s=start_s, train_to_s=end_s)
    except (CarbonshiftError, OSError, ValueError) as exc:
        log.warning("%s: no static slot learned from %s: %s", zone.name, zone.history_file, exc)
        return zone
    log.info(
        "%s: static slot %s UTC learned from %s (%s..%s, mean %.0f g/kWh)",
        zone.name,
        slot.cron_expr(),
        zone.history_file.name,
        format_time(from_epoch_s(start_s)),
        format_time(from_epoch_s(end_s)),
        slot.mean_intensity_g_per_kwh,
    )
    return replace(zone, static_slot=slot.cron_expr(), static_tz="UTC")


def make_source(zone: ZoneConfig, clock: Clock) -> ForecastSource | None:
    """The configured source of ``zone`` (None when it has none)."""
    if zone.provider:
        provider = make_provider(
            zone.provider,
            base_url=zone.base_url,
            timeout_s=zone.provider_timeout_s,
            max_retries=zone.provider_retries,
            clock=clock.now,
            **dict(zone.provider_options),
        )
        return ProviderSource(zone.name, provider, zone.forecaster)
    if zone.forecast_file is not None:
        return GivenFileSource(zone.name, zone.forecast_file)
    if zone.history_file is not None:
        return HistorySource(zone.name, zone.history_file, zone.forecaster, zone.history_max_gap_s)
    return None


def _age(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:,.0f} days" if days >= 2 else f"{seconds / 3600:,.0f} h"


@dataclass(frozen=True)
class ZoneView:
    """What the planner may use for one zone at one decision time.

    ``series`` is the fresh forecast, else the last good one (``status="stale"``, with
    ``reason``), else None. ``forecast_id`` names the stored forecast.
    """

    zone: str
    status: Status
    series: IntensitySeries | None
    forecast_id: int | None
    source: str
    reason: str
    checked_at_s: float | None
    static: CronSchedule | None

    def value_at(self, when_s: float) -> float | None:
        s = self.series
        if s is None or not s.start_s <= when_s < s.end_s:
            return None
        v = float(s.values[int((when_s - s.start_s) // s.resolution_s)])
        return None if v != v else v


class ForecastBook:
    """Current and last good forecasts for every zone (thread-safe snapshot for the API)."""

    def __init__(
        self,
        zones: tuple[ZoneConfig, ...],
        store: JobStore,
        clock: Clock,
        *,
        max_age_s: float,
        horizon_s: int,
        sources: Mapping[str, ForecastSource | None] | None = None,
    ) -> None:
        self.zones = zones
        self.store = store
        self.clock = clock
        self.max_age_s = max_age_s
        self.horizon_s = horizon_s
        self.sources = (
            dict(sources) if sources is not None else {z.name: make_source(z, clock) for z in zones}
        )
        self.statics = {
            z.name: CronSchedule.parse(z.static_slot, z.static_tz) if z.static_slot else None
            for z in zones
        }
        self._lock = threading.Lock()
        self._views: dict[str, ZoneView] = {}
        self.failures: dict[str, int] = {z.name: 0 for z in zones}
        for z in zones:
            self._views[z.name] = self._fallback_view(z.name, "not refreshed yet", None)

    def views(self) -> dict[str, ZoneView]:
        with self._lock:
            return dict(self._views)

    def view(self, zone: str) -> ZoneView | None:
        with self._lock:
            return self._views.get(zone)

    def refresh(self, now: datetime) -> dict[str, ZoneView]:
        """Ask every zone's source; keep what is usable; store good forecasts."""
        out: dict[str, ZoneView] = {}
        for zone in self.zones:
            out[zone.name] = self._refresh_zone(zone.name, now)
        with self._lock:
            self._views.update(out)
        return out

    def _refresh_zone(self, zone: str, now: datetime) -> ZoneView:
        source = self.sources.get(zone)
        now_s = now.timestamp()
        if source is None:
            return self._fallback_view(zone, "no forecast source configured", now_s)
        try:
            series = source.fetch(now, self.horizon_s)
            problem = self._problem(series, now_s)
        except (CarbonshiftError, OSError, ValueError) as exc:
            problem = f"{source.description} failed: {exc}"
            series = None
        if series is not None and problem is None:
            fid = self.store.save_forecast(
                zone, series, source=source.description, fetched_at_s=now_s
            )
            return ZoneView(
                zone, "fresh", series, fid, source.description, "", now_s, self._s(zone)
            )
        self.failures[zone] = self.failures.get(zone, 0) + 1
        log.warning("%s: forecast unusable: %s", zone, problem)
        return self._fallback_view(zone, problem or "unusable forecast", now_s)

    def _problem(self, series: IntensitySeries, now_s: float) -> str | None:
        issued = series.labels.issued_at
        if issued is not None and issued.timestamp() > now_s:
            return f"forecast issued {format_time(issued)}, after the decision time"
        if issued is not None and now_s - issued.timestamp() > self.max_age_s:
            return f"stale: issued {format_time(issued)}, older than the maximum age"
        if series.end_s <= now_s:
            return f"the forecast ends at {format_time(series.end)}, before now"
        return None

    def _fallback_view(self, zone: str, reason: str, now_s: float | None) -> ZoneView:
        stored = self.store.latest_forecast(zone)
        if stored is not None and (now_s is None or stored.series.end_s > now_s):
            issued = stored.series.labels.issued_at
            when = format_time(issued) if issued else format_time(from_epoch_s(stored.fetched_at_s))
            why = f"{reason}; using the last good forecast, issued {when}"
            return ZoneView(
                zone, "stale", stored.series, stored.id, stored.source, why, now_s, self._s(zone)
            )
        source = self.sources.get(zone)
        described = source.description if source is not None else "none"
        return ZoneView(zone, "none", None, None, described, reason, now_s, self._s(zone))

    def _s(self, zone: str) -> CronSchedule | None:
        return self.statics.get(zone)
