"""`carbonshift plan` and `carbonshift static-window`, end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from carbonshift.cli import plan as plan_cmd
from carbonshift.planning import CronSchedule

runner = CliRunner()
app = typer.Typer()
plan_cmd.register(app)


@app.callback()
def _root() -> None:
    """Several commands: keep typer from collapsing the app into one."""


PLAN_KEYS = {
    "zone",
    "start",
    "end",
    "segments",
    "mean_intensity_g_per_kwh",
    "immediate_mean_intensity_g_per_kwh",
    "savings_pct",
    "decision_time",
    "forecast",
}


@pytest.fixture
def signal(tmp_path: Path) -> Path:
    values = [300, 280, 250, 90, 80, 85, 200, 310, 40, 320, 330, 340] + [350] * 12
    rows = ["timestamp,carbon_intensity"] + [
        f"2022-06-01T{h:02d}:00:00Z,{v}" for h, v in enumerate(values)
    ]
    path = tmp_path / "XX.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.output


def test_plan_signal_json_contract(signal: Path) -> None:
    code, out, _ = run(
        "plan", "--signal", str(signal), "--duration", "3h", "--slack", "10h", "--format", "json"
    )
    assert code == 0, out
    result = json.loads(out)
    assert set(result) == PLAN_KEYS
    assert result["zone"] == "XX"
    assert (result["start"], result["end"]) == ("2022-06-01T03:00Z", "2022-06-01T06:00Z")
    assert result["segments"] == [["2022-06-01T03:00Z", "2022-06-01T06:00Z"]]
    assert result["mean_intensity_g_per_kwh"] == pytest.approx(85.0)
    assert result["immediate_mean_intensity_g_per_kwh"] == pytest.approx(830 / 3, abs=1e-3)
    assert result["savings_pct"] == pytest.approx(100 * (830 / 3 - 85) / (830 / 3), abs=0.01)
    assert result["decision_time"] == "2022-06-01T00:00Z"  # --now: the first timestamp
    assert result["forecast"] == "given"


def test_plan_interruptible_splits_into_chunks(signal: Path) -> None:
    code, out, _ = run(
        "plan", "--signal", str(signal), "--duration", "4h", "--deadline", "2022-06-01T12:00Z",
        "--now", "2022-06-01T01:00Z", "--interruptible", "--min-chunk", "1h", "--format", "json",
    )  # fmt: skip
    assert code == 0, out
    result = json.loads(out)
    assert result["segments"] == [
        ["2022-06-01T03:00Z", "2022-06-01T06:00Z"],
        ["2022-06-01T08:00Z", "2022-06-01T09:00Z"],
    ]
    assert result["mean_intensity_g_per_kwh"] == pytest.approx((90 + 80 + 85 + 40) / 4)
    code, out, _ = run(
        "plan", "--signal", str(signal), "--duration", "4h", "--deadline", "2022-06-01T12:00Z",
        "--interruptible", "--min-chunk", "1h", "--overhead", "30m", "--format", "json",
    )  # fmt: skip
    assert code == 0, out
    result = json.loads(out)
    # the resumed chunk first restores for 30 min at full power (at 310 g/kWh): 450 g·h in
    # 4.5 h, still below the best contiguous 4 h (455 g·h)
    assert result["segments"] == [
        ["2022-06-01T03:00Z", "2022-06-01T06:00Z"],
        ["2022-06-01T07:30Z", "2022-06-01T09:00Z"],
    ]
    assert result["mean_intensity_g_per_kwh"] == pytest.approx(450 / 4.5)


def test_plan_spatial_over_real_zones(data_dir: Path) -> None:
    code, out, _ = run(
        "plan", "--data", str(data_dir), "--zone", "DE", "--zone", "FR", "--duration", "2h",
        "--slack", "10h", "--now", "2022-06-01T00:00Z", "--format", "json",
    )  # fmt: skip
    assert code == 0, out
    result = json.loads(out)
    assert result["zone"] == "FR" and result["forecast"] == "oracle"
    assert result["savings_pct"] > 50  # against running at once at home (DE)
    code, text, _ = run(
        "plan", "--data", str(data_dir), "--zone", "DE", "--duration", "2h",
        "--slack", "10h", "--now", "2022-06-01T00:00Z",
    )  # fmt: skip
    assert code == 0 and text.startswith("DE: start 2022-06-01T")
    assert "latest safe start 2022-06-01T10:00Z" in text


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--duration", "2h", "--slack", "1h"], 2, "--signal / --data: give exactly one"),
        (["--signal", "{signal}", "--duration", "2h"], 2, "--deadline / --slack"),
        (["--signal", "{signal}", "--duration", "soon", "--slack", "1h"], 2, "--duration"),
        (
            ["--signal", "{signal}", "--duration", "2h", "--slack", "1h", "--min-chunk", "1h"],
            2,
            "--min-chunk / --overhead: only apply with --interruptible",
        ),
        (
            ["--signal", "{signal}", "--duration", "3h", "--deadline", "2022-06-01T02:00Z"],
            2,
            "cannot finish by its deadline",
        ),
        (["--data", "{data}", "--duration", "2h", "--slack", "1h"], 2, "--zone"),
        (
            ["--data", "{data}", "--zone", "XX-NOPE", "--duration", "2h", "--slack", "1h"],
            3,
            "XX-NOPE",
        ),
    ],
)
def test_plan_errors_name_the_option(
    signal: Path, data_dir: Path, args: list[str], code: int, message: str
) -> None:
    filled = [a.format(signal=signal, data=data_dir) for a in args]
    exit_code, _, output = run("plan", *filled)
    assert exit_code == code, output
    assert message in output
    assert "Traceback" not in output


def test_static_window_text_json_and_emitters(data_dir: Path) -> None:
    base = ["static-window", "--data", str(data_dir), "--zone", "DE", "--duration", "1h",
            "--from", "2022-01-01", "--to", "2023-01-01"]  # fmt: skip
    code, out, _ = run(*base, "--tz", "Europe/Berlin", "--weekly", "--format", "json")
    assert code == 0, out
    report = json.loads(out)
    entry = report["results"][0]
    daily, weekly = entry["daily"], entry["weekly"]
    CronSchedule.parse(daily["cron"], daily["time_zone"])
    assert daily["time_zone"] == "Europe/Berlin" and daily["occurrences"] == 365
    assert daily["p10_g_per_kwh"] <= daily["p90_g_per_kwh"] and daily["std_g_per_kwh"] > 0
    assert weekly["mean_intensity_g_per_kwh"] <= daily["mean_intensity_g_per_kwh"] + 1e-9
    assert "wall-clock" in report["fixed_in"]
    code, text, _ = run(*base)
    assert code == 0 and "fixed in UTC" in text and "DE daily:" in text
    code, k8s, _ = run(*base, "--tz", "Europe/Berlin", "--emit", "k8s")
    assert code == 0
    assert "apiVersion: batch/v1" in k8s and "kind: CronJob" in k8s
    assert f'schedule: "{daily["cron"]}"' in k8s and "timeZone: Europe/Berlin" in k8s
    code, cron, _ = run(*base, "--tz", "Europe/Berlin", "--emit", "cron")
    assert code == 0 and f"CRON_TZ=Europe/Berlin\n{daily['cron']} <command>" in cron
    code, airflow, _ = run(*base, "--tz", "Europe/Berlin", "--emit", "airflow")
    assert (
        code == 0
        and f'CronTriggerTimetable("{daily["cron"]}", timezone="Europe/Berlin")' in airflow
    )


def test_static_window_errors(data_dir: Path) -> None:
    code, _, output = run("static-window", "--data", str(data_dir), "--duration", "1h",
                          "--from", "2022-01-01", "--to", "2023-01-01")  # fmt: skip
    assert code == 2 and "--zone" in output
    code, _, output = run("static-window", "--data", str(data_dir), "--zone", "DE", "--duration",
                          "1h", "--from", "2022-01-01", "--to", "2023-01-01", "--tz", "Mars/Base")  # fmt: skip
    assert code == 2 and "Mars/Base" in output


def test_static_window_bad_time_zone_names_the_option(data_dir: Path) -> None:
    result = runner.invoke(
        app,
        [
            "static-window",
            "--data",
            str(data_dir),
            "--zone",
            "DE",
            "--duration",
            "1h",
            "--from",
            "2022-01-01",
            "--to",
            "2022-02-01",
            "--tz",
            "Mars/Base",
        ],
    )
    assert result.exit_code == 2
    assert "--tz: 'Mars/Base' is not an IANA time zone" in result.output
