from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from carbonshift.errors import UsageError
from carbonshift.timeutil import format_duration, format_time, parse_duration, parse_time, utc


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90m", 5400),
        ("2h", 7200),
        ("1d", 86400),
        ("1.5h", 5400),
        ("30s", 30),
        ("PT2H", 7200),
        ("P1DT30M", 88200),
        ("1h30m", 5400),
        ("1w", 604800),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "2 hours", "h", "P", "-1h", "1y"])
def test_bad_durations_name_the_field(text: str) -> None:
    with pytest.raises(UsageError, match="--slack: cannot read"):
        parse_duration(text, field="--slack")


def test_parse_time_is_utc_and_refuses_naive() -> None:
    assert parse_time("2022-06-01T12:00Z") == datetime(2022, 6, 1, 12, tzinfo=UTC)
    assert parse_time("2022-06-01T14:00+02:00") == datetime(2022, 6, 1, 12, tzinfo=UTC)
    assert parse_time("2022-06-01") == datetime(2022, 6, 1, tzinfo=UTC)
    with pytest.raises(UsageError, match="no time zone"):
        parse_time("2022-06-01T12:00", field="--now")
    with pytest.raises(UsageError, match="cannot read"):
        parse_time("noon")


def test_format_round_trips() -> None:
    t = datetime(2022, 6, 1, 12, 30, tzinfo=UTC)
    assert format_time(t) == "2022-06-01T12:30Z"
    assert parse_time(format_time(t)) == t
    assert (
        format_time(datetime(2022, 6, 1, 12, 30, 5, tzinfo=timezone(timedelta(hours=1))))
        == "2022-06-01T11:30:05Z"
    )
    assert format_duration(timedelta(hours=25, minutes=5)) == "1d1h5m"
    with pytest.raises(UsageError):
        utc(datetime(2022, 1, 1))
