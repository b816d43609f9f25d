"""ENTSO-E Transparency Platform client: a production-based, life-cycle average intensity built
from actual generation per production type (document A75, process A16).

The platform publishes MW per production type (``psrType`` B01..B20), not emissions. This
client turns the mix into an intensity step by step::

    intensity = Σ_k MW_k × factor_k / Σ_k MW_k      (gCO2eq/kWh)

with the per-source life-cycle emission factors of :data:`EMISSION_FACTORS` (IPCC AR5 WG3
Annex III medians where AR5 has one). The result is labelled ``signal="average"``,
``accounting="lifecycle"``, ``basis="production"`` (local generation only: imports and
exports are not traced), ``provider="entsoe"``.

How the XML is read (``GL_MarketDocument``, namespace-agnostic):

- each ``TimeSeries`` has a ``psrType``, a ``curveType`` and one or more ``Period``s with a
  ``timeInterval``, a ``resolution`` (PT15M, PT30M, PT60M...) and ``Point``s
  ``(position, quantity)``; position ``p`` covers ``start + (p - 1) × resolution``;
- curve ``A01`` (fixed blocks): a missing position is a missing value (NaN);
- curve ``A03`` (variable blocks): a missing position repeats the previous given value until
  the next given position or the end of the period;
- several series of one ``psrType`` (split by the platform, or from several chunked requests)
  are merged onto one grid; a step none of them covers stays missing (a real hole);
- series that carry an ``outBiddingZone_Domain`` and no ``inBiddingZone_Domain`` are
  consumption (e.g. pumped-storage pumping, "Actual Consumption" in A75) and are ignored: this
  is a production mix, and consumption is load, not a source;
- the result's resolution is the finest of the series; coarser series are repeated onto it
  (MW are mean power over the step, so repetition keeps energy).

A step's intensity is missing (NaN) when no production type has a value there, or when the
types missing there made up more than ``max_missing_share`` (default 5 %) of the mean total
generation over the answer, so that a partly reported mix never shows as a falsely clean or
dirty value. Negative quantities (some TSOs net off auxiliary consumption) count as 0 MW.

Errors: an ``Acknowledgement_MarketDocument`` whose reason says "No matching data found" is a
:class:`NoDataError` (HTTP 200 or 400 alike); any other acknowledgement (e.g. "Bad request") is
a :class:`ProviderError` carrying the reason text; HTTP 401 (an HTML page) is an
:class:`AuthenticationError` naming ``ENTSOE_TOKEN``. The token travels as the query parameter
``securityToken``, declared secret: it is never logged, cached or shown.

Assumed API limits: one A75 request may span at most one year, so longer ranges are split into
365-day chunks; times are sent as ``yyyyMMddHHmm`` in UTC.
"""

from __future__ import annotations

import logging
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np

from carbonshift.errors import (
    AuthenticationError,
    DataError,
    NoDataError,
    ProviderError,
    UnknownZoneError,
    UsageError,
)
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.providers.base import ProviderCapabilities
from carbonshift.signals.providers.cache import ResponseCache
from carbonshift.signals.providers.credentials import Secret, get_credential
from carbonshift.signals.providers.http import HttpClient, HttpProvider, error_text
from carbonshift.signals.series import FloatArray, IntArray, IntensitySeries
from carbonshift.timeutil import format_time, parse_duration, parse_time, utc

__all__ = [
    "EMISSION_FACTORS",
    "PSR_TYPES",
    "ZONE_EIC",
    "EntsoeProvider",
    "GenerationBlock",
    "GenerationByType",
    "intensity_from_mix",
    "parse_generation_document",
]

log = logging.getLogger("carbonshift.providers")

DEFAULT_BASE_URL = "https://web-api.tp.entsoe.eu/api"
TOKEN_ENV = "ENTSOE_TOKEN"
MAX_REQUEST_RANGE = timedelta(days=365)
#: the finest resolution ENTSO-E publishes; a recent range is cached until the end of the
#: current step of this length (the answer's own resolution is not known before it arrives)
CACHE_STEP_S = 900
SETTLED_AFTER = timedelta(days=1)
SETTLED_CACHE = timedelta(days=30)

Clock = Callable[[], datetime]

