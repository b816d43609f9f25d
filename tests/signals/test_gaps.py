from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from carbonshift.errors import GapError, UsageError
from carbonshift.signals.gaps import fill_gaps, find_gaps
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries

T0 = int(datetime(2022, 1, 1, tzinfo=UTC).timestamp())
L = SignalLabels(zone="G")


def gappy() -> IntensitySeries:
    return IntensitySeries(T0, 3600, np.array([10.0, np.nan, np.nan, 40.0, 50.0, np.nan, 70.0]), L)


def test_find_gaps_lists_runs() -> None:
    gaps = find_gaps(gappy())
    assert [(g.start_s - T0, g.end_s - T0) for g in gaps] == [
        (3600, 3 * 3600),
        (5 * 3600, 6 * 3600),
    ]
    assert str(gaps[0]) == "2022-01-01T01:00Z..2022-01-01T03:00Z"


def test_linear_fill_interpolates_in_time_and_marks() -> None:
    out = fill_gaps(gappy(), "linear")
    np.testing.assert_allclose(out.values, [10, 20, 30, 40, 50, 60, 70])
    assert out.filled is not None and list(out.filled) == [
        False,
        True,
        True,
        False,
        False,
        True,
        False,
    ]


def test_previous_fill() -> None:
    np.testing.assert_allclose(fill_gaps(gappy(), "previous").values, [10, 10, 10, 40, 50, 50, 70])


def test_constant_fill_needs_a_value() -> None:
    with pytest.raises(UsageError, match="value"):
        fill_gaps(gappy(), "constant")
    assert fill_gaps(gappy(), "constant", value=0).values[1] == 0


def test_previous_day_fill_uses_the_same_hour_yesterday() -> None:
    values = np.arange(48, dtype=float)
    values[30] = np.nan
    out = fill_gaps(IntensitySeries(T0, 3600, values, L), "previous_day")
    assert out.values[30] == 6.0


def test_long_gaps_are_refused_not_papered_over() -> None:
    with pytest.raises(GapError, match="longer than"):
        fill_gaps(gappy(), "linear", max_gap_s=3600)


def test_edge_gap_cannot_be_interpolated() -> None:
    s = IntensitySeries(T0, 3600, np.array([np.nan, 1.0, 2.0]), L)
    with pytest.raises(GapError, match="edge"):
        fill_gaps(s, "linear")
    with pytest.raises(GapError, match="no previous value"):
        fill_gaps(s, "previous")


def test_unknown_method_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="use one of"):
        fill_gaps(gappy(), "spline")  # type: ignore[arg-type]
