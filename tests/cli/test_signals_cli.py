"""The `carbonshift signals` commands, end to end through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from httpfixtures import FixtureServer
from typer.testing import CliRunner

from carbonshift.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("cli-store")
    result = runner.invoke(
        app,
        [
            "signals",
            "import",
            str(data_dir / "DE.csv.gz"),
            str(data_dir / "lets_wait_awhile"),
            "--store",
            str(root),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "imported 4 file(s)" in result.output
    return root


def test_list_shows_labels(store: Path) -> None:
    result = runner.invoke(app, ["signals", "list", "--store", str(store), "--format", "json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    keys = {(r["dataset"], r["zone"], r["variant"]) for r in rows}
    assert ("default", "DE", "actual") in keys and ("lets_wait_awhile", "GB", "actual") in keys
    gb = next(r for r in rows if r["zone"] == "GB")
    assert gb["resolution_s"] == 1800 and gb["labels"]["signal"] == "average"


def test_show_json_and_csv(store: Path) -> None:
    args = [
        "signals",
        "show",
        "--store",
        str(store),
        "--zone",
        "DE",
        "--from",
        "2022-06-01T00:00Z",
        "--to",
        "2022-06-01T03:00Z",
    ]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [v["timestamp"] for v in data["values"]] == [
        "2022-06-01T00:00Z",
        "2022-06-01T01:00Z",
        "2022-06-01T02:00Z",
    ]
    assert data["labels"]["accounting"] == "lifecycle"
    csv_out = runner.invoke(app, [*args, "--format", "csv"]).output.splitlines()
    assert csv_out[0] == "timestamp,carbon_intensity,filled" and len(csv_out) == 4
    assert float(csv_out[1].split(",")[1]) == data["values"][0]["carbon_intensity"]


def test_show_resamples_and_plots(store: Path, tmp_path: Path) -> None:
    png = tmp_path / "de.png"
    result = runner.invoke(
        app,
        [
            "signals",
            "show",
            "--store",
            str(store),
            "--zone",
            "DE",
            "--dataset",
            "lets_wait_awhile",
            "--from",
            "2020-03-01",
            "--to",
            "2020-03-02",
            "--resolution",
            "1h",
            "--plot",
            str(png),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "step 1h, 24 steps" in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["signals", "show", "--zone", "NOPE"], 3, "unknown zone 'NOPE'"),
        (
            ["signals", "show", "--zone", "DE", "--from", "2022-06-01T00:00"],
            2,
            "--from: '2022-06-01T00:00' has no time zone",
        ),
        (
            ["signals", "show", "--zone", "DE", "--from", "2022-06-02", "--to", "2022-06-01"],
            2,
            "--to must come after --from",
        ),
        (
            ["signals", "show", "--zone", "DE", "--from", "2030-01-01", "--to", "2030-02-01"],
            3,
            "no data between",
        ),
        (["signals", "show", "--zone", "DE", "--fill", "magic"], 2, "--fill: unknown method"),
        (
            ["signals", "fetch", "--provider", "nope", "--zone", "DE"],
            2,
            "--provider: unknown provider",
        ),
    ],
)
def test_bad_input_is_one_line_with_exit_code(
    store: Path, args: list[str], code: int, needle: str
) -> None:
    result = runner.invoke(app, [*args, "--store", str(store)])
    assert result.exit_code == code, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


def test_bad_file_import_exit_3_and_store_unchanged(store: Path, tmp_path: Path) -> None:
    before = sorted((p.name, p.stat().st_mtime_ns) for p in store.rglob("*.parquet"))
    bad = tmp_path / "DE.csv"
    bad.write_text("timestamp,carbon_intensity\n2022-06-01T00:00:00Z,1\n2022-06-01T00:00:00Z,2\n")
    result = runner.invoke(app, ["signals", "import", str(bad), "--store", str(store)])
    assert result.exit_code == 3
    assert "line 3" in result.output and "duplicated" in result.output
    assert sorted((p.name, p.stat().st_mtime_ns) for p in store.rglob("*.parquet")) == before


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    """The installed entry point, as a user runs it: a data error is one line and exit 3."""
    not_csv = tmp_path / "X.csv"
    not_csv.write_bytes(b"\x00\x01\x02garbage")
    env = {**os.environ, "CARBONSHIFT_STORE": str(tmp_path / "s")}
    proc = subprocess.run(
        [sys.executable, "-m", "carbonshift", "signals", "import", str(not_csv)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 3
    assert "not a CSV file" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1


def test_fetch_stores_provider_history_and_caches_the_request(
    server: FixtureServer, fixtures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`signals fetch` through the real UK client against the recorded payload."""
    path = "/intensity/2017-10-01T11:30Z/2017-10-02T12:00Z"
    server.file(
        path,
        fixtures_dir / "uk_carbon_intensity" / "national_intensity_fw24h_2017-10-01T1130Z.json",
    )
    args = [
        "signals",
        "fetch",
        "--provider",
        "uk",
        "--zone",
        "GB",
        "--from",
        "2017-10-01T11:30Z",
        "--to",
        "2017-10-02T12:00Z",
        "--store",
        str(tmp_path),
        "--base-url",
        server.url,
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "stored 49 steps" in first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    assert len(server.requests_to(path)) == 1  # the second fetch was answered from the cache
    shown = runner.invoke(
        app, ["signals", "show", "--zone", "GB", "--store", str(tmp_path), "--format", "json"]
    )
    data = json.loads(shown.output)
    assert data["values"][0] == {"timestamp": "2017-10-01T11:30Z", "carbon_intensity": 143.0}
    assert data["labels"]["provider"] == "uk-carbon-intensity" or data["labels"][
        "provider"
    ].startswith("uk")


def test_fetch_without_token_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ELECTRICITYMAPS_TOKEN", raising=False)
    monkeypatch.setenv("CARBONSHIFT_CONFIG", str(tmp_path / "none.toml"))
    result = runner.invoke(
        app,
        [
            "signals",
            "fetch",
            "--provider",
            "electricitymaps",
            "--zone",
            "DE",
            "--forecast",
            "--store",
            str(tmp_path),
            "--base-url",
            "http://127.0.0.1:9",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "ELECTRICITYMAPS_TOKEN" in result.output
