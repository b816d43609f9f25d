"""Provider tests get a real local HTTP server serving recorded payloads (see httpfixtures)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from httpfixtures import FixtureServer


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    srv = FixtureServer()
    try:
        yield srv
    finally:
        srv.close()
