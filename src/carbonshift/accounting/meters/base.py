"""The interface every power meter keeps, the record of which meter measured what, and a
meter that sums several (GPUs by NVML plus CPUs by RAPL).

A meter is started once, read any number of times (from a sampling thread) and stopped once.
Each :class:`Reading` carries the energy since :meth:`PowerMeter.start` (cumulative, joules),
split by part (``cpu``, ``gpu``, ``ram``), and the power at that moment where the meter knows
it. Times are seconds since the Unix epoch, advanced by the monotonic clock so that a wall-clock
step during a run cannot bend its duration.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Clock", "CombinedMeter", "MeterInfo", "PowerMeter", "Reading"]


class Clock:
    """Epoch seconds that move with the monotonic clock (anchored once, at creation)."""

    def __init__(self) -> None:
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def __call__(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0)


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading: cumulative energy since start (joules), by part, and the power now."""

    time_s: float
    energy_j: float
    power_w: float | None = None
    parts_j: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MeterInfo:
    """Which meter measured a run, how, on which devices, and how energy was attributed.

    ``measured`` is false for a declared model. ``notes`` say why better meters were not used
    and anything a reader should know (counter support, device ordering, share of the machine).
    """

    name: str
    measured: bool
    method: str
    devices: tuple[str, ...] = ()
    attribution: str = "whole device"
    parts: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line, e.g. ``rapl (measured: RAPL package counters; cpu-time share ...)``."""
        kind = "measured" if self.measured else "declared model"
        devices = f" on {', '.join(self.devices)}" if self.devices else ""
        return f"{self.name} ({kind}: {self.method}{devices}; {self.attribution})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "measured": self.measured,
            "method": self.method,
            "devices": list(self.devices),
            "attribution": self.attribution,
            "parts": list(self.parts),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MeterInfo:
        return cls(
            name=str(data.get("name", "unknown")),
            measured=bool(data.get("measured", False)),
            method=str(data.get("method", "")),
            devices=tuple(data.get("devices", ())),
            attribution=str(data.get("attribution", "whole device")),
            parts=tuple(data.get("parts", ())),
            notes=tuple(data.get("notes", ())),
        )


class PowerMeter(ABC):
    """A source of cumulative energy readings for one job.

    Subclasses implement :meth:`unavailable_reason`, :meth:`_start`, :meth:`_read` and
    :meth:`info`; :meth:`_close` releases what :meth:`_start` acquired.
    """

    name: str = "meter"

    def __init__(self, *, clock: Callable[[], float] | None = None) -> None:
        self.clock: Callable[[], float] = clock or Clock()
        self.notes: list[str] = []
        self._started = False

    @abstractmethod
    def unavailable_reason(self) -> str | None:
        """Why this meter cannot measure here (``None`` when it can)."""

    def available(self) -> bool:
        return self.unavailable_reason() is None

    @abstractmethod
    def _start(self) -> Reading: ...

    @abstractmethod
    def _read(self) -> Reading: ...

    def _close(self) -> None:
        pass

    @abstractmethod
    def info(self) -> MeterInfo:
        """What this meter is; may include statistics of the run so far."""

    def start(self) -> Reading:
        """Begin measuring; the first reading has zero energy."""
        reading = self._start()
        self._started = True
        return reading

    def read(self) -> Reading:
        """Energy since :meth:`start`, now."""
        if not self._started:
            raise RuntimeError(f"{self.name} meter: read() before start()")
        return self._read()

    def stop(self) -> Reading:
        """A last reading, then release the meter."""
        reading = self.read()
        self._close()
        self._started = False
        return reading


class CombinedMeter(PowerMeter):
    """The sum of several meters that measure different parts (e.g. GPUs and CPUs)."""

    def __init__(
        self, meters: Sequence[PowerMeter], *, clock: Callable[[], float] | None = None
    ) -> None:
        super().__init__(clock=clock)
        if not meters:
            raise ValueError("CombinedMeter needs at least one meter")
        self.meters = list(meters)
        self.name = "+".join(m.name for m in self.meters)

    def unavailable_reason(self) -> str | None:
        reasons = [r for m in self.meters if (r := m.unavailable_reason())]
        return "; ".join(reasons) or None

    def _combine(self, readings: list[Reading]) -> Reading:
        parts: dict[str, float] = {}
        for r in readings:
            for k, v in r.parts_j.items():
                parts[k] = parts.get(k, 0.0) + v
        powers = [r.power_w for r in readings]
        power = None if any(p is None for p in powers) else sum(p for p in powers if p is not None)
        return Reading(
            time_s=max(r.time_s for r in readings),
            energy_j=sum(r.energy_j for r in readings),
            power_w=power,
            parts_j=parts,
        )

    def _start(self) -> Reading:
        return self._combine([m.start() for m in self.meters])

    def _read(self) -> Reading:
        return self._combine([m.read() for m in self.meters])

    def _close(self) -> None:
        for m in self.meters:
            if m._started:
                m.stop()

    def info(self) -> MeterInfo:
        infos = [m.info() for m in self.meters]
        return MeterInfo(
            name=self.name,
            measured=all(i.measured for i in infos),
            method=" + ".join(i.method for i in infos),
            devices=tuple(d for i in infos for d in i.devices),
            attribution="; ".join(f"{i.name}: {i.attribution}" for i in infos),
            parts=tuple(p for i in infos for p in i.parts),
            notes=tuple(self.notes) + tuple(n for i in infos for n in i.notes),
        )
