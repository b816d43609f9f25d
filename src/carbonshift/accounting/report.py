"""Reports over ledger records: energy, emissions and savings by zone, month, job or user, with
the methods stated, and a GHG Protocol Scope 2 summary. Pure: records in, a :class:`Report` out
(rendering lives in :mod:`carbonshift.accounting.render`).

- Totals are sums of the current ``actual`` records whose interval starts in the period; they
  equal the ledger's records exactly. Emissions are summed only within one signal meaning
  (signal/accounting/basis): a report over mixed meanings keeps one total per meaning.
- Savings come from counterfactual records (``immediate``, ``static``) of the same jobs: for
  each job with a complete counterfactual and all its actual records in the period, the
  counterfactual emissions minus the actual ones. The room left to ``oracle`` is reported apart.
- Scope 2, location-based: the grid-average emissions of the period (records on ``average``
  signals; marginal ones are left out and counted). Market-based: energy × the contractual
  factor of each zone, when the user supplies factors; zones without one are listed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from carbonshift.accounting.records import LedgerRecord
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = [
    "GroupBy",
    "Report",
    "ReportRow",
    "Savings",
    "Scope2",
    "build_report",
    "signal_meaning",
]

GroupBy = Literal["zone", "month", "job", "user"]
SAVINGS_SCENARIOS = ("immediate", "static", "oracle")


def signal_meaning(rec: LedgerRecord) -> str:
    """What the intensity means, e.g. ``average/lifecycle/consumption``; sums never mix these."""
    lab = rec.labels
    return f"{lab.signal}/{lab.accounting}/{lab.basis}"


def _key(rec: LedgerRecord, by: GroupBy) -> str:
    if by == "zone":
        return rec.zone
    if by == "month":
        return format_time(from_epoch_s(rec.interval_start_s))[:7]
    if by == "job":
        return rec.job_id
    return rec.user or "(unknown)"


def _fsum(values: Iterable[float | None]) -> float:
    return math.fsum(v for v in values if v is not None)


@dataclass(frozen=True, slots=True)
class Savings:
    """A baseline compared with what ran, over the jobs that have both complete.

    For ``immediate`` and ``static``, ``saved_g`` is baseline minus actual (positive = saved).
    For ``oracle`` it is the *room left*: actual minus the oracle's (what foresight would add).
    """

    scenario: str
    jobs: int
    baseline_g: float
    actual_g: float

    @property
    def saved_g(self) -> float:
        if self.scenario == "oracle":
            return self.actual_g - self.baseline_g
        return self.baseline_g - self.actual_g

    @property
    def saved_pct(self) -> float | None:
        base = self.actual_g if self.scenario == "oracle" else self.baseline_g
        return 100.0 * self.saved_g / base if base else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "jobs": self.jobs,
            "baseline_emissions_g": self.baseline_g,
            "actual_emissions_g": self.actual_g,
            ("room_left_g" if self.scenario == "oracle" else "saved_g"): self.saved_g,
            ("room_left_pct" if self.scenario == "oracle" else "saved_pct"): self.saved_pct,
        }


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One group's figures, on one signal meaning."""

    key: str
    signal: str
    jobs: int
    records: int
    energy_kwh: float
    emissions_g: float
    unattributed_energy_kwh: float
    provisional_energy_kwh: float
    savings: Mapping[str, Savings] = field(default_factory=dict)

    @property
    def emissions_kg(self) -> float:
        return self.emissions_g / 1000.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "signal": self.signal,
            "jobs": self.jobs,
            "records": self.records,
            "energy_kwh": self.energy_kwh,
            "emissions_g": self.emissions_g,
            "emissions_kg": self.emissions_kg,
            "unattributed_energy_kwh": self.unattributed_energy_kwh,
            "provisional_energy_kwh": self.provisional_energy_kwh,
            "savings_vs_immediate": self._saving("immediate"),
            "savings_vs_static": self._saving("static"),
            "room_left_to_oracle": self._saving("oracle"),
        }

    def _saving(self, scenario: str) -> dict[str, Any] | None:
        s = self.savings.get(scenario)
        return s.to_dict() if s else None


