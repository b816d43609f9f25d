"""LocalExecutor against real processes: start times, output, exit codes, limits, restarts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from executors.helpers_executors import FakeClock, poll

from carbonshift.errors import UsageError
from carbonshift.executors import (
    JobSpec,
    JobState,
    LocalExecutor,
    UnknownJobError,
)
from carbonshift.executors.local_state import process_alive

PY = sys.executable


def test_job_starts_at_its_start_time_not_before(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "state")
    start_at = datetime.now(UTC) + timedelta(seconds=1.5)
    spec = JobSpec([PY, "-c", "import time; print(repr(time.time()))"])
    with executor.start_dispatcher(poll_s=0.05):
        handle = executor.submit(spec, start_at)
        time.sleep(0.5)
        early = executor.status(handle)
        assert early.state is JobState.WAITING
        assert early.planned_start == start_at
        assert executor.logs(handle) == ""
        final = executor.wait(handle, timeout_s=10)
    assert final.state is JobState.SUCCEEDED, final
    assert final.started_at is not None and final.started_at >= start_at
    printed = float(executor.logs(handle).strip())
    assert printed >= start_at.timestamp()
    assert printed - start_at.timestamp() < 3.0


def test_controlled_clock_decides_when_jobs_are_dispatched(
    tmp_path: Path, clock: FakeClock
) -> None:
    executor = LocalExecutor(tmp_path, clock=clock)
    start_at = clock.now + timedelta(hours=1)
    handle = executor.submit(JobSpec(["true"]), start_at)
    assert executor.dispatch_due() == []
    assert executor.status(handle).state is JobState.WAITING
    assert executor.next_due() == start_at
    clock.advance(3599)
    assert executor.dispatch_due() == []
    clock.advance(1)
    assert executor.status(handle).state is JobState.PENDING  # due, not yet dispatched
    assert executor.dispatch_due() == [handle]
    assert executor.dispatch_due() == []  # never twice
    assert executor.next_due() is None
    assert executor.wait(handle, timeout_s=10).state is JobState.SUCCEEDED


def test_a_backlog_is_launched_longest_overdue_first(tmp_path: Path, clock: FakeClock) -> None:
    """Many jobs due at once (a slow machine, a restart): the one whose start passed longest
    ago goes first, whatever its handle, so no job starves behind later ones."""
    executor = LocalExecutor(tmp_path, clock=clock)
    # names chosen so that handle order ("a9" > "a10" > "a1") is not start order
    offsets_s = {"a9": 60, "a10": 180, "a1": 120, "a2": 7200}
    handles = {
        name: executor.submit(JobSpec(["true"], name=name), clock.now + timedelta(seconds=off))
        for name, off in offsets_s.items()
    }
    clock.advance(600)
    started = executor.dispatch_due()
    assert started == [handles["a9"], handles["a1"], handles["a10"]]
    assert sorted(started) != started  # the order is not just the handles'
    for handle in started:
        assert executor.wait(handle, timeout_s=10).state is JobState.SUCCEEDED
    assert executor.status(handles["a2"]).state is JobState.WAITING


def test_output_env_cwd_and_exit_code_are_captured(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    executor = LocalExecutor(tmp_path / "state", base_env={"PATH": os.environ["PATH"]})
    spec = JobSpec(
        ["sh", "-c", 'echo "out $GREETING $CARBONSHIFT_ZONE"; pwd; echo err >&2; env | wc -l'],
        cwd=workdir,
        env={"GREETING": "hello world"},
        zone="DE",
    )
    handle = executor.submit(spec, datetime.now(UTC))
    final = executor.wait(handle, timeout_s=10)
    assert final.state is JobState.SUCCEEDED
    assert final.exit_code == 0 and final.zone == "DE"
    assert final.started_at is not None and final.ended_at is not None
    assert final.started_at <= final.ended_at
    out = executor.logs(handle).splitlines()
    assert out[0] == "out hello world DE"
    assert out[1] == str(workdir)
    # a clean env: PATH, GREETING, CARBONSHIFT_{JOB_HANDLE,ATTEMPT,ZONE} and the shell's own
    assert int(out[2]) < 10
    assert executor.logs(handle, "stderr") == "err\n"
    assert executor.logs(handle, tail_bytes=len(out[2]) + 1) == out[2] + "\n"
    assert executor.logs(handle, tail_bytes=0) == ""
    with pytest.raises(UsageError, match="stream"):
        executor.logs(handle, "stdin")  # type: ignore[arg-type]


def test_output_files_can_be_chosen(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "state")
    out, err = tmp_path / "logs" / "o.txt", tmp_path / "logs" / "e.txt"
    spec = JobSpec(["sh", "-c", "echo to-out; echo to-err >&2"], stdout=out, stderr=err)
    handle = executor.submit(spec, datetime.now(UTC))
    assert executor.wait(handle, timeout_s=10).state is JobState.SUCCEEDED
    assert out.read_text() == "to-out\n" and err.read_text() == "to-err\n"
    assert executor.logs(handle) == "to-out\n"


def test_failing_command_reports_its_exit_code(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path)
    handle = executor.submit(JobSpec(["sh", "-c", "exit 3"]), datetime.now(UTC))
    final = executor.wait(handle, timeout_s=10)
    assert final.state is JobState.FAILED
    assert final.exit_code == 3
    assert "exit code 3" in final.reason


def test_missing_command_fails_the_job_with_that_reason(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path)
    handle = executor.submit(JobSpec(["no-such-command-xyz", "--flag"]), datetime.now(UTC))
    final = executor.wait(handle, timeout_s=10)
    assert final.state is JobState.FAILED
    assert final.exit_code == 127
    assert final.reason == "command not found: no-such-command-xyz"


def test_missing_working_directory_fails_the_job(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path)
    spec = JobSpec(["true"], cwd=tmp_path / "nowhere")
    final = executor.wait(executor.submit(spec, datetime.now(UTC)), timeout_s=10)
    assert final.state is JobState.FAILED
    assert "working directory" in final.reason and "nowhere" in final.reason


def test_no_shell_unless_asked(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path)
    literal = executor.submit(JobSpec(["echo $HOME"]), datetime.now(UTC))
    assert executor.wait(literal, timeout_s=10).state is JobState.FAILED  # no program "echo $HOME"
    args = executor.submit(JobSpec(["echo", "$HOME", "a;b"]), datetime.now(UTC))
    assert executor.wait(args, timeout_s=10).state is JobState.SUCCEEDED
    assert executor.logs(args) == "$HOME a;b\n"
    shell = executor.submit(JobSpec(["echo $((6 * 7))"], shell=True), datetime.now(UTC))
    assert executor.wait(shell, timeout_s=10).state is JobState.SUCCEEDED
    assert executor.logs(shell) == "42\n"


def test_max_runtime_is_enforced_with_sigterm_then_sigkill(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path, kill_grace_s=0.5)
    now = datetime.now(UTC)
    polite = executor.submit(JobSpec(["sleep", "30"]), now, max_runtime_s=0.5)
    stubborn = executor.submit(
        JobSpec(["sh", "-c", "trap '' TERM; sleep 30 & wait; sleep 30"]), now, max_runtime_s=0.5
    )
    started = time.monotonic()
    first = executor.wait(polite, timeout_s=10)
    second = executor.wait(stubborn, timeout_s=10)
    assert time.monotonic() - started < 5
    assert first.state is JobState.TIMEOUT and first.signal == 15
    assert "max_runtime_s=0.5" in first.reason
    assert second.state is JobState.TIMEOUT and second.signal == 9  # ignored SIGTERM


def test_cancel_before_start_never_runs(tmp_path: Path, clock: FakeClock) -> None:
    executor = LocalExecutor(tmp_path, clock=clock)
    marker = tmp_path / "ran"
    handle = executor.submit(JobSpec(["touch", str(marker)]), clock.now + timedelta(seconds=60))
    executor.cancel(handle)
    clock.advance(120)
    assert executor.dispatch_due() == []
    status = executor.status(handle)
    assert status.state is JobState.CANCELLED and status.started_at is None
    assert status.reason == "cancelled before it started"
    assert not marker.exists()
    executor.cancel(handle)  # idempotent


def test_cancel_during_run_kills_the_whole_process_group(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "state", kill_grace_s=1.0)
    pids = tmp_path / "pids"
    spec = JobSpec(["sh", "-c", f"sleep 60 & echo $! >> {pids}; echo $$ >> {pids}; wait"])
    handle = executor.submit(spec, datetime.now(UTC))
    poll(lambda: pids.read_text().split() if pids.exists() else [], lambda v: len(v) == 2)
    assert executor.status(handle).state is JobState.RUNNING
    executor.cancel(handle)
    assert executor.status(handle).state is JobState.CANCELLED
    final = executor.wait(handle, timeout_s=10, until=lambda s: s.ended_at is not None)
    assert final.state is JobState.CANCELLED and final.reason == "cancelled while running"
    for pid in map(int, pids.read_text().split()):
        assert poll(partial(process_alive, pid, None), lambda alive: not alive) is False


def test_deadline_that_cannot_be_met_is_missed_without_running(
    tmp_path: Path, clock: FakeClock
) -> None:
    executor = LocalExecutor(tmp_path, clock=clock)
    marker = tmp_path / "ran"
    start_at = clock.now + timedelta(minutes=10)
    handle = executor.submit(
        JobSpec(["touch", str(marker)]),
        start_at,
        max_runtime_s=3600,
        deadline=start_at + timedelta(minutes=30),
    )
    assert executor.status(handle).state is JobState.DEADLINE_MISSED
    clock.advance(600)
    assert executor.dispatch_due() == []
    status = executor.status(handle)
    assert status.state is JobState.DEADLINE_MISSED and "deadline" in status.reason
    assert not marker.exists()
    with pytest.raises(UsageError, match="deadline"):
        executor.submit(JobSpec(["true"]), start_at, deadline=start_at)


def test_status_survives_the_controlling_process_being_killed(tmp_path: Path) -> None:
    script = """
