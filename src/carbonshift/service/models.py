"""The REST API's request and response bodies (pydantic; they make the OpenAPI schema).

Durations are strings at this edge (``90m``, ``2h``, ISO ``PT2H``) and times ISO 8601 UTC with
``Z``. ``deadline`` takes either a time or a duration from now (``8h``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from carbonshift.errors import UsageError
from carbonshift.service.records import JobRow, PlanRow, TransitionRow
from carbonshift.timeutil import format_time, from_epoch_s, parse_duration, parse_time

__all__ = [
    "Fallback",
    "Health",
    "JobCreate",
    "JobList",
    "JobOut",
    "PlanOut",
    "PlanRequest",
    "PlanResult",
    "TransitionOut",
    "ZoneOut",
    "ZonePoint",
    "job_out",
    "parse_deadline",
    "plan_out",
    "transition_out",
]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$|^$"
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TIME_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso(value_s: float | None) -> str | None:
    return None if value_s is None else format_time(from_epoch_s(value_s))


def _check_duration(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value, field=field).total_seconds()
    except UsageError as exc:
        raise ValueError(exc.one_line()) from None
    if seconds <= 0:
        raise ValueError(f"{field}: must be positive")
    return value


def parse_deadline(text: str, now: datetime) -> datetime:
    """A time (ISO 8601 with zone) or a duration from ``now``."""
    if _TIME_LIKE.match(text.strip()):
        return parse_time(text, field="deadline")
    return now + parse_duration(text, field="deadline")


class PlanRequest(BaseModel):
    """What the planner needs to know about a job."""

    model_config = ConfigDict(extra="forbid")

    duration: str = Field(description="Expected run time: 90m, 2h, PT2H.", examples=["2h"])
    deadline: str | None = Field(
        None,
        description="Latest finish: an ISO 8601 UTC time, or a duration from now (8h).",
        examples=["8h", "2026-12-01T06:00Z"],
    )
    slack: str | None = Field(None, description="Latest start minus now, e.g. 6h.")
    zones: list[str] = Field(default_factory=list, description="Allowed zones, home first.")
    gpus: int = Field(0, ge=0, le=100_000)
    cpus: int | None = Field(None, ge=1, le=100_000)
    power_w: float | None = Field(None, ge=0, description="Declared power draw in watts.")
    executor: Literal["local", "slurm"] | None = None
    interruptible: bool = False
    min_chunk: str | None = Field(None, description="Shortest chunk of an interruptible job.")
    urgent: bool = False

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: str) -> str:
        out = _check_duration(v, "duration")
        assert out is not None
        return out

    @field_validator("slack", "min_chunk")
    @classmethod
    def _durations(cls, v: str | None) -> str | None:
        if v is not None and parse_duration_or_none(v) is None:
            raise ValueError(f"cannot read {v!r} as a duration (e.g. 90m, 2h, PT2H)")
        return v

    @field_validator("deadline")
    @classmethod
    def _deadline(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            parse_deadline(v, datetime(2000, 1, 1, tzinfo=UTC))
        except UsageError as exc:
            raise ValueError(exc.one_line()) from None
        return v

    @model_validator(mode="after")
    def _one_of(self) -> PlanRequest:
        if (self.deadline is None) == (self.slack is None):
            raise ValueError("give exactly one of deadline (latest finish) and slack")
        if self.min_chunk is not None and not self.interruptible:
            raise ValueError("min_chunk applies only with interruptible=true")
        return self


def parse_duration_or_none(text: str) -> float | None:
    try:
        return parse_duration(text).total_seconds()
    except UsageError:
        return None


class JobCreate(PlanRequest):
    """A job to run: the command and how to run it, plus the planning fields."""

    command: list[str] = Field(
        min_length=1, description="Argument vector (no shell unless shell=true)."
    )
    shell: bool = Field(False, description="Run command[0] with /bin/sh -c.")
    max_duration: str | None = Field(None, description="Kill the job after this run time.")
    name: str = Field("", pattern=_NAME, description="A label for listings.")
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    client_key: str | None = Field(
        None,
        max_length=200,
        description="Idempotency key: a retry with the same key returns the same job.",
    )

    @field_validator("command")
    @classmethod
    def _command(cls, v: list[str]) -> list[str]:
        if not v[0]:
            raise ValueError("command[0] (the program) must not be empty")
        return v

    @field_validator("max_duration")
    @classmethod
    def _max(cls, v: str | None) -> str | None:
        return _check_duration(v, "max_duration")

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not _ENV.match(key):
                raise ValueError(f"{key!r} is not a valid variable name")
        return v

    @model_validator(mode="after")
    def _shell(self) -> JobCreate:
        if self.shell and len(self.command) != 1:
            raise ValueError("shell=true takes exactly one string, the command line")
        return self


class Fallback(BaseModel):
    level: str
    reason: str


class CurrentPlan(BaseModel):
    zone: str
    start: str
    end: str
    segments: list[list[str]]
    planned_at: str | None
    plans: int
    fallback: Fallback | None


class JobOut(BaseModel):
    id: int
    name: str
    state: str
    command: list[str]
    shell: bool
    submitted_at: str
    duration_s: int
    deadline: str
    latest_safe_start: str
    zones: list[str]
    gpus: int
    executor_kind: str | None
    interruptible: bool
    urgent: bool
    plan: CurrentPlan | None
    executor: str | None
    handle: str | None
    started_at: str | None
    ended_at: str | None
    exit_code: int | None
    reason: str | None
    cancel_requested: bool


class JobList(BaseModel):
    jobs: list[JobOut]
    next_after: int | None = Field(None, description="Pass as ?after= for the next page.")


class PlanOut(BaseModel):
    decided_at: str
    zone: str
    start: str
    end: str
    segments: list[list[str]]
    mean_intensity_g_per_kwh: float | None
    immediate_mean_intensity_g_per_kwh: float | None
    emissions_g: float | None
    policy: str
    solver: str
    forecast: dict[str, Any] | None
    fallback: Fallback | None
    note: str


class TransitionOut(BaseModel):
    from_state: str | None
    to_state: str
    at: str
    reason: str
    detail: dict[str, Any]


class ZonePoint(BaseModel):
    time: str
    intensity_g_per_kwh: float | None


class ZoneOut(BaseModel):
    zone: str
    executor: str
    executor_kind: str
    capacity_gpus: int | None
    status: str = Field(description="fresh, stale (last good forecast) or none")
    source: str
    reason: str
    current_intensity_g_per_kwh: float | None
    forecast_issued_at: str | None
    forecast_start: str | None
    forecast_end: str | None
    static_slot: str | None
    forecast: list[ZonePoint] | None = None


class PlanResult(BaseModel):
    zone: str
    start: str
    end: str
    segments: list[list[str]]
    mean_intensity_g_per_kwh: float | None
    immediate_mean_intensity_g_per_kwh: float | None
    savings_pct: float | None
    decision_time: str
    latest_safe_start: str
    forecast: str
    fallback: Fallback | None


class Health(BaseModel):
    status: str
    now: str
    clock: str
    store: str
    schema_version: int
    loop_running: bool
    loop_passes: int
    zones: dict[str, str]


def _fallback(level: str | None, reason: str | None) -> Fallback | None:
    return None if level is None else Fallback(level=level, reason=reason or "")


def _segments(segments: tuple[tuple[float, float], ...]) -> list[list[str]]:
    return [[format_time(from_epoch_s(a)), format_time(from_epoch_s(b))] for a, b in segments]


def job_out(row: JobRow) -> JobOut:
    plan = None
    if row.planned_zone is not None and row.planned_start_s is not None:
        plan = CurrentPlan(
            zone=row.planned_zone,
            start=format_time(from_epoch_s(row.planned_start_s)),
            end=format_time(from_epoch_s(row.planned_end_s or row.planned_start_s)),
            segments=_segments(row.segments),
            planned_at=_iso(row.planned_at_s),
            plans=row.plan_count,
            fallback=_fallback(row.fallback_level, row.fallback_reason),
        )
    return JobOut(
        id=row.id,
        name=row.name,
        state=row.state.value,
        command=list(row.command),
        shell=row.shell,
        submitted_at=format_time(from_epoch_s(row.submitted_at_s)),
        duration_s=row.duration_s,
        deadline=format_time(from_epoch_s(row.deadline_s)),
        latest_safe_start=format_time(from_epoch_s(row.latest_safe_start_s)),
        zones=list(row.zones),
        gpus=row.gpus,
        executor_kind=row.executor_kind,
        interruptible=row.interruptible,
        urgent=row.urgent,
        plan=plan,
        executor=row.executor,
        handle=row.handle,
        started_at=_iso(row.started_at_s),
        ended_at=_iso(row.ended_at_s),
        exit_code=row.exit_code,
        reason=row.reason,
        cancel_requested=row.cancel_requested_at_s is not None,
    )


def plan_out(p: PlanRow) -> PlanOut:
    forecast = None
    if p.forecast_source is not None:
        forecast = {
            "id": p.forecast_id,
            "issued_at": _iso(p.forecast_issued_at_s),
            "source": p.forecast_source,
        }
    return PlanOut(
        decided_at=format_time(from_epoch_s(p.decided_at_s)),
        zone=p.zone,
        start=format_time(from_epoch_s(p.start_s)),
        end=format_time(from_epoch_s(p.end_s)),
        segments=_segments(p.segments),
        mean_intensity_g_per_kwh=p.mean_intensity_g_per_kwh,
        immediate_mean_intensity_g_per_kwh=p.immediate_mean_intensity_g_per_kwh,
        emissions_g=p.emissions_g,
        policy=p.policy,
        solver=p.solver,
        forecast=forecast,
        fallback=_fallback(p.fallback_level, p.fallback_reason),
        note=p.note,
    )


def transition_out(t: TransitionRow) -> TransitionOut:
    return TransitionOut(
        from_state=t.from_state,
        to_state=t.to_state,
        at=format_time(from_epoch_s(t.at_s)),
        reason=t.reason,
        detail=t.detail,
    )
