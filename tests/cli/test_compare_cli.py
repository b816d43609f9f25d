"""`carbonshift compare` end to end: the JSON and CSV contracts, job traces and bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from carbonshift.cli import compare as compare_cmd

runner = CliRunner()
app = typer.Typer()
compare_cmd.register(app)


@app.callback()
def _root() -> None:
    """Keep typer from collapsing the app into one command."""


RESULT_KEYS = {
    "zone",
    "policy",
    "jobs",
    "energy_kwh",
    "emissions_kg",
    "mean_intensity_g_per_kwh",
    "reduction_vs_immediate_pct",
    "capture_of_oracle_pct",
    "mean_delay_h",
    "p95_delay_h",
    "deadline_misses",
}
DECISION_COLUMNS = [
    "job_id",
    "policy",
    "home_zone",
    "zone",
    "submit_time",
    "decision_time",
    "start",
    "end",
    "deadline",
    "mean_intensity_g_per_kwh",
    "emissions_g",
]
WEEK = ["--from", "2022-03-01T00:00Z", "--to", "2022-03-08T00:00Z"]
REGULAR = ["--every", "1h", "--duration", "2h", "--slack", "24h"]


def _run(data_dir: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["compare", "--data", str(data_dir), "--no-progress", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_and_decisions_contract(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    code, stdout, _ = _run(
        data_dir,
        "--zones",
        "DE,ES",
        *WEEK,
        *REGULAR,
        "--format",
        "json",
        "--decisions-out",
        str(out),
    )
    assert code == 0
    data = json.loads(stdout)
    assert data["period"] == {"from": "2022-03-01T00:00Z", "to": "2022-03-08T00:00Z"}
    assert data["signal"]["signal"] == "average" and data["signal"]["accounting"] == "lifecycle"
    assert len(data["results"]) == 8
    for row in data["results"]:
        assert set(row) >= RESULT_KEYS
        assert row["jobs"] == 168 and row["deadline_misses"] == 0
    with out.open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == DECISION_COLUMNS
    assert len(rows) == 1 + 168 * 4 * 2


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_formats_and_out(data_dir: Path, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"report.{fmt}"
    code, _, _ = _run(
        data_dir, "--zones", "FR", *WEEK, *REGULAR, "--format", fmt, "--out", str(target)
    )
    assert code == 0
    text = target.read_text()
    assert "average, lifecycle" in text and "immediate" in text
    if fmt == "html":
        assert text.count("data:image/png;base64,") == 3


def test_relocate_records_where_jobs_ran(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    code, _, _ = _run(
        data_dir, "--zones", "DE,NO", *WEEK, *REGULAR, "--relocate",
        "--policies", "immediate,oracle", "--decisions-out", str(out),
    )  # fmt: skip
    assert code == 0
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    moved = [r for r in rows if r["policy"] == "oracle" and r["home_zone"] == "DE"]
    assert all(r["zone"] == "NO" for r in moved)  # Norway's hydro beats Germany every hour
    assert all(r["zone"] == r["home_zone"] for r in rows if r["policy"] == "immediate")


def test_jobs_file_design_format(data_dir: Path, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(
        "job_id,submit_time,duration_s,slack_s,deadline,gpus,power_w,zone\n"
        "a,2022-03-01T01:30:00Z,5400,36000,,2,,DE\n"
        "b,2022-03-02T10:00:00Z,3600,,2022-03-03T00:00:00Z,1,250,\n"
    )
    code, stdout, err = _run(
        data_dir, "--zones", "DE,FR", *WEEK, "--jobs", str(jobs), "--format", "json"
    )
    assert code == 0, err
    rows = json.loads(stdout)["results"]
    assert {(r["zone"], r["jobs"]) for r in rows} == {("DE", 2), ("FR", 1)}
    de_imm = next(r for r in rows if r["zone"] == "DE" and r["policy"] == "immediate")
    assert de_imm["energy_kwh"] == pytest.approx(2 * 300 * 1.5 / 1000 + 0.25)


def test_gpu_trace_anchored(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    code, stdout, err = _run(
        data_dir, "--zones", "DE", "--from", "2022-02-01", "--to", "2022-02-02",
        "--jobs", str(data_dir / "jobs" / "philly.csv.gz"), "--anchor", "2021-12-23",
        "--slack", "24h", "--trim", "--format", "json", "--decisions-out", str(out),
    )  # fmt: skip
    assert code == 0, err
    rows = json.loads(stdout)["results"]
    assert rows[0]["jobs"] > 100
    with out.open() as fh:
        submits = [r["submit_time"] for r in csv.DictReader(fh)]
    assert min(submits) >= "2022-02-01" and max(submits) < "2022-02-02"


def test_job_past_the_data_needs_trim(data_dir: Path) -> None:
    args = ["--zones", "FR", "--from", "2022-12-30", "--to", "2023-01-01", *REGULAR]
    code, _, err = _run(data_dir, *args)
    assert code == 3 and "--trim" in err
    code, stdout, _ = _run(data_dir, *args, "--trim", "--format", "json")
    assert code == 0
    assert json.loads(stdout)["results"][0]["jobs"] == 23  # submit + 2 h + 24 h <= data end


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--zones", "XX", *WEEK, *REGULAR], 3, "XX"),
        (
            ["--zones", "FR", "--from", "2019-01-01", "--to", "2019-02-01", *REGULAR],
            3,
            "outside the data",
        ),
        (["--zones", "FR", "--from", "2022-03-08", "--to", "2022-03-01", *REGULAR], 2, "--to"),
        (["--zones", "FR", "--from", "2022-03-01", "--to", "2022-03-01", *REGULAR], 2, "--to"),
        (["--zones", "FR", *WEEK], 2, "--every"),
        (["--zones", "FR", *WEEK, *REGULAR, "--policies", "magic"], 2, "--policies"),
        (["--zones", "FR", *WEEK, *REGULAR, "--forecast", "crystal"], 2, "--forecast"),
        (
            ["--zones", "FR", *WEEK, "--every", "1h", "--duration", "soon", "--slack", "1h"],
            2,
            "--duration",
        ),
        (["--zones", "FR", "--from", "2022-01-10", "--to", "2022-01-11", *REGULAR], 3, "rolling"),
    ],
)
def test_bad_input_one_line(data_dir: Path, args: list[str], code: int, needle: str) -> None:
    got, _, err = _run(data_dir, *args)
    assert got == code
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("job_id,submit_time\n1,2022-03-01T00:00Z\n", "duration_s"),
        ("job_id,submit_time,duration_s\n1,yesterday,3600\n", "row 2"),
        ("job_id,submit_time,duration_s,slack_s\n1,2022-03-01T00:00Z,lots,3600\n", "duration_s"),
        ("job_id,submit_time,duration_s,slack_s\n", "no jobs"),
        ("job_id,submit_time,duration_s,slack_s,zone\n1,2022-03-01T00:00Z,3600,0,DE\n", "DE"),
    ],
)
def test_malformed_jobs_file(data_dir: Path, tmp_path: Path, content: str, needle: str) -> None:
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(content)
    code, _, err = _run(data_dir, "--zones", "FR", *WEEK, "--jobs", str(jobs))
    assert code == 3
    assert needle in err and len(err.strip().splitlines()) == 1