import os, signal, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from carbonshift.executors import JobSpec, LocalExecutor
ex = LocalExecutor(Path(sys.argv[1]))
now = datetime.now(UTC)
quick = ex.submit(JobSpec(["sh", "-c", "echo quick; exit 5"]), now)
slow = ex.submit(JobSpec(["sh", "-c", "sleep 1.5; echo slow done"]), now)
later = ex.submit(JobSpec(["echo", "later"]), now + timedelta(hours=1))
print(quick, slow, later, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    state = tmp_path / "state"
    proc = subprocess.run(
        [PY, "-c", script, str(state)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == -9, proc.stderr
    quick, slow, later = proc.stdout.split()

    executor = LocalExecutor(state)  # a new process's view: files only
    assert executor.status(slow).state is JobState.RUNNING
    assert executor.status(later).state is JobState.WAITING
    done = executor.wait(quick, timeout_s=10)
    assert done.state is JobState.FAILED and done.exit_code == 5
    assert executor.logs(quick) == "quick\n"
    finished = executor.wait(slow, timeout_s=10)
    assert finished.state is JobState.SUCCEEDED and executor.logs(slow) == "slow done\n"
    assert sorted(executor.handles()) == sorted([quick, slow, later])
    assert executor.dispatch_due(datetime.now(UTC) + timedelta(hours=1)) == [later]
    assert executor.wait(later, timeout_s=10).state is JobState.SUCCEEDED


def test_a_killed_supervisor_is_noticed(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path)
    handle = executor.submit(JobSpec(["sleep", "0.8"]), datetime.now(UTC))
    record = (tmp_path / "jobs" / handle / "attempt-1.json").read_text()
    wrapper_pid = int(record.split('"wrapper_pid": ')[1].split(",")[0].split("}")[0])
    os.kill(wrapper_pid, 9)
    orphan = poll(lambda: executor.status(handle), lambda s: "supervisor" in s.reason)
    assert orphan.state is JobState.RUNNING and "supervisor lost" in orphan.reason
    lost = executor.wait(handle, timeout_s=10)
    assert lost.state is JobState.FAILED and "supervisor died" in lost.reason


def test_unknown_handles_are_refused(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path)
    with pytest.raises(UnknownJobError):
        executor.status("20260101T000000Z-deadbeef")
    with pytest.raises(UnknownJobError):
        executor.status("../../etc")
    with pytest.raises(UnknownJobError):
        executor.logs("nope")
