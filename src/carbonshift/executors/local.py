"""``LocalExecutor``: jobs as processes on this machine, supervised so they outlive the caller.

**Delayed start.** Jobs wait in the state directory until *dispatched*: :meth:`dispatch_due`
starts every job whose planned start is at or before ``now`` (the executor's clock by default),
and :meth:`next_due` says when the next one is due, so the service's loop can sleep until then.
:meth:`submit`, :meth:`resume` and :meth:`retime` dispatch at once when the start is already
due. Nothing runs a timer behind the caller's back, which makes tests deterministic: they pass
a controllable ``clock`` (or ``now``) instead of sleeping. Callers without a loop can run
:meth:`start_dispatcher`, a small thread calling :meth:`dispatch_due` on the real clock.

**Supervision.** Each attempt runs under :mod:`~carbonshift.executors.local_wrapper`, a
stdlib-only supervisor in its own session that starts the command in its own process group,
enforces ``max_runtime_s`` (SIGTERM, SIGKILL after ``kill_grace_s``: state ``timeout``) and
records start time, exit code and outcome atomically in the job's folder (see
:mod:`~carbonshift.executors.local_state`). A new ``LocalExecutor`` on the same ``state_dir``
reads the status of every job an earlier (killed) one launched. Jobs that are not yet due when
the service is down simply wait: dispatch happens when it comes back.

**Environment.** A job gets ``base_env`` (default: this process's environment when the job is
dispatched) plus its spec's ``env`` plus ``CARBONSHIFT_JOB_HANDLE``, ``CARBONSHIFT_ATTEMPT``
and ``CARBONSHIFT_ZONE``. Its working directory defaults to its own folder. Resources (GPUs,
CPUs) are recorded but not enforced; the zone is a label.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from carbonshift.errors import UsageError
from carbonshift.executors import local_wrapper
from carbonshift.executors.base import Executor, Stream, check_submit_times
from carbonshift.executors.errors import (
    JobStateError,
    UnknownJobError,
    UnsupportedOperationError,
)
from carbonshift.executors.local_state import Control, JobFolder, LocalJob, can_finish
from carbonshift.executors.local_status import derive_status, is_launching
from carbonshift.executors.logs import pick_stream, read_log
from carbonshift.executors.spec import JobSpec
from carbonshift.executors.status import ExecutorStatus, JobState
from carbonshift.timeutil import format_time, utc

__all__ = ["Clock", "Dispatcher", "LocalExecutor", "system_clock"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, UTC-aware."""
    return datetime.now(UTC)