@dataclass(frozen=True, slots=True)
class Scope2:
    """GHG Protocol Scope 2 figures for the period."""

    energy_kwh: float
    location_based_g: float
    location_signals: tuple[str, ...]
    excluded_marginal_kwh: float
    unattributed_kwh: float
    market_based_g: float | None = None
    market_factor_source: str = ""
    market_uncovered_zones: tuple[str, ...] = ()
    market_uncovered_kwh: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "energy_kwh": self.energy_kwh,
            "location_based_kg": self.location_based_g / 1000.0,
            "location_based_t": self.location_based_g / 1e6,
            "location_based_signals": list(self.location_signals),
            "excluded_marginal_energy_kwh": self.excluded_marginal_kwh,
            "unattributed_energy_kwh": self.unattributed_kwh,
            "market_based_kg": None if self.market_based_g is None else self.market_based_g / 1e3,
            "market_factor_source": self.market_factor_source or None,
            "market_uncovered_zones": list(self.market_uncovered_zones),
            "market_uncovered_energy_kwh": self.market_uncovered_kwh,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a report prints."""

    start_s: float | None
    end_s: float | None
    by: GroupBy
    rows: tuple[ReportRow, ...]
    totals: tuple[ReportRow, ...]
    scope2: Scope2
    methods: Mapping[str, Any]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        def when(t: float | None) -> str | None:
            return None if t is None else format_time(from_epoch_s(t))

        return {
            "period": {"from": when(self.start_s), "to": when(self.end_s)},
            "by": self.by,
            "rows": [r.to_dict() for r in self.rows],
            "totals": [r.to_dict() for r in self.totals],
            "scope2": self.scope2.to_dict(),
            "methods": dict(self.methods),
            "notes": list(self.notes),
        }


def _row(
    key: str,
    signal: str,
    recs: Sequence[LedgerRecord],
    savings: dict[str, Savings],
) -> ReportRow:
    jobs = {r.job_id for r in recs}
    return ReportRow(
        key=key,
        signal=signal,
        jobs=len(jobs),
        records=len(recs),
        energy_kwh=_fsum(r.energy_kwh for r in recs),
        emissions_g=_fsum(r.emissions_g for r in recs),
        unattributed_energy_kwh=_fsum(r.energy_kwh for r in recs if r.emissions_g is None),
        provisional_energy_kwh=_fsum(r.energy_kwh for r in recs if r.status == "provisional"),
        savings=savings,
    )


def build_report(
    records: Sequence[LedgerRecord],
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    by: GroupBy = "zone",
    market_factors: Mapping[str, float] | None = None,
    market_factor_all: float | None = None,
    market_factor_source: str = "",
) -> Report:
    """A report over current ledger records (all scenarios; the period picks actual records)."""
    lo = -math.inf if start_s is None else start_s
    hi = math.inf if end_s is None else end_s
    actual_all = [r for r in records if r.scenario == "actual"]
    actual = [r for r in actual_all if lo <= r.interval_start_s < hi]
    notes: list[str] = []

    by_job: dict[str, list[LedgerRecord]] = defaultdict(list)
    for r in actual_all:
        by_job[r.job_id].append(r)
    inside = {j for j, rs in by_job.items() if all(lo <= r.interval_start_s < hi for r in rs)}
    complete = {j for j in inside if all(r.emissions_g is not None for r in by_job[j])}
    baseline: dict[str, dict[str, float]] = defaultdict(dict)
    cf: dict[tuple[str, str], list[LedgerRecord]] = defaultdict(list)
    for r in records:
        if r.scenario in SAVINGS_SCENARIOS:
            cf[(r.scenario, r.job_id)].append(r)
    for (scenario, job), rs in cf.items():
        if job in complete and all(r.emissions_g is not None for r in rs):
            baseline[scenario][job] = _fsum(r.emissions_g for r in rs)
    straddling = {r.job_id for r in actual} - inside
    if straddling and cf:
        notes.append(
            f"{len(straddling)} job(s) run past the period's edges: "
            "their savings are left out (their energy and emissions are counted)"
        )

    def savings_of(jobs: set[str]) -> dict[str, Savings]:
        out = {}
        for scenario in SAVINGS_SCENARIOS:
            have = sorted(jobs & set(baseline.get(scenario, {})))
            if have:
                out[scenario] = Savings(
                    scenario,
                    len(have),
                    _fsum(baseline[scenario][j] for j in have),
                    _fsum(r.emissions_g for j in have for r in by_job[j]),
                )
        return out

    groups: dict[tuple[str, str], list[LedgerRecord]] = defaultdict(list)
    for r in actual:
        groups[(_key(r, by), signal_meaning(r))].append(r)
    job_keys: dict[str, set[str]] = defaultdict(set)
    for (key, _sig), rs in groups.items():
        for r in rs:
            job_keys[r.job_id].add(key)
    rows = []
    for (key, sig), rs in sorted(groups.items()):
        own = {r.job_id for r in rs if len(job_keys[r.job_id]) == 1}
        rows.append(_row(key, sig, rs, savings_of(own)))
    if any(len(k) > 1 for k in job_keys.values()):
        notes.append(f"jobs split across {by} groups count their savings in the totals only")

    meanings: dict[str, list[LedgerRecord]] = defaultdict(list)
    for r in actual:
        meanings[signal_meaning(r)].append(r)
    totals = tuple(
        _row("total", sig, rs, savings_of({r.job_id for r in rs}))
        for sig, rs in sorted(meanings.items())
    )
    if len(meanings) > 1:
        notes.append(
            "records use different signal meanings ("
            + ", ".join(sorted(meanings))
            + "): emissions are totalled per meaning, never summed across them"
        )

    average = [r for r in actual if r.labels.signal == "average"]
    marginal_kwh = _fsum(r.energy_kwh for r in actual if r.labels.signal != "average")
    market_g: float | None = None
    uncovered: set[str] = set()
    uncovered_kwh = 0.0
    if market_factors or market_factor_all is not None:
        factors = dict(market_factors or {})
        parts = []
        for r in actual:
            f = factors.get(r.zone, market_factor_all)
            if f is None:
                uncovered.add(r.zone)
                uncovered_kwh += r.energy_kwh
            else:
                parts.append(r.energy_kwh * f)
        market_g = math.fsum(parts)
    scope2 = Scope2(
        energy_kwh=_fsum(r.energy_kwh for r in actual),
        location_based_g=_fsum(r.emissions_g for r in average),
        location_signals=tuple(sorted({signal_meaning(r) for r in average})),
        excluded_marginal_kwh=marginal_kwh,
        unattributed_kwh=_fsum(r.energy_kwh for r in average if r.emissions_g is None),
        market_based_g=market_g,
        market_factor_source=market_factor_source,
        market_uncovered_zones=tuple(sorted(uncovered)),
        market_uncovered_kwh=uncovered_kwh,
    )
    return Report(start_s, end_s, by, tuple(rows), totals, scope2, _methods(actual), tuple(notes))


def _methods(actual: Sequence[LedgerRecord]) -> dict[str, Any]:
    meters: dict[str, int] = defaultdict(int)
    signals: dict[str, int] = defaultdict(int)
    for r in actual:
        detail = r.meter_detail
        if detail.get("method"):
            kind = "measured" if detail.get("measured") else "declared model"
            text = f"{r.meter} ({kind}: {detail['method']}; {detail.get('attribution', '')})"
        else:
            text = r.meter
        meters[text] += 1
        signals[r.labels.describe()] += 1
    return {
        "meters": [{"meter": k, "records": v} for k, v in sorted(meters.items())],
        "signals": [{"labels": k, "records": v} for k, v in sorted(signals.items())],
        "provisional_records": sum(r.status == "provisional" for r in actual),
        "final_records": sum(r.status == "final" for r in actual),
        "records_without_intensity": sum(r.emissions_g is None for r in actual),
        "records_on_filled_intensity": sum(r.intensity_filled for r in actual),
        "corrections": sum(r.supersedes is not None for r in actual),
        "integration": "energy per intensity step from cumulative meter readings "
        "(constant mean power between readings)",
    }
