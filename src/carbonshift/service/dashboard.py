"""The dashboard: one self-contained HTML page of what the service does and what it saved.

``GET /dashboard`` (the same access rule as ``/v1``; ``GET /`` leads there). No script and no
external asset, so it works offline and under strict content-security policies; it reloads
itself every ``?refresh=`` seconds (30 by default, 0 for never). It shows:

- totals from the ledger, the figures ``carbonshift report --by zone`` prints: energy,
  emissions, savings against starting at once and against the static slot, and the room left
  to perfect foresight, per zone and signal (every intensity with its labels);
- each zone: forecast status, source and fallback reason, the intensity now, the static slot,
  and a chart of the forecast from a few hours back to its end (steps, as the planner reads
  them) with the planned windows of the zone's jobs and a line at now;
- the newest jobs: state, zone, planned window, deadline, fallback, energy, emissions, savings.

:func:`collect` reads the service (store, forecast book, ledger); :func:`render` is a pure
function of what was collected.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carbonshift.accounting.report import build_report
from carbonshift.service.accountant import format_saving
from carbonshift.service.lifecycle import State
from carbonshift.service.records import JobRow
from carbonshift.timeutil import format_time, from_epoch_s

if TYPE_CHECKING:
    from carbonshift.service.daemon import Service

__all__ = ["Dashboard", "ZoneCard", "collect", "render"]

_SCHEDULED = [State.PLANNED, State.DISPATCHING, State.WAITING, State.RUNNING, State.PAUSED]
_MAX_POINTS = 2000
_MAX_WINDOWS = 1000
CHART_W, CHART_H, PAD_L, PAD_B = 720, 170, 46, 22
"""Chart size in px, with room for the y labels (left) and the time labels (bottom)."""


@dataclass(frozen=True)
class ZoneCard:
    """One zone's status and the part of its forecast to draw."""

    name: str
    status: str
    source: str
    reason: str
    signal: str
    current_g_per_kwh: float | None
    static_slot: str | None
    capacity_gpus: int | None
    start_s: int
    resolution_s: int
    values: tuple[float, ...]
    """Step values from ``start_s`` every ``resolution_s`` (NaN where unknown)."""
    windows: tuple[tuple[float, float, int, str], ...]
    """(start_s, end_s, job id, state) of the zone's planned or running work."""


@dataclass(frozen=True)
class Dashboard:
    """Everything the page shows, read at one moment."""

    now_s: float
    clock: str
    store: str
    measure: bool
    counts: Mapping[str, int]
    totals: tuple[Mapping[str, Any], ...]
    zones: tuple[ZoneCard, ...]
    jobs: tuple[tuple[JobRow, tuple[str, Mapping[str, Any]] | None], ...]


