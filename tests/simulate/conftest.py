"""Real-data fixtures for the simulate tests (loaded once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonshift.signals.files import read_zone
from carbonshift.signals.series import IntensitySeries


@pytest.fixture(scope="session")
def de(data_dir: Path) -> IntensitySeries:
    return read_zone(data_dir, "DE")


@pytest.fixture(scope="session")
def fr(data_dir: Path) -> IntensitySeries:
    return read_zone(data_dir, "FR")


@pytest.fixture(scope="session")
def es(data_dir: Path) -> IntensitySeries:
    return read_zone(data_dir, "ES")
