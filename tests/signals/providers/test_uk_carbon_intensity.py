"""UKCarbonIntensityProvider end to end: real HTTP to a local server serving recorded bodies
from the shared fixtures (see fixtures/README.md for the values asserted here)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from httpfixtures import Answer, FixtureServer

from carbonshift.errors import (
    NoDataError,
    ProviderError,
    ProviderUnavailableError,
    UnknownZoneError,
    UsageError,
)
from carbonshift.signals.providers.cache import ResponseCache
from carbonshift.signals.providers.uk_carbon_intensity import (
    ForecastWindow,
    UKCarbonIntensityProvider,
    parse_zone,
)
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import from_epoch_s, parse_time

NATIONAL_48H = "national_intensity_fw48h_2023-03-14T1200Z.json"
NATIONAL_2017 = "national_intensity_fw24h_2017-10-01T1130Z.json"
NATIONAL_2019 = "national_intensity_forward_48periods_2019-08-25T1230Z.json"
REGIONAL_ALL = "regional_intensity_forward_all_regions_48periods_2019-08-25T1230Z.json"
POSTCODE_BH1 = "regional_intensity_fw24h_postcode_BH1_2020-05-19T2000Z.json"
ERROR_400 = "error_400_invalid_datetime.json"


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def uk(fixtures_dir: Path) -> Path:
    return fixtures_dir / "uk_carbon_intensity"


@pytest.fixture
def waits() -> list[float]:
    return []


class Factory:
    def __init__(self, server: FixtureServer, waits: list[float]) -> None:
        self.server = server
        self.waits = waits
        self.made: list[UKCarbonIntensityProvider] = []

    def __call__(
        self,
        now: str,
        *,
        cache: ResponseCache | None = None,
        window: ForecastWindow = "fw48h",
    ) -> tuple[UKCarbonIntensityProvider, FakeClock]:
        clock = FakeClock(parse_time(now))
        provider = UKCarbonIntensityProvider(
            base_url=self.server.url,
            cache=cache,
            clock=clock,
            sleep=self.waits.append,
            max_retries=1,
            timeout_s=5.0,
            forecast_window=window,
        )
        self.made.append(provider)
        return provider, clock


@pytest.fixture
def make(server: FixtureServer, waits: list[float]) -> Iterator[Factory]:
    factory = Factory(server, waits)
    yield factory
    for provider in factory.made:
        provider.close()


def at(series: IntensitySeries, when: str) -> float:
    return float(series.values[(int(parse_time(when).timestamp()) - series.start_s) // 1800])


def iso(seconds: int) -> str:
    return from_epoch_s(seconds).strftime("%Y-%m-%dT%H:%MZ")


# ---------------------------------------------------------------------- zones and labels
def test_zones() -> None:
    assert parse_zone("GB").national
    assert parse_zone("gb-13").region_id == 13
    assert parse_zone("GB-postcode-bh1").postcode == "BH1"
    assert parse_zone("GB-postcode-BH1").zone == "GB-postcode-BH1"
    for bad in ("FR", "GB-0", "GB-18", "GB-postcode-!!", "GB-postcode-123456"):
        with pytest.raises(UnknownZoneError, match="unknown zone"):
            parse_zone(bad)


def test_capabilities_say_average_direct_consumption() -> None:
    caps = UKCarbonIntensityProvider.capabilities
    assert (caps.signal, caps.accounting, caps.basis) == ("average", "direct", "consumption")
    assert caps.resolution == timedelta(minutes=30)
    assert caps.forecast_horizon == timedelta(hours=48)
    assert caps.max_range == timedelta(days=14)
    assert caps.auth == "none"


# ---------------------------------------------------------------------- national forecast
def test_national_forecast_fw48h(server: FixtureServer, uk: Path, make: Factory) -> None:
    server.file("/intensity/2023-03-14T12:00Z/fw48h", uk / NATIONAL_48H)
    provider, _ = make("2023-03-14T12:01Z")
    fc = provider.forecast("GB")
    assert len(server.requests_to("/intensity/2023-03-14T12:00Z/fw48h")) == 1
    assert len(fc) == 96
    assert fc.resolution_s == 1800
    assert iso(fc.start_s) == "2023-03-14T12:00Z"
    assert fc.values[0] == 93
    assert iso(int(fc.times_s[-1])) == "2023-03-16T11:30Z"
    assert fc.values[-1] == 60
    assert not fc.has_gaps()
    assert fc.values.min() == 60
    assert iso(int(fc.times_s[int(np.argmin(fc.values))])) == "2023-03-16T10:00Z"
    assert fc.values.max() == 236
    assert iso(int(fc.times_s[int(np.argmax(fc.values))])) == "2023-03-15T06:30Z"
    labels = fc.labels
    assert labels.kind == "forecast"
    assert labels.issued_at == datetime(2023, 3, 14, 12, 0, tzinfo=UTC)
    assert (labels.zone, labels.signal, labels.accounting, labels.basis) == (
        "GB",
        "average",
        "direct",
        "consumption",
    )
    assert labels.provider == "uk_carbon_intensity"
    assert labels.unit == "gCO2/kWh"


def test_forecast_fw24h_window_and_explicit_now(
    server: FixtureServer, uk: Path, make: Factory
) -> None:
    server.file("/intensity/2017-10-01T11:30Z/fw24h", uk / NATIONAL_2017)
    provider, clock = make("2017-10-01T11:44Z", window="fw24h")
    fc = provider.forecast("GB", now=clock.now)
    assert len(fc) == 49
    assert fc.values[0] == 145
    assert fc.values[-1] == 155
    assert fc.labels.issued_at == datetime(2017, 10, 1, 11, 30, tzinfo=UTC)


def test_forecast_for_a_past_decision_time_is_refused(
    server: FixtureServer, uk: Path, make: Factory
) -> None:
    server.file("/intensity/2023-03-14T11:00Z/fw48h", uk / NATIONAL_48H)
    provider, clock = make("2023-03-14T12:01Z")
    with pytest.raises(UsageError, match="only its current forecast"):
        provider.forecast("GB", now=clock.now - timedelta(hours=1))
    assert server.seen == []


def test_forecast_is_not_sent_again_inside_the_half_hour(
    server: FixtureServer, uk: Path, make: Factory, tmp_path: Path
) -> None:
    server.file("/intensity/2023-03-14T12:00Z/fw48h", uk / NATIONAL_48H)
    server.file("/intensity/2023-03-14T12:30Z/fw48h", uk / NATIONAL_48H)
    provider, clock = make("2023-03-14T12:01Z", cache=ResponseCache(tmp_path))
    first = provider.forecast("GB")
    clock.advance(timedelta(minutes=28))  # 12:29, same half-hour
    again = provider.forecast("GB")
    assert len(server.seen) == 1
    assert provider.requests_sent == 1
    np.testing.assert_array_equal(first.values, again.values)
    clock.advance(timedelta(minutes=2))  # 12:31: a new half-hour, a new request
    later = provider.forecast("GB")
    assert len(server.seen) == 2
    assert server.seen[-1].path == "/intensity/2023-03-14T12:30Z/fw48h"
    assert later.labels.issued_at == datetime(2023, 3, 14, 12, 30, tzinfo=UTC)
    # (the same recorded body is served again: the half-hour that ended is dropped)
    assert iso(later.start_s) == "2023-03-14T12:30Z"
    assert len(later) == 95


# ---------------------------------------------------------------------- national history
def test_history_returns_actuals(server: FixtureServer, uk: Path, make: Factory) -> None:
    server.file("/intensity/2017-10-01T11:30Z/2017-10-02T12:00Z", uk / NATIONAL_2017)
    provider, _ = make("2024-01-01T00:00Z")
    hist = provider.history("GB", parse_time("2017-10-01T11:30Z"), parse_time("2017-10-02T12:00Z"))
    assert len(hist) == 49
    assert iso(hist.start_s) == "2017-10-01T11:30Z"
    assert hist.values[0] == 143  # the actual, not the forecast 145
    assert iso(int(hist.times_s[-1])) == "2017-10-02T11:30Z"
    assert hist.values[-1] == 184  # the actual, not the forecast 155
    assert hist.labels.kind == "actual"
    assert hist.labels.issued_at is None
    assert hist.labels.accounting == "direct"


def test_history_2019_actuals(server: FixtureServer, uk: Path, make: Factory) -> None:
    server.file("/intensity/2019-08-25T12:30Z/2019-08-26T12:30Z", uk / NATIONAL_2019)
    provider, _ = make("2024-01-01T00:00Z")
    hist = provider.history("GB", parse_time("2019-08-25T12:30Z"), parse_time("2019-08-26T12:30Z"))
    assert len(hist) == 48
    assert hist.values[0] == 178
    assert at(hist, "2019-08-26T12:00Z") == 194
    assert not hist.has_gaps()


def test_history_missing_actuals_are_nan_not_forecasts(
    server: FixtureServer, uk: Path, make: Factory
) -> None:
    server.file("/intensity/2023-03-14T12:00Z/2023-03-16T12:00Z", uk / NATIONAL_48H)
    provider, _ = make("2023-03-14T12:01Z")
    hist = provider.history("GB", parse_time("2023-03-14T12:00Z"), parse_time("2023-03-16T12:00Z"))
    assert len(hist) == 96
    assert np.isnan(hist.values).all()
    assert hist.labels.kind == "actual"


def test_history_is_split_into_14_day_chunks(
    server: FixtureServer, uk: Path, make: Factory
) -> None:
    first = "/intensity/2017-09-17T11:30Z/2017-10-01T11:30Z"
    second = "/intensity/2017-10-01T11:30Z/2017-10-02T12:00Z"
    server.route(first, Answer(200, b'{"data": []}'))
    server.file(second, uk / NATIONAL_2017)
    provider, _ = make("2024-01-01T00:00Z")
    start, end = parse_time("2017-09-17T11:30Z"), parse_time("2017-10-02T12:00Z")
    hist = provider.history("GB", start, end)
    assert [s.path for s in server.seen] == [first, second]
    # the series covers the whole request; steps the API did not answer are NaN
    assert hist.start == start
    assert hist.end == end
    assert len(hist) == 14 * 48 + 49
    assert np.isnan(hist.values[: 14 * 48]).all()
    assert at(hist, "2017-10-01T11:30Z") == 143
    assert hist.values[-1] == 184


def test_history_widens_to_whole_half_hours_and_trims_extras(
    server: FixtureServer, uk: Path, make: Factory
) -> None:
    server.file("/intensity/2017-10-01T12:00Z/2017-10-01T13:00Z", uk / NATIONAL_2017)
    provider, _ = make("2024-01-01T00:00Z")
    hist = provider.history("GB", parse_time("2017-10-01T12:10Z"), parse_time("2017-10-01T12:40Z"))
    assert iso(hist.start_s) == "2017-10-01T12:00Z"
    assert len(hist) == 2
    assert list(hist.values) == [140, 140]


def test_settled_history_is_cached_for_30_days(
    server: FixtureServer, uk: Path, make: Factory, tmp_path: Path
) -> None:
    server.file("/intensity/2017-10-01T11:30Z/2017-10-02T12:00Z", uk / NATIONAL_2017)
    provider, clock = make("2024-01-01T00:00Z", cache=ResponseCache(tmp_path))
    start, end = parse_time("2017-10-01T11:30Z"), parse_time("2017-10-02T12:00Z")
    provider.history("GB", start, end)
    clock.advance(timedelta(days=29))
    assert provider.history("GB", start, end).values[0] == 143
    assert len(server.seen) == 1
    clock.advance(timedelta(days=2))
    provider.history("GB", start, end)
    assert len(server.seen) == 2


def test_recent_history_is_cached_until_the_next_half_hour(
    server: FixtureServer, uk: Path, make: Factory, tmp_path: Path
) -> None:
    path = "/intensity/2017-10-01T11:30Z/2017-10-02T12:00Z"
    server.file(path, uk / NATIONAL_2017)
    provider, clock = make("2017-10-02T12:05Z", cache=ResponseCache(tmp_path))
    start, end = parse_time("2017-10-01T11:30Z"), parse_time("2017-10-02T12:00Z")
    provider.history("GB", start, end)
    provider.history("GB", start, end)
    assert len(server.seen) == 1
    clock.advance(timedelta(minutes=25))  # 12:30: actuals may have been revised
    provider.history("GB", start, end)
    assert len(server.seen) == 2


def test_empty_answer_is_no_data(server: FixtureServer, make: Factory) -> None:
    server.route("/intensity/2030-01-01T00:00Z/2030-01-02T00:00Z", Answer(200, b'{"data": []}'))
    provider, _ = make("2024-01-01T00:00Z")
    with pytest.raises(NoDataError, match="no data for zone GB"):
        provider.history("GB", parse_time("2030-01-01T00:00Z"), parse_time("2030-01-02T00:00Z"))


def test_empty_period_is_a_usage_error(make: Factory) -> None:
    provider, _ = make("2024-01-01T00:00Z")
    t = parse_time("2020-01-01T00:00Z")
    with pytest.raises(UsageError):
        provider.history("GB", t, t)


# ---------------------------------------------------------------------- regional
def test_postcode_forecast_bh1(server: FixtureServer, uk: Path, make: Factory) -> None:
    path = "/regional/intensity/2020-05-19T20:00Z/fw24h/postcode/BH1"
    server.file(path, uk / POSTCODE_BH1)
    provider, _ = make("2020-05-19T20:05Z", window="fw24h")
    fc = provider.forecast("GB-postcode-BH1")
    assert [s.path for s in server.seen] == [path]
    assert len(fc) == 48
    assert iso(fc.start_s) == "2020-05-19T20:00Z"
    assert fc.values[0] == 307
    assert fc.values.min() == 161
    assert iso(int(fc.times_s[int(np.argmin(fc.values))])) == "2020-05-20T14:00Z"
    assert fc.labels.zone == "GB-postcode-BH1"
    assert fc.labels.kind == "forecast"
    assert fc.labels.issued_at == datetime(2020, 5, 19, 20, 0, tzinfo=UTC)


def test_regionid_forecast(server: FixtureServer, uk: Path, make: Factory) -> None:
    # a region-id answer has the postcode answer's region object inside a list
    region = json.loads((uk / POSTCODE_BH1).read_bytes())["data"]
    del region["postcode"]
    path = "/regional/intensity/2020-05-19T20:00Z/fw48h/regionid/11"
    server.route(path, Answer(200, json.dumps({"data": [region]}).encode()))
    provider, _ = make("2020-05-19T20:05Z")
    fc = provider.forecast("GB-11")
    assert [s.path for s in server.seen] == [path]
    assert fc.labels.zone == "GB-11"
    assert fc.values[0] == 307
    assert at(fc, "2020-05-20T14:00Z") == 161


def test_all_regions_forecast(server: FixtureServer, uk: Path, make: Factory) -> None:
    server.file("/regional/intensity/2019-08-25T12:30Z/fw48h", uk / REGIONAL_ALL)
    provider, _ = make("2019-08-25T12:31Z")
    regions = provider.forecast_all_regions()
    assert sorted(regions, key=lambda z: int(z.split("-")[1])) == [f"GB-{i}" for i in range(1, 18)]
    north = regions["GB-1"]
    assert len(north) == 48
    assert iso(north.start_s) == "2019-08-25T12:30Z"
    assert north.values[0] == 23
    assert regions["GB-2"].values[0] == 5
    assert north.labels.kind == "forecast"
    assert north.labels.zone == "GB-1"


def test_regional_entries_in_an_all_regions_answer_can_serve_one_region(
    server: FixtureServer, uk: Path, make: Factory
) -> None:
    path = "/regional/intensity/2019-08-25T12:30Z/2019-08-26T12:30Z/regionid/1"
    server.file(path, uk / REGIONAL_ALL)
    provider, _ = make("2024-01-01T00:00Z")
    hist = provider.history(
        "GB-1", parse_time("2019-08-25T12:30Z"), parse_time("2019-08-26T12:30Z")
    )
    assert hist.values[0] == 23
    # regional figures are forecasts only: labelled as such, never as actuals
    assert hist.labels.kind == "forecast"
    assert hist.labels.issued_at is None


def test_postcode_history_uses_the_regional_range_endpoint(
    server: FixtureServer, uk: Path, make: Factory
) -> None:
    path = "/regional/intensity/2020-05-19T20:00Z/2020-05-20T20:00Z/postcode/BH1"
    server.file(path, uk / POSTCODE_BH1)
    provider, _ = make("2024-01-01T00:00Z")
    hist = provider.history(
        "GB-postcode-BH1", parse_time("2020-05-19T20:00Z"), parse_time("2020-05-20T20:00Z")
    )
    assert len(hist) == 48
    assert hist.values[0] == 307
    assert at(hist, "2020-05-20T14:00Z") == 161
    assert hist.labels.kind == "forecast"


# ---------------------------------------------------------------------- errors
def test_error_400_raises_with_the_api_message(
    server: FixtureServer, uk: Path, make: Factory
) -> None:
    server.file("/intensity/2023-03-14T12:00Z/fw48h", uk / ERROR_400, status=400)
    provider, _ = make("2023-03-14T12:01Z")
    with pytest.raises(ProviderError) as info:
        provider.forecast("GB")
    assert info.value.status_code == 400
    assert "Please enter a valid datetime in ISO8601 format" in str(info.value)
    assert len(server.seen) == 1  # a 400 is not retried


def test_error_body_with_200_is_still_an_error(
    server: FixtureServer, uk: Path, make: Factory
) -> None:
    server.file("/intensity/2023-03-14T12:00Z/fw48h", uk / ERROR_400)
    provider, _ = make("2023-03-14T12:01Z")
    with pytest.raises(ProviderError, match="Please enter a valid datetime"):
        provider.forecast("GB")


def test_service_down_is_unavailable(
    server: FixtureServer, make: Factory, waits: list[float]
) -> None:
    server.route(
        "/intensity/2023-03-14T12:00Z/fw48h",
        Answer(503, b"<h1>Service Unavailable</h1>", "text/html"),
    )
    provider, _ = make("2023-03-14T12:01Z")
    with pytest.raises(ProviderUnavailableError):
        provider.forecast("GB")
    assert len(server.seen) == 2
    assert waits == [0.5]


def test_unexpected_shape_is_a_provider_error(server: FixtureServer, make: Factory) -> None:
    server.route("/intensity/2023-03-14T12:00Z/fw48h", Answer(200, b'{"data": [{"to": "x"}]}'))
    provider, _ = make("2023-03-14T12:01Z")
    with pytest.raises(ProviderError, match="unexpected answer"):
        provider.forecast("GB")


def test_null_forecast_values_are_nan(server: FixtureServer, make: Factory) -> None:
    body = {
        "data": [
            {"from": "2023-03-14T12:00Z", "to": "2023-03-14T12:30Z", "intensity": {"forecast": 90}},
            {
                "from": "2023-03-14T12:30Z",
                "to": "2023-03-14T13:00Z",
                "intensity": {"forecast": None},
            },
        ]
    }
    server.route("/intensity/2023-03-14T12:00Z/fw48h", Answer(200, json.dumps(body).encode()))
    provider, _ = make("2023-03-14T12:01Z")
    fc = provider.forecast("GB")
    assert fc.values[0] == 90
    assert math.isnan(fc.values[1])
