"""The policy comparison over 2022 for every top-level zone of the shared data.

Run: ``.venv/bin/python benchmarks/results.py [--data ../shared/data] [--out results]``

Workload per zone and job length (1 h, 4 h, 24 h): one job every hour, 24 h slack, arriving
in ``[2022-01-01, 2023-01-01 − 24 h − length)`` so that every window lies in 2022 data for
every zone (the 2022-only zones end there). Policies: immediate (baseline), static (slot
re-learned each UTC day on the 28 days before it: most zones have no data before 2022),
dynamic (``climatology`` forecast by default, re-planned every hour until the start), oracle (perfect
foresight). Every figure is on Electricity Maps' lifecycle, consumption-based average
intensity (actuals).

Writes ``results.md``, ``results.csv`` and ``report.html`` into ``--out``; prints the mean
reduction across zones per policy and length, the runtime with jobs/second per policy and the
share of time spent forecasting. ``--paper`` adds the Sukprasert et al. (EuroSys'24)
reproduction: perfect foresight, 24 h slack, 1/6/12/24 h jobs, reductions summed over
arrivals and zones.
"""

from __future__ import annotations

import argparse
import csv
import html
import sys
import time
from pathlib import Path

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from carbonshift.signals.files import list_zone_files
from carbonshift.signals.series import IntensitySeries
from carbonshift.simulate.comparison import (
    POLICIES,
    CompareSpec,
    Comparison,
    load_zones,
    run_comparison,
)
from carbonshift.simulate.html import figures
from carbonshift.simulate.policies import StaticSpec
from carbonshift.simulate.render import caption
from carbonshift.simulate.workload import regular_workload
from carbonshift.timeutil import parse_time, to_epoch_s

H = 3600
START = to_epoch_s(parse_time("2022-01-01T00:00Z"))
END = to_epoch_s(parse_time("2023-01-01T00:00Z"))
LENGTHS_H = (1, 4, 24)
SLACK_H = 24
PAPER = {1: 15.6, 6: 12.6, 12: 8.5, 24: 3.6}


def _zones(data: Path) -> dict[str, IntensitySeries]:
    names = sorted(z for z, p in list_zone_files(data).items() if p.name.endswith(".csv.gz"))
    names = [z for z in names if z not in ("index", "summary_stats")]
    series = load_zones(data, names)
    return {z: s for z, s in series.items() if s.start_s <= START and s.end_s >= END}


def _run(
    series: dict[str, IntensitySeries], length_h: int, bar: Progress, forecast: str
) -> Comparison:
    to = END - (SLACK_H + length_h) * H
    w = regular_workload(START, to, H, length_h * H, SLACK_H * H)
    spec = CompareSpec(
        zones=tuple(series),
        from_s=START,
        to_s=to,
        policies=POLICIES,
        forecast=forecast,
        replan_s=H,
        static=StaticSpec(mode="rolling"),
    )
    task = bar.add_task(f"{length_h:>2} h jobs", total=len(w) * len(series) * len(POLICIES))
    return run_comparison(spec, series, w, progress=lambda n: bar.advance(task, n))


