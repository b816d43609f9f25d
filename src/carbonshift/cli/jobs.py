"""``carbonshift submit`` / ``run`` / ``jobs list|show|cancel|logs``: the service's client side.

``submit`` sends a job to a running service and prints its id and planned window. ``run``
needs no server: it plans the job on the zones' forecasts, waits for the window, streams the
command's output and exits with its code (energy and emissions printed at the end).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from carbonshift.cli.common import console, echo_json, err_console, guarded
from carbonshift.errors import UsageError
from carbonshift.timeutil import format_duration, format_time, parse_duration

__all__ = ["register"]


class Fmt(str, Enum):
    text = "text"
    json = "json"


class ExecutorKind(str, Enum):
    local = "local"
    slurm = "slurm"


ServerOpt = Annotated[
    str | None, typer.Option("--server", help="Service URL (or CARBONSHIFT_SERVER).")
]
TokenOpt = Annotated[
    str | None, typer.Option("--token", help="API token (or CARBONSHIFT_API_TOKEN).")
]
FmtOpt = Annotated[Fmt, typer.Option("--format", help="text or json.")]
DurationOpt = Annotated[str, typer.Option("--duration", help="Expected run time: 90m, 2h, PT2H.")]
DeadlineOpt = Annotated[
    str | None,
    typer.Option("--deadline", help="Latest finish: a duration from now (8h) or ISO 8601 UTC."),
]
SlackOpt = Annotated[str | None, typer.Option("--slack", help="Latest start minus now, e.g. 6h.")]
ZoneOpt = Annotated[list[str] | None, typer.Option("--zone", help="Allowed zone (repeat).")]
InterruptibleOpt = Annotated[
    bool, typer.Option("--interruptible", help="May pause between cleaner chunks.")
]
CommandArg = Annotated[list[str], typer.Argument(help="The command, after --.", show_default=False)]


def _client(server: str | None, token: str | None) -> Any:
    from carbonshift.service.client import ServiceClient

    return ServiceClient(server, token=token)


def _window(job: dict[str, Any]) -> str:
    plan = job.get("plan")
    if not plan:
        return "not planned yet"
    text = f"{plan['zone']} {plan['start']} .. {plan['end']}"
    if len(plan["segments"]) > 1:
        text += f" in {len(plan['segments'])} chunks"
    if plan.get("fallback"):
        fb = plan["fallback"]
        text += f" (fallback {fb['level'].replace('_', ' ')}: {fb['reason']})"
    return text


@guarded
def submit_cmd(
    command: CommandArg,
    duration: DurationOpt,
    deadline: DeadlineOpt = None,
    slack: SlackOpt = None,
    zone: ZoneOpt = None,
    gpus: Annotated[int, typer.Option("--gpus", min=0, help="GPUs the job holds.")] = 0,
    executor: Annotated[
        ExecutorKind | None, typer.Option("--executor", help="local or slurm.")
    ] = None,
    interruptible: InterruptibleOpt = False,
    min_chunk: Annotated[
        str | None, typer.Option("--min-chunk", help="Shortest chunk (default 30m).")
    ] = None,
    max_duration: Annotated[
        str | None, typer.Option("--max-duration", help="Kill the job after this long.")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="A label for listings.")] = "",
    shell: Annotated[
        bool, typer.Option("--shell", help="Run one command line with sh -c.")
    ] = False,
    power_w: Annotated[
        float | None,
        typer.Option("--power-w", min=0, help="Declared power (W), used if nothing is measured."),
    ] = None,
    wait_plan: Annotated[
        str, typer.Option("--wait-plan", help="How long to wait for the plan to print it.")
    ] = "15s",
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Wait until the job ends, print its energy, emissions and savings, and exit "
            "with its exit code.",
        ),
    ] = False,
    server: ServerOpt = None,
    token: TokenOpt = None,
    fmt: FmtOpt = Fmt.text,
) -> None:
    """Send a job to the service; print its id and planned window."""
    if (deadline is None) == (slack is None):
        raise UsageError("--deadline / --slack: give exactly one", hint="e.g. --deadline 8h")
    if not command:
        raise UsageError(
            "command: give it after --", hint="carbonshift submit ... -- python train.py"
        )
    body: dict[str, Any] = {
        "command": list(command),
        "duration": duration,
        "zones": list(zone or []),
        "gpus": gpus,
        "interruptible": interruptible,
        "shell": shell,
        "name": name,
    }
    for key, value in (
        ("deadline", deadline),
        ("slack", slack),
        ("max_duration", max_duration),
        ("min_chunk", min_chunk),
    ):
        if value is not None:
            body[key] = value
    if executor is not None:
        body["executor"] = executor.value
    if power_w is not None:
        body["power_w"] = power_w
    wait_s = parse_duration(wait_plan, field="--wait-plan").total_seconds()
    with _client(server, token) as client:
        job = client.submit(body)
        if job["plan"] is None and wait_s > 0:
            end = time.monotonic() + wait_s
            while job["plan"] is None and job["state"] == "submitted" and time.monotonic() < end:
                time.sleep(0.2)
                job = client.job(job["id"])
    if fmt is Fmt.json:
        echo_json(job)
        return
    console.print(f"job {job['id']} {job['state']}: {_window(job)}", highlight=False)
    console.print(
        f"latest safe start {job['latest_safe_start']}, deadline {job['deadline']}", highlight=False
    )
    if wait:
        _wait_and_account(server, token, int(job["id"]))


def _wait_and_account(server: str | None, token: str | None, job_id: int) -> None:
    """Follow a job to its end, print its account, exit with its code."""
    ended = {"succeeded", "failed", "cancelled"}
    with _client(server, token) as client:
        job = client.wait(job_id, until=ended, timeout_s=math.inf, poll_s=1.0)
        said = f"exit code {job['exit_code']}"
        reason = job["reason"] or ""
        tail = f", {reason}" if reason and reason != said else ""
        console.print(f"job {job_id} {job['state']}: {said}{tail}", highlight=False)
        account = client.account(job_id)
        end = time.monotonic() + 60
        while account["status"] == "pending" and job["started_at"] and time.monotonic() < end:
            time.sleep(0.5)
            account = client.account(job_id)
    if account["status"] != "pending":
        from carbonshift.service.accountant import account_lines

        for line in account_lines(account["status"], account["summary"]):
            console.print(line, highlight=False)
    else:
        console.print(f"account: {account['line'] or 'not available'}", highlight=False)
    code = job["exit_code"]
    raise typer.Exit(code if isinstance(code, int) else (0 if job["state"] == "succeeded" else 1))


@guarded
def run_cmd(
    command: CommandArg,
    duration: DurationOpt,
    deadline: DeadlineOpt = None,
    slack: SlackOpt = None,
    zone: ZoneOpt = None,
    interruptible: InterruptibleOpt = False,
    min_chunk: Annotated[
        str | None, typer.Option("--min-chunk", help="Shortest chunk (default 30m).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Service TOML: the zones' forecast sources.")
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Folder of zone traces (forecast from history).")
    ] = None,
    signal_file: Annotated[
        Path | None, typer.Option("--signal", help="One trace file whose values are the forecast.")
    ] = None,
    forecaster: Annotated[str, typer.Option("--forecaster", help="For --data.")] = "seasonal_24h",
    power_w: Annotated[
        float | None, typer.Option("--power-w", help="Declared power if nothing can be measured.")
    ] = None,
    no_measure: Annotated[bool, typer.Option("--no-measure", help="Skip energy metering.")] = False,
    ledger: Annotated[
        str | None,
        typer.Option("--ledger", help="Record the run in this ledger (SQLite path or DB URL)."),
    ] = None,
) -> None:
    """Plan a job here, wait for its window, run it, exit with its code (no server needed).

    At the end it prints the energy measured, the emissions on the zone's actuals (final) or
    on the forecast the plan used (provisional), and the savings against starting at once
    (immediate) and at the zone's static slot, from the same measured power profile."""
    from carbonshift.planning import CronSchedule, Job
    from carbonshift.service.clock import SystemClock
    from carbonshift.service.config import ZoneConfig, load_config
    from carbonshift.service.forecasts import learn_zone_static, make_source
    from carbonshift.service.runner import execute, plan_run
    from carbonshift.signals.files import list_zone_files, zone_from_path

    if (deadline is None) == (slack is None):
        raise UsageError("--deadline / --slack: give exactly one", hint="e.g. --deadline 8h")
    if not command:
        raise UsageError("command: give it after --", hint="carbonshift run ... -- python train.py")
    zones = list(zone or [])
    if signal_file is not None:
        zcfg = [
            ZoneConfig(
                zones[0] if zones else zone_from_path(signal_file), forecast_file=signal_file
            )
        ]
    elif data is not None:
        files = list_zone_files(data)
        if not zones:
            raise UsageError("--zone: --data needs at least one --zone")
        zcfg = [
            learn_zone_static(ZoneConfig(z, history_file=files[z], forecaster=forecaster))
            for z in zones
            if z in files
        ]
    elif config is not None:
        cfg = load_config(config)
        zcfg = [z for z in cfg.zones if not zones or z.name in zones]
    else:
        zcfg = [ZoneConfig(z) for z in zones] or [ZoneConfig("local")]
    now = datetime.now(UTC)
    dur = parse_duration(duration, field="--duration")
    dl = None
    if deadline is not None:
        from carbonshift.service.models import parse_deadline

        dl = parse_deadline(deadline, now)
    job = Job(
        submit=now,
        duration=dur,
        deadline=dl,
        slack=None if slack is None else parse_duration(slack, field="--slack"),
        zones=tuple(z.name for z in zcfg),
        interruptible=interruptible,
        min_chunk=parse_duration(min_chunk or "30m", field="--min-chunk")
        if interruptible
        else None,
        power_w=power_w if power_w is not None else 1000.0,
    )
    clock = SystemClock()
    sources = {z.name: make_source(z, clock) for z in zcfg}
    static = (
        CronSchedule.parse(zcfg[0].static_slot, zcfg[0].static_tz) if zcfg[0].static_slot else None
    )

    def say(line: str) -> None:
        err_console.print(line, highlight=False)

    plan, forecasts = plan_run(job, now, sources, static=static, horizon_s=24 * 3600, say=say)
    wait = timedelta(seconds=max(0, plan.start_s - int(now.timestamp())))
    note = (
        f" (fallback {plan.fallback.level.replace('_', ' ')}: {plan.fallback.reason})"
        if plan.fallback
        else ""
    )
    say(
        f"planned in {plan.zone}: {format_time(plan.start)} .. {format_time(plan.end)}"
        f"{note}; waiting {format_duration(wait)}"
    )
    book = None
    if ledger is not None and not no_measure:
        from carbonshift.accounting import Ledger

        book = Ledger(ledger)
    source = sources.get(plan.zone)
    zone_static = next((z for z in zcfg if z.name == plan.zone), zcfg[0])
    outcome = execute(
        command,
        plan,
        series=forecasts.get(plan.zone),
        job=replace(job, zones=(plan.zone,)),
        static=CronSchedule.parse(zone_static.static_slot, zone_static.static_tz)
        if zone_static.static_slot
        else None,
        actuals=getattr(source, "actuals", None),
        power_w=power_w,
        measure=not no_measure,
        ledger=book,
        say=say,
    )
    if outcome.summary is not None:
        from carbonshift.service.accountant import account_lines

        for line in account_lines(outcome.status, outcome.summary):
            say(line)
        say(f"meter: {outcome.meter}")
    elif outcome.energy_kwh is not None:
        say(f"energy {outcome.energy_kwh:.6g} kWh (meter: {outcome.meter})")
    raise typer.Exit(outcome.exit_code)


