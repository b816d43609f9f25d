"""LocalExecutor control: pause/resume (SIGSTOP or restart), re-timing, refusals."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from executors.helpers_executors import FakeClock, line_count, poll

from carbonshift.errors import UsageError
from carbonshift.executors import (
    JobSpec,
    JobState,
    JobStateError,
    LocalExecutor,
    UnsupportedOperationError,
)


def counter(path: Path) -> list[str]:
    """A job appending an increasing counter to ``path`` every 20 ms."""
    return ["sh", "-c", f"i=0; while true; do i=$((i+1)); echo $i >> {path}; sleep 0.02; done"]


def test_signal_pause_stops_progress_and_resume_continues(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "state", kill_grace_s=0.5)
    count = tmp_path / "count"
    handle = executor.submit(
        JobSpec(counter(count), interruptible="signal"), datetime.now(UTC), max_runtime_s=30
    )
    poll(lambda: line_count(count), lambda n: n >= 5)
    executor.pause(handle)
    assert executor.status(handle).state is JobState.PAUSED
    time.sleep(0.1)  # let a write in flight land
    frozen = line_count(count)
    time.sleep(0.4)
    assert line_count(count) == frozen
    executor.pause(handle)  # idempotent
    executor.resume(handle)
    assert executor.status(handle).state is JobState.RUNNING
    assert poll(lambda: line_count(count), lambda n: n >= frozen + 5) >= frozen + 5
    executor.cancel(handle)
    done = executor.wait(handle, timeout_s=10, until=lambda s: s.ended_at is not None)
    assert done.state is JobState.CANCELLED


def test_paused_time_does_not_count_against_max_runtime(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path, kill_grace_s=0.5)
    handle = executor.submit(
        JobSpec(["sleep", "30"], interruptible="signal"), datetime.now(UTC), max_runtime_s=1.0
    )
    time.sleep(0.3)
    executor.pause(handle)
    time.sleep(1.2)
    assert executor.status(handle).state is JobState.PAUSED  # not timed out while stopped
    executor.resume(handle)
    resumed = time.monotonic()
    final = executor.wait(handle, timeout_s=10)
    assert final.state is JobState.TIMEOUT
    assert 0.4 < time.monotonic() - resumed < 2.5


def test_restart_pause_terminates_and_resume_starts_a_new_attempt(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "state", kill_grace_s=0.5)
    attempts = tmp_path / "attempts"
    spec = JobSpec(
        ["sh", "-c", f'echo "$CARBONSHIFT_ATTEMPT" >> {attempts}; sleep 30'],
        interruptible="restart",
    )
    handle = executor.submit(spec, datetime.now(UTC))
    poll(lambda: line_count(attempts), lambda n: n == 1)
    executor.pause(handle)
    paused = executor.wait(handle, timeout_s=10, until=lambda s: s.ended_at is not None)
    assert paused.state is JobState.PAUSED and paused.attempt == 1
    assert paused.native_state == "terminated"
    executor.resume(handle)
    assert poll(lambda: line_count(attempts), lambda n: n == 2) == 2
    running = executor.status(handle)
    assert running.state is JobState.RUNNING and running.attempt == 2
    assert attempts.read_text() == "1\n2\n"
    executor.cancel(handle)
    assert executor.wait(handle, timeout_s=10).state is JobState.CANCELLED


def test_restart_paused_job_can_be_retimed_to_a_later_chunk(
    tmp_path: Path, clock: FakeClock
) -> None:
    executor = LocalExecutor(tmp_path, clock=clock, kill_grace_s=0.5)
    handle = executor.submit(JobSpec(["sleep", "30"], interruptible="restart"), clock.now)
    executor.pause(handle)
    executor.wait(handle, timeout_s=10, until=lambda s: s.ended_at is not None)
    later = clock.now + timedelta(hours=2)
    executor.retime(handle, later)
    status = executor.status(handle)
    assert status.state is JobState.WAITING and status.planned_start == later
    assert status.attempt == 2
    assert executor.dispatch_due() == []
    clock.advance(7200)
    assert executor.dispatch_due() == [handle]
    assert executor.status(handle).state is JobState.RUNNING
    executor.cancel(handle)
    executor.wait(handle, timeout_s=10, until=lambda s: s.ended_at is not None)


def test_retime_a_waiting_job_later_then_earlier(tmp_path: Path, clock: FakeClock) -> None:
    executor = LocalExecutor(tmp_path, clock=clock)
    t0 = clock.now
    handle = executor.submit(JobSpec(["true"]), t0 + timedelta(minutes=10))
    executor.retime(handle, t0 + timedelta(minutes=20))
    assert executor.status(handle).planned_start == t0 + timedelta(minutes=20)
    assert executor.dispatch_due(t0 + timedelta(minutes=15)) == []
    executor.retime(handle, t0 + timedelta(minutes=5))
    assert executor.next_due() == t0 + timedelta(minutes=5)
    clock.advance(6 * 60)
    assert executor.dispatch_due() == [handle]
    assert executor.wait(handle, timeout_s=10).state is JobState.SUCCEEDED
    with pytest.raises(JobStateError, match="succeeded"):
        executor.retime(handle, t0 + timedelta(minutes=30))


def test_retime_to_a_past_time_starts_at_once(tmp_path: Path, clock: FakeClock) -> None:
    executor = LocalExecutor(tmp_path, clock=clock)
    handle = executor.submit(JobSpec(["true"]), clock.now + timedelta(hours=3))
    executor.retime(handle, clock.now - timedelta(minutes=1))
    assert executor.wait(handle, timeout_s=10).state is JobState.SUCCEEDED


def test_retime_refuses_running_jobs_and_missed_deadlines(tmp_path: Path, clock: FakeClock) -> None:
    executor = LocalExecutor(tmp_path, clock=clock, kill_grace_s=0.2)
    running = executor.submit(JobSpec(["sleep", "30"]), clock.now)
    with pytest.raises(JobStateError, match="running"):
        executor.retime(running, clock.now + timedelta(hours=1))
    executor.cancel(running)
    waiting = executor.submit(
        JobSpec(["true"]),
        clock.now + timedelta(hours=1),
        max_runtime_s=3600,
        deadline=clock.now + timedelta(hours=4),
    )
    with pytest.raises(UsageError, match="cannot finish by its deadline"):
        executor.retime(waiting, clock.now + timedelta(hours=3, minutes=1))
    executor.retime(waiting, clock.now + timedelta(hours=3))  # the latest safe start is fine
    executor.wait(running, timeout_s=10, until=lambda s: s.ended_at is not None)


def test_pause_refusals_are_clear(tmp_path: Path, clock: FakeClock) -> None:
    executor = LocalExecutor(tmp_path, clock=clock, kill_grace_s=0.2)
    plain = executor.submit(JobSpec(["sleep", "30"]), clock.now)
    with pytest.raises(UnsupportedOperationError, match="not interruptible"):
        executor.pause(plain)
    with pytest.raises(UnsupportedOperationError):
        executor.resume(plain)
    waiting = executor.submit(
        JobSpec(["true"], interruptible="signal"), clock.now + timedelta(hours=1)
    )
    with pytest.raises(JobStateError, match="only a running job"):
        executor.pause(waiting)
    with pytest.raises(JobStateError, match="not paused"):
        executor.resume(waiting)
    with pytest.raises(UnsupportedOperationError, match="zone"):
        executor.relocate(waiting, "FR")
    executor.cancel(plain)
    executor.wait(plain, timeout_s=10, until=lambda s: s.ended_at is not None)


def test_zone_mismatch_and_bad_specs_are_usage_errors(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path, zone="DE")
    with pytest.raises(UsageError, match="zone"):
        executor.submit(JobSpec(["true"], zone="FR"), datetime.now(UTC))
    with pytest.raises(UsageError, match="list of strings"):
        JobSpec("echo hi")  # a str is a Sequence[str]: refused at run time
    with pytest.raises(UsageError, match="exactly one string"):
        JobSpec(["echo", "hi"], shell=True)
    with pytest.raises(UsageError, match="interruptible"):
        JobSpec(["true"], interruptible="sometimes")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="no time zone"):
        executor.submit(JobSpec(["true"]), datetime(2026, 1, 1))
    with pytest.raises(UsageError, match="max_runtime_s"):
        executor.submit(JobSpec(["true"]), datetime.now(UTC), max_runtime_s=0)
