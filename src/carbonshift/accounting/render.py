"""Rendering a :class:`~carbonshift.accounting.report.Report` as text, CSV, JSON, Markdown or
HTML. Every format but CSV states the methods: meters, signal labels, provisional vs final."""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Literal

from carbonshift.accounting.report import Report, ReportRow

__all__ = ["ReportFormat", "render_report"]

ReportFormat = Literal["text", "csv", "json", "markdown", "html"]

_HEADERS = (
    "signal",
    "jobs",
    "energy kWh",
    "emissions kg",
    "no intensity kWh",
    "provisional kWh",
    "saved vs immediate",
    "saved vs static",
    "room left to oracle",
)
CSV_COLUMNS = (
    "group",
    "signal",
    "jobs",
    "records",
    "energy_kwh",
    "emissions_kg",
    "unattributed_energy_kwh",
    "provisional_energy_kwh",
    "saved_vs_immediate_kg",
    "saved_vs_immediate_pct",
    "saved_vs_static_kg",
    "saved_vs_static_pct",
    "room_left_to_oracle_kg",
    "room_left_to_oracle_pct",
)


def _num(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}g}" if value else "0"


def _saving(row: ReportRow, scenario: str) -> str:
    s = row.savings.get(scenario)
    if s is None:
        return "-"
    pct = f", {s.saved_pct:.1f}%" if s.saved_pct is not None else ""
    return f"{s.saved_g / 1000.0:.4g} kg{pct} ({s.jobs} job{'s' if s.jobs != 1 else ''})"


def _cells(row: ReportRow) -> list[str]:
    return [
        row.key,
        row.signal,
        str(row.jobs),
        _num(row.energy_kwh),
        _num(row.emissions_kg),
        _num(row.unattributed_energy_kwh),
        _num(row.provisional_energy_kwh),
        _saving(row, "immediate"),
        _saving(row, "static"),
        _saving(row, "oracle"),
    ]


def _period(report: Report) -> str:
    d = report.to_dict()["period"]
    return f"{d['from'] or 'start'} .. {d['to'] or 'end'}"


def _sections(report: Report) -> list[tuple[str, list[str]]]:
    """Scope 2, methods and notes as (title, lines)."""
    s2 = report.scope2
    scope = [
        f"energy: {_num(s2.energy_kwh, 6)} kWh",
        f"location-based: {s2.location_based_g / 1000.0:.6g} kg CO2e "
        f"({s2.location_based_g / 1e6:.4g} t) on "
        + (", ".join(s2.location_signals) or "no average-signal records"),
    ]
    if s2.excluded_marginal_kwh:
        scope.append(
            f"{_num(s2.excluded_marginal_kwh)} kWh measured on marginal signals left out of "
            "location-based (it uses grid-average factors)"
        )
    if s2.unattributed_kwh:
        scope.append(f"{_num(s2.unattributed_kwh)} kWh had no intensity: no emissions counted")
    if s2.market_based_g is None:
        scope.append("market-based: not computed (give --market-factor or --market-factors)")
    else:
        scope.append(
            f"market-based: {s2.market_based_g / 1000.0:.6g} kg CO2e "
            f"(factors: {s2.market_factor_source or 'given'})"
        )
        if s2.market_uncovered_zones:
            scope.append(
                f"no contractual factor for {', '.join(s2.market_uncovered_zones)}: "
                f"{_num(s2.market_uncovered_kwh)} kWh left out of market-based"
            )
    m = report.methods
    methods = [f"meter: {x['meter']} [records: {x['records']}]" for x in m.get("meters", [])]
    methods += [f"signal: {x['labels']} [records: {x['records']}]" for x in m.get("signals", [])]
    methods.append(
        f"records: {m.get('final_records', 0)} final, {m.get('provisional_records', 0)} "
        f"provisional (forecast intensity), {m.get('records_without_intensity', 0)} without "
        f"intensity, {m.get('records_on_filled_intensity', 0)} on filled intensity, "
        f"{m.get('corrections', 0)} corrections"
    )
    methods.append(f"integration: {m.get('integration', '')}")
    methods.append(
        "savings: the same measured power profile placed at the baseline's start, "
        "on actual intensity; room left to oracle is reported apart"
    )
    out = [("Scope 2 (GHG Protocol)", scope), ("Methods", methods)]
    if report.notes:
        out.append(("Notes", list(report.notes)))
    return out


def _text(report: Report) -> str:
    header = [report.by, *_HEADERS]
    body = [_cells(r) for r in report.rows] + [_cells(r) for r in report.totals]
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [f"carbonshift report: {_period(report)}, by {report.by}", "", line(header)]
    out += [line(c) for c in body[: len(report.rows)]]
    out.append(line(["-" * w for w in widths]))
    out += [line(c) for c in body[len(report.rows) :]]
    for title, lines in _sections(report):
        out += ["", title] + [f"  {x}" for x in lines]
    return "\n".join(out) + "\n"


def _csv(report: Report) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in (*report.rows, *report.totals):
        cells: list[object] = [
            r.key,
            r.signal,
            r.jobs,
            r.records,
            r.energy_kwh,
            r.emissions_kg,
            r.unattributed_energy_kwh,
            r.provisional_energy_kwh,
        ]
        for scenario in ("immediate", "static", "oracle"):
            s = r.savings.get(scenario)
            cells += ["", ""] if s is None else [s.saved_g / 1000.0, s.saved_pct]
        writer.writerow(["" if c is None else c for c in cells])
    return buf.getvalue()


def _markdown(report: Report) -> str:
    def md(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    header = [report.by, *_HEADERS]
    out = [f"# carbonshift report: {_period(report)}", "", md(header)]
    out.append("|" + "|".join("---" for _ in header) + "|")
    out += [md(_cells(r)) for r in report.rows]
    out += [
        md([f"**{c}**" if i == 0 else c for i, c in enumerate(_cells(r))]) for r in report.totals
    ]
    for title, lines in _sections(report):
        out += ["", f"## {title}", ""] + [f"- {x}" for x in lines]
    return "\n".join(out) + "\n"


def _html(report: Report) -> str:
    esc = html.escape
    header = [report.by, *_HEADERS]
    rows = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in _cells(r)) + "</tr>" for r in report.rows
    )
    totals = "".join(
        '<tr class="total">' + "".join(f"<th>{esc(c)}</th>" for c in _cells(r)) + "</tr>"
        for r in report.totals
    )
    sections = "".join(
        f"<h2>{esc(t)}</h2><ul>" + "".join(f"<li>{esc(x)}</li>" for x in lines) + "</ul>"
        for t, lines in _sections(report)
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>carbonshift report {esc(_period(report))}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}</style></head><body>"
        f"<h1>carbonshift report: {esc(_period(report))}, by {esc(report.by)}</h1>"
        "<table><thead><tr>"
        + "".join(f"<th>{esc(h)}</th>" for h in header)
        + f"</tr></thead><tbody>{rows}{totals}</tbody></table>{sections}</body></html>\n"
    )


def render_report(report: Report, fmt: ReportFormat = "text") -> str:
    """The report in one format."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    if fmt == "csv":
        return _csv(report)
    if fmt == "markdown":
        return _markdown(report)
    if fmt == "html":
        return _html(report)
    return _text(report)
