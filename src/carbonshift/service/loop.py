"""The planning loop: refresh forecasts, (re-)plan, dispatch, follow, every few moments.

One :meth:`PlanningLoop.tick` is one pass at the clock's ``now``:

1. on the first pass after a start, **reconcile**: finish interrupted dispatches and re-time
   executor jobs whose plan changed while the service was down;
2. every ``replan_every`` (or when forced): refresh every zone's forecast;
3. carry out cancel requests;
4. start due local jobs and mirror every executor's states into the lifecycle;
5. plan new jobs, and on a replan pass every job not yet started, all together under each
   zone's capacity; record the changed plans; re-time or move waiting jobs whose plan moved;
6. hand to executors the planned jobs due within ``dispatch_ahead``, then start due ones;
7. pause and resume interruptible jobs at their planned chunk boundaries.

The loop is the only writer of job states after submission, so there are no races between
planning and the API. :meth:`run` repeats ticks in a thread, sleeping until the next due
moment (on the service clock), a poll interval, or a wake-up from the API.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from carbonshift.errors import CarbonshiftError
from carbonshift.executors import ExecutorError, JobState
from carbonshift.service.accountant import Accountant
from carbonshift.service.clock import Clock
from carbonshift.service.config import ServiceConfig
from carbonshift.service.dispatch import ExecutorPool
from carbonshift.service.follow import Follower
from carbonshift.service.forecasts import ForecastBook
from carbonshift.service.lifecycle import State
from carbonshift.service.metrics import ServiceMetrics
from carbonshift.service.planner import Decision, Reservation, plan_jobs
from carbonshift.service.records import JobRow, PlanWrite, finite_or_none
from carbonshift.service.store import JobStore, StaleJobError
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = ["PlanningLoop", "TickReport"]

log = logging.getLogger("carbonshift.service")

_FOLLOWED = [State.DISPATCHING, State.WAITING, State.RUNNING, State.PAUSED]


@dataclass(frozen=True)
class TickReport:
    """What one pass did."""

    now_s: float
    replanned: bool
    planned: int
    changed: int
    dispatched: int
    duration_s: float


class PlanningLoop:
    """See the module docstring."""

    def __init__(
        self,
        config: ServiceConfig,
        store: JobStore,
        book: ForecastBook,
        pool: ExecutorPool,
        clock: Clock,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.book = book
        self.pool = pool
        self.clock = clock
        self.metrics = metrics
        self.follower = Follower(store, pool, metrics)
        self.capacity = {z.name: z.capacity_gpus for z in config.zones}
        self.penalties = {z.name: z.penalty_g for z in config.zones}
        self.wake = threading.Event()
        self.dispatch_inline = True
        """Start due local jobs within the pass (off when dispatcher threads do it)."""
        self.last_replan_s: float | None = None
        self.reconciled = False
        self.passes = 0
        self.last_tick_s: float | None = None
        self.accountant: Accountant | None = None
        """Accounts ended jobs into the ledger (set by the service when it measures)."""
        self.account_inline = True
        """Account within the pass (off when the service runs an accounting thread)."""
        self._lock = threading.Lock()

    def zones_for(self, row: JobRow) -> list[str]:
        """The zones a stored job may run in."""
        return self.allowed_zones(row.zones, row.executor_kind)

    def allowed_zones(self, zones: Sequence[str], executor_kind: str | None) -> list[str]:
        """The zones listed (or every zone), on the executor kind asked for (if any)."""
        out = [z for z in zones if z in self.capacity] or list(self.capacity)
        if executor_kind:
            out = [z for z in out if self.pool.for_zone(z).kind == executor_kind]
        return out

    # -- one pass -------------------------------------------------------------------------

    def tick(self, *, replan: bool | None = None) -> TickReport:
        with self._lock:
            return self._tick(replan)

    def _tick(self, replan: bool | None) -> TickReport:
        t0 = time.perf_counter()
        now = self.clock.now()
        now_s = now.timestamp()
        if not self.reconciled:
            self.reconcile(now_s)
            self.reconciled = True
        due = replan if replan is not None else self._replan_due(now_s)
        if due:
            for zone, view in self.book.refresh(now).items():
                if view.status != "fresh" and self.metrics is not None:
                    self.metrics.forecast_failures.labels(zone).inc()
            self.last_replan_s = now_s
        self._cancels(now_s)
        if self.dispatch_inline:
            self.pool.dispatch_due()
        self._follow(now_s)
        # jobs due soon are handed over before the (longer) planning step; planning can still
        # re-time them while their executor holds them
        dispatched = self._dispatch(now_s)
        planned, changed = self._plan(int(now_s), due)
        dispatched += self._dispatch(now_s)
        if dispatched and self.dispatch_inline:
            self.pool.dispatch_due()
            self._follow(now_s, only=[State.DISPATCHING, State.WAITING])
        self._chunks(now_s)
        if self.accountant is not None and self.account_inline:
            self.account(finalize=due)
        self.passes += 1
        self.last_tick_s = now_s
        elapsed = time.perf_counter() - t0
        if self.metrics is not None:
            self.metrics.loop_duration.observe(elapsed)
        log.log(
            logging.INFO if elapsed > 1.0 else logging.DEBUG,
            "pass at %s: replan=%s planned=%d changed=%d dispatched=%d in %.3f s",
            format_time(now),
            due,
            planned,
            changed,
            dispatched,
            elapsed,
        )
        return TickReport(now_s, due, planned, changed, dispatched, elapsed)

    def account(self, *, finalize: bool) -> None:
        """Account jobs that ended (a failure is logged, never stops the caller)."""
        assert self.accountant is not None
        try:
            self.accountant.run_pass()
            if finalize:
                self.accountant.finalize_pass()
        except Exception:
            log.exception("accounting pass failed")

    def _replan_due(self, now_s: float) -> bool:
        return (
            self.last_replan_s is None or now_s - self.last_replan_s >= self.config.replan_every_s
        )

    def reconcile(self, now_s: float) -> None:
        """After a (re)start: finish dispatches and re-time jobs the executor holds too early
        or late (their plan changed after the executor was told)."""
        for row in self.store.list_jobs([State.DISPATCHING, State.WAITING]):
            try:
                if row.state is State.DISPATCHING:
                    self.follower.resolve(row, now_s)
                    continue
                held = self.follower.executor_start(row)
                planned = row.planned_start_s
                if held is None or planned is None or abs(held.timestamp() - planned) <= 1:
                    continue
                due_s = now_s + self.pool.launch_ahead_s
                if held.timestamp() <= due_s and planned <= due_s:
                    continue  # due either way: re-timing would only push its start later
                self.follower.retime(row)
            except (CarbonshiftError, ExecutorError, OSError) as exc:
                log.warning("job %s: reconcile failed: %s", row.id, exc)

    def _cancels(self, now_s: float) -> None:
        active = [s for s in State if not s.is_terminal]
        for row in self.store.list_jobs(active, cancel_requested=True):
            try:
                self.follower.cancel(row, now_s, "cancelled on request")
            except (CarbonshiftError, ExecutorError, OSError) as exc:
                log.warning("job %s: cancel failed: %s", row.id, exc)

    def _follow(self, now_s: float, only: list[State] | None = None) -> None:
        states = only or _FOLLOWED
        rows = self.store.list_jobs([s for s in states if s is not State.WAITING])
        if State.WAITING in states:
            # the executor holds a waiting job until its start: nothing to read before
            rows += self.store.list_jobs([State.WAITING], start_before_s=now_s + 1.0)
        for row in rows:
            try:
                self.follower.sync(row, now_s)
            except StaleJobError:
                continue
            except (CarbonshiftError, ExecutorError, OSError) as exc:
                log.warning("job %s: following its executor failed: %s", row.id, exc)

    # -- planning -------------------------------------------------------------------------

    def _plan(self, now_s: int, replan_all: bool) -> tuple[int, int]:
        # a job submitted while this pass runs waits for the next one (decision time >= submit)
        fresh = self.store.list_jobs([State.SUBMITTED], submitted_before_s=now_s)
        pending = [State.PLANNED, State.WAITING]
        again = self.store.list_jobs(pending, start_after_s=now_s) if replan_all else []
        rows = fresh + again
        if not rows:
            return 0, 0
        # GPUs held by jobs not planned in this pass (only those matter for capacity)
        moving = {r.id for r in again}
        kept = [r for r in self.store.list_jobs(pending, min_gpus=1) if r.id not in moving]
        reserved = self._reserved(kept, now_s)
        decisions = plan_jobs(
            rows,
            now_s,
            self.book.views(),
            zones_for=self.zones_for,
            capacity=self.capacity,
            reserved=reserved,
            penalties_g=self.penalties,
        )
        by_id = {r.id: r for r in rows}
        writes: list[PlanWrite] = []
        moved: list[int] = []
        for d in decisions:
            row = by_id[d.job_id]
            write = self._write(row, d)
            writes.append(write)
            if write.changed:
                fb = d.plan.fallback
                if self.metrics is not None:
                    self.metrics.observe_plan(
                        d.plan.zone,
                        finite_or_none(d.plan.mean_intensity_g_per_kwh),
                        d.immediate_mean_g_per_kwh,
                        None if fb is None else fb.level,
                    )
                if row.state is State.WAITING:
                    moved.append(row.id)
        # an unchanged plan is not written again (its decision time stays the one it was made)
        writes = [w for w in writes if w.changed or w.to_state is not None]
        changed = sum(w.changed for w in writes)
        self.store.apply_plans(writes, float(now_s))
        current = self.store.jobs_by_ids(moved)
        for job_id in moved:
            row2 = current.get(job_id)
            if row2 is None or row2.state is not State.WAITING:
                continue
            try:
                if row2.planned_zone != by_id[job_id].planned_zone:
                    self.follower.move(row2, float(now_s))
                else:
                    self.follower.retime(row2)
            except (CarbonshiftError, ExecutorError, OSError) as exc:
                log.warning("job %s: re-timing failed: %s", job_id, exc)
        return len(decisions), changed

    def _reserved(self, kept: list[JobRow], now_s: int) -> list[Reservation]:
        out = []
        active = [State.DISPATCHING, State.RUNNING, State.PAUSED]
        for row in kept + self.store.list_jobs(active, min_gpus=1):
            if row.planned_zone is None or row.gpus <= 0:
                continue
            start = max(float(now_s), row.planned_start_s or now_s)
            end = max(row.planned_end_s or 0.0, (row.started_at_s or start) + row.duration_s)
            out.append(Reservation(row.planned_zone, start, end, row.gpus))
        return out

    def _write(self, row: JobRow, d: Decision) -> PlanWrite:
        plan = d.plan
        fb = plan.fallback
        segments = [(float(s.start_s), float(s.end_s)) for s in plan.segments]
        view = d.view
        issued = None
        if view is not None and view.series is not None and view.series.labels.issued_at:
            issued = view.series.labels.issued_at.timestamp()
        values = {
            "decided_at_s": float(plan.decision_time_s),
            "zone": plan.zone,
            "start_s": float(plan.start_s),
            "end_s": float(plan.end_s),
            "segments": PlanWrite.segments_json(segments),
            "mean_intensity_g_per_kwh": finite_or_none(plan.mean_intensity_g_per_kwh),
            "immediate_mean_intensity_g_per_kwh": d.immediate_mean_g_per_kwh,
            "emissions_g": finite_or_none(plan.emissions_g),
            "policy": plan.policy,
            "solver": d.solver,
            "forecast_id": None if view is None else view.forecast_id,
            "forecast_issued_at_s": issued,
            "forecast_source": None if view is None else view.source,
            "fallback_level": None if fb is None else fb.level,
            "fallback_reason": None if fb is None else fb.reason,
            "note": plan.note,
        }
        changed = (
            row.plan_count == 0
            or row.planned_zone != plan.zone
            or tuple(row.segments) != tuple(segments)
            or row.fallback_level != values["fallback_level"]
        )
        to_state = State.PLANNED if row.state is State.SUBMITTED else None
        reason = (
            f"planned in {plan.zone} at {format_time(plan.start)}"
            + ("" if fb is None else f" ({fb.level.replace('_', ' ')})")
            if to_state is not None
            else ""
        )
        return PlanWrite(row.id, row.state, values, changed, to_state, reason)

    # -- dispatch and chunks --------------------------------------------------------------

    def _dispatch(self, now_s: float) -> int:
        horizon = now_s + self.config.dispatch_ahead_s
        count = 0
        due = self.store.list_jobs([State.PLANNED], start_before_s=horizon)
        for row in sorted(due, key=lambda r: (r.planned_start_s or 0.0, r.id)):
            try:
                self.follower.dispatch(row, now_s)
                count += 1
            except StaleJobError:
                continue
            except (CarbonshiftError, ExecutorError, OSError) as exc:
                log.warning("job %s: dispatch failed, will retry: %s", row.id, exc)
        return count

    def _chunks(self, now_s: float) -> None:
        """Pause an interruptible job at the end of a planned chunk; resume at the next."""
        for row in self.store.list_jobs([State.RUNNING, State.PAUSED]):
            if not row.interruptible or len(row.segments) < 2 or row.handle is None:
                continue
            k = row.segment_index
            slot = self.pool.slot(row.executor or "")
            try:
                if row.state is State.RUNNING and k + 1 < len(row.segments):
                    if now_s >= row.segments[k][1]:
                        slot.executor.pause(row.handle)
                        self.store.transition(
                            row,
                            State.PAUSED,
                            at_s=now_s,
                            reason=f"end of planned chunk {k + 1} of {len(row.segments)}",
                            segment_index=k + 1,
                        )
                elif row.state is State.PAUSED and now_s >= row.segments[k][0]:
                    if slot.executor.status(row.handle).state is JobState.PAUSED:
                        slot.executor.resume(row.handle)
                    self.store.transition(
                        row,
                        State.RUNNING,
                        at_s=now_s,
                        reason=f"planned chunk {k + 1} of {len(row.segments)} starts",
                    )
            except (CarbonshiftError, ExecutorError, OSError) as exc:
                log.warning("job %s: chunk control failed: %s", row.id, exc)

    # -- running in a thread --------------------------------------------------------------

    def next_wait_s(self) -> float:
        """Wall-clock seconds until the next thing is due (at most ``poll_every``).

        A start that the last pass already saw due is not waited for again: the dispatcher
        threads launch it and the next poll follows it. (Counting it would spin the loop at
        full speed through a backlog of due jobs, taking the CPU the launches need.)"""
        now_s = self.clock.now().timestamp()
        targets = []
        if self.last_replan_s is not None:
            targets.append(self.last_replan_s + self.config.replan_every_s)
        ahead_s = self.config.dispatch_ahead_s
        after_s = self.last_tick_s
        planned = self.store.next_start_s(
            [State.PLANNED], None if after_s is None else after_s + ahead_s
        )
        if planned is not None:
            targets.append(planned - ahead_s)
        waiting = self.store.next_start_s([State.WAITING], after_s)
        if waiting is not None:
            targets.append(waiting)
        wait_s = self.config.poll_every_s
        for t in targets:
            wait_s = min(wait_s, self.clock.wall_seconds(max(0.0, t - now_s)))
        return max(0.005, wait_s)

    def run(self, stop: threading.Event, *, min_interval_s: float = 0.2) -> None:
        """Tick until ``stop`` is set; errors are logged and the loop goes on.

        A wake-up (a submission, a cancel request) brings the next pass forward, but passes
        are at least ``min_interval_s`` apart, so a burst of submissions is planned in batches
        instead of one pass per request."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.tick()
                wait_s = self.next_wait_s()
            except Exception:
                log.exception("planning loop pass failed")
                wait_s = self.config.poll_every_s
            if self.wake.wait(wait_s):
                self.wake.clear()
                rest_s = min_interval_s - (time.monotonic() - started)
                if rest_s > 0:
                    stop.wait(min(rest_s, wait_s))

    def describe_next(self) -> str:
        if self.last_replan_s is None:
            return "not started"
        nxt = from_epoch_s(self.last_replan_s) + timedelta(seconds=self.config.replan_every_s)
        return f"next replan {format_time(nxt)}"
