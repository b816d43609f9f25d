"""**Perfect foresight plus noise**: the actual series with i.i.d. Gaussian error.

This is *not* a forecaster in the sense of the rest of this package: it reads the actual
values of the future (it is given the actual series when it is built, and never uses the
history cut at ``now`` except for its grid and zone). It exists to reproduce studies that model
forecast error this way, above all Wiesner et al., "Let's Wait Awhile" (Middleware'21), and to
ask "how much does shifting lose to an error of x %?". Every forecast it makes says so in its
notes, and its registry name is ``noisy_oracle``. Never use it to claim what a real forecast
achieves.

The model, as the authors' ``simulate.py`` (``_apply_error``) does it:

- one draw ``z ~ N(0, 1)`` per step of the actual series, from ``numpy.random.default_rng(seed)``
  in step order starting at the series' first step, drawn **once**: every forecast, whatever
  its issue time, sees the same error for the same step (the error does not shrink as the
  step comes closer);
- the forecast for step ``t`` is ``actual[t] + sigma * z[t]`` with ``sigma = error × mean``;
  ``scale="series"`` (the paper) takes the mean of the **whole actual series** given (so also
  of values after ``now``); ``scale="history"`` takes the mean of the history known at ``now``
  instead (steps complete at ``now``; the series mean before the first complete step).

Values past the end of the actual series are NaN (not forecast).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from carbonshift.errors import DataError, UsageError
from carbonshift.forecast.base import (
    BatchForecast,
    Forecast,
    Forecaster,
    ProgressFn,
    first_step_index,
)
from carbonshift.signals.series import FloatArray, IntArray, IntensitySeries

__all__ = ["SCALES", "NoisyOracleForecaster"]

SCALES = ("series", "history")
NOTE = "perfect foresight + Gaussian noise (reads the actual future values): not a real forecast"


class NoisyOracleForecaster(Forecaster):
    """The actual series plus fixed i.i.d. Gaussian error (see the module docstring).

    ``actuals``: the actual series (one, or one per zone keyed by zone name); ``error``: the
    standard deviation as a fraction of the mean (``0.05`` = 5 %); ``seed``: the draws;
    ``scale``: ``"series"`` (the paper) or ``"history"``.
    """

    name = "noisy_oracle"

    def __init__(
        self,
        actuals: IntensitySeries | Mapping[str, IntensitySeries],
        error: float = 0.05,
        seed: int = 0,
        scale: str = "series",
    ) -> None:
        if error < 0 or not np.isfinite(error):
            raise UsageError("noisy_oracle: error must be a non-negative fraction", hint="0.05")
        if scale not in SCALES:
            raise UsageError(f"noisy_oracle: unknown scale {scale!r}", hint="series or history")
        series = {actuals.zone: actuals} if isinstance(actuals, IntensitySeries) else actuals
        if not series:
            raise UsageError("noisy_oracle: no actual series given")
        self.actuals = dict(series)
        self.error = float(error)
        self.seed = int(seed)
        self.scale = scale
        self._z = {
            zone: np.random.default_rng(self.seed).normal(0.0, 1.0, size=len(s))
            for zone, s in self.actuals.items()
        }

    # ------------------------------------------------------------------ the noise
    def sigma(self, zone: str, now_s: int | None = None) -> float:
        """The error's standard deviation for ``zone`` (at ``now`` with ``scale="history"``)."""
        truth = self._truth(zone)
        values = truth.values
        if self.scale == "history" and now_s is not None:
            known = max(min((int(now_s) - truth.start_s) // truth.resolution_s, len(truth)), 0)
            if known and not np.isnan(values[:known]).all():
                values = values[:known]
        return self.error * float(np.nanmean(values))

    def noisy_values(self, zone: str, now_s: int | None = None) -> FloatArray:
        """The whole noisy series of ``zone`` (what every forecast is cut from)."""
        truth = self._truth(zone)
        out: FloatArray = truth.values + self.sigma(zone, now_s) * self._z[zone]
        return out

    def _truth(self, zone: str) -> IntensitySeries:
        truth = self.actuals.get(zone)
        if truth is None:
            raise DataError(
                f"noisy_oracle: no actual series for zone {zone!r}",
                hint=f"build it with the actuals of {zone}",
            )
        return truth

    def _check_grid(self, history: IntensitySeries) -> IntensitySeries:
        truth = self._truth(history.zone)
        r = truth.resolution_s
        if history.resolution_s != r or (history.start_s - truth.start_s) % r:
            raise DataError(
                f"{history.zone}: noisy_oracle was built on a {r} s grid from "
                f"{truth.start}, the history is on another grid",
                hint="build it from the same series that is replayed",
            )
        return truth

    # ------------------------------------------------------------------ Forecaster
    def _predict(self, known: IntensitySeries, now_s: int, n_steps: int) -> Forecast:
        truth = self._check_grid(known)
        first = first_step_index(truth, now_s)
        idx = first + np.arange(n_steps, dtype=np.int64)
        values = _take(self.noisy_values(known.zone, now_s), idx)
        return Forecast(self._series(known, now_s, values), self.name, {}, (NOTE,))

    def _predict_batch(
        self,
        history: IntensitySeries,
        nows_s: IntArray,
        first_index: IntArray,
        n_steps: int,
        progress: ProgressFn | None,
    ) -> BatchForecast:
        truth = self._check_grid(history)
        shift = (history.start_s - truth.start_s) // truth.resolution_s
        idx = (first_index + shift)[:, None] + np.arange(n_steps, dtype=np.int64)[None, :]
        if self.scale == "series":
            point = _take(self.noisy_values(history.zone), idx)
        else:
            sig = np.array([self.sigma(history.zone, int(t)) for t in nows_s.tolist()])
            z = _take(self._z[history.zone], idx)
            point = _take(truth.values, idx) + sig[:, None] * z
        if progress is not None:
            progress(int(nows_s.size))
        return BatchForecast(nows_s, first_index, point, {})

    def __repr__(self) -> str:
        return (
            f"NoisyOracleForecaster(zones={sorted(self.actuals)}, error={self.error}, "
            f"seed={self.seed}, scale={self.scale!r})"
        )


def _take(values: FloatArray, index: IntArray) -> FloatArray:
    """``values[index]`` with NaN outside the array."""
    inside = (index >= 0) & (index < values.size)
    out: FloatArray = np.where(inside, values[np.clip(index, 0, max(values.size - 1, 0))], np.nan)
    return out
