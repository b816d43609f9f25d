"""The HTTP code path shared by every provider client: timeouts, retries with backoff on 429 and
5xx, typed errors on 401/403/404, secret redaction, and the response cache.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import httpx

from carbonshift.errors import (
    AuthenticationError,
    NoDataError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
)
from carbonshift.signals.providers.base import Provider
from carbonshift.signals.providers.cache import CachedResponse, ResponseCache
from carbonshift.signals.providers.credentials import Secret

__all__ = ["HttpClient", "HttpProvider", "error_text"]

log = logging.getLogger("carbonshift.providers")

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def error_text(response: httpx.Response, limit: int = 300) -> str:
    """The provider's own error message from a JSON body, else the start of the text body."""
    body = response.content[:4096]
    try:
        data = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace")
        # HTML error pages: keep the visible words only
        import re

        text = re.sub(r"<[^>]+>", " ", text)
        return " ".join(text.split())[:limit]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            msg = err.get("message") or err.get("code")
            return str(msg)[:limit]
        parts = [str(data[k]) for k in ("error", "message", "detail") if data.get(k)]
        if parts:
            return ": ".join(parts)[:limit]
    return json.dumps(data)[:limit]


class HttpClient:
    """One provider's connection: GET with retries, typed errors and a response cache.

    ``secret_params`` names query parameters that carry credentials: they are sent but never
    logged, never part of a cache key and never shown in an error message.
    """

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        timeout_s: float = 20.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        cache: ResponseCache | None = None,
        secret_params: tuple[str, ...] = (),
        transport: httpx.BaseTransport | None = None,
        clock: Clock = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.cache = cache
        self.secret_params = secret_params
        self.clock = clock
        self.sleep = sleep
        self.requests_sent = 0
        self._secret_values: list[str] = []
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            headers={"User-Agent": "carbonshift/0.1 (+carbon-aware scheduling)"},
            follow_redirects=True,
        )

    def close(self) -> None:
        self._client.close()

    def _wait_s(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            retry_after = response.headers.get("Retry-After")
            if retry_after:
                try:
                    return max(0.0, min(float(retry_after), self.max_backoff_s))
                except ValueError:
                    pass
                try:  # an HTTP date; a malformed header falls back to plain backoff
                    parsed = email.utils.parsedate_to_datetime(retry_after)
                    if parsed.tzinfo is None:
                        parsed = parsed.replace(tzinfo=UTC)
                    delta = (parsed - self.clock()).total_seconds()
                    return max(0.0, min(delta, self.max_backoff_s))
                except (TypeError, ValueError):
                    pass
        return float(min(self.backoff_s * (2**attempt), self.max_backoff_s))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str | Secret] | None = None,
        data: Mapping[str, str] | None = None,
        auth: tuple[Secret, Secret] | None = None,
        cache_until: datetime | None = None,
        not_found: str | None = None,
    ) -> httpx.Response:
        """Send one request (retrying), map errors, and cache successful answers until
        ``cache_until``. ``not_found`` is the message for a 404 (what was not found)."""
        url = path if path.startswith("http") else f"{self.base_url}/{path.lstrip('/')}"
        plain_params = {k: str(v) for k, v in (params or {}).items()}
        public_params = {k: v for k, v in plain_params.items() if k not in self.secret_params}
        key = ResponseCache.key(method, url, public_params)
        now_s = self.clock().timestamp()
        if self.cache is not None and cache_until is not None:
            hit = self.cache.get(key, now_s=now_s)
            if hit is not None:
                log.debug("%s: cache hit for %s", self.provider, url)
                return httpx.Response(
                    hit.status_code,
                    content=hit.content,
                    headers={"content-type": hit.content_type},
                    request=httpx.Request(method, url),
                )
        self._secret_values = [v for k, v in plain_params.items() if k in self.secret_params]
        self._secret_values += [
            v.reveal() for v in (headers or {}).values() if isinstance(v, Secret)
        ]
        if auth:
            self._secret_values += [auth[0].reveal(), auth[1].reveal()]
        sent_headers = {
            k: (v.reveal() if isinstance(v, Secret) else v) for k, v in (headers or {}).items()
        }
        basic = httpx.BasicAuth(auth[0].reveal(), auth[1].reveal()) if auth else None
        last_response: httpx.Response | None = None
        last_error = ""
        for attempt in range(self.max_retries + 1):
            try:
                self.requests_sent += 1
                response = self._client.request(
                    method,
                    url,
                    params=plain_params or None,
                    headers=sent_headers,
                    data=data,
                    auth=basic,
                )
            except httpx.TimeoutException:
                last_error, last_response = "timed out", None
            except httpx.TransportError as exc:
                last_error, last_response = f"connection failed ({type(exc).__name__})", None
            else:
                status = response.status_code
                if status < 400:
                    if self.cache is not None and cache_until is not None:
                        self.cache.put(
                            key,
                            CachedResponse(
                                status,
                                response.content,
                                response.headers.get("content-type", ""),
                                cache_until.timestamp(),
                            ),
                        )
                    return response
                if status == 429 or status >= 500:
                    last_response = response
                    last_error = f"HTTP {status}"
                else:
                    self._raise_client_error(response, url, not_found)
            if attempt < self.max_retries:
                wait = self._wait_s(attempt, last_response)
                log.info("%s: %s, retry %d in %.1fs", self.provider, last_error, attempt + 1, wait)
                self.sleep(wait)
        if last_response is not None and last_response.status_code == 429:
            raise RateLimitedError(
                f"{self.provider}: rate limited (HTTP 429) after {self.max_retries + 1} tries",
                hint="wait and retry later, or lower the request rate",
                status_code=429,
                provider=self.provider,
            )
        detail = (
            self._redact(error_text(last_response), self._secret_values)
            if last_response is not None
            else ""
        )
        raise ProviderUnavailableError(
            f"{self.provider}: {last_error} after {self.max_retries + 1} tries"
            + (f": {detail}" if detail else ""),
            hint="the service may be down; carbonshift falls back to stored data where it can",
            status_code=last_response.status_code if last_response is not None else None,
            provider=self.provider,
        )

    def _redact(self, text: str, secrets: list[str]) -> str:
        """Replace every credential value that was sent with ``***``."""
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def _raise_client_error(
        self, response: httpx.Response, url: str, not_found: str | None
    ) -> None:
        status = response.status_code
        detail = self._redact(error_text(response), self._secret_values)
        if status in (401, 403):
            raise AuthenticationError(
                f"{self.provider}: HTTP {status}, access refused: {detail}",
                hint="check the credential and that your plan covers this zone and signal",
                status_code=status,
                provider=self.provider,
            )
        if status == 404:
            raise NoDataError(
                f"{self.provider}: {not_found or 'not found'} (HTTP 404: {detail})",
                hint="check the zone or region name and the period",
                status_code=status,
                provider=self.provider,
            )
        raise ProviderError(
            f"{self.provider}: HTTP {status}: {detail}",
            hint="check the request parameters",
            status_code=status,
            provider=self.provider,
        )


class HttpProvider(Provider):
    """A provider that talks to its API through one :class:`HttpClient` (``self._http``)."""

    _http: HttpClient

    @property
    def requests_sent(self) -> int:
        """HTTP requests actually sent (cache hits excluded), for tests and diagnostics."""
        return self._http.requests_sent

    def close(self) -> None:
        self._http.close()
