"""The job store's tables (SQLAlchemy Core, the same on SQLite and PostgreSQL) and migrations.

Times are seconds since the Unix epoch (UTC) in double-precision columns named ``*_s``;
lists and maps are JSON text. Tables carry a ``cs_`` prefix so that the store can share a
PostgreSQL database with other applications.

Migrations are numbered; ``cs_schema_migrations`` records the ones applied. :func:`migrate`
applies the missing ones in order in one transaction (on PostgreSQL under an advisory lock, so
two servers starting together do not race; a failed migration leaves the schema as it was).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Double,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
)

__all__ = [
    "MIGRATIONS",
    "accounts",
    "forecasts",
    "jobs",
    "metadata",
    "migrate",
    "migrations",
    "plans",
    "schema_version",
    "transitions",
]

metadata = MetaData()

_Id = BigInteger().with_variant(Integer(), "sqlite")

migrations = Table(
    "cs_schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at_s", Double, nullable=False),
)

jobs = Table(
    "cs_jobs",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("client_key", String(200), unique=True, nullable=True),
    Column("name", String(64), nullable=False, default=""),
    Column("state", String(16), nullable=False),
    Column("version", Integer, nullable=False, default=0),
    Column("submitted_at_s", Double, nullable=False),
    Column("updated_at_s", Double, nullable=False),
    # what to run and its constraints
    Column("command", Text, nullable=False),
    Column("shell", Boolean, nullable=False, default=False),
    Column("env", Text, nullable=False, default="{}"),
    Column("cwd", Text, nullable=True),
    Column("duration_s", Integer, nullable=False),
    Column("max_runtime_s", Double, nullable=True),
    Column("deadline_s", Double, nullable=False),
    Column("safety_margin_s", Integer, nullable=False),
    Column("gpus", Integer, nullable=False, default=0),
    Column("cpus", Integer, nullable=True),
    Column("power_w", Double, nullable=True),
    Column("zones", Text, nullable=False, default="[]"),
    Column("executor_kind", String(16), nullable=True),
    Column("interruptible", Boolean, nullable=False, default=False),
    Column("min_chunk_s", Integer, nullable=True),
    Column("urgent", Boolean, nullable=False, default=False),
    # the current plan (its history is in cs_plans)
    Column("planned_zone", String(64), nullable=True),
    Column("planned_start_s", Double, nullable=True),
    Column("planned_end_s", Double, nullable=True),
    Column("segments", Text, nullable=True),
    Column("planned_at_s", Double, nullable=True),
    Column("plan_count", Integer, nullable=False, default=0),
    Column("fallback_level", String(32), nullable=True),
    Column("fallback_reason", Text, nullable=True),
    # the executor's side
    Column("executor", String(64), nullable=True),
    Column("handle", String(200), nullable=True),
    Column("dispatch_token", String(64), nullable=True),
    Column("dispatch_attempt", Integer, nullable=False, default=0),
    Column("retired_executor", String(64), nullable=True),
    Column("retired_handle", String(200), nullable=True),
    Column("segment_index", Integer, nullable=False, default=0),
    # outcome
    Column("started_at_s", Double, nullable=True),
    Column("ended_at_s", Double, nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("reason", Text, nullable=True),
    Column("cancel_requested_at_s", Double, nullable=True),
    Index("ix_cs_jobs_state_start", "state", "planned_start_s"),
)

transitions = Table(
    "cs_transitions",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("job_id", _Id, ForeignKey("cs_jobs.id"), nullable=False, index=True),
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=False),
    Column("at_s", Double, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default="{}"),
)

forecasts = Table(
    "cs_forecasts",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("zone", String(64), nullable=False),
    Column("fetched_at_s", Double, nullable=False),
    Column("issued_at_s", Double, nullable=True),
    Column("source", Text, nullable=False),
    Column("start_s", BigInteger, nullable=False),
    Column("resolution_s", Integer, nullable=False),
    Column("values", Text, nullable=False),
    Column("labels", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Index("ix_cs_forecasts_zone_id", "zone", "id"),
)

plans = Table(
    "cs_plans",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("job_id", _Id, ForeignKey("cs_jobs.id"), nullable=False, index=True),
    Column("decided_at_s", Double, nullable=False),
    Column("zone", String(64), nullable=False),
    Column("start_s", Double, nullable=False),
    Column("end_s", Double, nullable=False),
    Column("segments", Text, nullable=False),
    Column("mean_intensity_g_per_kwh", Double, nullable=True),
    Column("immediate_mean_intensity_g_per_kwh", Double, nullable=True),
    Column("emissions_g", Double, nullable=True),
    Column("policy", String(32), nullable=False),
    Column("solver", String(32), nullable=False),
    Column("forecast_id", _Id, ForeignKey("cs_forecasts.id"), nullable=True),
    Column("forecast_issued_at_s", Double, nullable=True),
    Column("forecast_source", Text, nullable=True),
    Column("fallback_level", String(32), nullable=True),
    Column("fallback_reason", Text, nullable=True),
    Column("note", Text, nullable=False, default=""),
)


accounts = Table(
    "cs_accounts",
    metadata,
    Column("job_id", _Id, ForeignKey("cs_jobs.id"), primary_key=True, autoincrement=False),
    # provisional (on a forecast), final (on actuals), unmeasured (no energy known)
    Column("status", String(16), nullable=False),
    Column("accounted_at_s", Double, nullable=False),
    Column("summary", Text, nullable=False),
)
"""Where each finished job's accounting stands; the figures themselves are in the ledger
(``ledger_records``, append-only), the summary here is what was derived from it last."""


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[jobs, transitions, forecasts, plans])


def _v2(conn: Connection) -> None:
    metadata.create_all(conn, tables=[accounts])


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "jobs, transitions, forecasts and plans", _v1),
    (2, "accounts: the accounting state of finished jobs", _v2),
]
"""(version, description, apply) in order; append new ones, never edit old ones."""

_PG_LOCK_KEY = 0x63617262  # "carb"


def schema_version(conn: Connection) -> int:
    if not inspect(conn).has_table(migrations.name):
        return 0
    found = conn.execute(select(migrations.c.version).order_by(migrations.c.version.desc()))
    row = found.first()
    return 0 if row is None else int(row[0])


def migrate(engine: Engine) -> int:
    """Apply every missing migration; return the schema version reached."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        migrations.create(conn, checkfirst=True)
        current = schema_version(conn)
        for version, description, apply in MIGRATIONS:
            if version <= current:
                continue
            apply(conn)
            conn.execute(
                migrations.insert().values(
                    version=version, description=description, applied_at_s=time.time()
                )
            )
            current = version
    return current
