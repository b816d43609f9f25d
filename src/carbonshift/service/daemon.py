"""``Service``: the one process of ``carbonshift serve`` (API, planning loop, executors).

:class:`Service` wires the parts together from a :class:`ServiceConfig`; tests build one with
a :class:`~carbonshift.service.clock.ManualClock` and drive :meth:`PlanningLoop.tick` and the
API (``Service.app()``) directly. :func:`serve` runs it for real: uvicorn in the main thread,
the planning loop in a second one.

Only one planning loop may drive a job store: the loop holds a lock on the data directory (an
``flock``, released by the kernel even after ``kill -9``) and, on PostgreSQL, a session
advisory lock, so a second server on the same database serves the API and stands by.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import IO, Any

from fastapi import FastAPI
from sqlalchemy import Connection, text

from carbonshift.accounting.ledger import Ledger
from carbonshift.errors import UsageError
from carbonshift.executors import Dispatcher
from carbonshift.service.accountant import Accountant, energy_dir
from carbonshift.service.api import create_app
from carbonshift.service.auth import check_bind
from carbonshift.service.clock import Clock, make_clock
from carbonshift.service.config import ServiceConfig
from carbonshift.service.dispatch import ExecutorPool
from carbonshift.service.forecasts import ForecastBook, ForecastSource
from carbonshift.service.loop import PlanningLoop
from carbonshift.service.metrics import ServiceMetrics
from carbonshift.service.store import JobStore

__all__ = ["Service", "serve"]

log = logging.getLogger("carbonshift.service")

_PG_LEADER_KEY = 0x63736C70  # "cslp"


class Service:
    """Every part of the service for one configuration."""

    def __init__(
        self,
        config: ServiceConfig,
        *,
        clock: Clock | None = None,
        sources: Mapping[str, ForecastSource | None] | None = None,
    ) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.clock = clock or make_clock(
            config.clock_speed, config.clock_origin, config.clock_anchor
        )
        self.token = config.token
        self.store = JobStore(config.database_url)
        self.metrics = ServiceMetrics(self.store.count_by_state)
        self.pool = ExecutorPool(config, self.clock)
        self.book = ForecastBook(
            config.zones,
            self.store,
            self.clock,
            max_age_s=config.max_forecast_age_s,
            horizon_s=config.forecast_horizon_s,
            sources=sources,
        )
        self.loop = PlanningLoop(config, self.store, self.book, self.pool, self.clock, self.metrics)
        self.ledger: Ledger | None = None
        if config.measure:
            self.ledger = Ledger(config.database_url)
            self.loop.accountant = Accountant(
                self.store,
                self.ledger,
                self.clock,
                energy_dir(config),
                sources=self.book.sources,
                statics=self.book.statics,
                metrics=self.metrics,
            )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file: IO[str] | None = None
        self._pg_lock: Connection | None = None
        self._app: FastAPI | None = None
        self._dispatchers: list[Dispatcher] = []
        self._accounting: threading.Thread | None = None

    def app(self) -> FastAPI:
        if self._app is None:
            self._app = create_app(self)
        return self._app

    @property
    def loop_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- leadership -----------------------------------------------------------------------

    def lock_data_dir(self) -> None:
        """Take the data directory; refuse if another server holds it."""
        path = self.config.data_dir / "serve.lock"
        fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            fh.close()
            raise UsageError(
                f"another carbonshift serve (pid {holder}) uses {self.config.data_dir}",
                hint="stop it, or give this one its own --data-dir",
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._lock_file = fh

    def _lead_database(self) -> bool:
        if self.store.dialect != "postgresql":
            return True
        if self._pg_lock is None:
            self._pg_lock = self.store.connect()
        got = self._pg_lock.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_LEADER_KEY})
        self._pg_lock.commit()
        return bool(got.scalar())

    # -- the loop thread ------------------------------------------------------------------

    def start_loop(self) -> None:
        """Run the planning loop in a thread (once this server leads the store)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run_loop, name="carbonshift-loop", daemon=True)
        self._thread.start()

    def _run_loop(self) -> None:
        said = False
        while not self._stop.is_set():
            if self._lead_database():
                poll_s = min(0.1, self.config.poll_every_s)
                self._dispatchers = self.pool.start_dispatchers(poll_s)
                self.loop.dispatch_inline = False
                if self.loop.accountant is not None:
                    # accounting (probe files, ledger writes) stays off the planning path
                    self.loop.account_inline = False
                    self._accounting = threading.Thread(
                        target=self._run_accounting, name="carbonshift-accounting", daemon=True
                    )
                    self._accounting.start()
                self.loop.run(self._stop)
                return
            if not said:  # e.g. the previous instance's session has not been cleaned up yet
                log.warning("another server runs the planning loop on this database; standing by")
                said = True
            self._stop.wait(0.25)

    def _run_accounting(self) -> None:
        every_s = max(1.0, self.config.poll_every_s)
        last_finalize = -math.inf
        while not self._stop.wait(every_s):
            due = time.monotonic() - last_finalize >= self.clock.wall_seconds(
                self.config.replan_every_s
            )
            self.loop.account(finalize=due)
            if due:
                last_finalize = time.monotonic()

    def stop_loop(self) -> None:
        self._stop.set()
        self.loop.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._accounting is not None:
            self._accounting.join(timeout=30)
            self._accounting = None
        for dispatcher in self._dispatchers:
            dispatcher.stop()
        self._dispatchers = []

    def close(self) -> None:
        self.stop_loop()
        if self._pg_lock is not None:
            with contextlib.suppress(Exception):
                self._pg_lock.close()
        self.store.close()
        if self._lock_file is not None:
            self._lock_file.close()


def serve(config: ServiceConfig, *, log_level: str = "warning") -> None:
    """Run the service until SIGINT/SIGTERM (see the module docstring)."""
    import uvicorn

    check_bind(config.host, config.token)
    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    service = Service(config)
    try:
        service.lock_data_dir()
        service.start_loop()
        where = f"http://{config.host}:{config.port}"
        print(
            f"carbonshift serve: {where} (dashboard {where}/dashboard, docs {where}/docs); "
            f"store {service.store.dialect}; "
            f"data {config.data_dir}; {service.clock.describe()}",
            file=sys.stderr,
            flush=True,
        )
        server_config: Any = uvicorn.Config(
            service.app(),
            host=config.host,
            port=config.port,
            log_level=log_level,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        uvicorn.Server(server_config).run()
    finally:
        service.close()
