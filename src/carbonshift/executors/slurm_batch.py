"""The batch script and ``sbatch`` arguments for one job (pure functions).

The script exports the spec's ``env`` (quoted, never interpolated), restores the caller's
``TZ`` (the Slurm commands themselves run with ``TZ=UTC``), sets ``CARBONSHIFT_JOB_HANDLE``
(the job id), ``CARBONSHIFT_ATTEMPT`` (1 + Slurm's restart count) and ``CARBONSHIFT_ZONE``
(from the partition the job finally ran in, so a relocated job sees its new zone), then
``exec``\\ s the argv. Slurm times are absolute UTC, whole seconds; a begin time is rounded up
so a job never starts before its planned start; ``--time`` is whole minutes, rounded up.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from carbonshift.executors.spec import JobSpec
from carbonshift.timeutil import utc

__all__ = ["batch_script", "sbatch_args", "slurm_time"]


def slurm_time(value: datetime, *, round_up: bool = False) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` in UTC, whole seconds (``round_up`` for begin times)."""
    moment = utc(value)
    if round_up and moment.microsecond:
        moment += timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def batch_script(spec: JobSpec, partitions: Mapping[str, str], *, tz: str | None) -> str:
    """The ``/bin/sh`` batch script running ``spec`` (see the module docstring)."""
    lines = ["#!/bin/sh", "# written by carbonshift's Slurm executor"]
    lines.append(f"export TZ={shlex.quote(tz)}" if tz is not None else "unset TZ")
    lines += [f"export {key}={shlex.quote(value)}" for key, value in spec.env.items()]
    lines.append('export CARBONSHIFT_JOB_HANDLE="$SLURM_JOB_ID"')
    lines.append('export CARBONSHIFT_ATTEMPT="$(( ${SLURM_RESTART_COUNT:-0} + 1 ))"')
    lines.append('case "$SLURM_JOB_PARTITION" in')
    for zone, partition in sorted(partitions.items()):
        lines.append(f"  {shlex.quote(partition)}) export CARBONSHIFT_ZONE={shlex.quote(zone)} ;;")
    lines.append("esac")
    lines.append("exec " + shlex.join(spec.command_argv))
    return "\n".join(lines) + "\n"


def sbatch_args(
    spec: JobSpec,
    *,
    partition: str,
    start_at: datetime,
    deadline: datetime | None,
    max_runtime_s: float | None,
    stdout: Path,
    stderr: Path,
    cwd: Path,
    comment: str = "",
) -> list[str]:
    """``sbatch`` and its options for ``spec``; the caller appends the script path."""
    args = [
        "sbatch",
        "--parsable",
        f"--job-name={spec.name or 'carbonshift'}",
        f"--partition={partition}",
        f"--begin={slurm_time(start_at, round_up=True)}",
        f"--output={stdout}",
        f"--error={stderr}",
        f"--chdir={cwd}",
        "--export=ALL",
    ]
    if comment:
        args.append(f"--comment={comment}")
    if deadline is not None:
        args.append(f"--deadline={slurm_time(deadline)}")
    if max_runtime_s is not None:
        args.append(f"--time={max(1, math.ceil(max_runtime_s / 60))}")
    if spec.resources.cpus is not None:
        args.append(f"--cpus-per-task={spec.resources.cpus}")
    if spec.resources.gpus:
        args.append(f"--gpus={spec.resources.gpus}")
    if spec.interruptible == "restart":  # requeue-able, and keep every attempt's output
        args += ["--requeue", "--open-mode=append"]
    return args
