"""Backtesting forecasters on history: forecast errors per horizon and ranking quality.

Decision times are ``from, from + every, ...`` before ``to``, on the data's grid. At each one
every model forecasts from the history known then (:meth:`Forecaster.predict_batch`), and the
forecasts are scored against the actual values.

**Errors per horizon** ``h`` (a whole number of steps ``H``):

- ``mae_g_per_kwh`` / ``mape_pct``: over *every* step of ``[now, now + h)`` (leads ``1 .. H``
  steps), pooled over decisions; "day-ahead MAPE" is ``mape_pct`` at ``h = 24 h``;
- ``mae_at_horizon_g_per_kwh`` / ``mape_at_horizon_pct``: only the step ``H`` ahead (its
  interval ends at ``now + h``);
- MAPE = mean of ``|forecast - actual| / |actual|`` in percent; **steps whose actual value is 0
  are left out of MAPE** (their relative error is undefined) but kept in MAE; ``n`` and
  ``n_mape`` count the pairs;
- ``interval_coverage_pct``: share of the steps whose actual lies within the model's lowest and
  highest quantile (e.g. p10..p90), for models with intervals.

**Fair comparison.** Within a zone all models are scored on the same (decision, step) pairs: a
pair counts when the actual is known and every model that forecasts that lead at all has a
value there. A model that never reaches a lead (a provider forecast that stops 24 h ahead) does
not shrink the others' pairs, and its metrics for horizons beyond its reach are ``None``.

**Ranking.** For a job of ``job_duration_s`` (default 1 h) that may start at any grid step of
the ``window_s`` (default 24 h) window beginning at the decision time, the model picks the start
with the lowest forecast mean (the earliest on ties); we measure it on actual values:

- ``capture_pct = sum(immediate - chosen) / sum(immediate - oracle) * 100``, **sums over
  decisions** (a ratio of totals, so days without any room to save do not divide by zero);
  100 % is the oracle (actuals used as the forecast), 0 % no better than starting at once;
- ``reduction_pct = sum(immediate - chosen) / sum(immediate) * 100`` (the saving itself) and
  ``oracle_reduction_pct``, the same for the oracle.

Every mean here is the interval-weighted mean of :class:`IntensitySeries` steps; jobs are
equal-energy, so the sums of means are proportional to emissions.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from carbonshift.errors import DataError, UsageError
from carbonshift.forecast.base import BatchForecast, Forecaster, ProgressFn
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import FloatArray, IntArray, IntensitySeries
from carbonshift.timeutil import format_duration, format_time, from_epoch_s

__all__ = [
    "BacktestResult",
    "ErrorRow",
    "RankingRow",
    "RankingStats",
    "backtest",
    "backtest_zone",
    "decision_times",
    "error_metrics",
    "ranking_capture",
]

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ErrorRow:
    """Forecast errors of one model in one zone at one horizon (see the module docstring)."""

    zone: str
    model: str
    horizon_s: int
    n: int
    n_mape: int
    mae_g_per_kwh: float | None
    mape_pct: float | None
    mae_at_horizon_g_per_kwh: float | None
    mape_at_horizon_pct: float | None
    interval_coverage_pct: float | None = None


@dataclass(frozen=True)
class RankingStats:
    """Sums over the decisions of the actual means of the immediate, chosen and oracle starts."""

    decisions: int
    immediate_sum: float
    chosen_sum: float
    oracle_sum: float

    @property
    def capture_pct(self) -> float | None:
        room = self.immediate_sum - self.oracle_sum
        return (
            None
            if self.decisions == 0 or room <= 0
            else 100.0 * (self.immediate_sum - self.chosen_sum) / room
        )

    @property
    def reduction_pct(self) -> float | None:
        if self.decisions == 0 or self.immediate_sum <= 0:
            return None
        return 100.0 * (self.immediate_sum - self.chosen_sum) / self.immediate_sum

    @property
    def oracle_reduction_pct(self) -> float | None:
        if self.decisions == 0 or self.immediate_sum <= 0:
            return None
        return 100.0 * (self.immediate_sum - self.oracle_sum) / self.immediate_sum


@dataclass(frozen=True)
class RankingRow:
    """Ranking quality of one model in one zone."""

    zone: str
    model: str
    decisions: int
    capture_pct: float | None
    reduction_pct: float | None
    oracle_reduction_pct: float | None


@dataclass(frozen=True)
class BacktestResult:
    """Everything a backtest measured; ``to_dict`` is the CLI's JSON."""

    start_s: int
    end_s: int
    every_s: int
    horizons_s: tuple[int, ...]
    job_duration_s: int
    window_s: int
    errors: list[ErrorRow]
    ranking: list[RankingRow]
    labels: dict[str, SignalLabels]
    runtime_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": {
                "from": format_time(from_epoch_s(self.start_s)),
                "to": format_time(from_epoch_s(self.end_s)),
            },
            "every_s": self.every_s,
            "horizons_s": list(self.horizons_s),
            "job": {"duration_s": self.job_duration_s, "window_s": self.window_s},
            "signals": {zone: labels.to_dict() for zone, labels in self.labels.items()},
            "errors": [_rounded(asdict(row)) for row in self.errors],
            "ranking": [_rounded(asdict(row)) for row in self.ranking],
            "runtime_s": {k: round(v, 3) for k, v in self.runtime_s.items()},
        }


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}


