"""The service on a real (throwaway) Slurm cluster: a job submitted with a deadline waits in
Slurm for its planned window (``--begin``), starts inside it and finishes; its output and exit
code come back through the API. FAILS (does not skip) without Slurm: run .ci/slurm.sh."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from executors.slurm_cluster import SlurmCluster
from service.helpers_service import http_server, write_forecast

from carbonshift.service.config import ExecutorConfig, ServiceConfig, ZoneConfig
from carbonshift.service.daemon import Service
from carbonshift.timeutil import parse_time


def test_job_runs_in_its_planned_window_on_slurm(tmp_path: Path, slurm: SlurmCluster) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(seconds=now.second % 10)
    values = [400.0] * 60
    values[2] = values[3] = 40.0  # 20-40 s from the grid start: the clean window
    forecast = write_forecast(tmp_path / "DE.csv", start, values, resolution_s=10)
    config = ServiceConfig(
        data_dir=tmp_path / "data",
        safety_margin_s=10,
        poll_every_s=0.5,
        replan_every_s=3600.0,
        executors=(
            ExecutorConfig("hpc", kind="slurm", slurm_conf=slurm.conf, command_timeout_s=20.0),
        ),
        zones=(ZoneConfig("DE", executor="hpc", partition="DE", forecast_file=forecast),),
    )
    service = Service(config)
    service.start_loop()
    try:
        with http_server(service.app()) as srv, httpx.Client(base_url=srv.url) as c:
            body = {
                "command": ["sh", "-c", 'echo "hello from $CARBONSHIFT_ZONE"; echo oops >&2'],
                "duration": "20s",
                "deadline": "3m",
                "executor": "slurm",
                "power_w": 100.0,
            }
            ok = c.post("/v1/jobs", json=body).json()["id"]
            bad = c.post("/v1/jobs", json={**body, "command": ["sh", "-c", "exit 3"]}).json()["id"]
            end = time.monotonic() + 120
            jobs = {}
            while time.monotonic() < end:
                jobs = {j: c.get(f"/v1/jobs/{j}").json() for j in (ok, bad)}
                if all(j["state"] in ("succeeded", "failed") for j in jobs.values()):
                    break
                time.sleep(0.5)
            good, failed = jobs[ok], jobs[bad]
            assert good["state"] == "succeeded", good
            assert good["executor"] == "hpc" and good["handle"].isdigit()
            planned = parse_time(good["plan"]["start"])
            assert planned == max(start + timedelta(seconds=20), parse_time(good["submitted_at"]))
            started = parse_time(good["started_at"])
            # Slurm rounds --begin up to the second and schedules every second
            assert planned - timedelta(seconds=1) <= started <= planned + timedelta(seconds=8)
            assert started <= parse_time(good["latest_safe_start"])
            assert c.get(f"/v1/jobs/{ok}/logs").text == "hello from DE\n"
            assert c.get(f"/v1/jobs/{ok}/logs", params={"stream": "stderr"}).text == "oops\n"
            assert failed["state"] == "failed" and failed["exit_code"] == 3
            states = [t["to_state"] for t in c.get(f"/v1/jobs/{ok}/transitions").json()]
            assert states == [
                "submitted", "planned", "dispatching", "waiting", "running", "succeeded"
            ]  # fmt: skip
            # the probe ran inside the batch job and the service accounted the run: on the
            # forecast (provisional), 40 g where it ran against 400 g at submission
            account: dict[str, Any] = {"status": "pending"}
            end = time.monotonic() + 30
            while account["status"] == "pending" and time.monotonic() < end:
                account = c.get(f"/v1/jobs/{ok}/account").json()
                time.sleep(0.3)
            assert account["status"] == "provisional", account
            summary = account["summary"]
            assert summary["energy_kwh"] > 0 and summary["emissions_g"] > 0
            assert summary["savings_vs_immediate"]["saved_pct"] > 50.0
            probes = list((tmp_path / "data" / "energy" / str(ok)).glob("attempt-*.json"))
            assert len(probes) == 1 and json.loads(probes[0].read_text())["complete"] is True
    finally:
        service.close()
