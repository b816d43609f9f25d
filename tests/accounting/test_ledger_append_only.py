"""The ledger is append-only: the API refuses edits, and raw SQL UPDATE/DELETE fail too."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy
from accounting.helpers_accounting import T0, make_series

from carbonshift.accounting.emissions import account
from carbonshift.accounting.ledger import Ledger, LedgerEditError
from carbonshift.accounting.meters.base import MeterInfo
from carbonshift.accounting.profile import PowerProfile
from carbonshift.errors import DataError, UsageError

METER = MeterInfo("model", False, "declared constant power 1000 W", parts=("cpu",))


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    led = Ledger(tmp_path / "ledger.db")
    series = make_series([100, 200, 300])
    acc = account(PowerProfile.constant(T0 + 1800, 3600, 1000.0), series)
    led.record_account(acc, job_id="job-1", user="ada", meter=METER, data_version="v1")
    return led


def test_records_per_step(ledger: Ledger) -> None:
    recs = ledger.records()
    assert [r.id for r in recs] == [1, 2]
    r = recs[0]
    assert (r.job_id, r.user, r.zone, r.scenario, r.status) == (
        "job-1",
        "ada",
        "DE",
        "actual",
        "final",
    )
    assert (r.interval_start_s, r.interval_end_s) == (T0 + 1800, T0 + 3600)
    assert r.energy_kwh == pytest.approx(0.5) and r.emissions_g == pytest.approx(50.0)
    assert r.labels.zone == "DE" and r.provider == "file" and r.data_version == "v1"
    assert r.meter == "model" and r.meter_detail["method"].startswith("declared")
    assert r.recorded_at_s > 0


def test_api_refuses_in_place_edits(ledger: Ledger) -> None:
    with pytest.raises(LedgerEditError, match="cannot be updated in place"):
        ledger.update(1, energy_kwh=0.0)
    with pytest.raises(LedgerEditError, match="cannot be deleted"):
        ledger.delete(1)


def test_raw_sql_cannot_update_or_delete(ledger: Ledger, tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "ledger.db")
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("UPDATE ledger_records SET energy_kwh = 0 WHERE id = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("DELETE FROM ledger_records")
        con.rollback()
    finally:
        con.close()
    with ledger.engine.connect() as conn, pytest.raises(sqlalchemy.exc.DatabaseError):
        conn.execute(sqlalchemy.text("UPDATE ledger_records SET emissions_g = 1"))
    assert [r.energy_kwh for r in ledger.records()] == pytest.approx([0.5, 0.5])


def test_correction_supersedes(ledger: Ledger) -> None:
    new_id = ledger.correct(1, note="meter recalibrated", energy_kwh=0.6)
    current = ledger.records()
    assert [r.id for r in current] == [2, new_id]
    fixed = ledger.get(new_id)
    assert fixed.supersedes == 1 and fixed.note == "meter recalibrated"
    assert fixed.emissions_g == pytest.approx(60.0)  # recomputed from the new energy
    assert len(ledger.records(include_superseded=True)) == 3
    assert ledger.get(1).energy_kwh == pytest.approx(0.5)  # the original is untouched
    with pytest.raises(LedgerEditError, match="already superseded"):
        ledger.correct(1, note="again", energy_kwh=0.7)
    with pytest.raises(UsageError, match="say why"):
        ledger.correct(new_id, note=" ", energy_kwh=0.7)


def test_provisional_records_finalized(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "l.db")
    forecast = make_series([100, 200, 300], kind="forecast", provider="em")
    acc = account(PowerProfile.constant(T0, 3 * 3600, 1000.0), forecast)
    led.record_account(acc, job_id="j", meter="model")
    assert {r.status for r in led.records()} == {"provisional"}
    actual = make_series([110, np.nan, 330], provider="em")
    new_ids, pending = led.finalize("j", actual, data_version="2022-06-02")
    assert len(new_ids) == 2 and pending == [2]
    now = {r.id: r for r in led.records()}
    assert set(now) == {2, *new_ids}
    final = [now[i] for i in new_ids]
    assert [r.status for r in final] == ["final", "final"]
    assert [r.emissions_g for r in final] == pytest.approx([110.0, 330.0])
    assert [r.supersedes for r in final] == [1, 3]
    assert now[2].status == "provisional"  # no actual value yet: stays provisional
    with pytest.raises(UsageError, match="forecast"):
        led.finalize("j", forecast)


def test_missing_ledger_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--ledger: no ledger"):
        Ledger(tmp_path / "absent.db", create=False)


def test_not_a_ledger(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataError, match="cannot be opened"):
        Ledger(junk)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(UsageError, match="holds no carbonshift ledger"):
        Ledger(other, create=False)