#: ENTSO-E production types (``psrType``), as the API guide names them.
PSR_TYPES: dict[str, str] = {
    "B01": "Biomass",
    "B02": "Fossil Brown coal/Lignite",
    "B03": "Fossil Coal-derived gas",
    "B04": "Fossil Gas",
    "B05": "Fossil Hard coal",
    "B06": "Fossil Oil",
    "B07": "Fossil Oil shale",
    "B08": "Fossil Peat",
    "B09": "Geothermal",
    "B10": "Hydro Pumped Storage",
    "B11": "Hydro Run-of-river and poundage",
    "B12": "Hydro Water Reservoir",
    "B13": "Marine",
    "B14": "Nuclear",
    "B15": "Other renewable",
    "B16": "Solar",
    "B17": "Waste",
    "B18": "Wind Offshore",
    "B19": "Wind Onshore",
    "B20": "Other",
    "B25": "Energy storage",
}

#: Life-cycle emission factors in gCO2eq/kWh per production type. ``None`` = left out of the
#: mix (storage re-delivers energy generated earlier; weighting it at the present mix's own
#: intensity is the same as leaving it out of the weighted mean). Codes not listed here
#: (B21-B24 are grid assets, not sources) are left out too, with a log line.
#: "AR5" = IPCC AR5 WG3 (2014), Annex III, Table A.III.2, median life-cycle value.
EMISSION_FACTORS: dict[str, float | None] = {
    "B01": 230.0,  # Biomass: AR5 "biomass - dedicated" median 230
    "B02": 820.0,  # Lignite: AR5 "coal - PC" median 820 (AR5 has no separate lignite value;
    #              lignite plants emit more, so this is a lower estimate)
    "B03": 820.0,  # Coal-derived gas (blast-furnace/coke-oven gas): its carbon is coal's;
    #              AR5 coal median 820 used (no AR5 value of its own)
    "B04": 490.0,  # Fossil gas: AR5 "gas - combined cycle" median 490
    "B05": 820.0,  # Hard coal: AR5 "coal - PC" median 820
    "B06": 650.0,  # Oil: not in AR5 Annex III; 650 is the value commonly used beside the AR5
    #              medians (e.g. Electricity Maps' default for oil), between gas and coal
    "B07": 820.0,  # Oil shale: burnt as a solid fuel like coal; no AR5 value, coal's 820 used
    #              (a lower estimate: Estonian oil-shale plants emit ~1000 g/kWh directly)
    "B08": 820.0,  # Peat: no AR5 value; burnt like coal, coal's 820 used (a lower estimate)
    "B09": 38.0,  # Geothermal: AR5 median 38
    "B10": None,  # Hydro pumped storage: storage, left out of the mix (see above)
    "B11": 24.0,  # Hydro run-of-river: AR5 "hydropower" median 24
    "B12": 24.0,  # Hydro reservoir: AR5 "hydropower" median 24
    "B13": 17.0,  # Marine (tidal, wave): AR5 "ocean" median 17
    "B14": 12.0,  # Nuclear: AR5 median 12
    "B15": 230.0,  # Other renewable (mostly biogas, landfill and sewage gas): no AR5 value;
    #               AR5 dedicated-biomass median 230 used as the closest source
    "B16": 48.0,  # Solar: AR5 "solar PV - utility" median 48 (rooftop is 41)
    "B17": 230.0,  # Waste: no AR5 value; counted as biomass (230), as Electricity Maps does;
    #               the fossil (plastics) share makes the true value higher
    "B18": 12.0,  # Wind offshore: AR5 median 12
    "B19": 11.0,  # Wind onshore: AR5 median 11
    "B20": 700.0,  # Other (unidentified, mostly fossil CHP): no AR5 value; 700, a fossil-
    #               leaning value between gas and coal, as Electricity Maps uses for "unknown"
    "B25": None,  # Energy storage (batteries): storage, left out of the mix (see above)
}

