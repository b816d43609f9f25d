"""Helpers for the executor tests: a hand-moved clock and polling without long sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class FakeClock:
    """A clock the test moves by hand; callable like ``system_clock``."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def poll(probe: Callable[[], T], until: Callable[[T], bool], *, timeout_s: float = 10.0) -> T:
    """Call ``probe`` every 50 ms until ``until`` holds; return its last value either way."""
    deadline = time.monotonic() + timeout_s
    value = probe()
    while not until(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = probe()
    return value


def line_count(path: Path) -> int:
    """Lines in ``path`` so far (0 if it does not exist yet)."""
    try:
        return len(path.read_text().splitlines())
    except FileNotFoundError:
        return 0