# ---------------------------------------------------------------------- pure metrics
def error_metrics(
    forecast: FloatArray, actual: FloatArray
) -> tuple[int, float | None, int, float | None]:
    """``(n, MAE, n_mape, MAPE %)`` over the pairs where both are known; MAPE skips zero actuals."""
    f = np.asarray(forecast, dtype=np.float64).ravel()
    a = np.asarray(actual, dtype=np.float64).ravel()
    ok = ~(np.isnan(f) | np.isnan(a))
    n = int(ok.sum())
    if n == 0:
        return 0, None, 0, None
    err = np.abs(f[ok] - a[ok])
    nz = a[ok] != 0
    n_mape = int(nz.sum())
    mape = float(np.mean(err[nz] / np.abs(a[ok][nz])) * 100.0) if n_mape else None
    return n, float(err.mean()), n_mape, mape


def _job_means(values: FloatArray, job_steps: int) -> FloatArray:
    """Mean over every run of ``job_steps`` consecutive columns (NaN if any is NaN).

    Summed window by window rather than by differences of running sums: equal values must give
    exactly equal means, or a flat forecast would "choose" a start by rounding noise.
    """
    windows = np.lib.stride_tricks.sliding_window_view(values, job_steps, axis=1)
    return np.asarray(windows.sum(axis=-1) / job_steps, dtype=np.float64)


def ranking_capture(forecast: FloatArray, actual: FloatArray, job_steps: int) -> RankingStats:
    """Ranking quality over decisions (rows); columns are the steps of each window.

    A decision counts when every actual and every forecast value of its window is known.
    """
    if forecast.shape != actual.shape or job_steps < 1 or job_steps > actual.shape[1]:
        raise UsageError("ranking: forecast and actual windows must match and fit the job")
    f_means = _job_means(forecast, job_steps)
    a_means = _job_means(actual, job_steps)
    ok = ~(np.isnan(f_means).any(axis=1) | np.isnan(a_means).any(axis=1))
    f_means, a_means = f_means[ok], a_means[ok]
    if not ok.any():
        return RankingStats(0, 0.0, 0.0, 0.0)
    chosen = a_means[np.arange(a_means.shape[0]), np.argmin(f_means, axis=1)]
    return RankingStats(
        int(ok.sum()),
        float(a_means[:, 0].sum()),
        float(chosen.sum()),
        float(a_means.min(axis=1).sum()),
    )


# ---------------------------------------------------------------------- one zone
def decision_times(actual: IntensitySeries, start_s: int, end_s: int, every_s: int) -> IntArray:
    """Decision times in ``[start, end)`` every ``every_s``, checked to lie on the data grid."""
    r = actual.resolution_s
    if end_s <= start_s:
        raise UsageError("period: the end must come after the start", hint="pass --from < --to")
    if every_s <= 0 or every_s % r:
        raise UsageError(
            f"every: {every_s} s is not a whole number of {format_duration_s(r)} steps",
            hint=f"use a multiple of {format_duration_s(r)}",
        )
    if (start_s - actual.start_s) % r:
        raise UsageError(
            f"period: {format_time(from_epoch_s(start_s))} is not on the data's "
            f"{format_duration_s(r)} grid",
            hint="start the period on a step boundary",
        )
    if start_s < actual.start_s or end_s > actual.end_s:
        raise UsageError(
            f"period: {format_time(from_epoch_s(start_s))}..{format_time(from_epoch_s(end_s))} "
            f"reaches outside the data of {actual.zone} "
            f"({format_time(actual.start)}..{format_time(actual.end)})",
            hint="choose a period inside the data",
        )
    return np.arange(start_s, end_s, every_s, dtype=np.int64)


def format_duration_s(seconds: int) -> str:
    from datetime import timedelta

    return format_duration(timedelta(seconds=seconds))


def _actual_matrix(actual: IntensitySeries, first: IntArray, n_steps: int) -> FloatArray:
    index = first[:, None] + np.arange(n_steps, dtype=np.int64)[None, :]
    inside = index < len(actual)
    return np.where(inside, actual.values[np.minimum(index, len(actual) - 1)], np.nan)


