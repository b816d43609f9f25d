"""``carbonshift compare``: replay jobs on history and compare scheduling policies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from carbonshift.cli.common import err_console, guarded
from carbonshift.errors import UsageError
from carbonshift.forecast import FORECASTERS
from carbonshift.simulate.capacity import CAPACITY_SOLVERS
from carbonshift.simulate.comparison import (
    POLICIES,
    CompareSpec,
    Comparison,
    load_zones,
    run_comparison,
)
from carbonshift.simulate.policies import StaticSpec
from carbonshift.simulate.workload import (
    DEFAULT_GPU_POWER_W,
    Workload,
    read_jobs_file,
    regular_workload,
)
from carbonshift.timeutil import parse_duration, parse_time, to_epoch_s

__all__ = ["register"]


class Fmt(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


def _seconds(text: str, field: str) -> int:
    return round(parse_duration(text, field=field).total_seconds())


def _csv_list(text: str, field: str) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
    if not items:
        raise UsageError(f"{field}: empty list", hint="e.g. DE,FR")
    return items


def _workload(
    jobs: Path | None,
    every: str | None,
    duration: str | None,
    slack: str | None,
    anchor: str | None,
    from_s: int,
    to_s: int,
    gpu_power: float,
) -> Workload:
    if jobs is not None:
        if every or duration:
            raise UsageError(
                "--jobs / --every: give a jobs file or a regular workload, not both",
                hint="drop --every/--duration, or --jobs",
            )
        anchor_s = to_epoch_s(parse_time(anchor, field="--anchor")) if anchor else from_s
        return read_jobs_file(
            jobs,
            anchor_s=anchor_s,
            default_slack_s=_seconds(slack, "--slack") if slack else None,
            power_per_gpu_w=gpu_power,
        )
    if not (every and duration and slack):
        raise UsageError(
            "--jobs or --every/--duration/--slack: no workload given",
            hint="e.g. --every 1h --duration 1h --slack 24h, or --jobs FILE",
        )
    return regular_workload(
        from_s,
        to_s,
        _seconds(every, "--every"),
        _seconds(duration, "--duration"),
        _seconds(slack, "--slack"),
        power_w=gpu_power,
    )


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        yield bar


def render(c: Comparison, fmt: Fmt) -> str:
    from carbonshift.simulate import render as r

    if fmt is Fmt.json:
        return r.to_json(c)
    if fmt is Fmt.markdown:
        return r.to_markdown(c)
    if fmt is Fmt.html:
        from carbonshift.simulate.html import to_html

        return to_html(c)
    return r.to_text(c)


@guarded
def compare_cmd(
    data: Annotated[Path, typer.Option("--data", help="Folder of zone traces (<zone>.csv[.gz]).")],
    zones: Annotated[str, typer.Option("--zones", help="Home zones, comma-separated.")],
    from_: Annotated[str, typer.Option("--from", help="First arrival (ISO 8601 UTC).")],
    to: Annotated[str, typer.Option("--to", help="Arrivals end before this (ISO 8601 UTC).")],
    jobs: Annotated[
        Path | None,
        typer.Option(
            "--jobs",
            help="Job CSV: ISO submit_time, or seconds since the trace start (anchored at "
            "--anchor), duration_s, optional deadline/slack_s, gpus|num_gpus, power_w, zone.",
        ),
    ] = None,
    every: Annotated[str | None, typer.Option("--every", help="One job every ... (1h).")] = None,
    duration: Annotated[str | None, typer.Option("--duration", help="Job length (1h).")] = None,
    slack: Annotated[
        str | None,
        typer.Option("--slack", help="Latest start minus submit (24h); default for --jobs."),
    ] = None,
    anchor: Annotated[
        str | None,
        typer.Option("--anchor", help="Calendar time of relative submit time 0 (default --from)."),
    ] = None,
    interruptible: Annotated[
        bool, typer.Option("--interruptible", help="Jobs may pause (chunks of >= 1h).")
    ] = False,
    relocate: Annotated[
        bool, typer.Option("--relocate", help="dynamic/oracle may run jobs in any --zones.")
    ] = False,
    capacity: Annotated[
        int | None, typer.Option("--capacity", help="GPUs per zone and step.", min=1)
    ] = None,
    capacity_solver: Annotated[
        str,
        typer.Option(
            "--capacity-solver",
            help="greedy, exact (HiGHS MILP) or auto (exact for batches of at most "
            "20,000 options, else greedy); a failed solver falls back to the other.",
        ),
    ] = "auto",
    policies: Annotated[
        str, typer.Option("--policies", help="Comma-separated subset of the policies.")
    ] = ",".join(POLICIES),
    forecast: Annotated[
        str, typer.Option("--forecast", help="Forecaster for dynamic (seasonal_24h, gbm, ...).")
    ] = "seasonal_24h",
    replan_every: Annotated[
        str | None,
        typer.Option(
            "--replan-every", help="Re-plan cadence (default 15m, never finer than the data)."
        ),
    ] = None,
    static_cron: Annotated[
        str | None, typer.Option("--static-cron", help='Fixed static slot, e.g. "0 2 * * *".')
    ] = None,
    static_tz: Annotated[str, typer.Option("--static-tz", help="IANA zone of the slot.")] = "UTC",
    static_train: Annotated[
        str,
        typer.Option(
            "--static-train",
            help="before: learn on --train-days before --from; rolling: re-learn each day on "
            "the --train-days before it.",
        ),
    ] = "before",
    train_days: Annotated[
        int, typer.Option("--train-days", help="Static training length in days.", min=1)
    ] = 28,
    gpu_power: Annotated[
        float,
        typer.Option("--gpu-power", help="Watts per GPU for jobs without power_w."),
    ] = DEFAULT_GPU_POWER_W,
    fmt: Annotated[Fmt, typer.Option("--format", help="text, json, markdown or html.")] = Fmt.text,
    out: Annotated[Path | None, typer.Option("--out", help="Write the report here.")] = None,
    decisions_out: Annotated[
        Path | None, typer.Option("--decisions-out", help="CSV: one row per job and policy.")
    ] = None,
    trim: Annotated[
        bool, typer.Option("--trim", help="Drop jobs whose window runs past the data.")
    ] = False,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")
    ] = True,
) -> None:
    """Replay jobs on history through immediate, static, dynamic and oracle; compare."""
    from_s = to_epoch_s(parse_time(from_, field="--from"))
    to_s = to_epoch_s(parse_time(to, field="--to"))
    if to_s <= from_s:
        raise UsageError("--to: must come after --from", hint="the period is [--from, --to)")
    zone_list = _csv_list(zones, "--zones")
    policy_list = _csv_list(policies, "--policies")
    for p in policy_list:
        if p not in POLICIES:
            raise UsageError(f"--policies: unknown policy {p!r}", hint=f"use {','.join(POLICIES)}")
    if capacity_solver not in CAPACITY_SOLVERS:
        raise UsageError(
            f"--capacity-solver: unknown solver {capacity_solver!r}",
            hint="use greedy, exact or auto",
        )
    if static_train not in ("before", "rolling"):
        raise UsageError(f"--static-train: unknown mode {static_train!r}", hint="before or rolling")
    if forecast not in FORECASTERS:
        raise UsageError(
            f"--forecast: unknown forecaster {forecast!r}",
            hint=f"use one of {', '.join(FORECASTERS)}",
        )
    series = load_zones(data, zone_list)
    res = next(iter(series.values())).resolution_s
    replan_s = _seconds(replan_every, "--replan-every") if replan_every else 900
    if replan_s <= 0:
        raise UsageError("--replan-every: must be positive", hint="e.g. 1h")
    replan_s = max(replan_s, res)  # never finer than the data
    workload = _workload(jobs, every, duration, slack, anchor, from_s, to_s, gpu_power)
    spec = CompareSpec(
        zones=zone_list,
        from_s=from_s,
        to_s=to_s,
        policies=policy_list,
        forecast=forecast,
        replan_s=replan_s,
        static=StaticSpec(static_cron, static_tz, static_train, train_days),
        relocate=relocate,
        capacity=capacity,
        capacity_solver=capacity_solver,
        interruptible=interruptible,
        trim=trim,
    )
    total = len(workload.in_period(from_s, to_s)) * len(zone_list) * len(policy_list)
    with _progress(total, progress and total > 20_000) as bar:
        task = bar.add_task("replay", total=total) if bar is not None else None

        def advance(n: int) -> None:
            if bar is not None and task is not None:
                bar.advance(task, n)

        comparison = run_comparison(spec, series, workload, progress=advance)
    text = render(comparison, fmt)
    if out is not None:
        out.write_text(text)
    else:
        typer.echo(text, nl=False)
    if decisions_out is not None:
        from carbonshift.simulate.render import write_decisions

        write_decisions(comparison, decisions_out)


def register(app: typer.Typer) -> None:
    app.command("compare", help="Replay jobs on history and compare scheduling policies.")(
        compare_cmd
    )
