"""A local job's :class:`ExecutorStatus`, derived from its folder alone.

The executor's intent (``control.json``) and the supervisor's record (``attempt-N.json``) are
combined with a liveness check of the recorded processes (pid *and* start ticks, so a reused
pid is not mistaken for the job). No in-memory state is used, so a restarted service sees
exactly what the old one would have seen.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from carbonshift.executors.local_state import Control, JobFolder, LocalJob, RunRecord, can_finish
from carbonshift.executors.local_wrapper import is_stopped
from carbonshift.executors.status import ExecutorStatus, JobState
from carbonshift.timeutil import format_time

__all__ = ["derive_status", "is_launching"]

_LAUNCH_SLACK_S = 5.0


def is_launching(folder: JobFolder, control: Control) -> bool:
    """True once the current attempt was claimed for dispatch (it may not have a record yet)."""
    return folder.claim_age_s(control.attempt) is not None


class _Make(Protocol):
    def __call__(
        self, state: JobState, reason: str, native: str, **extra: Any
    ) -> ExecutorStatus: ...


def derive_status(
    folder: JobFolder,
    job: LocalJob,
    now: datetime,
    *,
    zone: str | None,
    launch_timeout_s: float,
) -> ExecutorStatus:
    """The status of ``job`` at ``now``; see the table in :mod:`carbonshift.executors.status`."""
    control = folder.control()
    run = folder.run(control.attempt)

    def make(state: JobState, reason: str, native: str, **extra: Any) -> ExecutorStatus:
        base = ExecutorStatus(
            handle=job.handle,
            state=state,
            planned_start=control.start_at,
            reason=reason,
            zone=zone,
            attempt=control.attempt,
            native_state=native,
        )
        if run is not None:
            base = replace(
                base,
                started_at=run.started_at,
                ended_at=run.ended_at,
                exit_code=run.exit_code,
                signal=run.signal,
            )
        return replace(base, **extra)

    if run is None:
        return _queued(folder, job, control, now, make, launch_timeout_s)
    if not run.ended:
        return _live(run, control, make)
    return _ended(run, control, make)


def _queued(
    folder: JobFolder,
    job: LocalJob,
    control: Control,
    now: datetime,
    make: _Make,
    launch_timeout_s: float,
) -> ExecutorStatus:
    previous = folder.run(control.attempt - 1) if control.attempt > 1 else None
    last: dict[str, Any] = {}
    if previous is not None:
        last = {"started_at": previous.started_at, "ended_at": previous.ended_at}
    if control.cancelled:
        return make(
            JobState.CANCELLED,
            "cancelled before it started" if previous is None else "cancelled while paused",
            "cancelled",
            **{**last, "ended_at": control.cancelled_at},
        )
    if control.paused:
        return make(JobState.PAUSED, "stopped; restarts on resume() or retime()", "paused", **last)
    start = max(now, control.start_at)
    if control.deadline_missed or not can_finish(job, start):
        assert job.deadline is not None
        limit = "" if job.max_runtime_s is None else f" with max_runtime_s={job.max_runtime_s:g}"
        return make(
            JobState.DEADLINE_MISSED,
            f"cannot finish by the deadline {format_time(job.deadline)} when started at "
            f"{format_time(control.decided_at or start)}{limit}; not started",
            "deadline_missed",
        )
    age_s = folder.claim_age_s(control.attempt)
    if age_s is not None:
        if age_s > launch_timeout_s + _LAUNCH_SLACK_S:
            return make(
                JobState.FAILED,
                f"attempt {control.attempt} was claimed but its supervisor never reported",
                "lost",
                **last,
            )
        return make(JobState.PENDING, "launching", "launching", **last)
    if control.start_at > now:
        return make(JobState.WAITING, "waiting for the planned start", "waiting", **last)
    return make(JobState.PENDING, "due; waiting for dispatch_due()", "due", **last)


def _live(run: RunRecord, control: Control, make: _Make) -> ExecutorStatus:
    if run.wrapper_alive:
        if control.cancelled:
            return make(JobState.CANCELLED, "cancelled; stopping its processes", "stopping")
        if control.paused or (run.pid is not None and is_stopped(run.pid)):
            return make(JobState.PAUSED, "paused", "stopped" if run.pid else "paused")
        return make(JobState.RUNNING, "running", run.outcome)
    if run.child_alive:  # the supervisor was killed; the job itself goes on, unobserved
        if control.cancelled:
            return make(JobState.CANCELLED, "cancelled; stopping its processes", "stopping")
        state = JobState.PAUSED if control.paused else JobState.RUNNING
        return make(state, "supervisor lost: the exit code will not be known", "orphaned")
    if control.cancelled:
        return make(JobState.CANCELLED, "cancelled", "cancelled")
    return make(
        JobState.FAILED,
        "the supervisor died before recording how the job ended",
        "lost",
    )


def _ended(run: RunRecord, control: Control, make: _Make) -> ExecutorStatus:
    outcome = run.outcome
    if outcome == "exited":
        if run.exit_code == 0:
            return make(JobState.SUCCEEDED, run.reason or "exit code 0", outcome)
        return make(JobState.FAILED, run.reason, outcome)
    if outcome == "timeout":
        return make(JobState.TIMEOUT, run.reason, outcome)
    if outcome == "terminated":
        if control.cancelled:
            return make(JobState.CANCELLED, "cancelled while running", outcome)
        if control.paused:
            return make(JobState.PAUSED, "stopped; restarts on resume() or retime()", outcome)
        return make(JobState.FAILED, "stopped by a SIGTERM to its supervisor", outcome)
    if control.cancelled:
        return make(JobState.CANCELLED, "cancelled", outcome)
    return make(JobState.FAILED, run.reason or outcome, outcome)
