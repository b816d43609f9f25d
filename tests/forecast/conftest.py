"""Fixtures for the forecast tests: real traces from the shared data, read once."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonshift.signals.files import read_trace
from carbonshift.signals.series import IntensitySeries


@pytest.fixture(scope="session")
def de_actual(data_dir: Path) -> IntensitySeries:
    """Electricity Maps DE, hourly, 2021..2023."""
    return read_trace(data_dir / "DE.csv.gz")


@pytest.fixture(scope="session")
def dacf_de(data_dir: Path) -> tuple[IntensitySeries, IntensitySeries]:
    """DACF DE: actual values and DACF's day-ahead forecast column (2021-07..2021-12)."""
    path = data_dir / "dacf" / "DE.csv.gz"
    return read_trace(path), read_trace(path, variant="forecast")
