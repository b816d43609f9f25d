"""Reading Slurm's view of a job (``squeue --json``, ``scontrol show job -o``) and mapping it
onto :class:`JobState`. Pure functions: no Slurm needed to test them.

``squeue --json`` is parsed in both shapes seen in the wild: OpenAPI v0.0.38 (Slurm 22.05:
plain integers, ``exit_code`` a raw wait status, ``job_state`` a string) and the later
data_parser shape (``{"set": true, "number": N}`` integers, ``job_state`` a list,
``exit_code`` an object). ``scontrol`` prints local times; the executor runs it with ``TZ=UTC``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from carbonshift.executors.errors import ExecutorError
from carbonshift.executors.status import ExecutorStatus, JobState
from carbonshift.timeutil import from_epoch_s

__all__ = ["SlurmJobInfo", "map_state", "parse_scontrol_job", "parse_squeue_json", "to_status"]

_RUNNING = {"RUNNING", "CONFIGURING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING"}
_FAILED = {"FAILED", "NODE_FAIL", "BOOT_FAIL", "OUT_OF_MEMORY", "SPECIAL_EXIT", "PREEMPTED"}
_TERMINAL = {
    "COMPLETED": JobState.SUCCEEDED,
    "CANCELLED": JobState.CANCELLED,
    "TIMEOUT": JobState.TIMEOUT,
    "DEADLINE": JobState.DEADLINE_MISSED,
    **dict.fromkeys(_FAILED, JobState.FAILED),
}
_HELD = {"JobHeldUser", "JobHeldAdmin", "job_requeued_in_held_state"}


@dataclass(frozen=True, slots=True)
class SlurmJobInfo:
    """The fields of one Slurm job that the executor uses."""

    job_id: str
    job_state: str
    reason: str = ""
    partition: str = ""
    submit_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    deadline: datetime | None = None
    exit_code: int | None = None
    signal: int | None = None
    ran: bool = False
    stdout: str = ""
    stderr: str = ""
    name: str = ""
    restart_count: int = 0


def _number(value: Any) -> int | None:
    """An integer from v0.0.38 (plain) or later ({"set", "number", "infinite"}) JSON."""
    if isinstance(value, dict):
        if not value.get("set", True) or value.get("infinite", False):
            return None
        value = value.get("number")
    if value is None or isinstance(value, bool):
        return None
    return int(value)


def _epoch(value: Any) -> datetime | None:
    number = _number(value)
    return None if not number or number <= 0 else from_epoch_s(number)


def _exit(value: Any) -> tuple[int | None, int | None]:
    """(exit code, signal) from a raw wait status (v0.0.38) or an exit_code object."""
    if isinstance(value, dict) and ("return_code" in value or "signal" in value):
        code = _number(value.get("return_code"))
        sig = value.get("signal") or {}
        signum = _number(sig.get("id") or sig.get("signal_id")) if isinstance(sig, dict) else None
        return code, signum or None
    raw = _number(value)
    if raw is None:
        return None, None
    if raw & 0x7F:
        return None, raw & 0x7F
    return (raw >> 8) & 0xFF, None


def _state_word(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).split()[0].upper() if str(value).strip() else "UNKNOWN"


def _info_from_json(job: Mapping[str, Any]) -> SlurmJobInfo:
    code, signum = _exit(job.get("exit_code"))
    return SlurmJobInfo(
        job_id=str(_number(job["job_id"])),
        job_state=_state_word(job.get("job_state")),
        reason=str(job.get("state_reason") or ""),
        partition=str(job.get("partition") or ""),
        submit_time=_epoch(job.get("submit_time")),
        start_time=_epoch(job.get("start_time")),
        end_time=_epoch(job.get("end_time")),
        deadline=_epoch(job.get("deadline")),
        exit_code=code,
        signal=signum,
        ran=bool(job.get("batch_host") or job.get("nodes")),
        stdout=str(job.get("standard_output") or ""),
        stderr=str(job.get("standard_error") or ""),
        name=str(job.get("name") or ""),
        restart_count=_number(job.get("restart_cnt")) or 0,
    )


def parse_squeue_json(text: str) -> dict[str, SlurmJobInfo]:
    """Every job in ``squeue --json`` output, by job id (as a string)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExecutorError(f"squeue --json printed something that is not JSON: {exc}") from None
    errors = [e for e in data.get("errors") or [] if e]
    if errors and not data.get("jobs"):
        raise ExecutorError(f"squeue --json reported an error: {errors[0]}")
    jobs = [_info_from_json(job) for job in data.get("jobs") or []]
    return {info.job_id: info for info in jobs}


