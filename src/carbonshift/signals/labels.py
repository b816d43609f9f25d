"""The labels every intensity series carries, so that numbers on different signals never mix."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from carbonshift.errors import UsageError
from carbonshift.timeutil import format_time, parse_time, utc

__all__ = ["Accounting", "Basis", "Kind", "Signal", "SignalLabels"]

Signal = Literal["average", "marginal"]
Accounting = Literal["lifecycle", "direct"]
Basis = Literal["consumption", "production"]
Kind = Literal["actual", "forecast"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "signal": get_args(Signal),
    "accounting": get_args(Accounting),
    "basis": get_args(Basis),
    "kind": get_args(Kind),
}


@dataclass(frozen=True, slots=True)
class SignalLabels:
    """What a series of values means.

    ``zone`` is the grid zone (Electricity Maps id, WattTime region, UK region...). ``signal``
    is ``average`` (the mix's mean intensity) or ``marginal`` (the unit that responds to load,
    e.g. WattTime MOER). ``accounting`` is ``lifecycle`` (LCA factors, incl. upstream) or
    ``direct`` (combustion only). ``basis`` is ``consumption`` (imports flow-traced) or
    ``production`` (local generation mix only). ``kind`` says whether the values are measured
    ``actual`` values or a ``forecast``; a forecast made at one instant carries ``issued_at``,
    and a stitched series of forecasts made a fixed time ahead of each interval carries
    ``lead`` instead (e.g. a day-ahead forecast column in a trace file).
    """

    zone: str
    signal: Signal = "average"
    accounting: Accounting = "lifecycle"
    basis: Basis = "consumption"
    provider: str = "file"
    kind: Kind = "actual"
    issued_at: datetime | None = None
    lead: timedelta | None = None
    unit: str = "gCO2eq/kWh"

    def __post_init__(self) -> None:
        if not self.zone or not self.zone.strip():
            raise UsageError("zone: empty zone name", hint="name the zone, e.g. DE or US-CAL-CISO")
        for field, allowed in _CHOICES.items():
            value = getattr(self, field)
            if value not in allowed:
                raise UsageError(
                    f"{field}: {value!r} is not a known value",
                    hint=f"use one of {', '.join(allowed)}",
                )
        if self.issued_at is not None:
            object.__setattr__(self, "issued_at", utc(self.issued_at))
        if self.kind == "actual" and (self.issued_at is not None or self.lead is not None):
            raise UsageError(
                "kind: actual values cannot carry an issue time or lead",
                hint="set kind='forecast' for forecast values",
            )

    def comparable_with(self, other: SignalLabels) -> bool:
        """True when numbers on both series may be compared or summed (same signal meaning)."""
        return (self.signal, self.accounting, self.basis, self.unit) == (
            other.signal,
            other.accounting,
            other.basis,
            other.unit,
        )

    def with_(self, **changes: Any) -> SignalLabels:
        """A copy with some labels changed."""
        return replace(self, **changes)

    def describe(self) -> str:
        """A short human label, e.g. ``DE: average, lifecycle, consumption-based, actual``."""
        what = f"{self.signal}, {self.accounting}, {self.basis}-based"
        if self.kind == "forecast":
            if self.issued_at is not None:
                when = f"forecast issued {format_time(self.issued_at)}"
            elif self.lead is not None:
                when = f"forecast {int(self.lead.total_seconds() // 60)} min ahead"
            else:
                when = "forecast"
        else:
            when = "actual"
        return f"{self.zone}: {what}, {when} ({self.unit}, provider {self.provider})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (times as ISO 8601 ``Z``, lead in seconds)."""
        out = asdict(self)
        out["issued_at"] = format_time(self.issued_at) if self.issued_at else None
        out["lead_s"] = int(self.lead.total_seconds()) if self.lead is not None else None
        del out["lead"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignalLabels:
        """Inverse of :meth:`to_dict`; unknown keys are ignored."""
        issued = data.get("issued_at")
        lead_s = data.get("lead_s")
        return cls(
            zone=str(data["zone"]),
            signal=data.get("signal", "average"),
            accounting=data.get("accounting", "lifecycle"),
            basis=data.get("basis", "consumption"),
            provider=str(data.get("provider", "file")),
            kind=data.get("kind", "actual"),
            issued_at=parse_time(issued) if issued else None,
            lead=timedelta(seconds=int(lead_s)) if lead_s is not None else None,
            unit=str(data.get("unit", "gCO2eq/kWh")),
        )
