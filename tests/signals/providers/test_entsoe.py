"""ENTSO-E Transparency Platform client, end to end through the real HTTP path against the
recorded A75 documents and error bodies in the shared fixtures."""

from __future__ import annotations

import traceback
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from httpfixtures import Answer, FixtureServer

from carbonshift.errors import (
    AuthenticationError,
    CarbonshiftError,
    MissingCredentialError,
    NoDataError,
    ProviderError,
    UnknownZoneError,
)
from carbonshift.signals.providers.cache import ResponseCache
from carbonshift.signals.providers.credentials import Secret
from carbonshift.signals.providers.entsoe import (
    EMISSION_FACTORS,
    PSR_TYPES,
    EntsoeProvider,
    intensity_from_mix,
    parse_generation_document,
)

TOKEN = "entsoe-tok-5d2e9b71"
PATH = "/api"

FI = "A75_actual_generation_per_type_FI_2025-10-21_PT15M_curveA03.xml"
SE4 = "A75_actual_generation_per_type_SE4_2025-10-20_PT60M_curveA03.xml"
NO5 = "A75_actual_generation_per_type_NO5_2023-05-09_PT60M.xml"
LU = "A75_actual_generation_per_type_LU_2024-05-21_PT15M_split_series.xml"

FI_START = datetime(2025, 10, 21, 12, tzinfo=UTC)
FI_END = datetime(2025, 10, 24, 12, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def ent_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "entsoe"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 1, 5, 9, 7, tzinfo=UTC))


@pytest.fixture
def provider(server: FixtureServer, clock: Clock) -> Iterator[EntsoeProvider]:
    p = EntsoeProvider(
        Secret(TOKEN),
        base_url=server.url + PATH,
        max_retries=0,
        backoff_s=0.0,
        clock=clock,
        sleep=lambda _s: None,
    )
    try:
        yield p
    finally:
        p.close()


def assert_no_token(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc)) + repr(exc.args)
    if isinstance(exc, CarbonshiftError):
        text += exc.one_line()
    assert TOKEN not in text


def first_quantities(path: Path) -> dict[str, float]:
    """Position-1 quantity of every TimeSeries, read straight from the XML (for hand checks)."""
    out: dict[str, float] = {}
    for el in ET.parse(path).getroot().iter():
        if el.tag.endswith("}TimeSeries"):
            psr = next(e.text for e in el.iter() if e.tag.endswith("}psrType"))
            point = next(e for e in el.iter() if e.tag.endswith("}Point"))
            pos = next(e.text for e in point if e.tag.endswith("}position"))
            qty = next(e.text for e in point if e.tag.endswith("}quantity"))
            assert pos == "1" and psr is not None and qty is not None
            out[psr] = float(qty)
    return out


# ---------------------------------------------------------------------- FI (A03, PT15M)
def test_fi_generation_by_type(
    provider: EntsoeProvider, server: FixtureServer, ent_dir: Path
) -> None:
    server.file(PATH, ent_dir / FI)
    mix = provider.generation_by_type("FI", FI_START, FI_END)
    assert list(mix.mw) == [
        "B01", "B04", "B05", "B06", "B08", "B11", "B14", "B15", "B16", "B17", "B19", "B20",
    ]  # fmt: skip
    assert mix.zone == "FI"
    assert mix.resolution_s == 900
    assert mix.start == FI_START
    assert len(mix) == 288
    for values in mix.mw.values():
        assert values.shape == (288,)
        assert not np.isnan(values).any()  # A03: every step is defined
    assert mix.mw["B01"][0] == 723.2
    assert mix.mw["B14"][0] == 4175.7
    assert mix.mw["B19"][0] == 4110.7


