"""``carbonshift.track`` on this machine: the best meter present is chosen and recorded."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from accounting.helpers_accounting import FakeClock, make_series

import carbonshift
from carbonshift.accounting import track
from carbonshift.accounting.ledger import Ledger
from carbonshift.accounting.meters import ModelMeter, RaplMeter
from carbonshift.errors import UsageError
from carbonshift.signals.series import IntensitySeries
from carbonshift.signals.store import SignalStore


def now_series(values: tuple[float, ...] = (300.0, 200.0, 100.0)) -> IntensitySeries:
    hour = int(time.time()) // 3600 * 3600
    return make_series(list(values), start_s=hour - 3600)


def busy(seconds: float) -> int:
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
    return n


def test_track_picks_the_best_meter_here_and_records_it(tmp_path: Path) -> None:
    series = now_series()
    with track(zone="DE", intensity=series, interval_s=0.05, ledger=tmp_path / "l.db") as t:
        busy(0.3)
    rapl_ok = RaplMeter().available()
    assert t.meter is not None
    assert t.meter.name == ("rapl" if rapl_ok else "model")
    if not rapl_ok:
        assert not t.meter.measured and "TDP" in t.meter.method
        assert any("nothing could be measured" in n for n in t.meter.notes)
    assert t.energy_kwh > 0 and 0.25 < t.duration_s < 5
    assert t.emissions_g == pytest.approx(sum((s.emissions_g or 0) for s in t.steps))
    assert t.emissions_g == pytest.approx(
        sum(
            s.energy_kwh * series.values[(s.step_start_s - series.start_s) // 3600] for s in t.steps
        )
    )
    assert len(t.readings) >= 4 and t.account is not None and t.account.complete
    recs = Ledger(tmp_path / "l.db").records()
    assert recs and {r.meter for r in recs} == {t.meter.name}
    assert sum(r.energy_kwh for r in recs) == pytest.approx(t.energy_kwh)
    assert recs[0].meter_detail["host"]["cpu_count"] >= 1 and recs[0].job_id == t.job_id
    assert "kWh" in t.summary() and t.to_dict()["meter"]["name"] == t.meter.name


def test_declared_power_with_pue_and_decorator(clock: FakeClock) -> None:
    tracker = track(intensity=now_series(), meter=ModelMeter.constant(100.0), pue=1.5)

    @tracker
    def work() -> int:
        time.sleep(0.2)
        return 7

    assert work() == 7
    assert tracker.meter is not None and tracker.meter.name == "model"
    assert any("PUE 1.5" in n for n in tracker.meter.notes)
    # 100 W × 1.5 over the measured duration
    assert tracker.energy_kwh == pytest.approx(150.0 * tracker.duration_s / 3.6e6, rel=1e-6)
    first_job = tracker.job_id
    work()
    assert tracker.job_id != first_job  # each call is a run of its own


def test_intensity_from_a_store_and_gaps(tmp_path: Path) -> None:
    store = SignalStore(tmp_path / "store")
    series = now_series((300.0, np.nan, np.nan))  # the current hour is missing
    store.put(series)
    with track("DE", store, interval_s=0.05, meter="model", power_w=10.0) as t:
        time.sleep(0.1)
    assert t.account is not None and not t.account.complete
    assert t.emissions_g == 0.0 and t.unattributed_energy_kwh == pytest.approx(t.energy_kwh)
    assert "without intensity" in t.summary()


def test_energy_only_and_errors() -> None:
    with track(meter="model", power_w=5.0, interval_s=0.05) as t:
        time.sleep(0.05)
        assert t.energy_kwh >= 0  # live value while running
    assert t.emissions_g is None and t.energy_kwh > 0
    with pytest.raises(UsageError, match="interval_s"):
        track(interval_s=0)
    with pytest.raises(UsageError, match="ledger"):
        track(ledger="x.db")
    with pytest.raises(UsageError, match="zone"):
        track(zone="FR", intensity=now_series())


def test_body_exception_propagates_and_energy_is_kept() -> None:
    t = track(intensity=now_series(), meter="model", power_w=50.0, interval_s=0.05)

    def failing_job() -> None:
        with t:
            time.sleep(0.05)
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        failing_job()
    assert t.energy_kwh > 0 and t.emissions_g is not None


def test_counterfactuals_from_a_tracked_run(tmp_path: Path) -> None:
    series = now_series((400.0, 100.0, 100.0))
    led = tmp_path / "cf.db"
    with track(intensity=series, meter="model", power_w=1000.0, ledger=led) as t:
        time.sleep(0.1)
    cf = t.counterfactuals(immediate_start=float(series.start_s))
    assert cf.savings_vs_immediate_g is not None and cf.savings_vs_immediate_g > 0
    scen = {r.scenario for r in Ledger(led).records()}
    assert scen == {"actual", "immediate"}


def test_track_is_public() -> None:
    assert carbonshift.track is track and "track" in carbonshift.__all__
