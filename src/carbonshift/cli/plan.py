"""``carbonshift plan`` (the window for one job) and ``carbonshift static-window`` (the best
fixed daily or weekly slot, as cron, a Kubernetes CronJob or an Airflow schedule)."""

from __future__ import annotations

from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from carbonshift.cli.common import console, echo_json, err_console, guarded, store_dir
from carbonshift.errors import UsageError
from carbonshift.planning import (
    DynamicPolicy,
    Job,
    OraclePolicy,
    Outlook,
    Plan,
    StaticSlot,
    learn_static_slot,
)
from carbonshift.planning.cron import zone_info
from carbonshift.signals.files import read_trace, read_zone
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import (
    format_duration,
    format_time,
    from_epoch_s,
    parse_duration,
    parse_time,
    to_epoch_s,
)

__all__ = ["register"]


class Fmt(str, Enum):
    text = "text"
    json = "json"


class ForecastKind(str, Enum):
    oracle = "oracle"
    given = "given"


class Emit(str, Enum):
    cron = "cron"
    k8s = "k8s"
    airflow = "airflow"


ZoneOpt = Annotated[
    list[str] | None, typer.Option("--zone", help="Zone (repeat for several: spatial planning).")
]
DataOpt = Annotated[
    Path | None, typer.Option("--data", help="Folder of zone traces (<zone>.csv[.gz]).")
]
FmtOpt = Annotated[Fmt, typer.Option("--format", help="text or json.")]


def _load(signal: Path | None, data: Path | None, zones: list[str]) -> list[IntensitySeries]:
    if (signal is None) == (data is None):
        raise UsageError(
            "--signal / --data: give exactly one",
            hint="--signal FILE for one trace, or --data DIR --zone Z for zones in a folder",
        )
    if signal is not None:
        if len(zones) > 1:
            raise UsageError("--zone: --signal reads one file, so at most one --zone")
        return [read_trace(signal, zone=zones[0] if zones else None)]
    if not zones:
        raise UsageError("--zone: --data needs at least one --zone", hint="e.g. --zone DE")
    assert data is not None
    return [read_zone(data, z) for z in zones]


def _make_job(
    now_s: int,
    zones: list[str],
    duration: str,
    deadline: str | None,
    slack: str | None,
    interruptible: bool,
    min_chunk: str | None,
    overhead: str | None,
) -> Job:
    if (deadline is None) == (slack is None):
        raise UsageError(
            "--deadline / --slack: give exactly one",
            hint="--deadline 2022-06-02T06:00Z (latest finish) or --slack 10h (latest start - now)",
        )
    if not interruptible and (min_chunk is not None or overhead is not None):
        raise UsageError(
            "--min-chunk / --overhead: only apply with --interruptible",
            hint="add --interruptible or drop them",
        )
    return Job(
        submit=from_epoch_s(now_s),
        duration=parse_duration(duration, field="--duration"),
        deadline=parse_time(deadline, field="--deadline") if deadline else None,
        slack=parse_duration(slack, field="--slack") if slack else None,
        zones=tuple(zones),
        interruptible=interruptible,
        min_chunk=parse_duration(min_chunk or "30m", field="--min-chunk")
        if interruptible
        else None,
        pause_overhead=parse_duration(overhead, field="--overhead") if overhead else timedelta(0),
    )


def _immediate_mean(series: IntensitySeries, start_s: int, duration_s: int) -> float | None:
    if start_s < series.start_s or start_s + duration_s > series.end_s:
        return None
    mean = series.window_mean(start_s, start_s + duration_s)
    return None if np.isnan(mean) else mean


def _plan_result(plan: Plan, immediate: float | None, forecast: str) -> dict[str, Any]:
    mean = plan.mean_intensity_g_per_kwh
    planned = None if np.isnan(mean) else round(mean, 3)
    savings = None
    if planned is not None and immediate:
        savings = round(100.0 * (immediate - mean) / immediate, 2)
    return {
        "zone": plan.zone,
        "start": format_time(plan.start),
        "end": format_time(plan.end),
        "segments": [[format_time(s.start), format_time(s.end)] for s in plan.segments],
        "mean_intensity_g_per_kwh": planned,
        "immediate_mean_intensity_g_per_kwh": None if immediate is None else round(immediate, 3),
        "savings_pct": savings,
        "decision_time": format_time(plan.decision_time),
        "forecast": forecast,
    }


