"""``carbonshift forecast``: forecast a zone's intensity at a decision time, and backtest
forecasters on history.

``carbonshift forecast --zone Z [--data DIR | --store DIR] [--dataset D] [--now T]
[--horizon 48h] [--model M] [--format text|json]`` prints one forecast (labels, issue time,
values and intervals where the model has them). ``carbonshift forecast backtest ...`` scores
models over a period (see :mod:`carbonshift.forecast.backtest` for the metrics).
"""

from __future__ import annotations

from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from carbonshift.cli.common import console, echo_json, err_console, guarded, store_dir
from carbonshift.errors import DataError, UsageError
from carbonshift.forecast import (
    BacktestResult,
    Forecaster,
    backtest,
    make_forecaster,
    parse_model_names,
)
from carbonshift.signals.files import read_zone
from carbonshift.signals.series import IntensitySeries
from carbonshift.signals.store import SignalStore
from carbonshift.timeutil import (
    format_duration,
    format_time,
    from_epoch_s,
    parse_duration,
    parse_time,
    to_epoch_s,
)

__all__ = ["register"]

forecast_app = typer.Typer(
    help="Forecast a zone's carbon intensity from its history, and backtest forecasters.",
    invoke_without_command=True,
)

DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="Folder of zone trace files (<zone>.csv.gz).", show_default=False),
]
StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Signal store folder (default: $CARBONSHIFT_STORE or ~/.local/share/carbonshift/signals).",
        show_default=False,
    ),
]
DatasetOpt = Annotated[
    str | None,
    typer.Option(
        "--dataset",
        help="Dataset: a sub-folder of --data (e.g. dacf), or a dataset of the store.",
        show_default=False,
    ),
]


class Fmt(str, Enum):
    text = "text"
    json = "json"


# ---------------------------------------------------------------------- helpers
def _seconds(text: str, option: str) -> int:
    seconds = int(parse_duration(text, field=option).total_seconds())
    if seconds <= 0:
        raise UsageError(f"{option}: {text!r} is not a positive duration", hint="e.g. 24h")
    return seconds


def _dur(seconds: int) -> str:
    """``24h``/``48h`` rather than ``1d``/``2d`` for whole hours (forecast horizons read so)."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return format_duration(timedelta(seconds=seconds))


def _load(
    zone: str, data: Path | None, store: Path | None, dataset: str | None, variant: str
) -> IntensitySeries:
    """A zone's series from a trace folder (``--data``) or the signal store."""
    if data is not None and store is not None:
        raise UsageError("--data and --store: give one of them", hint="drop one of the two")
    if data is not None:
        folder = data / dataset if dataset else data
        if not folder.is_dir():
            raise UsageError(
                f"--data: {folder} is not a folder", hint="point it at a folder of zone traces"
            )
        return read_zone(folder, zone, variant=variant)
    return SignalStore(store_dir(store)).load(zone, dataset=dataset, variant=variant)


def _forecaster(
    name: str,
    zone: str,
    data: Path | None,
    store: Path | None,
    dataset: str | None,
) -> Forecaster:
    if name != "provider":
        return make_forecaster(name)
    try:
        column = _load(zone, data, store, dataset, "forecast")
    except DataError as exc:
        raise DataError(
            f"{zone}: no provider forecast to replay ({exc.message})",
            hint="use a dataset with a forecast column, e.g. --data DIR --dataset dacf",
        ) from None
    return make_forecaster("provider", provider_column=column)


def _on_grid(series: IntensitySeries, seconds: int, option: str) -> None:
    if seconds % series.resolution_s:
        step = _dur(series.resolution_s)
        raise UsageError(
            f"{option}: {_dur(seconds)} is not a whole number of {series.zone}'s {step} steps",
            hint=f"use a multiple of {step}",
        )


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or np.isnan(value) else f"{value:.{digits}f}"


def _json_value(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 4)


