from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from carbonshift.errors import UsageError
from carbonshift.signals.labels import SignalLabels


def test_round_trip_through_dict() -> None:
    lab = SignalLabels(
        zone="DE",
        signal="marginal",
        accounting="direct",
        basis="production",
        provider="watttime",
        kind="forecast",
        issued_at=datetime(2023, 6, 1, 12, tzinfo=UTC),
    )
    assert SignalLabels.from_dict(lab.to_dict()) == lab
    lead = SignalLabels(zone="DE", kind="forecast", lead=timedelta(hours=24))
    assert SignalLabels.from_dict(lead.to_dict()) == lead


@pytest.mark.parametrize(
    ("field", "value"),
    [("signal", "avg"), ("accounting", "lca"), ("basis", "both"), ("kind", "guess")],
)
def test_unknown_label_values_name_the_field(field: str, value: str) -> None:
    kwargs: dict[str, Any] = {field: value}
    with pytest.raises(UsageError, match=field):
        SignalLabels(zone="DE", **kwargs)


def test_actuals_cannot_carry_an_issue_time() -> None:
    with pytest.raises(UsageError, match="actual"):
        SignalLabels(zone="DE", issued_at=datetime(2023, 1, 1, tzinfo=UTC))


def test_comparability_ignores_zone_and_provider_only() -> None:
    a = SignalLabels(zone="DE", provider="x")
    assert a.comparable_with(SignalLabels(zone="FR", provider="y"))
    assert not a.comparable_with(SignalLabels(zone="DE", accounting="direct"))
    assert not a.comparable_with(SignalLabels(zone="DE", signal="marginal"))
