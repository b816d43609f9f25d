"""The CodeCarbon-compatible export has CodeCarbon's columns, in its units."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from accounting.helpers_accounting import build_ledger

from carbonshift.accounting.codecarbon import CODECARBON_COLUMNS, codecarbon_csv, codecarbon_rows

# CodeCarbon 2.x columns (before experiment_id, water and utilisation were added)
CODECARBON_2 = [
    "timestamp",
    "project_name",
    "run_id",
    "duration",
    "emissions",
    "emissions_rate",
    "cpu_power",
    "gpu_power",
    "ram_power",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
    "country_name",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "os",
    "python_version",
    "codecarbon_version",
    "cpu_count",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "longitude",
    "latitude",
    "ram_total_size",
    "tracking_mode",
    "on_cloud",
    "pue",
]


def test_columns_are_codecarbons() -> None:
    assert CODECARBON_COLUMNS[:4] == ("timestamp", "project_name", "run_id", "experiment_id")
    # every 2.x column is there, in the same relative order
    positions = [CODECARBON_COLUMNS.index(c) for c in CODECARBON_2]
    assert positions == sorted(positions)


def test_rows_in_codecarbon_units(tmp_path: Path) -> None:
    led = build_ledger(tmp_path / "l.db")
    rows = codecarbon_rows(led.records(), project_name="demo")
    text = codecarbon_csv(rows)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert tuple(parsed[0].keys()) == CODECARBON_COLUMNS
    a = next(r for r in parsed if r["run_id"] == "a")
    assert a["project_name"] == "demo" and a["experiment_id"] == "ada"
    assert float(a["duration"]) == pytest.approx(7200.0)  # seconds
    assert float(a["emissions"]) == pytest.approx(0.340)  # kg
    assert float(a["emissions_rate"]) == pytest.approx(0.340 / 7200)  # kg/s
    assert float(a["energy_consumed"]) == pytest.approx(2.2)  # kWh
    assert float(a["gpu_energy"]) == pytest.approx(2.2) and float(a["cpu_energy"]) == 0
    assert float(a["gpu_power"]) == pytest.approx(2.2 * 3.6e6 / 7200)  # W
    assert a["region"] == "DE" and a["os"] == "Linux-test" and a["gpu_model"] == "1 x NVIDIA H100"
    assert a["timestamp"] == "2022-06-01T04:00:00" and a["tracking_mode"] == "machine"
    c = next(r for r in parsed if r["run_id"] == "c")
    assert float(c["cpu_energy"]) == pytest.approx(2.0) and float(c["pue"]) == 1.2
    assert c["tracking_mode"] == "process"
    # counterfactual records are not runs
    assert sorted(r["run_id"] for r in parsed) == ["a", "b", "c", "d"]
