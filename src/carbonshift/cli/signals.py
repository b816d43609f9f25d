"""``carbonshift signals``: import, list, show and fetch grid-intensity series."""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from carbonshift.cli.common import console, echo_json, err_console, guarded, store_dir
from carbonshift.errors import UsageError
from carbonshift.signals.gaps import FILL_METHODS, fill_gaps, find_gaps
from carbonshift.signals.importer import import_paths
from carbonshift.signals.store import SignalStore
from carbonshift.timeutil import (
    format_duration,
    format_time,
    from_epoch_s,
    parse_duration,
    parse_time,
)

__all__ = ["register"]

signals_app = typer.Typer(
    help="Import, list, show and fetch grid carbon-intensity series.", no_args_is_help=True
)

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Signal store folder [default: $CARBONSHIFT_STORE or ~/.local/share/carbonshift/signals]",
    ),
]


class Fmt(str, Enum):
    text = "text"
    json = "json"
    csv = "csv"


class ListFmt(str, Enum):
    text = "text"
    json = "json"


def _label_overrides(
    signal: str | None, accounting: str | None, basis: str | None, provider: str | None
) -> dict[str, Any] | None:
    out = {
        k: v
        for k, v in {
            "signal": signal,
            "accounting": accounting,
            "basis": basis,
            "provider": provider,
        }.items()
        if v
    }
    return out or None


