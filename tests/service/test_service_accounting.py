"""The service accounts every finished job: the probe measures the run, the ledger (in the job
store's database) gets the actual and counterfactual records, savings are checked by hand,
provisional figures are finalised once actuals arrive, and the API, CLI, log and metrics say
the same as ``carbonshift report``."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from service.helpers_service import T0, http_server, manual_service, settle, write_forecast
from typer.testing import CliRunner

from carbonshift.accounting.ledger import Ledger
from carbonshift.cli import app
from carbonshift.service.accountant import job_key
from carbonshift.service.config import ZoneConfig
from carbonshift.service.daemon import Service
from carbonshift.service.lifecycle import State
from carbonshift.service.records import NewJob

H = 3600
DAYS = 10


def _pattern(hour: int, *, dip: float = 50.0) -> float:
    """Every day: 50 g at 06:00 (the cleanest hour), 200 g at 03:00 (the static slot)."""
    return {6: dip, 3: 200.0}.get(hour % 24, 400.0)


def _history(path: Path, hours_after_t0: int, *, dip_today: float = 50.0) -> Path:
    """Actual values from 7 days before T0 to ``hours_after_t0`` after it."""
    start = T0 - timedelta(days=7)
    n = 7 * 24 + hours_after_t0
    values = [_pattern(i) for i in range(n)]
    today_6 = 7 * 24 + 6
    if today_6 < n:
        values[today_6] = dip_today
    return write_forecast(path, start, values)


def _zone(tmp_path: Path, hours_after_t0: int = DAYS * 24, **kw: float) -> ZoneConfig:
    hist = _history(tmp_path / "XX.csv", hours_after_t0, **kw)
    return ZoneConfig("XX", history_file=hist, forecaster="seasonal_24h", static_slot="0 3 * * *")


def _run_one(service: Service, clock: object, command: tuple[str, ...]) -> int:
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


def test_finished_job_is_accounted_with_savings_checked_by_hand(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="carbonshift.service")
    service, clock = manual_service(tmp_path, [_zone(tmp_path)])
    job_id = _run_one(service, clock, ("sleep", "0.5"))
    found = service.store.account(job_id)
    assert found is not None
    status, summary = found
    assert status == "final"  # the zone's actuals cover the run

    ledger = Ledger(service.config.database_url, create=False)
    records = ledger.records(job_id=job_key(job_id))
    assert {r.scenario for r in records} == {"actual", "immediate", "static", "oracle"}
    actual = [r for r in records if r.scenario == "actual"]
    energy_kwh = sum(r.energy_kwh for r in actual)
    assert energy_kwh > 0 and summary["energy_kwh"] == pytest.approx(energy_kwh)
    assert all(r.status == "final" and r.intensity_g_per_kwh == 50.0 for r in actual)
    # by hand: the same energy at 00:00 (immediate, 400 g), at 03:00 (static, 200 g), and
    # the oracle's 06:00 is where it ran
    assert summary["emissions_g"] == pytest.approx(energy_kwh * 50.0)
    imm = summary["savings_vs_immediate"]
    assert imm["saved_g"] == pytest.approx(energy_kwh * 350.0)
    assert imm["saved_pct"] == pytest.approx(87.5)
    assert summary["savings_vs_static"]["saved_g"] == pytest.approx(energy_kwh * 150.0)
    assert summary["savings_vs_static"]["saved_pct"] == pytest.approx(75.0)
    assert summary["room_left_to_oracle"]["room_left_g"] == pytest.approx(0.0, abs=1e-12)
    # the probe measured (here: the model meter, said so) and the run's own process tree
    assert summary["meter"] in {"model", "rapl", "nvml", "combined"}
    line = [r.getMessage() for r in caplog.records if f"job {job_id} succeeded" in r.getMessage()]
    assert line and "saved vs immediate" in line[0] and "kWh" in line[0]

    # the API, the CLI and carbonshift report say the same
    with http_server(service.app()) as srv, httpx.Client(base_url=srv.url) as c:
        got = c.get(f"/v1/jobs/{job_id}/account").json()
        assert got["status"] == "final"
        assert got["summary"]["energy_kwh"] == pytest.approx(energy_kwh)
        assert "saved vs immediate" in got["line"]
        metrics = c.get("/metrics").text
        assert 'carbonshift_job_energy_kwh_total{zone="XX"}' in metrics
        assert 'carbonshift_job_baseline_emissions_g_total{baseline="immediate",zone="XX"}' in (
            metrics
        )
        runner = CliRunner()
        shown = runner.invoke(app, ["jobs", "show", str(job_id), "--server", srv.url])
        assert shown.exit_code == 0, shown.output
        assert "account (final): energy" in shown.output
    report = CliRunner().invoke(
        app,
        ["report", "--ledger", service.config.database_url, "--by", "job", "--format", "json"],
    )
    assert report.exit_code == 0, report.output
    rows = json.loads(report.output)["rows"]
    row = next(r for r in rows if r["key"] == job_key(job_id))
    assert row["energy_kwh"] == pytest.approx(energy_kwh)
    assert row["savings_vs_immediate"]["saved_g"] == pytest.approx(imm["saved_g"])
    service.close()


def test_provisional_account_is_finalised_when_actuals_arrive(tmp_path: Path) -> None:
    # the actuals stop at 05:00 today: the 06:00 run is accounted on the forecast it was
    # planned on (yesterday's 50 g at 06:00) until the day's actuals (80 g) come in
    service, clock = manual_service(tmp_path, [_zone(tmp_path, hours_after_t0=5)])
    job_id = _run_one(service, clock, ("sleep", "0.3"))
    status, summary = service.store.account(job_id) or ("", {})
    assert status == "provisional"
    key = job_key(job_id)
    ledger = Ledger(service.config.database_url, create=False)
    first = ledger.records(job_id=key, scenario="actual")
    energy_kwh = sum(r.energy_kwh for r in first)
    assert all(r.status == "provisional" and r.labels.kind == "forecast" for r in first)
    assert summary["emissions_g"] == pytest.approx(energy_kwh * 50.0)

    _history(tmp_path / "XX.csv", DAYS * 24, dip_today=80.0)  # the actuals arrive
    service.loop.tick(replan=True)  # a replan pass also finalises
    status, summary = service.store.account(job_id) or ("", {})
    assert status == "final"
    assert summary["emissions_g"] == pytest.approx(energy_kwh * 80.0)
    assert summary["savings_vs_immediate"]["saved_g"] == pytest.approx(energy_kwh * 320.0)
    every = ledger.records(job_id=key, include_superseded=True)
    current = ledger.records(job_id=key)
    assert len(every) == 2 * len(current)  # nothing rewritten: the old records stay
    assert all(r.status == "final" and r.supersedes is not None for r in current)
    service.close()


def test_measure_off_leaves_commands_unwrapped_and_unaccounted(tmp_path: Path) -> None:
    service, clock = manual_service(tmp_path, [_zone(tmp_path)], measure=False)
    job_id = _run_one(service, clock, ("sleep", "0.1"))
    assert service.store.account(job_id) is None
    assert not (service.config.data_dir / "energy").exists()
    row = service.store.get_job(job_id)
    assert row is not None and row.state is State.SUCCEEDED
    service.close()


def test_a_crash_between_ledger_and_summary_neither_loses_nor_repeats_records(
    tmp_path: Path,
) -> None:
    service, clock = manual_service(tmp_path, [_zone(tmp_path)], measure=True)
    service.loop.account_inline = False  # the "crash": the pass does not run
    job_id = _run_one(service, clock, ("sleep", "0.2"))
    assert service.store.account(job_id) is None
    accountant = service.loop.accountant
    assert accountant is not None
    row = service.store.get_job(job_id)
    assert row is not None
    accountant.account_job(row)  # ledger written, then the process dies before the summary
    key = job_key(job_id)
    ledger = Ledger(service.config.database_url, create=False)
    written = len(ledger.records(job_id=key, include_superseded=True))
    service.close()

    again, _ = manual_service(tmp_path, [_zone(tmp_path)], clock=clock)  # restart, same store
    again.loop.tick(replan=False)
    status, summary = again.store.account(job_id) or ("", {})
    assert status == "final" and summary["savings_vs_immediate"]["saved_pct"] == pytest.approx(87.5)
    assert len(ledger.records(job_id=key, include_superseded=True)) == written
    again.close()
