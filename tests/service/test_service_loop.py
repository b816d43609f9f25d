"""The planning loop on a manual clock: jobs start inside their planned windows, re-planning
follows the forecast, capacity spreads jobs, interruptible jobs pause between chunks, and a
crash at any point of a dispatch neither loses nor duplicates a job."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from service.helpers_service import (
    T0,
    check_transitions,
    dip,
    manual_service,
    settle,
    write_forecast,
)

from carbonshift.executors import LocalExecutor
from carbonshift.service.clock import ManualClock
from carbonshift.service.config import ZoneConfig
from carbonshift.service.daemon import Service
from carbonshift.service.dispatch import dispatch_token
from carbonshift.service.lifecycle import State
from carbonshift.service.records import NewJob
from carbonshift.timeutil import to_epoch_s

H = 3600


def _job(
    service: Service,
    *,
    hours: int = 1,
    deadline_h: int = 10,
    command: tuple[str, ...] = ("sh", "-c", "echo out-$CARBONSHIFT_JOB_ID; echo err >&2"),
    gpus: int = 0,
    interruptible: bool = False,
    min_chunk_s: int | None = None,
) -> int:
    now = service.clock.now().timestamp()
    new = NewJob(
        command=command,
        duration_s=hours * H,
        deadline_s=now + deadline_h * H,
        safety_margin_s=60,
        submitted_at_s=now,
        gpus=gpus,
        interruptible=interruptible,
        min_chunk_s=min_chunk_s,
    )
    row, _ = service.store.create_job(new)
    return row.id


def _zone(tmp_path: Path, values: list[float], **kw: object) -> ZoneConfig:
    return ZoneConfig("XX", forecast_file=write_forecast(tmp_path / "XX.csv", T0, values), **kw)  # type: ignore[arg-type]


def test_job_starts_inside_its_planned_window_and_output_is_captured(tmp_path: Path) -> None:
    service, clock = manual_service(tmp_path, [_zone(tmp_path, dip(48, 6))])
    ok = _job(service)
    bad = _job(service, command=("sh", "-c", "echo partial; exit 3"))
    service.loop.tick()
    row = service.store.get_job(ok)
    assert row is not None and row.state is State.PLANNED
    assert row.planned_start_s == to_epoch_s(T0) + 6 * H
    clock.set(T0 + timedelta(hours=5, minutes=30))  # within dispatch_ahead: handed over
    service.loop.tick()
    assert {service.store.get_job(j).state for j in (ok, bad)} == {State.WAITING}  # type: ignore[union-attr]
    clock.set(T0 + timedelta(hours=5, minutes=59))
    service.loop.tick()  # not yet due: nothing starts early
    assert service.store.get_job(ok).state is State.WAITING  # type: ignore[union-attr]
    clock.set(T0 + timedelta(hours=6))
    settle(service, {"succeeded", "failed"}, [ok, bad])
    good, failed = service.store.get_job(ok), service.store.get_job(bad)
    assert good is not None and failed is not None
    assert good.state is State.SUCCEEDED and good.exit_code == 0
    assert good.started_at_s is not None and good.planned_start_s is not None
    assert good.planned_start_s <= good.started_at_s <= good.planned_end_s  # type: ignore[operator]
    assert good.started_at_s <= good.latest_safe_start_s
    assert failed.state is State.FAILED and failed.exit_code == 3 and failed.reason == "exit code 3"
    executor = service.pool.slot("local").executor
    assert executor.logs(good.handle or "") == f"out-{ok}\n"
    assert executor.logs(good.handle or "", "stderr") == "err\n"
    assert executor.logs(failed.handle or "") == "partial\n"
    check_transitions(service.store.all_transitions())
    service.close()


def test_replanning_moves_a_waiting_job_when_the_forecast_changes(tmp_path: Path) -> None:
    service, clock = manual_service(
        tmp_path, [_zone(tmp_path, dip(48, 8))], dispatch_ahead_s=24 * H
    )
    held = _job(service)  # dispatched at once (dispatch_ahead 24 h): the executor holds it
    service.loop.tick()
    row = service.store.get_job(held)
    assert row is not None and row.state is State.WAITING and row.handle is not None
    executor = service.pool.slot("local").executor
    assert executor.status(row.handle).planned_start == T0 + timedelta(hours=8)
    write_forecast(tmp_path / "XX.csv", T0, dip(48, 3))  # the new forecast: cleaner at 03:00
    clock.advance(timedelta(minutes=10))
    service.loop.tick()  # not a replan pass yet (every 15 min)
    assert service.store.get_job(held).planned_start_s == to_epoch_s(T0) + 8 * H  # type: ignore[union-attr]
    clock.advance(timedelta(minutes=5))
    report = service.loop.tick()
    assert report.replanned and report.changed == 1
    row = service.store.get_job(held)
    assert row is not None and row.state is State.WAITING
    assert row.planned_start_s == to_epoch_s(T0) + 3 * H
    assert executor.status(row.handle or "").planned_start == T0 + timedelta(hours=3)
    plans = service.store.plans(held)
    assert [p.start_s - to_epoch_s(T0) for p in plans] == [8 * H, 3 * H]
    assert plans[0].forecast_id != plans[1].forecast_id
    assert plans[1].decided_at_s == to_epoch_s(T0) + 15 * 60
    clock.set(T0 + timedelta(hours=3))
    settle(service, {"succeeded"}, [held])
    service.close()


def test_jobs_are_planned_together_under_capacity(tmp_path: Path) -> None:
    values = [300.0] * 48
    values[4], values[5], values[6] = 50.0, 60.0, 70.0
    service, _ = manual_service(tmp_path, [_zone(tmp_path, values, capacity_gpus=1)])
    ids = [_job(service, gpus=1) for _ in range(3)]
    service.loop.tick()
    starts = sorted(
        int(service.store.get_job(j).planned_start_s - to_epoch_s(T0)) // H  # type: ignore[union-attr, operator]
        for j in ids
    )
    assert starts == [4, 5, 6]  # not all herded into 04:00
    assert {p.solver for j in ids for p in service.store.plans(j)} == {"greedy"}
    service.close()


def test_interruptible_job_pauses_between_planned_chunks(tmp_path: Path) -> None:
    values = [400.0] * 48
    values[2] = values[5] = 50.0
    service, clock = manual_service(tmp_path, [_zone(tmp_path, values)])
    job = _job(
        service,
        hours=2,
        deadline_h=12,
        interruptible=True,
        min_chunk_s=H,
        command=("sh", "-c", "sleep 1.5; echo done"),
    )
    service.loop.tick()
    row = service.store.get_job(job)
    assert row is not None
    assert [(a - to_epoch_s(T0), b - to_epoch_s(T0)) for a, b in row.segments] == [
        (2 * H, 3 * H),
        (5 * H, 6 * H),
    ]
    clock.set(T0 + timedelta(hours=2))
    settle(service, {"running"}, [job])
    clock.set(T0 + timedelta(hours=3))
    service.loop.tick()
    assert service.store.get_job(job).state is State.PAUSED  # type: ignore[union-attr]
    time.sleep(2.0)  # stopped: it cannot finish while paused
    service.loop.tick()
    assert service.store.get_job(job).state is State.PAUSED  # type: ignore[union-attr]
    clock.set(T0 + timedelta(hours=5))
    service.loop.tick()
    settle(service, {"succeeded"}, [job])
    states = [t.to_state for t in service.store.transitions(job)]
    assert states == [
        "submitted", "planned", "dispatching", "waiting", "running", "paused", "running", "succeeded"
    ]  # fmt: skip
    service.close()


def _restart(service: Service, tmp_path: Path) -> Service:
    zones = service.config.zones
    service.close()
    again, _ = manual_service(tmp_path, zones, clock=service.clock)  # type: ignore[arg-type]
    return again


def test_crash_after_dispatch_intent_submits_once(tmp_path: Path) -> None:
    service, clock = manual_service(tmp_path, [_zone(tmp_path, dip(48, 1))])
    job = _job(service)
    service.loop.tick()
    row = service.store.get_job(job)
    assert row is not None and row.state is State.WAITING
    # the same job, but "killed" right after committing the dispatch intent:
    other = _job(service)
    service.loop.tick(replan=False)  # planned (and dispatched: due within the hour) ...
    row2 = service.store.get_job(other)
    assert row2 is not None
    executor = service.pool.slot("local").executor
    assert isinstance(executor, LocalExecutor)
    # simulate a crash between the intent and the executor call: roll the executor side back
    service.close()
    for handle in executor.handles():
        if handle.startswith(dispatch_token(other, 1) + "-"):
            import shutil

            shutil.rmtree(executor.state_dir / "jobs" / handle)
            (executor.state_dir / "waiting" / handle).unlink(missing_ok=True)
    with service.store.write() as conn:
        from sqlalchemy import text

        conn.execute(
            text("UPDATE cs_jobs SET state='dispatching', handle=NULL WHERE id=:i"), {"i": other}
        )
    again = _restart(service, tmp_path)
    clock.set(T0 + timedelta(hours=1))
    settle(again, {"succeeded"}, [job, other])
    handles = [h for h in executor.handles() if h.startswith(f"cs{other}a")]
    assert len(handles) == 1
    again.close()


def test_crash_after_executor_accepted_adopts_its_handle(tmp_path: Path) -> None:
    service, clock = manual_service(tmp_path, [_zone(tmp_path, dip(48, 1))])
    job = _job(service)
    service.loop.tick()
    row = service.store.get_job(job)
    assert row is not None and row.state is State.WAITING and row.handle is not None
    # pretend the handle was never recorded: the job is still "dispatching" in the store
    with service.store.write() as conn:
        from sqlalchemy import text

        conn.execute(
            text("UPDATE cs_jobs SET state='dispatching', handle=NULL WHERE id=:i"), {"i": job}
        )
    kept = row.handle
    again = _restart(service, tmp_path)
    again.loop.tick()
    row = again.store.get_job(job)
    assert row is not None and row.state is State.WAITING and row.handle == kept
    assert "recovered from executor" in again.store.transitions(job)[-1].reason
    clock.set(T0 + timedelta(hours=1))
    settle(again, {"succeeded"}, [job])
    executor = again.pool.slot("local").executor
    assert isinstance(executor, LocalExecutor)
    assert [h for h in executor.handles() if h.startswith(f"cs{job}a")] == [kept]
    again.close()


def test_restart_retimes_a_job_whose_new_plan_the_executor_missed(tmp_path: Path) -> None:
    service, _ = manual_service(tmp_path, [_zone(tmp_path, dip(48, 8))], dispatch_ahead_s=24 * H)
    job = _job(service)
    service.loop.tick()
    row = service.store.get_job(job)
    assert row is not None and row.handle is not None
    # the plan moved in the store, but the service died before telling the executor
    service.store.update_job(row, planned_start_s=float(to_epoch_s(T0) + 2 * H))
    again = _restart(service, tmp_path)
    again.loop.tick(replan=False)
    executor = again.pool.slot("local").executor
    assert executor.status(row.handle).planned_start == T0 + timedelta(hours=2)
    again.close()


def test_restart_leaves_an_overdue_job_due_instead_of_pushing_its_start(tmp_path: Path) -> None:
    """After a restart, a job that is due both in the store and in the executor is left to
    start at once: re-timing it to "now" would put its start a dispatcher poll ahead on
    every restart, and a server restarted often would starve it past its deadline."""
    service, clock = manual_service(
        tmp_path, [_zone(tmp_path, dip(48, 8))], dispatch_ahead_s=24 * H
    )
    job = _job(service, deadline_h=12)
    service.loop.tick()
    row = service.store.get_job(job)
    assert row is not None and row.state is State.WAITING and row.handle is not None
    service.store.update_job(row, planned_start_s=float(to_epoch_s(T0) + 7 * H))
    clock.set(T0 + timedelta(hours=9))  # both starts have passed; nobody dispatched it
    again = _restart(service, tmp_path)
    again.pool.launch_ahead_s = 4.0  # as with the real server's dispatcher threads
    again.loop.reconcile(clock.now().timestamp())
    executor = again.pool.slot("local").executor
    status = executor.status(row.handle)
    assert status.planned_start == T0 + timedelta(hours=8)
    assert status.state.value == "pending"  # due: the next dispatcher poll starts it
    again.close()


class _RealTimeManualClock(ManualClock):
    """A manual clock whose seconds last as long as the wall clock's."""

    def wall_seconds(self, clock_s: float) -> float:
        return clock_s


