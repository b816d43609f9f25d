"""The REST API through a real HTTP server: schema errors name the field, deadlines that cannot
be met are refused, a job that cannot start fails with the reason, tokens are enforced, and
nothing stored is corrupted by bad input."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from service.helpers_service import T0, dip, http_server, manual_service, settle, write_forecast
from sqlalchemy import text
from typer.testing import CliRunner

from carbonshift.cli import app as cli_app
from carbonshift.service.auth import check_bind, is_loopback
from carbonshift.service.config import ZoneConfig


def _zone(tmp_path: Path) -> ZoneConfig:
    path = write_forecast(tmp_path / "XX.csv", T0, dip(48, 5, low=80.0, high=300.0))
    return ZoneConfig("XX", forecast_file=path, capacity_gpus=8)


def _field(response: httpx.Response) -> list[str]:
    return [".".join(str(x) for x in d["loc"][1:]) for d in response.json()["detail"]]


JOB: dict[str, Any] = {"command": ["echo", "ok"], "duration": "1h", "deadline": "10h"}


def test_bad_input_is_refused_with_the_field_named(tmp_path: Path) -> None:
    service, _ = manual_service(tmp_path, [_zone(tmp_path)])
    with http_server(service.app()) as srv, httpx.Client(base_url=srv.url) as c:
        cases: list[tuple[dict[str, Any], str]] = [
            ({k: v for k, v in JOB.items() if k != "duration"}, "duration"),
            ({**JOB, "duration": "forever"}, "duration"),
            ({**JOB, "gpus": -1}, "gpus"),
            ({**JOB, "command": []}, "command"),
            ({**JOB, "colour": "green"}, "colour"),
            ({**JOB, "deadline": "2026-13-45T00:00Z"}, "deadline"),
            ({**JOB, "env": {"1BAD": "x"}}, "env"),
            ({**JOB, "zones": ["MARS"]}, "zones"),
            ({**JOB, "executor": "slurm"}, "executor"),
        ]
        for body, field in cases:
            r = c.post("/v1/jobs", json=body)
            assert r.status_code == 422, (body, r.text)
            assert field in _field(r), (field, r.json())
        r = c.post("/v1/jobs", json={**JOB, "slack": "2h"})
        assert r.status_code == 422 and "exactly one of deadline" in r.text
        r = c.post("/v1/jobs", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422
        r = c.post("/v1/jobs", json={**JOB, "duration": "3h", "deadline": "2h"})
        assert r.status_code == 422
        detail = r.json()["detail"][0]
        assert detail["loc"] == ["body", "deadline"] and detail["type"] == "deadline_too_early"
        assert "too early" in detail["msg"] and "3h" in detail["msg"]
        good = c.post("/v1/jobs", json=JOB)
        assert good.status_code == 201
        assert c.get("/v1/jobs/999").status_code == 404
    # nothing but the good job was stored, and the database is intact
    jobs = service.store.list_jobs()
    assert [j.id for j in jobs] == [good.json()["id"]]
    assert [t.to_state for t in service.store.transitions(jobs[0].id)] == ["submitted"]
    with service.store.read() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    service.close()


def test_nonexistent_command_fails_the_job_with_that_reason(tmp_path: Path) -> None:
    service, _ = manual_service(tmp_path, [_zone(tmp_path)])
    with http_server(service.app()) as srv, httpx.Client(base_url=srv.url) as c:
        body = {**JOB, "command": ["/nonexistent/tool", "--x"], "urgent": True}
        job_id = c.post("/v1/jobs", json=body).json()["id"]
        service.loop.tick()
        settle(service, {"failed"}, [job_id])
        job = c.get(f"/v1/jobs/{job_id}").json()
        assert job["state"] == "failed"
        assert "command not found: /nonexistent/tool" in job["reason"]
        assert job["exit_code"] == 127
        states = [t["to_state"] for t in c.get(f"/v1/jobs/{job_id}/transitions").json()]
        assert states[-1] == "failed"
    service.close()


def test_token_is_required_when_configured(tmp_path: Path) -> None:
    from dataclasses import replace

    service, _ = manual_service(tmp_path, [_zone(tmp_path)])
    service.token = "s3cret-token-for-tests"
    service.config = replace(service.config, token=service.token)
    with http_server(service.app()) as srv:
        anon = httpx.Client(base_url=srv.url)
        for method, path in [
            ("GET", "/v1/jobs"),
            ("POST", "/v1/jobs"),
            ("GET", "/v1/zones"),
            ("GET", "/metrics"),
            ("POST", "/v1/plan"),
        ]:
            r = anon.request(method, path, json=JOB)
            assert r.status_code == 401, (method, path)
            assert r.headers["www-authenticate"] == "Bearer"
        wrong = anon.get("/v1/jobs", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert anon.get("/healthz").status_code == 200
        authed = httpx.Client(
            base_url=srv.url, headers={"Authorization": f"Bearer {service.token}"}
        )
        assert authed.post("/v1/jobs", json=JOB).status_code == 201
        assert authed.get("/v1/jobs").json()["jobs"][0]["state"] == "submitted"
    assert len(service.store.list_jobs()) == 1
    service.close()


def test_serve_refuses_non_loopback_without_token(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    with pytest.raises(ValueError, match="needs an API token"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "a-long-enough-random-token")
    result = CliRunner().invoke(
        cli_app,
        ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "d")],
        env={"CARBONSHIFT_API_TOKEN": ""},
    )
    assert result.exit_code == 2
    assert "needs an API token" in result.output
    assert not (tmp_path / "d").exists()


def test_read_endpoints_openapi_and_metrics(tmp_path: Path) -> None:
    service, _ = manual_service(tmp_path, [_zone(tmp_path)])
    with http_server(service.app()) as srv, httpx.Client(base_url=srv.url) as c:
        spec = c.get("/openapi.json").json()
        for path in ["/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/cancel",
                     "/v1/jobs/{job_id}/logs", "/v1/jobs/{job_id}/plans", "/v1/zones",
                     "/v1/zones/{zone}", "/v1/plan", "/healthz", "/metrics"]:  # fmt: skip
            assert path in spec["paths"], path
        assert c.get("/docs").status_code == 200
        ids = [c.post("/v1/jobs", json={**JOB, "name": f"j{i}"}).json()["id"] for i in range(3)]
        service.loop.tick()
        assert c.post(f"/v1/jobs/{ids[2]}/cancel").status_code == 202
        service.loop.tick()
        assert c.post(f"/v1/jobs/{ids[2]}/cancel").status_code == 409
        planned = c.get("/v1/jobs", params={"state": "planned"}).json()["jobs"]
        assert [j["id"] for j in planned] == ids[:2]
        page = c.get("/v1/jobs", params={"limit": 2}).json()
        assert len(page["jobs"]) == 2 and page["next_after"] == ids[1]
        assert planned[0]["plan"]["start"] == "2026-03-02T05:00Z"
        zones = c.get("/v1/zones").json()
        assert zones[0]["status"] == "fresh" and zones[0]["current_intensity_g_per_kwh"] == 300.0
        zone = c.get("/v1/zones/XX").json()
        assert zone["forecast"][5] == {"time": "2026-03-02T05:00Z", "intensity_g_per_kwh": 80.0}
        assert c.get("/v1/zones/NOPE").status_code == 404
        before = len(service.store.list_jobs())
        what_if = c.post("/v1/plan", json={"duration": "1h", "deadline": "10h"}).json()
        assert what_if["start"] == "2026-03-02T05:00Z" and what_if["savings_pct"] == pytest.approx(
            73.33
        )
        assert len(service.store.list_jobs()) == before
        health = c.get("/healthz").json()
        assert health["now"] == "2026-03-02T00:00Z" and health["zones"] == {"XX": "fresh"}
        metrics = c.get("/metrics").text
        assert 'carbonshift_jobs{state="planned"} 2.0' in metrics
        assert 'carbonshift_jobs{state="cancelled"} 1.0' in metrics
        assert "carbonshift_plan_intensity_g_per_kwh_count" in metrics
        assert "carbonshift_loop_duration_seconds_count" in metrics
        assert c.get(f"/v1/jobs/{ids[0]}/logs").text == ""
    service.close()


def test_repeated_client_key_returns_the_same_job(tmp_path: Path) -> None:
    service, _ = manual_service(tmp_path, [_zone(tmp_path)])
    with http_server(service.app()) as srv, httpx.Client(base_url=srv.url) as c:
        first = c.post("/v1/jobs", json={**JOB, "client_key": "abc"})
        time.sleep(0.01)
        again = c.post("/v1/jobs", json={**JOB, "client_key": "abc"})
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["id"] == again.json()["id"]
    assert len(service.store.list_jobs()) == 1
    service.close()