#: Zone ids (Electricity Maps style) → ENTSO-E area EIC codes (from the API guide's area list).
#: ``DE`` is the German control area (generation per type is published per country/control
#: area); ``DE-LU`` is the joint bidding zone.
ZONE_EIC: dict[str, str] = {
    "AL": "10YAL-KESH-----5",
    "AT": "10YAT-APG------L",
    "BA": "10YBA-JPCC-----D",
    "BE": "10YBE----------2",
    "BG": "10YCA-BULGARIA-R",
    "CH": "10YCH-SWISSGRIDZ",
    "CY": "10YCY-1001A0003J",
    "CZ": "10YCZ-CEPS-----N",
    "DE": "10Y1001A1001A83F",
    "DE-LU": "10Y1001A1001A82H",
    "DK": "10Y1001A1001A65H",
    "DK-DK1": "10YDK-1--------W",
    "DK-DK2": "10YDK-2--------M",
    "EE": "10Y1001A1001A39I",
    "ES": "10YES-REE------0",
    "FI": "10YFI-1--------U",
    "FR": "10YFR-RTE------C",
    "GB": "10YGB----------A",
    "GB-NIR": "10Y1001A1001A016",
    "GE": "10Y1001A1001B012",
    "GR": "10YGR-HTSO-----Y",
    "HR": "10YHR-HEP------M",
    "HU": "10YHU-MAVIR----U",
    "IE": "10YIE-1001A00010",
    "IE-SEM": "10Y1001A1001A59C",
    "IT": "10YIT-GRTN-----B",
    "IT-CNO": "10Y1001A1001A70O",
    "IT-CSO": "10Y1001A1001A71M",
    "IT-CAL": "10Y1001C--00096J",
    "IT-NO": "10Y1001A1001A73I",
    "IT-SAR": "10Y1001A1001A74G",
    "IT-SIC": "10Y1001A1001A75E",
    "IT-SO": "10Y1001A1001A788",
    "LT": "10YLT-1001A0008Q",
    "LU": "10YLU-CEGEDEL-NQ",
    "LV": "10YLV-1001A00074",
    "MD": "10Y1001A1001A990",
    "ME": "10YCS-CG-TSO---S",
    "MK": "10YMK-MEPSO----8",
    "MT": "10Y1001A1001A93C",
    "NL": "10YNL----------L",
    "NO": "10YNO-0--------C",
    "NO-NO1": "10YNO-1--------2",
    "NO-NO2": "10YNO-2--------T",
    "NO-NO3": "10YNO-3--------J",
    "NO-NO4": "10YNO-4--------9",
    "NO-NO5": "10Y1001A1001A48H",
    "PL": "10YPL-AREA-----S",
    "PT": "10YPT-REN------W",
    "RO": "10YRO-TEL------P",
    "RS": "10YCS-SERBIATSOV",
    "SE": "10YSE-1--------K",
    "SE-SE1": "10Y1001A1001A44P",
    "SE-SE2": "10Y1001A1001A45N",
    "SE-SE3": "10Y1001A1001A46L",
    "SE-SE4": "10Y1001A1001A47J",
    "SI": "10YSI-ELES-----O",
    "SK": "10YSK-SEPS-----K",
    "TR": "10YTR-TEIAS----W",
    "UA-IPS": "10Y1001C--000182",
    "XK": "10Y1001C--00100H",
}
_EIC_ZONE = {eic: zone for zone, eic in ZONE_EIC.items()}
_EIC_RE = re.compile(r"^[0-9]{2}[A-Z][A-Z0-9-]{12}[A-Z0-9]$")


def _utcnow() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------- XML helpers
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in element if _local(child.tag) == name)


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next(_children(element, name), None)


def _text(element: ET.Element, *path: str) -> str | None:
    node: ET.Element | None = element
    for name in path:
        if node is None:
            return None
        node = _child(node, name)
    if node is None or node.text is None:
        return None
    return node.text.strip()


def _parse_xml(content: bytes) -> ET.Element | None:
    try:
        return ET.fromstring(content)
    except ET.ParseError:
        return None


def _ack_error(root: ET.Element, status_code: int | None) -> ProviderError:
    """The typed error an ``Acknowledgement_MarketDocument`` stands for."""
    reasons = [
        " ".join(t for t in (_text(r, "code"), _text(r, "text")) if t)
        for r in _children(root, "Reason")
    ]
    texts = [_text(r, "text") or "" for r in _children(root, "Reason")]
    reason = "; ".join(r for r in reasons if r) or "no reason given"
    if any("no matching data" in t.lower() for t in texts):
        return NoDataError(
            f"entsoe: no matching data ({reason})",
            hint="the platform holds no generation data for this zone and period",
            status_code=status_code,
            provider="entsoe",
        )
    return ProviderError(
        f"entsoe: request refused: {reason}",
        hint="check the zone and the period (at most one year per request)",
        status_code=status_code,
        provider="entsoe",
    )


