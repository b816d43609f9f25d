"""The main job: real data when reachable, the synthetic grid (announced) when not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carbonshift.cli import app
from carbonshift.cli.demo import find_data_dir

runner = CliRunner()


def test_demo_on_real_data(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "demo",
            "--data",
            str(data_dir),
            "--store",
            str(tmp_path / "s"),
            "--zones",
            "DE,FR",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" not in result.output
    summary = json.loads((out / "demo.json").read_text())
    assert summary["synthetic"] is False
    assert {r["zone"] for r in summary["results"]} == {"DE", "FR"}
    for r in summary["results"]:
        best = r["windows"][0]["mean_intensity_g_per_kwh"]
        assert best <= r["immediate_mean_intensity_g_per_kwh"]
        assert [w["mean_intensity_g_per_kwh"] for w in r["windows"]] == sorted(
            w["mean_intensity_g_per_kwh"] for w in r["windows"]
        )
    assert (out / "demo.png").read_bytes()[:4] == b"\x89PNG"
    replay = {(r["zone"], r["policy"]): r for r in summary["replay"]}
    for zone in ("DE", "FR"):
        assert replay[(zone, "immediate")]["mean_delay_h"] == 0
        oracle = replay[(zone, "oracle")]["reduction_vs_immediate_pct"]
        for policy in ("static", "dynamic"):
            assert replay[(zone, policy)]["deadline_misses"] == 0
            assert replay[(zone, policy)]["reduction_vs_immediate_pct"] <= oracle + 1e-9


def test_demo_without_data_is_loudly_synthetic(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["demo", "--synthetic", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.count("SYNTHETIC DEMO GRID") >= 4  # banner, both tables, footer
    summary = json.loads((out / "demo.json").read_text())
    assert summary["synthetic"] is True and "SYNTHETIC" in summary["warning"]
    assert all(r["zone"].startswith("SYNTH-") for r in summary["results"])


def test_synthetic_grid_is_deterministic() -> None:
    from carbonshift.signals.synthetic import synthetic_grid

    a, b = synthetic_grid(seed=3), synthetic_grid(seed=3)
    assert all((x.values == y.values).all() for x, y in zip(a, b, strict=True))
    assert any((x.values != y.values).any() for x, y in zip(a, synthetic_grid(seed=4), strict=True))


def test_find_data_dir_prefers_env_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARBONSHIFT_DATA", str(tmp_path))
    assert find_data_dir(None) == tmp_path
    monkeypatch.setenv("CARBONSHIFT_DATA", str(tmp_path / "missing"))
    with pytest.raises(Exception, match="CARBONSHIFT_DATA"):
        find_data_dir(None)


def test_find_data_dir_none_when_nothing_reachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CARBONSHIFT_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert find_data_dir(None, search=[tmp_path / "nothing"]) is None
