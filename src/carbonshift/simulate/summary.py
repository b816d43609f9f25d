"""``ResultRow``: one (home zone, policy) line of a comparison, computed from decisions.

Every figure is on the **actual** intensity of the series named by the comparison's signal
labels. ``reduction_vs_immediate_pct`` is ``100 × (E_immediate − E_policy) / E_immediate``
over the same jobs (emissions summed over jobs, i.e. weighted by energy);
``capture_of_oracle_pct`` is the policy's reduction as a share of the oracle's
(``100 × (E_imm − E_pol) / (E_imm − E_oracle)``; ``None`` when the oracle saves nothing or was
not run). Delays are start minus submit, in hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from carbonshift.simulate.decisions import Decisions

__all__ = ["ResultRow", "result_rows"]


@dataclass(frozen=True)
class ResultRow:
    zone: str
    policy: str
    jobs: int
    energy_kwh: float
    emissions_kg: float
    mean_intensity_g_per_kwh: float | None
    reduction_vs_immediate_pct: float | None
    capture_of_oracle_pct: float | None
    mean_delay_h: float | None
    p95_delay_h: float | None
    deadline_misses: int
    fallbacks: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _round(x: float | None, nd: int) -> float | None:
    if x is None or not np.isfinite(x):
        return None
    return round(float(x), nd)


def _pct(base: float | None, other: float | None, oracle: float | None) -> float | None:
    if base is None or other is None or oracle is None:
        return None
    room = base - oracle
    if abs(room) < 1e-12 * max(abs(base), 1.0):
        return None
    return 100.0 * (base - other) / room


def result_rows(home: str, by_policy: Mapping[str, Decisions]) -> list[ResultRow]:
    """The result line of each policy for the jobs of one home zone."""
    totals: dict[str, float] = {}
    for name, d in by_policy.items():
        totals[name] = float(np.sum(d.emissions_g))
    base = totals.get("immediate")
    oracle = totals.get("oracle")
    rows = []
    for name, d in by_policy.items():
        energy = float(np.sum(d.workload.power_w * d.run_s) / 3.6e6)
        grams = totals[name]
        delay_h = d.delay_s / 3600.0
        reduction = None
        if base is not None and base > 0:
            reduction = 100.0 * (base - grams) / base
        rows.append(
            ResultRow(
                zone=home,
                policy=name,
                jobs=len(d),
                energy_kwh=round(energy, 6),
                emissions_kg=round(grams / 1000.0, 6),
                mean_intensity_g_per_kwh=_round(grams / energy if energy else None, 3),
                reduction_vs_immediate_pct=_round(reduction, 3),
                capture_of_oracle_pct=_round(_pct(base, grams, oracle), 2),
                mean_delay_h=_round(float(delay_h.mean()) if len(d) else None, 3),
                p95_delay_h=_round(float(np.percentile(delay_h, 95)) if len(d) else None, 3),
                deadline_misses=int(d.deadline_missed.sum()),
                fallbacks=int(d.fallback.sum()),
            )
        )
    return rows
