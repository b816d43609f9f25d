"""The MLflow integration against a real MLflow tracking store (SQLite): what a tracked block
and a service job's account log, read back through MlflowClient; and the errors that say what
to do (no active run, MLflow missing, a job not accounted yet)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from service.helpers_accounting import accounting_zone, run_one_job
from service.helpers_service import manual_service

import carbonshift
from carbonshift.errors import UsageError
from carbonshift.integrations.mlflow import log_account, log_tracker
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowClient]:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("carbonshift-test")
    try:
        yield MlflowClient()
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()


def _grid(start_s: int) -> IntensitySeries:
    labels = SignalLabels(zone="XX", signal="average", accounting="lifecycle", kind="actual")
    return IntensitySeries(start_s, 60, np.full(120, 300.0), labels)


def test_a_tracked_block_logs_energy_emissions_and_how(tracking: MlflowClient) -> None:
    start_s = int(time.time()) // 60 * 60 - 60
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 0.25)
        with carbonshift.track(intensity=_grid(start_s), meter="model", power_w=200.0) as t:
            time.sleep(0.3)
        log_tracker(t)
    data = tracking.get_run(run.info.run_id).data
    assert data.metrics["loss"] == 0.25  # the model's own metrics stay
    assert data.metrics["carbonshift.energy_kwh"] == pytest.approx(t.energy_kwh, rel=1e-12)
    assert t.emissions_g is not None
    assert data.metrics["carbonshift.emissions_g"] == pytest.approx(t.emissions_g, rel=1e-12)
    # a constant 200 W for the tracked time on a constant 300 g/kWh grid
    assert data.metrics["carbonshift.emissions_g"] == pytest.approx(
        300.0 * data.metrics["carbonshift.energy_kwh"], rel=1e-9
    )
    assert data.metrics["carbonshift.energy_kwh"] == pytest.approx(
        200.0 * data.metrics["carbonshift.duration_s"] / 3.6e6, rel=1e-6
    )
    assert data.tags["carbonshift.meter"] == "model"
    assert data.tags["carbonshift.measured"] == "false"
    assert data.tags["carbonshift.zone"] == "XX" and data.tags["carbonshift.status"] == "final"
    assert data.tags["carbonshift.intensity"].startswith("XX: average, lifecycle")


def test_a_service_jobs_account_logs_its_savings(tmp_path: Path, tracking: MlflowClient) -> None:
    service, clock = manual_service(tmp_path, [accounting_zone(tmp_path)])
    try:
        job_id = run_one_job(service, clock, ("sleep", "0.2"))
        found = service.store.account(job_id)
    finally:
        service.close()
    assert found is not None
    status, summary = found
    experiment = tracking.get_experiment_by_name("carbonshift-test")
    assert experiment is not None
    run = tracking.create_run(experiment.experiment_id)
    log_account(summary, run_id=run.info.run_id, status=status, job_id=job_id)
    data = tracking.get_run(run.info.run_id).data
    # hand-checked: ran at 50 g, 400 g at submission, 200 g at the static slot
    assert data.metrics["carbonshift.saved_vs_immediate_pct"] == pytest.approx(87.5)
    assert data.metrics["carbonshift.saved_vs_static_pct"] == pytest.approx(75.0)
    assert data.metrics["carbonshift.room_left_to_oracle_g"] == pytest.approx(0.0, abs=1e-12)
    assert data.metrics["carbonshift.energy_kwh"] == pytest.approx(summary["energy_kwh"])
    assert data.tags["carbonshift.status"] == "final"
    assert data.tags["carbonshift.job_id"] == str(job_id)


def test_errors_say_what_to_do(tracking: MlflowClient, monkeypatch: pytest.MonkeyPatch) -> None:
    with carbonshift.track(meter="model", power_w=10.0) as t:
        pass
    with pytest.raises(UsageError, match="no MLflow run is active") as exc:
        log_tracker(t)
    assert "mlflow.start_run()" in str(exc.value)
    with pytest.raises(UsageError, match="not accounted yet"):
        log_account({}, run_id="x")
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed
    with pytest.raises(UsageError, match=r"carbonshift\[mlflow\]"):
        log_tracker(t, run_id="x")
