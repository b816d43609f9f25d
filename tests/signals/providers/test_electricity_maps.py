"""ElectricityMapsProvider end to end: real HTTP to a local server serving recorded bodies
from the shared fixtures (see fixtures/README.md for the values asserted here)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from httpfixtures import Answer, FixtureServer

from carbonshift.errors import (
    AuthenticationError,
    DataError,
    MissingCredentialError,
    NoDataError,
    UsageError,
)
from carbonshift.signals.labels import Accounting
from carbonshift.signals.providers.cache import ResponseCache
from carbonshift.signals.providers.credentials import Secret
from carbonshift.signals.providers.electricity_maps import ElectricityMapsProvider
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import from_epoch_s, parse_time

TOKEN = "em-test-token-5f2c9a71"
LATEST = "/v3/carbon-intensity/latest"
HISTORY = "/v3/carbon-intensity/history"
PAST_RANGE = "/v3/carbon-intensity/past-range"
FORECAST = "/v3/carbon-intensity/forecast"

LATEST_DE = "v3_carbon-intensity_latest_DE_2024-03-01T2300Z.json"
LATEST_DUK = "v3_carbon-intensity_latest_US-CAR-DUK.json"
LATEST_MISO_LIFECYCLE = "v3_carbon-intensity_latest_US-MIDW-MISO_lifecycle_2024-09-24T0300Z.json"
LATEST_MISO_DIRECT = "v3_carbon-intensity_latest_US-MIDW-MISO_direct_2024-09-27T0000Z.json"
HISTORY_MISO_1 = "v3_carbon-intensity_history_US-MIDW-MISO_2024-11-30T0600Z.json"
HISTORY_MISO_2 = "v3_carbon-intensity_history_US-MIDW-MISO_2024-12-01T0600Z.json"
HISTORY_DE = "v3_carbon-intensity_history_DE_2024-03-05T2000Z.json"
PAST_RANGE_DK2 = "v3_carbon-intensity_past-range_DK-DK2_2024-03-18T0200Z.json"
FORECAST_DE = "v3_carbon-intensity_forecast_DE_2023-05-02T2000Z.json"
NO_RECENT_DATA = "v3_error_no_recent_data_US-MIDW-MISO_disableEstimations.json"
HA_OK = "v3_home-assistant_DE_ok_2023-10-02T0800Z.json"
HA_NO_DATA = "v3_home-assistant_DE_no-data.json"


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def em(fixtures_dir: Path) -> Path:
    return fixtures_dir / "electricity_maps"


class Factory:
    def __init__(self, server: FixtureServer) -> None:
        self.server = server
        self.waits: list[float] = []
        self.made: list[ElectricityMapsProvider] = []

    def __call__(
        self,
        now: str,
        *,
        token: Secret | None = Secret(TOKEN),
        cache: ResponseCache | None = None,
        **kw: Any,
    ) -> tuple[ElectricityMapsProvider, FakeClock]:
        clock = FakeClock(parse_time(now))
        provider = ElectricityMapsProvider(
            token=token,
            base_url=f"{self.server.url}/v3",
            cache=cache,
            clock=clock,
            sleep=self.waits.append,
            max_retries=1,
            timeout_s=5.0,
            **kw,
        )
        self.made.append(provider)
        return provider, clock


@pytest.fixture
def make(server: FixtureServer) -> Iterator[Factory]:
    factory = Factory(server)
    yield factory
    for provider in factory.made:
        provider.close()


def iso(seconds: int | np.integer[Any]) -> str:
    return from_epoch_s(int(seconds)).strftime("%Y-%m-%dT%H:%MZ")


def estimated(series: IntensitySeries) -> np.ndarray[Any, np.dtype[np.bool_]]:
    assert series.filled is not None
    return series.filled


# ---------------------------------------------------------------------- latest
def test_latest_de(server: FixtureServer, em: Path, make: Factory) -> None:
    server.file(LATEST, em / LATEST_DE)
    provider, _ = make("2024-03-01T23:10Z")
    s = provider.latest("DE")
    assert len(s) == 1
    assert s.resolution_s == 3600
    assert iso(s.start_s) == "2024-03-01T23:00Z"
    assert s.values[0] == 428
    assert estimated(s).tolist() == [True]
    labels = s.labels
    assert (labels.zone, labels.signal, labels.accounting, labels.basis, labels.kind) == (
        "DE",
        "average",
        "lifecycle",
        "consumption",
        "actual",
    )
    assert labels.provider == "electricity_maps"
    assert labels.unit == "gCO2eq/kWh"
    seen = server.requests_to(LATEST)[0]
    assert seen.query == {"zone": ["DE"], "emissionFactorType": ["lifecycle"]}
    assert seen.headers["auth-token"] == TOKEN


def test_latest_us_car_duk(server: FixtureServer, em: Path, make: Factory) -> None:
    server.file(LATEST, em / LATEST_DUK)
    provider, _ = make("2024-03-06T19:20Z")
    s = provider.latest("US-CAR-DUK")
    assert s.values[0] == 216
    assert iso(s.start_s) == "2024-03-06T19:00Z"
    assert estimated(s).tolist() == [True]
    assert s.labels.accounting == "lifecycle"


@pytest.mark.parametrize(
    ("fixture", "factor", "value", "when"),
    [
        (LATEST_MISO_LIFECYCLE, "lifecycle", 466, "2024-09-24T03:00Z"),
        (LATEST_MISO_DIRECT, "direct", 506, "2024-09-27T00:00Z"),
    ],
)
def test_latest_keeps_lifecycle_or_direct(
    server: FixtureServer,
    em: Path,
    make: Factory,
    fixture: str,
    factor: Accounting,
    value: int,
    when: str,
) -> None:
    server.file(LATEST, em / fixture)
    provider, _ = make("2024-09-27T00:30Z", emission_factor_type=factor)
    assert provider.capabilities.accounting == factor
    s = provider.latest("US-MIDW-MISO")
    assert server.requests_to(LATEST)[0].query["emissionFactorType"] == [factor]
    assert s.values[0] == value
    assert iso(s.start_s) == when
    assert s.labels.accounting == factor
    assert estimated(s).tolist() == [True]


def test_label_follows_the_answer_not_the_request(
    server: FixtureServer, em: Path, make: Factory
) -> None:
    server.file(LATEST, em / LATEST_MISO_DIRECT)
    provider, _ = make("2024-09-27T00:30Z")  # asks for lifecycle
    s = provider.latest("US-MIDW-MISO")
    assert s.labels.accounting == "direct"


def test_latest_is_not_sent_again_inside_the_hour(
    server: FixtureServer, em: Path, make: Factory, tmp_path: Path
) -> None:
    server.file(LATEST, em / LATEST_DE)
    provider, clock = make("2024-03-01T23:10Z", cache=ResponseCache(tmp_path))
    provider.latest("DE")
    clock.advance(timedelta(minutes=49))  # 23:59
    assert provider.latest("DE").values[0] == 428
    assert len(server.seen) == 1
    assert provider.requests_sent == 1
    clock.advance(timedelta(minutes=1))  # midnight: a new hour
    provider.latest("DE")
    assert len(server.seen) == 2


def test_legacy_home_assistant_body(server: FixtureServer, em: Path, make: Factory) -> None:
    server.file(LATEST, em / HA_OK)
    provider, _ = make("2023-10-02T08:20Z")
    s = provider.latest("DE")
    assert s.values[0] == 474
    assert iso(s.start_s) == "2023-10-02T08:00Z"


def test_home_assistant_no_data_is_no_data_not_zero(
    server: FixtureServer, em: Path, make: Factory
) -> None:
    server.file(LATEST, em / HA_NO_DATA)
    provider, _ = make("2023-10-02T08:20Z")
    with pytest.raises(NoDataError, match="no data for zone DE"):
        provider.latest("DE")


@pytest.mark.parametrize("status", [200, 400, 404])
def test_no_recent_data_names_the_zone(
    server: FixtureServer, em: Path, make: Factory, status: int
) -> None:
    server.file(LATEST, em / NO_RECENT_DATA, status=status)
    provider, _ = make("2024-09-27T00:30Z", disable_estimations=True)
    with pytest.raises(NoDataError) as info:
        provider.latest("US-MIDW-MISO")
    assert "no data for zone US-MIDW-MISO" in str(info.value)
    assert 'No recent data for zone "US-MIDW-MISO"' in str(info.value)
    assert info.value.status_code == status
    assert server.requests_to(LATEST)[0].query["disableEstimations"] == ["true"]
    assert len(server.seen) == 1  # not retried


def test_answer_for_another_zone_is_refused(server: FixtureServer, em: Path, make: Factory) -> None:
    server.file(LATEST, em / LATEST_DUK)  # recorded for US-CAR-DUK
    provider, _ = make("2024-03-06T19:20Z")
    with pytest.raises(DataError, match="asked for zone DE but the answer is for US-CAR-DUK"):
        provider.latest("DE")


# ---------------------------------------------------------------------- recent history
def test_recent_history_miso(server: FixtureServer, em: Path, make: Factory) -> None:
    server.file(HISTORY, em / HISTORY_MISO_1)
    provider, _ = make("2024-12-01T06:10Z")
    s = provider.recent_history("US-MIDW-MISO")
    assert len(s) == 24
    assert iso(s.start_s) == "2024-11-30T06:00Z"
    assert s.values[0] == 501
    assert iso(s.times_s[-1]) == "2024-12-01T05:00Z"
    assert s.values[-1] == 494
    assert estimated(s)[0]
    assert int(estimated(s).sum()) == 8
    assert s.labels.accounting == "lifecycle"
    assert s.labels.kind == "actual"
    assert not s.has_gaps()


def test_recent_history_de(server: FixtureServer, em: Path, make: Factory) -> None:
    server.file(HISTORY, em / HISTORY_DE)
    provider, _ = make("2024-03-06T20:10Z")
    s = provider.recent_history("DE")
    assert len(s) == 24
    assert (iso(s.start_s), s.values[0]) == ("2024-03-05T20:00Z", 599)
    assert (iso(s.times_s[-1]), s.values[-1]) == ("2024-03-06T19:00Z", 689)
    assert int(estimated(s).sum()) == 2


def test_recent_history_cached_for_the_hour_then_pulled_again(
    server: FixtureServer, em: Path, make: Factory, tmp_path: Path
) -> None:
    server.route(
        HISTORY,
        Answer(200, (em / HISTORY_MISO_1).read_bytes()),
        Answer(200, (em / HISTORY_MISO_2).read_bytes()),
    )
    provider, clock = make("2024-12-01T06:10Z", cache=ResponseCache(tmp_path))
    first = provider.recent_history("US-MIDW-MISO")
    clock.advance(timedelta(minutes=45))
    again = provider.recent_history("US-MIDW-MISO")
    assert len(server.seen) == 1
    np.testing.assert_array_equal(first.values, again.values)
    clock.advance(timedelta(hours=23, minutes=10))  # next day 06:05
    second = provider.recent_history("US-MIDW-MISO")
    assert len(server.seen) == 2
    assert len(second) == 24
    assert (iso(second.start_s), second.values[0]) == ("2024-12-01T06:00Z", 419)
    assert (iso(second.times_s[-1]), second.values[-1]) == ("2024-12-02T05:00Z", 501)
    assert int(estimated(second).sum()) == 8
    assert second.start_s == first.end_s  # consecutive, non-overlapping pulls


# ---------------------------------------------------------------------- past range
def test_past_range_dk2(server: FixtureServer, em: Path, make: Factory) -> None:
    server.file(PAST_RANGE, em / PAST_RANGE_DK2)
    provider, _ = make("2025-06-01T00:00Z")
    s = provider.history("DK-DK2", parse_time("2024-03-18T02:00Z"), parse_time("2024-03-18T04:00Z"))
    assert s.values.tolist() == [161, 167]
    assert iso(s.start_s) == "2024-03-18T02:00Z"
    assert estimated(s).tolist() == [False, False]
    assert s.labels.kind == "actual"
    seen = server.requests_to(PAST_RANGE)[0]
    assert seen.query == {
        "zone": ["DK-DK2"],
        "emissionFactorType": ["lifecycle"],
        "start": ["2024-03-18T02:00:00.000Z"],
        "end": ["2024-03-18T04:00:00.000Z"],
    }
    assert seen.headers["auth-token"] == TOKEN


def test_past_range_pads_the_request_with_nan(
    server: FixtureServer, em: Path, make: Factory
) -> None:
    server.file(PAST_RANGE, em / PAST_RANGE_DK2)
    provider, _ = make("2025-06-01T00:00Z")
    start, end = parse_time("2024-03-18T00:00Z"), parse_time("2024-03-18T06:00Z")
    s = provider.history("DK-DK2", start, end)
    assert (s.start, s.end) == (start, end)
    assert np.isnan(s.values[[0, 1, 4, 5]]).all()
    assert s.values[2:4].tolist() == [161, 167]


def test_past_range_is_split_into_10_day_chunks(
    server: FixtureServer, em: Path, make: Factory
) -> None:
    server.file(PAST_RANGE, em / PAST_RANGE_DK2)
    provider, _ = make("2025-06-01T00:00Z")
    s = provider.history("DK-DK2", parse_time("2024-03-01T00:00Z"), parse_time("2024-03-26T00:00Z"))
    spans = [(q.query["start"][0], q.query["end"][0]) for q in server.requests_to(PAST_RANGE)]
    assert spans == [
        ("2024-03-01T00:00:00.000Z", "2024-03-11T00:00:00.000Z"),
        ("2024-03-11T00:00:00.000Z", "2024-03-21T00:00:00.000Z"),
        ("2024-03-21T00:00:00.000Z", "2024-03-26T00:00:00.000Z"),
    ]
    assert len(s) == 25 * 24
    assert int(np.isfinite(s.values).sum()) == 2


def test_settled_past_range_is_cached_for_30_days(
    server: FixtureServer, em: Path, make: Factory, tmp_path: Path
) -> None:
    server.file(PAST_RANGE, em / PAST_RANGE_DK2)
    provider, clock = make("2025-06-01T00:00Z", cache=ResponseCache(tmp_path))
    start, end = parse_time("2024-03-18T02:00Z"), parse_time("2024-03-18T04:00Z")
    provider.history("DK-DK2", start, end)
    clock.advance(timedelta(days=29))
    assert provider.history("DK-DK2", start, end).values.tolist() == [161, 167]
    assert len(server.seen) == 1
    clock.advance(timedelta(days=2))
    provider.history("DK-DK2", start, end)
    assert len(server.seen) == 2


def test_recent_past_range_is_cached_only_for_the_hour(
    server: FixtureServer, em: Path, make: Factory, tmp_path: Path
) -> None:
    server.file(PAST_RANGE, em / PAST_RANGE_DK2)
    provider, clock = make("2024-03-18T05:30Z", cache=ResponseCache(tmp_path))
    start, end = parse_time("2024-03-18T02:00Z"), parse_time("2024-03-18T04:00Z")
    provider.history("DK-DK2", start, end)
    provider.history("DK-DK2", start, end)
    assert len(server.seen) == 1
    clock.advance(timedelta(minutes=30))
    provider.history("DK-DK2", start, end)
    assert len(server.seen) == 2


# ---------------------------------------------------------------------- forecast
def test_forecast_de(server: FixtureServer, em: Path, make: Factory, tmp_path: Path) -> None:
    server.file(FORECAST, em / FORECAST_DE)
    provider, clock = make("2023-05-02T20:05Z", cache=ResponseCache(tmp_path))
    fc = provider.forecast("DE")
    assert len(fc) == 48
    assert (iso(fc.start_s), fc.values[0]) == ("2023-05-02T20:00Z", 557)
    assert (iso(fc.times_s[-1]), fc.values[-1]) == ("2023-05-04T19:00Z", 590)
    np.testing.assert_array_equal(fc.values[:24], fc.values[24:])  # that tier repeated day 1
    assert fc.labels.kind == "forecast"
    assert fc.labels.issued_at == datetime(2023, 5, 2, 19, 52, 9, 141000, tzinfo=UTC)
    assert fc.labels.accounting == "lifecycle"  # no emissionFactorType in the body: as asked
    assert not estimated(fc).any()
    # inside the same hour the forecast is not asked for again
    clock.advance(timedelta(minutes=50))
    provider.forecast("DE", now=clock.now)
    assert len(server.seen) == 1


def test_forecast_for_a_decision_before_its_issue_is_refused(
    server: FixtureServer, em: Path, make: Factory
) -> None:
    server.file(FORECAST, em / FORECAST_DE)
    provider, _ = make("2023-05-02T20:05Z")
    with pytest.raises(UsageError, match="only its current forecast"):
        provider.forecast("DE", now=parse_time("2023-05-02T19:00Z"))


# ---------------------------------------------------------------------- credentials
def test_token_is_sent_only_in_the_header_and_never_shown(
    server: FixtureServer, make: Factory, tmp_path: Path
) -> None:
    server.route(LATEST, Answer(401, b'{"error": "Token is invalid"}'))
    provider, _ = make("2024-03-01T23:10Z", cache=ResponseCache(tmp_path))
    with pytest.raises(AuthenticationError) as info:
        provider.latest("DE")
    seen = server.requests_to(LATEST)[0]
    assert seen.headers["auth-token"] == TOKEN
    assert all(TOKEN not in v for values in seen.query.values() for v in values)
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value)
    assert TOKEN not in info.value.one_line()
    assert TOKEN not in repr(provider)
    assert TOKEN not in str(provider)
    assert TOKEN not in repr(vars(provider))
    assert "Token is invalid" in str(info.value)


def test_token_never_reaches_the_cache(
    server: FixtureServer, em: Path, make: Factory, tmp_path: Path
) -> None:
    server.file(LATEST, em / LATEST_DE)
    provider, _ = make("2024-03-01T23:10Z", cache=ResponseCache(tmp_path))
    provider.latest("DE")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert TOKEN not in path.name
        assert TOKEN not in path.read_text(encoding="utf-8")


def test_missing_token_names_the_variable(
    server: FixtureServer, make: Factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ELECTRICITYMAPS_TOKEN", raising=False)
    monkeypatch.setenv("CARBONSHIFT_CONFIG", str(tmp_path / "does-not-exist.toml"))
    provider, _ = make("2024-03-01T23:10Z", token=None)  # resolved lazily: no error yet
    with pytest.raises(MissingCredentialError) as info:
        provider.latest("DE")
    assert "ELECTRICITYMAPS_TOKEN" in str(info.value)
    assert info.value.exit_code == 2
    assert server.seen == []


def test_token_from_the_environment(
    server: FixtureServer, em: Path, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELECTRICITYMAPS_TOKEN", "from-env-token")
    server.file(LATEST, em / LATEST_DE)
    provider, _ = make("2024-03-01T23:10Z", token=None)
    provider.latest("DE")
    assert server.requests_to(LATEST)[0].headers["auth-token"] == "from-env-token"
    assert "from-env-token" not in repr(provider)


def test_token_from_the_config_file(
    server: FixtureServer,
    em: Path,
    make: Factory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("ELECTRICITYMAPS_TOKEN", raising=False)
    config = tmp_path / "config.toml"
    config.write_text('[credentials]\nELECTRICITYMAPS_TOKEN = "from-file-token"\n')
    monkeypatch.setenv("CARBONSHIFT_CONFIG", str(config))
    server.file(LATEST, em / LATEST_DE)
    provider, _ = make("2024-03-01T23:10Z", token=None)
    provider.latest("DE")
    assert server.requests_to(LATEST)[0].headers["auth-token"] == "from-file-token"


def test_explicit_token_overrides_the_environment(
    server: FixtureServer, em: Path, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELECTRICITYMAPS_TOKEN", "from-env-token")
    server.file(LATEST, em / LATEST_DE)
    provider, _ = make("2024-03-01T23:10Z")
    provider.latest("DE")
    assert server.requests_to(LATEST)[0].headers["auth-token"] == TOKEN


def test_bad_options_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="emission_factor_type"):
        ElectricityMapsProvider(emission_factor_type="operational")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="Secret"):
        ElectricityMapsProvider(token="plain")  # type: ignore[arg-type]


def test_capabilities() -> None:
    with ElectricityMapsProvider(token=Secret(TOKEN)) as provider:
        caps = provider.capabilities
    assert (caps.signal, caps.accounting, caps.basis) == ("average", "lifecycle", "consumption")
    assert caps.credential_env == ("ELECTRICITYMAPS_TOKEN",)
    assert caps.max_range == timedelta(days=10)
    assert caps.resolution == timedelta(hours=1)
    assert caps.auth == "token"
