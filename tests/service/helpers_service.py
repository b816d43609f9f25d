"""Helpers for the service tests: forecast files, services on a manual clock, real HTTP
servers (in a thread, or ``carbonshift serve`` as a subprocess that can be killed with -9)."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from carbonshift.service.clock import ManualClock
from carbonshift.service.config import ExecutorConfig, ServiceConfig, ZoneConfig
from carbonshift.service.daemon import Service
from carbonshift.service.lifecycle import ALLOWED, State
from carbonshift.service.records import NewJob, TransitionRow

T0 = datetime(2026, 3, 2, tzinfo=UTC)
"""A Monday, midnight UTC: the start of every manual-clock test."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_forecast(
    path: Path, start: datetime, values: Sequence[float], resolution_s: int = 3600
) -> Path:
    """A trace file ``<zone>.csv``: ``values`` every ``resolution_s`` from ``start``."""
    rows = ["timestamp,carbon_intensity"]
    for i, v in enumerate(values):
        stamp = (start + timedelta(seconds=i * resolution_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{stamp},{v}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(rows) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def dip(n: int, at: int, low: float = 50.0, high: float = 400.0, width: int = 1) -> list[float]:
    """``n`` values at ``high`` with ``width`` values at ``low`` from index ``at``."""
    return [low if at <= i < at + width else high for i in range(n)]


def manual_service(
    tmp_path: Path,
    zones: Sequence[ZoneConfig],
    *,
    clock: ManualClock | None = None,
    db_url: str | None = None,
    **settings: Any,
) -> tuple[Service, ManualClock]:
    """A service on a manual clock at :data:`T0` (the loop is driven with ``tick()``)."""
    clock = clock or ManualClock(T0)
    defaults: dict[str, Any] = {
        "safety_margin_s": 60,
        "replan_every_s": 900.0,
        "dispatch_ahead_s": 3600.0,
        "executors": (ExecutorConfig("local", launch_timeout_s=10.0, kill_grace_s=2.0),),
    }
    config = ServiceConfig(
        data_dir=tmp_path / "data", db_url=db_url, zones=tuple(zones), **{**defaults, **settings}
    )
    return Service(config, clock=clock), clock


def add_job(
    service: Service, *, deadline_in_s: float, duration_s: int = 3600, **fields: Any
) -> int:
    """Store a new job submitted now (the service clock) that must end ``deadline_in_s``
    from now; ``fields`` are further :class:`NewJob` fields (name, power_w, ...)."""
    now = service.clock.now().timestamp()
    new = NewJob(
        command=fields.pop("command", ("true",)),
        duration_s=duration_s,
        deadline_s=now + deadline_in_s,
        safety_margin_s=fields.pop("safety_margin_s", 60),
        submitted_at_s=now,
        **fields,
    )
    row, _ = service.store.create_job(new)
    return row.id


def settle(
    service: Service, until: set[str], job_ids: Sequence[int], timeout_s: float = 20.0
) -> None:
    """Tick (without moving the clock) until every job is in ``until``."""
    end = time.monotonic() + timeout_s
    while True:
        service.loop.tick(replan=False)
        rows = [service.store.get_job(j) for j in job_ids]
        if all(r is not None and r.state.value in until for r in rows):
            return
        if time.monotonic() > end:
            raise AssertionError(
                f"jobs not {until} in time: {[(r.id, r.state) for r in rows if r]}"
            )
        time.sleep(0.05)


def check_transitions(rows: Sequence[TransitionRow]) -> None:
    """Every job's transitions chain from ``submitted``, each one allowed, times in order."""
    by_job: dict[int, list[TransitionRow]] = {}
    for r in rows:
        by_job.setdefault(r.job_id, []).append(r)
    for job_id, steps in by_job.items():
        assert steps[0].from_state is None and steps[0].to_state == "submitted", job_id
        for a, b in itertools.pairwise(steps):
            assert b.from_state == a.to_state, (job_id, a, b)
            assert State(b.to_state) in ALLOWED[State(a.to_state)], (job_id, a, b)
            assert b.at_s >= a.at_s - 1.0, (job_id, a, b)


class ThreadServer:
    """A FastAPI app behind a real uvicorn server on 127.0.0.1, in a thread."""

    def __init__(self, app: FastAPI) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        end = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > end:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextlib.contextmanager
def http_server(app: FastAPI) -> Iterator[ThreadServer]:
    srv = ThreadServer(app)
    try:
        yield srv
    finally:
        srv.close()


class ServerProcess:
    """``carbonshift serve`` as a child process: start, wait until healthy, kill -9, restart."""

    def __init__(self, args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.args = [*args, "--port", str(self.port)]
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.starts = 0
        self.self_kills = 0

    def start(self, timeout_s: float = 30.0) -> None:
        """Start and wait until healthy; a start killed by SIGKILL (a crash point) is retried."""
        end = time.monotonic() + timeout_s
        while True:
            with open(self.log, "ab") as out:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "carbonshift", "serve", *self.args],
                    stdout=out,
                    stderr=out,
                    env=self.env,
                    start_new_session=True,
                )
            self.starts += 1
            while time.monotonic() < end:
                code = self.proc.poll()
                if code == -signal.SIGKILL:
                    self.self_kills += 1
                    break
                if code is not None:
                    raise RuntimeError(f"serve exited {code}: {self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                        return
                time.sleep(0.05)
            if time.monotonic() >= end:
                raise RuntimeError(f"serve not healthy after {timeout_s} s: {self.tail()}")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