def _signal_group(pgid: int | None, signum: int) -> None:
    if pgid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class LocalExecutor(Executor):
    """Run jobs as local processes; see the module docstring."""

    kind = "local"

    def __init__(
        self,
        state_dir: Path,
        *,
        clock: Clock = system_clock,
        kill_grace_s: float = 10.0,
        base_env: Mapping[str, str] | None = None,
        zone: str | None = None,
        python: str = sys.executable,
        launch_timeout_s: float = 30.0,
    ) -> None:
        self.state_dir = Path(state_dir).absolute()
        self.clock = clock
        self.kill_grace_s = kill_grace_s
        self.base_env = None if base_env is None else dict(base_env)
        self.zone = zone
        self.python = python
        self.launch_timeout_s = launch_timeout_s
        (self.state_dir / "jobs").mkdir(parents=True, exist_ok=True)
        (self.state_dir / "waiting").mkdir(parents=True, exist_ok=True)

    # -- submit and dispatch --------------------------------------------------------------

    def submit(
        self,
        spec: JobSpec,
        start_at: datetime,
        *,
        max_runtime_s: float | None = None,
        deadline: datetime | None = None,
    ) -> str:
        start, end = check_submit_times(start_at, max_runtime_s, deadline)
        if spec.zone is not None and self.zone is not None and spec.zone != self.zone:
            raise UsageError(
                f"job zone {spec.zone!r} is not this local executor's zone {self.zone!r}",
                hint="submit it to the executor of that zone, or leave the zone out",
            )
        now = self.clock()
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        handle = f"{spec.name + '-' if spec.name else ''}{stamp}-{uuid.uuid4().hex[:8]}"
        folder = JobFolder(self.state_dir, handle)
        job = LocalJob(
            handle=handle,
            spec=spec,
            command=spec.command_argv,
            cwd=(spec.cwd or folder.path).absolute(),
            stdout=(spec.stdout or folder.path / "stdout").absolute(),
            stderr=(spec.stderr or folder.path / "stderr").absolute(),
            submitted_at=now,
            max_runtime_s=None if max_runtime_s is None else float(max_runtime_s),
            deadline=end,
            kill_grace_s=self.kill_grace_s,
        )
        folder.create(job, Control(start_at=start))
        self._dispatch_if_due(folder, now)
        return handle

    def dispatch_due(self, now: datetime | None = None) -> list[str]:
        """Start every waiting job whose planned start is at or before ``now``.

        Returns the handles started. Jobs that can no longer finish by their deadline are
        marked ``deadline_missed`` instead. Safe to call from several processes: each attempt
        is claimed exclusively before it starts.
        """
        moment = self.clock() if now is None else utc(now)
        # the longest overdue first: under a backlog (many jobs due in one clean hour, a slow
        # machine) the job whose start passed longest ago is launched first, not the one
        # whose handle sorts first
        queue: list[tuple[datetime, str, JobFolder]] = []
        for marker in (self.state_dir / "waiting").iterdir():
            try:
                folder = JobFolder(self.state_dir, marker.name)
                queue.append((folder.control().start_at, marker.name, folder))
            except UnknownJobError:
                marker.unlink(missing_ok=True)
        queue.sort(key=lambda item: (item[0], item[1]))
        started = []
        for _, name, folder in queue:
            try:
                if self._dispatch_if_due(folder, moment):
                    started.append(name)
            except UnknownJobError:
                folder.waiting_marker.unlink(missing_ok=True)
        return started

    def next_due(self) -> datetime | None:
        """The earliest planned start among waiting jobs (None if none waits)."""
        starts = []
        for marker in (self.state_dir / "waiting").iterdir():
            try:
                control = JobFolder(self.state_dir, marker.name).control()
            except UnknownJobError:
                continue
            if not (control.cancelled or control.paused or control.deadline_missed):
                starts.append(control.start_at)
        return min(starts, default=None)

    def start_dispatcher(self, poll_s: float = 0.2) -> Dispatcher:
        """Run :meth:`dispatch_due` every ``poll_s`` seconds in a daemon thread until stopped."""
        return Dispatcher(self, poll_s)

    def handles(self) -> list[str]:
        """Every job handle in the state directory, sorted by name."""
        return sorted(p.name for p in (self.state_dir / "jobs").iterdir() if p.is_dir())

    def _dispatch_if_due(self, folder: JobFolder, now: datetime) -> bool:
        control = folder.control()
        if control.cancelled or control.paused or control.deadline_missed:
            folder.mark_waiting(False)
            return False
        if control.start_at > now:
            return False
        job = folder.job()
        if not can_finish(job, now):
            folder.write_control(replace(control, deadline_missed=True, decided_at=now))
            folder.mark_waiting(False)
            return False
        previous = folder.run(control.attempt - 1) if control.attempt > 1 else None
        if previous is not None and not previous.ended and previous.wrapper_alive:
            return False  # the previous attempt is still being stopped; next call starts it
        if not folder.claim(control.attempt):
            folder.mark_waiting(False)
            return False
        folder.mark_waiting(False)
        self._launch(folder, job, control.attempt)
        return True

    def _launch(self, folder: JobFolder, job: LocalJob, attempt: int) -> None:
        env = dict(os.environ if self.base_env is None else self.base_env)
        env.update(job.spec.env)
        env["CARBONSHIFT_JOB_HANDLE"] = job.handle
        env["CARBONSHIFT_ATTEMPT"] = str(attempt)
        zone = job.spec.zone or self.zone
        if zone:
            env["CARBONSHIFT_ZONE"] = zone
        argv = [self.python, "-I", "-S", local_wrapper.__file__, str(folder.path), str(attempt)]
        with open(folder.path / local_wrapper.WRAPPER_LOG, "ab") as wrapper_log:
            proc = subprocess.Popen(
                argv,
                cwd=folder.path,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=wrapper_log,
                stderr=wrapper_log,
                start_new_session=True,
                close_fds=True,
            )
            try:
                returncode = proc.wait(timeout=self.launch_timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                returncode = -1
        if returncode != 0 and folder.run(attempt) is None:
            local_wrapper.atomic_write_json(
                local_wrapper.attempt_file(folder.path, attempt),
                {
                    "attempt": attempt,
                    "outcome": "wrapper_error",
                    "reason": f"the supervisor did not start (see {folder.path / 'wrapper.log'})",
                    "ended_epoch_s": self.clock().timestamp(),
                },
            )

    # -- control --------------------------------------------------------------------------

    def status(self, handle: str) -> ExecutorStatus:
        folder = JobFolder(self.state_dir, handle)
        job = folder.job()
        return derive_status(
            folder,
            job,
            self.clock(),
            zone=job.spec.zone or self.zone,
            launch_timeout_s=self.launch_timeout_s,
        )

    def retime(self, handle: str, start_at: datetime) -> None:
        start = utc(start_at)
        folder = JobFolder(self.state_dir, handle)
        job = folder.job()
        current = self.status(handle)
        control = folder.control()
        if job.deadline is not None and not can_finish(job, start):
            raise UsageError(
                f"job {handle}: a start at {format_time(start)} cannot finish by its deadline "
                f"{format_time(job.deadline)}",
                hint="pick an earlier start; the deadline bounds the latest safe start",
            )
        if current.state.is_queued and not is_launching(folder, control):
            folder.write_control(replace(control, start_at=start))
        elif current.state is JobState.PAUSED and job.spec.interruptible == "restart":
            self._next_attempt(folder, control, start)
        else:
            raise JobStateError(
                f"job {handle} is {current.state}: only a job that has not started (or is "
                "paused to restart) can be re-timed"
            )
        folder.mark_waiting(True)
        self._dispatch_if_due(folder, self.clock())

    def cancel(self, handle: str) -> None:
        folder = JobFolder(self.state_dir, handle)
        current = self.status(handle)
        if current.state.is_terminal:
            return
        control = folder.update_control(cancelled=True, cancelled_at=self.clock())
        folder.mark_waiting(False)
        self._stop_attempt(folder, control.attempt)

    def pause(self, handle: str) -> None:
        folder = JobFolder(self.state_dir, handle)
        mode = self._interrupt_mode(folder, handle, "paused")
        current = self.status(handle)
        if current.state is JobState.PAUSED:
            return
        if current.state is not JobState.RUNNING:
            raise JobStateError(
                f"job {handle} is {current.state}: only a running job can be paused",
                hint="re-time a job that has not started instead",
            )
        control = folder.update_control(paused=True)
        if mode == "signal":
            run = folder.run(control.attempt)
            _signal_group(None if run is None else run.pid, signal.SIGSTOP)
        else:
            self._stop_attempt(folder, control.attempt)

    def resume(self, handle: str) -> None:
        folder = JobFolder(self.state_dir, handle)
        mode = self._interrupt_mode(folder, handle, "resumed")
        current = self.status(handle)
        if current.state is not JobState.PAUSED:
            raise JobStateError(f"job {handle} is {current.state}, not paused")
        control = folder.control()
        if mode == "signal":
            run = folder.run(control.attempt)
            _signal_group(None if run is None else run.pid, signal.SIGCONT)
            folder.update_control(paused=False)
            return
        self._next_attempt(folder, control, self.clock())
        folder.mark_waiting(True)
        self._dispatch_if_due(folder, self.clock())

    def logs(self, handle: str, stream: Stream = "stdout", tail_bytes: int | None = None) -> str:
        job = JobFolder(self.state_dir, handle).job()
        return read_log(pick_stream(stream, job.stdout, job.stderr), tail_bytes)

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _interrupt_mode(folder: JobFolder, handle: str, verb: str) -> str:
        mode = folder.job().spec.interruptible
        if mode is None:
            raise UnsupportedOperationError(
                f"job {handle} is not interruptible, so it cannot be {verb}",
                hint="submit it with interruptible='signal' or 'restart'",
            )
        return mode

    @staticmethod
    def _next_attempt(folder: JobFolder, control: Control, start: datetime) -> None:
        folder.write_control(
            replace(control, start_at=start, attempt=control.attempt + 1, paused=False)
        )

    @staticmethod
    def _stop_attempt(folder: JobFolder, attempt: int) -> None:
        """Ask the supervisor to stop the attempt; kill the group itself if it is gone."""
        run = folder.run(attempt)
        if run is None or run.ended:
            return
        if run.wrapper_alive and run.wrapper_pid is not None:
            try:
                os.kill(run.wrapper_pid, signal.SIGTERM)
                return
            except ProcessLookupError:
                pass
        if run.child_alive:
            _signal_group(run.pid, signal.SIGKILL)


class Dispatcher:
    """A daemon thread calling :meth:`LocalExecutor.dispatch_due`; use as a context manager."""

    def __init__(self, executor: LocalExecutor, poll_s: float) -> None:
        self.executor = executor
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="carbonshift-dispatch", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                self.executor.dispatch_due()
            except Exception:  # a daemon loop: log, keep going
                log.exception("dispatching due local jobs failed")
            if self._stop.wait(self.poll_s):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
