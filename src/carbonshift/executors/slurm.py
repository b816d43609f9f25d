"""``SlurmExecutor``: jobs as Slurm batch jobs, one partition per zone.

Slurm holds the delayed start itself (``sbatch --begin``), enforces the time limit
(``--time``, whole minutes, rounded up) and the deadline (``--deadline``: a job that cannot
finish in time ends in ``DEADLINE`` and never runs). The handle is the Slurm job id.

Commands, all with argument vectors and a timeout (see :class:`CommandRunner`):

- submit: ``sbatch --parsable --begin=T --deadline=T --time=M -p PARTITION -o F -e F --chdir D
  --export=ALL SCRIPT``; the script (kept in the state directory) exports the spec's ``env``
  and ``exec``\\ s the argv (``/bin/sh -c`` only with ``shell=True``);
- re-time: ``scontrol update JobId=N StartTime=T``; relocate: ``scontrol update JobId=N
  Partition=P`` (pending jobs only);
- cancel: ``scancel N``;
- pause/resume, ``interruptible="signal"``: ``scontrol suspend N`` / ``scontrol resume N``,
  which need root or a Slurm operator/administrator (``AdminLevel``), else they fail with
  "Access/permission denied";
- pause/resume, ``interruptible="restart"``: ``scontrol requeuehold N`` (the job goes back to
  the queue, held; it is submitted with ``--requeue``), then ``scontrol update JobId=N
  StartTime=T`` and ``scontrol release N``;
- status: ``squeue --json`` (pending, running and finished jobs until ``MinJobAge``), falling
  back to ``scontrol show job -o N``. A terminal status is cached in the job's record, so it
  stays readable after Slurm forgets the job (``sacct`` needs slurmdbd, which is not assumed).

Times are passed as absolute UTC times, with ``TZ=UTC`` in the commands' environment (the job
itself gets the caller's ``TZ`` back). Output paths must be visible to the compute nodes (a
shared file system in a real cluster).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from carbonshift.errors import UnknownZoneError, UsageError
from carbonshift.executors.base import Executor, Stream, check_submit_times
from carbonshift.executors.commands import CommandRunner, last_line
from carbonshift.executors.errors import (
    CommandFailedError,
    JobStateError,
    UnknownJobError,
    UnsupportedOperationError,
)
from carbonshift.executors.logs import pick_stream, read_log
from carbonshift.executors.slurm_batch import batch_script, sbatch_args, slurm_time
from carbonshift.executors.slurm_records import SlurmRecord, SlurmRecords
from carbonshift.executors.slurm_state import (
    SlurmJobInfo,
    parse_scontrol_job,
    parse_squeue_json,
    to_status,
)
from carbonshift.executors.spec import JobSpec
from carbonshift.executors.status import ExecutorStatus, JobState
from carbonshift.timeutil import format_time, utc

__all__ = ["SlurmExecutor"]

_STATE_ERRORS = (
    "already finished",
    "no longer pending",
    "is pending execution",
    "presently disabled",
    "not suspended",
    "job is suspended",
    "already completing",
)
_UNKNOWN_JOB = "invalid job id"


class SlurmExecutor(Executor):
    """Run jobs through Slurm's CLI; see the module docstring.

    ``partitions`` maps each zone to its partition. ``state_dir`` holds scripts, default output
    files and one record per job. ``bin_dir`` is where ``sbatch``/``squeue``/``scontrol``/
    ``scancel`` live (default: PATH), ``slurm_conf`` sets ``SLURM_CONF`` for them, and ``env``
    is their environment (default: this process's); jobs inherit it (``--export=ALL``).
    ``sbatch_args`` are appended to every ``sbatch`` call (account, QoS...).
    """

    kind = "slurm"

    def __init__(
        self,
        partitions: Mapping[str, str],
        *,
        state_dir: Path,
        default_zone: str | None = None,
        bin_dir: Path | None = None,
        slurm_conf: Path | None = None,
        env: Mapping[str, str] | None = None,
        command_timeout_s: float = 30.0,
        sbatch_args: Sequence[str] = (),
    ) -> None:
        if not partitions:
            raise UsageError("a Slurm executor needs at least one zone → partition mapping")
        self.partitions = dict(partitions)
        if default_zone is not None and default_zone not in self.partitions:
            raise UnknownZoneError(f"default zone {default_zone!r} has no partition")
        self.default_zone = default_zone
        self.state_dir = Path(state_dir).absolute()
        self.records = SlurmRecords(self.state_dir / "slurm")
        self.job_env = dict(os.environ if env is None else env)
        command_env = {**self.job_env, "TZ": "UTC"}
        if slurm_conf is not None:
            command_env["SLURM_CONF"] = str(Path(slurm_conf).absolute())
            self.job_env["SLURM_CONF"] = command_env["SLURM_CONF"]
        self.runner = CommandRunner(
            bin_dir=bin_dir,
            env=command_env,
            timeout_s=command_timeout_s,
            install_hint="install Slurm's clients (slurm-client) or pass bin_dir=",
        )
        self.sbatch_args = tuple(sbatch_args)

    # -- submit ---------------------------------------------------------------------------

    def submit(
        self,
        spec: JobSpec,
        start_at: datetime,
        *,
        max_runtime_s: float | None = None,
        deadline: datetime | None = None,
    ) -> str:
        start, end = check_submit_times(start_at, max_runtime_s, deadline)
        zone = spec.zone or self.default_zone
        if zone is None:
            if len(self.partitions) != 1:
                raise UsageError(
                    "the job names no zone and the Slurm executor has no default_zone",
                    hint=f"set JobSpec.zone to one of {sorted(self.partitions)}",
                )
            zone = next(iter(self.partitions))
        partition = self._partition(zone)
        token = uuid.uuid4().hex[:12]
        folder = self.records.folder(token)
        folder.mkdir(parents=True, mode=0o700)
        stdout = (spec.stdout or folder / "stdout").absolute()
        stderr = (spec.stderr or folder / "stderr").absolute()
        script = folder / "job.sh"
        script.write_text(
            batch_script(spec, self.partitions, tz=self.job_env.get("TZ")), encoding="utf-8"
        )
        args = sbatch_args(
            spec,
            partition=partition,
            start_at=start,
            deadline=end,
            max_runtime_s=max_runtime_s,
            stdout=stdout,
            stderr=stderr,
            cwd=(spec.cwd or folder).absolute(),
            comment=f"carbonshift:{token}",
        )
        args += [*self.sbatch_args, str(script)]
        done = self.runner.run(args)
        job_id = done.stdout.strip().split(";")[0]
        if not job_id.isdigit():
            raise CommandFailedError(
                f"sbatch printed no job id: {last_line(done.stdout) or '(nothing)'}",
                argv=args,
                stderr=done.stderr,
            )
        self.records.save(
            SlurmRecord(
                job_id=job_id,
                token=token,
                spec=spec,
                zone=zone,
                stdout=stdout,
                stderr=stderr,
                start_at=start,
                max_runtime_s=max_runtime_s,
                deadline=end,
            )
        )
        return job_id

    # -- status and logs ------------------------------------------------------------------

    def status(self, handle: str) -> ExecutorStatus:
        record = self.records.load(handle)
        if record is not None and record.final is not None:
            return record.final
        info = self._query(handle)
        if info is None:
            raise UnknownJobError(
                f"Slurm does not know job {handle}",
                hint="finished jobs are forgotten after MinJobAge; check the job id",
            )
        return self._status(handle, record, info)

    def statuses(self, handles: Iterable[str]) -> dict[str, ExecutorStatus]:
        """Statuses of many jobs with one ``squeue`` call; unknown handles are left out."""
        found: dict[str, ExecutorStatus] = {}
        records: dict[str, SlurmRecord | None] = {}
        for handle in dict.fromkeys(handles):
            record = records[handle] = self.records.load(handle)
            if record is not None and record.final is not None:
                found[handle] = record.final
        ask = [h for h in records if h not in found and h.isdigit()]
        infos = self._squeue(ask) if ask else {}
        for handle in ask:
            info = infos.get(handle) or self._scontrol(handle)
            if info is not None:
                found[handle] = self._status(handle, records[handle], info)
        return found

    def _status(
        self, handle: str, record: SlurmRecord | None, info: SlurmJobInfo
    ) -> ExecutorStatus:
        paused = record is not None and record.paused
        status = to_status(
            info,
            zone=self._zone_of(info.partition),
            paused=paused,
            handle=handle,
            now=datetime.now(UTC),
        )
        if status.is_terminal and record is not None:
            self.records.save(replace(record, final=status))
        return status

    def logs(self, handle: str, stream: Stream = "stdout", tail_bytes: int | None = None) -> str:
        record = self.records.load(handle)
        if record is not None:
            return read_log(pick_stream(stream, record.stdout, record.stderr), tail_bytes)
        info = self._query(handle)
        if info is None:
            raise UnknownJobError(f"Slurm does not know job {handle}")
        out = info.stdout
        path = pick_stream(stream, Path(out), Path(info.stderr or out))  # -e defaults to -o
        text = str(path).replace("%j", handle).replace("%x", info.name).replace("%%", "%")
        return read_log(Path(text), tail_bytes)

    def _query(self, handle: str) -> SlurmJobInfo | None:
        if not handle.isdigit():
            raise UnknownJobError(f"{handle!r} is not a Slurm job id", hint="e.g. '1234'")
        return self._squeue([handle]).get(handle) or self._scontrol(handle)

    def _squeue(self, handles: Sequence[str]) -> dict[str, SlurmJobInfo]:
        """Jobs as ``squeue --json`` lists them (22.05 ignores ``--jobs`` and lists all)."""
        try:
            done = self.runner.run(
                ["squeue", "--json", "--states=all", f"--jobs={','.join(handles)}"]
            )
        except CommandFailedError as exc:
            text = exc.stderr.lower()
            if _UNKNOWN_JOB in text or "json" in text:  # unknown ids; a Slurm without --json
                return {}
            raise
        return parse_squeue_json(done.stdout)

    def _scontrol(self, handle: str) -> SlurmJobInfo | None:
        try:
            done = self.runner.run(["scontrol", "show", "job", "-o", handle])
        except CommandFailedError as exc:
            if _UNKNOWN_JOB in exc.stderr.lower():
                return None
            raise
        return parse_scontrol_job(done.stdout)

    # -- control --------------------------------------------------------------------------

    def retime(self, handle: str, start_at: datetime) -> None:
        start = utc(start_at)
        record = self._require_record(handle)
        if record.deadline is not None:
            run_s = record.max_runtime_s or 0.0
            if start + timedelta(seconds=run_s) > record.deadline:
                raise UsageError(
                    f"job {handle}: a start at {format_time(start)} cannot finish by its "
                    f"deadline {format_time(record.deadline)}",
                    hint="pick an earlier start; the deadline bounds the latest safe start",
                )
        current = self.status(handle)
        if current.state.is_queued:
            self._control(
                handle, "update", f"JobId={handle}", f"StartTime={slurm_time(start, round_up=True)}"
            )
        elif current.state is JobState.PAUSED and record.paused:
            self._restart_at(handle, start)
        else:
            raise JobStateError(
                f"job {handle} is {current.state}: only a job that has not started (or is "
                "paused to restart) can be re-timed"
            )
        self.records.save(replace(self._require_record(handle), start_at=start, paused=False))

    def relocate(self, handle: str, zone: str) -> None:
        partition = self._partition(zone)
        current = self.status(handle)
        if not (current.state.is_queued or current.state is JobState.PAUSED):
            raise JobStateError(
                f"job {handle} is {current.state}: only a job that has not started can move",
            )
        self._control(handle, "update", f"JobId={handle}", f"Partition={partition}")
        record = self.records.load(handle)
        if record is not None:
            self.records.save(replace(record, zone=zone))

    def cancel(self, handle: str) -> None:
        if self.status(handle).state.is_terminal:
            return
        try:
            self.runner.run(["scancel", handle])
        except CommandFailedError as exc:
            raise self._mapped(exc, handle) from None

    def pause(self, handle: str) -> None:
        record = self._require_record(handle)
        mode = self._mode(record, "paused")
        current = self.status(handle)
        if current.state is JobState.PAUSED:
            return
        if current.state is not JobState.RUNNING:
            raise JobStateError(
                f"job {handle} is {current.state}: only a running job can be paused"
            )
        if mode == "signal":
            self._control(handle, "suspend", handle)
            return
        self._control(handle, "requeuehold", handle)
        self.records.save(replace(record, paused=True))

    def resume(self, handle: str) -> None:
        record = self._require_record(handle)
        mode = self._mode(record, "resumed")
        current = self.status(handle)
        if current.state is not JobState.PAUSED:
            raise JobStateError(f"job {handle} is {current.state}, not paused")
        if mode == "signal":
            self._control(handle, "resume", handle)
            return
        self._restart_at(handle, datetime.now(UTC))
        self.records.save(replace(record, paused=False))

    # -- helpers --------------------------------------------------------------------------

    def _restart_at(self, handle: str, start: datetime) -> None:
        self._control(
            handle, "update", f"JobId={handle}", f"StartTime={slurm_time(start, round_up=True)}"
        )
        self._control(handle, "release", handle)

    def _control(self, handle: str, *args: str) -> None:
        try:
            self.runner.run(["scontrol", *args])
        except CommandFailedError as exc:
            raise self._mapped(exc, handle) from None

    @staticmethod
    def _mapped(exc: CommandFailedError, handle: str) -> Exception:
        text = exc.stderr.lower()
        line = last_line(exc.stderr) or exc.message
        if _UNKNOWN_JOB in text:
            return UnknownJobError(f"Slurm does not know job {handle}: {line}")
        if any(marker in text for marker in _STATE_ERRORS):
            return JobStateError(f"job {handle}: {line}")
        if "permission denied" in text or "access/permission" in text:
            exc.hint = (
                "scontrol suspend/resume/requeue need root or a Slurm operator "
                "(AdminLevel=Operator); declare interruptible='restart' or run as an operator"
            )
            exc.args = (exc.one_line(),)
        return exc

    def _partition(self, zone: str) -> str:
        try:
            return self.partitions[zone]
        except KeyError:
            raise UnknownZoneError(
                f"zone {zone!r} has no Slurm partition",
                hint=f"known zones: {', '.join(sorted(self.partitions))}",
            ) from None

    def _zone_of(self, partition: str) -> str | None:
        for zone, name in self.partitions.items():
            if name == partition:
                return zone
        return None

    def _require_record(self, handle: str) -> SlurmRecord:
        record = self.records.load(handle)
        if record is None:
            raise UnknownJobError(
                f"job {handle} was not submitted through this executor's state directory",
                hint=f"pass the state_dir it was submitted with (now {self.state_dir})",
            )
        return record

    @staticmethod
    def _mode(record: SlurmRecord, verb: str) -> str:
        mode = record.spec.interruptible
        if mode is None:
            raise UnsupportedOperationError(
                f"job {record.job_id} is not interruptible, so it cannot be {verb}",
                hint="submit it with interruptible='signal' or 'restart'",
            )
        return mode
