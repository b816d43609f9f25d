"""Errors of the executor layer, under the one carbonshift root.

Every class derives from :class:`ExecutorError` (so a caller can catch the whole layer) and,
where the fix is on the caller's side, also from :class:`~carbonshift.errors.UsageError` (exit 2)
or :class:`~carbonshift.errors.DataError` (exit 3). Failures of the machinery itself (a Slurm
command failing, a binary missing) keep the root's exit code 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from carbonshift.errors import CarbonshiftError, DataError, UsageError

__all__ = [
    "BackendMissingError",
    "CommandFailedError",
    "CommandTimeoutError",
    "ExecutorError",
    "JobStateError",
    "UnknownJobError",
    "UnsupportedOperationError",
]


class ExecutorError(CarbonshiftError):
    """Root of the executor layer's errors."""


class UnsupportedOperationError(ExecutorError, UsageError):
    """The executor, or the job as it was declared, cannot do this (e.g. pause a job that is not
    interruptible)."""


class JobStateError(ExecutorError, UsageError):
    """The operation does not fit the job's current state (e.g. re-time a job that already runs)."""


class UnknownJobError(ExecutorError, DataError, KeyError):
    """No job with this handle is known to the executor (never submitted here, or forgotten)."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return self.one_line()


class BackendMissingError(ExecutorError):
    """A program the executor drives (``sbatch``, ``kubectl``) is not installed or not on PATH."""


class CommandFailedError(ExecutorError):
    """An external command exited non-zero; the message carries its last line of stderr."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        argv: Sequence[str] = (),
        returncode: int | None = None,
        stderr: str = "",
    ) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(message, hint=hint)


class CommandTimeoutError(CommandFailedError):
    """An external command did not finish within its timeout and was killed."""