def _scontrol_time(value: str | None) -> datetime | None:
    if not value or value in ("Unknown", "None", "N/A", "(null)"):
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_scontrol_job(text: str) -> SlurmJobInfo:
    """The job in ``scontrol show job -o N`` output (``Key=Value`` pairs on one line)."""
    fields: dict[str, str] = {}
    last = ""
    for token in text.strip().split(" "):
        key, sep, value = token.partition("=")
        if sep and key and not key.startswith("/"):
            fields[key], last = value, key
        elif last:  # a value with spaces in it
            fields[last] += " " + token
    if "JobId" not in fields:
        raise ExecutorError(f"cannot read scontrol output: {text.strip()[:200]!r}")
    code_text, _, signal_text = fields.get("ExitCode", "").partition(":")
    code = int(code_text) if code_text.isdigit() else None
    signum = int(signal_text) if signal_text.isdigit() and int(signal_text) else None
    node_list = fields.get("NodeList", "")
    return SlurmJobInfo(
        job_id=fields["JobId"],
        job_state=_state_word(fields.get("JobState", "")),
        reason=fields.get("Reason", ""),
        partition=fields.get("Partition", ""),
        submit_time=_scontrol_time(fields.get("SubmitTime")),
        start_time=_scontrol_time(fields.get("StartTime")),
        end_time=_scontrol_time(fields.get("EndTime")),
        deadline=_scontrol_time(fields.get("Deadline")),
        exit_code=code,
        signal=signum,
        ran=bool(node_list and node_list != "(null)") or bool(fields.get("BatchHost")),
        stdout=fields.get("StdOut", ""),
        stderr=fields.get("StdErr", ""),
        name=fields.get("JobName", ""),
        restart_count=int(fields.get("Restarts", "0") or 0),
    )


def map_state(native: str, reason: str, *, paused: bool = False) -> tuple[JobState, str]:
    """``(state, reason in words)`` for a Slurm state word and reason code.

    ``paused`` says the executor requeued-and-held the job (a ``restart`` pause): while it is
    not finished it reads as ``paused``.
    """
    word = native.upper()
    if word in _TERMINAL:
        state = _TERMINAL[word]
        return state, f"{word} ({reason})" if reason and reason != "None" else word
    if paused:
        return JobState.PAUSED, f"requeued and held until resumed ({word}, {reason})"
    if word in ("SUSPENDED", "STOPPED"):
        return JobState.PAUSED, f"{word} (scontrol suspend)"
    if word in _RUNNING:
        return JobState.RUNNING, word
    if word in ("PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"):
        if reason == "BeginTime":
            return JobState.WAITING, "waiting for its begin time (BeginTime)"
        if reason in _HELD or word == "REQUEUE_HOLD":
            return JobState.PENDING, f"held ({reason}); release it to run"
        return JobState.PENDING, f"pending ({reason})" if reason else "pending"
    return JobState.PENDING, f"unrecognised Slurm state {native!r} ({reason})"


def to_status(
    info: SlurmJobInfo,
    *,
    zone: str | None,
    paused: bool = False,
    handle: str | None = None,
    now: datetime | None = None,
) -> ExecutorStatus:
    """The :class:`ExecutorStatus` for ``info``; exit code and times only where they apply.

    A pending job with no reason yet (just released or updated, before the next scheduling
    pass) whose start time is after ``now`` reads as ``waiting``, like one with ``BeginTime``.
    """
    state, reason = map_state(info.job_state, info.reason, paused=paused)
    if (
        state is JobState.PENDING
        and info.reason in ("", "None")
        and info.start_time is not None
        and now is not None
        and info.start_time > now
    ):
        state, reason = JobState.WAITING, "waiting for its begin time"
    if state is JobState.FAILED and info.exit_code == 127:
        reason += "; exit 127: command not found (see the job's stderr)"
    started = info.start_time if info.ran and not state.is_queued else None
    ended = info.end_time if state.is_terminal else None
    has_exit = state in (JobState.SUCCEEDED, JobState.FAILED, JobState.TIMEOUT) or (
        state is JobState.CANCELLED and info.ran
    )
    return ExecutorStatus(
        handle=handle or info.job_id,
        state=state,
        planned_start=info.start_time if state.is_queued else None,
        started_at=started,
        ended_at=ended,
        exit_code=info.exit_code if has_exit else None,
        signal=info.signal if has_exit else None,
        reason=reason,
        zone=zone,
        attempt=info.restart_count + 1,
        native_state=info.job_state,
    )
