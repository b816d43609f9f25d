"""Errors of the planner: a job or a batch that cannot meet its deadlines, and lookahead."""

from __future__ import annotations

from carbonshift.errors import UsageError

__all__ = ["InfeasibleBatchError", "InfeasibleJobError", "LookaheadError"]


class InfeasibleJobError(UsageError):
    """The job cannot finish by its deadline, whatever the plan: its latest safe start
    (deadline − duration − safety margin) lies before the decision time or the submit time.

    A usage error (exit 2): the job's own numbers contradict each other; move the deadline,
    shorten the duration or the safety margin. The planner raises it rather than return a plan
    that would finish late.
    """


class InfeasibleBatchError(UsageError):
    """A batch of jobs cannot all meet their deadlines within the capacity given."""


class LookaheadError(UsageError):
    """A non-oracle policy was handed data from after its decision time (actual values, or a
    forecast issued later). Pass only what was known then, or use the ``oracle`` policy."""
