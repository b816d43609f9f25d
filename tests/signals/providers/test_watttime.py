"""WattTime v3 client, end to end through the real HTTP path against recorded payloads.

The ``/login`` answer is the placeholder ``{"token": "abcd1234"}`` (no real token is ever
recorded; see fixtures/README.md). ``/v3/forecast`` has no recorded body either: its test
builds one at run time from the recorded ``/v3/forecast/historical`` body, in the documented
shape (``data`` = the points, ``meta.generated_at`` = the issue time).
"""

from __future__ import annotations

import base64
import json
import logging
import math
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from httpfixtures import Answer, FixtureServer

from carbonshift.errors import (
    AuthenticationError,
    CarbonshiftError,
    DataError,
    MissingCredentialError,
    NoDataError,
)
from carbonshift.signals.providers.cache import ResponseCache
from carbonshift.signals.providers.credentials import Secret
from carbonshift.signals.providers.watttime import LBS_PER_MWH_TO_G_PER_KWH, WattTimeProvider

USER = "wt-user-7f3a"
PASSWORD = "pw-9c1e-secret"
TOKEN = "abcd1234"
SECRETS = (USER, PASSWORD, TOKEN)
LOGIN = Answer(200, json.dumps({"token": TOKEN}).encode())
T0 = datetime(2022, 7, 15, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def wt_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "watttime"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 1, 10, 12, 2, 30, tzinfo=UTC))


@pytest.fixture
def provider(server: FixtureServer, clock: Clock) -> Iterator[WattTimeProvider]:
    server.route("/login", LOGIN)
    p = WattTimeProvider(
        Secret(USER),
        Secret(PASSWORD),
        base_url=server.url,
        max_retries=0,
        backoff_s=0.0,
        clock=clock,
        sleep=lambda _s: None,
    )
    try:
        yield p
    finally:
        p.close()


def assert_no_secrets(exc: BaseException, *extra: str) -> None:
    text = "".join(traceback.format_exception(exc)) + repr(exc.args) + " ".join(extra)
    if isinstance(exc, CarbonshiftError):
        text += exc.one_line()
    for secret in SECRETS:
        assert secret not in text


def g(lbs: float) -> float:
    return lbs * LBS_PER_MWH_TO_G_PER_KWH


# ---------------------------------------------------------------------- history
def test_history_converts_lbs_per_mwh_and_labels(
    provider: WattTimeProvider, server: FixtureServer, wt_dir: Path
) -> None:
    server.file("/v3/historical", wt_dir / "v3_historical_CAISO_NORTH_docs-example.json")
    series = provider.history("CAISO_NORTH", T0, T0 + timedelta(minutes=10))

    assert series.start == T0
    assert series.resolution_s == 300
    assert len(series) == 2
    assert series.values[0] == pytest.approx(870 * 0.45359237)
    assert series.values[1] == pytest.approx(860 * 0.45359237)
    assert series.values[0] == pytest.approx(394.625, abs=1e-3)
    labels = series.labels
    assert (labels.zone, labels.signal, labels.accounting, labels.basis) == (
        "CAISO_NORTH",
        "marginal",
        "direct",
        "production",
    )
    assert (labels.provider, labels.kind, labels.unit) == ("watttime", "actual", "gCO2/kWh")

    (login,) = server.requests_to("/login")
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert login.headers["authorization"] == f"Basic {basic}"
    (data,) = server.requests_to("/v3/historical")
    assert data.headers["authorization"] == f"Bearer {TOKEN}"
    assert data.query["region"] == ["CAISO_NORTH"]
    assert data.query["signal_type"] == ["co2_moer"]
    assert data.query["start"] == ["2022-07-15T00:00:00+00:00"]
    assert data.query["end"] == ["2022-07-15T00:10:00+00:00"]


