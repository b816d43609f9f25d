"""Shared test fixtures: where the shared data lives, and temporary stores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from httpfixtures import FixtureServer
from hypothesis import settings

# CI runs derandomized so a landing never depends on a lucky draw; locally every run explores.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("CARBONSHIFT_SHARED", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not (path / "data").is_dir():
        pytest.fail(f"shared data not found at {path}; set CARBONSHIFT_SHARED")
    return path


@pytest.fixture(scope="session")
def data_dir(shared: Path) -> Path:
    return shared / "data"


@pytest.fixture(scope="session")
def fixtures_dir(shared: Path) -> Path:
    return shared / "fixtures"


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    """A real local HTTP server serving recorded provider payloads (see httpfixtures)."""
    srv = FixtureServer()
    try:
        yield srv
    finally:
        srv.close()
