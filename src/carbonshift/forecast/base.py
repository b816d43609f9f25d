"""The forecaster interface: history in, forecast series out, nothing from after ``now``.

**What is known at ``now``.** A value stamped ``t`` with resolution ``r`` is the mean over
``[t, t + r)``, so it is known at ``now`` iff ``t + r <= now``. :meth:`Forecaster.predict` cuts
the history to exactly those steps (a *copy*, so not even ``values.base`` reaches further) before
any model sees it: no subclass can look ahead, whatever it does.

**The forecast grid.** The forecast is on the history's grid and starts with the step that
*contains* ``now`` (``t0 = start + floor((now - start) / r) * r``; when ``now`` lies on the grid,
that is the step starting at ``now``). That step is not yet complete at ``now``, so it is the
first one to forecast, and a job starting at ``now`` (on or off the grid) is always covered. The
forecast runs until it covers ``[now, now + horizon)``: ``ceil((now + horizon - t0) / r)``
steps. Provider forecasts may end earlier: they stop where the provider had issued nothing yet.

**Labels.** The forecast carries the history's labels (zone, signal, accounting, basis,
provider, unit) with ``kind="forecast"``, ``issued_at=now`` and no ``lead``.

**Many decision times at once.** :meth:`Forecaster.predict_batch` returns the forecasts made at
many decision times as one matrix; the default runs :meth:`predict` per decision time, and the
simple models override it with a vectorised version that tests check against the per-decision
path and against changes to the future.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from carbonshift.errors import DataError, UsageError
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import FloatArray, IntArray, IntensitySeries
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = [
    "BatchForecast",
    "Forecast",
    "Forecaster",
    "ProgressFn",
    "first_step_index",
    "forecast_labels",
    "known_steps",
    "steps_for_horizon",
]

ProgressFn = Callable[[int], None]
"""Called with the number of decision times just finished (for progress bars)."""


def first_step_index(history: IntensitySeries, now_s: int) -> int:
    """Index on the history's grid of the step that contains ``now`` (may lie outside it)."""
    return (int(now_s) - history.start_s) // history.resolution_s


def known_steps(history: IntensitySeries, now_s: int) -> int:
    """How many leading steps of ``history`` are complete at ``now`` (``t + r <= now``)."""
    return int(min(max(first_step_index(history, now_s), 0), len(history)))