def test_history_pads_the_requested_range_with_missing_steps(
    provider: WattTimeProvider, server: FixtureServer, wt_dir: Path
) -> None:
    server.file("/v3/historical", wt_dir / "v3_historical_CAISO_NORTH_docs-example.json")
    series = provider.history("CAISO_NORTH", T0 - timedelta(minutes=5), T0 + timedelta(minutes=20))
    assert len(series) == 5
    assert np.isnan(series.values[[0, 3, 4]]).all()
    assert series.values[1] == pytest.approx(g(870))


def test_history_drops_the_inclusive_end_point(
    provider: WattTimeProvider, server: FixtureServer, wt_dir: Path
) -> None:
    server.file("/v3/historical", wt_dir / "v3_historical_CAISO_NORTH_docs-example.json")
    # WattTime's end is inclusive: the 00:05 point lies outside [00:00, 00:05)
    series = provider.history("CAISO_NORTH", T0, T0 + timedelta(minutes=5))
    assert len(series) == 1
    assert series.values[0] == pytest.approx(g(870))


def test_warnings_are_logged_not_raised(
    provider: WattTimeProvider,
    server: FixtureServer,
    wt_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.file("/v3/historical", wt_dir / "v3_historical_CAISO_NORTH_docs-example.json")
    with caplog.at_level(logging.WARNING, logger="carbonshift.providers"):
        provider.history("CAISO_NORTH", T0, T0 + timedelta(minutes=10))
    assert "This is just an example" in caplog.text
    assert "EXAMPLE_WARNING" in caplog.text
    for secret in SECRETS:
        assert secret not in caplog.text


def test_long_history_is_chunked_with_one_login(
    provider: WattTimeProvider, server: FixtureServer, wt_dir: Path
) -> None:
    server.file("/v3/historical", wt_dir / "v3_historical_CAISO_NORTH_docs-example.json")
    start = T0 - timedelta(days=40)
    series = provider.history("CAISO_NORTH", start, T0 + timedelta(days=30))
    seen = server.requests_to("/v3/historical")
    assert [(s.query["start"][0], s.query["end"][0]) for s in seen] == [
        ("2022-06-05T00:00:00+00:00", "2022-07-05T00:00:00+00:00"),
        ("2022-07-05T00:00:00+00:00", "2022-08-04T00:00:00+00:00"),
        ("2022-08-04T00:00:00+00:00", "2022-08-14T00:00:00+00:00"),
    ]
    assert len(server.requests_to("/login")) == 1
    assert len(series) == 70 * 288
    assert np.count_nonzero(~np.isnan(series.values)) == 2


def test_unknown_units_are_a_data_error(
    provider: WattTimeProvider, server: FixtureServer, wt_dir: Path
) -> None:
    body = json.loads((wt_dir / "v3_historical_CAISO_NORTH_docs-example.json").read_bytes())
    body["meta"]["units"] = "furlongs_per_fortnight"
    server.route("/v3/historical", Answer(200, json.dumps(body).encode()))
    with pytest.raises(DataError, match="furlongs_per_fortnight"):
        provider.history("CAISO_NORTH", T0, T0 + timedelta(minutes=10))


def test_empty_history_is_no_data(provider: WattTimeProvider, server: FixtureServer) -> None:
    server.route("/v3/historical", Answer(200, b'{"data": [], "meta": {"warnings": []}}'))
    with pytest.raises(NoDataError, match="CAISO_NORTH"):
        provider.history("CAISO_NORTH", T0, T0 + timedelta(minutes=10))


# ---------------------------------------------------------------------- forecasts
def _forecast_body(wt_dir: Path) -> bytes:
    recorded = json.loads(
        (wt_dir / "v3_forecast_historical_CAISO_NORTH_docs-example.json").read_bytes()
    )
    first = recorded["data"][0]
    meta = dict(recorded["meta"], generated_at=first["generated_at"])
    return json.dumps({"data": first["forecast"], "meta": meta}).encode()


def test_forecast_issue_time_and_values(
    provider: WattTimeProvider, server: FixtureServer, wt_dir: Path
) -> None:
    server.route("/v3/forecast", Answer(200, _forecast_body(wt_dir)))
    fc = provider.forecast("CAISO_NORTH")
    assert fc.labels.kind == "forecast"
    assert fc.labels.issued_at == T0
    assert fc.start == T0
    assert len(fc) == 3
    assert fc.resolution_s == 300
    np.testing.assert_allclose(fc.values, g(870))
    (seen,) = server.requests_to("/v3/forecast")
    assert seen.query["horizon_hours"] == ["24"]
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"


def test_historical_forecasts(
    provider: WattTimeProvider, server: FixtureServer, wt_dir: Path
) -> None:
    server.file(
        "/v3/forecast/historical", wt_dir / "v3_forecast_historical_CAISO_NORTH_docs-example.json"
    )
    forecasts = provider.historical_forecasts("CAISO_NORTH", T0, T0 + timedelta(hours=1))
    assert len(forecasts) == 1
    (fc,) = forecasts
    assert fc.labels.issued_at == T0
    assert fc.labels.kind == "forecast"
    assert len(fc) == 3
    np.testing.assert_allclose(fc.values, g(870))
    (seen,) = server.requests_to("/v3/forecast/historical")
    assert seen.query["start"] == ["2022-07-15T00:00:00+00:00"]
    assert seen.query["end"] == ["2022-07-15T01:00:00+00:00"]


def test_forecast_at_a_past_decision_time_uses_forecast_history(
    provider: WattTimeProvider, server: FixtureServer, wt_dir: Path
) -> None:
    server.file(
        "/v3/forecast/historical", wt_dir / "v3_forecast_historical_CAISO_NORTH_docs-example.json"
    )
    fc = provider.forecast("CAISO_NORTH", now=T0 + timedelta(minutes=2))
    assert fc.labels.issued_at == T0
    assert server.requests_to("/v3/forecast") == []
    # a decision time before every forecast has none to use
    with pytest.raises(NoDataError):
        provider.forecast("CAISO_NORTH", now=T0 - timedelta(minutes=1))


def test_signal_index(provider: WattTimeProvider, server: FixtureServer, wt_dir: Path) -> None:
    server.file("/v3/signal-index", wt_dir / "v3_signal-index_PSCO_co2_moer_percentile.json")
    assert provider.signal_index("PSCO") == 96.0
    (seen,) = server.requests_to("/v3/signal-index")
    assert seen.query == {"region": ["PSCO"], "signal_type": ["co2_moer"]}


# ---------------------------------------------------------------------- region from location
def test_region_from_loc(provider: WattTimeProvider, server: FixtureServer, wt_dir: Path) -> None:
    server.file("/v3/region-from-loc", wt_dir / "v3_region-from-loc_PSCO.json")
    assert provider.region_from_loc(39.74, -104.99) == "PSCO"
    (seen,) = server.requests_to("/v3/region-from-loc")
    assert seen.query["latitude"] == ["39.74"]
    assert seen.query["longitude"] == ["-104.99"]


def test_region_from_loc_without_coverage(
    provider: WattTimeProvider, server: FixtureServer, wt_dir: Path
) -> None:
    server.file(
        "/v3/region-from-loc", wt_dir / "error_404_region-from-loc_no_coverage.json", status=404
    )
    with pytest.raises(NoDataError) as info:
        provider.region_from_loc(0.0, 0.0)
    assert "No coverage available for these coordinates and signal_type" in str(info.value)
    assert info.value.status_code == 404
    assert_no_secrets(info.value)


# ---------------------------------------------------------------------- auth
def test_relogin_once_on_403_then_success(
    provider: WattTimeProvider, server: FixtureServer, wt_dir: Path
) -> None:
    forbidden = (wt_dir / "error_403_nginx_forbidden.html").read_bytes()
    ok = (wt_dir / "v3_historical_CAISO_NORTH_docs-example.json").read_bytes()
    server.route("/v3/historical", Answer(403, forbidden, "text/html"), Answer(200, ok))
    series = provider.history("CAISO_NORTH", T0, T0 + timedelta(minutes=10))
    assert series.values[0] == pytest.approx(g(870))
    assert len(server.requests_to("/login")) == 2
    assert len(server.requests_to("/v3/historical")) == 2


def test_second_refusal_is_an_authentication_error(
    provider: WattTimeProvider, server: FixtureServer, wt_dir: Path
) -> None:
    server.file("/v3/signal-index", wt_dir / "error_403_nginx_forbidden.html", status=403)
    with pytest.raises(AuthenticationError) as info:
        provider.signal_index("PSCO")
    assert info.value.status_code == 403
    assert "403 Forbidden" in str(info.value)
    assert len(server.requests_to("/login")) == 2
    assert len(server.requests_to("/v3/signal-index")) == 2
    assert_no_secrets(info.value)


def test_invalid_scope_keeps_the_provider_message(
    provider: WattTimeProvider, server: FixtureServer, wt_dir: Path
) -> None:
    server.file("/v3/forecast/historical", wt_dir / "error_403_invalid_scope.json", status=403)
    with pytest.raises(AuthenticationError) as info:
        provider.historical_forecasts("CAISO_ZP26", T0, T0 + timedelta(hours=1))
    assert "Invalid scope. You do not have sufficient access" in str(info.value)
    assert "CAISO_ZP26" in str(info.value)
    assert_no_secrets(info.value)


def test_refused_login_names_the_variables(
    provider: WattTimeProvider, server: FixtureServer, wt_dir: Path
) -> None:
    server.file("/login", wt_dir / "error_403_nginx_forbidden.html", status=403)
    with pytest.raises(AuthenticationError) as info:
        provider.history("CAISO_NORTH", T0, T0 + timedelta(minutes=10))
    assert "WATTTIME_USERNAME" in str(info.value)
    assert server.requests_to("/v3/historical") == []
    assert_no_secrets(info.value)


def test_login_answer_without_token(provider: WattTimeProvider, server: FixtureServer) -> None:
    server.route("/login", Answer(200, b"<html>maintenance</html>", "text/html"))
    with pytest.raises(AuthenticationError, match="no token"):
        provider.signal_index("PSCO")


def test_token_is_renewed_before_it_expires(
    provider: WattTimeProvider, server: FixtureServer, wt_dir: Path, clock: Clock
) -> None:
    server.file("/v3/signal-index", wt_dir / "v3_signal-index_PSCO_co2_moer_percentile.json")
    provider.signal_index("PSCO")
    clock.now += timedelta(minutes=10)
    provider.signal_index("PSCO")
    assert len(server.requests_to("/login")) == 1
    clock.now += timedelta(minutes=25)
    provider.signal_index("PSCO")
    assert len(server.requests_to("/login")) == 2


def test_missing_credentials_name_the_variable(
    server: FixtureServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("WATTTIME_USERNAME", raising=False)
    monkeypatch.delenv("WATTTIME_PASSWORD", raising=False)
    monkeypatch.setenv("CARBONSHIFT_CONFIG", str(tmp_path / "nonexistent.toml"))
    with (
        WattTimeProvider(base_url=server.url, max_retries=0) as p,
        pytest.raises(MissingCredentialError) as info,
    ):
        p.signal_index("PSCO")
    assert "WATTTIME_USERNAME" in str(info.value)
    assert server.seen == []

    monkeypatch.setenv("WATTTIME_USERNAME", USER)
    with (
        WattTimeProvider(base_url=server.url, max_retries=0) as p,
        pytest.raises(MissingCredentialError, match="WATTTIME_PASSWORD"),
    ):
        p.signal_index("PSCO")


def test_credentials_from_the_environment(
    server: FixtureServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, wt_dir: Path
) -> None:
    monkeypatch.setenv("WATTTIME_USERNAME", USER)
    monkeypatch.setenv("WATTTIME_PASSWORD", PASSWORD)
    monkeypatch.setenv("CARBONSHIFT_CONFIG", str(tmp_path / "nonexistent.toml"))
    server.route("/login", LOGIN)
    server.file("/v3/signal-index", wt_dir / "v3_signal-index_PSCO_co2_moer_percentile.json")
    with WattTimeProvider(base_url=server.url, max_retries=0) as p:
        assert p.signal_index("PSCO") == 96.0
    (login,) = server.requests_to("/login")
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert login.headers["authorization"] == f"Basic {basic}"


# ---------------------------------------------------------------------- cache
def _cached(server: FixtureServer, clock: Clock, cache_dir: Path) -> WattTimeProvider:
    server.route("/login", LOGIN)
    return WattTimeProvider(
        Secret(USER),
        Secret(PASSWORD),
        base_url=server.url,
        cache=ResponseCache(cache_dir),
        max_retries=0,
        clock=clock,
    )


def test_forecast_is_not_fetched_again_within_the_interval(
    server: FixtureServer, wt_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    server.route("/v3/forecast", Answer(200, _forecast_body(wt_dir)))
    with _cached(server, clock, tmp_path / "cache") as p:
        first = p.forecast("CAISO_NORTH")
        clock.now += timedelta(minutes=2)  # 12:04:30, still inside 12:00..12:05
        second = p.forecast("CAISO_NORTH")
        assert len(server.requests_to("/v3/forecast")) == 1
        np.testing.assert_array_equal(first.values, second.values)
        clock.now += timedelta(minutes=1)  # 12:05:30: a new interval
        p.forecast("CAISO_NORTH")
        assert len(server.requests_to("/v3/forecast")) == 2
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            content = path.read_text()
            for secret in SECRETS:
                assert secret not in content


def test_settled_history_is_cached_for_30_days(
    server: FixtureServer, wt_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    server.file("/v3/historical", wt_dir / "v3_historical_CAISO_NORTH_docs-example.json")
    with _cached(server, clock, tmp_path / "cache") as p:
        p.history("CAISO_NORTH", T0, T0 + timedelta(minutes=10))
        clock.now += timedelta(days=29)
    with _cached(server, clock, tmp_path / "cache") as p:
        again = p.history("CAISO_NORTH", T0, T0 + timedelta(minutes=10))
    assert len(server.requests_to("/v3/historical")) == 1
    assert again.values[1] == pytest.approx(g(860))


def test_recent_history_expires_with_the_interval(
    server: FixtureServer, wt_dir: Path, tmp_path: Path
) -> None:
    clock = Clock(T0 + timedelta(minutes=11))
    server.file("/v3/historical", wt_dir / "v3_historical_CAISO_NORTH_docs-example.json")
    with _cached(server, clock, tmp_path / "cache") as p:
        p.history("CAISO_NORTH", T0, T0 + timedelta(minutes=10))
        p.history("CAISO_NORTH", T0, T0 + timedelta(minutes=10))
        assert len(server.requests_to("/v3/historical")) == 1
        clock.now += timedelta(minutes=5)
        p.history("CAISO_NORTH", T0, T0 + timedelta(minutes=10))
        assert len(server.requests_to("/v3/historical")) == 2


def test_capabilities() -> None:
    caps = WattTimeProvider.capabilities
    assert caps.name == "watttime"
    assert caps.signal == "marginal"
    assert caps.accounting == "direct"
    assert caps.credential_env == ("WATTTIME_USERNAME", "WATTTIME_PASSWORD")
    assert caps.resolution == timedelta(minutes=5)
    assert math.isclose(LBS_PER_MWH_TO_G_PER_KWH, 453.59237 / 1000)
