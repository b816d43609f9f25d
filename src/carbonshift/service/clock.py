"""The service's clock: every decision time comes from one injectable object.

- :class:`SystemClock`: the real time (production).
- :class:`ScaledClock`: time that runs ``speed`` times faster than the wall clock from a fixed
  ``origin`` (``now = origin + (wall − origin) × speed``). A restarted server given the same
  origin and speed continues the same timeline, so demos and crash tests can run days of
  schedule in minutes. Executors that run on the wall clock (the job processes, Slurm) are
  mapped back with :meth:`Clock.from_wall`.
- :class:`ManualClock`: time that moves only when a test moves it; the planning loop is then
  driven step by step with :meth:`PlanningLoop.tick`, never with sleeps.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

from carbonshift.errors import UsageError
from carbonshift.timeutil import utc

__all__ = ["Clock", "ManualClock", "ScaledClock", "SystemClock", "make_clock"]


class Clock(Protocol):
    """What the service asks of a clock."""

    def now(self) -> datetime:
        """The current time, UTC-aware."""
        ...

    def from_wall(self, wall: datetime) -> datetime:
        """The clock's time at a wall-clock instant (e.g. a process start time)."""
        ...

    def wall_seconds(self, clock_s: float) -> float:
        """How many wall-clock seconds pass while this clock advances ``clock_s`` seconds."""
        ...

    def describe(self) -> str: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def from_wall(self, wall: datetime) -> datetime:
        return utc(wall)

    def wall_seconds(self, clock_s: float) -> float:
        return clock_s

    def describe(self) -> str:
        return "system clock"


class ScaledClock:
    """``speed`` times faster than the wall clock; it reads ``origin`` when the wall clock
    reads ``anchor`` (default: ``origin`` itself), so ``now = origin + (wall − anchor) ×
    speed``. An origin in the past with a recent anchor replays history (a demo)."""

    def __init__(self, speed: float, origin: datetime, anchor: datetime | None = None) -> None:
        if not speed > 0:
            raise UsageError(f"clock speed must be positive, not {speed}", hint="e.g. 60")
        self.speed = float(speed)
        self.origin = utc(origin)
        self.anchor = utc(anchor) if anchor is not None else self.origin

    def now(self) -> datetime:
        return self.from_wall(datetime.now(UTC))

    def from_wall(self, wall: datetime) -> datetime:
        elapsed_s = (utc(wall) - self.anchor).total_seconds()
        return self.origin + timedelta(seconds=elapsed_s * self.speed)

    def wall_seconds(self, clock_s: float) -> float:
        return clock_s / self.speed

    def describe(self) -> str:
        where = "" if self.anchor == self.origin else f" at wall {self.anchor.isoformat()}"
        return f"scaled clock ×{self.speed:g} from {self.origin.isoformat()}{where}"


class ManualClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: datetime) -> None:
        self._now = utc(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = utc(when)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def from_wall(self, wall: datetime) -> datetime:
        return self.now()

    def wall_seconds(self, clock_s: float) -> float:
        return 0.05

    def describe(self) -> str:
        return f"manual clock at {self.now().isoformat()}"


def make_clock(
    speed: float = 1.0, origin: datetime | None = None, anchor: datetime | None = None
) -> Clock:
    """The system clock for speed 1 without origin, else a :class:`ScaledClock`."""
    if speed == 1.0 and origin is None:
        return SystemClock()
    return ScaledClock(speed, origin if origin is not None else datetime.now(UTC), anchor)