@signals_app.command("import")
@guarded
def import_cmd(
    paths: Annotated[
        list[Path], typer.Argument(help="Trace files or folders (CSV, CSV.gz, Parquet).")
    ],
    store: StoreOpt = None,
    dataset: Annotated[
        str | None,
        typer.Option(help="Store under this dataset name [default: folder profile or 'default']."),
    ] = None,
    zone: Annotated[
        str | None, typer.Option(help="Zone name for a single file [default: the file name].")
    ] = None,
    signal: Annotated[str | None, typer.Option(help="Label: average or marginal.")] = None,
    accounting: Annotated[str | None, typer.Option(help="Label: lifecycle or direct.")] = None,
    basis: Annotated[str | None, typer.Option(help="Label: consumption or production.")] = None,
    provider: Annotated[str | None, typer.Option(help="Label: where the data came from.")] = None,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", help="Import the good files even if some are bad.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Re-parse files even if unchanged since the last import."),
    ] = False,
    fmt: Annotated[ListFmt, typer.Option("--format")] = ListFmt.text,
) -> None:
    """Import trace files into the local store (all-or-nothing unless --keep-going)."""
    st = SignalStore(store_dir(store))
    overrides = _label_overrides(signal, accounting, basis, provider)
    with Progress(
        TextColumn("[bold]importing"),
        BarColumn(),
        TextColumn("{task.description}"),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task("", total=None)
        report = import_paths(
            st,
            paths,
            dataset=dataset,
            zone=zone,
            labels=overrides,
            keep_going=keep_going,
            force=force,
            progress=lambda name: bar.update(task, description=name, advance=1),
        )
    if fmt is ListFmt.json:
        echo_json(
            {
                "store": str(st.root),
                "files_imported": report.files,
                "files_unchanged": len(report.unchanged),
                "series": [{"dataset": d, "zone": z, "variant": v} for d, z, v in report.imported],
                "skipped": [str(p) for p in report.skipped],
                "failed": [{"file": str(p), "error": e} for p, e in report.failed],
                "labels_assumed": [str(p) for p in report.labels_assumed],
            }
        )
    else:
        console.print(
            f"imported {report.files} file(s), {len(report.imported)} series into {st.root}; "
            f"{len(report.unchanged)} unchanged since the last import (not re-read)"
        )
        if report.skipped:
            console.print(
                f"skipped {len(report.skipped)} non-trace file(s): "
                + ", ".join(p.name for p in report.skipped[:6])
            )
        if report.labels_assumed:
            console.print(
                f"note: {len(report.labels_assumed)} file(s) carry no labels; stored as average, lifecycle, "
                "consumption-based (override with --signal/--accounting/--basis)"
            )
        for path, err in report.failed:
            err_console.print(f"[red]failed:[/] {path}: {err}")
    if report.failed:
        raise typer.Exit(3)


@signals_app.command("list")
@guarded
def list_cmd(
    store: StoreOpt = None,
    zone: Annotated[str | None, typer.Option(help="Only this zone.")] = None,
    fmt: Annotated[ListFmt, typer.Option("--format")] = ListFmt.text,
) -> None:
    """List the stored series with their labels, period, resolution and gaps."""
    st = SignalStore(store_dir(store))
    infos = [i for i in st.catalog() if zone is None or i.zone == zone]
    if fmt is ListFmt.json:
        echo_json([i.to_dict() for i in infos])
        return
    if not infos:
        console.print(f"the store {st.root} is empty: run `carbonshift signals import PATH`")
        return
    table = Table(title=f"{len(infos)} series in {st.root}")
    for col in ("dataset", "zone", "variant", "signal", "from", "to", "step", "rows", "missing"):
        table.add_column(col, justify="right" if col in ("rows", "missing") else "left")
    for i in infos:
        lab = i.labels
        sig = f"{lab.signal}/{lab.accounting}/{lab.basis}" + (
            " forecast" if lab.kind == "forecast" else ""
        )
        table.add_row(
            i.dataset,
            i.zone,
            i.variant,
            sig,
            format_time(from_epoch_s(i.start_s)),
            format_time(from_epoch_s(i.end_s)),
            format_duration(timedelta(seconds=i.resolution_s)),
            str(i.rows),
            str(i.missing),
        )
    console.print(table)


@signals_app.command("show")
@guarded
def show_cmd(
    zone: Annotated[str, typer.Option(help="Zone to show.")],
    store: StoreOpt = None,
    dataset: Annotated[
        str | None, typer.Option(help="Dataset, when the zone is stored in several.")
    ] = None,
    variant: Annotated[str, typer.Option(help="actual, direct, marginal, forecast...")] = "actual",
    from_: Annotated[
        str | None, typer.Option("--from", help="Start (ISO 8601 UTC) [default: start of data].")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="End, exclusive [default: end of data].")
    ] = None,
    resolution: Annotated[
        str | None, typer.Option(help="Resample to this step (mean-preserving), e.g. 1h.")
    ] = None,
    fill: Annotated[
        str | None, typer.Option(help=f"Fill gaps by a named method: {', '.join(FILL_METHODS)}.")
    ] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also write a PNG plot here.")] = None,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.text,
) -> None:
    """Show a stored series over a period, as text, JSON or CSV, optionally plotted."""
    st = SignalStore(store_dir(store))
    series = st.load(zone, dataset=dataset, variant=variant)
    start = parse_time(from_, field="--from") if from_ else series.start
    end = parse_time(to, field="--to") if to else series.end
    if end <= start:
        raise UsageError(
            "--to must come after --from", hint="e.g. --from 2022-01-01 --to 2022-01-08"
        )
    series = series.slice(start, end)
    if resolution:
        series = series.resample(
            int(parse_duration(resolution, field="--resolution").total_seconds())
        )
    if fill:
        if fill not in FILL_METHODS:
            raise UsageError(
                f"--fill: unknown method {fill!r}", hint=f"use one of {', '.join(FILL_METHODS)}"
            )
        series = fill_gaps(series, fill)  # type: ignore[arg-type]
    gaps = find_gaps(series)
    if plot is not None:
        from carbonshift.plotting import plot_series

        plot_series(
            [series],
            plot,
            title=f"{series.zone} {format_time(series.start)} .. {format_time(series.end)}",
        )
    times = [format_time(from_epoch_s(t)) for t in series.times_s]
    values = [None if np.isnan(v) else round(float(v), 4) for v in series.values]
    if fmt is Fmt.json:
        echo_json(
            {
                "zone": series.zone,
                "labels": series.labels.to_dict(),
                "start": format_time(series.start),
                "end": format_time(series.end),
                "resolution_s": series.resolution_s,
                "mean_intensity_g_per_kwh": None
                if np.isnan(series.mean())
                else round(series.mean(), 4),
                "gaps": [{"start": format_time(g.start), "end": format_time(g.end)} for g in gaps],
                "values": [
                    {"timestamp": t, "carbon_intensity": v}
                    for t, v in zip(times, values, strict=True)
                ],
            }
        )
        return
    if fmt is Fmt.csv:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["timestamp", "carbon_intensity", "filled"])
        filled = series.filled if series.filled is not None else np.zeros(len(series), dtype=bool)
        for t, v, f in zip(times, values, filled, strict=True):
            writer.writerow([t, "" if v is None else v, int(f)])
        sys.stdout.write(buf.getvalue())
        return
    known = series.values[~np.isnan(series.values)]
    console.print(f"[bold]{series.labels.describe()}[/]")
    console.print(
        f"{format_time(series.start)} .. {format_time(series.end)}, step {format_duration(series.resolution)}, "
        f"{len(series)} steps, {len(gaps)} gap(s)"
    )
    if known.size:
        console.print(
            f"mean {known.mean():.1f}, min {known.min():.1f}, max {known.max():.1f} {series.labels.unit}"
        )
    for g in gaps[:10]:
        console.print(f"  gap {g} ({format_duration(timedelta(seconds=g.duration_s))})")
    rows = list(zip(times, values, strict=True))
    shown = rows if len(rows) <= 48 else [*rows[:24], ("...", None), *rows[-24:]]
    table = Table(show_header=True)
    table.add_column("timestamp (UTC, interval start)")
    table.add_column(f"carbon_intensity ({series.labels.unit})", justify="right")
    for t, v in shown:
        table.add_row(t, "" if t == "..." else ("missing" if v is None else f"{v:.2f}"))
    console.print(table)
    if len(rows) > 48:
        console.print(f"({len(rows)} rows; use --format csv or json for all)")
    if plot is not None:
        console.print(f"plot written to {plot}")


