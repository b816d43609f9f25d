"""``carbonshift forecast`` and ``carbonshift forecast backtest`` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from carbonshift.cli.forecast import register
from carbonshift.forecast import make_forecaster
from carbonshift.signals.files import read_trace
from carbonshift.signals.store import SignalStore
from carbonshift.timeutil import parse_time, to_epoch_s

runner = CliRunner()
app = typer.Typer(pretty_exceptions_enable=False)
register(app)


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["forecast", *args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("forecast-store")
    SignalStore(root).put(read_trace(data_dir / "DE.csv.gz"), dataset="default", source="test")
    return root


def test_forecast_text(data_dir: Path) -> None:
    code, out = run(
        "--zone", "DE", "--data", str(data_dir), "--now", "2022-06-01T00:00Z",
        "--horizon", "6h", "--model", "seasonal_24h",
    )  # fmt: skip
    assert code == 0, out
    assert "forecast issued 2022-06-01T00:00Z" in out and "model seasonal_24h" in out
    rows = [line for line in out.splitlines() if line.startswith("│ 2022-06-01T")]
    assert len(rows) == 6 and "2022-06-01T05:00Z" in rows[-1]


def test_forecast_json_matches_the_library(data_dir: Path, store: Path) -> None:
    code, out = run(
        "--zone", "DE", "--store", str(store), "--now", "2022-06-01T10:00Z",
        "--horizon", "48h", "--model", "climatology", "--format", "json",
    )  # fmt: skip
    assert code == 0, out
    doc = json.loads(out)
    assert doc["model"] == "climatology" and doc["issued_at"] == "2022-06-01T10:00Z"
    assert doc["labels"]["kind"] == "forecast" and doc["labels"]["zone"] == "DE"
    assert len(doc["values"]) == 48 and doc["values"][0]["timestamp"] == "2022-06-01T10:00Z"
    expected = make_forecaster("climatology").forecast(
        read_trace(data_dir / "DE.csv.gz"), to_epoch_s(parse_time("2022-06-01T10:00Z")), 48 * 3600
    )
    got = np.array([v["carbon_intensity"] for v in doc["values"]])
    np.testing.assert_allclose(got, expected.values, atol=1e-4)


def test_forecast_gbm_has_intervals(data_dir: Path) -> None:
    code, out = run(
        "--zone", "DE", "--data", str(data_dir), "--now", "2022-06-01T00:00Z",
        "--horizon", "6h", "--format", "json",
    )  # fmt: skip
    assert code == 0, out
    doc = json.loads(out)
    assert doc["model"] == "gbm" and doc["quantiles"] == [0.1, 0.9]
    assert all(v["p10"] <= v["carbon_intensity"] <= v["p90"] for v in doc["values"])


def test_forecast_provider_from_a_dataset(data_dir: Path) -> None:
    code, out = run(
        "--zone", "US-CAL-CISO", "--data", str(data_dir), "--dataset", "dacf",
        "--now", "2021-09-01T05:00Z", "--horizon", "48h", "--model", "provider", "--format", "json",
    )  # fmt: skip
    assert code == 0, out
    doc = json.loads(out)
    assert doc["labels"]["provider"] == "dacf" and len(doc["values"]) == 25
    assert doc["notes"] and "not issued yet" in doc["notes"][0]


def test_backtest_text_and_json(data_dir: Path) -> None:
    args = [
        "backtest", "--data", str(data_dir), "--zones", "DE,FR", "--from", "2022-03-01",
        "--to", "2022-05-01", "--horizons", "1h,24h", "--models", "persistence,seasonal_24h",
    ]  # fmt: skip
    code, out = run(*args)
    assert code == 0, out
    assert "seasonal_24h" in out and "capture %" in out and "MAPE 24h %" in out
    code, out = run(*args, "--format", "json", "--every", "12h")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["models"] == ["persistence", "seasonal_24h"] and doc["every_s"] == 43200
    assert {(e["zone"], e["model"], e["horizon_s"]) for e in doc["errors"]} == {
        (z, m, h) for z in ("DE", "FR") for m in doc["models"] for h in (3600, 86400)
    }
    assert all(r["decisions"] == 122 for r in doc["ranking"])  # 61 days, 2 decisions a day
    persistence = next(r for r in doc["ranking"] if r["model"] == "persistence")
    assert persistence["capture_pct"] == 0.0  # a flat forecast starts at once


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--zone", "DE", "--horizon", "5x"], 2, "--horizon"),
        (["--zone", "DE", "--horizon", "0h"], 2, "--horizon"),
        (["--zone", "DE", "--model", "arima"], 2, "--model: unknown model 'arima'"),
        (["--zone", "DE", "--now", "2019-01-01T00:00Z"], 2, "--now"),
        (["--zone", "DE", "--now", "yesterday"], 2, "--now"),
        (["--horizon", "6h"], 2, "--zone"),
        (["--zone", "XX"], 3, "zone 'XX' not found"),
        (
            ["--zone", "DE", "--model", "provider", "--now", "2022-01-05T00:00Z"],
            3,
            "no provider forecast",
        ),
        (["backtest", "--zones", "DE", "--from", "2019-01-01", "--to", "2022-02-01"], 2, "--from"),
        (["backtest", "--zones", "DE", "--from", "2023-06-01", "--to", "2024-06-01"], 2, "--to"),
        (
            ["backtest", "--zones", "DE", "--from", "2022-03-01", "--to", "2022-02-01"],
            2,
            "--to must come after --from",
        ),
        (
            [
                "backtest",
                "--zones",
                "DE",
                "--from",
                "2022-02-01",
                "--to",
                "2022-03-01",
                "--every",
                "soon",
            ],
            2,
            "--every",
        ),
        (
            [
                "backtest",
                "--zones",
                "DE",
                "--from",
                "2022-02-01",
                "--to",
                "2022-03-01",
                "--every",
                "90m",
            ],
            2,
            "--every",
        ),
        (
            [
                "backtest",
                "--zones",
                "DE",
                "--from",
                "2022-02-01",
                "--to",
                "2022-03-01",
                "--horizons",
                "1h,2y",
            ],
            2,
            "--horizons",
        ),
        (
            [
                "backtest",
                "--zones",
                "DE",
                "--from",
                "2022-02-01",
                "--to",
                "2022-03-01",
                "--models",
                "persistence,nope",
            ],
            2,
            "--models: unknown model 'nope'",
        ),
        (
            ["backtest", "--zones", "DE,XX", "--from", "2022-02-01", "--to", "2022-03-01"],
            3,
            "zone 'XX' not found",
        ),
    ],
)
def test_errors_name_the_option(data_dir: Path, args: list[str], code: int, message: str) -> None:
    got, out = run(*args, "--data", str(data_dir))
    assert got == code, out
    assert message in out
    assert "Traceback" not in out


def test_registered_on_the_main_app() -> None:
    from carbonshift.cli import app as main_app

    result = runner.invoke(main_app, ["forecast", "backtest", "--help"])
    assert result.exit_code == 0 and "--horizons" in result.output


def test_data_and_store_together_is_a_usage_error(data_dir: Path, store: Path) -> None:
    code, out = run("--zone", "DE", "--data", str(data_dir), "--store", str(store))
    assert code == 2 and "--data and --store" in out
