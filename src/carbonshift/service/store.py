"""``JobStore``: jobs, their transitions, plans and forecasts in SQLite or PostgreSQL.

One schema through SQLAlchemy 2 Core (:mod:`carbonshift.service.schema`, engines and
transactions in :mod:`carbonshift.service.database`). Every state change is one transaction
that checks the transition against the lifecycle, updates the job only if it is still in the
state read (compare-and-set on ``state``), and appends a transition row with its time and
reason: a crash leaves either both or neither.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import (
    Connection,
    CursorResult,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from carbonshift.errors import UsageError
from carbonshift.service import schema
from carbonshift.service.database import Database, normalise_url
from carbonshift.service.lifecycle import State, check_transition
from carbonshift.service.records import (
    JobRow,
    NewJob,
    PlanRow,
    PlanWrite,
    TransitionRow,
    dumps,
    loads,
)
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries

__all__ = ["JobStore", "StaleJobError", "StoredForecast", "normalise_url"]

_J = schema.jobs
_T = schema.transitions
_P = schema.plans
_F = schema.forecasts
_A = schema.accounts


_EMPTY_JOB: dict[str, Any] = {c.name: None for c in _J.columns} | {
    "plan_count": 0,
    "dispatch_attempt": 0,
    "segment_index": 0,
}


class StaleJobError(UsageError):
    """The job changed state between the read and the write; nothing was written."""


class StoredForecast:
    """A forecast as stored: its id, the series and where it came from."""

    def __init__(self, id: int, series: IntensitySeries, source: str, fetched_at_s: float):
        self.id = id
        self.series = series
        self.source = source
        self.fetched_at_s = fetched_at_s


class JobStore(Database):
    """Jobs, transitions, plans and forecasts; see the module docstring."""

    # -- jobs -----------------------------------------------------------------------------

    def create_job(self, new: NewJob) -> tuple[JobRow, bool]:
        """Store a new job in ``submitted`` (with its first transition); ``(row, created)``.

        A job whose ``client_key`` is already stored is not created again: the stored one is
        returned with ``created=False`` (clients retry safely after a lost answer).
        """
        if new.client_key is not None:
            found = self.job_by_key(new.client_key)
            if found is not None:
                return found, False
        try:
            with self.write() as conn:
                # statements with separate parameters compile once (SQLAlchemy's cache)
                values = {**new.to_row(), "state": State.SUBMITTED.value, "version": 0}
                job_id = _new_id(conn.execute(insert(_J), values))
                conn.execute(
                    insert(_T),
                    {
                        "job_id": job_id,
                        "from_state": None,
                        "to_state": State.SUBMITTED.value,
                        "at_s": new.submitted_at_s,
                        "reason": "submitted",
                        "detail": "{}",
                    },
                )
        except IntegrityError:
            if new.client_key is None:
                raise
            found = self.job_by_key(new.client_key)
            if found is None:
                raise
            return found, False
        row = JobRow.from_mapping({**_EMPTY_JOB, **values, "id": job_id})
        return row, True

    def get_job(self, job_id: int) -> JobRow | None:
        with self.read() as conn:
            m = conn.execute(select(_J).where(_J.c.id == job_id)).mappings().first()
        return None if m is None else JobRow.from_mapping(m)

    def job_by_key(self, key: str) -> JobRow | None:
        with self.read() as conn:
            m = conn.execute(select(_J).where(_J.c.client_key == key)).mappings().first()
        return None if m is None else JobRow.from_mapping(m)

    def list_jobs(
        self,
        states: Sequence[State] | None = None,
        *,
        limit: int | None = None,
        after_id: int | None = None,
        start_before_s: float | None = None,
        start_after_s: float | None = None,
        min_gpus: int | None = None,
        cancel_requested: bool | None = None,
        submitted_before_s: float | None = None,
        newest_first: bool = False,
    ) -> list[JobRow]:
        """Jobs in ``states`` (all if None), by id, after ``after_id``, at most ``limit``;
        optionally only those planned to start before/after a time, holding GPUs, with a
        cancel request, or submitted before a time; ``newest_first`` reverses the order."""
        query = select(_J).order_by(_J.c.id.desc() if newest_first else _J.c.id)
        if states:
            query = query.where(_J.c.state.in_([s.value for s in states]))
        if after_id is not None:
            query = query.where(_J.c.id > after_id)
        if start_before_s is not None:
            query = query.where(_J.c.planned_start_s <= start_before_s)
        if start_after_s is not None:
            query = query.where(_J.c.planned_start_s > start_after_s)
        if min_gpus is not None:
            query = query.where(_J.c.gpus >= min_gpus)
        if cancel_requested is not None:
            col = _J.c.cancel_requested_at_s
            query = query.where(col.is_not(None) if cancel_requested else col.is_(None))
        if submitted_before_s is not None:
            query = query.where(_J.c.submitted_at_s <= submitted_before_s)
        if limit is not None:
            query = query.limit(limit)
        with self.read() as conn:
            return [JobRow.from_mapping(m) for m in conn.execute(query).mappings()]

    def count_by_state(self) -> dict[str, int]:
        with self.read() as conn:
            rows = conn.execute(select(_J.c.state, func.count()).group_by(_J.c.state)).all()
        return {str(state): int(n) for state, n in rows}

    def next_start_s(self, states: Sequence[State], after_s: float | None = None) -> float | None:
        """The earliest planned start among jobs in ``states`` (later than ``after_s``)."""
        query = select(func.min(_J.c.planned_start_s)).where(
            _J.c.state.in_([s.value for s in states])
        )
        if after_s is not None:
            query = query.where(_J.c.planned_start_s > after_s)
        with self.read() as conn:
            value = conn.execute(query).scalar()
        return None if value is None else float(value)

    def transition(
        self,
        job: JobRow,
        to: State,
        *,
        at_s: float,
        reason: str,
        detail: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> JobRow:
        """Move ``job`` to ``to`` (checked), setting ``fields``, in one transaction.

        Raises :class:`IllegalTransitionError` for a transition the lifecycle refuses and
        :class:`StaleJobError` if the stored job is no longer in ``job.state``.
        """
        with self.write() as conn:
            self._transition(conn, job, to, at_s, reason, detail or {}, fields)
        found = self.get_job(job.id)
        assert found is not None
        return found

    def transitions_many(
        self, steps: Iterable[tuple[JobRow, State, float, str, Mapping[str, Any]]]
    ) -> None:
        """Several chained transitions in one transaction: ``(job, to, at_s, reason, fields)``;
        a job listed twice moves on from where its previous step left it."""
        with self.write() as conn:
            current: dict[int, JobRow] = {}
            for job, to, at_s, reason, fields in steps:
                base = current.get(job.id, job)
                self._transition(conn, base, to, at_s, reason, {}, dict(fields))
                current[job.id] = _moved(base, to)

    def _transition(
        self,
        conn: Connection,
        job: JobRow,
        to: State,
        at_s: float,
        reason: str,
        detail: Mapping[str, Any],
        fields: Mapping[str, Any],
    ) -> None:
        check_transition(job.state, to)
        values = {**fields, "state": to.value, "updated_at_s": at_s, "version": _J.c.version + 1}
        done = conn.execute(
            update(_J).where(_J.c.id == job.id, _J.c.state == job.state.value).values(**values)
        )
        if done.rowcount != 1:
            raise StaleJobError(f"job {job.id} is no longer {job.state}; not moved to {to}")
        conn.execute(
            insert(_T),
            {
                "job_id": job.id,
                "from_state": job.state.value,
                "to_state": to.value,
                "at_s": at_s,
                "reason": reason,
                "detail": dumps(dict(detail)),
            },
        )

    def update_job(self, job: JobRow, **fields: Any) -> bool:
        """Set ``fields`` without a state change, only while the job is still in its state."""
        with self.write() as conn:
            done = conn.execute(
                update(_J).where(_J.c.id == job.id, _J.c.state == job.state.value).values(**fields)
            )
        return bool(done.rowcount == 1)

    def request_cancel(self, job_id: int, at_s: float) -> JobRow | None:
        """Mark a job for cancelling (the planning loop does it); None if unknown."""
        with self.write() as conn:
            conn.execute(
                update(_J)
                .where(_J.c.id == job_id, _J.c.cancel_requested_at_s.is_(None))
                .values(cancel_requested_at_s=at_s)
            )
        return self.get_job(job_id)

    # -- plans ----------------------------------------------------------------------------

    def apply_plans(self, writes: Sequence[PlanWrite], at_s: float) -> int:
        """Record plans in one transaction (see :class:`PlanWrite`), in bulk; returns how many.

        Each job is updated only while it is still in the state it was planned in; the plan
        and transition rows are written for those jobs only.
        """
        if not writes:
            return 0
        for w in writes:
            if w.to_state is not None:
                check_transition(w.expect, w.to_state)
        ids = [w.job_id for w in writes]
        applied = 0
        with self.write() as conn:
            states = {
                int(i): str(st)
                for chunk in _chunks(ids, 500)
                for i, st in conn.execute(select(_J.c.id, _J.c.state).where(_J.c.id.in_(chunk)))
            }
            live = [w for w in writes if states.get(w.job_id) == w.expect.value]
            for moving in (False, True):
                group = [w for w in live if (w.to_state is not None) is moving]
                if not group:
                    continue
                values: dict[str, Any] = {
                    "planned_zone": bindparam("p_zone"),
                    "planned_start_s": bindparam("p_start_s"),
                    "planned_end_s": bindparam("p_end_s"),
                    "segments": bindparam("p_segments"),
                    "planned_at_s": at_s,
                    "fallback_level": bindparam("p_fallback_level"),
                    "fallback_reason": bindparam("p_fallback_reason"),
                    "updated_at_s": at_s,
                    "plan_count": _J.c.plan_count + bindparam("p_inc"),
                }
                if moving:
                    values["state"] = bindparam("p_to")
                    values["version"] = _J.c.version + 1
                stmt = (
                    update(_J)
                    .where(_J.c.id == bindparam("p_id"), _J.c.state == bindparam("p_expect"))
                    .values(**values)
                )
                params = [
                    {
                        "p_id": w.job_id,
                        "p_expect": w.expect.value,
                        "p_zone": w.plan["zone"],
                        "p_start_s": w.plan["start_s"],
                        "p_end_s": w.plan["end_s"],
                        "p_segments": w.plan["segments"],
                        "p_fallback_level": w.plan["fallback_level"],
                        "p_fallback_reason": w.plan["fallback_reason"],
                        "p_inc": 1 if w.changed else 0,
                        **({"p_to": w.to_state.value} if w.to_state is not None else {}),
                    }
                    for w in group
                ]
                conn.execute(stmt, params)
                applied += len(group)
            plan_rows = [{"job_id": w.job_id, **w.plan} for w in live if w.changed]
            if plan_rows:
                conn.execute(insert(_P), plan_rows)
            moves = [
                {
                    "job_id": w.job_id,
                    "from_state": w.expect.value,
                    "to_state": w.to_state.value,
                    "at_s": at_s,
                    "reason": w.reason,
                    "detail": "{}",
                }
                for w in live
                if w.to_state is not None
            ]
            if moves:
                conn.execute(insert(_T), moves)
        return applied

    def jobs_by_ids(self, ids: Sequence[int]) -> dict[int, JobRow]:
        out: dict[int, JobRow] = {}
        with self.read() as conn:
            for chunk in _chunks(list(ids), 500):
                for m in conn.execute(select(_J).where(_J.c.id.in_(chunk))).mappings():
                    out[int(m["id"])] = JobRow.from_mapping(m)
        return out

    def plans(self, job_id: int) -> list[PlanRow]:
        with self.read() as conn:
            rows = conn.execute(select(_P).where(_P.c.job_id == job_id).order_by(_P.c.id))
            return [PlanRow.from_mapping(m) for m in rows.mappings()]

    def transitions(self, job_id: int) -> list[TransitionRow]:
        with self.read() as conn:
            rows = conn.execute(select(_T).where(_T.c.job_id == job_id).order_by(_T.c.id))
            return [TransitionRow.from_mapping(m) for m in rows.mappings()]

    def all_transitions(self) -> list[TransitionRow]:
        with self.read() as conn:
            rows = conn.execute(select(_T).order_by(_T.c.id))
            return [TransitionRow.from_mapping(m) for m in rows.mappings()]

    # -- forecasts ------------------------------------------------------------------------

    def save_forecast(
        self, zone: str, series: IntensitySeries, *, source: str, fetched_at_s: float
    ) -> int:
        """Store a forecast; one equal in values to the zone's latest is not stored again, only
        its fetch and issue times are brought up to date. Returns the stored id."""
        values = [None if np.isnan(v) else float(v) for v in series.values]
        labels = series.labels.to_dict()
        same = {k: v for k, v in labels.items() if k != "issued_at"}
        payload = dumps([series.start_s, series.resolution_s, values, same, source])
        digest = hashlib.sha256(payload.encode()).hexdigest()
        issued = series.labels.issued_at
        stamps = {
            "fetched_at_s": fetched_at_s,
            "issued_at_s": None if issued is None else issued.timestamp(),
            "labels": dumps(labels),
        }
        with self.write() as conn:
            latest = conn.execute(
                select(_F.c.id, _F.c.digest).where(_F.c.zone == zone).order_by(_F.c.id.desc())
            ).first()
            if latest is not None and latest.digest == digest:
                conn.execute(update(_F).where(_F.c.id == latest.id).values(**stamps))
                return int(latest.id)
            result = conn.execute(
                insert(_F).values(
                    zone=zone,
                    source=source,
                    start_s=series.start_s,
                    resolution_s=series.resolution_s,
                    values=dumps(values),
                    digest=digest,
                    **stamps,
                )
            )
            return _new_id(result)

    def latest_forecast(self, zone: str) -> StoredForecast | None:
        with self.read() as conn:
            m = (
                conn.execute(select(_F).where(_F.c.zone == zone).order_by(_F.c.id.desc()))
                .mappings()
                .first()
            )
        return None if m is None else _stored_forecast(m)

    def forecast(self, forecast_id: int) -> StoredForecast | None:
        """A stored forecast by id."""
        with self.read() as conn:
            m = conn.execute(select(_F).where(_F.c.id == forecast_id)).mappings().first()
        return None if m is None else _stored_forecast(m)

    # -- accounts -------------------------------------------------------------------------

    def unaccounted(self, states: Sequence[State], limit: int = 50) -> list[JobRow]:
        """Jobs in ``states`` that started and have no account yet, oldest end first."""
        known = select(_A.c.job_id)
        query = (
            select(_J)
            .where(_J.c.state.in_([s.value for s in states]))
            .where(_J.c.started_at_s.is_not(None))
            .where(_J.c.id.not_in(known))
            .order_by(_J.c.ended_at_s, _J.c.id)
            .limit(limit)
        )
        with self.read() as conn:
            return [JobRow.from_mapping(m) for m in conn.execute(query).mappings()]

    def save_account(
        self, job_id: int, status: str, summary: Mapping[str, Any], at_s: float
    ) -> None:
        """Insert or replace a job's account summary."""
        values = {"status": status, "accounted_at_s": at_s, "summary": dumps(dict(summary))}
        with self.write() as conn:
            done = conn.execute(update(_A).where(_A.c.job_id == job_id).values(**values))
            if done.rowcount == 0:
                conn.execute(insert(_A).values(job_id=job_id, **values))

    def account(self, job_id: int) -> tuple[str, dict[str, Any]] | None:
        """(status, summary) of a job's account, or None before it is accounted."""
        return self.accounts_for([job_id]).get(job_id)

    def accounts_for(self, job_ids: Sequence[int]) -> dict[int, tuple[str, dict[str, Any]]]:
        """(status, summary) of each of ``job_ids`` that has been accounted."""
        if not job_ids:
            return {}
        with self.read() as conn:
            rows = conn.execute(select(_A).where(_A.c.job_id.in_(list(job_ids)))).mappings()
            return {
                int(m["job_id"]): (str(m["status"]), dict(loads(m["summary"], {}))) for m in rows
            }

    def accounts_in_status(self, status: str, limit: int = 200) -> list[int]:
        with self.read() as conn:
            rows = conn.execute(
                select(_A.c.job_id).where(_A.c.status == status).order_by(_A.c.job_id).limit(limit)
            )
            return [int(r[0]) for r in rows]


def _stored_forecast(m: Mapping[Any, Any]) -> StoredForecast:
    values = np.array([np.nan if v is None else v for v in loads(m["values"], [])], dtype=float)
    labels = SignalLabels.from_dict(loads(m["labels"], {}))
    series = IntensitySeries(int(m["start_s"]), int(m["resolution_s"]), values, labels)
    return StoredForecast(int(m["id"]), series, str(m["source"]), float(m["fetched_at_s"]))


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _moved(job: JobRow, to: State) -> JobRow:
    from dataclasses import replace

    return replace(job, state=to)