# ---------------------------------------------------------------------- forecast
@forecast_app.callback(invoke_without_command=True)
@guarded
def forecast_cmd(
    ctx: typer.Context,
    zone: Annotated[
        str | None, typer.Option("--zone", help="Zone to forecast.", show_default=False)
    ] = None,
    data: DataOpt = None,
    store: StoreOpt = None,
    dataset: DatasetOpt = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Decision time, ISO 8601 UTC (default: the end of the data).",
            show_default=False,
        ),
    ] = None,
    horizon: Annotated[str, typer.Option("--horizon", help="How far ahead, e.g. 48h.")] = "24h",
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="persistence, seasonal_24h, seasonal_168h, climatology, gbm or provider.",
        ),
    ] = "gbm",
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.text,
) -> None:
    """Forecast one zone at a decision time from the history known then."""
    if ctx.invoked_subcommand is not None:
        return
    if zone is None:
        raise UsageError("--zone: required", hint="e.g. carbonshift forecast --zone DE --data DIR")
    horizon_s = _seconds(horizon, "--horizon")
    name = parse_model_names(model, field="--model")[0]
    if "," in model:
        raise UsageError("--model: name one model", hint="backtest compares several")
    history = _load(zone, data, store, dataset, "actual")
    now_s = to_epoch_s(parse_time(now, field="--now")) if now else history.end_s
    if not history.start_s < now_s <= history.end_s:
        raise UsageError(
            f"--now: {format_time(from_epoch_s(now_s))} is outside the data of {zone} "
            f"({format_time(history.start)}..{format_time(history.end)})",
            hint="pick a decision time inside the data",
        )
    forecaster = _forecaster(name, zone, data, store, dataset)
    result = forecaster.predict(history, now_s, horizon_s)
    series = result.series
    quantiles = sorted(result.quantiles.items())
    if fmt is Fmt.json:
        rows: list[dict[str, Any]] = []
        for i, t in enumerate(series.times_s.tolist()):
            row: dict[str, Any] = {
                "timestamp": format_time(from_epoch_s(t)),
                "carbon_intensity": _json_value(series.values[i]),
            }
            for q, qs in quantiles:
                row[f"p{round(q * 100)}"] = _json_value(qs.values[i])
            rows.append(row)
        echo_json(
            {
                "zone": series.zone,
                "model": result.model,
                "issued_at": format_time(from_epoch_s(now_s)),
                "labels": series.labels.to_dict(),
                "start": format_time(series.start),
                "end": format_time(series.end),
                "resolution_s": series.resolution_s,
                "horizon_s": horizon_s,
                "quantiles": [q for q, _ in quantiles],
                "notes": list(result.notes),
                "values": rows,
            }
        )
        return
    console.print(f"[bold]{series.labels.describe()}[/]")
    console.print(
        f"model {result.model}; decision time {format_time(from_epoch_s(now_s))}; "
        f"{format_time(series.start)} .. {format_time(series.end)}, "
        f"step {_dur(series.resolution_s)}, {len(series)} steps; "
        f"history known up to {format_time(from_epoch_s(min(now_s, history.end_s)))}"
    )
    for note in result.notes:
        console.print(f"note: {note}")
    table = Table(show_header=True)
    table.add_column("timestamp (UTC, interval start)")
    table.add_column(f"forecast ({series.labels.unit})", justify="right")
    for q, _ in quantiles:
        table.add_column(f"p{round(q * 100)}", justify="right")
    for i, t in enumerate(series.times_s.tolist()):
        cells = [_num(float(series.values[i]), 2)]
        cells += [_num(float(qs.values[i]), 2) for _, qs in quantiles]
        table.add_row(format_time(from_epoch_s(t)), *cells)
    console.print(table)


