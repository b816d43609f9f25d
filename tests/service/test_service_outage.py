"""Provider outage: the provider (a local HTTP server speaking Electricity Maps' API) fails with
500s, timeouts and refused connections; jobs still run before their deadlines, and every
fallback (last good forecast, static slot, latest safe start) is recorded and shown by the API."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from service.helpers_service import T0, free_port, http_server, manual_service, settle

from carbonshift.service.clock import ManualClock
from carbonshift.service.config import ZoneConfig
from carbonshift.timeutil import format_time, from_epoch_s, parse_time, to_epoch_s

H = 3600


class FlakyProvider:
    """Answers ``/v3/carbon-intensity/forecast`` as told: ok, 500 or too slowly."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.mode = "ok"
        self.requests = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.requests += 1
                if provider.mode == "slow":
                    time.sleep(1.5)
                if provider.mode == "500":
                    body, status = b'{"error": "internal error"}', 500
                else:
                    body, status = json.dumps(provider.payload()).encode(), 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def payload(self) -> dict[str, Any]:
        now_s = to_epoch_s(self.clock.now())
        hour = now_s - now_s % H
        points = [
            {
                "carbonIntensity": 60 if t == to_epoch_s(T0) + 4 * H else 400,
                "datetime": format_time(from_epoch_s(t)),
            }
            for t in range(hour, hour + 24 * H, H)
        ]
        return {"zone": "XX", "forecast": points, "updatedAt": format_time(self.clock.now())}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _submit(c: httpx.Client, zone: str, deadline_h: int = 10) -> int:
    r = c.post(
        "/v1/jobs",
        json={
            "command": ["echo", zone],
            "duration": "1h",
            "deadline": f"{deadline_h}h",
            "zones": [zone],
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _fallback(c: httpx.Client, job_id: int) -> str | None:
    plan = c.get(f"/v1/jobs/{job_id}").json()["plan"]
    return None if plan["fallback"] is None else str(plan["fallback"]["level"])


def test_provider_outage_falls_back_and_jobs_meet_their_deadlines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELECTRICITYMAPS_TOKEN", "test-token")
    clock = ManualClock(T0)
    provider = FlakyProvider(clock)
    dead = f"http://127.0.0.1:{free_port()}/v3"  # nothing listens: connection refused
    common: dict[str, Any] = {
        "provider": "electricitymaps",
        "provider_timeout_s": 0.5,
        "provider_retries": 0,
    }
    zones = [
        ZoneConfig("XX", base_url=f"http://127.0.0.1:{provider.port}/v3", **common),
        ZoneConfig("YY", base_url=dead, static_slot="0 3 * * *", **common),
        ZoneConfig("ZZ", base_url=dead, **common),
    ]
    service, _ = manual_service(tmp_path, zones, clock=clock, dispatch_ahead_s=600.0)
    with http_server(service.app()) as srv, httpx.Client(base_url=srv.url) as c:
        a = _submit(c, "XX")
        service.loop.tick()
        assert c.get(f"/v1/jobs/{a}").json()["plan"]["start"] == "2026-03-02T04:00Z"
        assert _fallback(c, a) is None
        # 1. the provider answers 500: the last good forecast, recorded on every plan
        provider.mode = "500"
        clock.advance(timedelta(minutes=15))
        b = _submit(c, "XX")
        service.loop.tick()
        zone = c.get("/v1/zones/XX").json()
        assert zone["status"] == "stale" and "HTTP 500" in zone["reason"]
        assert _fallback(c, b) == "last_good_forecast" == _fallback(c, a)
        plans = c.get(f"/v1/jobs/{a}/plans").json()
        assert [p["fallback"] and p["fallback"]["level"] for p in plans] == [
            None,
            "last_good_forecast",
        ]
        assert "last good forecast" in plans[1]["fallback"]["reason"]
        assert plans[1]["start"] == "2026-03-02T04:00Z"
        # 2. timeouts, and zones that never had a forecast: static slot, latest safe start
        provider.mode = "slow"
        clock.advance(timedelta(minutes=15))
        y = _submit(c, "YY")
        z = _submit(c, "ZZ", deadline_h=6)
        service.loop.tick()
        assert "timed out" in c.get("/v1/zones/XX").json()["reason"]
        assert "connection failed" in c.get("/v1/zones/YY").json()["reason"]
        assert _fallback(c, y) == "static_slot"
        assert c.get(f"/v1/jobs/{y}").json()["plan"]["start"] == "2026-03-02T03:00Z"
        assert _fallback(c, z) == "latest_safe_start"
        zjob = c.get(f"/v1/jobs/{z}").json()
        assert zjob["plan"]["start"] == zjob["latest_safe_start"]
        # 3. the provider is gone altogether (connection refused)
        provider.close()
        clock.advance(timedelta(minutes=15))
        service.loop.tick()
        assert "connection failed" in c.get("/v1/zones/XX").json()["reason"]
        # every job runs, each before its deadline
        jobs = [a, b, y, z]
        for j in sorted(jobs, key=lambda j: c.get(f"/v1/jobs/{j}").json()["plan"]["start"]):
            start = parse_time(c.get(f"/v1/jobs/{j}").json()["plan"]["start"])
            clock.set(max(clock.now(), start))
            settle(service, {"succeeded"}, [j])
        for j in jobs:
            job = c.get(f"/v1/jobs/{j}").json()
            assert job["state"] == "succeeded"
            assert job["started_at"] <= job["latest_safe_start"], job
            end = parse_time(job["started_at"]) + timedelta(seconds=job["duration_s"])
            assert end <= parse_time(job["deadline"])
            assert c.get(f"/v1/jobs/{j}/logs").text.strip() in ("XX", "YY", "ZZ")
        metrics = c.get("/metrics").text
        for level in ("last_good_forecast", "static_slot", "latest_safe_start"):
            assert f'level="{level}"' in metrics, level
        assert 'carbonshift_forecast_failures_total{zone="XX"}' in metrics
    service.close()
