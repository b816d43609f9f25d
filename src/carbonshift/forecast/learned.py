"""Learned forecasters that retrain on a fixed cadence from the past only.

**Retraining.** A :class:`RetrainingForecaster` refits at most once per ``retrain_every_s``
(default 7 days). The fit times lie on a fixed schedule, multiples of ``retrain_every_s`` since
the Unix epoch, so the model used at ``now`` is the one fitted at ``fit = floor(now / every) *
every <= now`` on the training window ``[fit - train_window_s, fit)``: a pure function of the data
before ``fit``, whatever order forecasts are asked in. Fitted models are cached by fit time and a
digest of the values before it, so changed data are never served a stale model.

**Intervals.** Quantiles (default p10 and p90) are empirical residual quantiles per lead,
measured out of sample: the model fitted ``ceil(calibration / every)`` fits earlier forecasts
every decision in ``[that fit, fit)`` (``calibration_s``, default 14 days), and the quantiles of
``actual - forecast`` at each lead, taken about their median (so that a bias of the older
model does not shift the band off the newer point forecast), are added to the point forecast.
Until such an earlier model exists there are no intervals (a note says so).

**Fallback.** With less than ``min_train_s`` of training data the forecaster answers with the
seasonal-naive 24 h forecast and a note.

:class:`GradientBoostingForecaster` (registry name ``gbm``) is scikit-learn's
``HistGradientBoostingRegressor`` on the features of :mod:`carbonshift.forecast.features`, one
direct multi-lead model (the lead is a feature) predicting the departure from a seasonal baseline
with today's anomaly fading out, scaled per lead; trained on the last 365 days by default.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from carbonshift.errors import UsageError
from carbonshift.forecast.base import (
    BatchForecast,
    Forecast,
    Forecaster,
    ProgressFn,
    first_step_index,
    require_history,
)
from carbonshift.forecast.baselines import DAY_S, seasonal_values
from carbonshift.forecast.features import (
    FeatureContext,
    baseline,
    coprime_stride,
    features,
    lead_steps_for_training,
)
from carbonshift.signals.series import FloatArray, IntArray, IntensitySeries

__all__ = ["Fitted", "GradientBoostingForecaster", "RetrainingForecaster"]


@dataclass(frozen=True)
class Fitted:
    """The model used between two fit times, and its residual quantiles per lead step
    (``residual_q[i, L - 1]`` for ``quantiles[i]`` at lead ``L``; ``None`` when uncalibrated)."""

    fit_s: int
    model: Any
    residual_q: FloatArray | None
    notes: tuple[str, ...]


class RetrainingForecaster(Forecaster):
    """A model refitted on a fixed schedule on a rolling window (see the module docstring).

    Subclasses implement :meth:`_fit` (training on the values before a fit index) and
    :meth:`_point` (point forecasts for (target, last known) pairs).
    """

    def __init__(
        self,
        *,
        retrain_every_s: int = 7 * DAY_S,
        train_window_s: int = 182 * DAY_S,
        min_train_s: int = 14 * DAY_S,
        calibration_s: int = 14 * DAY_S,
        quantiles: Sequence[float] = (0.1, 0.9),
        max_lead_s: int = 2 * DAY_S,
        cache_size: int = 16,
    ) -> None:
        if retrain_every_s <= 0 or train_window_s <= 0 or max_lead_s <= 0:
            raise UsageError(
                "retraining: retrain_every_s, train_window_s and max_lead_s must be positive"
            )
        if min_train_s > train_window_s:
            raise UsageError("retraining: min_train_s exceeds train_window_s")
        if any(not 0.0 < q < 1.0 for q in quantiles):
            raise UsageError("quantiles: each must lie strictly between 0 and 1", hint="0.1,0.9")
        self.retrain_every_s = int(retrain_every_s)
        self.train_window_s = int(train_window_s)
        self.min_train_s = int(min_train_s)
        self.calibration_s = int(calibration_s)
        self.quantiles = tuple(sorted(float(q) for q in quantiles))
        self.max_lead_s = int(max_lead_s)
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    # ------------------------------------------------------------------ schedule
    def fit_time_s(self, now_s: int) -> int:
        """The fit time whose model serves a decision at ``now`` (``<= now``)."""
        return (int(now_s) // self.retrain_every_s) * self.retrain_every_s

    # ------------------------------------------------------------------ for subclasses
    @abstractmethod
    def _fit(self, ctx: FeatureContext, fit_index: int) -> Any | None:
        """A model trained on ``ctx.values[:fit_index]`` only, or ``None`` if too little data."""

    @abstractmethod
    def _point(
        self, model: Any, ctx: FeatureContext, target: IntArray, last: IntArray
    ) -> FloatArray:
        """Point forecasts for 1-D arrays of (target, last known) pairs."""

    # ------------------------------------------------------------------ fitting with cache
    def _cached(self, key: tuple[Any, ...], make: Any) -> Any:
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        value = make()
        self._cache[key] = value
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return value

    def _key(self, ctx: FeatureContext, fit_index: int, what: str) -> tuple[Any, ...]:
        digest = hashlib.blake2b(ctx.values[:fit_index].tobytes(), digest_size=16).hexdigest()
        return (what, ctx.start_s, ctx.resolution_s, fit_index, digest)

    def _fit_index(self, ctx: FeatureContext, fit_s: int) -> int:
        return int(min(max((fit_s - ctx.start_s) // ctx.resolution_s, 0), ctx.values.size))

    def _model(self, ctx: FeatureContext, fit_s: int) -> Any | None:
        index = self._fit_index(ctx, fit_s)
        return self._cached(self._key(ctx, index, "model"), lambda: self._fit(ctx, index))

    def fitted(self, ctx: FeatureContext, fit_s: int) -> Fitted | None:
        """The model of fit time ``fit_s`` with its calibration (``None``: fall back)."""
        index = self._fit_index(ctx, fit_s)
        return self._cached(  # type: ignore[no-any-return]
            self._key(ctx, index, "fitted"), lambda: self._calibrate(ctx, fit_s)
        )

    def _calibrate(self, ctx: FeatureContext, fit_s: int) -> Fitted | None:
        model = self._model(ctx, fit_s)
        if model is None:
            return None
        if not self.quantiles:
            return Fitted(fit_s, model, None, ())
        back = -(-self.calibration_s // self.retrain_every_s) * self.retrain_every_s
        earlier = self._model(ctx, fit_s - back)
        if earlier is None:
            return Fitted(fit_s, model, None, ("no intervals yet: too little data to calibrate",))
        r = ctx.resolution_s
        max_lead = max(1, self.max_lead_s // r)
        lo = self._fit_index(ctx, fit_s - back)
        hi = self._fit_index(ctx, fit_s)
        last = np.arange(lo - 1, hi - 1, dtype=np.int64)
        leads = np.arange(1, max_lead + 1, dtype=np.int64)
        last_m, lead_m = np.meshgrid(last, leads, indexing="ij")
        target = (last_m + lead_m).ravel()
        last_f = last_m.ravel()
        keep = (target < hi) & (last_f >= 0)
        target, last_f, lead_f = target[keep], last_f[keep], lead_m.ravel()[keep]
        actual = ctx.values[target]
        ok = ~np.isnan(actual)
        residual = actual[ok] - self._point(earlier, ctx, target[ok], last_f[ok])
        lead_f = lead_f[ok]
        good = ~np.isnan(residual)
        residual, lead_f = residual[good], lead_f[good]
        table = np.full((len(self.quantiles), max_lead), np.nan)
        for lead in range(1, max_lead + 1):
            sample = residual[lead_f == lead]
            if sample.size >= 10:  # the spread around the median: intervals bracket the point
                table[:, lead - 1] = np.quantile(sample, self.quantiles) - np.median(sample)
        if np.isnan(table).all():
            return Fitted(fit_s, model, None, ("no intervals: no calibration residuals",))
        for i in range(table.shape[0]):  # leads with too few residuals take the nearest ones
            row = table[i]
            idx = np.where(np.isnan(row), -1, np.arange(row.size))
            np.maximum.accumulate(idx, out=idx)
            first_ok = int(np.flatnonzero(~np.isnan(row))[0])
            table[i] = np.where(idx >= 0, row[np.maximum(idx, 0)], row[first_ok])
        return Fitted(fit_s, model, table, ())

    # ------------------------------------------------------------------ forecasting
    def _rows(
        self, ctx: FeatureContext, fitted: Fitted | None, target: IntArray, last: IntArray
    ) -> tuple[FloatArray, dict[float, FloatArray]]:
        """Point and quantile forecasts for pairs (the fallback when ``fitted`` is None)."""
        if fitted is None:
            return seasonal_values(ctx.values, target, last, ctx.day_steps), {}
        point = self._point(fitted.model, ctx, target, last)
        quantiles: dict[float, FloatArray] = {}
        if fitted.residual_q is not None:
            lead = np.clip(target - last, 1, fitted.residual_q.shape[1]) - 1
            for i, q in enumerate(self.quantiles):
                quantiles[q] = point + fitted.residual_q[i, lead]
        return point, quantiles

    def _notes(self, fitted: Fitted | None) -> tuple[str, ...]:
        if fitted is None:
            return (
                f"{self.name}: too little training data; used the seasonal-naive 24 h forecast",
            )
        return fitted.notes

    def _predict(self, known: IntensitySeries, now_s: int, n_steps: int) -> Forecast:
        require_history(known, now_s, self.name)
        ctx = FeatureContext(known.values, known.start_s, known.resolution_s)
        fitted = self.fitted(ctx, self.fit_time_s(now_s))
        first = first_step_index(known, now_s)
        target = first + np.arange(n_steps, dtype=np.int64)
        last = np.full(n_steps, len(known) - 1, dtype=np.int64)
        point, quantiles = self._rows(ctx, fitted, target, last)
        return Forecast(
            self._series(known, now_s, point),
            self.name,
            {q: self._series(known, now_s, v) for q, v in quantiles.items()},
            self._notes(fitted),
        )

    def _predict_batch(
        self,
        history: IntensitySeries,
        nows_s: IntArray,
        first_index: IntArray,
        n_steps: int,
        progress: ProgressFn | None,
    ) -> BatchForecast:
        """All decision times served by one model at once (one fit, one predict call)."""
        ctx = FeatureContext(history.values, history.start_s, history.resolution_s)
        n_known = np.clip(first_index, 0, len(history))
        point = np.full((nows_s.size, n_steps), np.nan)
        quantiles = {q: np.full((nows_s.size, n_steps), np.nan) for q in self.quantiles}
        fit_times = (nows_s // self.retrain_every_s) * self.retrain_every_s
        steps = np.arange(n_steps, dtype=np.int64)
        for fit_s in np.unique(fit_times).tolist():
            rows = np.flatnonzero((fit_times == fit_s) & (n_known > 0))
            if rows.size:
                fitted = self.fitted(ctx, int(fit_s))
                target = (first_index[rows, None] + steps[None, :]).ravel()
                last = np.repeat(n_known[rows] - 1, n_steps)
                p, qs = self._rows(ctx, fitted, target, last)
                point[rows] = p.reshape(rows.size, n_steps)
                for q, values in qs.items():
                    quantiles[q][rows] = values.reshape(rows.size, n_steps)
            if progress is not None:
                progress(int((fit_times == fit_s).sum()))
        kept = {q: m for q, m in quantiles.items() if not np.isnan(m).all()}
        return BatchForecast(nows_s, first_index, point, kept)


@dataclass(frozen=True)
class _Trees:
    """A fitted regressor and the per-lead scale of its target (index: lead step - 1)."""

    regressor: Any
    scale: FloatArray


class GradientBoostingForecaster(RetrainingForecaster):
    """Gradient-boosted trees on lags, calendar and seasonal terms (registry name ``gbm``).

    Training rows: every decision time in the training window (thinned to at most
    ``max_rows`` rows, with a stride that still visits every hour of the day), at every lead up
    to ``max_lead_s``, whose target is known before the fit time. The target is the departure
    from :func:`~carbonshift.forecast.features.baseline` (the value a day earlier plus today's
    fading anomaly) divided by its spread at that lead in the training rows, so that the short
    leads, whose departures are small, weigh as much as the long ones.

    ``threads`` caps the OpenMP threads of one fit (default 1: on small machines the trees of
    this size train faster on one thread than on two contending ones; ``None`` = all cores).
    """

    name = "gbm"

    def __init__(
        self,
        *,
        max_iter: int = 150,
        learning_rate: float = 0.08,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 200,
        l2_regularization: float = 1.0,
        max_rows: int = 20_000,
        random_state: int = 0,
        threads: int | None = 1,
        **retraining: Any,
    ) -> None:
        retraining.setdefault("train_window_s", 365 * DAY_S)
        super().__init__(**retraining)
        self.params = {
            "max_iter": int(max_iter),
            "learning_rate": float(learning_rate),
            "max_leaf_nodes": int(max_leaf_nodes),
            "min_samples_leaf": int(min_samples_leaf),
            "l2_regularization": float(l2_regularization),
            "random_state": int(random_state),
            "early_stopping": False,
        }
        self.max_rows = int(max_rows)
        self.threads = threads

    def _training_rows(self, ctx: FeatureContext, fit_index: int) -> tuple[IntArray, IntArray]:
        r = ctx.resolution_s
        window = self.train_window_s // r
        leads = lead_steps_for_training(max(1, self.max_lead_s // r))
        first_origin = max(ctx.week_steps, fit_index - window)  # a week of lags behind it
        n_origins = max(0, fit_index - 1 - first_origin)
        stride = coprime_stride(-(-n_origins * leads.size // self.max_rows), ctx.day_steps)
        last = np.arange(first_origin, fit_index - 1, stride, dtype=np.int64)
        last_m, lead_m = np.meshgrid(last, leads, indexing="ij")
        target = (last_m + lead_m).ravel()
        last_f = last_m.ravel()
        keep = target < fit_index
        target, last_f = target[keep], last_f[keep]
        keep = ~np.isnan(ctx.values[target])
        return target[keep], last_f[keep]

    def _fit(self, ctx: FeatureContext, fit_index: int) -> Any | None:
        from sklearn.ensemble import (  # type: ignore[import-untyped]
            HistGradientBoostingRegressor,
        )

        target, last = self._training_rows(ctx, fit_index)
        min_rows = (self.min_train_s // ctx.resolution_s) * 4
        if target.size < min_rows:
            return None
        x = features(ctx, target, last)
        base = baseline(x)
        ok = ~np.isnan(base)
        if ok.sum() < min_rows:
            return None
        x, y, lead = x[ok], ctx.values[target[ok]] - base[ok], target[ok] - last[ok]
        max_lead = max(1, self.max_lead_s // ctx.resolution_s)
        scale = np.ones(max_lead)
        for step in np.unique(lead).tolist():
            spread = float(np.std(y[lead == step]))
            scale[step - 1] = spread if spread > 0 else 1.0
        filled = np.flatnonzero(np.isin(np.arange(1, max_lead + 1), lead))
        scale = np.interp(np.arange(max_lead), filled, scale[filled])  # untrained leads between
        regressor = HistGradientBoostingRegressor(**self.params)
        with threadpool_limits(self.threads, user_api="openmp"):
            regressor.fit(x, y / scale[lead - 1])
        return _Trees(regressor, scale)

    def _point(
        self, model: Any, ctx: FeatureContext, target: IntArray, last: IntArray
    ) -> FloatArray:
        if target.size == 0:
            return np.zeros(0)
        trees: _Trees = model
        x = features(ctx, target, last)
        max_lead_h = self.max_lead_s / 3600.0
        x[:, 0] = np.minimum(x[:, 0], max_lead_h)  # beyond the trained leads: the last one
        scale = trees.scale[np.clip(target - last, 1, trees.scale.size) - 1]
        with threadpool_limits(self.threads, user_api="openmp"):
            departure = np.asarray(trees.regressor.predict(x), dtype=np.float64)
        out = baseline(x) + departure * scale
        return np.asarray(np.maximum(out, 0.0), dtype=np.float64)

    def __repr__(self) -> str:
        return (
            f"GradientBoostingForecaster(retrain_every_s={self.retrain_every_s}, "
            f"train_window_s={self.train_window_s}, max_iter={self.params['max_iter']})"
        )
