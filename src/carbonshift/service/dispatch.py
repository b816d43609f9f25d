"""The executors behind the service: building them from the configuration, job specs, and
finding a job an executor may hold after a crash.

**Idempotent dispatch.** Before calling an executor the loop commits the job as
``dispatching`` with a *dispatch token* (``cs<job id>a<attempt>``) that becomes the executor
job's name. If the service dies before it could record the returned handle, the restarted loop
asks the executor for a job of that name (:meth:`ExecutorPool.find`): found, the handle is
adopted; not found, the submission never happened and it is made again. Either way the job
runs once.

Time frames: the local executor runs on the service clock (it is dispatched by the loop);
Slurm runs on the wall clock, so start times are converted for it.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from carbonshift.executors import (
    Dispatcher,
    ExecutorError,
    ExecutorStatus,
    InterruptMode,
    JobSpec,
    LocalExecutor,
    Resources,
    SlurmExecutor,
    UnknownJobError,
)
from carbonshift.executors.base import Executor
from carbonshift.executors.slurm_state import parse_squeue_json
from carbonshift.service.accountant import probe_argv
from carbonshift.service.clock import Clock
from carbonshift.service.config import ExecutorConfig, ServiceConfig
from carbonshift.service.records import JobRow

__all__ = ["ExecutorPool", "ExecutorSlot", "Found", "dispatch_token"]

log = logging.getLogger("carbonshift.service")


def dispatch_token(job_id: int, attempt: int) -> str:
    """The executor-side name of attempt ``attempt`` to dispatch job ``job_id``."""
    return f"cs{job_id}a{attempt}"


@dataclass(frozen=True)
class ExecutorSlot:
    """One configured executor."""

    name: str
    kind: str
    executor: Executor
    interrupt_mode: InterruptMode
    wall_clock: bool


@dataclass(frozen=True)
class Found:
    """A job found by its dispatch token. ``complete`` is False for a Slurm job whose
    executor record was never written (it can be watched and cancelled, not re-timed)."""

    handle: str
    complete: bool


def _runnable(program: str, row: JobRow) -> bool:
    """Whether ``program`` resolves to an executable file here (as ``execvp`` would find it)."""
    if "/" in program:
        path = Path(program) if Path(program).is_absolute() else Path(row.cwd or ".") / program
        return os.access(path, os.X_OK) and path.is_file()
    search = row.env.get("PATH") or os.environ.get("PATH", os.defpath)
    return shutil.which(program, path=search) is not None


class ExecutorPool:
    """Every executor of the service, by name and by zone."""

    def __init__(self, config: ServiceConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.launch_ahead_s = 0.0
        self.slots: dict[str, ExecutorSlot] = {}
        self.zone_executor = {z.name: z.executor for z in config.zones}
        for ec in config.executors:
            self.slots[ec.name] = self._build(ec, config)

    def _build(self, ec: ExecutorConfig, config: ServiceConfig) -> ExecutorSlot:
        state_dir = ec.state_dir or (config.data_dir / "executors" / ec.name)
        if ec.kind == "local":
            local = LocalExecutor(
                state_dir,
                clock=self.clock.now,
                kill_grace_s=ec.kill_grace_s,
                launch_timeout_s=ec.launch_timeout_s,
            )
            return ExecutorSlot(ec.name, "local", local, ec.interrupt_mode, wall_clock=False)
        partitions = {z.name: z.partition or z.name for z in config.zones if z.executor == ec.name}
        slurm = SlurmExecutor(
            partitions,
            state_dir=state_dir,
            bin_dir=ec.bin_dir,
            slurm_conf=ec.slurm_conf,
            command_timeout_s=ec.command_timeout_s,
            sbatch_args=ec.sbatch_args,
        )
        return ExecutorSlot(ec.name, "slurm", slurm, ec.interrupt_mode, wall_clock=True)

    def for_zone(self, zone: str) -> ExecutorSlot:
        return self.slots[self.zone_executor[zone]]

    def slot(self, name: str) -> ExecutorSlot:
        return self.slots[name]

    def kinds(self) -> set[str]:
        return {s.kind for s in self.slots.values()}

    # -- time frames ----------------------------------------------------------------------

    def to_frame(self, slot: ExecutorSlot, when: datetime) -> datetime:
        """A service-clock time in the executor's frame.

        With dispatcher threads running, a local start that is already due is put a moment
        ahead, so that the executor does not launch it inside the planning loop's call (the
        dispatchers start it within their poll interval, in parallel)."""
        if not slot.wall_clock:
            if self.launch_ahead_s > 0:
                soonest = self.clock.now() + timedelta(seconds=self.launch_ahead_s)
                return max(when, soonest)
            return when
        ahead_s = (when - self.clock.now()).total_seconds()
        return datetime.now(UTC) + timedelta(seconds=self.clock.wall_seconds(ahead_s))

    def from_frame(self, slot: ExecutorSlot, when: datetime | None) -> datetime | None:
        """An executor-reported time (a process start, Slurm's times) in the service clock."""
        if when is None:
            return None
        return min(self.clock.from_wall(when), self.clock.now())

    # -- operations -----------------------------------------------------------------------

    def spec(self, slot: ExecutorSlot, row: JobRow, zone: str, token: str) -> JobSpec:
        argv, shell = tuple(row.command), row.shell
        if self.config.measure and (shell or slot.kind != "local" or _runnable(argv[0], row)):
            # a local command that cannot run is left unwrapped, so that the executor reports
            # why (command not found, not executable) rather than the probe's exit code 127
            argv, shell = probe_argv(self.config, row.id, row.power_w, argv, shell, token), False
        return JobSpec(
            argv=argv,
            name=token,
            shell=shell,
            cwd=None if row.cwd is None else Path(row.cwd),
            env={**row.env, "CARBONSHIFT_JOB_ID": str(row.id)},
            zone=zone,
            resources=Resources(gpus=row.gpus, cpus=row.cpus),
            interruptible=slot.interrupt_mode if row.interruptible else None,
        )

    def submit(
        self, slot: ExecutorSlot, row: JobRow, zone: str, token: str, start: datetime
    ) -> str:
        spec = self.spec(slot, row, zone, token)
        return slot.executor.submit(
            spec, self.to_frame(slot, start), max_runtime_s=row.max_runtime_s
        )

    def retime(self, slot: ExecutorSlot, handle: str, start: datetime) -> None:
        slot.executor.retime(handle, self.to_frame(slot, start))

    def status(self, slot: ExecutorSlot, handle: str) -> ExecutorStatus:
        return slot.executor.status(handle)

    def find(self, slot: ExecutorSlot, token: str) -> Found | None:
        """The job this slot holds under dispatch token ``token``, if any."""
        executor = slot.executor
        if isinstance(executor, LocalExecutor):
            for handle in executor.handles():
                if not handle.startswith(token + "-"):
                    continue
                try:
                    executor.status(handle)  # a folder left half-written raises
                except (UnknownJobError, ValueError, OSError):
                    continue
                return Found(handle, True)
            return None
        if isinstance(executor, SlurmExecutor):
            done = executor.runner.run(["squeue", "--json", "--states=all"])
            ids = sorted(
                (int(i.job_id), i.job_id)
                for i in parse_squeue_json(done.stdout).values()
                if i.name == token
            )
            if not ids:
                return None
            job_id = ids[0][1]
            return Found(job_id, executor.records.load(job_id) is not None)
        raise ExecutorError(f"cannot search executor {slot.name} for {token}")

    def start_dispatchers(self, poll_s: float, per_executor: int = 2) -> list[Dispatcher]:
        """Threads that start due local jobs as soon as they are due, apart from the planning
        loop (several per executor: launches run in parallel; claims keep each start single)."""
        out: list[Dispatcher] = []
        for slot in self.slots.values():
            if isinstance(slot.executor, LocalExecutor):
                out += [slot.executor.start_dispatcher(poll_s) for _ in range(per_executor)]
        # one poll interval of the service clock: due jobs are handed over, not launched
        self.launch_ahead_s = 1e-3 if not out else max(1e-3, poll_s / self.clock.wall_seconds(1.0))
        return out

    def dispatch_due(self) -> list[str]:
        """Start the local jobs whose planned start has come (on the service clock)."""
        started: list[str] = []
        for slot in self.slots.values():
            if isinstance(slot.executor, LocalExecutor):
                try:
                    started += slot.executor.dispatch_due(self.clock.now())
                except (ExecutorError, OSError):
                    log.exception("%s: dispatching due jobs failed", slot.name)
        return started
