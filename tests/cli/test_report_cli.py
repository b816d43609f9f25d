"""`carbonshift report` end to end: totals from the ledger, formats, Scope 2, CodeCarbon
export, and usage errors that exit 2 naming the option."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from carbonshift.accounting.counterfactual import counterfactuals
from carbonshift.accounting.emissions import account
from carbonshift.accounting.ledger import Ledger
from carbonshift.accounting.meters.base import MeterInfo
from carbonshift.accounting.profile import PowerProfile
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries

runner = CliRunner()
T0 = 1_654_041_600  # 2022-06-01T00:00Z
H = 3600


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    from carbonshift.cli import app

    return app


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "ledger.db"
    led = Ledger(path)
    meter = MeterInfo("model", False, "declared constant power 1000 W", parts=("cpu",))
    de = IntensitySeries(T0, H, np.array([400.0, 300, 200, 100, np.nan, 250]), SignalLabels("DE"))
    fr = IntensitySeries(T0, H, np.array([50.0, 60, 70]), SignalLabels("FR"))
    prof = PowerProfile.constant(T0 + 2 * H, 2 * H, 1000.0)
    led.record_account(account(prof, de), job_id="j1", user="ada", meter=meter)
    cf = counterfactuals(prof, de, immediate_start_s=T0, static_start_s=T0 + H)
    led.record_counterfactuals(cf, job_id="j1", user="ada", meter=meter)
    led.record_account(
        account(PowerProfile.constant(T0 + 3 * H, 2 * H, 500.0), de),
        job_id="j2",
        user="bob",
        meter=meter,
    )
    led.record_account(
        account(PowerProfile.constant(T0, H, 2000.0), fr), job_id="j3", user="ada", meter=meter
    )
    led.close()
    return path


def invoke(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["report", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_totals_equal_the_ledger(app: typer.Typer, ledger: Path) -> None:
    code, out, err = invoke(app, "--ledger", str(ledger), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    recs = [r for r in Ledger(ledger).records() if r.scenario == "actual"]
    total = data["totals"][0]
    assert total["energy_kwh"] == pytest.approx(math.fsum(r.energy_kwh for r in recs))
    assert total["emissions_g"] == pytest.approx(math.fsum(r.emissions_g or 0 for r in recs))
    # j1: 200 + 100 = 300 g; j2: 0.5×100 + gap 0.5 kWh; j3: 2 kWh × 50 = 100 g
    assert total["emissions_g"] == pytest.approx(450.0)
    assert total["unattributed_energy_kwh"] == pytest.approx(0.5)
    de = next(r for r in data["rows"] if r["key"] == "DE")
    assert de["savings_vs_immediate"]["saved_g"] == pytest.approx(700 - 300)
    assert de["savings_vs_static"]["saved_g"] == pytest.approx(500 - 300)
    assert data["scope2"]["location_based_kg"] == pytest.approx(0.45)
    assert data["scope2"]["market_based_kg"] is None


def test_period_grouping_and_text(app: typer.Typer, ledger: Path) -> None:
    args = ["--ledger", str(ledger), "--from", "2022-06-01T02:00Z", "--to", "2022-06-01T06:00Z"]
    code, out, _ = invoke(app, *args, "--by", "user")
    assert code == 0
    assert "by user" in out and "ada" in out and "bob" in out
    assert "Scope 2 (GHG Protocol)" in out and "meter: model (declared model" in out
    code, out, _ = invoke(app, *args, "--by", "job", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["group"] for r in rows] == ["j1", "j2", "total"]  # j3 ran before the period


def test_market_factors_and_codecarbon(app: typer.Typer, ledger: Path, tmp_path: Path) -> None:
    factors = tmp_path / "factors.csv"
    factors.write_text("zone,g_per_kwh\nDE,20\n")
    cc = tmp_path / "emissions.csv"
    code, out, err = invoke(
        app,
        "--ledger", str(ledger), "--format", "json",
        "--market-factors", str(factors), "--codecarbon-out", str(cc),
    )  # fmt: skip
    assert code == 0, err
    s2 = json.loads(out)["scope2"]
    assert s2["market_based_kg"] == pytest.approx(3.0 * 20 / 1000)
    assert s2["market_uncovered_zones"] == ["FR"]
    rows = list(csv.DictReader(cc.open()))
    assert {r["run_id"] for r in rows} == {"j1", "j2", "j3"}
    j1 = next(r for r in rows if r["run_id"] == "j1")
    assert float(j1["emissions"]) == pytest.approx(0.3) and float(j1["duration"]) == 7200
    code, out, _ = invoke(
        app, "--ledger", str(ledger), "--market-factor", "100", "--format", "json"
    )
    assert json.loads(out)["scope2"]["market_based_kg"] == pytest.approx(0.5)


def test_formats_write_files(app: typer.Typer, ledger: Path, tmp_path: Path) -> None:
    for fmt, marker in (("markdown", "# carbonshift report"), ("html", "<!doctype html>")):
        target = tmp_path / f"r.{fmt}"
        code, _, _ = invoke(app, "--ledger", str(ledger), "--format", fmt, "--out", str(target))
        assert code == 0 and target.read_text().startswith(marker)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--ledger", "{missing}"], "--ledger"),
        (["--ledger", "{ledger}", "--from", "yesterday"], "--from"),
        (["--ledger", "{ledger}", "--from", "2022-06-02", "--to", "2022-06-01"], "--to"),
        (["--ledger", "{ledger}", "--market-factor", "-5"], "--market-factor"),
        (
            ["--ledger", "{ledger}", "--market-factor", "5", "--market-factors", "x.csv"],
            "--market-factor",
        ),
        (["--ledger", "{ledger}", "--market-factors", "{missing}"], "--market-factors"),
        (["--ledger", "{ledger}", "--by", "planet"], "--by"),
    ],
)
def test_usage_errors_exit_2_naming_the_option(
    app: typer.Typer, ledger: Path, tmp_path: Path, args: list[str], option: str
) -> None:
    filled = [a.format(ledger=ledger, missing=tmp_path / "missing") for a in args]
    code, out, err = invoke(app, *filled)
    assert code == 2, out + err
    assert option in err and "Traceback" not in err