@guarded
def plan_cmd(
    duration: Annotated[str, typer.Option("--duration", help="Job length: 90m, 2h, PT2H.")],
    signal: Annotated[
        Path | None, typer.Option("--signal", help="One trace file (CSV, CSV.gz, Parquet).")
    ] = None,
    data: DataOpt = None,
    zone: ZoneOpt = None,
    deadline: Annotated[
        str | None, typer.Option("--deadline", help="Latest finish, ISO 8601 UTC.")
    ] = None,
    slack: Annotated[
        str | None, typer.Option("--slack", help="Latest start minus --now, e.g. 10h.")
    ] = None,
    now: Annotated[
        str | None,
        typer.Option("--now", help="Decision (= submit) time (default: the first timestamp)."),
    ] = None,
    interruptible: Annotated[
        bool, typer.Option("--interruptible", help="The job may pause and resume.")
    ] = False,
    min_chunk: Annotated[
        str | None, typer.Option("--min-chunk", help="Shortest chunk of work (default: 30m).")
    ] = None,
    overhead: Annotated[
        str | None,
        typer.Option(
            "--overhead", help="Restore time (at full power) after each pause (default: 0s)."
        ),
    ] = None,
    forecast: Annotated[
        ForecastKind | None,
        typer.Option(
            "--forecast",
            help="given: the values are a forecast made at --now (default with --signal); "
            "oracle: the values are actuals, planned with perfect foresight (default with --data).",
        ),
    ] = None,
    fmt: FmtOpt = Fmt.text,
) -> None:
    """The cleanest window (or chunks) for one job that still meets its deadline."""
    zones = list(zone or [])
    series = _load(signal, data, zones)
    zones = [s.zone for s in series]
    now_s = to_epoch_s(parse_time(now, field="--now")) if now else max(s.start_s for s in series)
    job = _make_job(now_s, zones, duration, deadline, slack, interruptible, min_chunk, overhead)
    kind = forecast or (ForecastKind.given if signal is not None else ForecastKind.oracle)
    by_zone = {s.zone: s for s in series}
    if kind is ForecastKind.given:
        issued = from_epoch_s(now_s)
        by_zone = {
            z: s.with_labels(s.labels.with_(kind="forecast", issued_at=issued, lead=None))
            for z, s in by_zone.items()
        }
        plan = DynamicPolicy().plan(job, now_s, Outlook(forecasts=by_zone))
    else:
        plan = OraclePolicy(by_zone).plan(job, now_s)
    immediate = _immediate_mean(by_zone[zones[0]], max(job.submit_s, now_s), job.duration_s)
    result = _plan_result(plan, immediate, kind.value)
    if plan.fallback is not None:
        err_console.print(
            f"[yellow]note:[/] {plan.fallback.level.replace('_', ' ')}: {plan.fallback.reason}",
            highlight=False,
        )
    if fmt is Fmt.json:
        echo_json(result)
        return
    console.print(
        f"{plan.zone}: start {result['start']}, end {result['end']} "
        f"({format_duration(timedelta(seconds=plan.run_s))} running)",
        highlight=False,
    )
    if len(plan.segments) > 1:
        console.print("segments: " + ", ".join(f"{a}..{b}" for a, b in result["segments"]))
    mean = result["mean_intensity_g_per_kwh"]
    line = f"expected mean: {mean} gCO2eq/kWh" if mean is not None else "expected mean: unknown"
    if immediate is not None:
        line += f"; starting at once: {result['immediate_mean_intensity_g_per_kwh']} gCO2eq/kWh"
    if result["savings_pct"] is not None:
        line += f"; saving {result['savings_pct']}%"
    console.print(line, highlight=False)
    labels = by_zone[plan.zone].labels.describe().split(": ", 1)[1]
    console.print(
        f"decided at {result['decision_time']} with forecast '{kind.value}' ({labels}); "
        f"latest safe start {format_time(job.latest_safe_start)}",
        highlight=False,
    )


# ---------------------------------------------------------------- static-window
def _slot_dict(slot: StaticSlot) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cron": slot.cron_expr(),
        "time_zone": slot.tz,
        "local_time": f"{slot.hour:02d}:{slot.minute:02d}",
        "mean_intensity_g_per_kwh": round(slot.mean_intensity_g_per_kwh, 3),
        "std_g_per_kwh": round(slot.std_g_per_kwh, 3),
        "p10_g_per_kwh": round(slot.p10_g_per_kwh, 3),
        "p90_g_per_kwh": round(slot.p90_g_per_kwh, 3),
        "occurrences": slot.occurrences,
    }
    if slot.weekly:
        out["weekday"] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[slot.weekday]
    return out


def _fixed_in(tz: str) -> str:
    if tz == "UTC":
        return "fixed in UTC (in local time it moves by an hour across daylight-saving changes)"
    return f"fixed in {tz} wall-clock time (its UTC time follows daylight-saving changes)"


