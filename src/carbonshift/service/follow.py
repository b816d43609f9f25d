"""Following jobs in their executors: dispatching idempotently and mirroring executor states.

:class:`Follower` is the part of the planning loop that talks to executors:

- :meth:`Follower.dispatch` commits ``planned → dispatching`` (executor and dispatch token)
  *before* calling the executor, then records the handle (``dispatching → waiting``);
- :meth:`Follower.resolve` finishes a dispatch that a crash interrupted: it asks the executor
  for the token's job and adopts it, or submits it now if it never arrived;
- :meth:`Follower.sync` turns executor states into lifecycle transitions (an executor that ran
  a job between two polls yields ``waiting → running → succeeded`` with the executor's times).
"""

from __future__ import annotations

import logging
import os
import random
import signal
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from carbonshift.errors import CarbonshiftError, UsageError
from carbonshift.executors import (
    ExecutorError,
    ExecutorStatus,
    JobState,
    JobStateError,
    UnknownJobError,
    UnsupportedOperationError,
)
from carbonshift.service.dispatch import ExecutorPool, ExecutorSlot, dispatch_token
from carbonshift.service.lifecycle import State
from carbonshift.service.metrics import ServiceMetrics
from carbonshift.service.records import JobRow
from carbonshift.service.store import JobStore, StaleJobError
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = ["CRASH_ENV", "Follower", "crash_point"]

log = logging.getLogger("carbonshift.service")

CRASH_ENV = "CARBONSHIFT_CRASH_AT"
"""Fault injection for crash tests: ``after_intent:0.05,after_submit:0.05`` makes the process
SIGKILL itself with that probability at that point of a dispatch. Unset in production."""


def _crash_points() -> dict[str, float]:
    out: dict[str, float] = {}
    for item in os.environ.get(CRASH_ENV, "").split(","):
        name, _, p = item.partition(":")
        if name.strip() and p.strip():
            out[name.strip()] = float(p)
    return out


_CRASH = _crash_points()


def crash_point(name: str) -> None:
    """Die here (SIGKILL) with the probability configured in ``$CARBONSHIFT_CRASH_AT``."""
    p = _CRASH.get(name)
    if p and random.random() < p:
        log.warning("crash point %s: killing this process (test fault injection)", name)
        os.kill(os.getpid(), signal.SIGKILL)


_FINAL = {
    JobState.SUCCEEDED: State.SUCCEEDED,
    JobState.CANCELLED: State.CANCELLED,
    JobState.FAILED: State.FAILED,
    JobState.TIMEOUT: State.FAILED,
    JobState.DEADLINE_MISSED: State.FAILED,
}


def _outcome_reason(status: ExecutorStatus) -> str:
    if status.state is JobState.SUCCEEDED:
        return "exit code 0"
    if status.state is JobState.TIMEOUT:
        return f"timeout: {status.reason}"
    if status.state is JobState.DEADLINE_MISSED:
        return f"deadline missed: {status.reason}"
    return status.reason or status.state.value


