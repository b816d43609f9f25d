"""The shared HTTP code path (HttpClient) against a real local server: retries, backoff,
Retry-After, error mapping, secret redaction and the response cache."""

from __future__ import annotations

import email.utils
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from httpfixtures import Answer, FixtureServer

from carbonshift.errors import (
    AuthenticationError,
    NoDataError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
)
from carbonshift.signals.providers.cache import ResponseCache
from carbonshift.signals.providers.credentials import Secret
from carbonshift.signals.providers.http import HttpClient

T0 = datetime(2024, 3, 6, 18, 10, tzinfo=UTC)
OK = Answer(200, b'{"ok": true}')


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def make_client(
    base_url: str,
    *,
    waits: list[float] | None = None,
    clock: FakeClock | None = None,
    cache: ResponseCache | None = None,
    max_retries: int = 3,
    secret_params: tuple[str, ...] = (),
    transport: httpx.BaseTransport | None = None,
) -> HttpClient:
    recorded = waits if waits is not None else []
    return HttpClient(
        provider="testprov",
        base_url=base_url,
        max_retries=max_retries,
        backoff_s=0.5,
        max_backoff_s=30.0,
        cache=cache,
        secret_params=secret_params,
        transport=transport,
        clock=clock or FakeClock(),
        sleep=recorded.append,
        timeout_s=5.0,
    )


# ---------------------------------------------------------------------- retries
def test_retries_503_then_succeeds(server: FixtureServer) -> None:
    server.route("/x", Answer(503, b"busy"), Answer(503, b"busy"), OK)
    waits: list[float] = []
    client = make_client(server.url, waits=waits)
    response = client.request("GET", "/x")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert len(server.requests_to("/x")) == 3
    assert waits == [0.5, 1.0]  # exponential backoff
    assert client.requests_sent == 3


def test_429_retry_after_seconds_is_honoured(server: FixtureServer) -> None:
    server.route("/x", Answer(429, b"{}", headers={"Retry-After": "7"}), OK)
    waits: list[float] = []
    response = make_client(server.url, waits=waits).request("GET", "/x")
    assert response.status_code == 200
    assert waits == [7.0]


def test_429_retry_after_http_date_is_honoured(server: FixtureServer) -> None:
    clock = FakeClock()
    when = email.utils.format_datetime(T0 + timedelta(seconds=12), usegmt=True)
    server.route("/x", Answer(429, b"{}", headers={"Retry-After": when}), OK)
    waits: list[float] = []
    make_client(server.url, waits=waits, clock=clock).request("GET", "/x")
    assert waits == [pytest.approx(12.0)]


def test_retry_after_is_capped(server: FixtureServer) -> None:
    server.route("/x", Answer(429, b"{}", headers={"Retry-After": "3600"}), OK)
    waits: list[float] = []
    make_client(server.url, waits=waits).request("GET", "/x")
    assert waits == [30.0]


def test_exhausted_429_raises_rate_limited(server: FixtureServer) -> None:
    server.route("/x", Answer(429, b'{"error": "slow down"}', headers={"Retry-After": "2"}))
    waits: list[float] = []
    with pytest.raises(RateLimitedError) as info:
        make_client(server.url, waits=waits, max_retries=2).request("GET", "/x")
    assert info.value.status_code == 429
    assert info.value.provider == "testprov"
    assert "3 tries" in str(info.value)
    assert len(server.requests_to("/x")) == 3
    assert waits == [2.0, 2.0]


def test_exhausted_5xx_raises_unavailable_with_detail(server: FixtureServer) -> None:
    server.route("/x", Answer(503, b'{"error": "maintenance window"}'))
    waits: list[float] = []
    with pytest.raises(ProviderUnavailableError) as info:
        make_client(server.url, waits=waits, max_retries=2).request("GET", "/x")
    assert info.value.status_code == 503
    assert "maintenance window" in str(info.value)
    assert len(server.requests_to("/x")) == 3
    assert waits == [0.5, 1.0]