jobs_app = typer.Typer(
    help="List, show, cancel jobs of the service and read their logs.", no_args_is_help=True
)


@jobs_app.command("list")
@guarded
def list_cmd(
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Only these states (repeat).")
    ] = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    fmt: FmtOpt = Fmt.text,
) -> None:
    """The service's jobs, oldest first."""
    with _client(server, token) as client:
        jobs = client.jobs(list(state or []) or None)
    if fmt is Fmt.json:
        echo_json(jobs)
        return
    for j in jobs:
        label = j["name"] or " ".join(j["command"])[:40]
        console.print(f"{j['id']:>6} {j['state']:<11} {_window(j)}  {label}", highlight=False)


@jobs_app.command("show")
@guarded
def show_cmd(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    server: ServerOpt = None,
    token: TokenOpt = None,
    fmt: FmtOpt = Fmt.text,
) -> None:
    """One job: its plan, plan history and transitions."""
    with _client(server, token) as client:
        job = client.job(job_id)
        plans = client.plans(job_id)
        transitions = client.transitions(job_id)
        account = client.account(job_id)
    if fmt is Fmt.json:
        echo_json({**job, "plans": plans, "transitions": transitions, "account": account})
        return
    console.print(f"job {job['id']} {job['state']}: {' '.join(job['command'])}", highlight=False)
    console.print(f"planned: {_window(job)}", highlight=False)
    console.print(
        f"deadline {job['deadline']}, latest safe start {job['latest_safe_start']}, "
        f"exit code {job['exit_code']}, reason {job['reason']}",
        highlight=False,
    )
    for p in plans:
        fb = f" fallback {p['fallback']['level']}" if p["fallback"] else ""
        console.print(
            f"  plan @{p['decided_at']}: {p['zone']} {p['start']}..{p['end']} mean "
            f"{p['mean_intensity_g_per_kwh']} g/kWh{fb}",
            highlight=False,
        )
    for t in transitions:
        console.print(
            f"  {t['at']} {t['from_state']} -> {t['to_state']}: {t['reason']}", highlight=False
        )
    console.print(f"account ({account['status']}): {account['line']}", highlight=False)


