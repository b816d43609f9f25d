"""Counterfactual savings: the same measured power profile placed at a baseline's start.

What a run saved is measured against what *the same run* would have emitted had it started
where a baseline policy would have started it (``immediate``: at submit; ``static``: at its
fixed slot), on the actual intensity there. The room left is measured against ``oracle``, the
best start with perfect foresight: it is reported apart from the savings and never added to
them. Savings are only stated when both placements have an intensity for every step; otherwise
the reason is given instead of a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from carbonshift.accounting.emissions import Account, account
from carbonshift.accounting.profile import PowerProfile
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = ["Counterfactuals", "Placement", "Scenario", "counterfactuals"]

Scenario = Literal["actual", "immediate", "static", "oracle"]


@dataclass(frozen=True, slots=True)
class Placement:
    """The run's power profile placed to start at ``start_s``, and its account there."""

    scenario: Scenario
    start_s: float
    account: Account

    @property
    def emissions_g(self) -> float | None:
        """Emissions when every step has an intensity, else ``None``."""
        return self.account.emissions_g if self.account.complete else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "start": format_time(from_epoch_s(self.start_s)),
            "emissions_g": self.emissions_g,
            "energy_kwh": self.account.energy_kwh,
            "complete": self.account.complete,
            "gaps": self.account.gap_summary() or None,
        }


def _difference(
    base: Placement | None, other: Placement | None, what: str
) -> tuple[float | None, float | None, str | None]:
    """``base - other`` in grams and as a share of ``base``; or why it cannot be said."""
    if base is None or other is None:
        return None, None, f"{what}: no start given"
    for p in (base, other):
        if p.emissions_g is None:
            return None, None, f"{what}: {p.scenario} placement has {p.account.gap_summary()}"
    assert base.emissions_g is not None and other.emissions_g is not None
    grams = base.emissions_g - other.emissions_g
    pct = 100.0 * grams / base.emissions_g if base.emissions_g else None
    return grams, pct, None


@dataclass(frozen=True, slots=True)
class Counterfactuals:
    """The actual run and its placements at the baselines' starts (and the oracle's)."""

    actual: Placement
    immediate: Placement | None = None
    static: Placement | None = None
    oracle: Placement | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def savings_vs_immediate_g(self) -> float | None:
        """Emissions at the immediate start minus the actual emissions (positive = saved)."""
        return _difference(self.immediate, self.actual, "vs immediate")[0]

    @property
    def savings_vs_immediate_pct(self) -> float | None:
        return _difference(self.immediate, self.actual, "vs immediate")[1]

    @property
    def savings_vs_static_g(self) -> float | None:
        """Emissions at the static slot minus the actual emissions (positive = saved)."""
        return _difference(self.static, self.actual, "vs static")[0]

    @property
    def savings_vs_static_pct(self) -> float | None:
        return _difference(self.static, self.actual, "vs static")[1]

    @property
    def room_left_to_oracle_g(self) -> float | None:
        """Actual emissions minus the oracle's: what perfect foresight would still have saved."""
        return _difference(self.actual, self.oracle, "room left to oracle")[0]

    @property
    def room_left_to_oracle_pct(self) -> float | None:
        """The room left as a share of the actual emissions."""
        return _difference(self.actual, self.oracle, "room left to oracle")[1]

    def unavailable(self) -> list[str]:
        """Why a saving or the room left could not be stated (empty when all could)."""
        out = []
        for base, other, what in (
            (self.immediate, self.actual, "vs immediate"),
            (self.static, self.actual, "vs static"),
            (self.actual, self.oracle, "room left to oracle"),
        ):
            reason = _difference(base, other, what)[2]
            if reason and (base is not None and other is not None):
                out.append(reason)
        return out

    def placements(self) -> list[Placement]:
        return [p for p in (self.actual, self.immediate, self.static, self.oracle) if p]

    def to_dict(self) -> dict[str, Any]:
        return {
            "placements": [p.to_dict() for p in self.placements()],
            "savings_vs_immediate_g": self.savings_vs_immediate_g,
            "savings_vs_immediate_pct": self.savings_vs_immediate_pct,
            "savings_vs_static_g": self.savings_vs_static_g,
            "savings_vs_static_pct": self.savings_vs_static_pct,
            "room_left_to_oracle_g": self.room_left_to_oracle_g,
            "room_left_to_oracle_pct": self.room_left_to_oracle_pct,
            "unavailable": self.unavailable(),
            "notes": list(self.notes),
        }


def counterfactuals(
    profile: PowerProfile,
    actual_intensity: IntensitySeries,
    *,
    immediate_start_s: float | None = None,
    static_start_s: float | None = None,
    oracle_start_s: float | None = None,
) -> Counterfactuals:
    """Place ``profile`` at each given start and account it on ``actual_intensity``.

    The actual placement is the profile where it ran. When the series is a forecast the
    figures are provisional (each placement's account says so); savings should be restated
    once actuals are known.
    """
    notes = []
    if actual_intensity.labels.kind != "actual":
        notes.append(
            f"provisional: counterfactuals on {actual_intensity.labels.describe()}, not actuals"
        )

    def place(scenario: Scenario, start_s: float | None) -> Placement | None:
        if start_s is None:
            return None
        moved = profile.starting_at(start_s)
        return Placement(scenario, float(start_s), account(moved, actual_intensity))

    actual = Placement("actual", profile.start_s, account(profile, actual_intensity))
    return Counterfactuals(
        actual=actual,
        immediate=place("immediate", immediate_start_s),
        static=place("static", static_start_s),
        oracle=place("oracle", oracle_start_s),
        notes=tuple(notes),
    )
