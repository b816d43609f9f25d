"""PNG plots of intensity series (matplotlib, headless). Titles carry the signal labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carbonshift.signals.series import IntensitySeries

__all__ = ["Highlight", "plot_series"]


@dataclass(frozen=True, slots=True)
class Highlight:
    """A shaded window on a series' panel, e.g. the cleanest start for a job."""

    zone: str
    start_s: int
    end_s: int
    label: str


def plot_series(
    series: Sequence[IntensitySeries],
    path: Path,
    *,
    title: str,
    highlights: Sequence[Highlight] = (),
    banner: str | None = None,
    markers: Sequence[tuple[int, str]] = (),
) -> Path:
    """One panel per series, drawn as steps (the value holds over its interval)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    n = max(1, len(series))
    fig, axes = plt.subplots(n, 1, figsize=(11, 2.4 * n + 0.8), sharex=False, squeeze=False)
    for ax, s in zip(axes[:, 0], series, strict=False):
        times = (s.times_s.astype("datetime64[s]")).astype("O")
        edges = np.append(s.times_s, s.end_s).astype("datetime64[s]").astype("O")
        ax.stairs(s.values, edges, baseline=None, color="#1f6f8b", linewidth=1.3)
        palette = ["#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
        labels_seen: list[str] = []
        for h in highlights:
            if h.zone == s.zone:
                if h.label not in labels_seen:
                    labels_seen.append(h.label)
                ax.axvspan(
                    np.datetime64(h.start_s, "s").astype("O"),
                    np.datetime64(h.end_s, "s").astype("O"),
                    color=palette[labels_seen.index(h.label) % len(palette)],
                    alpha=0.3,
                    label=h.label,
                )
        for at_s, text in markers:
            if s.start_s <= at_s <= s.end_s:
                ax.axvline(
                    np.datetime64(at_s, "s").astype("O"), color="#555", ls="--", lw=1, label=text
                )
        lab = s.labels
        ax.set_title(
            f"{s.zone}  ({lab.signal}, {lab.accounting}, {lab.basis}-based, {lab.kind}; "
            f"provider {lab.provider})",
            fontsize=9,
            loc="left",
        )
        ax.set_ylabel(lab.unit, fontsize=8)
        ax.grid(alpha=0.3)
        if len(times):
            ax.set_xlim(edges[0], edges[-1])
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))  # type: ignore[no-untyped-call]
        if any(h.zone == s.zone for h in highlights) or markers:
            ax.legend(fontsize=7, loc="upper right")
    suptitle = title if banner is None else f"{banner}\n{title}"
    fig.suptitle(suptitle, fontsize=11, color="#b00020" if banner else "black")
    fig.supxlabel("time (UTC)", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
