"""``Job``: what the planner is asked to place, and the span in which it may start.

Times are UTC-aware ``datetime`` and durations ``timedelta`` on the dataclass (the API edge);
the ``*_s`` properties give whole epoch seconds for the array code inside.

Deadline and slack: the **deadline** is the latest finish; the **slack** is the latest start
minus the submit time. Give one of them (neither means no slack: the job runs at submit). The
**latest safe start** is ``deadline − duration − safety_margin``; nothing may start later, and
every plan must end by ``deadline − safety_margin`` (:attr:`Job.finish_by_s`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from carbonshift.errors import UsageError
from carbonshift.planning.errors import InfeasibleJobError
from carbonshift.timeutil import format_duration, format_time, from_epoch_s, to_epoch_s, utc

__all__ = ["DEFAULT_POWER_W", "Job"]

DEFAULT_POWER_W = 1000.0
"""Declared power when a job gives none: 1 kW, so that energy in kWh equals the hours run."""


def _whole_s(delta: timedelta) -> int:
    return round(delta.total_seconds())


@dataclass(frozen=True, slots=True)
class Job:
    """One unit of batch work.

    ``power_w`` is a constant draw (a declared power model; measured profiles belong to the
    accounting). ``gpus``/``cpus`` are the resources held while running (``gpus`` is what the
    capacity planner counts). ``zones`` lists where the job may run, home zone first (empty:
    any zone the planner is given). An ``interruptible`` job may be split into chunks of at
    least ``min_chunk`` of useful work; every resumed chunk first spends ``pause_overhead``
    (restore from a checkpoint) running at full power, so the overhead costs both time and
    energy. ``urgent`` jobs start at once under every policy.
    """

    submit: datetime
    duration: timedelta
    deadline: datetime | None = None
    slack: timedelta | None = None
    power_w: float = DEFAULT_POWER_W
    gpus: int = 1
    cpus: int = 0
    zones: tuple[str, ...] = ()
    interruptible: bool = False
    min_chunk: timedelta | None = None
    pause_overhead: timedelta = timedelta(0)
    urgent: bool = False
    safety_margin: timedelta = timedelta(0)
    job_id: str = ""

    def __post_init__(self) -> None:
        name = self.label
        object.__setattr__(self, "submit", utc(self.submit))
        if self.deadline is not None:
            object.__setattr__(self, "deadline", utc(self.deadline))
        if self.deadline is not None and self.slack is not None:
            raise UsageError(
                f"{name}: both a deadline and a slack were given",
                hint="give one of them: the deadline is the latest finish, the slack the "
                "latest start minus the submit time",
            )
        if _whole_s(self.duration) <= 0:
            raise UsageError(f"{name}: duration must be positive", hint="e.g. 2h")
        if self.slack is not None and self.slack < timedelta(0):
            raise UsageError(f"{name}: slack must not be negative", hint="e.g. 10h")
        for field in ("pause_overhead", "safety_margin"):
            if getattr(self, field) < timedelta(0):
                raise UsageError(f"{name}: {field} must not be negative")
        if self.min_chunk is not None and _whole_s(self.min_chunk) <= 0:
            raise UsageError(f"{name}: min_chunk must be positive", hint="e.g. 30m")
        if not self.power_w >= 0:
            raise UsageError(f"{name}: power_w must be a non-negative number of watts")
        if self.gpus < 0 or self.cpus < 0:
            raise UsageError(f"{name}: gpus and cpus must not be negative")
        object.__setattr__(self, "zones", tuple(self.zones))

    # ------------------------------------------------------------------ identity
    @property
    def label(self) -> str:
        return f"job {self.job_id}" if self.job_id else "job"

    # ------------------------------------------------------------------ epoch seconds
    @property
    def submit_s(self) -> int:
        return to_epoch_s(self.submit)

    @property
    def duration_s(self) -> int:
        return _whole_s(self.duration)

    @property
    def margin_s(self) -> int:
        return _whole_s(self.safety_margin)

    @property
    def deadline_s(self) -> int:
        """Latest finish, epoch seconds."""
        if self.deadline is not None:
            return to_epoch_s(self.deadline)
        slack_s = _whole_s(self.slack) if self.slack is not None else 0
        return self.submit_s + slack_s + self.duration_s

    @property
    def finish_by_s(self) -> int:
        """Every plan ends by this instant: the deadline less the safety margin."""
        return self.deadline_s - self.margin_s

    @property
    def latest_safe_start_s(self) -> int:
        """``deadline − duration − safety_margin``: no plan may start later."""
        return self.finish_by_s - self.duration_s

    @property
    def min_chunk_s(self) -> int:
        """Smallest useful chunk of an interruptible job (the whole job if not interruptible)."""
        if not self.interruptible:
            return self.duration_s
        return self.duration_s if self.min_chunk is None else _whole_s(self.min_chunk)

    @property
    def overhead_s(self) -> int:
        return _whole_s(self.pause_overhead)

    @property
    def energy_kwh(self) -> float:
        """Energy of one uninterrupted run."""
        return self.power_w * self.duration_s / 3.6e6

    @property
    def latest_safe_start(self) -> datetime:
        return from_epoch_s(self.latest_safe_start_s)

    # ------------------------------------------------------------------ planning span
    def start_span(self, now_s: int) -> tuple[int, int]:
        """``(earliest, latest)`` start at decision time ``now_s``: the earliest is the later
        of the submit and the decision time, the latest the latest safe start.

        Raises :class:`InfeasibleJobError` when the latest comes before the earliest.
        """
        earliest = max(self.submit_s, int(now_s))
        latest = self.latest_safe_start_s
        if latest < earliest:
            when = "decision time" if now_s > self.submit_s else "submit time"
            raise InfeasibleJobError(
                f"{self.label}: cannot finish by its deadline "
                f"{format_time(from_epoch_s(self.deadline_s))}: the latest safe start "
                f"{format_time(from_epoch_s(latest))} (deadline − "
                f"{format_duration(self.duration)} − margin "
                f"{format_duration(self.safety_margin)}) is before the {when} "
                f"{format_time(from_epoch_s(earliest))}",
                hint="move the deadline later or shorten the duration or the safety margin",
            )
        return earliest, latest
