"""Provider forecasts replayed as issued: nothing issued after ``now`` is visible."""

from __future__ import annotations

import numpy as np
import pytest
from forecast.forecast_helpers import epoch, synthetic

from carbonshift.errors import DataError, UsageError
from carbonshift.forecast import DailyIssue, FixedLead, ProviderForecast, make_forecaster
from carbonshift.signals.series import IntensitySeries

H = 3600


def test_fixed_lead_shows_only_values_issued_by_now(
    dacf_de: tuple[IntensitySeries, IntensitySeries],
) -> None:
    actual, column = dacf_de
    assert column.labels.lead is not None and column.labels.lead.total_seconds() == 24 * H
    model = make_forecaster("provider", provider_column=column)
    now = epoch("2021-09-10T05:00")
    fc = model.predict(actual, now, 48 * H)
    # issued at t - 24 h <= now  <=>  t <= now + 24 h: 25 hourly steps, then it ends
    assert fc.series.start_s == now and len(fc.series) == 25
    assert fc.notes and "ends" in fc.notes[0]
    offset = (now - column.start_s) // H
    np.testing.assert_array_equal(fc.series.values, column.values[offset : offset + 25])
    assert fc.series.labels.kind == "forecast" and fc.series.labels.provider == "dacf"


def test_values_issued_after_now_do_not_matter(
    dacf_de: tuple[IntensitySeries, IntensitySeries],
) -> None:
    actual, column = dacf_de
    now = epoch("2021-10-01T00:00")
    base = ProviderForecast(column).forecast(actual, now, 48 * H)
    issued_after = column.times_s - 24 * H > now
    changed = column.replace_values(np.where(issued_after, column.values * 10, column.values))
    cut = (now - actual.start_s) // H
    spoiled_actual = actual.replace_values(
        np.concatenate([actual.values[:cut], np.full(len(actual) - cut, np.nan)])
    )
    other = ProviderForecast(changed).forecast(spoiled_actual, now, 48 * H)
    np.testing.assert_array_equal(other.values, base.values)
    # ...while a value issued before now does
    visible = changed.replace_values(np.where(column.times_s == now + 5 * H, 1.0, changed.values))
    assert ProviderForecast(visible).forecast(actual, now, 48 * H).values[5] == 1.0


def test_batch_matches_single_and_respects_issue_times(
    dacf_de: tuple[IntensitySeries, IntensitySeries],
) -> None:
    actual, column = dacf_de
    model = ProviderForecast(column)
    nows = np.arange(epoch("2021-06-30T12:00"), epoch("2021-07-03T00:00"), 6 * H, dtype=np.int64)
    batch = model.predict_batch(actual, nows, 30)
    for i, now in enumerate(nows.tolist()):
        try:
            single = model.forecast(actual, now, 30 * H).values
        except DataError:
            assert np.isnan(batch.point[i]).all()
            continue
        np.testing.assert_array_equal(batch.point[i, : single.size], single)
        assert np.isnan(batch.point[i, single.size :]).all()


def test_daily_issue_schedule(dacf_de: tuple[IntensitySeries, IntensitySeries]) -> None:
    actual, column = dacf_de
    model = ProviderForecast(column, DailyIssue(issue_time_of_day_s=12 * H, days_ahead=1))
    before_noon = model.forecast(actual, epoch("2021-09-10T11:00"), 72 * H)
    after_noon = model.forecast(actual, epoch("2021-09-10T12:00"), 72 * H)
    assert before_noon.end_s == epoch("2021-09-11T00:00")  # tomorrow not issued yet
    assert after_noon.end_s == epoch("2021-09-12T00:00")  # tomorrow issued at noon today


def test_nothing_issued_yet_is_a_data_error(
    dacf_de: tuple[IntensitySeries, IntensitySeries],
) -> None:
    actual, column = dacf_de
    with pytest.raises(DataError, match="had been issued"):
        ProviderForecast(column).forecast(actual, epoch("2021-06-29T00:00"), 24 * H)


def test_refuses_actual_values_and_other_signals(
    dacf_de: tuple[IntensitySeries, IntensitySeries], de_actual: IntensitySeries
) -> None:
    actual, column = dacf_de
    with pytest.raises(DataError, match="actual values"):
        ProviderForecast(actual)
    with pytest.raises(DataError, match="means"):
        ProviderForecast(column).forecast(de_actual, epoch("2021-09-10T05:00"), 24 * H)
    with pytest.raises(UsageError, match="carries no lead"):
        ProviderForecast(column.with_labels(column.labels.with_(lead=None)))
    with pytest.raises(UsageError, match="no provider forecast"):
        make_forecaster("provider")


def test_fixed_lead_on_a_synthetic_column() -> None:
    actual = synthetic(np.arange(48.0))
    labels = actual.labels.with_(kind="forecast")
    column = IntensitySeries(actual.start_s, H, np.arange(48.0) + 1000, labels)
    model = ProviderForecast(column, FixedLead(3 * H))
    fc = model.forecast(actual, actual.start_s + 10 * H, 24 * H)
    np.testing.assert_array_equal(fc.values, [1010.0, 1011.0, 1012.0, 1013.0])