class Follower:
    """See the module docstring."""

    def __init__(self, store: JobStore, pool: ExecutorPool, metrics: ServiceMetrics | None) -> None:
        self.store = store
        self.pool = pool
        self.metrics = metrics

    # -- dispatch -------------------------------------------------------------------------

    def dispatch(self, row: JobRow, now_s: float) -> None:
        """Hand a planned job to its zone's executor (see the module docstring)."""
        assert row.planned_zone is not None
        slot = self.pool.for_zone(row.planned_zone)
        attempt = row.dispatch_attempt + 1
        token = dispatch_token(row.id, attempt)
        row = self.store.transition(
            row,
            State.DISPATCHING,
            at_s=now_s,
            reason=f"handing to executor {slot.name} as {token}",
            detail={"executor": slot.name, "token": token},
            executor=slot.name,
            dispatch_token=token,
            dispatch_attempt=attempt,
        )
        crash_point("after_intent")
        self.resolve(row, now_s)

    def resolve(self, row: JobRow, now_s: float) -> None:
        """Finish dispatching ``row``: cancel a retired handle, adopt or submit the token."""
        assert row.executor is not None and row.dispatch_token is not None
        if row.retired_handle and row.retired_executor:
            self._cancel_quietly(self.pool.slot(row.retired_executor), row.retired_handle)
            self.store.update_job(row, retired_handle=None, retired_executor=None)
        slot = self.pool.slot(row.executor)
        found = self.pool.find(slot, row.dispatch_token)
        if found is not None and not found.complete:
            status = self.pool.status(slot, found.handle)
            if status.state.is_queued:  # cannot be re-timed later: replace it
                self._cancel_quietly(slot, found.handle)
                attempt = row.dispatch_attempt + 1
                token = dispatch_token(row.id, attempt)
                self.store.update_job(row, dispatch_token=token, dispatch_attempt=attempt)
                found = None
                row = self._reload(row)
        if found is not None:
            reason = f"recovered from executor {slot.name} after a restart: {found.handle}"
            self.store.transition(
                row, State.WAITING, at_s=now_s, reason=reason, handle=found.handle
            )
            return
        assert row.planned_zone is not None and row.planned_start_s is not None
        try:
            handle = self.pool.submit(
                slot,
                row,
                row.planned_zone,
                row.dispatch_token or "",
                from_epoch_s(row.planned_start_s),
            )
        except (UsageError, UnknownJobError) as exc:
            self.store.transition(
                row, State.FAILED, at_s=now_s, reason=f"executor {slot.name} refused the job: {exc}"
            )
            return
        crash_point("after_submit")
        if self.metrics is not None:
            self.metrics.dispatches.labels(slot.name).inc()
        self.store.transition(
            row,
            State.WAITING,
            at_s=now_s,
            reason=f"executor {slot.name} holds it as {handle}, start "
            f"{format_time(from_epoch_s(row.planned_start_s))}",
            detail={"handle": handle},
            handle=handle,
        )

    def move(self, row: JobRow, now_s: float) -> None:
        """A waiting job whose new plan is in another zone: retarget it."""
        assert row.planned_zone is not None and row.handle is not None
        old = self.pool.slot(row.executor or "")
        new = self.pool.for_zone(row.planned_zone)
        if new.name == old.name:
            try:
                old.executor.relocate(row.handle, row.planned_zone)
                self.retime(row)
                return
            except (UnsupportedOperationError, JobStateError):
                pass
        attempt = row.dispatch_attempt + 1
        token = dispatch_token(row.id, attempt)
        row = self.store.transition(
            row,
            State.DISPATCHING,
            at_s=now_s,
            reason=f"moving to zone {row.planned_zone} ({new.name}) as {token}",
            executor=new.name,
            dispatch_token=token,
            dispatch_attempt=attempt,
            retired_executor=old.name,
            retired_handle=row.handle,
            handle=None,
        )
        self.resolve(row, now_s)

    def retime(self, row: JobRow) -> None:
        assert row.handle is not None and row.planned_start_s is not None
        slot = self.pool.slot(row.executor or "")
        try:
            self.pool.retime(slot, row.handle, from_epoch_s(row.planned_start_s))
        except (JobStateError, UnknownJobError) as exc:
            log.info("job %s: not re-timed (%s)", row.id, exc)

    def cancel(self, row: JobRow, now_s: float, reason: str) -> None:
        """Stop the job wherever it is, then record it cancelled. A dispatch in flight is
        looked up by its token (never submitted just to be cancelled)."""
        handles: list[tuple[str, str]] = []
        if row.retired_handle and row.retired_executor:
            handles.append((row.retired_executor, row.retired_handle))
        if row.handle and row.executor:
            handles.append((row.executor, row.handle))
        elif row.state is State.DISPATCHING and row.executor and row.dispatch_token:
            found = self.pool.find(self.pool.slot(row.executor), row.dispatch_token)
            if found is not None:
                handles.append((row.executor, found.handle))
        for executor, handle in handles:
            self._cancel_quietly(self.pool.slot(executor), handle)
        if not row.state.is_terminal:
            self._finish(row, State.CANCELLED, now_s, reason, {})

    # -- following states -----------------------------------------------------------------

    def sync(self, row: JobRow, now_s: float) -> None:
        """Mirror the executor's state of one dispatched job into the lifecycle."""
        if row.state is State.DISPATCHING:
            self.resolve(row, now_s)
            return
        assert row.executor is not None and row.handle is not None
        slot = self.pool.slot(row.executor)
        try:
            status = self.pool.status(slot, row.handle)
            if status.state is JobState.FAILED and status.native_state == "lost":
                # Work-around: the local executor reads a job's record *before* checking that
                # its supervisor lives; a supervisor that wrote the final record and exited in
                # between reads as "died before recording how the job ended". Once its death
                # was seen, a second read sees that final record.
                status = self.pool.status(slot, row.handle)
        except UnknownJobError as exc:
            self._finish(row, State.FAILED, now_s, f"the executor lost the job: {exc}", {})
            return
        self.apply_status(row, slot, status, now_s)

    def apply_status(
        self, row: JobRow, slot: ExecutorSlot, status: ExecutorStatus, now_s: float
    ) -> None:
        state = status.state
        started = self.pool.from_frame(slot, status.started_at)
        ended = self.pool.from_frame(slot, status.ended_at)
        start_s = now_s if started is None else started.timestamp()
        # transitions are stamped in the order the service learns of them (never before the
        # job's previous one); the executor's own times are kept in started/ended_at_s
        floor_s = row.updated_at_s
        if state.is_queued:
            return
        if (
            state is JobState.FAILED
            and status.started_at is None
            and status.native_state == "lost"
            and row.state is State.WAITING
        ):
            self._redispatch(row, now_s, f"the executor never launched it: {status.reason}")
            return
        steps: list[tuple[State, float, str, dict[str, Any]]] = []
        ran = started is not None or state in (JobState.RUNNING, JobState.PAUSED)
        if row.state is State.WAITING and ran:
            at_s = max(start_s, floor_s)
            steps.append((State.RUNNING, at_s, "started", {"started_at_s": start_s}))
            floor_s = at_s
        current = steps[-1][0] if steps else row.state
        if state is JobState.RUNNING and current is State.PAUSED:
            steps.append((State.RUNNING, now_s, "resumed", {}))
        elif state is JobState.PAUSED and current is State.RUNNING:
            steps.append((State.PAUSED, now_s, f"paused: {status.reason}", {}))
        elif state.is_terminal:
            final = _FINAL[state]
            end_s = now_s if ended is None else max(ended.timestamp(), start_s)
            fields: dict[str, Any] = {"ended_at_s": end_s, "exit_code": status.exit_code}
            reason = _outcome_reason(status)
            if row.cancel_requested_at_s is not None and final is State.CANCELLED:
                reason = "cancelled on request"
            fields["reason"] = reason
            steps.append((final, max(end_s, floor_s), reason, fields))
        self._apply(row, steps)

    def _apply(self, row: JobRow, steps: list[tuple[State, float, str, dict[str, Any]]]) -> None:
        if not steps:
            return
        try:
            self.store.transitions_many((row, to, at, why, f) for to, at, why, f in steps)
        except StaleJobError as exc:
            log.info("job %s: %s", row.id, exc)
            return
        if self.metrics is not None and steps[-1][0].is_terminal:
            self.metrics.finished.labels(steps[-1][0].value).inc()

    def _finish(
        self, row: JobRow, to: State, now_s: float, reason: str, fields: Mapping[str, Any]
    ) -> None:
        self._apply(row, [(to, now_s, reason, {"ended_at_s": now_s, "reason": reason, **fields})])

    def _redispatch(self, row: JobRow, now_s: float, why: str) -> None:
        attempt = row.dispatch_attempt + 1
        token = dispatch_token(row.id, attempt)
        row = self.store.transition(
            row,
            State.DISPATCHING,
            at_s=now_s,
            reason=f"{why}; dispatching again as {token}",
            dispatch_token=token,
            dispatch_attempt=attempt,
            retired_executor=row.executor,
            retired_handle=row.handle,
            handle=None,
        )
        self.resolve(row, now_s)

    def _cancel_quietly(self, slot: ExecutorSlot, handle: str) -> None:
        try:
            slot.executor.cancel(handle)
        except UnknownJobError:
            pass
        except (ExecutorError, CarbonshiftError) as exc:
            log.warning("%s: cancelling %s failed: %s", slot.name, handle, exc)

    def _reload(self, row: JobRow) -> JobRow:
        found = self.store.get_job(row.id)
        assert found is not None
        return found

    def executor_start(self, row: JobRow) -> datetime | None:
        """The start the executor holds for a waiting job (service clock), if it says."""
        if row.handle is None or row.executor is None:
            return None
        slot = self.pool.slot(row.executor)
        status = self.pool.status(slot, row.handle)
        if not status.state.is_queued or status.planned_start is None:
            return None
        if slot.wall_clock:
            return self.pool.clock.from_wall(status.planned_start)
        return status.planned_start
