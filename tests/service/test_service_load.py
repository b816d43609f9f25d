"""Load: 50 concurrent clients submit 5,000 jobs through the HTTP API of a real server on
SQLite. Every request succeeds, every job is stored once, and the planning loop keeps up."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from service.helpers_service import ServerProcess, dip, write_forecast

CLIENTS = 50
PER_CLIENT = 100


@pytest.mark.slow
def test_fifty_clients_submit_five_thousand_jobs(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    # cleanest at +7 h: every job is planned there, none is due during the test
    write_forecast(tmp_path / "XX.csv", now - timedelta(hours=1), dip(30, 8, low=90.0))
    config = tmp_path / "service.toml"
    config.write_text('[zones.XX]\nforecast_file = "XX.csv"\n', encoding="utf-8")
    server = ServerProcess(
        ["--config", str(config), "--data-dir", str(tmp_path / "data"), "--replan-every", "5s"],
        tmp_path / "serve.log",
    )
    server.start()
    errors: list[str] = []
    ids: dict[str, int] = {}
    lock = threading.Lock()
    latencies: list[float] = []

    def client(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60.0) as c:
            for i in range(PER_CLIENT):
                key = f"load-{n}-{i}"
                body = {
                    "command": ["echo", key],
                    "duration": "1h",
                    "deadline": "10h",
                    "client_key": key,
                }
                t0 = time.perf_counter()
                try:
                    r = c.post("/v1/jobs", json=body)
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(f"{key}: {exc!r}")
                    continue
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    if r.status_code != 201:
                        errors.append(f"{key}: HTTP {r.status_code} {r.text[:200]}")
                    else:
                        ids[key] = int(r.json()["id"])

    try:
        t0 = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        assert not errors, errors[:5]
        total = CLIENTS * PER_CLIENT
        assert len(ids) == total and len(set(ids.values())) == total
        with httpx.Client(base_url=server.url, timeout=60.0) as c:
            jobs: list[dict[str, object]] = []
            after: int | None = None
            while True:
                params: dict[str, int] = {"limit": 2000}
                if after is not None:
                    params["after"] = after
                page = c.get("/v1/jobs", params=params).json()
                jobs += page["jobs"]
                after = page["next_after"]
                if after is None:
                    break
            assert sorted(int(j["id"]) for j in jobs) == sorted(ids.values())  # type: ignore[call-overload]
            end = time.monotonic() + 60
            while True:
                counts = c.get("/v1/jobs", params={"state": "submitted", "limit": 1}).json()
                if not counts["jobs"]:
                    break
                assert time.monotonic() < end, "the planning loop fell behind"
                time.sleep(0.5)
            planned = c.get("/v1/jobs", params={"state": "planned", "limit": 10000}).json()["jobs"]
            assert len(planned) == total
            metrics = c.get("/metrics").text
            assert f'carbonshift_jobs{{state="planned"}} {float(total)}' in metrics
        latencies.sort()
        print(
            f"\n{total} jobs from {CLIENTS} clients in {elapsed:.1f} s: {total / elapsed:.0f}/s, "
            f"p50 {1000 * latencies[len(latencies) // 2]:.0f} ms, "
            f"p99 {1000 * latencies[int(len(latencies) * 0.99)]:.0f} ms"
        )
    finally:
        server.stop()
