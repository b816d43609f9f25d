"""``Executor``: the one interface the service drives, whatever runs the job.

A **handle** is a plain string the executor returns from :meth:`Executor.submit` (a local job
folder's name, a Slurm job id). Store it in a database: a *new* executor instance configured
like the old one (same state directory, same cluster) accepts it after the controlling process
was killed and restarted, and reads the job's status from durable state, never from memory.

Times are timezone-aware datetimes (UTC inside); naive ones are refused. ``max_runtime_s`` is
enforced by the executor (state ``timeout``). ``deadline`` is the latest *finish*: a job that
cannot finish by it once due is not started (state ``deadline_missed``), as Slurm's
``--deadline`` does.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import ClassVar, Literal

from carbonshift.errors import UsageError
from carbonshift.executors.errors import UnknownJobError, UnsupportedOperationError
from carbonshift.executors.spec import JobSpec
from carbonshift.executors.status import ExecutorStatus, JobState
from carbonshift.timeutil import format_time, utc

__all__ = ["Executor", "Stream", "check_submit_times"]

Stream = Literal["stdout", "stderr"]


class Executor(ABC):
    """Launch and control jobs; see the module docstring for handles and times."""

    kind: ClassVar[str] = "abstract"

    @abstractmethod
    def submit(
        self,
        spec: JobSpec,
        start_at: datetime,
        *,
        max_runtime_s: float | None = None,
        deadline: datetime | None = None,
    ) -> str:
        """Queue ``spec`` to start at ``start_at`` (at once if it is past); return its handle."""

    @abstractmethod
    def retime(self, handle: str, start_at: datetime) -> None:
        """Move the planned start of a job that has not started (or is paused to restart).

        Raises :class:`~carbonshift.executors.errors.JobStateError` once the job runs or ended.
        """

    @abstractmethod
    def cancel(self, handle: str) -> None:
        """Stop the job for good: drop it if queued, kill its processes if running.

        A job that already ended is left as it is (no error): cancelling races with finishing.
        """

    @abstractmethod
    def pause(self, handle: str) -> None:
        """Interrupt a running job the way its spec declares (``interruptible``).

        Raises :class:`~carbonshift.executors.errors.UnsupportedOperationError` when the job (or
        this executor) cannot be interrupted, and ``JobStateError`` when it is not running.
        """

    @abstractmethod
    def resume(self, handle: str) -> None:
        """Continue a paused job now (``signal``) or start its next attempt now (``restart``)."""

    @abstractmethod
    def status(self, handle: str) -> ExecutorStatus:
        """The job's current state, read from durable state (works across restarts)."""

    @abstractmethod
    def logs(self, handle: str, stream: Stream = "stdout", tail_bytes: int | None = None) -> str:
        """The job's stdout or stderr so far (the last ``tail_bytes`` bytes when given)."""

    def statuses(self, handles: Iterable[str]) -> dict[str, ExecutorStatus]:
        """:meth:`status` of several jobs, by handle; unknown handles are left out.

        Executors may answer with one query to their backend (Slurm does).
        """
        found = {}
        for handle in handles:
            try:
                found[handle] = self.status(handle)
            except UnknownJobError:
                continue
        return found

    def relocate(self, handle: str, zone: str) -> None:
        """Move a job that has not started to another zone (site).

        Only executors that know several zones support it; this default refuses.
        """
        raise UnsupportedOperationError(
            f"{self.kind} executor cannot move job {handle} to zone {zone!r}",
            hint="only an executor with several zones (Slurm partitions) can relocate jobs",
        )

    def wait(
        self,
        handle: str,
        *,
        timeout_s: float,
        poll_s: float = 0.1,
        until: Callable[[ExecutorStatus], bool] | None = None,
    ) -> ExecutorStatus:
        """Poll :meth:`status` until ``until`` holds (default: a terminal state) or time runs out.

        Returns the last status either way; the caller checks it.
        """
        condition = until if until is not None else (lambda s: s.state.is_terminal)
        deadline_mono = time.monotonic() + timeout_s
        while True:
            current = self.status(handle)
            if condition(current) or time.monotonic() >= deadline_mono:
                return current
            time.sleep(poll_s)


def check_submit_times(
    start_at: datetime, max_runtime_s: float | None, deadline: datetime | None
) -> tuple[datetime, datetime | None]:
    """Validate and normalise :meth:`Executor.submit`'s timing arguments (UTC-aware)."""
    start = utc(start_at)
    if max_runtime_s is not None and not max_runtime_s > 0:
        raise UsageError(
            f"max_runtime_s must be a positive number of seconds, not {max_runtime_s!r}",
            hint="e.g. max_runtime_s=3600, or None for no limit",
        )
    if deadline is None:
        return start, None
    end = utc(deadline)
    if end <= start:
        raise UsageError(
            f"deadline {format_time(end)} is not after the planned start {format_time(start)}",
            hint="the deadline is the latest finish: give a later deadline or an earlier start",
        )
    return start, end


def is_queued_or_paused(state: JobState) -> bool:
    """True while a job may still be re-timed: waiting, pending or paused."""
    return state.is_queued or state is JobState.PAUSED