def collect(service: Service, *, jobs_limit: int = 50, back_s: int = 6 * 3600) -> Dashboard:
    """Read the service's store, forecast book and ledger for the page."""
    now_s = service.clock.now().timestamp()
    store = service.store
    scheduled = store.list_jobs(_SCHEDULED)
    zones = []
    for zc in service.config.zones:
        view = service.book.view(zc.name)
        series = view.series if view is not None else None
        start_s, res, signal = int(now_s), 3600, ""
        values: tuple[float, ...] = ()
        if series is not None:
            res = series.resolution_s
            first = max(0, int((now_s - back_s - series.start_s) // res))
            chunk = series.values[first : first + _MAX_POINTS]
            start_s, values = series.start_s + first * res, tuple(float(v) for v in chunk)
            signal = series.labels.describe()
        end_s = start_s + res * len(values)
        windows = tuple(
            (a, b, r.id, r.state.value)
            for r in scheduled
            if r.planned_zone == zc.name
            for a, b in (r.segments or ((r.planned_start_s or 0.0, r.planned_end_s or 0.0),))
            if b > a and b > start_s and a < end_s  # drawn only where the chart is
        )[:_MAX_WINDOWS]
        zones.append(
            ZoneCard(
                name=zc.name,
                status=view.status if view is not None else "none",
                source=view.source if view is not None else zc.source,
                reason=view.reason if view is not None else "",
                signal=signal,
                current_g_per_kwh=view.value_at(now_s) if view is not None else None,
                static_slot=zc.static_slot,
                capacity_gpus=zc.capacity_gpus,
                start_s=start_s,
                resolution_s=res,
                values=values,
                windows=windows,
            )
        )
    totals: tuple[Mapping[str, Any], ...] = ()
    if service.ledger is not None:
        report = build_report(service.ledger.records(), by="zone")
        totals = tuple(row.to_dict() for row in report.rows)
    jobs = store.list_jobs(limit=jobs_limit, newest_first=True)
    accounts = store.accounts_for([j.id for j in jobs])
    return Dashboard(
        now_s=now_s,
        clock=service.clock.describe(),
        store=store.dialect,
        measure=service.config.measure,
        counts=store.count_by_state(),
        totals=totals,
        zones=tuple(zones),
        jobs=tuple((j, accounts.get(j.id)) for j in jobs),
    )


# -- rendering ------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _t(epoch_s: float | None) -> str:
    return "" if epoch_s is None else format_time(from_epoch_s(epoch_s))


def _num(value: float | None, fmt: str = "{:.4g}", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return fmt.format(value) + unit


def _saving(entry: Mapping[str, Any] | None) -> str:
    return format_saving(entry) or "–"


def chart_x(t_s: float, lo_s: float, hi_s: float) -> float:
    """The x pixel of time ``t_s`` on a chart spanning ``[lo_s, hi_s)``."""
    return PAD_L + (CHART_W - PAD_L - 4) * (t_s - lo_s) / max(1.0, hi_s - lo_s)


def _chart(card: ZoneCard, now_s: float) -> str:
    if not card.values:
        return '<p class="muted">no forecast to draw</p>'
    lo_s = card.start_s
    hi_s = card.start_s + card.resolution_s * len(card.values)
    finite = [v for v in card.values if not math.isnan(v)]
    top = max(finite, default=1.0) * 1.1 or 1.0
    plot_h = CHART_H - PAD_B - 6

    def y(v: float) -> float:
        return 6 + plot_h * (1 - v / top)

    parts = [
        f'<svg class="chart" width="{CHART_W}" height="{CHART_H}" '
        f'viewBox="0 0 {CHART_W} {CHART_H}" role="img" '
        f'aria-label="{_e(card.name)} forecast">'
    ]
    for a, b, job_id, state in card.windows:
        x0, x1 = chart_x(max(a, lo_s), lo_s, hi_s), chart_x(min(b, hi_s), lo_s, hi_s)
        if x1 > x0:
            parts.append(
                f'<rect class="window {_e(state)}" x="{x0:.1f}" y="6" width="{x1 - x0:.1f}" '
                f'height="{plot_h:.1f}"><title>job {job_id} ({_e(state)}): {_t(a)} .. {_t(b)}'
                "</title></rect>"
            )
    path: list[str] = []
    for i, v in enumerate(card.values):
        if math.isnan(v):
            continue
        a_s = lo_s + i * card.resolution_s
        x0, x1 = chart_x(a_s, lo_s, hi_s), chart_x(a_s + card.resolution_s, lo_s, hi_s)
        move = "M" if i == 0 or math.isnan(card.values[i - 1]) else "L"
        path.append(f"{move}{x0:.1f},{y(v):.1f}L{x1:.1f},{y(v):.1f}")
    parts.append(f'<path class="intensity" d="{"".join(path)}"/>')
    if lo_s <= now_s <= hi_s:
        xn = chart_x(now_s, lo_s, hi_s)
        parts.append(f'<line class="now" x1="{xn:.1f}" x2="{xn:.1f}" y1="2" y2="{6 + plot_h}"/>')
    base = 6 + plot_h
    parts.append(f'<line class="axis" x1="{PAD_L}" x2="{CHART_W - 4}" y1="{base}" y2="{base}"/>')
    for v in (0.0, top / 1.1):
        parts.append(f'<text x="{PAD_L - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
    for t_s, anchor in ((lo_s, "start"), (hi_s, "end")):
        parts.append(
            f'<text x="{chart_x(t_s, lo_s, hi_s):.1f}" y="{CHART_H - 4}" '
            f'text-anchor="{anchor}">{_t(t_s)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2327;background:#fff}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}
table{border-collapse:collapse;margin:.3em 0}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top}th{background:#f3f5f6}td.n{text-align:right}
.muted{color:#6b7378}.zone{margin:1em 0;padding:.6em .8em;border:1px solid #ddd;border-radius:6px}
.status-fresh{color:#1a7f37}.status-stale{color:#b35900}.status-none{color:#b3261e}
.chart text{font-size:10px;fill:#555}.chart .intensity{fill:none;stroke:#333;stroke-width:1.5}
.chart .window{fill:#2da44e;fill-opacity:.35}.chart .window.running{fill:#0969da}
.chart .now{stroke:#b3261e;stroke-dasharray:3 2}.chart .axis{stroke:#999}
"""


def _totals(d: Dashboard) -> str:
    if not d.measure:
        return '<p class="muted">energy is not measured (service.measure is off)</p>'
    if not d.totals:
        return '<p class="muted">no job accounted yet</p>'
    rows = [
        "<table><tr><th>zone</th><th>jobs</th><th>energy kWh</th><th>emissions g CO2eq</th>"
        "<th>saved vs immediate</th><th>saved vs static</th><th>room left to oracle</th>"
        "<th>intensity</th></tr>"
    ]
    for t in d.totals:
        rows.append(
            f"<tr><td>{_e(t['key'])}</td><td class=n>{t['jobs']}</td>"
            f"<td class=n>{_num(t['energy_kwh'], '{:.6g}')}</td>"
            f"<td class=n>{_num(t['emissions_g'])}</td>"
            f"<td>{_saving(t.get('savings_vs_immediate'))}</td>"
            f"<td>{_saving(t.get('savings_vs_static'))}</td>"
            f"<td>{_saving(t.get('room_left_to_oracle'))}</td>"
            f"<td class=muted>{_e(t['signal'])}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _zone(card: ZoneCard, now_s: float) -> str:
    slot = f"static slot <code>{_e(card.static_slot)}</code>" if card.static_slot else ""
    cap = "" if card.capacity_gpus is None else f"{card.capacity_gpus} GPUs"
    facts = [
        f'<span class="status-{_e(card.status)}">forecast {_e(card.status)}</span>',
        _e(card.source),
        f"now {_num(card.current_g_per_kwh, '{:.0f}', ' g/kWh')}",
        slot,
        cap,
        f"{len(card.windows)} planned windows on the chart",
    ]
    reason = f'<p class="muted">{_e(card.reason)}</p>' if card.reason else ""
    signal = f'<p class="muted">{_e(card.signal)}</p>' if card.signal else ""
    return (
        f'<div class="zone" id="zone-{_e(card.name)}">'
        f'<b><a href="/v1/zones/{_e(card.name)}">{_e(card.name)}</a></b> · '
        f"{' · '.join(f for f in facts if f)}{reason}{_chart(card, now_s)}{signal}</div>"
    )


def _jobs(jobs: Sequence[tuple[JobRow, tuple[str, Mapping[str, Any]] | None]]) -> str:
    if not jobs:
        return '<p class="muted">no jobs yet</p>'
    rows = [
        "<table><tr><th>job</th><th>state</th><th>zone</th><th>planned</th><th>deadline</th>"
        "<th>fallback</th><th>energy kWh</th><th>emissions g</th><th>saved vs immediate</th>"
        "<th>vs static</th></tr>"
    ]
    for row, account in jobs:
        summary: Mapping[str, Any] = account[1] if account else {}
        status = account[0] if account else ""
        label = row.name or " ".join(row.command)[:60]
        planned = (
            f"{_t(row.planned_start_s)} .. {_t(row.planned_end_s)}"
            if row.planned_start_s is not None
            else ""
        )
        fallback = (
            f'<span title="{_e(row.fallback_reason or "")}">{_e(row.fallback_level)}</span>'
            if row.fallback_level
            else ""
        )
        emissions = _num(summary.get("emissions_g"))
        if status:
            emissions += f' <span class="muted">{_e(status)}</span>'
        rows.append(
            f'<tr id="job-{row.id}"><td><a href="/v1/jobs/{row.id}">{row.id}</a> '
            f'<span class="muted">{_e(label)}</span></td>'
            f"<td>{_e(row.state.value)}</td><td>{_e(row.planned_zone or '')}</td>"
            f"<td>{planned}</td><td>{_t(row.deadline_s)}</td><td>{fallback}</td>"
            f"<td class=n>{_num(summary.get('energy_kwh'), '{:.6g}')}</td>"
            f"<td class=n>{emissions}</td>"
            f"<td>{_saving(summary.get('savings_vs_immediate'))}</td>"
            f"<td>{_saving(summary.get('savings_vs_static'))}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def render(d: Dashboard, *, refresh_s: int = 30) -> str:
    """The page for ``d``; it reloads itself every ``refresh_s`` seconds (0: never)."""
    meta = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s > 0 else ""
    counts = ", ".join(f"{n} {_e(s)}" for s, n in sorted(d.counts.items())) or "none"
    zones = "".join(_zone(c, d.now_s) for c in d.zones)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>carbonshift</title>{meta}<style>{_CSS}</style></head><body>"
        "<h1>carbonshift</h1>"
        f'<p class="muted">{_t(d.now_s)} · {_e(d.clock)} · store {_e(d.store)} · '
        f'jobs: <span id="counts">{counts}</span> · <a href="/docs">API</a> · '
        '<a href="/metrics">metrics</a></p>'
        f"<h2>What the finished jobs used, emitted and saved</h2>{_totals(d)}"
        f"<h2>Zones</h2>{zones}"
        f"<h2>Newest jobs</h2>{_jobs(d.jobs)}"
        "</body></html>"
    )
