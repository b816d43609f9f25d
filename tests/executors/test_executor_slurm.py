"""SlurmExecutor against a real Slurm 22.05 (two partitions, DE and FR, on fake nodes)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from executors.helpers_executors import line_count, poll
from executors.slurm_cluster import SlurmCluster

from carbonshift.errors import UnknownZoneError, UsageError
from carbonshift.executors import (
    BackendMissingError,
    CommandFailedError,
    JobSpec,
    JobState,
    JobStateError,
    SlurmExecutor,
    UnknownJobError,
    UnsupportedOperationError,
)


@pytest.fixture
def executor(slurm_cluster: SlurmCluster, tmp_path: Path) -> SlurmExecutor:
    return SlurmExecutor(
        slurm_cluster.partitions,
        state_dir=tmp_path / "state",
        default_zone="DE",
        slurm_conf=slurm_cluster.conf,
        command_timeout_s=20,
    )


def squeue_job(cluster: SlurmCluster, job_id: str) -> dict[str, Any]:
    """The job's entry in raw ``squeue --json`` output."""
    jobs = json.loads(cluster.run("squeue", "--json").stdout)["jobs"]
    matches: list[dict[str, Any]] = [j for j in jobs if str(j["job_id"]) == job_id]
    assert matches, f"job {job_id} not in squeue --json"
    return matches[0]


def epoch(value: datetime) -> int:
    return int(value.timestamp())


def test_planned_start_is_visible_then_the_job_runs_in_its_zone(
    executor: SlurmExecutor, slurm_cluster: SlurmCluster
) -> None:
    start_at = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    spec = JobSpec(
        [
            "sh",
            "-c",
            'echo "$SLURM_JOB_PARTITION $CARBONSHIFT_ZONE $GREETING"; date +%s; echo oops >&2',
        ],
        env={"GREETING": "hello, world"},
        zone="FR",
    )
    handle = executor.submit(spec, start_at, max_runtime_s=60)
    raw = squeue_job(slurm_cluster, handle)
    assert raw["job_state"] == "PENDING" and raw["state_reason"] == "BeginTime"
    assert raw["start_time"] == epoch(start_at) and raw["partition"] == "FR"
    waiting = executor.status(handle)
    assert waiting.state is JobState.WAITING and waiting.planned_start == start_at
    assert waiting.zone == "FR"
    final = executor.wait(handle, timeout_s=15)
    assert final.state is JobState.SUCCEEDED and final.exit_code == 0
    assert final.started_at is not None and final.started_at >= start_at
    partition_line, printed = executor.logs(handle).splitlines()
    assert partition_line == "FR FR hello, world"
    assert int(printed) >= epoch(start_at)
    assert executor.logs(handle, "stderr") == "oops\n"