def test_a_backlog_of_due_jobs_does_not_spin_the_loop(tmp_path: Path) -> None:
    """A start ahead is waited for exactly; once a pass has seen it due, the loop waits its
    poll interval for the dispatchers instead of passing again at once (a backlog of due
    jobs would otherwise spin the loop and take the CPU the launches need)."""
    clock = _RealTimeManualClock(T0)
    service, _ = manual_service(
        tmp_path,
        [_zone(tmp_path, dip(48, 8))],
        clock=clock,
        dispatch_ahead_s=24 * H,
        poll_every_s=10 * H,
        replan_every_s=24 * H,
    )
    service.loop.dispatch_inline = False  # as in the server: dispatcher threads launch jobs
    job = _job(service, deadline_h=12)
    service.loop.tick()
    assert service.store.get_job(job).state is State.WAITING  # type: ignore[union-attr]
    assert service.loop.next_wait_s() == 8 * H  # until its 08:00 start
    clock.set(T0 + timedelta(hours=9))  # the start has passed; nobody launched it
    assert service.loop.next_wait_s() == 0.005  # not seen due yet: pass at once
    service.loop.tick()
    assert service.store.get_job(job).state is State.WAITING  # type: ignore[union-attr]
    assert service.loop.next_wait_s() == 10 * H  # seen due: the poll interval, no spinning
    service.close()


def test_cancel_stops_waiting_and_running_jobs(tmp_path: Path) -> None:
    service, clock = manual_service(tmp_path, [_zone(tmp_path, dip(48, 2))])
    marker = tmp_path / "finished"
    waiting = _job(service)  # planned at 02:00
    running = _job(service, deadline_h=2, command=("sh", "-c", f"sleep 30; touch {marker}"))
    service.loop.tick()  # the second one can only start at once
    settle(service, {"running"}, [running])
    clock.set(T0 + timedelta(hours=1, minutes=30))
    service.loop.tick()
    assert service.store.get_job(waiting).state is State.WAITING  # type: ignore[union-attr]
    for job in (waiting, running):
        service.store.request_cancel(job, clock.now().timestamp())
    settle(service, {"cancelled"}, [waiting, running])
    executor = service.pool.slot("local").executor
    for job in (waiting, running):
        row = service.store.get_job(job)
        assert row is not None and row.reason == "cancelled on request"
        end = time.monotonic() + 10
        while not executor.status(row.handle or "").is_terminal and time.monotonic() < end:
            time.sleep(0.05)
        assert executor.status(row.handle or "").state.value == "cancelled"
    assert not marker.exists()
    check_transitions(service.store.all_transitions())
    service.close()
