"""``carbonshift report``: energy, emissions and savings from a ledger, with the methods stated,
a GHG Protocol Scope 2 summary and an optional CodeCarbon-compatible ``emissions.csv``."""

from __future__ import annotations

import csv
import math
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from carbonshift.accounting.codecarbon import codecarbon_rows, write_codecarbon_csv
from carbonshift.accounting.ledger import Ledger
from carbonshift.accounting.render import render_report
from carbonshift.accounting.report import build_report
from carbonshift.cli.common import err_console, guarded
from carbonshift.errors import UsageError
from carbonshift.timeutil import parse_time, to_epoch_s

__all__ = ["read_market_factors", "register"]


class By(str, Enum):
    zone = "zone"
    month = "month"
    job = "job"
    user = "user"


class Fmt(str, Enum):
    text = "text"
    csv = "csv"
    json = "json"
    markdown = "markdown"
    html = "html"


def read_market_factors(path: Path) -> dict[str, float]:
    """Per-zone contractual factors from a CSV with columns ``zone`` and ``g_per_kwh``."""
    if not path.is_file():
        raise UsageError(f"--market-factors: no file at {path}", hint="give a CSV: zone,g_per_kwh")
    out: dict[str, float] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = set(reader.fieldnames or [])
        if not {"zone", "g_per_kwh"} <= cols:
            raise UsageError(
                f"--market-factors: {path} needs columns zone and g_per_kwh "
                f"(found {', '.join(sorted(cols)) or 'none'})",
                hint="write a header line: zone,g_per_kwh",
            )
        for i, row in enumerate(reader, start=2):
            try:
                value = float(row["g_per_kwh"])
            except (TypeError, ValueError):
                value = math.nan
            if not math.isfinite(value) or value < 0:
                raise UsageError(
                    f"--market-factors: {path} line {i}: {row['g_per_kwh']!r} is not a factor "
                    "in g/kWh >= 0"
                )
            out[row["zone"].strip()] = value
    return out


@guarded
def report_cmd(
    ledger: Annotated[
        str,
        typer.Option(
            "--ledger",
            help="Ledger to report on: a SQLite file, or a database URL (the service's --db).",
        ),
    ],
    start: Annotated[
        str | None, typer.Option("--from", help="Period start, ISO 8601 UTC [default: all].")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Period end (exclusive) [default: all].")
    ] = None,
    by: Annotated[
        By, typer.Option("--by", help="Group rows by zone, month, job or user.")
    ] = By.zone,
    fmt: Annotated[Fmt, typer.Option("--format", help="Output format.")] = Fmt.text,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the report here instead of stdout.")
    ] = None,
    market_factor: Annotated[
        float | None,
        typer.Option(
            "--market-factor", help="Contractual factor (g CO2e/kWh) for market-based Scope 2."
        ),
    ] = None,
    market_factors: Annotated[
        Path | None,
        typer.Option("--market-factors", help="CSV of per-zone factors: zone,g_per_kwh."),
    ] = None,
    codecarbon_out: Annotated[
        Path | None,
        typer.Option("--codecarbon-out", help="Also write a CodeCarbon-compatible emissions.csv."),
    ] = None,
    project_name: Annotated[
        str, typer.Option("--project-name", help="project_name column of the CodeCarbon export.")
    ] = "carbonshift",
) -> None:
    """Energy, emissions and savings from a ledger, with meters and signal labels stated."""
    start_s = to_epoch_s(parse_time(start, field="--from")) if start else None
    end_s = to_epoch_s(parse_time(end, field="--to")) if end else None
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise UsageError(
            "--to must come after --from", hint="e.g. --from 2024-01-01 --to 2024-02-01"
        )
    if market_factor is not None and market_factors is not None:
        raise UsageError(
            "--market-factor and --market-factors are exclusive",
            hint="give one factor for all zones or a CSV of per-zone factors",
        )
    if market_factor is not None and not (math.isfinite(market_factor) and market_factor >= 0):
        raise UsageError(f"--market-factor: {market_factor} is not a factor in g/kWh >= 0")
    factors = read_market_factors(market_factors) if market_factors is not None else None
    source = ""
    if market_factor is not None:
        source = f"{market_factor:g} g/kWh for every zone (--market-factor)"
    elif market_factors is not None:
        source = f"{market_factors} (--market-factors)"
    target: str | Path = ledger if "://" in ledger else Path(ledger)
    if isinstance(target, Path) and target.is_dir():
        raise UsageError(f"--ledger: {ledger} is a folder", hint="give the ledger file")
    store = Ledger(target, create=False)
    try:
        records = store.records()
    finally:
        store.close()
    report = build_report(
        records,
        start_s=start_s,
        end_s=end_s,
        by=by.value,
        market_factors=factors,
        market_factor_all=market_factor,
        market_factor_source=source,
    )
    text = render_report(report, fmt.value)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {out}", highlight=False)
    else:
        sys.stdout.write(text)
    if codecarbon_out is not None:
        lo = -math.inf if start_s is None else start_s
        hi = math.inf if end_s is None else end_s
        in_period = [r for r in records if lo <= r.interval_start_s < hi]
        rows = codecarbon_rows(in_period, project_name=project_name)
        write_codecarbon_csv(codecarbon_out, rows)
        err_console.print(f"wrote {len(rows)} run(s) to {codecarbon_out}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