def test_html_5xx_body_does_not_crash(server: FixtureServer) -> None:
    page = (
        b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
    )
    server.route("/x", Answer(502, page, content_type="text/html"))
    with pytest.raises(ProviderUnavailableError) as info:
        make_client(server.url, max_retries=0).request("GET", "/x")
    assert "Bad Gateway" in str(info.value)
    assert "<" not in str(info.value)


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # the socket is closed: nothing listens on the port any more
    waits: list[float] = []
    client = make_client(f"http://127.0.0.1:{port}", waits=waits, max_retries=1)
    with pytest.raises(ProviderUnavailableError) as info:
        client.request("GET", "/x")
    assert "connection failed" in str(info.value)
    assert info.value.status_code is None
    assert waits == [0.5]


def test_timeout_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too slow", request=request)

    client = make_client(
        "http://127.0.0.1:9", transport=httpx.MockTransport(handler), max_retries=1
    )
    with pytest.raises(ProviderUnavailableError, match="timed out"):
        client.request("GET", "/x")


# ---------------------------------------------------------------------- client errors
@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors(server: FixtureServer, status: int) -> None:
    server.route("/x", Answer(status, b'{"error": "Token is invalid"}'))
    with pytest.raises(AuthenticationError) as info:
        make_client(server.url).request("GET", "/x")
    assert info.value.status_code == status
    assert "Token is invalid" in str(info.value)
    assert len(server.requests_to("/x")) == 1  # never retried


def test_404_is_no_data_with_the_callers_words(server: FixtureServer) -> None:
    server.route("/x", Answer(404, b'{"error": "zone not found"}'))
    with pytest.raises(NoDataError) as info:
        make_client(server.url).request("GET", "/x", not_found="no data for zone XX")
    assert "no data for zone XX" in str(info.value)
    assert "zone not found" in str(info.value)
    assert info.value.status_code == 404
    assert len(server.requests_to("/x")) == 1


def test_other_4xx_is_provider_error(server: FixtureServer) -> None:
    server.route("/x", Answer(400, b'{"error": {"code": "400", "message": "bad date"}}'))
    with pytest.raises(ProviderError) as info:
        make_client(server.url).request("GET", "/x")
    assert type(info.value) is ProviderError
    assert "bad date" in str(info.value)
    assert info.value.exit_code == 4


def test_html_403_fixture_maps_to_auth_error(server: FixtureServer, fixtures_dir: Path) -> None:
    server.file(
        "/v3/signal-index", fixtures_dir / "watttime" / "error_403_nginx_forbidden.html", 403
    )
    with pytest.raises(AuthenticationError) as info:
        make_client(server.url).request("GET", "/v3/signal-index")
    assert "403" in str(info.value)
    assert "Forbidden" in str(info.value)
    assert "<" not in str(info.value)


def test_html_401_fixture_maps_to_auth_error(server: FixtureServer, fixtures_dir: Path) -> None:
    server.file("/api", fixtures_dir / "entsoe" / "error_401_unauthorized.html", 401)
    with pytest.raises(AuthenticationError, match="Unauthorized"):
        make_client(server.url).request("GET", "/api")


# ---------------------------------------------------------------------- secrets
SECRET = "sekrit-token-0123456789"


def test_secret_query_param_is_sent_but_never_shown(server: FixtureServer) -> None:
    server.route("/api", Answer(401, b"<html><body>Unauthorized</body></html>", "text/html"))
    client = make_client(server.url, secret_params=("securityToken",))
    with pytest.raises(AuthenticationError) as info:
        client.request("GET", "/api", params={"securityToken": SECRET, "zone": "DE"})
    seen = server.requests_to("/api")[0]
    assert seen.query["securityToken"] == [SECRET]
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert all(SECRET not in str(arg) for arg in info.value.args)


def test_secret_query_param_not_in_unavailable_error(server: FixtureServer) -> None:
    server.route("/api", Answer(503, b"down"))
    client = make_client(server.url, secret_params=("securityToken",), max_retries=1)
    with pytest.raises(ProviderUnavailableError) as info:
        client.request("GET", "/api", params={"securityToken": SECRET})
    assert SECRET not in str(info.value)


def test_secret_header_is_revealed_only_on_the_wire(server: FixtureServer) -> None:
    server.route("/x", Answer(403, b'{"error": "Token is invalid"}'))
    with pytest.raises(AuthenticationError) as info:
        make_client(server.url).request("GET", "/x", headers={"auth-token": Secret(SECRET)})
    assert server.requests_to("/x")[0].headers["auth-token"] == SECRET
    assert SECRET not in str(info.value)