def steps_for_horizon(t0_s: int, now_s: int, horizon_s: int, resolution_s: int) -> int:
    """Number of grid steps from ``t0`` needed to cover ``[now, now + horizon)``."""
    return -(-(int(now_s) + int(horizon_s) - int(t0_s)) // int(resolution_s))


def forecast_labels(labels: SignalLabels, now_s: int) -> SignalLabels:
    """The labels of a forecast made at ``now`` from a series labelled ``labels``."""
    return labels.with_(kind="forecast", issued_at=from_epoch_s(now_s), lead=None)


@dataclass(frozen=True)
class Forecast:
    """A forecast made at one decision time.

    ``series`` holds the point forecast (for the learned model: its mean estimate).
    ``quantiles`` maps a probability (e.g. ``0.1``, ``0.9``) to a series on the same grid; it is
    empty for models that give no intervals. ``notes`` say when a model fell back to something
    simpler (too little training data, no calibration yet...).
    """

    series: IntensitySeries
    model: str
    quantiles: Mapping[float, IntensitySeries] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def now_s(self) -> int:
        issued = self.series.labels.issued_at
        assert issued is not None
        return int(issued.timestamp())

    @property
    def lower(self) -> IntensitySeries | None:
        """The lowest quantile series (e.g. p10), if any."""
        return self.quantiles[min(self.quantiles)] if self.quantiles else None

    @property
    def upper(self) -> IntensitySeries | None:
        """The highest quantile series (e.g. p90), if any."""
        return self.quantiles[max(self.quantiles)] if self.quantiles else None


@dataclass(frozen=True)
class BatchForecast:
    """Forecasts made at many decision times, on the history's grid.

    ``point[i, j]`` is the forecast made at ``nows_s[i]`` for the step ``first_index[i] + j``
    of the history grid (``first_index[i]`` is the step containing ``nows_s[i]``). NaN means no
    forecast (no history yet, or beyond what a provider had issued). ``quantiles`` maps a
    probability to a matrix of the same shape.
    """

    nows_s: IntArray
    first_index: IntArray
    point: FloatArray
    quantiles: Mapping[float, FloatArray] = field(default_factory=dict)


class Forecaster(ABC):
    """Base class of every forecaster; subclasses implement :meth:`_predict`.

    Subclasses receive only the history known at ``now`` (see the module docstring). They may
    override :meth:`_predict_batch` with a vectorised version, which must give the same values
    as :meth:`predict` for every decision time.
    """

    name: str = "forecaster"

    # ------------------------------------------------------------------ public API
    def predict(self, history: IntensitySeries, now_s: int, horizon_s: int) -> Forecast:
        """The forecast made at ``now`` for ``[now, now + horizon)`` with its intervals."""
        now_s = int(now_s)
        horizon_s = int(horizon_s)
        if horizon_s <= 0:
            raise UsageError("horizon: must be positive", hint="e.g. 24h")
        r = history.resolution_s
        first = first_step_index(history, now_s)
        n_known = known_steps(history, now_s)
        known = IntensitySeries(
            history.start_s,
            r,
            history.values[:n_known].copy(),
            history.labels,
            None if history.filled is None else history.filled[:n_known].copy(),
        )
        t0 = history.start_s + first * r
        n_steps = steps_for_horizon(t0, now_s, horizon_s, r)
        result = self._predict(known, now_s, n_steps)
        got = result.series
        if got.labels.kind != "forecast" or got.labels.issued_at != from_epoch_s(now_s):
            raise AssertionError(f"{self.name}: forecast labels must say forecast issued at now")
        return result

    def forecast(self, history: IntensitySeries, now_s: int, horizon_s: int) -> IntensitySeries:
        """The point forecast made at ``now`` (see :meth:`predict`)."""
        return self.predict(history, now_s, horizon_s).series

    def predict_batch(
        self,
        history: IntensitySeries,
        nows_s: IntArray | list[int],
        n_steps: int,
        *,
        progress: ProgressFn | None = None,
    ) -> BatchForecast:
        """Forecasts of ``n_steps`` steps made at each of ``nows_s`` (sorted, any number).

        The history is cut at the latest decision time first; each row then uses only the
        steps complete at its own decision time.
        """
        nows = np.asarray(nows_s, dtype=np.int64)
        if nows.ndim != 1:
            raise UsageError("decision times: expected a 1-D list")
        if n_steps <= 0:
            raise UsageError("horizon: must be at least one step", hint="e.g. 24h")
        if nows.size and (np.diff(nows) < 0).any():
            raise UsageError("decision times: must be sorted")
        first = (nows - history.start_s) // history.resolution_s
        if nows.size == 0:
            empty = np.zeros((0, n_steps))
            return BatchForecast(nows, first, empty, {})
        cut_n = known_steps(history, int(nows[-1]))
        cut = IntensitySeries(
            history.start_s,
            history.resolution_s,
            history.values[:cut_n].copy(),
            history.labels,
        )
        return self._predict_batch(cut, nows, first, n_steps, progress)

    # ------------------------------------------------------------------ for subclasses
    @abstractmethod
    def _predict(self, known: IntensitySeries, now_s: int, n_steps: int) -> Forecast:
        """Forecast ``n_steps`` steps from the step containing ``now``.

        ``known`` holds only the steps complete at ``now`` (it may be empty, and may end
        before the step containing ``now`` when the data stop early). Target step ``j`` is
        ``first_step_index(known, now) + j`` on ``known``'s grid.
        """

    def _predict_batch(
        self,
        history: IntensitySeries,
        nows_s: IntArray,
        first_index: IntArray,
        n_steps: int,
        progress: ProgressFn | None,
    ) -> BatchForecast:
        """Default: one :meth:`predict` per decision time (rows without history stay NaN)."""
        r = history.resolution_s
        point = np.full((nows_s.size, n_steps), np.nan)
        quantiles: dict[float, FloatArray] = {}
        for i, now in enumerate(nows_s.tolist()):
            t0 = history.start_s + int(first_index[i]) * r
            try:
                result = self.predict(history, now, t0 + n_steps * r - now)
            except DataError:
                result = None
            if result is not None:
                _put_row(point, i, history, result.series, int(first_index[i]))
                for q, series in result.quantiles.items():
                    if q not in quantiles:
                        quantiles[q] = np.full((nows_s.size, n_steps), np.nan)
                    _put_row(quantiles[q], i, history, series, int(first_index[i]))
            if progress is not None:
                progress(1)
        return BatchForecast(nows_s, first_index, point, quantiles)

    def _series(self, known: IntensitySeries, now_s: int, values: FloatArray) -> IntensitySeries:
        """A forecast series on ``known``'s grid starting at the step containing ``now``."""
        t0 = known.start_s + first_step_index(known, now_s) * known.resolution_s
        return IntensitySeries(t0, known.resolution_s, values, forecast_labels(known.labels, now_s))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def require_history(known: IntensitySeries, now_s: int, model: str) -> None:
    """Refuse to forecast from no known value at all (a :class:`DataError`)."""
    if len(known) == 0 or bool(np.isnan(known.values).all()):
        raise DataError(
            f"{known.zone}: no values known before {format_time(from_epoch_s(now_s))} "
            f"for the {model} forecast",
            hint="choose a later decision time or load earlier data",
        )


def steps_in(period_s: int, resolution_s: int, *, what: str) -> int:
    """Whole grid steps in a period (e.g. a day); a :class:`UsageError` when it does not divide."""
    if period_s <= 0 or period_s % resolution_s:
        raise UsageError(
            f"{what}: {period_s} s is not a whole number of {resolution_s} s steps",
            hint="resample the series to a resolution that divides it (e.g. 1h)",
        )
    return period_s // resolution_s


def _put_row(
    matrix: FloatArray, row: int, history: IntensitySeries, series: IntensitySeries, first: int
) -> None:
    if series.resolution_s != history.resolution_s or (
        (series.start_s - history.start_s) % history.resolution_s
    ):
        raise DataError(
            f"{history.zone}: the forecast grid ({series.resolution_s} s from "
            f"{format_time(series.start)}) is not the history's grid",
            hint="resample the forecast to the history's resolution",
        )
    offset = (series.start_s - history.start_s) // history.resolution_s - first
    lo = max(offset, 0)
    hi = min(offset + len(series), matrix.shape[1])
    if hi > lo:
        matrix[row, lo:hi] = series.values[lo - offset : hi - offset]
