"""Pure parts of the executor layer: Slurm output parsing and state mapping, specs, statuses,
the command runner and Kubernetes manifests."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from carbonshift.errors import UnknownZoneError, UsageError
from carbonshift.executors import (
    BackendMissingError,
    CommandFailedError,
    CommandTimeoutError,
    ExecutorStatus,
    JobSpec,
    JobState,
    Resources,
)
from carbonshift.executors.commands import CommandRunner
from carbonshift.executors.kubernetes import (
    ANNOTATION_PLANNED_START,
    job_manifest,
    manifest_json,
    resume_patch,
    retime_patch,
)
from carbonshift.executors.slurm_batch import batch_script, sbatch_args, slurm_time
from carbonshift.executors.slurm_state import (
    map_state,
    parse_scontrol_job,
    parse_squeue_json,
    to_status,
)

# Trimmed from real ``squeue --json`` output of Slurm 22.05.8 (OpenAPI v0.0.38).
SQUEUE_V0038 = {
    "meta": {"plugin": {"type": "openapi/v0.0.38"}},
    "errors": [],
    "jobs": [
        {
            "job_id": 2, "job_state": "FAILED", "state_reason": "NonZeroExitCode",
            "partition": "DE", "start_time": 1795705963, "end_time": 1795705963,
            "exit_code": 768, "batch_host": "de1", "nodes": "de1", "restart_cnt": 0,
            "standard_output": "/tmp/o-%j.txt", "standard_error": "", "name": "wrap",
        },
        {
            "job_id": 3, "job_state": "FAILED", "state_reason": "JobLaunchFailure",
            "partition": "DE", "start_time": 1795705963, "end_time": 1795705963,
            "exit_code": 9, "batch_host": "de1", "nodes": "de1",
        },
        {
            "job_id": 4, "job_state": "DEADLINE", "state_reason": "DeadLine",
            "partition": "DE", "start_time": 1795705964, "end_time": 1795705964,
            "exit_code": 1, "batch_host": "", "nodes": "", "deadline": 1795705982,
        },
        {
            "job_id": 5, "job_state": "PENDING", "state_reason": "BeginTime",
            "partition": "FR", "start_time": 1795705972, "end_time": 1795706032,
            "exit_code": 0, "batch_host": "", "nodes": "", "deadline": 0,
        },
    ],
}  # fmt: skip

# The later data_parser shape (Slurm 23.02+): objects for numbers, a list for the state.
SQUEUE_NEWER = {
    "errors": [],
    "jobs": [
        {
            "job_id": 7,
            "job_state": ["COMPLETED"],
            "state_reason": "None",
            "partition": "FR",
            "start_time": {"set": True, "infinite": False, "number": 1795705950},
            "end_time": {"set": True, "infinite": False, "number": 1795705960},
            "exit_code": {
                "status": ["SUCCESS"],
                "return_code": {"set": True, "number": 0},
                "signal": {"id": {"set": False, "number": 0}, "name": ""},
            },
            "batch_host": "fr1",
            "restart_cnt": {"set": True, "number": 1},
        }
    ],
}

SCONTROL_LINE = (
    "JobId=2 JobName=wrap UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Requeue=1 "
    "Restarts=0 ExitCode=3:0 SubmitTime=2026-11-26T15:12:42 StartTime=2026-11-26T15:12:43 "
    "EndTime=2026-11-26T15:12:43 Deadline=N/A Partition=DE AllocNode:Sid=localhost:14235 "
    "NodeList=de1 BatchHost=de1 Command=/tmp/my job.sh WorkDir=/work "
    "StdErr=/tmp/o-2.txt StdOut=/tmp/o-2.txt Power="
)


def at(epoch_s: int) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def test_squeue_v0038_parsing_and_mapping() -> None:
    jobs = parse_squeue_json(json.dumps(SQUEUE_V0038))
    failed = to_status(jobs["2"], zone="DE")
    assert failed.state is JobState.FAILED and failed.exit_code == 3 and failed.signal is None
    assert failed.started_at == at(1795705963) and failed.reason == "FAILED (NonZeroExitCode)"
    killed = to_status(jobs["3"], zone="DE")
    assert killed.exit_code is None and killed.signal == 9
    missed = to_status(jobs["4"], zone="DE")
    assert missed.state is JobState.DEADLINE_MISSED
    assert missed.started_at is None and missed.exit_code is None
    waiting = to_status(jobs["5"], zone="FR")
    assert waiting.state is JobState.WAITING and waiting.planned_start == at(1795705972)
    assert waiting.ended_at is None and jobs["5"].deadline is None
    released = replace(jobs["5"], reason="None")  # before the next scheduling pass
    before = at(1795705972) - timedelta(seconds=1)
    assert to_status(released, zone="FR", now=before).state is JobState.WAITING
    assert to_status(released, zone="FR", now=at(1795705972)).state is JobState.PENDING


def test_squeue_newer_shape_is_understood() -> None:
    info = parse_squeue_json(json.dumps(SQUEUE_NEWER))["7"]
    status = to_status(info, zone="FR")
    assert status.state is JobState.SUCCEEDED and status.exit_code == 0
    assert status.ended_at == at(1795705960) and status.attempt == 2


def test_scontrol_one_line_output() -> None:
    info = parse_scontrol_job(SCONTROL_LINE)
    assert (info.job_id, info.job_state, info.partition) == ("2", "FAILED", "DE")
    assert info.exit_code == 3 and info.signal is None and info.ran
    assert info.start_time == datetime(2026, 11, 26, 15, 12, 43, tzinfo=UTC)
    assert info.deadline is None and info.stdout == "/tmp/o-2.txt"


@pytest.mark.parametrize(
    ("native", "reason", "paused", "expected"),
    [
        ("PENDING", "BeginTime", False, JobState.WAITING),
        ("PENDING", "Resources", False, JobState.PENDING),
        ("PENDING", "JobHeldUser", False, JobState.PENDING),
        ("PENDING", "JobHeldUser", True, JobState.PAUSED),
        ("COMPLETING", "None", True, JobState.PAUSED),
        ("RUNNING", "None", False, JobState.RUNNING),
        ("CONFIGURING", "None", False, JobState.RUNNING),
        ("SUSPENDED", "None", False, JobState.PAUSED),
        ("COMPLETED", "None", True, JobState.SUCCEEDED),
        ("FAILED", "NonZeroExitCode", False, JobState.FAILED),
        ("OUT_OF_MEMORY", "OutOfMemory", False, JobState.FAILED),
        ("NODE_FAIL", "None", False, JobState.FAILED),
        ("CANCELLED", "None", False, JobState.CANCELLED),
        ("TIMEOUT", "TimeLimit", False, JobState.TIMEOUT),
        ("DEADLINE", "DeadLine", False, JobState.DEADLINE_MISSED),
        ("SOMETHING_NEW", "", False, JobState.PENDING),
    ],
)
def test_state_mapping(native: str, reason: str, paused: bool, expected: JobState) -> None:
    assert map_state(native, reason, paused=paused)[0] is expected


def test_slurm_times_are_utc_whole_seconds() -> None:
    moment = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    assert slurm_time(moment) == "2026-03-01T12:00:00"
    assert slurm_time(moment, round_up=True) == "2026-03-01T12:00:01"
    cet = moment.astimezone(ZoneInfo("Europe/Berlin"))
    assert slurm_time(cet) == "2026-03-01T12:00:00"


def test_batch_script_and_sbatch_arguments() -> None:
    spec = JobSpec(
        ["python", "train.py", "--name", "it's; rm -rf /"],
        env={"MSG": "a b $HOME"},
        resources=Resources(gpus=1, cpus=4),
        interruptible="restart",
    )
    script = batch_script(spec, {"DE": "de-part", "FR": "fr part"}, tz=None)
    lines = script.splitlines()
    assert lines[0] == "#!/bin/sh" and "unset TZ" in lines
    assert "export MSG='a b $HOME'" in lines
    assert "  de-part) export CARBONSHIFT_ZONE=DE ;;" in lines
    assert "  'fr part') export CARBONSHIFT_ZONE=FR ;;" in lines
    assert lines[-1] == "exec python train.py --name 'it'\"'\"'s; rm -rf /'"
    start = datetime(2026, 3, 1, 12, 0, 0, 1, tzinfo=UTC)
    args = sbatch_args(
        spec,
        partition="de-part",
        start_at=start,
        deadline=start + timedelta(hours=5),
        max_runtime_s=61,
        stdout=Path("/s/o"),
        stderr=Path("/s/e"),
        cwd=Path("/w"),
    )
    assert args[:2] == ["sbatch", "--parsable"]
    for option in (
        "--partition=de-part",
        "--begin=2026-03-01T12:00:01",
        "--deadline=2026-03-01T17:00:00",
        "--time=2",
        "--output=/s/o",
        "--error=/s/e",
        "--chdir=/w",
        "--cpus-per-task=4",
        "--gpus=1",
        "--requeue",
        "--open-mode=append",
    ):
        assert option in args
    plain = sbatch_args(
        JobSpec(["true"]),
        partition="p",
        start_at=start,
        deadline=None,
        max_runtime_s=None,
        stdout=Path("/o"),
        stderr=Path("/e"),
        cwd=Path("/"),
    )
    assert not [a for a in plain if a.startswith(("--time", "--deadline", "--gpus", "--requeue"))]


def test_spec_and_status_round_trip_through_json() -> None:
    spec = JobSpec(
        ["python", "train.py"],
        name="train",
        cwd=Path("/work"),
        env={"A": "1"},
        zone="DE",
        resources=Resources(gpus=2, cpus=8),
        interruptible="restart",
    )
    assert JobSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    status = ExecutorStatus(
        handle="7",
        state=JobState.TIMEOUT,
        started_at=at(1795705950),
        ended_at=at(1795705960),
        signal=15,
        reason="TIMEOUT",
        zone="FR",
        attempt=2,
    )
    assert ExecutorStatus.from_dict(json.loads(json.dumps(status.to_dict()))) == status
    assert status.is_terminal and not JobState.PAUSED.is_terminal
    with pytest.raises(UsageError, match="not allowed"):
        JobSpec(["true"], name="bad name")
    with pytest.raises(UsageError, match="env"):
        JobSpec(["true"], env={"1BAD": "x"})
    with pytest.raises(UsageError, match="gpus"):
        Resources(gpus=-1)


def test_command_runner_maps_failures(tmp_path: Path) -> None:
    runner = CommandRunner(timeout_s=5)
    with pytest.raises(BackendMissingError, match="not found on PATH"):
        runner.run(["no-such-tool-xyz"])
    with pytest.raises(CommandFailedError, match=r"failed \(exit 2\): it broke") as info:
        runner.run(
            [sys.executable, "-c", "import sys; print('it broke', file=sys.stderr); sys.exit(2)"]
        )
    assert info.value.returncode == 2 and "it broke" in info.value.stderr
    with pytest.raises(CommandTimeoutError, match="did not answer within 0.3 s"):
        runner.run(["sleep", "5"], timeout_s=0.3)
    assert runner.run(["echo", "a b"]).stdout == "a b\n"


def test_kubernetes_manifest_is_a_suspended_job_with_its_plan() -> None:
    start = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    spec = JobSpec(
        ["python", "train.py"],
        env={"EPOCHS": "3"},
        zone="DE",
        resources=Resources(gpus=1, cpus=4),
        interruptible="restart",
    )
    manifest = job_manifest(
        spec,
        start,
        name="train-1",
        image="python:3.11",
        max_runtime_s=5400.5,
        deadline=start + timedelta(hours=6),
        node_selectors={"DE": {"topology.kubernetes.io/region": "europe-west3"}},
    )
    assert manifest["apiVersion"] == "batch/v1" and manifest["kind"] == "Job"
    assert manifest["spec"]["suspend"] is True
    assert manifest["spec"]["activeDeadlineSeconds"] == 5401
    annotations = manifest["metadata"]["annotations"]
    assert annotations[ANNOTATION_PLANNED_START] == "2026-03-01T02:00Z"
    assert annotations["carbonshift.io/deadline"] == "2026-03-01T08:00Z"
    pod = manifest["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["nodeSelector"] == {"topology.kubernetes.io/region": "europe-west3"}
    container = pod["containers"][0]
    assert container["command"] == ["python", "train.py"]
    assert {"name": "EPOCHS", "value": "3"} in container["env"]
    assert container["resources"]["limits"] == {"cpu": "4", "nvidia.com/gpu": "1"}
    assert json.loads(manifest_json(manifest)) == manifest
    assert resume_patch() == {"spec": {"suspend": False}}
    assert retime_patch(start + timedelta(hours=1)) == {
        "metadata": {"annotations": {ANNOTATION_PLANNED_START: "2026-03-01T03:00Z"}}
    }
    with pytest.raises(UnknownZoneError):
        job_manifest(JobSpec(["true"], zone="PL"), start, name="x", image="i", node_selectors={})
    with pytest.raises(UsageError, match="DNS label"):
        job_manifest(spec, start, name="Bad_Name", image="i")
