"""Fixtures for the accounting tests (helpers live in ``helpers_accounting``)."""

from __future__ import annotations

import pytest
from accounting.helpers_accounting import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
