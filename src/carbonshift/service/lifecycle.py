"""The job lifecycle: states, the legal transitions between them, and their check.

::

    submitted ──> planned ──> dispatching ──> waiting ──> running ──> succeeded
        │            │  ▲          │   ▲         │          │  ▲   ──> failed
        │            │  └──────────┘   └─────────┘          ▼  │   ──> cancelled
        └────────────┴──────────> cancelled / failed      paused

- ``submitted``: stored, not yet planned.
- ``planned``: the service holds a plan (re-planned every pass until it is dispatched).
- ``dispatching``: being handed to an executor. The intent (executor and a dispatch token that
  names the executor's job) is committed *before* the executor is called, so a restarted
  service asks the executor whether the job arrived instead of submitting it twice.
- ``waiting``: the executor holds the job with a delayed start (re-timed when re-planned).
- ``running`` / ``paused`` (interruptible jobs): executing.
- ``succeeded`` / ``failed`` / ``cancelled``: final.

Every transition is one database transaction with its time and reason (see
:mod:`carbonshift.service.store`); anything not in :data:`ALLOWED` is refused.
"""

from __future__ import annotations

from enum import StrEnum

from carbonshift.errors import UsageError

__all__ = [
    "ACTIVE",
    "ALLOWED",
    "TERMINAL",
    "IllegalTransitionError",
    "State",
    "check_transition",
]


class State(StrEnum):
    SUBMITTED = "submitted"
    PLANNED = "planned"
    DISPATCHING = "dispatching"
    WAITING = "waiting"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED})
"""States a job never leaves."""

ACTIVE = frozenset({State.DISPATCHING, State.WAITING, State.RUNNING, State.PAUSED})
"""States in which an executor may hold the job."""

ALLOWED: dict[State, frozenset[State]] = {
    State.SUBMITTED: frozenset({State.PLANNED, State.CANCELLED, State.FAILED}),
    State.PLANNED: frozenset({State.DISPATCHING, State.CANCELLED, State.FAILED}),
    # back to planned: the executor refused the job for a reason worth another try
    State.DISPATCHING: frozenset(
        {State.WAITING, State.RUNNING, State.PLANNED, State.FAILED, State.CANCELLED}
    ),
    # waiting -> dispatching: moved to another executor (the old job is cancelled first)
    State.WAITING: frozenset({State.RUNNING, State.DISPATCHING, State.FAILED, State.CANCELLED}),
    State.RUNNING: frozenset({State.PAUSED, State.SUCCEEDED, State.FAILED, State.CANCELLED}),
    State.PAUSED: frozenset({State.RUNNING, State.FAILED, State.CANCELLED}),
    State.SUCCEEDED: frozenset(),
    State.FAILED: frozenset(),
    State.CANCELLED: frozenset(),
}


class IllegalTransitionError(UsageError):
    """A transition the lifecycle does not allow (e.g. ``succeeded`` → ``running``)."""


def check_transition(current: State | str, target: State | str) -> None:
    """Raise :class:`IllegalTransitionError` unless ``current`` → ``target`` is allowed."""
    src, dst = State(current), State(target)
    if dst not in ALLOWED[src]:
        allowed = ", ".join(sorted(ALLOWED[src])) or "none: it is final"
        raise IllegalTransitionError(
            f"a {src} job cannot become {dst}", hint=f"allowed from {src}: {allowed}"
        )
