"""Energy integration equals the analytic integral, step by step, across step boundaries."""

from __future__ import annotations

import numpy as np
import pytest
from accounting.helpers_accounting import T0

from carbonshift.accounting.profile import J_PER_KWH, PowerProfile
from carbonshift.errors import DataError, UsageError

RES = 900  # 15-minute intensity steps


def _analytic_steps(f_integral: object, a: float, b: float, res: int) -> list[float]:
    """∫ p over each grid step ∩ [a, b), from the antiderivative F."""
    assert callable(f_integral)
    k0 = int(np.floor((a - T0) / res))
    k1 = int(np.ceil((b - T0) / res))
    out = []
    for k in range(k0, k1):
        lo, hi = max(a, T0 + k * res), min(b, T0 + (k + 1) * res)
        out.append(float(f_integral(hi) - f_integral(lo)))
    return out


def test_constant_power_across_steps() -> None:
    # 250 W from 00:10 for 40 min: steps 00:00-15 (5 min), 15-30, 30-45, 45-00 (5 min)
    start = T0 + 600
    prof = PowerProfile.constant(start, 2400, 250.0)
    steps = prof.per_step(T0, RES)
    assert list(steps.step_start_s) == [T0, T0 + 900, T0 + 1800, T0 + 2700]
    assert steps.energy_j == pytest.approx([250 * 300, 250 * 900, 250 * 900, 250 * 300])
    assert steps.interval_start_s[0] == start and steps.interval_end_s[-1] == start + 2400
    assert prof.energy_kwh == pytest.approx(250 * 2400 / J_PER_KWH)


def test_linear_ramp_sampled_with_trapezoid_is_exact() -> None:
    # p(t) = 100 + 0.05 (t - a) W over 3 h, sampled every 7 s (samples never on step edges)
    a = T0 + 123.0
    times = a + np.arange(0, 3 * 3600 + 1, 7.0)
    power = 100 + 0.05 * (times - a)

    def antiderivative(t: float) -> float:
        return 100 * (t - a) + 0.025 * (t - a) ** 2

    prof = PowerProfile.from_samples(times, power, method="trapezoid")
    steps = prof.per_step(T0, RES)
    expected = _analytic_steps(antiderivative, a, float(times[-1]), RES)
    assert steps.energy_j == pytest.approx(expected, rel=1e-12, abs=1e-6)
    assert steps.energy_j.sum() == pytest.approx(antiderivative(float(times[-1])), rel=1e-12)


def test_piecewise_power_with_hold_and_linear_pieces() -> None:
    # 300 W for 20 min, 50 W for 25 min, then a ramp 50 -> 350 W over 30 min
    a = T0 + 300.0
    b1, b2, b3 = a + 1200, a + 2700, a + 4500

    def p(t: np.ndarray) -> np.ndarray:
        return np.where(t < b1, 300.0, np.where(t < b2, 50.0, 50.0 + 300.0 * (t - b2) / 1800))

    def antiderivative(t: float) -> float:
        e = 300.0 * (min(t, b1) - a)
        if t > b1:
            e += 50.0 * (min(t, b2) - b1)
        if t > b2:
            x = min(t, b3) - b2
            e += 50.0 * x + 300.0 * x**2 / 3600
        return e

    # trapezoid is exact when the corners are sample times (continuous pieces need a
    # sample on each side of the jump: two samples at the same instant are not allowed, so
    # the jump is given as two samples 1 ms apart and the tolerance covers that millisecond)
    times = np.concatenate(
        [np.arange(a, b1, 60.0), [b1 - 1e-3], np.arange(b1, b2, 60.0), np.arange(b2, b3 + 1, 60.0)]
    )
    power = p(times)
    power[np.searchsorted(times, b1 - 1e-3)] = 300.0
    prof = PowerProfile.from_samples(times, power, method="trapezoid")
    expected = _analytic_steps(antiderivative, a, b3, RES)
    assert prof.per_step(T0, RES).energy_j == pytest.approx(expected, abs=0.5)

    # the constant part alone, as hold pieces: exact to rounding
    held = PowerProfile.piecewise(a, [1200, 1500], [300.0, 50.0])
    exp_held = _analytic_steps(antiderivative, a, b2, RES)
    assert held.per_step(T0, RES).energy_j == pytest.approx(exp_held, rel=1e-12)


def test_hold_uses_the_previous_sample() -> None:
    prof = PowerProfile.from_samples([0.0, 10.0, 30.0], [100.0, 200.0, 999.0], method="hold")
    assert prof.energy_j == pytest.approx(100 * 10 + 200 * 20)
    trap = PowerProfile.from_samples([0.0, 10.0, 30.0], [100.0, 200.0, 999.0])
    assert trap.energy_j == pytest.approx(150 * 10 + 599.5 * 20)


def test_cumulative_energy_readings_keep_totals_exact() -> None:
    times = T0 + np.array([0.0, 1000.0, 1700.0, 4000.0])
    energy = np.array([0.0, 1e5, 1.7e5, 5e5])
    prof = PowerProfile.from_energy(times, energy)
    assert prof.energy_j == pytest.approx(5e5)
    steps = prof.per_step(T0, 3600)
    # the last interval (1700..4000 s, 330 kJ) is split at 3600 s in proportion to time
    assert steps.energy_j == pytest.approx([1.7e5 + 3.3e5 * 1900 / 2300, 3.3e5 * 400 / 2300])
    with pytest.raises(DataError, match="lower than the one before"):
        PowerProfile.from_energy([0, 1, 2], [0, 5, 4])


def test_shift_scale_and_partial_windows() -> None:
    prof = PowerProfile.from_samples([0.0, 100.0], [0.0, 100.0])
    assert prof.energy_between_j(0, 50) == pytest.approx(1250.0)
    assert prof.energy_between_j(-10, 200) == pytest.approx(5000.0)
    moved = prof.starting_at(1000.0)
    assert moved.start_s == 1000.0 and moved.energy_j == pytest.approx(prof.energy_j)
    assert prof.scaled(1.5).energy_j == pytest.approx(7500.0)
    assert prof.power_at([50.0, 150.0]) == pytest.approx([50.0, 0.0])


def test_bad_profiles_are_refused() -> None:
    with pytest.raises(DataError, match="at least two"):
        PowerProfile.from_samples([0.0], [1.0])
    with pytest.raises(DataError, match="strictly increasing"):
        PowerProfile.from_samples([0.0, 0.0], [1.0, 1.0])
    with pytest.raises(DataError, match="not negative"):
        PowerProfile.from_samples([0.0, 1.0], [1.0, -1.0])
    with pytest.raises(UsageError):
        PowerProfile.constant(0.0, 0.0, 1.0)
