"""Accounting a run over several intensity steps: step energy × step intensity, gaps reported
(never filled), provisional figures on a forecast and final ones on actuals."""

from __future__ import annotations

import numpy as np
import pytest
from accounting.helpers_accounting import T0, make_series

from carbonshift.accounting.emissions import account, restate
from carbonshift.accounting.profile import PowerProfile
from carbonshift.errors import UsageError


def test_run_over_several_steps() -> None:
    # 1 kW from 00:30 to 03:15 on hourly intensities 100, 200, 300, 400 g/kWh
    series = make_series([100, 200, 300, 400, 500])
    prof = PowerProfile.constant(T0 + 1800, 2 * 3600 + 2700, 1000.0)
    acc = account(prof, series)
    assert [s.step_start_s for s in acc.steps] == [T0, T0 + 3600, T0 + 7200, T0 + 10800]
    assert [s.energy_kwh for s in acc.steps] == pytest.approx([0.5, 1.0, 1.0, 0.25])
    assert [s.emissions_g for s in acc.steps] == pytest.approx([50, 200, 300, 100])
    assert acc.energy_kwh == pytest.approx(2.75)
    assert acc.emissions_g == pytest.approx(650.0)
    assert acc.mean_intensity_g_per_kwh == pytest.approx(650 / 2.75)
    assert acc.complete and acc.status == "final" and acc.unattributed_energy_kwh == 0
    assert acc.steps[0].interval_start_s == T0 + 1800
    assert acc.steps[-1].interval_end_s == T0 + 10800 + 900


def test_gap_is_reported_not_filled() -> None:
    series = make_series([100, np.nan, np.nan, 400])
    prof = PowerProfile.constant(T0, 4 * 3600, 500.0)  # 0.5 kWh per hour
    acc = account(prof, series)
    assert not acc.complete
    assert [s.step_start_s for s in acc.gap_steps] == [T0 + 3600, T0 + 7200]
    assert all(s.intensity_g_per_kwh is None and s.emissions_g is None for s in acc.gap_steps)
    assert acc.unattributed_energy_kwh == pytest.approx(1.0)
    assert acc.emissions_g == pytest.approx(0.5 * 100 + 0.5 * 400)  # gap contributes nothing
    summary = acc.gap_summary()
    assert "2 step(s) without intensity" in summary
    assert "2022-06-01T01:00Z..2022-06-01T03:00Z" in summary and "1 kWh unattributed" in summary
    d = acc.to_dict()
    assert d["complete"] is False and len(d["gap_steps"]) == 2


def test_steps_outside_the_series_are_gaps_too() -> None:
    series = make_series([100, 200])
    prof = PowerProfile.constant(T0 + 3600, 7200, 1000.0)
    acc = account(prof, series)
    assert [s.outside for s in acc.steps] == [False, True]
    assert acc.emissions_g == pytest.approx(200.0)
    assert acc.unattributed_energy_kwh == pytest.approx(1.0)


def test_filled_values_are_flagged() -> None:
    series = make_series([100, 150, 200])
    series = series.replace_values(series.values, filled=np.array([False, True, False]))
    acc = account(PowerProfile.constant(T0, 3 * 3600, 1000.0), series)
    assert acc.complete and [s.filled for s in acc.filled_steps] == [True]


def test_provisional_then_final() -> None:
    forecast = make_series([100, 200, 300], kind="forecast", provider="em")
    actual = make_series([120, 180, 330], provider="em")
    prof = PowerProfile.constant(T0 + 1800, 7200, 1000.0)
    prov = account(prof, forecast)
    assert prov.status == "provisional" and prov.emissions_g == pytest.approx(50 + 200 + 150)
    change = restate(prov, actual)  # same grid: step energies reused
    assert change.final.status == "final"
    assert change.final.emissions_g == pytest.approx(60 + 180 + 165)
    assert change.change_g == pytest.approx(5.0)
    assert change.change_pct == pytest.approx(1.25)
    step0 = change.step_changes()[0]
    assert step0[0] == T0 and step0[1:] == pytest.approx((50.0, 60.0))
    # a finer actual series needs the profile to re-integrate exactly
    fine = make_series(np.repeat([120, 180, 330], 4), resolution_s=900, provider="em")
    with pytest.raises(UsageError, match="another grid"):
        restate(prov, fine)
    assert restate(prov, fine, profile=prof).final.emissions_g == pytest.approx(405.0)
    with pytest.raises(UsageError, match="forecast"):
        restate(prov, forecast)
    with pytest.raises(UsageError, match="cannot restate"):
        restate(prov, make_series([1, 2, 3], signal="marginal"))
