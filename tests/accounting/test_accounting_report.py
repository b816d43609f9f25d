"""Report totals equal the sum of the ledger's records; savings, Scope 2 and formats."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest
from accounting.helpers_accounting import T0, build_ledger

from carbonshift.accounting.ledger import Ledger
from carbonshift.accounting.render import render_report
from carbonshift.accounting.report import build_report

JULY = T0 + 30 * 24 * 3600


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return build_ledger(tmp_path / "ledger.db")


def test_totals_equal_the_sum_of_records(ledger: Ledger) -> None:
    records = ledger.records()
    actual = [r for r in records if r.scenario == "actual"]
    report = build_report(records)
    by_meaning = {t.signal: t for t in report.totals}
    assert set(by_meaning) == {"average/lifecycle/consumption", "marginal/lifecycle/consumption"}
    avg = [r for r in actual if r.labels.signal == "average"]
    tot = by_meaning["average/lifecycle/consumption"]
    assert tot.energy_kwh == pytest.approx(math.fsum(r.energy_kwh for r in avg))
    assert tot.emissions_g == pytest.approx(math.fsum(r.emissions_g or 0 for r in avg))
    # by hand: a = 1.2×200 + 1×100 = 340, b = 125, c = 100 (provisional) -> 565 g
    assert tot.emissions_g == pytest.approx(565.0)
    assert tot.energy_kwh == pytest.approx(2.2 + 1.0 + 2.0)
    assert tot.unattributed_energy_kwh == pytest.approx(0.5)
    assert tot.provisional_energy_kwh == pytest.approx(2.0)
    assert by_meaning["marginal/lifecycle/consumption"].emissions_g == pytest.approx(600.0)
    assert any("never summed across" in n for n in report.notes)
    # rows add up to the totals, for every grouping
    for by in ("zone", "month", "job", "user"):
        rep = build_report(records, by=by)
        for total in rep.totals:
            rows = [r for r in rep.rows if r.signal == total.signal]
            assert math.fsum(r.energy_kwh for r in rows) == pytest.approx(total.energy_kwh)
            assert math.fsum(r.emissions_g for r in rows) == pytest.approx(total.emissions_g)
    months = {r.key for r in build_report(records, by="month").rows}
    assert months == {"2022-06", "2022-07"}


def test_period_filter_and_savings(ledger: Ledger) -> None:
    records = ledger.records()
    june = build_report(records, start_s=T0, end_s=JULY, by="job")
    assert {r.key for r in june.rows} == {"a", "b"}
    a = next(r for r in june.rows if r.key == "a")
    # job a (after its correction): actual 340 g; immediate 700 g; static 400 g; oracle 250 g
    assert a.savings["immediate"].saved_g == pytest.approx(360.0)
    assert a.savings["static"].saved_g == pytest.approx(60.0)
    assert a.savings["static"].saved_pct == pytest.approx(15.0)
    assert a.savings["oracle"].saved_g == pytest.approx(90.0)  # room left, reported apart
    b = next(r for r in june.rows if r.key == "b")
    assert b.savings == {}  # no counterfactual records
    assert june.totals[0].savings["immediate"].jobs == 1


def test_scope2_location_and_market(ledger: Ledger) -> None:
    records = ledger.records()
    rep = build_report(records, market_factors={"DE": 300.0})
    s2 = rep.scope2
    assert s2.location_based_g == pytest.approx(565.0)
    assert s2.excluded_marginal_kwh == pytest.approx(1.0)
    assert s2.unattributed_kwh == pytest.approx(0.5)
    assert s2.market_based_g == pytest.approx(3.2 * 300.0)
    assert s2.market_uncovered_zones == ("FR",) and s2.market_uncovered_kwh == pytest.approx(3.0)
    everywhere = build_report(records, market_factor_all=10.0).scope2
    assert everywhere.market_based_g == pytest.approx(10.0 * (3.2 + 3.0))


def test_formats_state_methods(ledger: Ledger) -> None:
    rep = build_report(ledger.records(), by="zone")
    text = render_report(rep, "text")
    assert "Scope 2 (GHG Protocol)" in text and "location-based" in text
    assert "nvml (measured: NVML total-energy counters" in text
    assert "DE: average, lifecycle, consumption-based, actual" in text
    assert "forecast" in text and "provisional" in text and "1 corrections" in text
    data = json.loads(render_report(rep, "json"))
    assert data["totals"][0]["emissions_g"] == pytest.approx(565.0)
    assert data["methods"]["provisional_records"] == 1
    rows = list(csv.DictReader(io.StringIO(render_report(rep, "csv"))))
    assert [r["group"] for r in rows] == ["DE", "FR", "FR", "total", "total"]
    assert float(rows[0]["saved_vs_immediate_kg"]) == pytest.approx(0.36)
    md = render_report(rep, "markdown")
    assert md.startswith("# carbonshift report") and "## Methods" in md
    page = render_report(rep, "html")
    assert page.startswith("<!doctype html>") and "<table>" in page and "Scope 2" in page
