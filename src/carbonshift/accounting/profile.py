"""``PowerProfile``: a job's power over time, and its exact integral over any span.

A profile is piecewise linear: segment ``i`` covers ``[times_s[i], times_s[i+1])`` and its power
goes linearly from ``start_power_w[i]`` to ``end_power_w[i]``. Every way a meter reports is one
of three shapes of that:

- ``trapezoid`` (power samples, the default): the power moves linearly between two samples, so
  a segment runs from one sample's value to the next one's. Exact for power that is piecewise
  linear with its corners at sample times (a constant, a ramp, a ramp then a plateau...).
- ``hold`` (power samples): the power read at ``t_i`` holds until ``t_{i+1}`` (zero-order hold;
  the last sample only marks the end). Exact for power that steps at sample times.
- cumulative energy readings (``from_energy``): the energy between two readings is known
  exactly; inside the interval the power is taken as its mean (the energy over the duration),
  so totals are exact and only the split of one interval across an intensity-step boundary
  assumes constant power within that interval.

Energy over any span is evaluated in closed form (the integral of a linear function), so the
energy per intensity step is exact for such profiles: no sub-sampling, no quadrature error.
Times are float seconds since the Unix epoch (UTC); power in watts; energy in joules inside and
kWh at the edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from carbonshift.errors import DataError, UsageError

__all__ = ["J_PER_KWH", "FloatArray", "IntegrationMethod", "PowerProfile", "StepEnergies"]

FloatArray = npt.NDArray[np.float64]
IntegrationMethod = Literal["trapezoid", "hold", "energy"]
J_PER_KWH = 3.6e6


@dataclass(frozen=True, slots=True)
class StepEnergies:
    """Energy of a profile in each step of a regular grid it overlaps.

    ``step_start_s[k]`` is the step's start on the grid; the job's share of it is
    ``[interval_start_s[k], interval_end_s[k])`` (the step clipped to the job).
    """

    resolution_s: int
    step_start_s: npt.NDArray[np.int64]
    interval_start_s: FloatArray
    interval_end_s: FloatArray
    energy_j: FloatArray

    def __len__(self) -> int:
        return int(self.step_start_s.size)

    @property
    def energy_kwh(self) -> FloatArray:
        return self.energy_j / J_PER_KWH


@dataclass(frozen=True, eq=False)
class PowerProfile:
    """Power over ``[times_s[0], times_s[-1])``, linear inside each segment (see module doc)."""

    times_s: FloatArray
    start_power_w: FloatArray
    end_power_w: FloatArray
    method: IntegrationMethod = "trapezoid"
    _cum_j: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        t = np.ascontiguousarray(self.times_s, dtype=np.float64)
        p0 = np.ascontiguousarray(self.start_power_w, dtype=np.float64)
        p1 = np.ascontiguousarray(self.end_power_w, dtype=np.float64)
        if t.ndim != 1 or t.size < 2:
            raise UsageError("power profile: needs at least two times (a start and an end)")
        if p0.shape != (t.size - 1,) or p1.shape != p0.shape:
            raise UsageError("power profile: one start and one end power per segment")
        if self.method not in get_args(IntegrationMethod):
            raise UsageError(
                f"method: {self.method!r} is not known",
                hint="use trapezoid, hold or energy",
            )
        if not np.isfinite(t).all() or (np.diff(t) <= 0).any():
            raise DataError(
                "power profile: times must be finite and strictly increasing",
                hint="sort the samples by time and drop duplicates",
            )
        for name, p in (("start", p0), ("end", p1)):
            if not np.isfinite(p).all() or (p < 0).any():
                raise DataError(
                    f"power profile: {name} powers must be finite and not negative",
                    hint="drop failed readings (NaN) before building the profile",
                )
        object.__setattr__(self, "times_s", t)
        object.__setattr__(self, "start_power_w", p0)
        object.__setattr__(self, "end_power_w", p1)
        seg = np.diff(t) * (p0 + p1) / 2.0
        cum = np.zeros(t.size)
        np.cumsum(seg, out=cum[1:])
        object.__setattr__(self, "_cum_j", cum)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_samples(
        cls,
        times_s: npt.ArrayLike,
        power_w: npt.ArrayLike,
        *,
        method: Literal["trapezoid", "hold"] = "trapezoid",
    ) -> PowerProfile:
        """Power samples ``(time_s, power_w)``, joined by ``trapezoid`` or ``hold`` (module doc)."""
        t = np.asarray(times_s, dtype=np.float64)
        p = np.asarray(power_w, dtype=np.float64)
        if t.shape != p.shape or t.ndim != 1:
            raise UsageError("power samples: times and powers must be 1-D and the same length")
        if t.size < 2:
            raise DataError(
                "power samples: at least two samples are needed to integrate",
                hint="sample for longer or at a shorter interval",
            )
        if method == "trapezoid":
            return cls(t, p[:-1], p[1:], "trapezoid")
        if method == "hold":
            return cls(t, p[:-1], p[:-1], "hold")
        raise UsageError(f"method: {method!r} is not known", hint="use trapezoid or hold")

    @classmethod
    def from_energy(cls, times_s: npt.ArrayLike, energy_j: npt.ArrayLike) -> PowerProfile:
        """Cumulative energy readings ``(time_s, energy_j)``; constant mean power in between."""
        t = np.asarray(times_s, dtype=np.float64)
        e = np.asarray(energy_j, dtype=np.float64)
        if t.shape != e.shape or t.ndim != 1:
            raise UsageError("energy readings: times and energies must be 1-D and the same length")
        if t.size < 2:
            raise DataError(
                "energy readings: at least two readings are needed",
                hint="sample for longer or at a shorter interval",
            )
        de = np.diff(e)
        if (de < 0).any():
            i = int(np.argmax(de < 0)) + 1
            raise DataError(
                f"energy readings: reading {i} is lower than the one before it",
                hint="cumulative counters never go down; unwrap counter overflows first",
            )
        dt = np.diff(t)
        if (dt <= 0).any():
            raise DataError("energy readings: times must be strictly increasing")
        mean_w = de / dt
        return cls(t, mean_w, mean_w, "energy")

    @classmethod
    def from_meter_readings(
        cls, times_s: npt.ArrayLike, energy_j: npt.ArrayLike
    ) -> PowerProfile | None:
        """:meth:`from_energy` on a meter's raw readings: readings at a repeated time dropped and
        a counter glitch that reads lower held at the last value; ``None`` with fewer than two
        readings left."""
        t = np.asarray(times_s, dtype=np.float64)
        e = np.asarray(energy_j, dtype=np.float64)
        keep = np.concatenate(([True], np.diff(t) > 0))
        t, e = t[keep], np.maximum.accumulate(e[keep])
        return cls.from_energy(t, e) if t.size >= 2 else None

    @classmethod
    def constant(cls, start_s: float, duration_s: float, power_w: float) -> PowerProfile:
        """``power_w`` from ``start_s`` for ``duration_s``."""
        if duration_s <= 0:
            raise UsageError("duration: must be positive")
        p = np.array([float(power_w)])
        return cls(np.array([start_s, start_s + duration_s], dtype=np.float64), p, p, "hold")

    @classmethod
    def piecewise(
        cls, start_s: float, durations_s: npt.ArrayLike, powers_w: npt.ArrayLike
    ) -> PowerProfile:
        """Constant pieces: ``powers_w[i]`` for ``durations_s[i]``, one after another."""
        d = np.asarray(durations_s, dtype=np.float64)
        p = np.asarray(powers_w, dtype=np.float64)
        if d.shape != p.shape or d.ndim != 1 or d.size == 0:
            raise UsageError("power pieces: one duration per power, at least one piece")
        if (d <= 0).any():
            raise UsageError("power pieces: every duration must be positive")
        t = np.concatenate(([0.0], np.cumsum(d))) + float(start_s)
        return cls(t, p, p, "hold")

    # ------------------------------------------------------------------ properties
    @property
    def start_s(self) -> float:
        return float(self.times_s[0])

    @property
    def end_s(self) -> float:
        return float(self.times_s[-1])

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def energy_j(self) -> float:
        return float(self._cumulative()[-1])

    @property
    def energy_kwh(self) -> float:
        return self.energy_j / J_PER_KWH

    @property
    def mean_power_w(self) -> float:
        return self.energy_j / self.duration_s

    def _cumulative(self) -> FloatArray:
        return self._cum_j

    def __repr__(self) -> str:
        return (
            f"PowerProfile({self.times_s.size - 1} segments, {self.duration_s:.1f} s, "
            f"{self.energy_kwh:.6g} kWh, {self.method})"
        )

    # ------------------------------------------------------------------ evaluation
    def _locate(self, t: FloatArray) -> tuple[npt.NDArray[np.intp], FloatArray]:
        n = self.start_power_w.size
        idx = np.clip(np.searchsorted(self.times_s, t, side="right") - 1, 0, n - 1)
        return idx, t - self.times_s[idx]

    def power_at(self, times_s: npt.ArrayLike) -> FloatArray:
        """Power at each time (0 outside the profile)."""
        t = np.asarray(times_s, dtype=np.float64)
        idx, dt = self._locate(t)
        seg = self.times_s[idx + 1] - self.times_s[idx]
        p = self.start_power_w[idx] + (self.end_power_w[idx] - self.start_power_w[idx]) * dt / seg
        inside = (t >= self.start_s) & (t < self.end_s)
        return np.where(inside, p, 0.0)

    def cumulative_energy_j(self, times_s: npt.ArrayLike) -> FloatArray:
        """Energy from the start to each time, in joules (times are clipped to the profile)."""
        t = np.clip(np.asarray(times_s, dtype=np.float64), self.start_s, self.end_s)
        idx, dt = self._locate(t)
        seg = self.times_s[idx + 1] - self.times_s[idx]
        slope = (self.end_power_w[idx] - self.start_power_w[idx]) / seg
        out: FloatArray = (
            self._cumulative()[idx] + self.start_power_w[idx] * dt + 0.5 * slope * dt**2
        )
        return out

    def energy_between_j(self, start_s: float, end_s: float) -> float:
        """Energy over ``[start_s, end_s)`` (the part outside the profile counts zero)."""
        if end_s < start_s:
            raise UsageError("window: end before start")
        e = self.cumulative_energy_j(np.array([start_s, end_s]))
        return float(e[1] - e[0])

    def per_step(self, grid_start_s: int, resolution_s: int) -> StepEnergies:
        """Energy in every step of the grid ``grid_start_s + k * resolution_s`` that the profile
        overlaps (steps before ``grid_start_s`` included: the grid extends both ways)."""
        if resolution_s <= 0:
            raise UsageError("resolution: must be positive")
        res = int(resolution_s)
        k0 = int(np.floor((self.start_s - grid_start_s) / res))
        k1 = int(np.ceil((self.end_s - grid_start_s) / res))
        k1 = max(k1, k0 + 1)
        steps = grid_start_s + res * np.arange(k0, k1, dtype=np.int64)
        lo = np.maximum(steps.astype(np.float64), self.start_s)
        hi = np.minimum((steps + res).astype(np.float64), self.end_s)
        edges = np.concatenate((lo, hi[-1:]))
        energy = np.diff(self.cumulative_energy_j(edges))
        keep = hi > lo
        return StepEnergies(res, steps[keep], lo[keep], hi[keep], np.maximum(energy[keep], 0.0))

    # ------------------------------------------------------------------ transforms
    def shifted(self, delta_s: float) -> PowerProfile:
        """The same power shape, ``delta_s`` seconds later (earlier when negative)."""
        return PowerProfile(
            self.times_s + float(delta_s), self.start_power_w, self.end_power_w, self.method
        )

    def starting_at(self, start_s: float) -> PowerProfile:
        """The same power shape placed to start at ``start_s``."""
        return self.shifted(float(start_s) - self.start_s)

    def scaled(self, factor: float) -> PowerProfile:
        """Every power multiplied by ``factor`` (e.g. a PUE)."""
        if factor < 0 or not np.isfinite(factor):
            raise UsageError("scale factor: must be a finite number >= 0")
        return PowerProfile(
            self.times_s, self.start_power_w * factor, self.end_power_w * factor, self.method
        )