def _table(runs: dict[int, Comparison]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for length, c in runs.items():
        by = {(r.zone, r.policy): r for r in c.rows}
        for zone in c.spec.zones:
            row: dict[str, object] = {
                "zone": zone,
                "job_h": length,
                "jobs": by[(zone, "immediate")].jobs,
            }
            for p in POLICIES:
                row[f"{p}_reduction_pct"] = by[(zone, p)].reduction_vs_immediate_pct
            row["dynamic_of_oracle_pct"] = by[(zone, "dynamic")].capture_of_oracle_pct
            row["static_of_oracle_pct"] = by[(zone, "static")].capture_of_oracle_pct
            for p in ("static", "dynamic", "oracle"):
                row[f"{p}_mean_delay_h"] = by[(zone, p)].mean_delay_h
            out.append(row)
    return out


def _mean(values: list[object]) -> float:
    xs = [float(v) for v in values if isinstance(v, (int, float))]
    return float(np.mean(xs)) if xs else float("nan")


def _summary(table: list[dict[str, object]]) -> list[str]:
    lines = ["| job length | " + " | ".join(POLICIES) + " | dynamic of oracle | zones |"]
    lines.append("|---" * (len(POLICIES) + 3) + "|")
    for length in LENGTHS_H:
        rows = [r for r in table if r["job_h"] == length]
        cells = [f"{_mean([r[f'{p}_reduction_pct'] for r in rows]):.2f} %" for p in POLICIES]
        cap = _mean([r["dynamic_of_oracle_pct"] for r in rows])
        lines.append(f"| {length} h | " + " | ".join(cells) + f" | {cap:.1f} % | {len(rows)} |")
    return lines


def _paper(series: dict[str, IntensitySeries]) -> list[str]:
    lines = ["| job length | ours | Sukprasert et al. |", "|---|---|---|"]
    for length, theirs in PAPER.items():
        to = END - (SLACK_H + length) * H
        w = regular_workload(START, to, H, length * H, SLACK_H * H)
        spec = CompareSpec(tuple(series), START, to, policies=("immediate", "oracle"))
        c = run_comparison(spec, series, w)
        base = sum(
            float(d.emissions_g.sum()) for (z, p), d in c.decisions.items() if p == "immediate"
        )
        best = sum(float(d.emissions_g.sum()) for (z, p), d in c.decisions.items() if p == "oracle")
        lines.append(f"| {length} h | {100 * (1 - best / base):.1f} % | {theirs} % |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parents[1]
    parser.add_argument("--data", type=Path, default=here.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=here / "results")
    parser.add_argument("--paper", action="store_true", help="add the EuroSys'24 reproduction")
    parser.add_argument(
        "--forecast",
        default="climatology",
        help="forecaster of the dynamic policy (see carbonshift forecast)",
    )
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    series = _zones(args.data)
    load_s = time.perf_counter() - t0
    runs: dict[int, Comparison] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        for length in LENGTHS_H:
            runs[length] = _run(series, length, bar, args.forecast)
    table = _table(runs)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "results.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    head = list(table[0])
    md = [f"_{caption(runs[LENGTHS_H[0]])}_", "", "## Mean across zones", "", *_summary(table)]
    md += ["", "## Per zone", "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    md += [
        "| " + " | ".join("-" if r[k] is None else str(r[k]) for k in head) + " |" for r in table
    ]
    total_s = time.perf_counter() - t0
    jobs = {length: c.jobs for length, c in runs.items()}
    per_policy = {p: sum(c.seconds[p] for c in runs.values()) for p in POLICIES}
    forecast_s = sum(c.forecast_seconds for c in runs.values())
    perf = [
        f"zones: {len(series)}; jobs per policy: {sum(jobs.values())} "
        f"({', '.join(f'{k} h: {v}' for k, v in jobs.items())}); loading {load_s:.1f} s; "
        f"total {total_s:.1f} s",
        *[f"{p}: {s:.1f} s, {sum(jobs.values()) / s:,.0f} jobs/s" for p, s in per_policy.items()],
        f"forecasting: {forecast_s:.1f} s ({100 * forecast_s / total_s:.1f} % of the total, "
        f"{100 * forecast_s / per_policy['dynamic']:.1f} % of dynamic)",
    ]
    md += ["", "## Runtime", "", *[f"- {line}" for line in perf]]
    if args.paper:
        md += ["", "## Sukprasert et al. (EuroSys'24), perfect foresight, 24 h slack", ""]
        md += _paper(series)
    (args.out / "results.md").write_text("\n".join(md) + "\n")
    body = [f"<h1>carbonshift compare: 2022, every zone</h1><p>{html.escape(caption(runs[1]))}</p>"]
    body.append("<pre>" + html.escape("\n".join(_summary(table))) + "</pre>")
    for length, c in runs.items():
        body.append(f"<h2>{length} h jobs</h2>")
        for title, png in figures(c).items():
            body.append(f"<h3>{html.escape(title)}</h3><img src='data:image/png;base64,{png}'/>")
    (args.out / "report.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>carbonshift results</title>"
        "</head><body>" + "".join(body) + "</body></html>\n"
    )
    print("\n".join(_summary(table)))
    print("\n".join(perf))
    if args.paper:
        print(
            "\n".join(
                md[md.index("## Sukprasert et al. (EuroSys'24), perfect foresight, 24 h slack") :]
            )
        )
    print(f"wrote {args.out}/results.md, results.csv, report.html", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
