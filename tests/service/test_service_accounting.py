"""The service accounts every finished job: the probe measures the run, the ledger (in the job
store's database) gets the actual and counterfactual records, savings are checked by hand,
provisional figures are finalised once actuals arrive, and the API, CLI, log and metrics say
the same as ``carbonshift report``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from service.helpers_accounting import DAYS, accounting_zone, history, run_one_job
from service.helpers_service import http_server, manual_service
from typer.testing import CliRunner

from carbonshift.accounting.ledger import Ledger
from carbonshift.cli import app
from carbonshift.service.accountant import job_key
from carbonshift.service.lifecycle import State


def test_finished_job_is_accounted_with_savings_checked_by_hand(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="carbonshift.service")
    service, clock = manual_service(tmp_path, [accounting_zone(tmp_path)])
    job_id = run_one_job(service, clock, ("sleep", "0.5"))
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
    service, clock = manual_service(tmp_path, [accounting_zone(tmp_path, hours_after_t0=5)])
    job_id = run_one_job(service, clock, ("sleep", "0.3"))
    status, summary = service.store.account(job_id) or ("", {})
    assert status == "provisional"
    key = job_key(job_id)
    ledger = Ledger(service.config.database_url, create=False)
    first = ledger.records(job_id=key, scenario="actual")
    energy_kwh = sum(r.energy_kwh for r in first)
    assert all(r.status == "provisional" and r.labels.kind == "forecast" for r in first)
    assert summary["emissions_g"] == pytest.approx(energy_kwh * 50.0)

    history(tmp_path / "XX.csv", DAYS * 24, dip_today=80.0)  # the actuals arrive
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
    service, clock = manual_service(tmp_path, [accounting_zone(tmp_path)], measure=False)
    job_id = run_one_job(service, clock, ("sleep", "0.1"))
    assert service.store.account(job_id) is None
    assert not (service.config.data_dir / "energy").exists()
    row = service.store.get_job(job_id)
    assert row is not None and row.state is State.SUCCEEDED
    service.close()


def test_a_crash_between_ledger_and_summary_neither_loses_nor_repeats_records(
    tmp_path: Path,
) -> None:
    service, clock = manual_service(tmp_path, [accounting_zone(tmp_path)], measure=True)
    service.loop.account_inline = False  # the "crash": the pass does not run
    job_id = run_one_job(service, clock, ("sleep", "0.2"))
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

    again, _ = manual_service(
        tmp_path, [accounting_zone(tmp_path)], clock=clock
    )  # restart, same store
    again.loop.tick(replan=False)
    status, summary = again.store.account(job_id) or ("", {})
    assert status == "final" and summary["savings_vs_immediate"]["saved_pct"] == pytest.approx(87.5)
    assert len(ledger.records(job_id=key, include_superseded=True)) == written
    again.close()
