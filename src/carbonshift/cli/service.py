"""``carbonshift serve``: the scheduler service (REST API, planning loop, executors) in one
process. Embedded defaults: SQLite in the data directory, the local executor, loopback only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from carbonshift.cli.common import guarded
from carbonshift.errors import UsageError
from carbonshift.service.auth import resolve_token
from carbonshift.service.config import ServiceConfig, ZoneConfig, load_config
from carbonshift.service.forecasts import learn_zone_static
from carbonshift.signals.files import list_zone_files, suggest_zones
from carbonshift.timeutil import parse_duration, parse_time

__all__ = ["register"]


def _seconds(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    seconds = parse_duration(text, field=option).total_seconds()
    if seconds < 0:
        raise UsageError(f"{option}: must not be negative")
    return seconds


def _zones_from_data(data: Path, zones: list[str], forecaster: str) -> tuple[ZoneConfig, ...]:
    files = list_zone_files(data)
    if not zones:
        raise UsageError("--zone: --data needs at least one --zone", hint="e.g. --zone DE")
    out = []
    for zone in zones:
        if zone not in files:
            raise UsageError(
                f"--zone: {zone!r} not found in {data}", hint=suggest_zones(zone, list(files))
            )
        out.append(
            learn_zone_static(ZoneConfig(zone, history_file=files[zone], forecaster=forecaster))
        )
    return tuple(out)


@guarded
def serve_cmd(
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML file: service, executors, zones.")
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Listen address (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Listen port (default 8642).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Job store, executor state, lock.")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="postgresql://USER@HOST:PORT/DB (default: SQLite in --data-dir)."
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Bearer token for the API (or CARBONSHIFT_API_TOKEN); required beyond loopback.",
        ),
    ] = None,
    replan_every: Annotated[
        str | None, typer.Option("--replan-every", help="Planning pass cadence (default 15m).")
    ] = None,
    safety_margin: Annotated[
        str | None,
        typer.Option("--safety-margin", help="Latest safe start = deadline − duration − this."),
    ] = None,
    dispatch_ahead: Annotated[
        str | None,
        typer.Option("--dispatch-ahead", help="Hand jobs to executors this long before start."),
    ] = None,
    poll_every: Annotated[
        str | None, typer.Option("--poll-every", help="Executor polling (wall clock, 2s).")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Folder of zone traces; forecasts from their history."),
    ] = None,
    zone: Annotated[
        list[str] | None, typer.Option("--zone", help="Zone of --data (repeat for several).")
    ] = None,
    forecaster: Annotated[
        str, typer.Option("--forecaster", help="Forecaster for --data zones.")
    ] = "seasonal_24h",
    clock_speed: Annotated[
        float | None,
        typer.Option(
            "--clock-speed", help="Run the service clock this many times faster (demos and tests)."
        ),
    ] = None,
    clock_origin: Annotated[
        str | None,
        typer.Option(
            "--clock-origin",
            help="Where a fast clock starts (ISO UTC); keep it to "
            "continue the same timeline after a restart.",
        ),
    ] = None,
    clock_anchor: Annotated[
        str | None,
        typer.Option(
            "--clock-anchor",
            help="The wall-clock time at which the clock reads --clock-origin (default: the "
            "origin itself), or 'now'; an origin in 2022 anchored now replays history (give a "
            "fixed time to continue the same timeline after a restart).",
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="warning, info, debug.")
    ] = "warning",
) -> None:
    """Run the scheduler service: REST API, planning loop and executors in one process."""
    from carbonshift.service.daemon import serve

    cfg = load_config(config) if config is not None else ServiceConfig()
    if data is not None:
        cfg = cfg.with_overrides(zones=_zones_from_data(data, list(zone or []), forecaster))
    elif zone:
        raise UsageError("--zone: needs --data (or define zones in --config)")
    margin = _seconds(safety_margin, "--safety-margin")
    cfg = cfg.with_overrides(
        host=host,
        port=port,
        data_dir=data_dir,
        db_url=db,
        token=resolve_token(token) or cfg.token,
        replan_every_s=_seconds(replan_every, "--replan-every"),
        safety_margin_s=None if margin is None else round(margin),
        dispatch_ahead_s=_seconds(dispatch_ahead, "--dispatch-ahead"),
        poll_every_s=_seconds(poll_every, "--poll-every"),
        clock_speed=clock_speed,
        clock_origin=None
        if clock_origin is None
        else parse_time(clock_origin, field="--clock-origin"),
        clock_anchor=None
        if clock_anchor is None
        else datetime.now(UTC)
        if clock_anchor.strip().lower() == "now"
        else parse_time(clock_anchor, field="--clock-anchor"),
    )
    serve(cfg, log_level=log_level)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the command line."""
    app.command("serve")(serve_cmd)
