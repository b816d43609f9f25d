"""Counterfactuals and savings, checked by hand on a small case."""

from __future__ import annotations

import numpy as np
import pytest
from accounting.helpers_accounting import T0, make_series

from carbonshift.accounting.counterfactual import counterfactuals
from carbonshift.accounting.profile import PowerProfile

H = 3600


def test_savings_by_hand() -> None:
    # hourly intensity: 400 300 200 100 150 250 (g/kWh)
    series = make_series([400, 300, 200, 100, 150, 250])
    # measured profile: 2 kW for the first hour, 1 kW for the second (3 kWh in all)
    prof = PowerProfile.piecewise(T0 + 2 * H, [H, H], [2000.0, 1000.0])  # ran at 02:00
    cf = counterfactuals(
        prof,
        series,
        immediate_start_s=T0,  # submitted at 00:00
        static_start_s=T0 + 4 * H,  # the static slot: 04:00
        oracle_start_s=T0 + 3 * H,  # best start with foresight: 03:00
    )
    # actual:    2 kWh × 200 + 1 kWh × 100 = 500 g
    # immediate: 2 × 400 + 1 × 300 = 1100 g;  static: 2 × 150 + 1 × 250 = 550 g
    # oracle:    2 × 100 + 1 × 150 = 350 g
    assert cf.actual.emissions_g == pytest.approx(500)
    assert cf.immediate is not None and cf.immediate.emissions_g == pytest.approx(1100)
    assert cf.static is not None and cf.static.emissions_g == pytest.approx(550)
    assert cf.oracle is not None and cf.oracle.emissions_g == pytest.approx(350)
    assert cf.savings_vs_immediate_g == pytest.approx(600)
    assert cf.savings_vs_immediate_pct == pytest.approx(100 * 600 / 1100)
    assert cf.savings_vs_static_g == pytest.approx(50)
    assert cf.savings_vs_static_pct == pytest.approx(100 * 50 / 550)
    assert cf.room_left_to_oracle_g == pytest.approx(150)
    assert cf.room_left_to_oracle_pct == pytest.approx(30)
    # the same energy in every placement
    assert {round(p.account.energy_kwh, 9) for p in cf.placements()} == {3.0}
    d = cf.to_dict()
    assert d["savings_vs_immediate_g"] == pytest.approx(600) and d["unavailable"] == []


def test_partial_hours_shift_with_the_profile() -> None:
    series = make_series([100, 200, 300])
    prof = PowerProfile.constant(T0 + 1800, H, 1000.0)  # 00:30-01:30: 0.5×100 + 0.5×200
    cf = counterfactuals(prof, series, immediate_start_s=T0 + 900)  # 00:15-01:15
    assert cf.actual.emissions_g == pytest.approx(150)
    assert cf.immediate is not None
    assert cf.immediate.emissions_g == pytest.approx(0.75 * 100 + 0.25 * 200)
    assert cf.savings_vs_immediate_g == pytest.approx(125 - 150)  # a loss is negative


def test_gap_makes_savings_unavailable_with_a_reason() -> None:
    series = make_series([np.nan, 300, 200])
    prof = PowerProfile.constant(T0 + 2 * H, H, 1000.0)
    cf = counterfactuals(prof, series, immediate_start_s=T0)
    assert cf.savings_vs_immediate_g is None and cf.savings_vs_static_g is None
    assert cf.unavailable() and "immediate placement has" in cf.unavailable()[0]


def test_forecast_counterfactuals_are_marked_provisional() -> None:
    series = make_series([1, 2], kind="forecast")
    cf = counterfactuals(PowerProfile.constant(T0, H, 10.0), series, immediate_start_s=T0)
    assert cf.notes and "provisional" in cf.notes[0]
