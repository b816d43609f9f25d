"""Parsing and printing of times and durations at the edges; UTC-aware datetimes inside."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from carbonshift.errors import UsageError

__all__ = [
    "Span",
    "format_duration",
    "format_time",
    "from_epoch_s",
    "parse_duration",
    "parse_time",
    "to_epoch_s",
    "utc",
]

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|w)\s*$", re.IGNORECASE)
_ISO_DURATION_RE = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_UNIT_S = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, *, field: str = "duration") -> timedelta:
    """Parse ``90m``, ``2h``, ``1d``, ``1.5h``, ``30s`` or ISO 8601 ``PT2H``; also ``1h30m``."""
    raw = text.strip()
    m = _DURATION_RE.match(raw)
    if m:
        return timedelta(seconds=float(m.group(1)) * _UNIT_S[m.group(2).lower()])
    iso = _ISO_DURATION_RE.match(raw)
    if iso and raw.upper() not in ("P", "PT"):
        parts = {k: float(v) for k, v in iso.groupdict().items() if v}
        return timedelta(
            days=parts.get("d", 0.0),
            hours=parts.get("h", 0.0),
            minutes=parts.get("m", 0.0),
            seconds=parts.get("s", 0.0),
        )
    compound = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", raw.lower())
    if compound and any(compound.groups()):
        d, h, mi, s = (int(g) if g else 0 for g in compound.groups())
        return timedelta(days=d, hours=h, minutes=mi, seconds=s)
    raise UsageError(
        f"{field}: cannot read {text!r} as a duration",
        hint="write it like 90m, 2h, 1d, 1h30m or ISO 8601 PT2H",
    )


def format_duration(delta: timedelta) -> str:
    """Print a duration compactly: ``1h30m``, ``15m``, ``2d``."""
    total = round(delta.total_seconds())
    if total == 0:
        return "0s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            out.append(f"{total // size}{unit}")
            total %= size
    return sign + "".join(out)


def parse_time(text: str, *, field: str = "time") -> datetime:
    """Parse an ISO 8601 time with an explicit offset (``Z`` or ``+00:00``) into UTC.

    Naive times are rejected rather than guessed: the caller must say which zone they mean.
    A bare date (``2022-01-01``) means midnight UTC.
    """
    raw = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        return datetime.fromisoformat(raw).replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise UsageError(
            f"{field}: cannot read {text!r} as a time",
            hint="use ISO 8601 UTC such as 2022-06-01T12:00Z",
        ) from None
    if parsed.tzinfo is None:
        raise UsageError(
            f"{field}: {text!r} has no time zone",
            hint="add Z for UTC, e.g. 2022-06-01T12:00Z",
        )
    return parsed.astimezone(UTC)


def utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; refuse naive datetimes (they are ambiguous)."""
    if value.tzinfo is None:
        raise UsageError(
            f"time {value.isoformat()} has no time zone",
            hint="pass a timezone-aware datetime, e.g. datetime(..., tzinfo=UTC)",
        )
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with ``Z``; seconds are dropped when zero."""
    v = utc(value)
    text = (
        v.strftime("%Y-%m-%dT%H:%M:%S")
        if v.second or v.microsecond
        else v.strftime("%Y-%m-%dT%H:%M")
    )
    return text + "Z"


def to_epoch_s(value: datetime) -> int:
    """Whole seconds since the Unix epoch for a timezone-aware datetime."""
    return int(utc(value).timestamp())


def from_epoch_s(seconds: int | float | np.integer | np.floating) -> datetime:
    """A UTC datetime for seconds since the Unix epoch."""
    return datetime.fromtimestamp(float(seconds), tz=UTC)


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open time span ``[start_s, end_s)`` in epoch seconds (UTC)."""

    start_s: int
    end_s: int

    @property
    def duration_s(self) -> int:
        return self.end_s - self.start_s

    @property
    def start(self) -> datetime:
        return from_epoch_s(self.start_s)

    @property
    def end(self) -> datetime:
        return from_epoch_s(self.end_s)