class _EntsoeHttpClient(HttpClient):
    """The shared HTTP path, with ENTSO-E's error bodies (XML acknowledgements) read."""

    def _raise_client_error(
        self, response: httpx.Response, url: str, not_found: str | None
    ) -> None:
        status = response.status_code
        root = _parse_xml(response.content)
        if root is not None and _local(root.tag) == "Acknowledgement_MarketDocument":
            raise _ack_error(root, status)
        if status in (401, 403):
            raise AuthenticationError(
                f"entsoe: HTTP {status}, the security token ({TOKEN_ENV}) was refused: "
                f"{error_text(response)}",
                hint=f"set {TOKEN_ENV} to a valid Transparency Platform web API token",
                status_code=status,
                provider="entsoe",
            )
        super()._raise_client_error(response, url, not_found)


# ---------------------------------------------------------------------- parsing
@dataclass(frozen=True, slots=True)
class GenerationBlock:
    """One ``Period`` of one production type, expanded to one value per step (MW, NaN where
    no value was given). ``points`` is how many ``Point`` elements the document gave."""

    psr_type: str
    start_s: int
    resolution_s: int
    values: FloatArray
    points: int
    curve_type: str

    @property
    def end_s(self) -> int:
        return self.start_s + self.resolution_s * int(self.values.size)


def _period_block(period: ET.Element, psr_type: str, curve_type: str) -> GenerationBlock:
    start_text = _text(period, "timeInterval", "start")
    end_text = _text(period, "timeInterval", "end")
    res_text = _text(period, "resolution")
    if not (start_text and end_text and res_text):
        raise DataError(
            f"entsoe: a {psr_type} period lacks its timeInterval or resolution",
            hint="report this answer; the document does not follow the schema",
        )
    try:
        start_s = int(parse_time(start_text, field="period start").timestamp())
        end_s = int(parse_time(end_text, field="period end").timestamp())
        res_s = int(parse_duration(res_text, field="resolution").total_seconds())
    except UsageError as exc:
        raise DataError(f"entsoe: {psr_type}: {exc.message}") from None
    if res_s <= 0 or end_s <= start_s:
        raise DataError(f"entsoe: {psr_type}: empty period {start_text}..{end_text}")
    points: list[tuple[int, float]] = []
    for point in _children(period, "Point"):
        pos_text = _text(point, "position")
        qty_text = _text(point, "quantity")
        try:
            points.append((int(pos_text or ""), float(qty_text or "")))
        except ValueError:
            raise DataError(
                f"entsoe: {psr_type}: unreadable point (position {pos_text!r}, "
                f"quantity {qty_text!r})"
            ) from None
    points.sort()
    n = (end_s - start_s) // res_s
    if points:
        n = max(n, points[-1][0])
    values = np.full(n, np.nan)
    for i, (pos, qty) in enumerate(points):
        if pos < 1:
            raise DataError(f"entsoe: {psr_type}: point position {pos} is not positive")
        if curve_type == "A03":
            stop = points[i + 1][0] - 1 if i + 1 < len(points) else n
            values[pos - 1 : stop] = qty
        else:
            values[pos - 1] = qty
    return GenerationBlock(psr_type, start_s, res_s, values, len(points), curve_type)


def parse_generation_document(content: bytes) -> list[GenerationBlock]:
    """Read a ``GL_MarketDocument`` (A75) into per-period generation blocks.

    An ``Acknowledgement_MarketDocument`` raises its typed error (see the module doc);
    consumption series (out-domain only) and series without a ``psrType`` are skipped.
    """
    root = _parse_xml(content)
    if root is None:
        raise ProviderError(
            "entsoe: the answer is not XML",
            hint="retry later; the service may be misbehaving",
            provider="entsoe",
        )
    name = _local(root.tag)
    if name == "Acknowledgement_MarketDocument":
        raise _ack_error(root, None)
    if name != "GL_MarketDocument":
        raise ProviderError(
            f"entsoe: expected a GL_MarketDocument, got {name}",
            hint="check the document type of the request",
            provider="entsoe",
        )
    blocks: list[GenerationBlock] = []
    for series in _children(root, "TimeSeries"):
        psr_type = _text(series, "MktPSRType", "psrType")
        if psr_type is None:
            log.debug("entsoe: skipping a TimeSeries without psrType")
            continue
        in_domain = _child(series, "inBiddingZone_Domain.mRID")
        out_domain = _child(series, "outBiddingZone_Domain.mRID")
        if in_domain is None and out_domain is not None:
            log.debug("entsoe: skipping %s consumption series", psr_type)
            continue
        unit = _text(series, "quantity_Measure_Unit.name")
        if unit is not None and unit != "MAW":
            raise DataError(
                f"entsoe: {psr_type}: quantities in {unit}, expected MAW (MW)",
                hint="report this answer; carbonshift reads generation in MW",
            )
        curve_type = _text(series, "curveType") or "A01"
        for period in _children(series, "Period"):
            blocks.append(_period_block(period, psr_type, curve_type))
    return blocks