def _emit(kind: Emit, zone: str, slot: StaticSlot, period: str) -> str:
    what = f"{zone}, {slot.describe()}, learned {period}, mean {slot.mean_intensity_g_per_kwh:.1f} gCO2eq/kWh"
    expr = slot.cron_expr()
    if kind is Emit.cron:
        return f"# carbonshift static-window: {what}\nCRON_TZ={slot.tz}\n{expr} <command>"
    if kind is Emit.airflow:
        return (
            f"# carbonshift static-window: {what}\n"
            f"# from airflow.timetables.trigger import CronTriggerTimetable\n"
            f'schedule = CronTriggerTimetable("{expr}", timezone="{slot.tz}")\n'
            f'# or schedule="{expr}" on a DAG whose start_date carries tz="{slot.tz}"'
        )
    name = f"carbonshift-{zone.lower()}-{'weekly' if slot.weekly else 'daily'}".replace("_", "-")
    return "\n".join(
        [
            f"# carbonshift static-window: {what}",
            "apiVersion: batch/v1",
            "kind: CronJob",
            "metadata:",
            f"  name: {name}",
            "spec:",
            f'  schedule: "{expr}"',
            f"  timeZone: {slot.tz}",
            "  concurrencyPolicy: Forbid",
            "  jobTemplate:",
            "    spec:",
            "      template:",
            "        spec:",
            "          restartPolicy: Never",
            "          containers:",
            "            - name: job",
            "              image: <image>",
            '              command: ["<command>"]',
        ]
    )


@guarded
def static_window_cmd(
    duration: Annotated[str, typer.Option("--duration", help="Job length: 1h, 90m.")],
    from_: Annotated[str, typer.Option("--from", help="Start of the history, ISO 8601 UTC.")],
    to: Annotated[str, typer.Option("--to", help="End of the history (exclusive).")],
    zone: ZoneOpt = None,
    data: DataOpt = None,
    store: Annotated[
        Path | None, typer.Option("--store", help="Signal store, when --data is not given.")
    ] = None,
    tz: Annotated[str, typer.Option("--tz", help="IANA zone the slot is fixed in.")] = "UTC",
    weekly: Annotated[bool, typer.Option("--weekly", help="Also the best weekly slot.")] = False,
    fmt: FmtOpt = Fmt.text,
    emit: Annotated[
        Emit | None,
        typer.Option(
            "--emit",
            help="Print a crontab line, a Kubernetes CronJob or an Airflow "
            "schedule instead of the report.",
        ),
    ] = None,
) -> None:
    """The fixed daily (and weekly) slot with the lowest mean intensity over a history."""
    if not zone:
        raise UsageError("--zone: name at least one zone", hint="e.g. --zone DE")
    duration_s = int(parse_duration(duration, field="--duration").total_seconds())
    start_s = to_epoch_s(parse_time(from_, field="--from"))
    end_s = to_epoch_s(parse_time(to, field="--to"))
    if end_s <= start_s:
        raise UsageError("--to: must come after --from")
    try:
        zone_info(tz)
    except UsageError as exc:
        raise UsageError(f"--tz: {tz!r} is not an IANA time zone", hint=exc.hint) from None
    if data is not None:
        loaded = [read_zone(data, z) for z in zone]
    else:
        from carbonshift.signals.store import SignalStore

        signal_store = SignalStore(store_dir(store))
        loaded = [signal_store.load(z) for z in zone]
    period = f"{format_time(from_epoch_s(start_s))}..{format_time(from_epoch_s(end_s))}"
    results: list[dict[str, Any]] = []
    emitted: list[str] = []
    for series in loaded:
        slots = [
            learn_static_slot(series, duration_s, train_from_s=start_s, train_to_s=end_s, tz=tz)
        ]
        if weekly:
            slots.append(
                learn_static_slot(
                    series, duration_s, train_from_s=start_s, train_to_s=end_s, tz=tz, weekly=True
                )
            )
        entry: dict[str, Any] = {
            "zone": series.zone,
            "duration": format_duration(timedelta(seconds=duration_s)),
            "daily": _slot_dict(slots[0]),
        }
        if weekly:
            entry["weekly"] = _slot_dict(slots[1])
        results.append(entry)
        emitted += [_emit(emit, series.zone, s, period) for s in slots] if emit else []
    if emit is not None:
        sep = "\n---\n" if emit is Emit.k8s else "\n\n"
        typer.echo(sep.join(emitted))
        return
    if fmt is Fmt.json:
        echo_json(
            {
                "period": {
                    "from": format_time(from_epoch_s(start_s)),
                    "to": format_time(from_epoch_s(end_s)),
                },
                "time_zone": tz,
                "fixed_in": _fixed_in(tz),
                "results": results,
            }
        )
        return
    console.print(f"history {period}; slots {_fixed_in(tz)}", highlight=False)
    for entry in results:
        for key in ("daily", "weekly"):
            if key not in entry:
                continue
            s = entry[key]
            when = f"{s['weekday']} " if key == "weekly" else ""
            console.print(
                f"{entry['zone']} {key}: {when}{s['local_time']} {tz} for {entry['duration']} "
                f"(cron '{s['cron']}'): mean {s['mean_intensity_g_per_kwh']:.1f} gCO2eq/kWh, "
                f"std {s['std_g_per_kwh']:.1f}, p10-p90 {s['p10_g_per_kwh']:.1f}-"
                f"{s['p90_g_per_kwh']:.1f} over {s['occurrences']} {'weeks' if key == 'weekly' else 'days'}",
                highlight=False,
            )


def register(app: typer.Typer) -> None:
    """Add ``plan`` and ``static-window`` to the command line."""
    app.command("plan")(plan_cmd)
    app.command("static-window")(static_window_cmd)
