"""Launching and controlling jobs on local processes and Slurm (Kubernetes: manifests only).

One interface, :class:`Executor`: ``submit(spec, start_at, max_runtime_s=, deadline=) ->
handle``, ``retime``, ``relocate``, ``cancel``, ``pause``/``resume``, ``status`` and ``logs``.
Handles are strings to store; a new executor on the same state directory (or cluster) accepts
them after the controlling process restarts. This layer knows nothing of forecasting.
"""

from carbonshift.executors.base import Executor, Stream
from carbonshift.executors.errors import (
    BackendMissingError,
    CommandFailedError,
    CommandTimeoutError,
    ExecutorError,
    JobStateError,
    UnknownJobError,
    UnsupportedOperationError,
)
from carbonshift.executors.local import Dispatcher, LocalExecutor, system_clock
from carbonshift.executors.slurm import SlurmExecutor
from carbonshift.executors.spec import InterruptMode, JobSpec, Resources
from carbonshift.executors.status import ExecutorStatus, JobState

__all__ = [
    "BackendMissingError",
    "CommandFailedError",
    "CommandTimeoutError",
    "Dispatcher",
    "Executor",
    "ExecutorError",
    "ExecutorStatus",
    "InterruptMode",
    "JobSpec",
    "JobState",
    "JobStateError",
    "LocalExecutor",
    "Resources",
    "SlurmExecutor",
    "Stream",
    "UnknownJobError",
    "UnsupportedOperationError",
    "system_clock",
]
