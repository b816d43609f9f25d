"""Reading trace files: formats, and every kind of bad input named clearly."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carbonshift.errors import DataFileError, UnknownZoneError
from carbonshift.signals.files import discover_traces, parse_trace_file, read_trace, read_zone

GOOD = "timestamp,carbon_intensity\n2022-01-01T00:00:00Z,100.5\n2022-01-01T01:00:00Z,200\n2022-01-01T02:00:00Z,150\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["ZZ.csv", "ZZ.csv.gz"])
def test_reads_plain_and_gzip_csv(tmp_path: Path, name: str) -> None:
    s = read_trace(write(tmp_path, name, GOOD))
    assert s.zone == "ZZ" and s.resolution_s == 3600
    assert list(s.values) == [100.5, 200.0, 150.0]
    assert s.labels.signal == "average" and s.labels.accounting == "lifecycle"


def test_reads_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2022-01-01", periods=4, freq="15min", tz="UTC"),
            "carbon_intensity": [1.0, 2.0, 3.0, 4.0],
        }
    )
    path = tmp_path / "PQ.parquet"
    frame.to_parquet(path)
    s = read_trace(path)
    assert (s.zone, s.resolution_s, list(s.values)) == ("PQ", 900, [1.0, 2.0, 3.0, 4.0])


def test_reads_electricity_maps_portal_export(tmp_path: Path) -> None:
    text = (
        "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),"
        "Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,"
        "Data Source,Data Estimated,Data Estimation Method\n"
        "2022-01-01 00:00:00,Germany,Germany,DE,320.1,380.5,50,40,entsoe.eu,false,\n"
        "2022-01-01 01:00:00,Germany,Germany,DE,310.0,370.0,50,40,entsoe.eu,false,\n"
    )
    parsed = parse_trace_file(write(tmp_path, "DE_2022_hourly.csv", text))
    assert parsed.format == "electricitymaps-portal-csv" and parsed.zone == "DE"
    assert list(parsed.series["actual"].values) == [380.5, 370.0]
    assert parsed.series["direct"].labels.accounting == "direct"
    assert list(parsed.series["direct"].values) == [320.1, 310.0]


BAD_CASES = {
    "missing column": (
        "timestamp,ci\n2022-01-01T00:00:00Z,1\n",
        "missing column 'carbon_intensity'",
    ),
    "out of order": (
        "timestamp,carbon_intensity\n2022-01-01T01:00:00Z,1\n2022-01-01T00:00:00Z,2\n2022-01-01T02:00:00Z,2\n",
        "line 3: timestamp 2022-01-01T00:00Z is out of order",
    ),
    "duplicated": (
        "timestamp,carbon_intensity\n2022-01-01T00:00:00Z,1\n2022-01-01T01:00:00Z,2\n2022-01-01T01:00:00Z,2\n",
        "line 4: timestamp 2022-01-01T01:00Z is duplicated",
    ),
    "mixed resolutions": (
        "timestamp,carbon_intensity\n2022-01-01T00:00:00Z,1\n2022-01-01T01:00:00Z,1\n"
        "2022-01-01T02:00:00Z,1\n2022-01-01T02:30:00Z,1\n",
        "mixed resolutions",
    ),
    "naive time": (
        "timestamp,carbon_intensity\n2022-01-01T00:00:00,1\n2022-01-01T01:00:00,2\n",
        "has no time zone",
    ),
    "mixed naive and aware": (
        "timestamp,carbon_intensity\n2022-01-01T00:00:00Z,1\n2022-01-01T01:00:00,2\n",
        "line 3: timestamp '2022-01-01T01:00:00' has no time zone",
    ),
    "nan": (
        "timestamp,carbon_intensity\n2022-01-01T00:00:00Z,1\n2022-01-01T01:00:00Z,\n",
        "line 3: carbon_intensity is missing",
    ),
    "nan literal": (
        "timestamp,carbon_intensity\n2022-01-01T00:00:00Z,1\n2022-01-01T01:00:00Z,NaN\n",
        "line 3: carbon_intensity is missing",
    ),
    "negative": (
        "timestamp,carbon_intensity\n2022-01-01T00:00:00Z,1\n2022-01-01T01:00:00Z,-5\n",
        "line 3: carbon_intensity -5.0 is negative",
    ),
    "text value": (
        "timestamp,carbon_intensity\n2022-01-01T00:00:00Z,1\n2022-01-01T01:00:00Z,high\n",
        "line 3: carbon_intensity 'high' is not a number",
    ),
    "bad time": (
        "timestamp,carbon_intensity\n2022-01-01T00:00:00Z,1\nyesterday,2\n",
        "line 3: cannot read timestamp 'yesterday'",
    ),
    "empty": ("", "the file is empty"),
    "header only": ("timestamp,carbon_intensity\n", "no data rows"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_files_get_one_clear_line(tmp_path: Path, case: str) -> None:
    text, message = BAD_CASES[case]
    path = write(tmp_path, "BAD.csv", text)
    with pytest.raises(DataFileError) as err:
        read_trace(path)
    line = err.value.one_line()
    assert message in line
    assert str(path) in line and "\n" not in line
    assert err.value.exit_code == 3


def test_binary_file_is_not_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataFileError, match="not a CSV file"):
        read_trace(path)


def test_truncated_gzip_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "X.csv.gz"
    path.write_bytes(gzip.compress(GOOD.encode())[:20])
    with pytest.raises(DataFileError, match="decompressed"):
        read_trace(path)


def test_unknown_zone_suggests_names(data_dir: Path) -> None:
    with pytest.raises(UnknownZoneError, match="zone 'DX' not found") as err:
        read_zone(data_dir, "DX")
    assert "DE" in err.value.one_line()


def test_discover_skips_non_traces_in_folders(data_dir: Path) -> None:
    found, skipped = discover_traces([data_dir])
    names = {p.name for p in skipped}
    assert {"README.md", "summary_stats.csv", "philly.csv.gz"} <= names
    datasets = {s.dataset for s in found}
    assert {"default", "dacf", "lets_wait_awhile", "watttime_moer", "em_watttime_2022"} <= datasets


def test_known_profiles_label_the_sub_folders(data_dir: Path) -> None:
    dacf = parse_trace_file(data_dir / "dacf" / "SE.csv.gz", profile=None)
    assert dacf.series["actual"].labels.accounting == "lifecycle"  # no profile given: default
    moer = read_trace(data_dir / "watttime_moer" / "CAISO_NORTH.csv.gz")
    assert moer.labels.signal == "marginal" and moer.resolution_s == 300
    forecast = read_trace(data_dir / "dacf" / "SE.csv.gz", variant="forecast")
    assert forecast.labels.kind == "forecast" and forecast.labels.basis == "production"
    assert not np.isnan(forecast.values).any()
