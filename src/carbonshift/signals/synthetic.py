"""A small, deterministic synthetic demo grid, used only when no real data is reachable.

The model, per zone and per hour ``t`` (UTC, hourly steps):

- demand ``D(t) = 1 + 0.18 sin(2π(h - 9)/24) + 0.08 sin(4π(h - 7)/24) - 0.07·weekend``
  (a daytime plateau, a morning and an evening shoulder, lower at weekends);
- solar ``S(t) = s_cap · max(0, sin(π(h - 6)/12)) · c(day)``, with a daily cloud factor
  ``c`` drawn uniformly in [0.35, 1];
- wind ``W(t) = w_cap · clip(x(t), 0, 1)``, with ``x`` an AR(1) process
  ``x(t) = 0.97 x(t-1) + 0.03·0.5 + N(0, 0.06)`` (slow weather fronts);
- low-carbon baseload ``B`` (nuclear, hydro) constant;
- fossil share ``F = max(0, D - S - W - B) / D``; intensity
  ``I = F · 820 + (1 - F) · 25`` gCO2eq/kWh (coal-ish marginal mix vs. low-carbon lifecycle).

Random draws come from ``numpy.random.default_rng(seed)``, so the same arguments always give
the same grid. Every series is labelled ``provider="synthetic"`` and zones are named
``SYNTH-*`` so that nothing can mistake it for real data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries

__all__ = ["SYNTHETIC_BANNER", "SyntheticZone", "synthetic_grid"]

SYNTHETIC_BANNER = "SYNTHETIC DEMO GRID - not real data (no traces found; set CARBONSHIFT_DATA)"


@dataclass(frozen=True, slots=True)
class SyntheticZone:
    name: str
    solar_capacity: float
    wind_capacity: float
    baseload: float


DEMO_ZONES = (
    SyntheticZone("SYNTH-SUNNY", solar_capacity=0.75, wind_capacity=0.15, baseload=0.10),
    SyntheticZone("SYNTH-WINDY", solar_capacity=0.10, wind_capacity=0.85, baseload=0.15),
    SyntheticZone("SYNTH-HYDRO", solar_capacity=0.15, wind_capacity=0.20, baseload=0.65),
)


def synthetic_grid(
    *,
    days: int = 28,
    start: datetime = datetime(2024, 6, 1, tzinfo=UTC),
    seed: int = 7,
    zones: tuple[SyntheticZone, ...] = DEMO_ZONES,
) -> list[IntensitySeries]:
    """Hourly synthetic series for ``zones`` over ``days`` days (see the module docstring)."""
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    start_s = int(start.timestamp())
    hour_of_day = ((start_s // 3600) + hours) % 24
    weekday = ((start_s // 86400) + hours // 24 + 3) % 7  # 1970-01-01 was a Thursday
    weekend = (weekday >= 5).astype(float)
    demand = (
        1
        + 0.18 * np.sin(2 * np.pi * (hour_of_day - 9) / 24)
        + 0.08 * np.sin(4 * np.pi * (hour_of_day - 7) / 24)
        - 0.07 * weekend
    )
    out = []
    for zone in zones:
        clouds = rng.uniform(0.35, 1.0, size=days)[hours // 24]
        solar = (
            zone.solar_capacity * np.maximum(0.0, np.sin(np.pi * (hour_of_day - 6) / 12)) * clouds
        )
        x = np.empty(hours.size)
        x[0] = 0.5
        noise = rng.normal(0.0, 0.06, size=hours.size)
        for i in range(1, hours.size):
            x[i] = 0.97 * x[i - 1] + 0.03 * 0.5 + noise[i]
        wind = zone.wind_capacity * np.clip(x, 0.0, 1.0)
        fossil = np.maximum(0.0, demand - solar - wind - zone.baseload) / demand
        intensity = fossil * 820.0 + (1.0 - fossil) * 25.0
        labels = SignalLabels(zone=zone.name, provider="synthetic")
        out.append(IntensitySeries(start_s, 3600, np.round(intensity, 2), labels))
    return out
