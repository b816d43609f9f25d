"""Service benchmarks (printed; not a timed test).

1. ``POST /v1/jobs`` against a real ``carbonshift serve`` (a child process on 127.0.0.1):
   submissions per second and p50/p99 latency with 20 concurrent clients, on SQLite (the
   embedded default) and on PostgreSQL 15 (a throwaway cluster, as in the tests).
2. One planning-loop pass over 10,000 jobs on a manual clock: the first pass (10,000 new jobs
   planned together under two zones' GPU capacity) and a re-planning pass after the forecast
   changed (10,000 planned jobs re-planned, the changed plans recorded).

Run: ``.venv/bin/python benchmarks/bench_service.py [--quick] [--no-postgres]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from service.helpers_service import (
    T0,
    ServerProcess,
    dip,
    manual_service,
    write_forecast,
)
from service.pg_cluster import PgCluster

from carbonshift.service.config import ZoneConfig
from carbonshift.service.records import NewJob


def bench_submit(label: str, extra_args: list[str], *, jobs: int, clients: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        write_forecast(root / "XX.csv", hour - timedelta(hours=1), dip(30, 8, low=90.0))
        (root / "service.toml").write_text('[zones.XX]\nforecast_file = "XX.csv"\n')
        server = ServerProcess(
            ["--config", str(root / "service.toml"), "--data-dir", str(root / "data"), *extra_args],
            root / "serve.log",
        )
        server.start()
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def client(n: int) -> None:
            with httpx.Client(base_url=server.url, timeout=60.0) as c:
                for i in range(jobs // clients):
                    body = {
                        "command": ["echo", str(i)],
                        "duration": "1h",
                        "deadline": "10h",
                        "client_key": f"{n}-{i}",
                    }
                    t0 = time.perf_counter()
                    r = c.post("/v1/jobs", json=body)
                    dt = time.perf_counter() - t0
                    with lock:
                        latencies.append(dt)
                        if r.status_code != 201:
                            errors.append(r.text)

        try:
            t0 = time.perf_counter()
            threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t0
        finally:
            server.stop()
        lat = np.array(latencies) * 1000
        print(
            f"POST /v1/jobs, {label:<10}: {len(lat)} jobs, {clients} clients: "
            f"{len(lat) / elapsed:7.0f} submissions/s, p50 {np.percentile(lat, 50):6.1f} ms, "
            f"p99 {np.percentile(lat, 99):6.1f} ms, errors {len(errors)}"
        )


def bench_loop(n_jobs: int, db_url: str | None, label: str) -> None:
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = 300 + 150 * np.sin(np.arange(72) * 2 * np.pi / 24)
        zones = [
            ZoneConfig(
                name,
                forecast_file=write_forecast(root / f"{name}.csv", T0, list(base + shift)),
                capacity_gpus=1000,
            )
            for name, shift in (("DE", 0.0), ("FR", -40.0))
        ]
        # jobs are planned, never handed to the executor: the pass is measured without launches
        service, clock = manual_service(root, zones, db_url=db_url, dispatch_ahead_s=-1e9)
        now = T0.timestamp()
        t0 = time.perf_counter()
        for i in range(n_jobs):
            duration_h = int(rng.integers(1, 5))
            service.store.create_job(
                NewJob(
                    command=("true",),
                    duration_s=duration_h * 3600,
                    deadline_s=now + (duration_h + int(rng.integers(6, 30))) * 3600,
                    safety_margin_s=300,
                    submitted_at_s=now,
                    gpus=int(rng.integers(0, 3)),
                    client_key=f"b{i}",
                )
            )
        stored = time.perf_counter() - t0
        clock.advance(timedelta(minutes=1))
        first = service.loop.tick(replan=True)
        for zone, shift in (("DE", 60.0), ("FR", -80.0)):
            write_forecast(root / f"{zone}.csv", T0, list(base[::-1] + shift))
        clock.advance(timedelta(minutes=15))
        again = service.loop.tick(replan=True)
        counts = service.store.count_by_state()
        service.close()
    print(
        f"planning pass, {label:<10}: {n_jobs} jobs stored in {stored:.1f} s; first pass "
        f"(plan {first.planned} new jobs under capacity) {first.duration_s:.2f} s; re-plan pass "
        f"({again.planned} jobs, {again.changed} plans changed) {again.duration_s:.2f} s; "
        f"states {counts}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer jobs")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    jobs = 1000 if args.quick else 4000
    loop_jobs = 2000 if args.quick else 10_000
    cluster = None if args.no_postgres else PgCluster.start()
    try:
        bench_submit("sqlite", [], jobs=jobs, clients=20)
        if cluster is not None:
            bench_submit(
                "postgresql",
                ["--db", cluster.create_database("bench_submit")],
                jobs=jobs,
                clients=20,
            )
        bench_loop(loop_jobs, None, "sqlite")
        if cluster is not None:
            bench_loop(loop_jobs, cluster.create_database("bench_loop"), "postgresql")
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
