"""Plain records of the job store: a job row, a new job, a plan and a transition.

These are what the store hands out and takes in; they hold no connection and no session, so
they can be passed between the API threads and the planning loop freely.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from carbonshift.service.lifecycle import State

__all__ = [
    "JobRow",
    "NewJob",
    "PlanRow",
    "PlanWrite",
    "TransitionRow",
    "dumps",
    "finite_or_none",
    "loads",
]


def dumps(value: Any) -> str:
    """Compact JSON (NaN written as null)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def loads(text: str | None, default: Any = None) -> Any:
    return default if text is None or text == "" else json.loads(text)


def finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job as submitted (times in epoch seconds of the service's clock)."""

    command: tuple[str, ...]
    duration_s: int
    deadline_s: float
    safety_margin_s: int
    submitted_at_s: float
    name: str = ""
    client_key: str | None = None
    shell: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    max_runtime_s: float | None = None
    gpus: int = 0
    cpus: int | None = None
    power_w: float | None = None
    zones: tuple[str, ...] = ()
    executor_kind: str | None = None
    interruptible: bool = False
    min_chunk_s: int | None = None
    urgent: bool = False

    def to_row(self) -> dict[str, Any]:
        return {
            "client_key": self.client_key,
            "name": self.name,
            "submitted_at_s": self.submitted_at_s,
            "updated_at_s": self.submitted_at_s,
            "command": dumps(list(self.command)),
            "shell": self.shell,
            "env": dumps(dict(self.env)),
            "cwd": self.cwd,
            "duration_s": self.duration_s,
            "max_runtime_s": self.max_runtime_s,
            "deadline_s": self.deadline_s,
            "safety_margin_s": self.safety_margin_s,
            "gpus": self.gpus,
            "cpus": self.cpus,
            "power_w": self.power_w,
            "zones": dumps(list(self.zones)),
            "executor_kind": self.executor_kind,
            "interruptible": self.interruptible,
            "min_chunk_s": self.min_chunk_s,
            "urgent": self.urgent,
        }


@dataclass(frozen=True, slots=True)
class JobRow:
    """One row of ``cs_jobs``."""

    id: int
    client_key: str | None
    name: str
    state: State
    version: int
    submitted_at_s: float
    updated_at_s: float
    command: tuple[str, ...]
    shell: bool
    env: dict[str, str]
    cwd: str | None
    duration_s: int
    max_runtime_s: float | None
    deadline_s: float
    safety_margin_s: int
    gpus: int
    cpus: int | None
    power_w: float | None
    zones: tuple[str, ...]
    executor_kind: str | None
    interruptible: bool
    min_chunk_s: int | None
    urgent: bool
    planned_zone: str | None
    planned_start_s: float | None
    planned_end_s: float | None
    segments: tuple[tuple[float, float], ...]
    planned_at_s: float | None
    plan_count: int
    fallback_level: str | None
    fallback_reason: str | None
    executor: str | None
    handle: str | None
    dispatch_token: str | None
    dispatch_attempt: int
    retired_executor: str | None
    retired_handle: str | None
    segment_index: int
    started_at_s: float | None
    ended_at_s: float | None
    exit_code: int | None
    reason: str | None
    cancel_requested_at_s: float | None

    @property
    def latest_safe_start_s(self) -> float:
        """``deadline − duration − safety margin``: no start may come later."""
        return self.deadline_s - self.duration_s - self.safety_margin_s

    @classmethod
    def from_mapping(cls, m: Mapping[Any, Any]) -> JobRow:
        raw = dict(m)
        raw["state"] = State(raw["state"])
        raw["command"] = tuple(loads(raw["command"], []))
        raw["env"] = dict(loads(raw["env"], {}))
        raw["zones"] = tuple(loads(raw["zones"], []))
        raw["segments"] = tuple((float(a), float(b)) for a, b in loads(raw["segments"], []))
        for key in ("shell", "interruptible", "urgent"):
            raw[key] = bool(raw[key])
        return cls(**{k: v for k, v in raw.items() if k in _JOB_FIELDS})


_JOB_FIELDS = frozenset(f.name for f in fields(JobRow))


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One row of ``cs_plans``: a decision for one job."""

    id: int
    job_id: int
    decided_at_s: float
    zone: str
    start_s: float
    end_s: float
    segments: tuple[tuple[float, float], ...]
    mean_intensity_g_per_kwh: float | None
    immediate_mean_intensity_g_per_kwh: float | None
    emissions_g: float | None
    policy: str
    solver: str
    forecast_id: int | None
    forecast_issued_at_s: float | None
    forecast_source: str | None
    fallback_level: str | None
    fallback_reason: str | None
    note: str

    @classmethod
    def from_mapping(cls, m: Mapping[Any, Any]) -> PlanRow:
        raw = dict(m)
        raw["segments"] = tuple((float(a), float(b)) for a, b in loads(raw["segments"], []))
        return cls(**raw)


@dataclass(frozen=True, slots=True)
class TransitionRow:
    """One row of ``cs_transitions``."""

    id: int
    job_id: int
    from_state: str | None
    to_state: str
    at_s: float
    reason: str
    detail: dict[str, Any]

    @classmethod
    def from_mapping(cls, m: Mapping[Any, Any]) -> TransitionRow:
        raw = dict(m)
        raw["detail"] = dict(loads(raw["detail"], {}))
        return cls(**raw)


@dataclass(frozen=True, slots=True)
class PlanWrite:
    """A plan to record for one job, with the job fields it sets and an optional transition.

    The write applies only while the job is still in ``expect``; otherwise it is skipped (the
    job moved on, e.g. it was cancelled meanwhile).
    """

    job_id: int
    expect: State
    plan: Mapping[str, Any]
    changed: bool
    to_state: State | None = None
    reason: str = ""

    @staticmethod
    def segments_json(segments: Sequence[tuple[float, float]]) -> str:
        return dumps([[float(a), float(b)] for a, b in segments])