@dataclass(frozen=True, slots=True)
class GenerationByType:
    """Generation per production type (MW) on one grid; NaN where a type has no value."""

    zone: str
    start_s: int
    resolution_s: int
    mw: dict[str, FloatArray]

    def __len__(self) -> int:
        return int(next(iter(self.mw.values())).size) if self.mw else 0

    @property
    def times_s(self) -> IntArray:
        return self.start_s + self.resolution_s * np.arange(len(self), dtype=np.int64)

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_s, tz=UTC)


def _merge(
    blocks: list[GenerationBlock], start_s: int, end_s: int
) -> tuple[int, int, dict[str, FloatArray]]:
    """Merge blocks onto the finest resolution over ``[start_s, end_s)`` (grid aligned to the
    resolution since the epoch); later blocks win where both have a value."""
    res = min(b.resolution_s for b in blocks)
    a = (start_s // res) * res
    b_end = -(-end_s // res) * res
    n = (b_end - a) // res
    times = a + res * np.arange(n, dtype=np.int64)
    mw: dict[str, FloatArray] = {}
    for block in blocks:
        target = mw.setdefault(block.psr_type, np.full(n, np.nan))
        j = (times - block.start_s) // block.resolution_s
        inside = (times >= block.start_s) & (j < block.values.size)
        src = np.full(n, np.nan)
        src[inside] = block.values[j[inside]]
        known = ~np.isnan(src)
        target[known] = src[known]
    return a, res, dict(sorted(mw.items()))


def intensity_from_mix(
    mw: Mapping[str, FloatArray],
    *,
    factors: Mapping[str, float | None] = EMISSION_FACTORS,
    max_missing_share: float = 0.05,
) -> FloatArray:
    """Life-cycle intensity (gCO2eq/kWh) of each step of a generation mix (MW per psrType).

    ``Σ MW_k × factor_k / Σ MW_k`` over the types with a value at that step. Types whose factor
    is ``None`` or unknown are left out. A step is NaN when no type has a value, when the known
    generation is 0, or when the types missing at that step made up more than
    ``max_missing_share`` of the mean total generation over the whole mix.
    """
    used: dict[str, FloatArray] = {}
    for code, values in mw.items():
        factor = factors.get(code)
        if factor is None:
            if code not in factors:
                log.info("entsoe: production type %s has no emission factor; left out", code)
            continue
        used[code] = np.where(np.isnan(values), np.nan, np.maximum(values, 0.0))
    if not used:
        n = len(next(iter(mw.values()))) if mw else 0
        return np.full(n, np.nan)
    stack = np.vstack(list(used.values()))
    weights = np.array([float(factors[code] or 0.0) for code in used])
    known = ~np.isnan(stack)
    clean = np.where(known, stack, 0.0)
    total = clean.sum(axis=0)
    emissions = (clean * weights[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.array(
            [float(np.nanmean(row)) if np.any(~np.isnan(row)) else 0.0 for row in stack]
        )
        grand = means.sum()
        missing_share = (
            ((~known) * means[:, None]).sum(axis=0) / grand
            if grand > 0
            else np.zeros(stack.shape[1])
        )
        out = emissions / total
    bad = (~known.any(axis=0)) | (total <= 0) | (missing_share > max_missing_share)
    return np.where(bad, np.nan, out)


# ---------------------------------------------------------------------- the provider
class EntsoeProvider(HttpProvider):
    """Production-based life-cycle average intensity from ENTSO-E actual generation per type.

    ``zone`` is a zone id of :data:`ZONE_EIC` (``FI``, ``SE-SE3``, ``DE``...) or a raw EIC area
    code. The token comes from ``token`` when given, else ``ENTSOE_TOKEN`` (environment or
    config file), read at the first request.
    """

    capabilities = ProviderCapabilities(
        name="entsoe",
        history=True,
        forecast=False,
        forecast_horizon=None,
        resolution=timedelta(minutes=15),
        signal="average",
        accounting="lifecycle",
        basis="production",
        auth="token",
        credential_env=(TOKEN_ENV,),
        max_range=MAX_REQUEST_RANGE,
        zones_hint="ENTSO-E zones such as DE, FR, FI, SE-SE3, NO-NO5, IT-NO, or a raw EIC code",
    )

    def __init__(
        self,
        token: Secret | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        cache: ResponseCache | None = None,
        max_missing_share: float = 0.05,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        clock: Clock = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0.0 <= max_missing_share <= 1.0:
            raise UsageError(
                f"max_missing_share: {max_missing_share} is outside 0..1",
                hint="e.g. 0.05 for 5 %",
            )
        self._token = token
        self.max_missing_share = max_missing_share
        self._clock = clock
        self._http = _EntsoeHttpClient(
            provider="entsoe",
            base_url=base_url,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
            cache=cache,
            secret_params=("securityToken",),
            transport=transport,
            clock=clock,
            sleep=sleep,
        )

    @staticmethod
    def eic(zone: str) -> str:
        """The EIC area code for ``zone`` (a zone id of :data:`ZONE_EIC` or an EIC code)."""
        key = zone.strip().upper()
        if key in ZONE_EIC:
            return ZONE_EIC[key]
        if _EIC_RE.match(key):
            return key
        raise UnknownZoneError(
            f"entsoe: unknown zone {zone!r}",
            hint="use a zone such as DE, FR, FI, SE-SE3, NO-NO5, IT-NO, or a 16-character "
            "EIC area code",
        )

    @staticmethod
    def _zone_label(zone: str) -> str:
        key = zone.strip().upper()
        if key in ZONE_EIC:
            return key
        return _EIC_ZONE.get(key, key)

    def _cache_until(self, end: datetime) -> datetime:
        now = self._clock()
        if end <= now - SETTLED_AFTER:
            return now + SETTLED_CACHE
        now_s = int(now.timestamp())
        return datetime.fromtimestamp((now_s // CACHE_STEP_S + 1) * CACHE_STEP_S, tz=UTC)

    def _fetch(self, eic: str, start: datetime, end: datetime) -> list[GenerationBlock]:
        token = self._token or get_credential(
            TOKEN_ENV, provider="entsoe", purpose="security token"
        )
        response = self._http.request(
            "GET",
            self._http.base_url,
            params={
                "securityToken": token.reveal(),
                "documentType": "A75",
                "processType": "A16",
                "in_Domain": eic,
                "periodStart": start.strftime("%Y%m%d%H%M"),
                "periodEnd": end.strftime("%Y%m%d%H%M"),
            },
            cache_until=self._cache_until(end),
            not_found=f"no generation data for {eic}",
        )
        return parse_generation_document(response.content)

    def generation_by_type(self, zone: str, start: datetime, end: datetime) -> GenerationByType:
        """Actual generation per production type (MW) over ``[start, end)``, merged onto the
        finest resolution of the answer; NaN where a type has no value."""
        start, end = utc(start), utc(end)
        if end <= start:
            raise UsageError("history: end must come after start", hint="pass --from < --to")
        eic = self.eic(zone)
        blocks: list[GenerationBlock] = []
        no_data: NoDataError | None = None
        a = start
        while a < end:
            b = min(end, a + MAX_REQUEST_RANGE)
            try:
                blocks.extend(self._fetch(eic, a, b))
            except NoDataError as exc:
                no_data = exc
            a = b
        if not blocks:
            raise no_data or NoDataError(
                f"entsoe: no generation per production type for {zone} between "
                f"{format_time(start)} and {format_time(end)}",
                hint="check the zone and the period",
                provider="entsoe",
            )
        grid_start, res, mw = _merge(blocks, int(start.timestamp()), int(end.timestamp()))
        return GenerationByType(self._zone_label(zone), grid_start, res, mw)

    def history(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        """Life-cycle average intensity (gCO2eq/kWh) of the zone's generation over
        ``[start, end)`` at the finest resolution the platform answers (NaN where missing)."""
        mix = self.generation_by_type(zone, start, end)
        values = intensity_from_mix(mix.mw, max_missing_share=self.max_missing_share)
        caps = self.capabilities
        labels = SignalLabels(
            zone=mix.zone,
            signal=caps.signal,
            accounting=caps.accounting,
            basis=caps.basis,
            provider=caps.name,
        )
        return IntensitySeries(mix.start_s, mix.resolution_s, values, labels)
