"""``JobState`` and ``ExecutorStatus``: one vocabulary for every executor's view of a job.

The states, and what each executor maps to them:

========================  =====================================  ==============================
state                     local                                  Slurm
========================  =====================================  ==============================
``waiting``               planned start still ahead              PENDING, reason BeginTime
``pending``               due, not yet dispatched / launching    PENDING for another reason
``running``               the process runs                       RUNNING, CONFIGURING, COMPLETING
``paused``                SIGSTOPped, or stopped to restart       SUSPENDED, or requeued and held
``succeeded``             exit code 0                            COMPLETED
``failed``                exit code ≠ 0, a signal, no command     FAILED, NODE_FAIL, OUT_OF_MEMORY
``cancelled``             :meth:`cancel` was called              CANCELLED
``timeout``               killed after ``max_runtime_s``         TIMEOUT
``deadline_missed``       could not finish by the deadline;      DEADLINE
                          never started
========================  =====================================  ==============================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from carbonshift.timeutil import from_epoch_s

__all__ = ["ExecutorStatus", "JobState"]


class JobState(StrEnum):
    """Where a job stands, as every executor reports it (values are stable strings)."""

    WAITING = "waiting"
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    DEADLINE_MISSED = "deadline_missed"

    @property
    def is_terminal(self) -> bool:
        """The job will not run (again): succeeded, failed, cancelled, timeout, deadline_missed."""
        return self in _TERMINAL

    @property
    def is_queued(self) -> bool:
        """The job has not started its current attempt: waiting or pending."""
        return self in (JobState.WAITING, JobState.PENDING)


_TERMINAL = frozenset(
    {
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.TIMEOUT,
        JobState.DEADLINE_MISSED,
    }
)


@dataclass(frozen=True, slots=True)
class ExecutorStatus:
    """A snapshot of one job.

    ``planned_start`` is when the job is due to start (the begin time; for Slurm, its estimate
    once eligible). ``started_at``/``ended_at`` are the current attempt's actual times (``None``
    until they happen; a cancelled job that is still being stopped has no ``ended_at`` yet).
    ``exit_code`` is the command's exit status when it exited, ``signal`` the number of the
    signal that ended it. ``reason`` says why, in words (Slurm's reason code included).
    ``attempt`` counts starts of a ``restart``-interruptible job (1 for the first). ``native_state``
    is the backend's own word (``PENDING``, ``exited``...) for debugging.
    """

    handle: str
    state: JobState
    planned_start: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    signal: int | None = None
    reason: str = ""
    zone: str | None = None
    attempt: int = 1
    native_state: str = ""

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as epoch seconds); :meth:`from_dict` reads it back."""

        def epoch(value: datetime | None) -> float | None:
            return None if value is None else value.timestamp()

        return {
            "handle": self.handle,
            "state": self.state.value,
            "planned_start_epoch_s": epoch(self.planned_start),
            "started_epoch_s": epoch(self.started_at),
            "ended_epoch_s": epoch(self.ended_at),
            "exit_code": self.exit_code,
            "signal": self.signal,
            "reason": self.reason,
            "zone": self.zone,
            "attempt": self.attempt,
            "native_state": self.native_state,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutorStatus:
        def time(key: str) -> datetime | None:
            value = data.get(key)
            return None if value is None else from_epoch_s(float(value))

        def opt_int(key: str) -> int | None:
            value = data.get(key)
            return None if value is None else int(value)

        return cls(
            handle=str(data["handle"]),
            state=JobState(data["state"]),
            planned_start=time("planned_start_epoch_s"),
            started_at=time("started_epoch_s"),
            ended_at=time("ended_epoch_s"),
            exit_code=opt_int("exit_code"),
            signal=opt_int("signal"),
            reason=str(data.get("reason", "")),
            zone=None if data.get("zone") is None else str(data["zone"]),
            attempt=int(data.get("attempt", 1)),
            native_state=str(data.get("native_state", "")),
        )
