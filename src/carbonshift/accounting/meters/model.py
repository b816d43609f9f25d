"""A declared power model, for when nothing can be measured.

Three forms, one per constructor:

- :meth:`ModelMeter.constant`: a constant power (``energy = power_w × elapsed``);
- :meth:`ModelMeter.profile`: a declared power profile, pieces of constant power one after
  another from the start (the last piece holds past the end of the declaration);
- :meth:`ModelMeter.tdp`: TDP × utilisation of the job's process tree, where utilisation is the
  tree's CPU seconds over wall seconds × cores, so ``energy = tdp_w × cpu_s / cores`` exactly.

Every result says the energy is modelled, not measured, and with which numbers. A facility's
PUE is applied by the tracker to every meter's energy, not here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from carbonshift.accounting.meters.base import MeterInfo, PowerMeter, Reading
from carbonshift.accounting.meters.process import CpuClock, MachineCpu, ProcessTree
from carbonshift.accounting.profile import PowerProfile
from carbonshift.errors import UsageError

__all__ = ["DEFAULT_CPU_TDP_W", "ModelMeter"]

# CodeCarbon's fallback for a CPU it cannot identify; used only when nothing is declared.
DEFAULT_CPU_TDP_W = 85.0


class ModelMeter(PowerMeter):
    """Energy from a declared model: constant power, a power profile, or TDP × utilisation."""

    name = "model"

    def __init__(
        self,
        *,
        power_w: float | None = None,
        pieces: tuple[Sequence[float], Sequence[float]] | None = None,
        tdp_w: float | None = None,
        cpu: CpuClock | None = None,
        cores: int | None = None,
        part: str = "cpu",
        declared: bool = True,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(clock=clock)
        given = [x is not None for x in (power_w, pieces, tdp_w)]
        if sum(given) != 1:
            raise UsageError(
                "power model: declare exactly one of a constant power, a profile or a TDP",
                hint="e.g. power_w=250, or tdp_w=165 for TDP × utilisation",
            )
        for label, value in (("power_w", power_w), ("tdp_w", tdp_w)):
            if value is not None and not value >= 0:
                raise UsageError(f"{label}: {value} is not a power in watts >= 0")
        self.power_w = power_w
        self.tdp_w = tdp_w
        self.part = part
        self.declared = declared
        self._profile: PowerProfile | None = None
        if pieces is not None:
            durations, powers = pieces
            self._profile = PowerProfile.piecewise(0.0, durations, powers)
        self.cpu = cpu if cpu is not None else (ProcessTree() if tdp_w is not None else None)
        self.cores = cores or MachineCpu.cores()
        self._t0 = 0.0
        self._cpu0 = 0.0
        self._last: Reading | None = None

    @classmethod
    def constant(
        cls, power_w: float, *, part: str = "cpu", clock: Callable[[], float] | None = None
    ) -> ModelMeter:
        """A constant ``power_w``."""
        return cls(power_w=power_w, part=part, clock=clock)

    @classmethod
    def profile(
        cls,
        durations_s: Sequence[float],
        powers_w: Sequence[float],
        *,
        part: str = "cpu",
        clock: Callable[[], float] | None = None,
    ) -> ModelMeter:
        """``powers_w[i]`` for ``durations_s[i]``, one piece after another from the start."""
        return cls(pieces=(durations_s, powers_w), part=part, clock=clock)

    @classmethod
    def tdp(
        cls,
        tdp_w: float,
        *,
        pids: Sequence[int] | None = None,
        declared: bool = True,
        clock: Callable[[], float] | None = None,
    ) -> ModelMeter:
        """``tdp_w`` × CPU utilisation of ``pids`` (default this process) and descendants."""
        return cls(tdp_w=tdp_w, cpu=ProcessTree(pids), declared=declared, clock=clock)

    def unavailable_reason(self) -> str | None:
        return None

    def _energy_j(self, elapsed_s: float) -> float:
        if self.power_w is not None:
            return self.power_w * elapsed_s
        if self._profile is not None:
            prof = self._profile
            inside = float(prof.cumulative_energy_j([min(elapsed_s, prof.end_s)])[0])
            tail = max(0.0, elapsed_s - prof.end_s) * float(prof.end_power_w[-1])
            return inside + tail
        assert self.tdp_w is not None and self.cpu is not None
        return self.tdp_w * max(0.0, self.cpu.cpu_time_s() - self._cpu0) / self.cores

    def _start(self) -> Reading:
        self._t0 = self.clock()
        self._cpu0 = self.cpu.cpu_time_s() if self.cpu is not None else 0.0
        self._last = Reading(self._t0, 0.0, self._power_now(0.0, None), {self.part: 0.0})
        return self._last

    def _power_now(self, elapsed_s: float, energy_j: float | None) -> float | None:
        if self.power_w is not None:
            return self.power_w
        if self._profile is not None:
            if elapsed_s >= self._profile.end_s:
                return float(self._profile.end_power_w[-1])
            return float(self._profile.power_at([elapsed_s])[0])
        if self._last is None or energy_j is None:
            return None
        dt = (self._t0 + elapsed_s) - self._last.time_s
        return (energy_j - self._last.energy_j) / dt if dt > 0 else self._last.power_w

    def _read(self) -> Reading:
        now = self.clock()
        elapsed = now - self._t0
        energy = self._energy_j(elapsed)
        if self._last is not None:
            energy = max(energy, self._last.energy_j)
        reading = Reading(now, energy, self._power_now(elapsed, energy), {self.part: energy})
        self._last = reading
        return reading

    def info(self) -> MeterInfo:
        if self.power_w is not None:
            method = f"declared constant power {self.power_w:g} W"
        elif self._profile is not None:
            n = self._profile.start_power_w.size
            method = (
                f"declared power profile ({n} pieces over {self._profile.duration_s:g} s, "
                f"mean {self._profile.mean_power_w:.1f} W; last piece holds after)"
            )
        else:
            origin = "declared" if self.declared else "default, not declared"
            method = (
                f"TDP {self.tdp_w:g} W ({origin}) × CPU utilisation of the job's processes "
                f"over {self.cores} cores"
            )
        attribution = (
            "the job's processes (utilisation share)" if self.tdp_w is not None else "the job"
        )
        return MeterInfo(
            name="model",
            measured=False,
            method=method,
            devices=(),
            attribution=attribution,
            parts=(self.part,),
            notes=tuple(self.notes),
        )