@jobs_app.command("cancel")
@guarded
def cancel_cmd(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Cancel a job (stops it if it runs)."""
    with _client(server, token) as client:
        client.cancel(job_id)
        job = client.wait(job_id, until={"cancelled", "succeeded", "failed"}, timeout_s=15)
    console.print(f"job {job_id} {job['state']}", highlight=False)


@jobs_app.command("logs")
@guarded
def logs_cmd(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    stderr: Annotated[
        bool, typer.Option("--stderr", help="Show stderr instead of stdout.")
    ] = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the job ends.")
    ] = False,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """The job's output so far."""
    stream = "stderr" if stderr else "stdout"
    with _client(server, token) as client:
        shown = 0
        while True:
            text = client.logs(job_id, stream)
            sys.stdout.write(text[shown:])
            sys.stdout.flush()
            shown = len(text)
            if not follow or client.job(job_id)["state"] in ("succeeded", "failed", "cancelled"):
                if follow:
                    sys.stdout.write(client.logs(job_id, stream)[shown:])
                return
            time.sleep(1.0)


def register(app: typer.Typer) -> None:
    """Add ``submit``, ``run`` and ``jobs`` to the command line."""
    ctx = {"allow_interspersed_args": False}
    app.command("submit", context_settings=ctx)(submit_cmd)
    app.command("run", context_settings=ctx)(run_cmd)
    app.add_typer(jobs_app, name="jobs")
