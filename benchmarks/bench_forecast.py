"""Forecast benchmark: day-ahead accuracy and ranking quality on real traces (not a timed test).

1. Electricity Maps zones with several years of data: backtest over 2022 (2021 is history), a
   decision every 6 h; day-ahead MAPE (every hourly step of the next 24 h) of each model and the
   ranking capture of a 1-hour job in the 24 h after each decision.
2. DACF zones (``dacf/``, production-based direct intensity): the same models side by side with
   DACF's published day-ahead forecast (``provider``, each value issued 24 h before its hour),
   over the same hours, 2021-07-01..2021-12-31 (DE from 2021-08-01: its trace starts in July).
3. WattTime MOER, CAISO_NORTH, 5-minute steps (2023-06-15..2023-07-08): WattTime's own 60-min
   ahead forecast against the simple models at 5 min .. 1 h ahead.
4. Runtime: the non-learned models over every zone-year, and the learned one per zone.

Run: ``.venv/bin/python benchmarks/bench_forecast.py [--quick] [--json FILE] [--workers N]``.
``--quick`` backtests four zones and two DACF zones only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from carbonshift.forecast import (
    BacktestResult,
    Forecaster,
    GradientBoostingForecaster,
    backtest,
    make_forecaster,
)
from carbonshift.signals.files import read_trace
from carbonshift.timeutil import parse_time, to_epoch_s

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CARBONSHIFT_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"

EM_ZONES = [
    "AU-NSW", "AU-VIC", "BR-CS", "CA-ON", "CL-SEN", "DE", "GB", "IN-WE", "JP-TK", "KR",
    "SG", "US-CAL-CISO", "US-MIDA-PJM", "US-NY-NYIS", "US-TEX-ERCO", "ZA", "BR", "ES", "NO",
]  # fmt: skip
DACF_ZONES = ["US-CAL-CISO", "US-TEX-ERCO", "US-NE-ISNE", "US-MIDA-PJM", "SE", "DE"]
BASELINES = ["persistence", "seasonal_24h", "seasonal_168h", "climatology"]
MODELS = [*BASELINES, "gbm"]
H = 3600
HORIZONS = (H, 6 * H, 24 * H, 48 * H)


def t(text: str) -> int:
    return to_epoch_s(parse_time(text))


def _models(names: Sequence[str], path: Path | None = None) -> dict[str, Forecaster]:
    out: dict[str, Forecaster] = {}
    for name in names:
        if name == "provider":
            assert path is not None
            out[name] = make_forecaster(
                "provider", provider_column=read_trace(path, variant="forecast")
            )
        else:
            out[name] = make_forecaster(name)
    return out


def run_zone(job: tuple[str, str, list[str], str, str]) -> tuple[str, dict[str, Any], float]:
    """Backtest one zone (a worker process); returns the result's JSON and the wall time."""
    path_text, zone, names, start, end = job
    path = Path(path_text)
    actual = read_trace(path, zone=zone)
    t0 = time.perf_counter()
    result = backtest(
        [(actual, _models(names, path))],
        start_s=t(start),
        end_s=t(end),
        every_s=6 * H,
        horizons_s=HORIZONS,
    )
    return zone, result.to_dict(), time.perf_counter() - t0