def test_secret_query_param_is_not_part_of_the_cache_key(
    server: FixtureServer, tmp_path: Path
) -> None:
    server.route("/api", OK)
    cache = ResponseCache(tmp_path)
    client = make_client(server.url, cache=cache, secret_params=("securityToken",))
    until = T0 + timedelta(hours=1)
    client.request("GET", "/api", params={"securityToken": SECRET, "zone": "DE"}, cache_until=until)
    # another token, same public query: answered from the cache
    client.request(
        "GET", "/api", params={"securityToken": "other-token", "zone": "DE"}, cache_until=until
    )
    assert len(server.requests_to("/api")) == 1
    key = ResponseCache.key("GET", f"{server.url}/api", {"zone": "DE"})
    assert cache.get(key, now_s=T0.timestamp()) is not None
    for path in tmp_path.rglob("*"):
        assert SECRET not in path.name
        if path.is_file():
            assert SECRET not in path.read_text(encoding="utf-8")


# ---------------------------------------------------------------------- cache
def test_cache_hit_sends_no_request_and_expires(server: FixtureServer, tmp_path: Path) -> None:
    server.route("/x", Answer(200, b'{"n": 1}'), Answer(200, b'{"n": 2}'))
    clock = FakeClock()
    client = make_client(server.url, cache=ResponseCache(tmp_path), clock=clock)
    until = T0 + timedelta(minutes=50)
    assert client.request("GET", "/x", params={"a": "1"}, cache_until=until).json() == {"n": 1}
    assert client.request("GET", "/x", params={"a": "1"}, cache_until=until).json() == {"n": 1}
    assert len(server.seen) == 1
    assert client.requests_sent == 1
    # other parameters are another request
    client.request("GET", "/x", params={"a": "2"}, cache_until=until)
    assert len(server.seen) == 2
    # past the expiry the request is sent again
    clock.advance(timedelta(minutes=50))
    assert client.request("GET", "/x", params={"a": "1"}, cache_until=until).json() == {"n": 2}
    assert len(server.seen) == 3


def test_cache_survives_a_new_client(server: FixtureServer, tmp_path: Path) -> None:
    server.route("/x", OK)
    until = T0 + timedelta(hours=1)
    make_client(server.url, cache=ResponseCache(tmp_path)).request("GET", "/x", cache_until=until)
    again = make_client(server.url, cache=ResponseCache(tmp_path))
    assert again.request("GET", "/x", cache_until=until).json() == {"ok": True}
    assert len(server.seen) == 1


def test_no_cache_until_means_no_caching(server: FixtureServer, tmp_path: Path) -> None:
    server.route("/x", OK)
    client = make_client(server.url, cache=ResponseCache(tmp_path))
    client.request("GET", "/x")
    client.request("GET", "/x")
    assert len(server.seen) == 2


def test_errors_are_not_cached(server: FixtureServer, tmp_path: Path) -> None:
    server.route("/x", Answer(400, b'{"error": "bad"}'), OK)
    client = make_client(server.url, cache=ResponseCache(tmp_path))
    until = T0 + timedelta(hours=1)
    with pytest.raises(ProviderError):
        client.request("GET", "/x", cache_until=until)
    assert client.request("GET", "/x", cache_until=until).json() == {"ok": True}
    assert len(server.seen) == 2


def test_malformed_retry_after_falls_back_to_backoff(server: FixtureServer) -> None:
    server.route("/x", Answer(429, b"{}", headers={"Retry-After": "soon"}), OK)
    waits: list[float] = []
    assert make_client(server.url, waits=waits).request("GET", "/x").status_code == 200
    assert waits == [0.5]


def test_secret_echoed_by_the_provider_is_redacted(server: FixtureServer) -> None:
    server.route("/x", Answer(400, b'{"error": "bad request /x?securityToken=s3cr3t-value"}'))
    client = make_client(server.url, secret_params=("securityToken",))
    with pytest.raises(ProviderError) as err:
        client.request("GET", "/x", params={"securityToken": "s3cr3t-value"})
    assert "s3cr3t-value" not in err.value.one_line()
    assert "***" in err.value.one_line()