# ---------------------------------------------------------------------- backtest
@forecast_app.command("backtest")
@guarded
def backtest_cmd(
    zones: Annotated[str, typer.Option("--zones", help="Comma-separated zones, e.g. DE,FR.")],
    from_: Annotated[str, typer.Option("--from", help="First decision time (ISO 8601 UTC).")],
    to: Annotated[str, typer.Option("--to", help="End of the decision times, exclusive.")],
    data: DataOpt = None,
    store: StoreOpt = None,
    dataset: DatasetOpt = None,
    horizons: Annotated[
        str, typer.Option("--horizons", help="Horizons to score, comma-separated.")
    ] = "1h,6h,24h,48h",
    models: Annotated[
        str,
        typer.Option(
            "--models", help="Comma-separated models (add gbm, or provider on a forecast dataset)."
        ),
    ] = "persistence,seasonal_24h,seasonal_168h,climatology",
    every: Annotated[str, typer.Option("--every", help="Time between decisions.")] = "6h",
    job_duration: Annotated[
        str, typer.Option("--job-duration", help="Job length for the ranking score.")
    ] = "1h",
    window: Annotated[
        str, typer.Option("--window", help="Window the job may start in, from each decision.")
    ] = "24h",
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.text,
) -> None:
    """Score forecasters over a period: MAE/MAPE per horizon and ranking capture per zone."""
    horizons_s = [_seconds(h, "--horizons") for h in horizons.split(",") if h.strip()]
    if not horizons_s:
        raise UsageError("--horizons: no horizon given", hint="e.g. 1h,6h,24h,48h")
    every_s = _seconds(every, "--every")
    job_s = _seconds(job_duration, "--job-duration")
    window_s = _seconds(window, "--window")
    if job_s > window_s:
        raise UsageError("--job-duration: longer than --window", hint="e.g. 1h in a 24h window")
    start_s = to_epoch_s(parse_time(from_, field="--from"))
    end_s = to_epoch_s(parse_time(to, field="--to"))
    if end_s <= start_s:
        raise UsageError(
            "--to must come after --from", hint="e.g. --from 2022-01-01 --to 2023-01-01"
        )
    names = parse_model_names(models, field="--models")
    zone_list = list(dict.fromkeys(z.strip() for z in zones.split(",") if z.strip()))
    if not zone_list:
        raise UsageError("--zones: no zone given", hint="e.g. --zones DE,FR")
    cases: list[tuple[IntensitySeries, dict[str, Forecaster]]] = []
    decisions = 0
    for zone in zone_list:
        actual = _load(zone, data, store, dataset, "actual")
        period = f"({format_time(actual.start)}..{format_time(actual.end)})"
        if start_s < actual.start_s:
            raise UsageError(
                f"--from: {format_time(from_epoch_s(start_s))} is before the data of {zone} {period}",
                hint="choose a period inside the data",
            )
        if end_s > actual.end_s:
            raise UsageError(
                f"--to: {format_time(from_epoch_s(end_s))} is after the end of the data of {zone} "
                f"{period}",
                hint="choose a period inside the data",
            )
        if (start_s - actual.start_s) % actual.resolution_s:
            raise UsageError(
                f"--from: not on {zone}'s {_dur(actual.resolution_s)} grid",
                hint="start on a step boundary, e.g. on the hour",
            )
        for seconds, option in [
            (every_s, "--every"),
            (job_s, "--job-duration"),
            (window_s, "--window"),
            *((h, "--horizons") for h in horizons_s),
        ]:
            _on_grid(actual, seconds, option)
        cases.append((actual, {n: _forecaster(n, zone, data, store, dataset) for n in names}))
        decisions += -(-(end_s - start_s) // every_s)
    with Progress(
        TextColumn("[bold]backtest"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task("", total=decisions * len(names))
        result = backtest(
            cases,
            start_s=start_s,
            end_s=end_s,
            every_s=every_s,
            horizons_s=horizons_s,
            job_duration_s=job_s,
            window_s=window_s,
            progress=lambda n: bar.update(task, advance=n),
        )
    if fmt is Fmt.json:
        echo_json({"models": names, **result.to_dict()})
        return
    _print_backtest(result, names)


def _print_backtest(result: BacktestResult, names: list[str]) -> None:
    console.print(
        f"[bold]backtest[/] {format_time(from_epoch_s(result.start_s))} .. "
        f"{format_time(from_epoch_s(result.end_s))}, a decision every {_dur(result.every_s)}; "
        f"ranking: a {_dur(result.job_duration_s)} job in the {_dur(result.window_s)} "
        "after each decision"
    )
    for zone, labels in result.labels.items():
        table = Table(title=labels.describe(), title_justify="left")
        table.add_column("model")
        for h in result.horizons_s:
            table.add_column(f"MAPE {_dur(h)} %", justify="right")
        table.add_column(f"MAE {_dur(result.horizons_s[-1])}", justify="right")
        table.add_column("interval cover %", justify="right")
        table.add_column("capture %", justify="right")
        table.add_column("saving %", justify="right")
        for name in names:
            errs = {e.horizon_s: e for e in result.errors if e.zone == zone and e.model == name}
            rank = next(r for r in result.ranking if r.zone == zone and r.model == name)
            last = errs[result.horizons_s[-1]]
            table.add_row(
                name,
                *(_num(errs[h].mape_pct, 2) for h in result.horizons_s),
                _num(last.mae_g_per_kwh),
                _num(last.interval_coverage_pct),
                _num(rank.capture_pct),
                _num(rank.reduction_pct),
            )
        oracle = next((r for r in result.ranking if r.zone == zone), None)
        console.print(table)
        if oracle is not None and oracle.oracle_reduction_pct is not None:
            console.print(
                f"  oracle saving {oracle.oracle_reduction_pct:.1f} % over "
                f"{oracle.decisions} decisions"
            )
    console.print(
        "MAPE over every step up to the horizon (zero actuals left out); capture = "
        "sum(immediate - chosen) / sum(immediate - oracle) over decisions, on actual values"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(forecast_app, name="forecast")
