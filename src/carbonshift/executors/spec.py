"""``JobSpec``: what to run, where its output goes, and how it may be interrupted.

A spec says nothing about *when*: the start time, the maximum run time and the deadline are
arguments of :meth:`Executor.submit`, because the planner changes them and the spec does not.

``argv`` is an argument vector run without a shell. ``shell=True`` takes exactly one string, a
command line for ``/bin/sh -c``, and is the only way a shell gets involved. ``env`` is added to
the environment the executor passes on (its own, unless it was given another base); nothing is
interpolated. ``stdout``/``stderr`` default to files in the job's own folder under the
executor's state directory. ``zone`` picks the site (a Slurm partition, a cluster) where the
executor knows several. ``interruptible`` declares how the job may be paused:

- ``"signal"``: stopped in place (SIGSTOP/SIGCONT locally, ``scontrol suspend`` on Slurm);
- ``"restart"``: terminated (SIGTERM, then SIGKILL after a grace period) and started again later
  from the beginning; the job itself resumes from its checkpoint if it keeps one. The attempt
  number is in ``$CARBONSHIFT_ATTEMPT``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from carbonshift.errors import UsageError

__all__ = ["InterruptMode", "JobSpec", "Resources"]

InterruptMode = Literal["signal", "restart"]
_INTERRUPT_MODES: tuple[str, ...] = ("signal", "restart")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Resources:
    """What a job holds while it runs. ``cpus=None`` leaves the executor's default (one)."""

    gpus: int = 0
    cpus: int | None = None

    def __post_init__(self) -> None:
        if self.gpus < 0:
            raise UsageError("resources.gpus must not be negative", hint="e.g. gpus=1")
        if self.cpus is not None and self.cpus < 1:
            raise UsageError("resources.cpus must be at least 1", hint="or None for the default")


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One command to launch; see the module docstring for each field's meaning."""

    argv: Sequence[str]
    name: str = ""
    shell: bool = False
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    stdout: Path | None = None
    stderr: Path | None = None
    zone: str | None = None
    resources: Resources = field(default_factory=Resources)
    interruptible: InterruptMode | None = None

    def __post_init__(self) -> None:
        if isinstance(self.argv, str):
            raise UsageError(
                "argv must be a list of strings, not one string",
                hint="split it, e.g. ['python', 'train.py'], or pass shell=True with [command_line]",
            )
        object.__setattr__(self, "argv", tuple(self.argv))
        if not self.argv or not all(isinstance(a, str) for a in self.argv):
            raise UsageError("argv must be a non-empty list of strings", hint="e.g. ['sleep', '1']")
        if not self.argv[0]:
            raise UsageError("argv[0] (the program) must not be empty")
        if self.shell and len(self.argv) != 1:
            raise UsageError(
                "shell=True takes exactly one string, the command line",
                hint="e.g. JobSpec(argv=['echo hi && sleep 1'], shell=True)",
            )
        if self.name and not _JOB_NAME.match(self.name):
            raise UsageError(
                f"job name {self.name!r} is not allowed",
                hint="use letters, digits, '.', '_' and '-', up to 64 characters",
            )
        env = dict(self.env)
        for key, value in env.items():
            if not _ENV_NAME.match(key) or not isinstance(value, str):
                raise UsageError(
                    f"env: {key!r} is not a valid variable name with a string value",
                    hint="names are letters, digits and '_', not starting with a digit",
                )
        object.__setattr__(self, "env", env)
        for name in ("cwd", "stdout", "stderr"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))
        if self.interruptible is not None and self.interruptible not in _INTERRUPT_MODES:
            raise UsageError(
                f"interruptible={self.interruptible!r} is not a mode",
                hint="use 'signal' (SIGSTOP/SIGCONT), 'restart' (terminate, run again) or None",
            )

    @property
    def command_argv(self) -> tuple[str, ...]:
        """The vector actually executed: ``argv``, or ``/bin/sh -c LINE`` with ``shell=True``."""
        return ("/bin/sh", "-c", self.argv[0]) if self.shell else tuple(self.argv)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` reads it back."""
        return {
            "argv": list(self.argv),
            "name": self.name,
            "shell": self.shell,
            "cwd": None if self.cwd is None else str(self.cwd),
            "env": dict(self.env),
            "stdout": None if self.stdout is None else str(self.stdout),
            "stderr": None if self.stderr is None else str(self.stderr),
            "zone": self.zone,
            "gpus": self.resources.gpus,
            "cpus": self.resources.cpus,
            "interruptible": self.interruptible,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobSpec:
        def path(key: str) -> Path | None:
            value = data.get(key)
            return None if value is None else Path(str(value))

        mode = data.get("interruptible")
        return cls(
            argv=tuple(str(a) for a in data["argv"]),
            name=str(data.get("name", "")),
            shell=bool(data.get("shell", False)),
            cwd=path("cwd"),
            env={str(k): str(v) for k, v in dict(data.get("env") or {}).items()},
            stdout=path("stdout"),
            stderr=path("stderr"),
            zone=None if data.get("zone") is None else str(data["zone"]),
            resources=Resources(
                gpus=int(data.get("gpus", 0)),
                cpus=None if data.get("cpus") is None else int(data["cpus"]),
            ),
            interruptible=cast(InterruptMode | None, mode),
        )
