"""Ledger records: what one row of the ledger says (see :mod:`carbonshift.accounting.ledger`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from carbonshift.accounting.emissions import Status
from carbonshift.signals.labels import SignalLabels

__all__ = ["LedgerEntry", "LedgerRecord"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """A record to append: one job's energy and emissions over one interval (an intensity step,
    clipped to the job). ``scenario`` is ``actual`` for what ran, else the counterfactual
    placement it describes. ``intensity_g_per_kwh``/``emissions_g`` are ``None`` in a gap."""

    job_id: str
    zone: str
    interval_start_s: float
    interval_end_s: float
    energy_kwh: float
    intensity_g_per_kwh: float | None
    emissions_g: float | None
    labels: SignalLabels
    meter: str
    status: Status
    user: str = ""
    scenario: str = "actual"
    step_start_s: int | None = None
    step_resolution_s: int | None = None
    cpu_energy_kwh: float | None = None
    gpu_energy_kwh: float | None = None
    ram_energy_kwh: float | None = None
    intensity_filled: bool = False
    meter_detail: Mapping[str, Any] = field(default_factory=dict)
    provider: str = ""
    data_version: str = ""
    supersedes: int | None = None
    note: str = ""

    def to_row(self, recorded_at_s: float) -> dict[str, Any]:
        row = {f.name: getattr(self, f.name) for f in fields(LedgerEntry)}
        row["user_name"] = row.pop("user")
        row["signal_labels"] = json.dumps(self.labels.to_dict(), sort_keys=True)
        del row["labels"]
        row["meter_detail"] = json.dumps(dict(self.meter_detail), sort_keys=True, default=str)
        row["provider"] = self.provider or self.labels.provider
        row["recorded_at_s"] = recorded_at_s
        return row


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerRecord(LedgerEntry):
    """A stored record: an entry with its id and the time it was recorded."""

    id: int
    recorded_at_s: float

    def as_entry(self, **changes: Any) -> LedgerEntry:
        data = {f.name: getattr(self, f.name) for f in fields(LedgerEntry)}
        data.update(changes)
        return LedgerEntry(**data)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> LedgerRecord:
        data = dict(row)
        data["user"] = data.pop("user_name")
        data["labels"] = SignalLabels.from_dict(json.loads(data.pop("signal_labels")))
        data["meter_detail"] = json.loads(data["meter_detail"] or "{}")
        data["intensity_filled"] = bool(data["intensity_filled"])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["labels"] = self.labels.to_dict()
        out["meter_detail"] = dict(self.meter_detail)
        return out
