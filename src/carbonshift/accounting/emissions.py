"""Emissions of a run: the energy in each intensity step times that step's intensity.

Pure functions over a :class:`~carbonshift.accounting.profile.PowerProfile` and an
:class:`~carbonshift.signals.series.IntensitySeries`. A step with no value (a gap, or a step
outside the series) is never filled: its energy is reported as *unattributed* and the account
is marked incomplete. Figures on a forecast series are *provisional*; figures on actuals are
*final*; :func:`restate` turns a provisional account into the final one and records the change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from carbonshift.accounting.profile import J_PER_KWH, PowerProfile, StepEnergies
from carbonshift.errors import UsageError
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = ["Account", "Restatement", "Status", "StepAccount", "account", "restate"]

Status = Literal["provisional", "final"]


@dataclass(frozen=True, slots=True)
class StepAccount:
    """One intensity step a run overlapped: its energy, the step's intensity, the emissions.

    ``intensity_g_per_kwh`` and ``emissions_g`` are ``None`` where the series has no value
    (``missing``); ``outside`` says the step lies beyond the series rather than in a gap.
    ``filled`` marks a value that was filled in by the caller rather than measured.
    """

    step_start_s: int
    step_end_s: int
    interval_start_s: float
    interval_end_s: float
    energy_kwh: float
    intensity_g_per_kwh: float | None
    emissions_g: float | None
    outside: bool = False
    filled: bool = False

    @property
    def missing(self) -> bool:
        return self.intensity_g_per_kwh is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "step_start": format_time(from_epoch_s(self.step_start_s)),
            "interval_start": format_time(from_epoch_s(self.interval_start_s)),
            "interval_end": format_time(from_epoch_s(self.interval_end_s)),
            "energy_kwh": self.energy_kwh,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "emissions_g": self.emissions_g,
            "missing": self.missing,
            "outside_series": self.outside,
            "filled": self.filled,
        }


@dataclass(frozen=True, slots=True)
class Account:
    """A run's energy and emissions, step by step, on one labelled intensity series."""

    labels: SignalLabels
    start_s: float
    end_s: float
    resolution_s: int
    steps: tuple[StepAccount, ...]

    @property
    def status(self) -> Status:
        return "provisional" if self.labels.kind == "forecast" else "final"

    @property
    def energy_kwh(self) -> float:
        return math.fsum(s.energy_kwh for s in self.steps)

    @property
    def emissions_g(self) -> float:
        """Emissions of the steps that have an intensity (see :attr:`complete`)."""
        return math.fsum(s.emissions_g for s in self.steps if s.emissions_g is not None)

    @property
    def attributed_energy_kwh(self) -> float:
        return math.fsum(s.energy_kwh for s in self.steps if not s.missing)

    @property
    def unattributed_energy_kwh(self) -> float:
        """Energy in steps without an intensity value: no emissions are counted for it."""
        return math.fsum(s.energy_kwh for s in self.steps if s.missing)

    @property
    def gap_steps(self) -> tuple[StepAccount, ...]:
        return tuple(s for s in self.steps if s.missing)

    @property
    def filled_steps(self) -> tuple[StepAccount, ...]:
        return tuple(s for s in self.steps if s.filled)

    @property
    def complete(self) -> bool:
        """True when every step with energy has an intensity value."""
        return not any(s.missing and s.energy_kwh > 0 for s in self.steps)

    @property
    def mean_intensity_g_per_kwh(self) -> float | None:
        """Energy-weighted mean intensity over the attributed steps."""
        e = self.attributed_energy_kwh
        return self.emissions_g / e if e > 0 else None

    def gap_summary(self) -> str:
        """One line naming the steps without intensity and their energy (empty if none)."""
        gaps = self.gap_steps
        if not gaps:
            return ""
        spans = _runs(gaps, self.resolution_s)
        where = ", ".join(
            f"{format_time(from_epoch_s(a))}..{format_time(from_epoch_s(b))}" for a, b in spans
        )
        return (
            f"{self.labels.zone}: {len(gaps)} step(s) without intensity ({where}); "
            f"{self.unattributed_energy_kwh:.6g} kWh unattributed, no emissions counted for it"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "zone": self.labels.zone,
            "labels": self.labels.to_dict(),
            "status": self.status,
            "start": format_time(from_epoch_s(self.start_s)),
            "end": format_time(from_epoch_s(self.end_s)),
            "energy_kwh": self.energy_kwh,
            "emissions_g": self.emissions_g,
            "mean_intensity_g_per_kwh": self.mean_intensity_g_per_kwh,
            "complete": self.complete,
            "unattributed_energy_kwh": self.unattributed_energy_kwh,
            "gap_steps": [s.to_dict() for s in self.gap_steps],
            "steps": [s.to_dict() for s in self.steps],
        }


