"""A self-contained HTML report of a comparison: the results table and three figures as
inline PNGs (matplotlib, base64): a sample week of intensity with the windows each policy
chose, the reduction by policy and zone, and the delay distribution per policy."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np

from carbonshift.simulate.comparison import Comparison
from carbonshift.simulate.render import _table, caption

__all__ = ["figures", "to_html"]

_COLORS = {"immediate": "#7f7f7f", "static": "#1f77b4", "dynamic": "#ff7f0e", "oracle": "#2ca02c"}


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def figures(c: Comparison, sample_days: int = 7) -> dict[str, str]:
    """Title → base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    homes = list(dict.fromkeys(k[0] for k in c.decisions))
    policies = list(dict.fromkeys(k[1] for k in c.decisions))
    home = homes[0]
    any_d = c.decisions[(home, policies[0])]
    if len(any_d):
        lo = int(any_d.workload.submit_s.min())
        hi = lo + sample_days * 86_400
        fig, ax = plt.subplots(figsize=(11, 3.6))
        first = c.decisions[(home, policies[0])]
        sel = (first.workload.submit_s >= lo) & (first.workload.submit_s < hi)
        for i, p in enumerate(policies):
            d = c.decisions[(home, p)].select(sel)
            for j in range(0, len(d), max(1, len(d) // 12)):
                ax.hlines(
                    i,
                    (d.start_s[j] - lo) / 3600,
                    (d.end_s[j] - lo) / 3600,
                    color=_COLORS.get(p, "k"),
                    lw=6,
                )
        ax.set_yticks(range(len(policies)), policies)
        ax.set_xlabel(f"hours after the first arrival ({home}, sample of jobs)")
        ax.set_title(f"{home}: chosen windows (sampled jobs, first {sample_days} days)")
        ax2 = ax.twinx()
        imm = c.decisions.get((home, "immediate"))
        if imm is not None and len(imm):
            m = (imm.start_s >= lo) & (imm.start_s < hi)
            ax2.plot((imm.start_s[m] - lo) / 3600, imm.mean_intensity_g_per_kwh[m], "k-", lw=0.8)
            ax2.set_ylabel("intensity at arrival, g/kWh (actual)")
        out["Intensity and chosen windows"] = _png(fig)
        plt.close(fig)
    rows = [r for r in c.rows if r.reduction_vs_immediate_pct is not None]
    if rows:
        fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(homes) * len(policies)), 3.8))
        width = 0.8 / len(policies)
        for i, p in enumerate(policies):
            vals = [
                next(
                    (r.reduction_vs_immediate_pct for r in rows if r.zone == h and r.policy == p), 0
                )
                or 0
                for h in homes
            ]
            ax.bar(np.arange(len(homes)) + i * width, vals, width, label=p, color=_COLORS.get(p))
        ax.set_xticks(np.arange(len(homes)) + 0.4 - width / 2, homes, rotation=90)
        ax.set_ylabel("reduction vs immediate, %")
        ax.legend()
        ax.set_title("Reduction by policy and zone (actual intensity)")
        out["Reduction by policy and zone"] = _png(fig)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for p in policies:
        delays = np.concatenate([c.decisions[(h, p)].delay_s for h in homes]) / 3600
        if delays.size:
            ax.hist(delays, bins=50, histtype="step", label=p, color=_COLORS.get(p))
    ax.set_xlabel("delay (start - submit), h")
    ax.set_ylabel("jobs")
    ax.legend()
    ax.set_title("Delay distribution")
    out["Delay distribution"] = _png(fig)
    plt.close(fig)
    return out


def to_html(c: Comparison) -> str:
    head, body = _table(c.rows)
    table = "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
    for b in body:
        table += "<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in b) + "</tr>"
    table += "</table>"
    figs = "".join(
        f"<h2>{html.escape(t)}</h2><img alt='{html.escape(t)}' src='data:image/png;base64,{b}'/>"
        for t, b in figures(c).items()
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in dict.fromkeys(c.notes))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>carbonshift compare</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head><body>"
        f"<h1>carbonshift compare</h1><p>{html.escape(caption(c))}</p>{table}{figs}"
        f"<ul>{notes}</ul></body></html>\n"
    )
