"""Who may talk to the service: loopback only by default, a bearer token beyond it.

``carbonshift serve`` refuses to listen on anything but a loopback address without a token
(``--token`` or ``CARBONSHIFT_API_TOKEN``). With a token set, every ``/v1`` route and
``/metrics`` need ``Authorization: Bearer <token>``; ``/healthz`` and the OpenAPI pages stay
open (they reveal no job). Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from fastapi import HTTPException, Request, status

from carbonshift.errors import UsageError

__all__ = ["TOKEN_ENV", "check_bind", "is_loopback", "require_token", "resolve_token"]

TOKEN_ENV = "CARBONSHIFT_API_TOKEN"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(option: str | None) -> str | None:
    """``--token``, else ``$CARBONSHIFT_API_TOKEN``, else None (empty counts as none)."""
    token = option if option is not None else os.environ.get(TOKEN_ENV)
    return token or None


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a token."""
    if not is_loopback(host) and not token:
        raise UsageError(
            f"--host {host}: listening beyond loopback needs an API token",
            hint=f"pass --token or set {TOKEN_ENV}, or listen on 127.0.0.1",
        )
    if token is not None and len(token) < 16 and not is_loopback(host):
        raise UsageError(
            "--token: too short for a server reachable from the network",
            hint="use at least 16 random characters, e.g. `openssl rand -hex 24`",
        )


def require_token(request: Request) -> None:
    """FastAPI dependency: 401 unless the request carries the configured bearer token."""
    expected: str | None = getattr(request.app.state, "token", None)
    if not expected:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), expected):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
