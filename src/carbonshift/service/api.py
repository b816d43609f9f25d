"""The REST API (FastAPI): jobs, their plans and transitions, zones, what-if plans, health,
metrics. OpenAPI at ``/openapi.json``, interactive docs at ``/docs``.

Routes (``/v1``, ``/metrics`` and ``/dashboard`` need the bearer token when one is configured):

==========================  =================================================================
``POST /v1/jobs``           submit (201; 200 for a repeated ``client_key``); 422 names the
                            field; a deadline too early for the duration is refused (422)
``GET /v1/jobs``            list (``?state=waiting&state=running``, ``?limit=``, ``?after=``)
``GET /v1/jobs/{id}``       one job with its current plan
``POST /v1/jobs/{id}/cancel``  request cancellation (202; 409 once final)
``GET /v1/jobs/{id}/logs``  output (``?stream=stdout|stderr``, ``?tail_bytes=``), plain text
``GET /v1/jobs/{id}/plans``  plan history: when, where, on which forecast, which fallback
``GET /v1/jobs/{id}/transitions``  every state change with its time and reason
``GET /v1/zones``, ``/v1/zones/{zone}``  current and forecast intensity, forecast status
``POST /v1/plan``           the plan a job would get now; changes nothing
``GET /healthz``            liveness and the service clock's ``now``
``GET /metrics``            Prometheus
``GET /dashboard``          the web page (``?refresh=`` seconds, 0: never); ``/`` leads there
==========================  =================================================================
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse

from carbonshift.errors import CarbonshiftError, DataError, UsageError
from carbonshift.executors import ExecutorError
from carbonshift.planning import Job, ZoneTerms
from carbonshift.service.accountant import describe_account
from carbonshift.service.auth import require_token
from carbonshift.service.lifecycle import State
from carbonshift.service.metrics import CONTENT_TYPE
from carbonshift.service.models import (
    Fallback,
    Health,
    JobCreate,
    JobList,
    JobOut,
    PlanOut,
    PlanRequest,
    PlanResult,
    TransitionOut,
    ZoneOut,
    ZonePoint,
    job_out,
    parse_deadline,
    plan_out,
    transition_out,
)
from carbonshift.service.planner import plan_one
from carbonshift.service.records import JobRow, NewJob
from carbonshift.timeutil import format_duration, format_time, from_epoch_s, parse_duration

if TYPE_CHECKING:
    from carbonshift.service.daemon import Service

__all__ = ["create_app"]


def _refuse(field: str, message: str, kind: str = "value_error") -> HTTPException:
    return HTTPException(
        status_code=422, detail=[{"loc": ["body", field], "msg": message, "type": kind}]
    )


def _timing(service: Service, body: PlanRequest) -> tuple[float, int, float, int]:
    """(now_s, duration_s, deadline_s, margin_s), refusing a deadline that cannot be met."""
    now = service.clock.now()
    duration = parse_duration(body.duration, field="duration")
    if body.deadline is not None:
        deadline = parse_deadline(body.deadline, now)
    else:
        assert body.slack is not None
        deadline = now + parse_duration(body.slack, field="slack") + duration
    margin = service.config.safety_margin_s
    latest = deadline - duration - timedelta(seconds=margin)
    if latest < now:
        raise _refuse(
            "deadline",
            f"deadline {format_time(deadline)} is too early: the job needs "
            f"{format_duration(duration)} plus the {format_duration(timedelta(seconds=margin))} "
            f"safety margin, so it would have to start by {format_time(latest)}, before now "
            f"({format_time(now)}); give a later deadline or a shorter duration",
            "deadline_too_early",
        )
    return now.timestamp(), round(duration.total_seconds()), deadline.timestamp(), margin


def _check_zones(service: Service, body: PlanRequest) -> None:
    known = [z.name for z in service.config.zones]
    for zone in body.zones:
        if zone not in known:
            raise _refuse("zones", f"unknown zone {zone!r}; this service runs {known}")
    if body.executor is not None:
        allowed = body.zones or known
        if not any(service.pool.for_zone(z).kind == body.executor for z in allowed):
            raise _refuse("executor", f"no allowed zone runs on a {body.executor} executor here")


def _job(service: Service, job_id: int) -> JobRow:
    row = service.store.get_job(job_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"no job {job_id}")
    return row


def _jobs_router(service: Service) -> APIRouter:
    r = APIRouter(prefix="/v1", dependencies=[Depends(require_token)])

    @r.post("/jobs", response_model=JobOut, status_code=201, tags=["jobs"])
    def create_job(body: JobCreate, response: Response) -> JobOut:
        if body.client_key is not None:
            existing = service.store.job_by_key(body.client_key)
            if existing is not None:
                response.status_code = 200
                return job_out(existing)
        _check_zones(service, body)
        now_s, duration_s, deadline_s, margin_s = _timing(service, body)
        new = NewJob(
            command=tuple(body.command),
            duration_s=duration_s,
            deadline_s=deadline_s,
            safety_margin_s=margin_s,
            submitted_at_s=now_s,
            name=body.name,
            client_key=body.client_key,
            shell=body.shell,
            env=body.env,
            cwd=body.cwd,
            max_runtime_s=(
                None
                if body.max_duration is None
                else parse_duration(body.max_duration).total_seconds()
            ),
            gpus=body.gpus,
            cpus=body.cpus,
            power_w=body.power_w,
            zones=tuple(body.zones),
            executor_kind=body.executor,
            interruptible=body.interruptible,
            min_chunk_s=_min_chunk_s(body),
            urgent=body.urgent,
        )
        row, created = service.store.create_job(new)
        if created:
            service.metrics.submitted.inc()
            service.loop.wake.set()
        else:
            response.status_code = 200
        return job_out(row)

    @r.get("/jobs", response_model=JobList, tags=["jobs"])
    def list_jobs(
        state: Annotated[list[State] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
        after: Annotated[int | None, Query(ge=0)] = None,
    ) -> JobList:
        rows = service.store.list_jobs(state, limit=limit + 1, after_id=after)
        more = len(rows) > limit
        rows = rows[:limit]
        return JobList(
            jobs=[job_out(x) for x in rows], next_after=rows[-1].id if more and rows else None
        )

    @r.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"])
    def get_job(job_id: int) -> JobOut:
        return job_out(_job(service, job_id))

    @r.post("/jobs/{job_id}/cancel", response_model=JobOut, status_code=202, tags=["jobs"])
    def cancel_job(job_id: int) -> JobOut:
        row = _job(service, job_id)
        if row.state.is_terminal:
            raise HTTPException(status_code=409, detail=f"job {job_id} already {row.state}")
        updated = service.store.request_cancel(job_id, service.clock.now().timestamp())
        service.loop.wake.set()
        return job_out(updated or row)

    @r.get("/jobs/{job_id}/logs", response_class=PlainTextResponse, tags=["jobs"])
    def job_logs(
        job_id: int,
        stream: Literal["stdout", "stderr"] = "stdout",
        tail_bytes: Annotated[int | None, Query(ge=0)] = None,
    ) -> str:
        row = _job(service, job_id)
        if row.handle is None or row.executor is None:
            return ""
        try:
            return service.pool.slot(row.executor).executor.logs(row.handle, stream, tail_bytes)
        except ExecutorError as exc:
            raise HTTPException(status_code=502, detail=f"executor: {exc}") from None

    @r.get("/jobs/{job_id}/plans", response_model=list[PlanOut], tags=["jobs"])
    def job_plans(job_id: int) -> list[PlanOut]:
        _job(service, job_id)
        return [plan_out(p) for p in service.store.plans(job_id)]

    @r.get("/jobs/{job_id}/transitions", response_model=list[TransitionOut], tags=["jobs"])
    def job_transitions(job_id: int) -> list[TransitionOut]:
        _job(service, job_id)
        return [transition_out(t) for t in service.store.transitions(job_id)]

    @r.get("/jobs/{job_id}/account", tags=["accounting"])
    def job_account(job_id: int) -> dict[str, Any]:
        """Energy, emissions and savings of an ended job (``pending`` until accounted)."""
        row = _job(service, job_id)
        found = service.store.account(job_id)
        if found is None:
            why = "not measured (service.measure is off)" if not service.config.measure else ""
            if not why:
                why = "the job has not ended" if not row.state.is_terminal else "not yet"
            return {"job_id": job_id, "status": "pending", "summary": {}, "line": why}
        status, summary = found
        line = describe_account(status, summary)
        return {"job_id": job_id, "status": status, "summary": summary, "line": line}

    @r.post("/plan", response_model=PlanResult, tags=["planning"])
    def what_if(body: PlanRequest) -> PlanResult:
        _check_zones(service, body)
        now_s, duration_s, deadline_s, margin_s = _timing(service, body)
        job = Job(
            submit=from_epoch_s(now_s),
            duration=timedelta(seconds=duration_s),
            deadline=from_epoch_s(deadline_s),
            power_w=body.power_w if body.power_w is not None else 1000.0 * max(1, body.gpus),
            gpus=body.gpus,
            zones=tuple(service.loop.allowed_zones(body.zones, body.executor)),
            interruptible=body.interruptible,
            min_chunk=timedelta(seconds=_min_chunk_s(body) or 0) if body.interruptible else None,
            urgent=body.urgent,
            safety_margin=timedelta(seconds=margin_s),
        )
        views = service.book.views()
        terms = {z: ZoneTerms(penalty_g=g) for z, g in service.loop.penalties.items() if g}
        plan = plan_one(job, int(now_s), views, terms)
        view = views.get(plan.zone)
        series = view.series if view is not None else None
        mean = plan.mean_intensity_g_per_kwh
        planned = None if mean != mean else round(mean, 3)
        immediate = None
        if series is not None and series.start_s <= now_s and now_s + duration_s <= series.end_s:
            value = float(series.window_mean(int(now_s), int(now_s) + duration_s))
            immediate = None if value != value else round(value, 3)
        savings = None
        if planned is not None and immediate:
            savings = round(100.0 * (immediate - planned) / immediate, 2)
        fb = plan.fallback
        return PlanResult(
            zone=plan.zone,
            start=format_time(plan.start),
            end=format_time(plan.end),
            segments=[[format_time(s.start), format_time(s.end)] for s in plan.segments],
            mean_intensity_g_per_kwh=planned,
            immediate_mean_intensity_g_per_kwh=immediate,
            savings_pct=savings,
            decision_time=format_time(plan.decision_time),
            latest_safe_start=format_time(job.latest_safe_start),
            forecast=view.source if view is not None else "none",
            fallback=None if fb is None else Fallback(level=fb.level, reason=fb.reason),
        )

    @r.get("/zones", response_model=list[ZoneOut], tags=["zones"])
    def zones() -> list[ZoneOut]:
        return [_zone(service, z.name, points=False) for z in service.config.zones]

    @r.get("/zones/{zone}", response_model=ZoneOut, tags=["zones"])
    def zone(zone: str) -> ZoneOut:
        if service.config.zone(zone) is None:
            raise HTTPException(status_code=404, detail=f"no zone {zone!r}")
        return _zone(service, zone, points=True)

    return r


def _min_chunk_s(body: PlanRequest) -> int | None:
    """The minimum chunk of an interruptible job (30 minutes unless given)."""
    if not body.interruptible:
        return None
    text = body.min_chunk or "30m"
    return round(parse_duration(text, field="min_chunk").total_seconds())


def _zone(service: Service, name: str, *, points: bool) -> ZoneOut:
    cfg = service.config.zone(name)
    assert cfg is not None
    slot = service.pool.for_zone(name)
    view = service.book.view(name)
    now_s = service.clock.now().timestamp()
    series = view.series if view is not None else None
    issued = series.labels.issued_at if series is not None else None
    out = ZoneOut(
        zone=name,
        executor=slot.name,
        executor_kind=slot.kind,
        capacity_gpus=cfg.capacity_gpus,
        status=view.status if view is not None else "none",
        source=view.source if view is not None else cfg.source,
        reason=view.reason if view is not None else "",
        current_intensity_g_per_kwh=view.value_at(now_s) if view is not None else None,
        forecast_issued_at=None if issued is None else format_time(issued),
        forecast_start=None if series is None else format_time(series.start),
        forecast_end=None if series is None else format_time(series.end),
        static_slot=cfg.static_slot,
    )
    if points and series is not None:
        first = max(0, int((now_s - series.start_s) // series.resolution_s))
        times = series.times_s[first : first + 2000]
        values = series.values[first : first + 2000]
        out.forecast = [
            ZonePoint(
                time=format_time(from_epoch_s(int(t))),
                intensity_g_per_kwh=None if v != v else round(float(v), 3),
            )
            for t, v in zip(times, values, strict=True)
        ]
    return out


def create_app(service: Service) -> FastAPI:
    """The FastAPI application of ``service``."""
    app = FastAPI(
        title="carbonshift",
        version="1",
        description="Carbon-aware scheduling of batch jobs: submit, plan, run, account.",
    )
    app.state.token = service.token
    app.include_router(_jobs_router(service))

    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz() -> Health:
        return Health(
            status="ok",
            now=format_time(service.clock.now()),
            clock=service.clock.describe(),
            store=service.store.dialect,
            schema_version=service.store.schema_version,
            loop_running=service.loop_running,
            loop_passes=service.loop.passes,
            zones={name: v.status for name, v in service.book.views().items()},
        )

    @app.get("/metrics", dependencies=[Depends(require_token)], tags=["service"])
    def metrics() -> Response:
        return Response(content=service.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    @app.get(
        "/dashboard",
        response_class=HTMLResponse,
        dependencies=[Depends(require_token)],
        tags=["service"],
    )
    def dashboard(
        refresh: Annotated[int, Query(ge=0, le=86_400, description="seconds; 0: never")] = 30,
        jobs: Annotated[int, Query(ge=1, le=1000, description="how many newest jobs")] = 50,
    ) -> HTMLResponse:
        """The dashboard: totals, zones with their forecasts and planned windows, jobs."""
        from carbonshift.service.dashboard import collect, render

        return HTMLResponse(render(collect(service, jobs_limit=jobs), refresh_s=refresh))

    @app.exception_handler(CarbonshiftError)
    def _carbonshift_error(request: Request, exc: CarbonshiftError) -> JSONResponse:
        status = 422 if isinstance(exc, UsageError | DataError) else 500
        return JSONResponse(status_code=status, content={"detail": exc.one_line()})

    return app