def test_fi_b15_is_forward_filled_from_four_points(
    provider: EntsoeProvider, server: FixtureServer, ent_dir: Path
) -> None:
    server.file(PATH, ent_dir / FI)
    (b15,) = [
        b for b in parse_generation_document((ent_dir / FI).read_bytes()) if b.psr_type == "B15"
    ]
    assert b15.points == 4
    assert b15.curve_type == "A03"
    assert b15.values.size == 288

    root = ET.parse(ent_dir / FI).getroot()
    given: dict[int, float] = {}
    for series in root.iter():
        if series.tag.endswith("}TimeSeries") and any(
            e.tag.endswith("}psrType") and e.text == "B15" for e in series.iter()
        ):
            for point in (e for e in series.iter() if e.tag.endswith("}Point")):
                pos = int(next(e.text or "" for e in point if e.tag.endswith("}position")))
                given[pos] = float(next(e.text or "" for e in point if e.tag.endswith("}quantity")))
    assert sorted(given) == [1, 19, 20, 21]

    values = provider.generation_by_type("FI", FI_START, FI_END).mw["B15"]
    assert values.size == 288
    np.testing.assert_array_equal(values[0:18], given[1])  # positions 1..18
    assert values[18] == given[19]
    assert values[19] == given[20]
    np.testing.assert_array_equal(values[20:], given[21])  # position 21 to the period end


def test_fi_history_equals_hand_computation(
    provider: EntsoeProvider, server: FixtureServer, ent_dir: Path
) -> None:
    server.file(PATH, ent_dir / FI)
    series = provider.history("FI", FI_START, FI_END)
    assert len(series) == 288
    assert series.resolution_s == 900
    assert series.start == FI_START
    assert not series.has_gaps()
    labels = series.labels
    assert (labels.zone, labels.signal, labels.accounting, labels.basis, labels.provider) == (
        "FI",
        "average",
        "lifecycle",
        "production",
        "entsoe",
    )
    assert labels.kind == "actual"
    assert labels.unit == "gCO2eq/kWh"

    # IPCC AR5 WG3 Annex III medians (and the documented proxies) for FI's types
    factors = {
        "B01": 230, "B04": 490, "B05": 820, "B06": 650, "B08": 820, "B11": 24,
        "B14": 12, "B15": 230, "B16": 48, "B17": 230, "B19": 11, "B20": 700,
    }  # fmt: skip
    mw = first_quantities(ent_dir / FI)
    assert mw["B01"] == 723.2
    expected = sum(mw[k] * factors[k] for k in mw) / sum(mw.values())
    assert series.values[0] == pytest.approx(expected, rel=1e-12)
    assert 30 < series.values[0] < 80


def test_request_parameters(provider: EntsoeProvider, server: FixtureServer, ent_dir: Path) -> None:
    server.file(PATH, ent_dir / FI)
    provider.history("FI", FI_START, FI_END)
    (seen,) = server.requests_to(PATH)
    assert seen.query == {
        "securityToken": [TOKEN],
        "documentType": ["A75"],
        "processType": ["A16"],
        "in_Domain": ["10YFI-1--------U"],
        "periodStart": ["202510211200"],
        "periodEnd": ["202510241200"],
    }


# ---------------------------------------------------------------------- SE4 (A03, PT60M)
def test_se4_point_counts_and_expansion(
    provider: EntsoeProvider, server: FixtureServer, ent_dir: Path
) -> None:
    blocks = parse_generation_document((ent_dir / SE4).read_bytes())
    assert [(b.psr_type, b.points) for b in blocks] == [
        ("B04", 52),
        ("B12", 70),
        ("B16", 65),
        ("B19", 71),
        ("B20", 71),
    ]
    server.file(PATH, ent_dir / SE4)
    start = datetime(2025, 10, 20, 11, tzinfo=UTC)
    mix = provider.generation_by_type("SE-SE4", start, start + timedelta(hours=71))
    assert mix.resolution_s == 3600
    assert len(mix) == 71
    for values in mix.mw.values():
        assert not np.isnan(values).any()
    assert mix.mw["B19"][0] == 1434.47
    assert any(80.24725 in values for values in mix.mw.values())
    series = provider.history("SE-SE4", start, start + timedelta(hours=71))
    assert len(series) == 71
    assert not series.has_gaps()