def _runs(steps: tuple[StepAccount, ...], res: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s in steps:
        if out and out[-1][1] == s.step_start_s:
            out[-1] = (out[-1][0], s.step_start_s + res)
        else:
            out.append((s.step_start_s, s.step_start_s + res))
    return out


def account_steps(energies: StepEnergies, intensity: IntensitySeries) -> Account:
    """The account of per-step energies already on ``intensity``'s grid."""
    res = intensity.resolution_s
    if energies.resolution_s != res or ((energies.step_start_s - intensity.start_s) % res).any():
        raise UsageError(
            "step energies are not on the intensity series' grid",
            hint="integrate the profile with PowerProfile.per_step(series.start_s, series.resolution_s)",
        )
    k = (energies.step_start_s - intensity.start_s) // res
    inside = (k >= 0) & (k < len(intensity))
    values = np.full(k.size, np.nan)
    values[inside] = intensity.values[k[inside]]
    filled = np.zeros(k.size, dtype=bool)
    if intensity.filled is not None:
        filled[inside] = intensity.filled[k[inside]]
    steps = []
    for i in range(k.size):
        e_kwh = float(energies.energy_j[i] / J_PER_KWH)
        v = float(values[i])
        known = not math.isnan(v)
        steps.append(
            StepAccount(
                step_start_s=int(energies.step_start_s[i]),
                step_end_s=int(energies.step_start_s[i]) + res,
                interval_start_s=float(energies.interval_start_s[i]),
                interval_end_s=float(energies.interval_end_s[i]),
                energy_kwh=e_kwh,
                intensity_g_per_kwh=v if known else None,
                emissions_g=e_kwh * v if known else None,
                outside=not bool(inside[i]),
                filled=bool(filled[i]),
            )
        )
    start = float(energies.interval_start_s[0]) if len(energies) else 0.0
    end = float(energies.interval_end_s[-1]) if len(energies) else 0.0
    return Account(intensity.labels, start, end, res, tuple(steps))


def account(profile: PowerProfile, intensity: IntensitySeries) -> Account:
    """Energy per step of ``intensity`` (exact for the profile) times that step's value."""
    return account_steps(profile.per_step(intensity.start_s, intensity.resolution_s), intensity)


@dataclass(frozen=True, slots=True)
class Restatement:
    """A provisional account and the final one that replaces it, with the change."""

    provisional: Account
    final: Account

    @property
    def change_g(self) -> float:
        return self.final.emissions_g - self.provisional.emissions_g

    @property
    def change_pct(self) -> float | None:
        p = self.provisional.emissions_g
        return 100.0 * self.change_g / p if p else None

    def step_changes(self) -> list[tuple[int, float | None, float | None]]:
        """``(step_start_s, provisional_g, final_g)`` for each step of the final account."""
        before = {s.step_start_s: s.emissions_g for s in self.provisional.steps}
        return [
            (s.step_start_s, before.get(s.step_start_s), s.emissions_g) for s in self.final.steps
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "provisional_emissions_g": self.provisional.emissions_g,
            "final_emissions_g": self.final.emissions_g,
            "change_g": self.change_g,
            "change_pct": self.change_pct,
            "provisional_labels": self.provisional.labels.to_dict(),
            "final_labels": self.final.labels.to_dict(),
            "final_complete": self.final.complete,
        }


def restate(
    provisional: Account, actual: IntensitySeries, *, profile: PowerProfile | None = None
) -> Restatement:
    """The final account on ``actual`` values for a run first accounted on a forecast.

    With ``profile`` the run is re-integrated exactly on the actual grid. Without it the
    provisional step energies are reused, which needs the actual series on the same grid.
    """
    if actual.labels.kind != "actual":
        raise UsageError(
            f"{actual.labels.describe()} is a forecast; final figures need actual values",
            hint="load the zone's actual series once the provider publishes it",
        )
    if not provisional.labels.comparable_with(actual.labels):
        raise UsageError(
            f"cannot restate {provisional.labels.describe()} with {actual.labels.describe()}",
            hint="use actuals with the same signal, accounting and basis as the forecast",
        )
    if profile is not None:
        return Restatement(provisional, account(profile, actual))
    res = actual.resolution_s
    if provisional.resolution_s != res or any(
        (s.step_start_s - actual.start_s) % res for s in provisional.steps
    ):
        raise UsageError(
            "the actual series is on another grid than the provisional account",
            hint="pass profile= to re-integrate the run on the actual grid",
        )
    steps = StepEnergies(
        res,
        np.array([s.step_start_s for s in provisional.steps], dtype=np.int64),
        np.array([s.interval_start_s for s in provisional.steps]),
        np.array([s.interval_end_s for s in provisional.steps]),
        np.array([s.energy_kwh * J_PER_KWH for s in provisional.steps]),
    )
    return Restatement(provisional, account_steps(steps, actual))