def test_retime_moves_the_start_visible_in_squeue(
    executor: SlurmExecutor, slurm_cluster: SlurmCluster
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    handle = executor.submit(JobSpec(["echo", "retimed"]), now + timedelta(hours=1))
    assert squeue_job(slurm_cluster, handle)["start_time"] == epoch(now + timedelta(hours=1))
    executor.retime(handle, now + timedelta(hours=2))
    assert squeue_job(slurm_cluster, handle)["start_time"] == epoch(now + timedelta(hours=2))
    assert executor.status(handle).planned_start == now + timedelta(hours=2)
    executor.retime(handle, datetime.now(UTC))  # earlier: now
    final = executor.wait(handle, timeout_s=15)
    assert final.state is JobState.SUCCEEDED and executor.logs(handle) == "retimed\n"
    with pytest.raises(JobStateError, match="succeeded"):
        executor.retime(handle, now + timedelta(hours=3))


def test_relocate_a_pending_job_to_another_zone(
    executor: SlurmExecutor, slurm_cluster: SlurmCluster
) -> None:
    handle = executor.submit(
        JobSpec(["sh", "-c", "echo $SLURM_JOB_PARTITION $CARBONSHIFT_ZONE"], zone="DE"),
        datetime.now(UTC) + timedelta(hours=1),
    )
    assert squeue_job(slurm_cluster, handle)["partition"] == "DE"
    executor.relocate(handle, "FR")
    assert squeue_job(slurm_cluster, handle)["partition"] == "FR"
    assert executor.status(handle).zone == "FR"
    executor.retime(handle, datetime.now(UTC))
    final = executor.wait(handle, timeout_s=15)
    assert final.state is JobState.SUCCEEDED and final.zone == "FR"
    assert executor.logs(handle) == "FR FR\n"
    with pytest.raises(UnknownZoneError, match="known zones: DE, FR"):
        executor.relocate(handle, "PL")


def test_cancel_pending_and_running_jobs(executor: SlurmExecutor) -> None:
    now = datetime.now(UTC)
    pending = executor.submit(JobSpec(["true"]), now + timedelta(hours=1))
    running = executor.submit(JobSpec(["sleep", "60"]), now)
    poll(lambda: executor.status(running).state, lambda s: s is JobState.RUNNING)
    executor.cancel(pending)
    executor.cancel(running)
    first = executor.wait(pending, timeout_s=15)
    assert first.state is JobState.CANCELLED and first.started_at is None
    second = executor.wait(running, timeout_s=15)
    assert second.state is JobState.CANCELLED and second.started_at is not None
    executor.cancel(running)  # a finished job: nothing to do


def test_failures_and_missing_command_report_exit_codes(executor: SlurmExecutor) -> None:
    now = datetime.now(UTC)
    failing = executor.submit(JobSpec(["sh", "-c", "exit 3"]), now)
    missing = executor.submit(JobSpec(["no-such-command-xyz"]), now)
    first = executor.wait(failing, timeout_s=15)
    assert first.state is JobState.FAILED and first.exit_code == 3
    second = executor.wait(missing, timeout_s=15)
    assert second.state is JobState.FAILED and second.exit_code == 127
    assert "command not found" in second.reason
    assert "no-such-command-xyz" in executor.logs(missing, "stderr")


def test_a_deadline_that_cannot_be_met_ends_in_deadline_missed(executor: SlurmExecutor) -> None:
    now = datetime.now(UTC)
    handle = executor.submit(
        JobSpec(["echo", "never"]),
        now + timedelta(seconds=2),
        max_runtime_s=300,
        deadline=now + timedelta(seconds=30),
    )
    final = executor.wait(handle, timeout_s=15)
    assert final.state is JobState.DEADLINE_MISSED and final.started_at is None
    assert executor.logs(handle) == ""
    with pytest.raises(UsageError, match="deadline"):
        executor.submit(JobSpec(["true"]), now + timedelta(minutes=5), deadline=now)


def test_status_after_completion_from_a_new_executor_and_from_slurm_alone(
    executor: SlurmExecutor, slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    handle = executor.submit(JobSpec(["sh", "-c", "echo done; exit 4"]), datetime.now(UTC))
    poll(lambda: executor.status(handle).state, lambda s: s.is_terminal, timeout_s=15)
    reborn = SlurmExecutor(
        slurm_cluster.partitions, state_dir=executor.state_dir, slurm_conf=slurm_cluster.conf
    )
    again = reborn.status(handle)
    assert again.state is JobState.FAILED and again.exit_code == 4
    assert reborn.logs(handle) == "done\n"
    pending = executor.submit(JobSpec(["true"]), datetime.now(UTC) + timedelta(hours=1))
    many = reborn.statuses([handle, pending, "999999", handle])
    assert list(many) == [handle, pending]
    assert many[handle] == again and many[pending].state is JobState.WAITING
    executor.cancel(pending)
    stranger = SlurmExecutor(  # no records: squeue/scontrol only
        slurm_cluster.partitions, state_dir=tmp_path / "other", slurm_conf=slurm_cluster.conf
    )
    seen = stranger.status(handle)
    assert seen.state is JobState.FAILED and seen.exit_code == 4 and seen.zone == "DE"
    assert stranger.logs(handle) == "done\n"
    shown = slurm_cluster.run("scontrol", "show", "job", "-o", handle).stdout
    assert "JobState=FAILED" in shown and "ExitCode=4:0" in shown


def test_signal_pause_suspends_and_resume_continues(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    count = tmp_path / "count"
    loop = f"i=0; while true; do i=$((i+1)); echo $i >> {count}; sleep 0.05; done"
    handle = executor.submit(
        JobSpec(["sh", "-c", loop], interruptible="signal"), datetime.now(UTC), max_runtime_s=120
    )
    poll(lambda: line_count(count), lambda n: n >= 3, timeout_s=15)
    executor.pause(handle)  # scontrol suspend: works as root here
    assert executor.status(handle).state is JobState.PAUSED
    time.sleep(0.2)  # let a write in flight land
    frozen = line_count(count)
    time.sleep(0.5)
    assert line_count(count) == frozen
    executor.resume(handle)
    assert poll(lambda: line_count(count), lambda n: n >= frozen + 3) >= frozen + 3
    assert executor.status(handle).state is JobState.RUNNING
    executor.cancel(handle)
    assert executor.wait(handle, timeout_s=15).state is JobState.CANCELLED


def test_restart_pause_requeues_and_resume_runs_a_new_attempt(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    attempts = tmp_path / "attempts"
    handle = executor.submit(
        JobSpec(
            ["sh", "-c", f'echo "$CARBONSHIFT_ATTEMPT" >> {attempts}; sleep 60'],
            interruptible="restart",
        ),
        datetime.now(UTC),
    )
    poll(lambda: line_count(attempts), lambda n: n == 1, timeout_s=15)
    executor.pause(handle)
    paused = executor.status(handle)
    assert paused.state is JobState.PAUSED
    executor.resume(handle)
    assert poll(lambda: line_count(attempts), lambda n: n == 2, timeout_s=15) == 2
    running = executor.status(handle)
    assert running.state is JobState.RUNNING and running.attempt == 2
    executor.pause(handle)  # and again, this time re-timed to a later "chunk"
    settled = poll(lambda: executor.status(handle), lambda s: s.native_state == "PENDING")
    assert settled.state is JobState.PAUSED  # requeued and held, no longer completing
    later = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    executor.retime(handle, later)
    waiting = executor.status(handle)
    assert waiting.state is JobState.WAITING and waiting.planned_start == later
    assert poll(lambda: line_count(attempts), lambda n: n == 3, timeout_s=15) == 3
    assert attempts.read_text() == "1\n2\n3\n"
    assert executor.status(handle).attempt == 3
    executor.cancel(handle)
    assert executor.wait(handle, timeout_s=15).state is JobState.CANCELLED


def test_errors_are_clear(
    executor: SlurmExecutor, slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    with pytest.raises(UnknownZoneError, match="'PL' has no Slurm partition"):
        executor.submit(JobSpec(["true"], zone="PL"), datetime.now(UTC))
    with pytest.raises(UnknownJobError):
        executor.status("999999")
    with pytest.raises(UnknownJobError):
        executor.status("not-a-number")
    waiting = executor.submit(JobSpec(["true"]), datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(UnsupportedOperationError, match="not interruptible"):
        executor.pause(waiting)
    executor.cancel(waiting)
    wrong = SlurmExecutor(
        {"DE": "NOPE"}, state_dir=tmp_path / "wrong", slurm_conf=slurm_cluster.conf
    )
    with pytest.raises(CommandFailedError, match=r"sbatch failed \(exit 1\):.*[Pp]artition"):
        wrong.submit(JobSpec(["true"]), datetime.now(UTC))
    absent = SlurmExecutor({"DE": "DE"}, state_dir=tmp_path / "absent", bin_dir=tmp_path / "no-bin")
    with pytest.raises(BackendMissingError, match="sbatch not found"):
        absent.submit(JobSpec(["true"]), datetime.now(UTC))