# ---------------------------------------------------------------------- NO5 (A01, PT60M)
def test_no5_last_hour_missing(
    provider: EntsoeProvider, server: FixtureServer, ent_dir: Path
) -> None:
    server.file(PATH, ent_dir / NO5)
    start = datetime(2023, 5, 9, 9, tzinfo=UTC)
    end = datetime(2023, 5, 11, 9, tzinfo=UTC)
    mix = provider.generation_by_type("NO-NO5", start, end)
    assert len(mix) == 48
    assert sorted(mix.mw) == ["B04", "B10", "B11", "B12", "B17"]
    for values in mix.mw.values():
        assert np.count_nonzero(~np.isnan(values)) == 47
        assert np.isnan(values[-1])
    assert mix.mw["B12"][0] == 769  # hydro reservoir runs from 769 ...
    assert mix.mw["B12"][46] == 3095  # ... to 3095 in the last reported hour

    series = provider.history("NO-NO5", start, end)
    assert len(series) == 48
    assert series.resolution_s == 3600
    assert np.isnan(series.values[-1])
    assert not np.isnan(series.values[:-1]).any()
    assert series.end == end


# ---------------------------------------------------------------------- LU (split series)
def test_lu_split_series_are_merged_and_the_hole_is_kept(
    provider: EntsoeProvider, server: FixtureServer, ent_dir: Path
) -> None:
    blocks = parse_generation_document((ent_dir / LU).read_bytes())
    assert len(blocks) == 12
    assert len({b.psr_type for b in blocks}) == 7
    server.file(PATH, ent_dir / LU)
    start = datetime(2024, 5, 21, 10, tzinfo=UTC)
    end = datetime(2024, 5, 24, 10, tzinfo=UTC)
    mix = provider.generation_by_type("LU", start, end)
    assert len(mix) == 288
    hole = int((datetime(2024, 5, 24, 3, 45, tzinfo=UTC) - start).total_seconds() // 900)
    assert hole == 263
    split = ["B01", "B04", "B11", "B12", "B17"]
    for psr in split:
        values = mix.mw[psr]
        assert np.isnan(values[hole])
        assert np.count_nonzero(np.isnan(values)) == 1
    for psr in ("B16", "B19"):
        assert not np.isnan(mix.mw[psr]).any()

    series = provider.history("LU", start, end)
    assert np.isnan(series.values[hole])  # an incomplete mix is missing, not a clean value
    assert np.count_nonzero(np.isnan(series.values)) == 1


# ---------------------------------------------------------------------- parsing rules
_SYNTHETIC = b"""<?xml version="1.0" encoding="UTF-8"?>
<GL_MarketDocument xmlns="urn:iec62325.351:tc57wg16:451-6:generationloaddocument:3:0">
  <type>A75</type>
  <TimeSeries>
    <inBiddingZone_Domain.mRID codingScheme="A01">10YXX-TEST-----X</inBiddingZone_Domain.mRID>
    <quantity_Measure_Unit.name>MAW</quantity_Measure_Unit.name>
    <curveType>A01</curveType>
    <MktPSRType><psrType>B04</psrType></MktPSRType>
    <Period>
      <timeInterval><start>2024-01-01T00:00Z</start><end>2024-01-01T02:00Z</end></timeInterval>
      <resolution>PT60M</resolution>
      <Point><position>1</position><quantity>100</quantity></Point>
      <Point><position>2</position><quantity>300</quantity></Point>
    </Period>
  </TimeSeries>
  <TimeSeries>
    <inBiddingZone_Domain.mRID codingScheme="A01">10YXX-TEST-----X</inBiddingZone_Domain.mRID>
    <quantity_Measure_Unit.name>MAW</quantity_Measure_Unit.name>
    <curveType>A01</curveType>
    <MktPSRType><psrType>B19</psrType></MktPSRType>
    <Period>
      <timeInterval><start>2024-01-01T00:00Z</start><end>2024-01-01T02:00Z</end></timeInterval>
      <resolution>PT15M</resolution>
      <Point><position>1</position><quantity>100</quantity></Point>
      <Point><position>2</position><quantity>100</quantity></Point>
      <Point><position>4</position><quantity>100</quantity></Point>
      <Point><position>5</position><quantity>100</quantity></Point>
      <Point><position>6</position><quantity>100</quantity></Point>
      <Point><position>7</position><quantity>100</quantity></Point>
      <Point><position>8</position><quantity>100</quantity></Point>
    </Period>
  </TimeSeries>
  <TimeSeries>
    <outBiddingZone_Domain.mRID codingScheme="A01">10YXX-TEST-----X</outBiddingZone_Domain.mRID>
    <quantity_Measure_Unit.name>MAW</quantity_Measure_Unit.name>
    <curveType>A01</curveType>
    <MktPSRType><psrType>B10</psrType></MktPSRType>
    <Period>
      <timeInterval><start>2024-01-01T00:00Z</start><end>2024-01-01T01:00Z</end></timeInterval>
      <resolution>PT60M</resolution>
      <Point><position>1</position><quantity>999</quantity></Point>
    </Period>
  </TimeSeries>
</GL_MarketDocument>
"""


def test_mixed_resolutions_gaps_and_consumption(
    provider: EntsoeProvider, server: FixtureServer
) -> None:
    server.route(PATH, Answer(200, _SYNTHETIC, "application/xml"))
    start = datetime(2024, 1, 1, tzinfo=UTC)
    mix = provider.generation_by_type("10YXX-TEST-----X", start, start + timedelta(hours=2))
    assert mix.zone == "10YXX-TEST-----X"
    assert sorted(mix.mw) == ["B04", "B19"]  # the out-domain (consumption) series is ignored
    assert mix.resolution_s == 900  # the finest resolution wins
    np.testing.assert_array_equal(mix.mw["B04"], [100] * 4 + [300] * 4)  # repeated
    assert np.isnan(mix.mw["B19"][2])  # A01: a missing position is missing
    series = provider.history("10YXX-TEST-----X", start, start + timedelta(hours=2))
    assert series.values[0] == pytest.approx((100 * 490 + 100 * 11) / 200)
    assert series.values[4] == pytest.approx((300 * 490 + 100 * 11) / 400)
    assert np.isnan(series.values[2])  # wind (a third of the mean output) missing there


def test_intensity_from_mix_rules() -> None:
    nan = np.nan
    mw = {
        "B04": np.array([100.0, 100.0, nan, 100.0, -5.0]),
        "B19": np.array([300.0, nan, nan, 300.0, 300.0]),
        "B10": np.array([50.0, 50.0, 50.0, nan, 50.0]),  # storage: left out
        "B15": np.array([1.0, 1.0, 1.0, nan, 1.0]),
    }
    out = intensity_from_mix(mw)
    assert out[0] == pytest.approx((100 * 490 + 300 * 11 + 230) / 401)
    assert np.isnan(out[1])  # wind missing: most of the mix
    assert np.isnan(out[2])
    # B15 (about 0.25 % of the mean mix) missing: tolerated, computed from the rest
    assert out[3] == pytest.approx((100 * 490 + 300 * 11) / 400)
    assert out[4] == pytest.approx((300 * 11 + 230) / 301)  # negative MW count as 0
    strict = intensity_from_mix(mw, max_missing_share=0.0)
    assert np.isnan(strict[3])


def test_every_production_type_has_a_documented_factor() -> None:
    for n in range(1, 21):
        assert f"B{n:02d}" in EMISSION_FACTORS
        assert f"B{n:02d}" in PSR_TYPES
    assert EMISSION_FACTORS["B05"] == 820
    assert EMISSION_FACTORS["B04"] == 490
    assert EMISSION_FACTORS["B01"] == 230
    assert EMISSION_FACTORS["B16"] == 48
    assert EMISSION_FACTORS["B19"] == 11
    assert EMISSION_FACTORS["B18"] == 12
    assert EMISSION_FACTORS["B11"] == EMISSION_FACTORS["B12"] == 24
    assert EMISSION_FACTORS["B14"] == 12
    assert EMISSION_FACTORS["B09"] == 38
    assert EMISSION_FACTORS["B06"] == 650


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize("status", [200, 400])
def test_no_matching_data_is_no_data(
    provider: EntsoeProvider, server: FixtureServer, ent_dir: Path, status: int
) -> None:
    server.file(PATH, ent_dir / "ack_999_no_matching_data_docs-example.xml", status=status)
    with pytest.raises(NoDataError, match="No matching data found") as info:
        provider.history("DE", FI_START, FI_END)
    assert_no_token(info.value)


def test_bad_request_is_a_provider_error_with_the_reason(
    provider: EntsoeProvider, server: FixtureServer, ent_dir: Path
) -> None:
    server.file(PATH, ent_dir / "ack_999_bad_request.xml", status=400)
    with pytest.raises(ProviderError) as info:
        provider.history("FR", FI_START, FI_END)
    assert not isinstance(info.value, NoDataError)
    assert "Bad request message from API" in str(info.value)
    assert info.value.status_code == 400
    assert_no_token(info.value)


def test_unauthorized_names_the_token_variable(
    provider: EntsoeProvider, server: FixtureServer, ent_dir: Path
) -> None:
    server.file(PATH, ent_dir / "error_401_unauthorized.html", status=401)
    with pytest.raises(AuthenticationError) as info:
        provider.history("FI", FI_START, FI_END)
    assert "ENTSOE_TOKEN" in info.value.message
    assert "Missing or invalid security token" in str(info.value)
    assert info.value.status_code == 401
    assert_no_token(info.value)


def test_server_errors_do_not_show_the_token(
    provider: EntsoeProvider, server: FixtureServer
) -> None:
    server.route(PATH, Answer(503, b"<html>Service unavailable</html>", "text/html"))
    with pytest.raises(ProviderError) as info:
        provider.history("FI", FI_START, FI_END)
    assert_no_token(info.value)


def test_not_xml_is_a_provider_error(provider: EntsoeProvider, server: FixtureServer) -> None:
    server.route(PATH, Answer(200, b"{}", "application/json"))
    with pytest.raises(ProviderError, match="not XML"):
        provider.history("FI", FI_START, FI_END)


def test_a_load_document_has_no_generation(
    provider: EntsoeProvider, server: FixtureServer, ent_dir: Path
) -> None:
    server.file(PATH, ent_dir / "A65_load_forecast_day_ahead_DK2_2023-12-27_PT60M.xml")
    with pytest.raises(NoDataError):
        provider.history("DK-DK2", FI_START, FI_END)


def test_missing_token_names_the_variable(
    server: FixtureServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ENTSOE_TOKEN", raising=False)
    monkeypatch.setenv("CARBONSHIFT_CONFIG", str(tmp_path / "nonexistent.toml"))
    with (
        EntsoeProvider(base_url=server.url + PATH, max_retries=0) as p,
        pytest.raises(MissingCredentialError) as info,
    ):
        p.history("FI", FI_START, FI_END)
    assert "ENTSOE_TOKEN" in str(info.value)
    assert server.seen == []


def test_token_from_the_environment(
    server: FixtureServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ent_dir: Path
) -> None:
    monkeypatch.setenv("ENTSOE_TOKEN", TOKEN)
    monkeypatch.setenv("CARBONSHIFT_CONFIG", str(tmp_path / "nonexistent.toml"))
    server.file(PATH, ent_dir / FI)
    with EntsoeProvider(base_url=server.url + PATH, max_retries=0) as p:
        assert len(p.history("FI", FI_START, FI_END)) == 288
    assert server.requests_to(PATH)[0].query["securityToken"] == [TOKEN]


# ---------------------------------------------------------------------- zones, chunks, cache
def test_zone_codes() -> None:
    assert EntsoeProvider.eic("FI") == "10YFI-1--------U"
    assert EntsoeProvider.eic("se-se4") == "10Y1001A1001A47J"
    assert EntsoeProvider.eic("NO-NO5") == "10Y1001A1001A48H"
    assert EntsoeProvider.eic("LU") == "10YLU-CEGEDEL-NQ"
    assert EntsoeProvider.eic("DK-DK2") == "10YDK-2--------M"
    assert EntsoeProvider.eic("CZ") == "10YCZ-CEPS-----N"
    assert EntsoeProvider.eic("SE-SE3") == "10Y1001A1001A46L"
    assert EntsoeProvider.eic("IT-NO") == "10Y1001A1001A73I"
    assert EntsoeProvider.eic("10YFR-RTE------C") == "10YFR-RTE------C"
    with pytest.raises(UnknownZoneError, match="Atlantis"):
        EntsoeProvider.eic("Atlantis")


def test_raw_eic_is_labelled_with_its_zone(
    provider: EntsoeProvider, server: FixtureServer, ent_dir: Path
) -> None:
    server.file(PATH, ent_dir / FI)
    series = provider.history("10YFI-1--------U", FI_START, FI_END)
    assert series.labels.zone == "FI"


def test_ranges_over_a_year_are_chunked(
    provider: EntsoeProvider, server: FixtureServer, ent_dir: Path
) -> None:
    server.file(PATH, ent_dir / FI)
    start = datetime(2024, 10, 1, tzinfo=UTC)
    end = datetime(2025, 11, 1, tzinfo=UTC)
    series = provider.history("FI", start, end)
    seen = server.requests_to(PATH)
    assert [(s.query["periodStart"][0], s.query["periodEnd"][0]) for s in seen] == [
        ("202410010000", "202510010000"),
        ("202510010000", "202511010000"),
    ]
    assert series.start == start
    assert series.end == end
    assert np.count_nonzero(~np.isnan(series.values)) == 288


def test_a_chunk_without_data_does_not_fail_the_range(
    provider: EntsoeProvider, server: FixtureServer, ent_dir: Path
) -> None:
    server.route(
        PATH,
        Answer(200, (ent_dir / "ack_999_no_matching_data_docs-example.xml").read_bytes()),
        Answer(200, (ent_dir / FI).read_bytes()),
    )
    series = provider.history("FI", datetime(2024, 10, 1, tzinfo=UTC), FI_END)
    assert np.count_nonzero(~np.isnan(series.values)) == 288


def test_recent_request_is_not_sent_again_within_the_interval(
    server: FixtureServer, ent_dir: Path, tmp_path: Path
) -> None:
    clock = Clock(datetime(2025, 10, 24, 12, 3, tzinfo=UTC))
    server.file(PATH, ent_dir / FI)
    with EntsoeProvider(
        Secret(TOKEN),
        base_url=server.url + PATH,
        cache=ResponseCache(tmp_path / "cache"),
        max_retries=0,
        clock=clock,
    ) as p:
        first = p.history("FI", FI_START, FI_END)
        clock.now += timedelta(minutes=10)  # 12:13, same 15-minute interval
        second = p.history("FI", FI_START, FI_END)
        assert len(server.requests_to(PATH)) == 1
        np.testing.assert_array_equal(first.values, second.values)
        clock.now += timedelta(minutes=5)  # 12:18, next interval
        p.history("FI", FI_START, FI_END)
        assert len(server.requests_to(PATH)) == 2
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text()


def test_settled_range_is_cached_for_30_days(
    server: FixtureServer, ent_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    server.file(PATH, ent_dir / FI)

    def make() -> EntsoeProvider:
        return EntsoeProvider(
            Secret(TOKEN),
            base_url=server.url + PATH,
            cache=ResponseCache(tmp_path / "cache"),
            max_retries=0,
            clock=clock,
        )

    with make() as p:
        p.history("FI", FI_START, FI_END)
    clock.now += timedelta(days=29)
    with make() as p:
        p.history("FI", FI_START, FI_END)
    assert len(server.requests_to(PATH)) == 1
    clock.now += timedelta(days=2)
    with make() as p:
        p.history("FI", FI_START, FI_END)
    assert len(server.requests_to(PATH)) == 2


def test_capabilities() -> None:
    caps = EntsoeProvider.capabilities
    assert caps.name == "entsoe"
    assert (caps.signal, caps.accounting, caps.basis) == ("average", "lifecycle", "production")
    assert caps.credential_env == ("ENTSOE_TOKEN",)
    assert caps.forecast is False
