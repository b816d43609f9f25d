"""Known public trace datasets: which labels their columns carry.

Trace files carry no labels of their own, so an import must be told what the numbers mean.
A folder whose name matches a profile below gets that profile's labels (the user can always
override them on the command line). Everything else is read as Electricity Maps-style
``average, lifecycle, consumption`` data from provider ``file`` -- and the import says so.

Each profile maps file columns to *variants* of the zone's series: ``actual`` is the main
``carbon_intensity`` column; other variants (``direct``, ``marginal``, ``forecast``...) are
further columns stored beside it under their own labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

__all__ = ["DEFAULT_PROFILE", "PROFILES", "ColumnSpec", "DatasetProfile", "profile_for"]


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One value column of a trace file and the labels of the series it holds."""

    column: str
    variant: str
    labels: dict[str, Any] = field(default_factory=dict)
    required: bool = False


@dataclass(frozen=True, slots=True)
class DatasetProfile:
    name: str
    description: str
    columns: tuple[ColumnSpec, ...]


_MAIN = ColumnSpec("carbon_intensity", "actual", required=True)

DEFAULT_PROFILE = DatasetProfile(
    "default",
    "Electricity Maps-style traces: average, lifecycle, consumption-based",
    (
        ColumnSpec("carbon_intensity", "actual", {"provider": "file"}, required=True),
        ColumnSpec(
            "carbon_intensity_direct", "direct", {"provider": "file", "accounting": "direct"}
        ),
    ),
)

PROFILES: dict[str, DatasetProfile] = {
    "em_watttime_2022": DatasetProfile(
        "em_watttime_2022",
        "Electricity Maps average (lifecycle, direct) joined with WattTime MOER (marginal)",
        (
            ColumnSpec("carbon_intensity", "actual", {"provider": "electricitymaps"}, True),
            ColumnSpec(
                "carbon_intensity_direct",
                "direct",
                {"provider": "electricitymaps", "accounting": "direct"},
            ),
            ColumnSpec(
                "marginal_carbon_intensity",
                "marginal",
                {
                    "provider": "watttime",
                    "signal": "marginal",
                    "accounting": "direct",
                    "basis": "production",
                },
            ),
        ),
    ),
    "dacf": DatasetProfile(
        "dacf",
        "DACF (e-Energy'22): production-based direct intensity and its day-ahead forecast",
        (
            ColumnSpec(
                "carbon_intensity",
                "actual",
                {"provider": "dacf", "accounting": "direct", "basis": "production"},
                True,
            ),
            ColumnSpec(
                "forecast_carbon_intensity",
                "forecast",
                {
                    "provider": "dacf",
                    "accounting": "direct",
                    "basis": "production",
                    "kind": "forecast",
                    "lead": timedelta(hours=24),
                },
            ),
        ),
    ),
    "lets_wait_awhile": DatasetProfile(
        "lets_wait_awhile",
        "Let's Wait Awhile (Middleware'21): ENTSO-E based average lifecycle intensity",
        (ColumnSpec("carbon_intensity", "actual", {"provider": "entsoe-lwa"}, True),),
    ),
    "watttime_moer": DatasetProfile(
        "watttime_moer",
        "WattTime MOER (marginal) with WattTime's own 60-min and 5-min ahead forecasts",
        (
            ColumnSpec(
                "carbon_intensity",
                "actual",
                {
                    "provider": "watttime",
                    "signal": "marginal",
                    "accounting": "direct",
                    "basis": "production",
                },
                True,
            ),
            ColumnSpec(
                "forecast_carbon_intensity",
                "forecast",
                {
                    "provider": "watttime",
                    "signal": "marginal",
                    "accounting": "direct",
                    "basis": "production",
                    "kind": "forecast",
                    "lead": timedelta(minutes=60),
                },
            ),
            ColumnSpec(
                "forecast_carbon_intensity_5min",
                "forecast_5min",
                {
                    "provider": "watttime",
                    "signal": "marginal",
                    "accounting": "direct",
                    "basis": "production",
                    "kind": "forecast",
                    "lead": timedelta(minutes=5),
                },
            ),
        ),
    ),
}


def profile_for(name: str | None) -> DatasetProfile:
    """The profile for a folder or dataset name, else the default one."""
    if name and name in PROFILES:
        return PROFILES[name]
    return DEFAULT_PROFILE
