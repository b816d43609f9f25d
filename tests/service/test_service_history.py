"""A zone whose forecast comes from a history file: on a real trace, a decision inside the
data is planned on the forecaster's output; one long after the data ends falls back (static
slot), and the plan says why, instead of replaying an old year as today's forecast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from service.helpers_service import manual_service

from carbonshift.errors import StaleDataError
from carbonshift.service.clock import ManualClock
from carbonshift.service.config import ZoneConfig
from carbonshift.service.forecasts import HistorySource
from carbonshift.service.records import NewJob

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
        now = at.timestamp()
        row, _ = service.store.create_job(
            NewJob(
                command=("true",),
                duration_s=H,
                deadline_s=now + 24 * H,
                safety_margin_s=60,
                submitted_at_s=now,
            )
        )
        service.loop.tick(replan=True)
        plan = service.store.plans(row.id)[-1]
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
