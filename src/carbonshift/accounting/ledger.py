"""The ledger: append-only records of each job's energy and emissions, one per intensity step.

A record is never rewritten in place. A correction (or the final figure that replaces a
provisional one) is a new record that names the one it supersedes; reports read the current
records (those nothing supersedes) and the history stays auditable. SQLite by default (a path)
or any SQLAlchemy URL (PostgreSQL for teams); triggers make ``UPDATE`` and ``DELETE`` on ledger
rows fail even through raw SQL, and :class:`Ledger` refuses in-place edits with a clear error.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from carbonshift.accounting.counterfactual import Counterfactuals
from carbonshift.accounting.emissions import Account
from carbonshift.accounting.meters.base import MeterInfo
from carbonshift.accounting.profile import FloatArray
from carbonshift.accounting.records import LedgerEntry, LedgerRecord
from carbonshift.errors import DataError, UsageError
from carbonshift.signals.series import IntensitySeries

__all__ = ["Ledger", "LedgerEditError", "LedgerEntry", "LedgerRecord"]

TABLE = "ledger_records"
metadata = MetaData()
records_table = Table(
    TABLE,
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(200), nullable=False, index=True),
    Column("user_name", String(200), nullable=False),
    Column("zone", String(100), nullable=False, index=True),
    Column("scenario", String(20), nullable=False),
    Column("interval_start_s", Float, nullable=False, index=True),
    Column("interval_end_s", Float, nullable=False),
    Column("step_start_s", Integer),
    Column("step_resolution_s", Integer),
    Column("energy_kwh", Float, nullable=False),
    Column("cpu_energy_kwh", Float),
    Column("gpu_energy_kwh", Float),
    Column("ram_energy_kwh", Float),
    Column("intensity_g_per_kwh", Float),
    Column("emissions_g", Float),
    Column("signal_labels", Text, nullable=False),
    Column("intensity_filled", Boolean, nullable=False),
    Column("meter", String(100), nullable=False),
    Column("meter_detail", Text, nullable=False),
    Column("provider", String(100), nullable=False),
    Column("data_version", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("supersedes", Integer, ForeignKey(f"{TABLE}.id"), unique=True),
    Column("note", Text, nullable=False),
    Column("recorded_at_s", Float, nullable=False),
    CheckConstraint("status IN ('provisional', 'final')", name="ck_status"),
    CheckConstraint(
        "scenario IN ('actual', 'immediate', 'static', 'oracle', 'dynamic')", name="ck_scenario"
    ),
    CheckConstraint("energy_kwh >= 0", name="ck_energy"),
    CheckConstraint("interval_end_s >= interval_start_s", name="ck_interval"),
)

_APPEND_ONLY = "ledger records are append-only: append a correction that supersedes the record"
_SQLITE_GUARDS = [
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_{op.lower()} BEFORE {op} ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
    for op in ("UPDATE", "DELETE")
]
_POSTGRES_GUARDS = [
    "CREATE OR REPLACE FUNCTION carbonshift_ledger_append_only() RETURNS trigger AS $$ "
    f"BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END; $$ LANGUAGE plpgsql",
    f"CREATE OR REPLACE TRIGGER {TABLE}_no_change BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION carbonshift_ledger_append_only()",
    f"CREATE OR REPLACE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION carbonshift_ledger_append_only()",
]


class LedgerEditError(UsageError):
    """An attempt to change or remove a ledger record in place."""


class Ledger:
    """An append-only store of :class:`LedgerRecord` (SQLite path or SQLAlchemy URL)."""

    def __init__(self, target: str | Path, *, create: bool = True) -> None:
        if isinstance(target, str) and "://" in target:
            url = target
        else:
            path = Path(target)
            if not create and not path.is_file():
                raise UsageError(
                    f"--ledger: no ledger at {path}",
                    hint="give the path of a ledger written by carbonshift.track(ledger=...)",
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{path}"
        self.url = url
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            if not create and not inspect(self.engine).has_table(TABLE):
                raise UsageError(
                    f"--ledger: {target} holds no carbonshift ledger (no {TABLE} table)",
                    hint="give the path of a ledger written by carbonshift.track(ledger=...)",
                )
            metadata.create_all(self.engine)
            guards = {"sqlite": _SQLITE_GUARDS, "postgresql": _POSTGRES_GUARDS}.get(
                self.engine.dialect.name, []
            )
            with self.engine.begin() as conn:
                for statement in guards:
                    conn.execute(text(statement))
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise DataError(
                f"ledger {target}: cannot be opened ({type(exc.__cause__ or exc).__name__}: "
                f"{exc.__cause__ or exc})",
                hint="check the path or URL; a ledger is a SQLite file or a database URL",
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing
    def append(self, entries: Iterable[LedgerEntry]) -> list[int]:
        """Append records in one transaction; returns their ids."""
        now = time.time()
        ids: list[int] = []
        with self.engine.begin() as conn:
            for entry in entries:
                result = conn.execute(insert(records_table).values(entry.to_row(now)))
                pk = result.inserted_primary_key
                assert pk is not None
                ids.append(int(pk[0]))
        return ids

    def record_account(
        self,
        account: Account,
        *,
        job_id: str,
        meter: MeterInfo | str,
        user: str = "",
        scenario: str = "actual",
        meter_detail: Mapping[str, Any] | None = None,
        data_version: str = "",
        parts_kwh: Mapping[str, Sequence[float] | FloatArray] | None = None,
        note: str = "",
    ) -> list[int]:
        """One record per step of ``account``; ``parts_kwh`` splits each step by part."""
        info = meter if isinstance(meter, MeterInfo) else None
        detail = {**(info.to_dict() if info else {}), **(meter_detail or {})}
        parts = parts_kwh or {}
        entries = []
        for i, step in enumerate(account.steps):
            split = {p: float(v[i]) for p, v in parts.items() if p in ("cpu", "gpu", "ram")}
            entries.append(
                LedgerEntry(
                    job_id=job_id,
                    user=user,
                    zone=account.labels.zone,
                    scenario=scenario,
                    interval_start_s=step.interval_start_s,
                    interval_end_s=step.interval_end_s,
                    step_start_s=step.step_start_s,
                    step_resolution_s=account.resolution_s,
                    energy_kwh=step.energy_kwh,
                    cpu_energy_kwh=split.get("cpu"),
                    gpu_energy_kwh=split.get("gpu"),
                    ram_energy_kwh=split.get("ram"),
                    intensity_g_per_kwh=step.intensity_g_per_kwh,
                    emissions_g=step.emissions_g,
                    intensity_filled=step.filled,
                    labels=account.labels,
                    meter=info.name if info else str(meter),
                    meter_detail=detail,
                    data_version=data_version,
                    status=account.status,
                    note=note,
                )
            )
        return self.append(entries)

    def record_counterfactuals(
        self, cf: Counterfactuals, *, job_id: str, meter: MeterInfo | str, **kw: Any
    ) -> list[int]:
        """Records for each counterfactual placement (not the actual one, recorded apart)."""
        ids: list[int] = []
        for placement in cf.placements():
            if placement.scenario != "actual":
                ids += self.record_account(
                    placement.account, job_id=job_id, meter=meter, scenario=placement.scenario, **kw
                )
        return ids

    def correct(self, record_id: int, *, note: str, **changes: Any) -> int:
        """Append a record that supersedes ``record_id`` with ``changes`` applied.

        Emissions are recomputed when the energy or intensity changes and emissions are not
        given; a new energy scales the cpu/gpu/ram split unless that is given too. A record
        can be superseded once; correct the newest one.
        """
        if not note.strip():
            raise UsageError(
                "correction: say why (note=...)", hint="e.g. note='meter recalibrated'"
            )
        old = self.get(record_id)
        newer = self._superseded_by(record_id)
        if newer is not None:
            raise LedgerEditError(
                f"record {record_id} is already superseded by record {newer}",
                hint=f"correct record {newer} instead",
            )
        unknown = set(changes) - {f.name for f in fields(LedgerEntry)}
        if unknown:
            raise UsageError(f"correction: unknown field(s) {', '.join(sorted(unknown))}")
        if "emissions_g" not in changes and {"energy_kwh", "intensity_g_per_kwh"} & set(changes):
            e = changes.get("energy_kwh", old.energy_kwh)
            i = changes.get("intensity_g_per_kwh", old.intensity_g_per_kwh)
            changes["emissions_g"] = None if i is None else e * i
        if "energy_kwh" in changes and old.energy_kwh > 0:
            scale = changes["energy_kwh"] / old.energy_kwh  # keep the parts summing to the total
            for part in ("cpu_energy_kwh", "gpu_energy_kwh", "ram_energy_kwh"):
                value = getattr(old, part)
                if part not in changes and value is not None:
                    changes[part] = value * scale
        entry = old.as_entry(**changes)
        entry = replace(entry, supersedes=record_id, note=note)
        return self.append([entry])[0]

    def finalize(
        self, job_id: str, actual: IntensitySeries, *, data_version: str = ""
    ) -> tuple[list[int], list[int]]:
        """Replace a job's current provisional records by final ones on ``actual`` values.

        Each record's interval must lie inside one step of ``actual`` (true when the actuals
        are on the forecast's grid or coarser). Returns (new ids, ids still provisional because
        the actuals have no value there yet).
        """
        if actual.labels.kind != "actual":
            raise UsageError("finalize: the series is a forecast", hint="pass actual values")
        new: list[LedgerEntry] = []
        pending: list[int] = []
        for rec in self.records(job_id=job_id):
            if rec.status != "provisional" or rec.zone != actual.zone:
                continue
            if not rec.labels.comparable_with(actual.labels):
                raise UsageError(
                    f"finalize: record {rec.id} is on {rec.labels.describe()}, "
                    f"the actuals are {actual.labels.describe()}"
                )
            res = actual.resolution_s
            k = math.floor((rec.interval_start_s - actual.start_s) / res)
            if rec.interval_end_s > actual.start_s + (k + 1) * res + 1e-6:
                raise UsageError(
                    f"finalize: record {rec.id} spans several steps of the actual series",
                    hint="re-account the run from its power profile (emissions.restate)",
                )
            value = float(actual.values[k]) if 0 <= k < len(actual) else math.nan
            if math.isnan(value):
                pending.append(rec.id)
                continue
            filled = bool(actual.filled[k]) if actual.filled is not None else False
            new.append(
                replace(
                    rec.as_entry(),
                    intensity_g_per_kwh=value,
                    emissions_g=rec.energy_kwh * value,
                    intensity_filled=filled,
                    labels=actual.labels,
                    provider=actual.labels.provider,
                    data_version=data_version,
                    status="final",
                    supersedes=rec.id,
                    note="final: actual intensity replaces the forecast",
                )
            )
        return self.append(new), pending

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Always refused: records are never rewritten in place."""
        raise LedgerEditError(
            "ledger records cannot be updated in place",
            hint="append a correction with Ledger.correct(record_id, note=..., field=value)",
        )

    def delete(self, *args: Any, **kwargs: Any) -> None:
        """Always refused: records are never removed."""
        raise LedgerEditError(
            "ledger records cannot be deleted",
            hint="append a correction with energy_kwh=0 that supersedes the record, and say why",
        )

    # ------------------------------------------------------------------ reading
    def get(self, record_id: int) -> LedgerRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(records_table).where(records_table.c.id == record_id)).first()
        if row is None:
            raise UsageError(f"ledger: no record {record_id}")
        return LedgerRecord.from_row(dict(row._mapping))

    def _superseded_by(self, record_id: int) -> int | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(records_table.c.id).where(records_table.c.supersedes == record_id)
            ).first()
        return None if row is None else int(row[0])

    def records(
        self,
        *,
        job_id: str | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        scenario: str | None = None,
        include_superseded: bool = False,
    ) -> list[LedgerRecord]:
        """Records in id order; by default only current ones (superseded by none).

        ``start_s``/``end_s`` keep records whose interval starts in ``[start_s, end_s)``.
        """
        c = records_table.c
        query = select(records_table).order_by(c.id)
        if job_id is not None:
            query = query.where(c.job_id == job_id)
        if scenario is not None:
            query = query.where(c.scenario == scenario)
        if start_s is not None:
            query = query.where(c.interval_start_s >= start_s)
        if end_s is not None:
            query = query.where(c.interval_start_s < end_s)
        if not include_superseded:
            replaced = select(c.supersedes).where(c.supersedes.is_not(None))
            query = query.where(c.id.not_in(replaced))
        with self.engine.connect() as conn:
            return [LedgerRecord.from_row(dict(r._mapping)) for r in conn.execute(query)]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
