"""A zone with known history and a job run through the service, for the accounting tests:
every day 50 g at 06:00 (the cleanest hour), 200 g at 03:00 (the static slot), 400 g else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from service.helpers_service import T0, settle, write_forecast

from carbonshift.service.config import ZoneConfig
from carbonshift.service.daemon import Service
from carbonshift.service.records import NewJob

H = 3600
DAYS = 10


def pattern(hour: int, *, dip: float = 50.0) -> float:
    """Every day: 50 g at 06:00 (the cleanest hour), 200 g at 03:00 (the static slot)."""
    return {6: dip, 3: 200.0}.get(hour % 24, 400.0)


def history(path: Path, hours_after_t0: int, *, dip_today: float = 50.0) -> Path:
    """Actual values from 7 days before T0 to ``hours_after_t0`` after it."""
    start = T0 - timedelta(days=7)
    n = 7 * 24 + hours_after_t0
    values = [pattern(i) for i in range(n)]
    today_6 = 7 * 24 + 6
    if today_6 < n:
        values[today_6] = dip_today
    return write_forecast(path, start, values)


def accounting_zone(tmp_path: Path, hours_after_t0: int = DAYS * 24, **kw: float) -> ZoneConfig:
    hist = history(tmp_path / "XX.csv", hours_after_t0, **kw)
    return ZoneConfig("XX", history_file=hist, forecaster="seasonal_24h", static_slot="0 3 * * *")


def run_one_job(service: Service, clock: object, command: tuple[str, ...]) -> int:
    now = service.clock.now().timestamp()
    row, _ = service.store.create_job(
        NewJob(
            command=command,
            duration_s=H,
            deadline_s=now + 10 * H,
            safety_margin_s=60,
            submitted_at_s=now,
            power_w=1000.0,
        )
    )
    service.loop.tick(replan=True)
    planned = service.store.get_job(row.id)
    assert planned is not None and planned.planned_start_s == now + 6 * H  # the 06:00 dip
    clock.set(T0 + timedelta(hours=6))  # type: ignore[attr-defined]
    settle(service, {"succeeded"}, [row.id])
    service.loop.tick(replan=False)  # the accounting pass
    return row.id
