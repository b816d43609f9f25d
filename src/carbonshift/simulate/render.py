"""Rendering a :class:`Comparison`: text, Markdown, JSON and the decisions CSV.

Every table is headed by the signal its numbers are on and the baseline they are measured
against, so no figure travels without its labels.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from carbonshift.simulate.comparison import Comparison
from carbonshift.simulate.summary import ResultRow
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = [
    "DECISION_COLUMNS",
    "caption",
    "to_json",
    "to_markdown",
    "to_text",
    "write_decisions",
]

DECISION_COLUMNS = (
    "job_id",
    "policy",
    "home_zone",
    "zone",
    "submit_time",
    "decision_time",
    "start",
    "end",
    "deadline",
    "mean_intensity_g_per_kwh",
    "emissions_g",
)

_HEAD = (
    ("zone", "zone"),
    ("policy", "policy"),
    ("jobs", "jobs"),
    ("energy_kwh", "energy kWh"),
    ("emissions_kg", "kgCO2eq"),
    ("mean_intensity_g_per_kwh", "mean g/kWh"),
    ("reduction_vs_immediate_pct", "reduction vs immediate %"),
    ("capture_of_oracle_pct", "of oracle %"),
    ("mean_delay_h", "mean delay h"),
    ("p95_delay_h", "p95 delay h"),
    ("deadline_misses", "misses"),
)


def caption(c: Comparison) -> str:
    """One line: period, signal labels, baseline, forecast and static slot."""
    lab = c.labels
    parts = [
        f"{format_time(from_epoch_s(c.spec.from_s))}..{format_time(from_epoch_s(c.spec.to_s))}",
        f"signal: {lab.get('signal')}, {lab.get('accounting')}, {lab.get('basis')}-based, "
        f"evaluated on actuals ({lab.get('unit')}, provider {lab.get('provider')})",
        "baseline: immediate",
    ]
    if "forecast" in lab:
        parts.append(
            f"dynamic: forecast {lab['forecast']}, re-plan every {lab['replan_every_s'] // 60} min"
        )
    if "static" in lab:
        parts.append(f"static: {lab['static']}")
    if c.spec.relocate:
        parts.append("relocation across " + ",".join(c.spec.zones))
    if c.spec.capacity is not None:
        parts.append(f"capacity {c.spec.capacity} GPUs/zone")
    return "; ".join(parts)


def _cell(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def _table(rows: Sequence[ResultRow]) -> tuple[list[str], list[list[str]]]:
    head = [h for _, h in _HEAD]
    body = [[_cell(getattr(r, k)) for k, _ in _HEAD] for r in rows]
    return head, body


def to_text(c: Comparison) -> str:
    head, body = _table(c.rows)
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = [caption(c), "  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(x.rjust(w) for x, w in zip(b, widths, strict=True)) for b in body]
    lines += [f"note: {n}" for n in dict.fromkeys(c.notes)]
    return "\n".join(lines) + "\n"


def to_markdown(c: Comparison) -> str:
    head, body = _table(c.rows)
    out = [f"_{caption(c)}_", "", "| " + " | ".join(head) + " |"]
    out.append("|" + "|".join("---" for _ in head) + "|")
    out += ["| " + " | ".join(b) + " |" for b in body]
    if c.capacity_batches:
        out += ["", *(f"- {b.describe()}" for b in c.capacity_batches)]
    return "\n".join(out) + "\n"


def to_json(c: Comparison) -> str:
    data: dict[str, Any] = c.to_dict()
    return json.dumps(data, indent=2) + "\n"


def write_decisions(c: Comparison, path: Path) -> int:
    """Write one row per job and policy; returns the number of rows."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(DECISION_COLUMNS)
    n = 0
    for (home, policy), d in c.decisions.items():
        w = d.workload
        fmt = np.vectorize(lambda s: format_time(from_epoch_s(int(s))), otypes=[str])
        cols = [
            w.job_id,
            np.full(len(d), policy),
            np.full(len(d), home),
            d.zone,
            fmt(w.submit_s) if len(d) else [],
            fmt(d.decision_s) if len(d) else [],
            fmt(d.start_s) if len(d) else [],
            fmt(d.end_s) if len(d) else [],
            fmt(w.deadline_s) if len(d) else [],
            np.round(d.mean_intensity_g_per_kwh, 4),
            np.round(d.emissions_g, 4),
        ]
        writer.writerows(zip(*cols, strict=True))
        n += len(d)
    path.write_text(buf.getvalue())
    return n