@signals_app.command("fetch")
@guarded
def fetch_cmd(
    provider: Annotated[str, typer.Option(help="uk, electricitymaps, watttime or entsoe.")],
    zone: Annotated[str, typer.Option(help="Zone or region as the provider names it.")],
    from_: Annotated[str | None, typer.Option("--from", help="Start (ISO 8601 UTC).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="End, exclusive (ISO 8601 UTC).")] = None,
    forecast: Annotated[
        bool,
        typer.Option(
            "--forecast", help="Fetch the provider's current forecast instead of history."
        ),
    ] = False,
    store: StoreOpt = None,
    dataset: Annotated[
        str | None, typer.Option(help="Store under this dataset [default: the provider name].")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Provider API base URL (self-hosted mirrors, tests).")
    ] = None,
) -> None:
    """Fetch a series from a provider API and store it (responses are cached)."""
    from carbonshift.signals.providers import make_provider, provider_class

    cls = provider_class(provider)
    name = cls.capabilities.name
    if not forecast and (from_ is None or to is None):
        raise UsageError("--from and --to are required for history", hint="or pass --forecast")
    root = store_dir(store)
    st = SignalStore(root)
    with make_provider(provider, cache_dir=root / ".http-cache", base_url=base_url) as prov:
        if forecast:
            series = prov.forecast(zone, now=datetime.now(UTC))
            variant = "forecast"
        else:
            assert from_ is not None and to is not None
            start, end = parse_time(from_, field="--from"), parse_time(to, field="--to")
            if end <= start:
                raise UsageError(
                    "--to must come after --from", hint="e.g. --from 2024-03-01 --to 2024-03-02"
                )
            series = prov.history(zone, start, end)
            variant = "actual"
    with st.lock():
        st.put(
            series,
            dataset=dataset or name,
            variant=variant,
            source=f"{name} API",
            merge=not forecast,
        )
    console.print(
        f"stored {len(series)} steps of {series.labels.describe()} "
        f"({format_time(series.start)} .. {format_time(series.end)}) as {dataset or name}/{series.zone}/{variant}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(signals_app, name="signals")
