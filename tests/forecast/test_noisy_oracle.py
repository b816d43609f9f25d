"""The noisy oracle (perfect foresight + Gaussian noise): seeded, the right spread, fixed per
step across issue times, batch equal to one-by-one, labelled as what it is."""

from __future__ import annotations

import numpy as np
import pytest

from carbonshift.errors import DataError, UsageError
from carbonshift.forecast import make_forecaster
from carbonshift.forecast.noisy import NOTE, NoisyOracleForecaster
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries

R = 1800
T0 = 1_577_836_800  # 2020-01-01T00:00Z


def _series(n: int = 20_000, zone: str = "DE", seed: int = 1) -> IntensitySeries:
    rng = np.random.default_rng(seed)
    values = 300 + 80 * np.sin(np.arange(n) * 2 * np.pi / 48) + rng.normal(0, 10, n)
    return IntensitySeries(T0, R, values, SignalLabels(zone=zone))


def test_seeded_and_reproducible() -> None:
    s = _series()
    a = NoisyOracleForecaster(s, error=0.05, seed=3).forecast(s, T0 + 100 * R, 48 * R)
    b = NoisyOracleForecaster(s, error=0.05, seed=3).forecast(s, T0 + 100 * R, 48 * R)
    c = NoisyOracleForecaster(s, error=0.05, seed=4).forecast(s, T0 + 100 * R, 48 * R)
    assert np.array_equal(a.values, b.values)
    assert not np.allclose(a.values, c.values)
    # the paper's draw: default_rng(seed).normal(0, error * mean, len(series)), in step order
    ref = s.values + np.random.default_rng(3).normal(0, 0.05 * s.values.mean(), len(s))
    assert np.allclose(a.values, ref[100:148])


def test_error_has_the_right_spread_and_no_bias() -> None:
    s = _series()
    f = NoisyOracleForecaster(s, error=0.05, seed=0)
    err = f.noisy_values("DE") - s.values
    target = 0.05 * s.values.mean()
    assert f.sigma("DE") == pytest.approx(target)
    assert err.std() == pytest.approx(target, rel=0.03)  # 20k draws: ~0.5 % sampling error
    assert abs(err.mean()) < 4 * target / np.sqrt(err.size)
    assert abs(np.corrcoef(err[:-1], err[1:])[0, 1]) < 0.05  # independent steps
    zero = NoisyOracleForecaster(s, error=0.0)
    assert np.array_equal(zero.noisy_values("DE"), s.values)


def test_same_error_for_a_step_whatever_the_issue_time() -> None:
    s = _series()
    f = NoisyOracleForecaster(s, error=0.1, seed=9)
    early = f.forecast(s, T0 + 10 * R, 96 * R)
    late = f.forecast(s, T0 + 50 * R + 7, 40 * R)  # off the grid: starts at step 50
    assert late.start_s == T0 + 50 * R
    assert np.array_equal(early.values[40 : 40 + len(late)], late.values)


def test_history_scale_uses_only_the_past_mean() -> None:
    values = np.concatenate([np.full(1000, 100.0), np.full(1000, 500.0)])
    s = IntensitySeries(T0, R, values, SignalLabels(zone="GB"))
    f = NoisyOracleForecaster(s, error=0.1, seed=0, scale="history")
    assert f.sigma("GB", T0 + 500 * R) == pytest.approx(10.0)
    assert f.sigma("GB", T0 + 2000 * R) == pytest.approx(30.0)
    paper = NoisyOracleForecaster(s, error=0.1, seed=0)
    assert paper.sigma("GB", T0 + 500 * R) == pytest.approx(30.0)


@pytest.mark.parametrize("scale", ["series", "history"])
def test_batch_equals_one_by_one_and_labels(scale: str) -> None:
    s = _series(3000)
    f = NoisyOracleForecaster(s, error=0.05, seed=1, scale=scale)
    nows = np.array([T0 + 5 * R, T0 + 200 * R + 60, T0 + 2990 * R])
    batch = f.predict_batch(s, nows, 20)
    for i, now in enumerate(nows.tolist()):
        one = f.predict(s, now, 20 * R - (now - T0) % R)
        got = batch.point[i, : len(one.series)]
        assert np.allclose(got, one.series.values, equal_nan=True)
        assert one.series.labels.kind == "forecast"
        assert one.notes == (NOTE,) and "perfect foresight" in NOTE
    assert np.isnan(batch.point[2, 10:]).all()  # past the end of the actuals


def test_registry_and_errors() -> None:
    s = _series(100)
    f = make_forecaster("noisy_oracle", actuals={"DE": s}, error=0.02, seed=5)
    assert isinstance(f, NoisyOracleForecaster) and f.error == 0.02
    with pytest.raises(UsageError):
        make_forecaster("noisy_oracle")
    with pytest.raises(UsageError):
        NoisyOracleForecaster(s, error=-0.1)
    with pytest.raises(UsageError):
        NoisyOracleForecaster(s, scale="future")
    other = _series(100, zone="FR")
    with pytest.raises(DataError):
        f.forecast(other, T0 + 10 * R, R)
    coarse = IntensitySeries(T0, 3600, np.ones(50), SignalLabels(zone="DE"))
    with pytest.raises(DataError):
        f.forecast(coarse, T0 + 10 * 3600, 3600)
