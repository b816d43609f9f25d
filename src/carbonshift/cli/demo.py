"""``carbonshift demo``: the main job on embedded defaults.

Imports the real traces (``--data``, ``$CARBONSHIFT_DATA`` or ``../shared/data``), then, for a
few zones, prints the cleanest upcoming windows for 1-hour and 4-hour jobs against running now,
and writes a plot. Without real data it runs on the synthetic demo grid and says so everywhere.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

from carbonshift.cli.common import console, guarded, store_dir
from carbonshift.errors import UsageError
from carbonshift.plotting import Highlight, plot_series
from carbonshift.signals.importer import import_paths
from carbonshift.signals.series import IntensitySeries
from carbonshift.signals.store import SignalStore
from carbonshift.signals.synthetic import SYNTHETIC_BANNER, synthetic_grid
from carbonshift.signals.windows import cleanest_windows
from carbonshift.timeutil import format_duration, format_time, from_epoch_s, parse_duration

__all__ = ["find_data_dir", "register"]

PREFERRED_ZONES = ("DE", "FR", "GB", "ES", "US-CAL-CISO", "SE-SE3", "PL", "AU-NSW")


def find_data_dir(option: Path | None, *, search: list[Path] | None = None) -> Path | None:
    """``--data``, else ``$CARBONSHIFT_DATA``, else ``../shared/data`` beside the working folder
    or beside this checkout; ``None`` when there is no real data."""
    if option is not None:
        if not option.is_dir():
            raise UsageError(
                f"--data: {option} is not a folder", hint="point it at a folder of zone traces"
            )
        return option
    env = os.environ.get("CARBONSHIFT_DATA")
    if env:
        if not Path(env).is_dir():
            raise UsageError(
                f"CARBONSHIFT_DATA={env} is not a folder", hint="fix or unset the variable"
            )
        return Path(env)
    here = Path(__file__).resolve()
    if search is None:
        search = [Path.cwd() / ".." / "shared" / "data", here.parents[3] / ".." / "shared" / "data"]
    for candidate in search:
        if candidate.is_dir() and any(candidate.glob("*.csv*")):
            return candidate.resolve()
    return None


def _compare(
    series: list[IntensitySeries], now_s: int, banner: str | None
) -> tuple[Table, list[dict[str, Any]]]:
    """The product's question on the demo zones: 1 h jobs arriving every hour over the four
    weeks before the decision time, 24 h slack, every policy, evaluated on actuals."""
    from carbonshift.simulate import CompareSpec, StaticSpec, regular_workload, run_comparison

    slack_s, duration_s = 24 * 3600, 3600
    to_s = now_s - slack_s - duration_s
    from_s = to_s - 28 * 86400
    spec = CompareSpec(
        zones=tuple(s.zone for s in series),
        from_s=from_s,
        to_s=to_s,
        forecast="climatology",
        static=StaticSpec(mode="rolling"),
    )
    workload = regular_workload(from_s, to_s, 3600, duration_s, slack_s)
    result = run_comparison(spec, {s.zone: s for s in series}, workload)
    table = Table(
        title=(f"[red]{banner}[/]\n" if banner else "")
        + f"Replay: 1 h jobs every hour, 24 h slack, {format_time(from_epoch_s(from_s))} .. "
        f"{format_time(from_epoch_s(to_s))}; reduction vs immediate, on actuals"
    )
    for col in (
        "zone",
        "immediate g/kWh",
        "static",
        "dynamic",
        "oracle",
        "dynamic of oracle",
        "dynamic mean delay",
    ):
        table.add_column(col, justify="left" if col == "zone" else "right")
    by = {(r.zone, r.policy): r for r in result.rows}
    rows: list[dict[str, Any]] = []
    for s in series:
        imm, st, dy, orc = (by[(s.zone, p)] for p in ("immediate", "static", "dynamic", "oracle"))
        table.add_row(
            s.zone,
            f"{imm.mean_intensity_g_per_kwh or 0:.0f}",
            f"{st.reduction_vs_immediate_pct or 0:.1f}%",
            f"{dy.reduction_vs_immediate_pct or 0:.1f}%",
            f"{orc.reduction_vs_immediate_pct or 0:.1f}%",
            f"{dy.capture_of_oracle_pct or 0:.0f}%",
            f"{dy.mean_delay_h or 0:.1f} h",
        )
        rows.extend(r.to_dict() for r in (imm, st, dy, orc))
    return table, rows


def _hours(seconds: int) -> str:
    return format_duration(timedelta(seconds=seconds))


def decision_time_s(series: list[IntensitySeries], horizon_s: int) -> int:
    """One shared "now" for every zone: the latest whole hour that leaves a full horizon of
    starts plus one horizon for the job to run inside every series."""
    now_s = min(s.end_s for s in series) - 2 * horizon_s
    now_s -= now_s % 3600
    if now_s < max(s.start_s for s in series):
        raise UsageError(
            "--zones: the zones share less than two horizons of data",
            hint="pick zones whose data overlap",
        )
    return now_s


def _analyse(
    series: list[IntensitySeries], durations_s: list[int], horizon_s: int, now_s: int
) -> tuple[list[dict[str, Any]], list[Highlight]]:
    rows: list[dict[str, Any]] = []
    marks: list[Highlight] = []
    for s in series:
        for d in durations_s:
            latest = now_s + horizon_s - d
            ranked = cleanest_windows(
                s, earliest_start_s=now_s, latest_start_s=latest, duration_s=d, top=3
            )
            immediate = s.window_mean(now_s, now_s + d)
            best = ranked[0]
            saving = (
                100.0 * (immediate - best.mean_intensity_g_per_kwh) / immediate
                if immediate > 0
                else 0.0
            )
            rows.append(
                {
                    "zone": s.zone,
                    "labels": s.labels.to_dict(),
                    "duration": _hours(d),
                    "now": format_time(from_epoch_s(now_s)),
                    "immediate_mean_intensity_g_per_kwh": round(immediate, 2),
                    "windows": [
                        {
                            "start": format_time(from_epoch_s(w.start_s)),
                            "end": format_time(from_epoch_s(w.end_s)),
                            "mean_intensity_g_per_kwh": round(w.mean_intensity_g_per_kwh, 2),
                        }
                        for w in ranked
                    ],
                    "savings_vs_now_pct": round(saving, 1),
                }
            )
            marks.append(Highlight(s.zone, best.start_s, best.end_s, f"cleanest {_hours(d)}"))
    return rows, marks


@guarded
def demo(
    data: Annotated[
        Path | None,
        typer.Option(help="Folder of zone traces [default: $CARBONSHIFT_DATA or ../shared/data]."),
    ] = None,
    store: Annotated[Path | None, typer.Option(help="Signal store folder.")] = None,
    zones: Annotated[
        str | None,
        typer.Option(help="Comma-separated zones [default: a few well-known ones present]."),
    ] = None,
    durations: Annotated[str, typer.Option(help="Job lengths, comma-separated.")] = "1h,4h",
    horizon: Annotated[str, typer.Option(help="How far ahead a job may start.")] = "24h",
    out: Annotated[Path, typer.Option(help="Folder for the plot and the JSON summary.")] = Path(
        "out"
    ),
    synthetic: Annotated[
        bool,
        typer.Option("--synthetic", help="Use the synthetic demo grid even if real data exists."),
    ] = False,
) -> None:
    """Import the traces, show the cleanest upcoming windows for a few zones, write a plot."""
    durations_s = [
        int(parse_duration(d, field="--durations").total_seconds())
        for d in durations.split(",")
        if d.strip()
    ]
    horizon_s = int(parse_duration(horizon, field="--horizon").total_seconds())
    if not durations_s or min(durations_s) <= 0 or max(durations_s) > horizon_s:
        raise UsageError(
            "--durations must be positive and no longer than --horizon",
            hint="e.g. --durations 1h,4h --horizon 24h",
        )
    data_dir = None if synthetic else find_data_dir(data)
    banner = None
    if data_dir is None:
        banner = SYNTHETIC_BANNER
        console.print(Panel(f"[bold red]{SYNTHETIC_BANNER}[/]", border_style="red"))
        series = synthetic_grid(days=70)
        if zones:
            wanted = [z.strip() for z in zones.split(",")]
            series = [s for s in series if s.zone in wanted] or series
        source = "synthetic demo grid (carbonshift.signals.synthetic)"
    else:
        st = SignalStore(store_dir(store))
        with console.status(f"importing traces from {data_dir} into {st.root}"):
            report = import_paths(st, [data_dir])
        console.print(
            f"store {st.root}: {report.files} file(s) imported, {len(report.unchanged)} unchanged (cached)"
        )
        stored = sorted(
            {i.zone for i in st.catalog() if i.dataset == "default" and i.variant == "actual"}
        )
        wanted = (
            [z.strip() for z in zones.split(",")]
            if zones
            else [z for z in PREFERRED_ZONES if z in stored][:5]
        )
        if not wanted:
            wanted = stored[:5]
        series = [st.load(z, dataset="default") for z in wanted]
        source = str(data_dir)
    now_s = decision_time_s(series, horizon_s)
    rows, marks = _analyse(series, durations_s, horizon_s, now_s)
    title_note = "SYNTHETIC" if banner else "real recorded grid data"
    table = Table(
        title=(f"[red]{SYNTHETIC_BANNER}[/]\n" if banner else "")
        + f"Cleanest windows in the {_hours(horizon_s)} after {format_time(from_epoch_s(now_s))} vs. "
        f"starting then ({title_note}; perfect foresight on recorded values)"
    )
    for col in (
        "zone",
        "job",
        "start now: g/kWh",
        "cleanest start (UTC)",
        "g/kWh",
        "saving",
        "runners-up",
    ):
        table.add_column(col, justify="right" if "kWh" in col or col == "saving" else "left")
    for r in rows:
        w = r["windows"]
        others = ", ".join(
            f"{x['start'][5:16].replace('T', ' ')} ({x['mean_intensity_g_per_kwh']:.0f})"
            for x in w[1:]
        )
        table.add_row(
            r["zone"],
            r["duration"],
            f"{r['immediate_mean_intensity_g_per_kwh']:.0f}",
            w[0]["start"][5:16].replace("T", " "),
            f"{w[0]['mean_intensity_g_per_kwh']:.0f}",
            f"{r['savings_vs_now_pct']:.1f}%",
            others,
        )
    console.print(table)
    meanings = sorted({s.labels.describe().split(": ", 1)[1] for s in series})
    console.print(
        "signal: " + "; ".join(meanings) + f" (zones {', '.join(s.zone for s in series)})"
    )
    console.print(
        "baseline: running now (immediate start); windows may start up to "
        f"{_hours(horizon_s)} ahead."
    )
    with console.status("replaying a month of jobs through every policy"):
        compare_table, compare_rows = _compare(series, now_s, banner)
    console.print(compare_table)
    console.print(
        "static: daily slot learned on the 28 days before each day; dynamic: climatology "
        "forecast from data before each decision, re-planned hourly; oracle: perfect foresight "
        "(upper bound). Full study: `make results`; your own jobs: `carbonshift compare`."
    )
    out.mkdir(parents=True, exist_ok=True)
    plot_series_list = []
    for s in series:
        plot_series_list.append(s.slice(now_s, now_s + 2 * horizon_s))
    png = plot_series(
        plot_series_list,
        out / "demo.png",
        title="Next 48 h of grid carbon intensity; shaded: cleanest job windows",
        banner=banner,
        highlights=marks,
        markers=[(now_s, "decision time"), (now_s + horizon_s, "end of start horizon")],
    )
    summary = {
        "synthetic": banner is not None,
        "warning": banner,
        "data": source,
        "decision_time": format_time(from_epoch_s(now_s)),
        "baseline": "start at the decision time (immediate)",
        "results": rows,
        "replay": compare_rows,
    }
    (out / "demo.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    console.print(f"plot: {png}   summary: {out / 'demo.json'}")
    if banner:
        console.print(f"[bold red]{SYNTHETIC_BANNER}[/]")
    best_zone = min(
        (r for r in rows if r["duration"] == rows[0]["duration"]),
        key=lambda r: r["windows"][0]["mean_intensity_g_per_kwh"],
    )
    console.print(
        f"cleanest zone for a {best_zone['duration']} job: {best_zone['zone']} at {best_zone['windows'][0]['start']} "
        f"({best_zone['windows'][0]['mean_intensity_g_per_kwh']:.0f} gCO2eq/kWh)"
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
