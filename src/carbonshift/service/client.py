"""A small HTTP client of the service's REST API (what ``carbonshift submit`` and ``jobs`` use).

Errors come back as carbonshift errors with one readable line: a refused request names the
field (``deadline: ...``), an unreachable server says where it looked and how to point
elsewhere.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from carbonshift.errors import CarbonshiftError, UsageError
from carbonshift.service.auth import TOKEN_ENV
from carbonshift.service.config import DEFAULT_PORT

__all__ = ["SERVER_ENV", "ServiceClient", "ServiceError", "default_server"]

SERVER_ENV = "CARBONSHIFT_SERVER"


def default_server() -> str:
    return os.environ.get(SERVER_ENV) or f"http://127.0.0.1:{DEFAULT_PORT}"


class ServiceError(CarbonshiftError):
    """The service refused the request or could not be reached."""

    exit_code = 4


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    detail = data.get("detail") if isinstance(data, dict) else data
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = [str(x) for x in item.get("loc", []) if x != "body"]
                msg = str(item.get("msg", "")).removeprefix("Value error, ")
                parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
        return "; ".join(parts)
    return str(detail)


class ServiceClient:
    """Calls one service; ``token`` defaults to ``$CARBONSHIFT_API_TOKEN``."""

    def __init__(
        self, server: str | None = None, *, token: str | None = None, timeout_s: float = 30.0
    ) -> None:
        self.server = (server or default_server()).rstrip("/")
        token = token if token is not None else os.environ.get(TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServiceError(
                f"cannot reach the carbonshift service at {self.server} ({type(exc).__name__})",
                hint=f"start it with `carbonshift serve`, or pass --server / set {SERVER_ENV}",
            ) from None
        if response.status_code == 401:
            raise ServiceError(
                f"{self.server} refused the request: {_detail(response)}",
                hint=f"pass --token or set {TOKEN_ENV}",
            )
        if response.status_code in (404, 409, 422):
            raise UsageError(_detail(response))
        if response.status_code >= 400:
            raise ServiceError(f"{self.server}: HTTP {response.status_code}: {_detail(response)}")
        return response

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self.request("POST", "/v1/jobs", json=body).json()
        return out

    def job(self, job_id: int) -> dict[str, Any]:
        out: dict[str, Any] = self.request("GET", f"/v1/jobs/{job_id}").json()
        return out

    def jobs(self, states: list[str] | None = None, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Every job (in ``states``), following the pages."""
        out: list[dict[str, Any]] = []
        after: int | None = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if states:
                params["state"] = states
            if after is not None:
                params["after"] = after
            page = self.request("GET", "/v1/jobs", params=params).json()
            out += page["jobs"]
            after = page.get("next_after")
            if after is None:
                return out

    def cancel(self, job_id: int) -> dict[str, Any]:
        out: dict[str, Any] = self.request("POST", f"/v1/jobs/{job_id}/cancel").json()
        return out

    def logs(self, job_id: int, stream: str = "stdout", tail_bytes: int | None = None) -> str:
        params: dict[str, Any] = {"stream": stream}
        if tail_bytes is not None:
            params["tail_bytes"] = tail_bytes
        return self.request("GET", f"/v1/jobs/{job_id}/logs", params=params).text

    def plans(self, job_id: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.request("GET", f"/v1/jobs/{job_id}/plans").json()
        return out

    def account(self, job_id: int) -> dict[str, Any]:
        out: dict[str, Any] = self.request("GET", f"/v1/jobs/{job_id}/account").json()
        return out

    def transitions(self, job_id: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.request("GET", f"/v1/jobs/{job_id}/transitions").json()
        return out

    def wait(
        self, job_id: int, *, until: set[str], timeout_s: float, poll_s: float = 0.2
    ) -> dict[str, Any]:
        """Poll the job until its state is in ``until`` or time runs out; the last answer."""
        end = time.monotonic() + timeout_s
        while True:
            job = self.job(job_id)
            if job["state"] in until or time.monotonic() >= end:
                return job
            time.sleep(poll_s)
