"""Helpers shared by the forecast tests (a module of its own: ``conftest`` is ambiguous)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from carbonshift.forecast import GradientBoostingForecaster
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries


def epoch(text: str) -> int:
    """Seconds since the epoch for an ISO time like ``2022-03-03T01:00``, read as UTC."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def small_gbm(**overrides: int) -> GradientBoostingForecaster:
    """A gradient-boosting forecaster small enough for unit tests (a fit takes ~0.05 s)."""
    options: dict[str, int] = {
        "max_iter": 25,
        "max_rows": 4000,
        "train_window_s": 28 * 86400,
        "min_train_s": 7 * 86400,
        "calibration_s": 7 * 86400,
    }
    options.update(overrides)
    return GradientBoostingForecaster(**options)


def synthetic(
    values: list[float] | npt.NDArray[np.float64],
    *,
    start: str = "2022-01-03T00:00",
    resolution_s: int = 3600,
) -> IntensitySeries:
    """A series on an hourly grid (2022-01-03 is a Monday)."""
    return IntensitySeries(
        epoch(start), resolution_s, np.asarray(values, dtype=np.float64), SignalLabels(zone="TEST")
    )
