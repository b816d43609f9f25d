"""The durable state of local jobs: one folder per job under the executor's state directory.

::

    STATE_DIR/
      jobs/HANDLE/
        job.json          what to run (written once at submit, by the executor)
        control.json      what the executor wants: planned start, attempt, paused, cancelled
        attempt-N.claim   created exclusively when attempt N is dispatched (no double start)
        attempt-N.json    what happened to attempt N (written by the supervisor process)
        stdout, stderr    default output files (appended across attempts)
        wrapper.log       the supervisor's own errors
      waiting/HANDLE      present while the job waits for dispatch (a cheap index)

Each file has one writer, and every write is atomic (temp file + rename). Times are epoch
seconds in the files and UTC datetimes in the dataclasses.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from carbonshift.executors.errors import UnknownJobError
from carbonshift.executors.local_wrapper import (
    CONTROL_FILE,
    JOB_FILE,
    atomic_write_json,
    attempt_file,
    proc_start_ticks,
    read_json,
)
from carbonshift.executors.spec import JobSpec
from carbonshift.timeutil import from_epoch_s

__all__ = ["Control", "JobFolder", "LocalJob", "RunRecord", "can_finish", "process_alive"]

_HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _time(value: Any) -> datetime | None:
    return None if value is None else from_epoch_s(float(value))


def process_alive(pid: int | None, start_ticks: int | None) -> bool:
    """True if ``pid`` runs and is the same process (same start ticks), not a zombie."""
    if pid is None or pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:  # no /proc (not Linux) or no such process
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if fields[0] in ("Z", "X"):
        return False
    return start_ticks is None or proc_start_ticks(pid) == start_ticks


@dataclass(frozen=True, slots=True)
class LocalJob:
    """``job.json``: the spec and the limits fixed at submit."""

    handle: str
    spec: JobSpec
    command: tuple[str, ...]
    cwd: Path
    stdout: Path
    stderr: Path
    submitted_at: datetime
    max_runtime_s: float | None = None
    deadline: datetime | None = None
    kill_grace_s: float = 10.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "spec": self.spec.to_dict(),
            "command": list(self.command),
            "cwd": str(self.cwd),
            "stdout": str(self.stdout),
            "stderr": str(self.stderr),
            "submitted_epoch_s": self.submitted_at.timestamp(),
            "max_runtime_s": self.max_runtime_s,
            "deadline_epoch_s": _epoch(self.deadline),
            "kill_grace_s": self.kill_grace_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LocalJob:
        submitted = _time(data["submitted_epoch_s"])
        assert submitted is not None
        limit = data.get("max_runtime_s")
        return cls(
            handle=str(data["handle"]),
            spec=JobSpec.from_dict(data["spec"]),
            command=tuple(str(a) for a in data["command"]),
            cwd=Path(data["cwd"]),
            stdout=Path(data["stdout"]),
            stderr=Path(data["stderr"]),
            submitted_at=submitted,
            max_runtime_s=None if limit is None else float(limit),
            deadline=_time(data.get("deadline_epoch_s")),
            kill_grace_s=float(data.get("kill_grace_s", 10.0)),
        )


def can_finish(job: LocalJob, start: datetime) -> bool:
    """True if a start at ``start`` can end by the job's deadline, given its max run time."""
    if job.deadline is None:
        return True
    run_s = job.max_runtime_s or 0.0
    return start < job.deadline and start + timedelta(seconds=run_s) <= job.deadline


