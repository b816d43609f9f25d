from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from carbonshift.errors import UnknownZoneError, UsageError
from carbonshift.signals.providers import make_provider, provider_class
from carbonshift.signals.providers.files import FileProvider


def test_history_slices_the_zone_file(data_dir: Path) -> None:
    prov = FileProvider(data_dir)
    s = prov.history("FR", datetime(2022, 3, 1, tzinfo=UTC), datetime(2022, 3, 2, tzinfo=UTC))
    assert (s.zone, len(s), s.resolution_s) == ("FR", 24, 3600)
    assert "FR" in prov.zones() and "DE" in prov.zones()
    with pytest.raises(UnknownZoneError):
        prov.history("XX", datetime(2022, 3, 1, tzinfo=UTC), datetime(2022, 3, 2, tzinfo=UTC))
    with pytest.raises(UsageError, match="forecasts"):
        prov.forecast("FR")


def test_registry_knows_the_four_apis() -> None:
    for name in ("uk", "electricitymaps", "watttime", "entsoe", "em", "ENTSO-E"):
        cls = provider_class(name)
        assert cls.capabilities.name
    with pytest.raises(UsageError, match="unknown provider"):
        make_provider("nope")
