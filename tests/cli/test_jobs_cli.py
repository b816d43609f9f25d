"""`carbonshift submit`, `jobs list|show|cancel|logs` against a real service over HTTP, and
`carbonshift run` (no server) end to end through the CLI."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from service.helpers_service import ThreadServer, dip, write_forecast
from typer.testing import CliRunner

from carbonshift.cli import app
from carbonshift.service.config import ServiceConfig, ZoneConfig
from carbonshift.service.daemon import Service

runner = CliRunner()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    forecast = write_forecast(tmp_path / "XX.csv", hour, dip(48, 0, low=50.0, width=3))
    config = ServiceConfig(
        data_dir=tmp_path / "data",
        safety_margin_s=60,
        poll_every_s=0.2,
        zones=(ZoneConfig("XX", forecast_file=forecast),),
    )
    service = Service(config)
    service.start_loop()
    srv = ThreadServer(service.app())
    try:
        yield srv.url
    finally:
        srv.close()
        service.close()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_submit_list_show_logs_cancel(server: str) -> None:
    code, out = cli(
        "submit", "--server", server, "--duration", "30m", "--deadline", "8h", "--name", "hello",
        "--", "sh", "-c", "echo hello from job $CARBONSHIFT_JOB_ID",
    )  # fmt: skip
    assert code == 0, out
    match = re.match(
        r"job (\d+) (planned|waiting|running|succeeded|dispatching): XX (\S+) \.\. (\S+)", out
    )
    assert match, out
    job_id = match.group(1)
    assert "latest safe start" in out
    code, out = cli("jobs", "logs", job_id, "--follow", "--server", server)
    assert code == 0 and out == f"hello from job {job_id}\n"
    code, out = cli("jobs", "list", "--server", server)
    assert code == 0 and f"{job_id} succeeded" in out and "hello" in out
    code, out = cli("jobs", "show", job_id, "--server", server)
    assert code == 0
    assert "-> succeeded: exit code 0" in out and "plan @" in out
    # a job far in the future, then cancelled
    code, out = cli(
        "submit", "--server", server, "--duration", "1h", "--slack", "20h", "--format", "json",
        "--", "sleep", "1",
    )  # fmt: skip
    assert code == 0
    later = re.search(r'"id": (\d+)', out)
    assert later is not None
    code, out = cli("jobs", "cancel", later.group(1), "--server", server)
    assert code == 0 and out.strip() == f"job {later.group(1)} cancelled"
    code, out = cli("jobs", "list", "--state", "cancelled", "--server", server, "--format", "json")
    assert code == 0 and f'"id": {later.group(1)}' in out


def test_submit_wait_prints_energy_emissions_and_savings_and_exits_with_the_code(
    server: str,
) -> None:
    code, out = cli(
        "submit", "--server", server, "--duration", "10m", "--deadline", "2h", "--power-w", "200",
        "--wait", "--", "sh", "-c", "sleep 0.5; exit 4",
    )  # fmt: skip
    assert code == 4, out
    assert "failed: exit code 4" in out
    assert re.search(r"energy [0-9.e-]+ kWh (modelled|measured)", out), out
    assert "emissions" in out and "provisional" in out  # on the forecast file: no actuals
    # the clean hours are now: it ran at once, so it saved nothing against immediate
    assert "saved vs immediate +0 g (+0.0 %)" in out


def test_submit_errors_are_one_line_with_exit_codes(server: str) -> None:
    code, out = cli(
        "submit", "--server", server, "--duration", "3h", "--deadline", "2h", "--", "true"
    )
    assert code == 2 and "deadline: deadline" in out and "too early" in out
    assert "Traceback" not in out
    code, out = cli("submit", "--server", server, "--duration", "1h", "--", "true")
    assert code == 2 and "--deadline / --slack" in out
    code, out = cli("jobs", "show", "999", "--server", server)
    assert code == 2 and "no job 999" in out
    code, out = cli("jobs", "list", "--server", "http://127.0.0.1:9")
    assert code == 4 and "cannot reach the carbonshift service" in out


def test_run_plans_waits_runs_and_exits_with_the_job_code(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    values = [300.0] * 48
    signal = write_forecast(tmp_path / "ZZ.csv", now - timedelta(minutes=30), values)
    t0 = time.monotonic()
    code, out = cli(
        "run", "--signal", str(signal), "--duration", "10m", "--slack", "0s", "--power-w", "50",
        "--", "sh", "-c", "exit 3",
    )  # fmt: skip
    assert time.monotonic() - t0 < 30
    assert code == 3, out
    assert "planned in ZZ:" in out and "waiting 0s" in out
    assert "energy" in out and "kWh modelled (declared constant power 50 W)" in out
    # no wait: the job ran at the immediate start, so it saved exactly nothing against it
    assert "provisional" in out and "saved vs immediate +0 g (+0.0 %)" in out
    code, out = cli("run", "--duration", "1h", "--", "true")
    assert code == 2 and "--deadline / --slack" in out


def test_run_on_a_trace_that_ended_long_ago_says_why_and_still_reports_energy(
    shared: Path,
) -> None:
    """The real DE trace ends years before today: no forecast from it (said, with the fix),
    the learned static slot as the fallback, and the energy printed though no intensity is
    known to reckon emissions on."""
    code, out = cli(
        "run", "--data", str(shared / "data"), "--zone", "DE", "--duration", "10m",
        "--slack", "0s", "--power-w", "50", "--", "true",
    )  # fmt: skip
    assert code == 0, out
    assert "the history in DE.csv.gz ends 2024-01-01T00:00Z" in out
    assert "--clock-origin" in out
    assert re.search(r"static slot 0 \d+ \* \* \* \(UTC\)", out)
    assert "kWh modelled (declared constant power 50 W)" in out
    assert "emissions not known (no intensity for DE over the run)" in out
    assert "energy not known" not in out