def backtest_zone(
    actual: IntensitySeries,
    forecasters: Mapping[str, Forecaster],
    *,
    start_s: int,
    end_s: int,
    every_s: int,
    horizons_s: Sequence[int],
    job_duration_s: int = 3600,
    window_s: int = 86_400,
    progress: ProgressFn | None = None,
    runtime_s: dict[str, float] | None = None,
) -> tuple[list[ErrorRow], list[RankingRow]]:
    """Errors and ranking of each model on one zone's actual series (module docstring)."""
    r = actual.resolution_s
    for what, seconds in [("horizon", h) for h in horizons_s] + [
        ("job duration", job_duration_s),
        ("window", window_s),
    ]:
        if seconds <= 0 or seconds % r:
            raise UsageError(
                f"{what}: {format_duration_s(seconds)} is not a whole number of "
                f"{format_duration_s(r)} steps",
                hint=f"use a positive multiple of {format_duration_s(r)}",
            )
    if job_duration_s > window_s:
        raise UsageError("job duration: longer than the window", hint="e.g. a 1h job, 24h window")
    nows = decision_times(actual, start_s, end_s, every_s)
    first = (nows - actual.start_s) // r
    n_steps = max(max(horizons_s) // r, window_s // r)
    truth = _actual_matrix(actual, first, n_steps)
    batches: dict[str, BatchForecast] = {}
    for name, model in forecasters.items():
        t0 = time.perf_counter()
        batches[name] = model.predict_batch(actual, nows, n_steps, progress=progress)
        if runtime_s is not None:
            runtime_s[f"{actual.zone}/{name}"] = time.perf_counter() - t0
    covered: dict[str, BoolArray] = {
        name: np.asarray(~np.isnan(b.point).all(axis=0)) for name, b in batches.items()
    }
    common = ~np.isnan(truth)
    for name, b in batches.items():
        common &= np.where(covered[name][None, :], ~np.isnan(b.point), True)
    errors: list[ErrorRow] = []
    for h in horizons_s:
        steps = h // r
        for name, b in batches.items():
            if not covered[name][:steps].all():
                errors.append(ErrorRow(actual.zone, name, h, 0, 0, None, None, None, None))
                continue
            mask = common[:, :steps]
            f = np.where(mask, b.point[:, :steps], np.nan)
            n, mae, n_mape, mape = error_metrics(f, truth[:, :steps])
            _, mae_at, _, mape_at = error_metrics(f[:, -1], truth[:, steps - 1])
            coverage = None
            if b.quantiles:
                lo = b.quantiles[min(b.quantiles)][:, :steps]
                hi = b.quantiles[max(b.quantiles)][:, :steps]
                ok = mask & ~(np.isnan(lo) | np.isnan(hi))
                a = truth[:, :steps]
                inside = ok & (a >= lo) & (a <= hi)
                coverage = 100.0 * float(inside.sum()) / float(ok.sum()) if ok.any() else None
            errors.append(
                ErrorRow(actual.zone, name, h, n, n_mape, mae, mape, mae_at, mape_at, coverage)
            )
    w = window_s // r
    job = job_duration_s // r
    reach = {name: bool(c[:w].all()) for name, c in covered.items()}
    rows_ok = ~np.isnan(truth[:, :w]).any(axis=1)
    for name, b in batches.items():
        if reach[name]:
            rows_ok &= ~np.isnan(b.point[:, :w]).any(axis=1)
    ranking: list[RankingRow] = []
    for name, b in batches.items():
        if not reach[name]:
            ranking.append(RankingRow(actual.zone, name, 0, None, None, None))
            continue
        stats = ranking_capture(b.point[rows_ok, :w], truth[rows_ok, :w], job)
        ranking.append(
            RankingRow(
                actual.zone,
                name,
                stats.decisions,
                stats.capture_pct,
                stats.reduction_pct,
                stats.oracle_reduction_pct,
            )
        )
    return errors, ranking


def backtest(
    cases: Sequence[tuple[IntensitySeries, Mapping[str, Forecaster]]],
    *,
    start_s: int,
    end_s: int,
    every_s: int = 6 * 3600,
    horizons_s: Sequence[int] = (3600, 6 * 3600, 24 * 3600, 48 * 3600),
    job_duration_s: int = 3600,
    window_s: int = 86_400,
    progress: ProgressFn | None = None,
) -> BacktestResult:
    """Backtest several zones: each case is a zone's actual series and its models by name."""
    if not cases:
        raise UsageError("backtest: no zones given", hint="name at least one zone")
    errors: list[ErrorRow] = []
    ranking: list[RankingRow] = []
    labels: dict[str, SignalLabels] = {}
    runtime: dict[str, float] = {}
    for actual, forecasters in cases:
        if actual.labels.kind != "actual":
            raise DataError(
                f"{actual.zone}: backtests score against actual values, not a forecast",
                hint="pass the actual series of the zone",
            )
        e, k = backtest_zone(
            actual,
            forecasters,
            start_s=start_s,
            end_s=end_s,
            every_s=every_s,
            horizons_s=horizons_s,
            job_duration_s=job_duration_s,
            window_s=window_s,
            progress=progress,
            runtime_s=runtime,
        )
        errors += e
        ranking += k
        labels[actual.zone] = actual.labels
    return BacktestResult(
        start_s,
        end_s,
        every_s,
        tuple(int(h) for h in horizons_s),
        job_duration_s,
        window_s,
        errors,
        ranking,
        labels,
        runtime,
    )
