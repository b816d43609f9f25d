"""The job store's database: SQLite (embedded) or PostgreSQL (teams), one schema, migrated.

SQLite runs in WAL mode with ``synchronous=NORMAL`` (committed transactions survive a killed
process) and a busy timeout. Write transactions start with ``BEGIN IMMEDIATE`` so that
concurrent writers queue instead of failing with "database is locked" on lock upgrade, and the
writers of this process queue on a lock first (SQLite's busy handler retries with growing
sleeps, which under many concurrent writers turns into long tail latencies). Reads use their
own connections and never block writers. PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import OperationalError

from carbonshift.errors import StoreError, UsageError
from carbonshift.service import schema

__all__ = ["Database", "normalise_url"]


def normalise_url(url: str) -> str:
    """``postgresql://`` → ``postgresql+psycopg://`` (psycopg 3); others unchanged."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("sqlite:", "postgresql+")):
        return url
    raise UsageError(
        f"--db: cannot use {url!r}",
        hint="give sqlite:///PATH or postgresql://USER@HOST:PORT/DB",
    )


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, pool_size=8, max_overflow=56, pool_timeout=60)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """Engines, transactions and the schema version of one job store."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        self._write_lock: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if self.dialect == "sqlite":
            self._write_lock = threading.Lock()
            self._writer = _sqlite_engine(self.url, immediate=True)
            self._reader = _sqlite_engine(self.url, immediate=False)
        else:
            try:
                self._writer = create_engine(
                    self.url, pool_size=10, max_overflow=50, pool_timeout=60
                )
            except ImportError as exc:
                raise UsageError(
                    f"--db: the PostgreSQL driver is missing ({exc.name})",
                    hint="pip install 'carbonshift[postgres]'",
                ) from None
            self._reader = self._writer
        try:
            self.schema_version = schema.migrate(self._writer)
        except OperationalError as exc:
            where = self._writer.url.render_as_string(hide_password=True)
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreError(
                f"cannot open the job store {where}: {reason}",
                hint="check --db / --data-dir, and that the database server is up",
            ) from None

    def close(self) -> None:
        self._writer.dispose()
        if self._reader is not self._writer:
            self._reader.dispose()

    def connect(self) -> Connection:
        """A connection of its own (e.g. to hold a session lock); the caller closes it."""
        return self._writer.connect()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction. On SQLite, writers of this process queue on a lock first:
        SQLite's own busy handler retries with growing sleeps, which under many concurrent
        writers turns into long tail latencies."""
        with self._write_lock, self._writer.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self._reader.begin() as conn:
            yield conn
