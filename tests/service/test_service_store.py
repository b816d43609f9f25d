"""The lifecycle and the job store: legal transitions only, each one recorded, on SQLite and
PostgreSQL, with migrations and idempotent submissions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from service.pg_cluster import PgCluster
from sqlalchemy import text

from carbonshift.service.lifecycle import (
    ALLOWED,
    TERMINAL,
    IllegalTransitionError,
    State,
    check_transition,
)
from carbonshift.service.records import NewJob
from carbonshift.service.schema import MIGRATIONS
from carbonshift.service.store import JobStore, StaleJobError, normalise_url


def _new(key: str | None = None) -> NewJob:
    return NewJob(
        command=("echo", "hi"),
        duration_s=3600,
        deadline_s=1_000_000.0,
        safety_margin_s=60,
        submitted_at_s=100.0,
        client_key=key,
        zones=("DE",),
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
    else:
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        url = cluster.create_database(f"store_{tmp_path.name.lower()}")
    s = JobStore(url)
    yield s
    s.close()


def test_lifecycle_table_is_closed_and_final_states_are_final() -> None:
    for state in State:
        assert state in ALLOWED
        for target in ALLOWED[state]:
            check_transition(state, target)
    for final in TERMINAL:
        assert not ALLOWED[final]
        with pytest.raises(IllegalTransitionError, match="cannot become"):
            check_transition(final, State.RUNNING)
    with pytest.raises(IllegalTransitionError):
        check_transition(State.SUBMITTED, State.RUNNING)


def test_store_records_every_transition_and_refuses_illegal_ones(store: JobStore) -> None:
    job, created = store.create_job(_new())
    assert created and job.state is State.SUBMITTED
    job = store.transition(job, State.PLANNED, at_s=200.0, reason="planned", planned_zone="DE")
    with pytest.raises(IllegalTransitionError):
        store.transition(job, State.SUCCEEDED, at_s=210.0, reason="no")
    stale = job
    job = store.transition(job, State.CANCELLED, at_s=300.0, reason="cancelled on request")
    with pytest.raises(StaleJobError):
        store.transition(stale, State.DISPATCHING, at_s=301.0, reason="too late")
    steps = [(t.from_state, t.to_state, t.at_s) for t in store.transitions(job.id)]
    assert steps == [
        (None, "submitted", 100.0),
        ("submitted", "planned", 200.0),
        ("planned", "cancelled", 300.0),
    ]
    assert job.version == 2 and job.planned_zone == "DE"
    assert store.count_by_state() == {"cancelled": 1}


def test_client_key_makes_submission_idempotent(store: JobStore) -> None:
    first, created = store.create_job(_new("k-1"))
    again, created_again = store.create_job(_new("k-1"))
    assert created and not created_again and again.id == first.id
    assert len(store.list_jobs()) == 1


def test_migrations_are_recorded_once(store: JobStore) -> None:
    again = JobStore(store.url)
    try:
        assert again.schema_version == store.schema_version == MIGRATIONS[-1][0]
        with again.read() as conn:
            count = conn.execute(text("SELECT count(*) FROM cs_schema_migrations")).scalar()
        assert count == len(MIGRATIONS)
    finally:
        again.close()


def test_database_urls() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    with pytest.raises(ValueError, match="--db"):
        normalise_url("mysql://x")
