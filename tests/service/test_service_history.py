"""A zone whose forecast comes from a history file: on a real trace, a decision inside the
data is planned on the forecaster's output; one long after the data ends falls back, and the
plan says why, instead of replaying an old year as today's forecast. Its fallback slot is
learned from the same file."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from service.helpers_service import add_job, manual_service

from carbonshift.errors import StaleDataError
from carbonshift.service.clock import ManualClock
from carbonshift.service.config import ZoneConfig
from carbonshift.service.forecasts import HistorySource, learn_zone_static
from carbonshift.signals.files import read_trace

H = 3600


def _de(shared: Path, **kw: float) -> ZoneConfig:
    return ZoneConfig(
        "DE",
        history_file=shared / "data" / "DE.csv.gz",
        forecaster="seasonal_24h",
        static_slot="0 3 * * *",
        **kw,  # type: ignore[arg-type]
    )


def _plan_one(tmp_path: Path, zone: ZoneConfig, at: datetime) -> tuple[str | None, str | None]:
    service, _ = manual_service(tmp_path, [zone], clock=ManualClock(at))
    try:
        job_id = add_job(service, deadline_in_s=24 * H)
        service.loop.tick(replan=True)
        plan = service.store.plans(job_id)[-1]
        return plan.fallback_level, plan.fallback_reason
    finally:
        service.close()


def test_a_decision_inside_the_data_uses_the_forecast(tmp_path: Path, shared: Path) -> None:
    level, reason = _plan_one(tmp_path, _de(shared), datetime(2023, 6, 1, tzinfo=UTC))
    assert level is None and reason is None


def test_history_long_before_now_is_refused_and_the_plan_falls_back(
    tmp_path: Path, shared: Path
) -> None:
    level, reason = _plan_one(tmp_path, _de(shared), datetime(2026, 11, 26, tzinfo=UTC))
    assert level is not None and reason is not None
    assert "DE.csv.gz ends 2024-01-01T00:00Z" in reason
    assert "days before the decision time 2026-11-26T00:00Z" in reason


def test_the_limit_is_the_zones_history_max_gap(shared: Path) -> None:
    path = shared / "data" / "DE.csv.gz"
    end = datetime(2024, 1, 1, tzinfo=UTC)  # where the trace ends
    at = end + timedelta(days=3)
    with pytest.raises(StaleDataError, match="3 days before"):
        HistorySource("DE", path, "seasonal_24h").fetch(at, 24 * H)
    forecast = HistorySource("DE", path, "seasonal_24h", max_gap_s=4 * 86400).fetch(at, 24 * H)
    # seasonal naive repeats the last known day: the values are the trace's, shifted
    assert forecast.start == at and len(forecast) == 24


def test_a_static_slot_is_learned_from_the_history_file(shared: Path) -> None:
    zone = ZoneConfig("DE", history_file=shared / "data" / "DE.csv.gz")
    learned = learn_zone_static(zone)
    assert learned.static_slot is not None and learned.static_tz == "UTC"
    minute, hour, *rest = learned.static_slot.split()
    assert minute == "0" and rest == ["*", "*", "*"]
    # independently: the hour of day with the lowest mean over the file's last 28 days
    series = read_trace(shared / "data" / "DE.csv.gz", zone="DE")
    last = series.slice(series.end_s - 28 * 86400, series.end_s)
    starts = np.arange(last.start_s, last.end_s - 3600 + 1, 3600)
    means = last.window_means(starts, starts + 3600)
    by_hour = [np.nanmean(means[((starts - last.start_s) // 3600) % 24 == h]) for h in range(24)]
    first_hour = (last.start_s // 3600) % 24
    assert int(hour) == (int(np.argmin(by_hour)) + first_hour) % 24
    # a slot the user set is kept
    assert learn_zone_static(replace(zone, static_slot="0 3 * * *")).static_slot == "0 3 * * *"


def test_stale_history_falls_back_to_the_learned_slot(tmp_path: Path, shared: Path) -> None:
    zone = learn_zone_static(ZoneConfig("DE", history_file=shared / "data" / "DE.csv.gz"))
    level, reason = _plan_one(tmp_path, zone, datetime(2026, 11, 26, 6, tzinfo=UTC))
    assert level == "static_slot"  # the next slot is inside the job's 24 h window
    assert reason is not None and f"static slot {zone.static_slot}" in reason