@dataclass(frozen=True, slots=True)
class Control:
    """``control.json``: the executor's intent for the job."""

    start_at: datetime
    attempt: int = 1
    paused: bool = False
    cancelled: bool = False
    cancelled_at: datetime | None = None
    deadline_missed: bool = False
    decided_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_at_epoch_s": self.start_at.timestamp(),
            "attempt": self.attempt,
            "paused": self.paused,
            "cancelled": self.cancelled,
            "cancelled_epoch_s": _epoch(self.cancelled_at),
            "deadline_missed": self.deadline_missed,
            "decided_epoch_s": _epoch(self.decided_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Control:
        start = _time(data["start_at_epoch_s"])
        assert start is not None
        return cls(
            start_at=start,
            attempt=int(data.get("attempt", 1)),
            paused=bool(data.get("paused", False)),
            cancelled=bool(data.get("cancelled", False)),
            cancelled_at=_time(data.get("cancelled_epoch_s")),
            deadline_missed=bool(data.get("deadline_missed", False)),
            decided_at=_time(data.get("decided_epoch_s")),
        )


@dataclass(frozen=True, slots=True)
class RunRecord:
    """``attempt-N.json``: what the supervisor saw (see :mod:`local_wrapper`)."""

    attempt: int
    outcome: str
    wrapper_pid: int | None = None
    wrapper_start_ticks: int | None = None
    pid: int | None = None
    child_start_ticks: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    signal: int | None = None
    reason: str = ""

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def wrapper_alive(self) -> bool:
        return process_alive(self.wrapper_pid, self.wrapper_start_ticks)

    @property
    def child_alive(self) -> bool:
        return process_alive(self.pid, self.child_start_ticks)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        def opt_int(key: str) -> int | None:
            value = data.get(key)
            return None if value is None else int(value)

        return cls(
            attempt=int(data["attempt"]),
            outcome=str(data.get("outcome", "")),
            wrapper_pid=opt_int("wrapper_pid"),
            wrapper_start_ticks=opt_int("wrapper_start_ticks"),
            pid=opt_int("pid"),
            child_start_ticks=opt_int("child_start_ticks"),
            started_at=_time(data.get("started_epoch_s")),
            ended_at=_time(data.get("ended_epoch_s")),
            exit_code=opt_int("exit_code"),
            signal=opt_int("signal"),
            reason=str(data.get("reason", "")),
        )


class JobFolder:
    """Reads and writes one job's files; the single place that knows the layout."""

    def __init__(self, state_dir: Path, handle: str) -> None:
        if not _HANDLE.match(handle):
            raise UnknownJobError(
                f"{handle!r} is not a local job handle",
                hint="pass the string LocalExecutor.submit returned",
            )
        self.handle = handle
        self.state_dir = state_dir
        self.path = state_dir / "jobs" / handle
        self.waiting_marker = state_dir / "waiting" / handle

    def exists(self) -> bool:
        return (self.path / JOB_FILE).is_file()

    def create(self, job: LocalJob, control: Control) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.mkdir(mode=0o700, exist_ok=False)  # job.json may hold secrets (env)
        atomic_write_json(self.path / JOB_FILE, job.to_dict())
        atomic_write_json(self.path / CONTROL_FILE, control.to_dict())
        self.mark_waiting(True)

    def job(self) -> LocalJob:
        data = read_json(self.path / JOB_FILE)
        if data is None:
            raise UnknownJobError(
                f"no local job {self.handle!r} in {self.state_dir}",
                hint="check the handle and that the executor uses the same state directory",
            )
        return LocalJob.from_dict(data)

    def control(self) -> Control:
        data = read_json(self.path / CONTROL_FILE)
        if data is None:
            raise UnknownJobError(f"local job {self.handle!r} has no control file")
        return Control.from_dict(data)

    def write_control(self, control: Control) -> Control:
        atomic_write_json(self.path / CONTROL_FILE, control.to_dict())
        return control

    def update_control(self, **changes: Any) -> Control:
        return self.write_control(replace(self.control(), **changes))

    def run(self, attempt: int) -> RunRecord | None:
        data = read_json(attempt_file(self.path, attempt))
        return None if data is None else RunRecord.from_dict(data)

    def claim(self, attempt: int) -> bool:
        """Reserve attempt ``attempt`` for dispatch; False if someone already did."""
        try:
            fd = os.open(
                self.path / f"attempt-{attempt}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644
            )
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{time.time()}\n")
        return True

    def claim_age_s(self, attempt: int) -> float | None:
        """Seconds since attempt ``attempt`` was claimed, or None if it was not."""
        try:
            return time.time() - (self.path / f"attempt-{attempt}.claim").stat().st_mtime
        except FileNotFoundError:
            return None

    def mark_waiting(self, waiting: bool) -> None:
        if waiting:
            self.waiting_marker.parent.mkdir(parents=True, exist_ok=True)
            self.waiting_marker.touch()
        else:
            self.waiting_marker.unlink(missing_ok=True)