def _table(
    title: str,
    results: dict[str, dict[str, Any]],
    names: list[str],
    *,
    labels: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Print day-ahead MAPE and capture per zone; return the rows."""
    labels = labels or {}
    head = ["zone", *(labels.get(n, n) for n in names)]
    print(f"\n{title}")
    print("day-ahead MAPE % (every step of the next 24 h) | capture % of the oracle's saving")
    widths = [12] + [max(9, len(h) + 1) for h in head[1:]]
    line = "".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(head, widths, strict=True))
    )
    print(
        f"{line} | {''.join(h.rjust(w) for h, w in zip(head[1:], widths[1:], strict=True))}  oracle%  best"
    )
    rows: list[dict[str, Any]] = []
    wins = 0
    for zone, doc in results.items():
        mape = {e["model"]: e["mape_pct"] for e in doc["errors"] if e["horizon_s"] == 24 * H}
        capture = {r["model"]: r["capture_pct"] for r in doc["ranking"]}
        oracle = next(
            (
                r["oracle_reduction_pct"]
                for r in doc["ranking"]
                if r["oracle_reduction_pct"] is not None
            ),
            None,
        )
        scored = {n: v for n, v in mape.items() if v is not None and n != "provider"}
        best = min(scored, key=lambda n: scored[n]) if scored else "-"
        wins += int(best == "gbm")
        cells = [zone.ljust(widths[0])]
        cells += [_fmt(mape.get(n)).rjust(w) for n, w in zip(names, widths[1:], strict=True)]
        caps = [_fmt(capture.get(n)).rjust(w) for n, w in zip(names, widths[1:], strict=True)]
        print(f"{''.join(cells)} | {''.join(caps)}  {_fmt(oracle):>7}  {best}")
        rows.append(
            {
                "zone": zone,
                "mape_day_ahead_pct": mape,
                "capture_pct": capture,
                "oracle_reduction_pct": oracle,
                "best": best,
            }
        )
    gbm_beats = sum(
        1
        for r in rows
        if r["mape_day_ahead_pct"].get("gbm") is not None
        and r["mape_day_ahead_pct"]["gbm"]
        < min(r["mape_day_ahead_pct"]["seasonal_24h"], r["mape_day_ahead_pct"]["seasonal_168h"])
    )
    print(
        f"gbm beats both seasonal-naive models on day-ahead MAPE in {gbm_beats}/{len(rows)} zones; gbm is the best history-only model in {wins}/{len(rows)}"
    )
    return rows


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _parallel(
    jobs: list[tuple[str, str, list[str], str, str]], workers: int
) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    results: dict[str, dict[str, Any]] = {}
    times: dict[str, float] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for zone, doc, seconds in pool.map(run_zone, jobs):
            results[zone] = doc
            times[zone] = seconds
            print(f"  {zone}: {seconds:.1f} s", file=sys.stderr, flush=True)
    return results, times


def bench_runtime(zones: list[str]) -> float:
    """Wall time of the non-learned models over every zone's 2022, in one process."""
    cases = [(read_trace(DATA / f"{z}.csv.gz"), _models(BASELINES)) for z in zones]
    t0 = time.perf_counter()
    result: BacktestResult = backtest(
        cases, start_s=t("2022-01-01"), end_s=t("2023-01-01"), every_s=6 * H, horizons_s=HORIZONS
    )
    seconds = time.perf_counter() - t0
    assert len(result.ranking) == len(zones) * len(BASELINES)
    return seconds


def bench_watttime() -> dict[str, Any]:
    path = DATA / "watttime_moer" / "CAISO_NORTH.csv.gz"
    actual = read_trace(path)
    models: dict[str, Forecaster] = {
        "persistence": make_forecaster("persistence"),
        "seasonal_24h": make_forecaster("seasonal_24h"),
        "gbm": GradientBoostingForecaster(
            max_lead_s=H,
            train_window_s=21 * 86400,
            min_train_s=5 * 86400,
            calibration_s=3 * 86400,
            retrain_every_s=86400,
        ),
        "provider": make_forecaster(
            "provider", provider_column=read_trace(path, variant="forecast")
        ),
    }
    t0 = time.perf_counter()
    result = backtest(
        [(actual, models)],
        start_s=t("2023-06-15"),
        end_s=t("2023-07-08"),
        every_s=H,
        horizons_s=(300, 1800, H),
        job_duration_s=900,
        window_s=H,
    )
    seconds = time.perf_counter() - t0
    print(
        "\nWattTime MOER CAISO_NORTH (marginal, 5-min), 2023-06-15..2023-07-08, a decision every hour"
    )
    print(
        "MAPE % at 5 min | 30 min | 1 h ahead (all steps up to it); capture: a 15-min job within the next hour"
    )
    for name in models:
        errs = {
            e["horizon_s"]: e["mape_pct"] for e in result.to_dict()["errors"] if e["model"] == name
        }
        cap = next(r["capture_pct"] for r in result.to_dict()["ranking"] if r["model"] == name)
        label = "WattTime 60-min" if name == "provider" else name
        print(
            f"  {label:16} {_fmt(errs[300]):>6} {_fmt(errs[1800]):>6} {_fmt(errs[H]):>6}   capture {_fmt(cap)}"
        )
    print(f"  ({seconds:.1f} s)")
    return result.to_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="four zones and two DACF zones")
    parser.add_argument("--json", type=Path, help="also write every result here")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    em_zones = ["DE", "GB", "US-CAL-CISO", "ES"] if args.quick else EM_ZONES
    dacf_zones = ["US-CAL-CISO", "DE"] if args.quick else DACF_ZONES
    t_all = time.perf_counter()

    print(
        f"runtime: non-learned models ({', '.join(BASELINES)}), {len(em_zones)} zones x 2022, a decision every 6 h"
    )
    baseline_s = bench_runtime(em_zones)
    print(
        f"  {baseline_s:.2f} s for {len(em_zones)} zone-years ({baseline_s / len(em_zones) * 1000:.0f} ms per zone-year)"
    )

    print(
        f"\nbacktesting {len(em_zones)} Electricity Maps zones with gbm ({args.workers} workers)...",
        file=sys.stderr,
    )
    em_jobs = [(str(DATA / f"{z}.csv.gz"), z, MODELS, "2022-01-01", "2023-01-01") for z in em_zones]
    em, em_times = _parallel(em_jobs, args.workers)
    em_rows = _table(
        "Electricity Maps (lifecycle, consumption-based), 2022, a decision every 6 h", em, MODELS
    )

    print(f"\nbacktesting {len(dacf_zones)} DACF zones...", file=sys.stderr)
    names = [*MODELS, "provider"]
    dacf_jobs = [
        (
            str(DATA / "dacf" / f"{z}.csv.gz"),
            z,
            names,
            "2021-08-01" if z == "DE" else "2021-07-01",
            "2021-12-31",
        )
        for z in dacf_zones
    ]
    dacf, dacf_times = _parallel(dacf_jobs, args.workers)
    dacf_rows = _table(
        "DACF zones (direct, production-based), 2021-07-01..2021-12-31 (DE from 08-01), same hours for all",
        dacf,
        names,
        labels={"provider": "DACF"},
    )
    wins = sum(
        1
        for r in dacf_rows
        if (r["mape_day_ahead_pct"].get("gbm") or 1e9)
        < (r["mape_day_ahead_pct"].get("provider") or 0)
    )
    print(f"gbm beats DACF's published day-ahead forecast on MAPE in {wins}/{len(dacf_rows)} zones")

    wt = bench_watttime()

    learned = [*em_times.values(), *dacf_times.values()]
    print(
        f"\nruntime: gbm+baselines per zone backtest {min(learned):.1f}..{max(learned):.1f} s "
        f"(mean {sum(learned) / len(learned):.1f} s); whole benchmark {time.perf_counter() - t_all:.0f} s"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "electricitymaps_2022": em,
                    "dacf_2021h2": dacf,
                    "watttime_caiso_north": wt,
                    "summary": {"electricitymaps": em_rows, "dacf": dacf_rows},
                    "runtime_s": {
                        "baselines_all_zones": baseline_s,
                        "per_zone": {**em_times, **{f"dacf/{k}": v for k, v in dacf_times.items()}},
                    },
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
