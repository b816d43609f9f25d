"""Measuring a block of code: ``with carbonshift.track(zone="DE", intensity=series) as t: ...``.

A background thread reads the chosen meter every ``interval_s`` seconds; on exit the readings
become a :class:`PowerProfile` (cumulative energy readings: totals are exact, see
:mod:`carbonshift.accounting.profile`) that is accounted on the zone's intensity series, step by
step, and optionally appended to a ledger. The tracker is also a decorator (``@track(...)``);
each call starts afresh and the tracker holds the last call's figures.
"""

from __future__ import annotations

import getpass
import threading
import time
import uuid
import warnings
from collections.abc import Sequence
from contextlib import ContextDecorator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np

from carbonshift.accounting.counterfactual import Counterfactuals, counterfactuals
from carbonshift.accounting.emissions import Account, Restatement, StepAccount, account, restate
from carbonshift.accounting.host import host_info
from carbonshift.accounting.ledger import Ledger
from carbonshift.accounting.meters.base import MeterInfo, PowerMeter, Reading
from carbonshift.accounting.meters.select import select_meter
from carbonshift.accounting.profile import J_PER_KWH, PowerProfile
from carbonshift.errors import UsageError
from carbonshift.signals.series import IntensitySeries
from carbonshift.signals.store import SignalStore
from carbonshift.timeutil import to_epoch_s

__all__ = ["Sampler", "Tracker", "track"]


class Sampler:
    """Reads a meter every ``interval_s`` seconds in a daemon thread; counts its own CPU time."""

    def __init__(self, meter: PowerMeter, interval_s: float) -> None:
        self.meter = meter
        self.interval_s = interval_s
        self.readings: list[Reading] = []
        self.errors: list[str] = []
        self.cpu_time_s = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        t0 = time.thread_time()
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    self.readings.append(self.meter.read())
                except Exception as exc:  # a failed read must not kill the job
                    if len(self.errors) < 10:
                        self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self.cpu_time_s = time.thread_time() - t0

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="carbonshift-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, 2 * self.interval_s))


class Tracker(ContextDecorator):
    """Energy and emissions of the code it wraps. Build it with :func:`track`."""

    def __init__(
        self,
        zone: str | None = None,
        intensity: IntensitySeries | SignalStore | None = None,
        *,
        dataset: str | None = None,
        variant: str = "actual",
        interval_s: float = 1.0,
        meter: str | PowerMeter = "auto",
        gpus: Sequence[int | str] | None = None,
        pids: Sequence[int] | None = None,
        exclusive: bool = False,
        rapl_root: Path | str | None = None,
        power_w: float | None = None,
        power_profile: tuple[Sequence[float], Sequence[float]] | None = None,
        tdp_w: float | None = None,
        pue: float = 1.0,
        ledger: Ledger | Path | str | None = None,
        job_id: str | None = None,
        user: str | None = None,
        data_version: str = "",
        nvml_module: Any = None,
    ) -> None:
        if not interval_s > 0:
            raise UsageError("interval_s: must be positive", hint="e.g. interval_s=1.0")
        if not pue >= 1.0:
            raise UsageError(f"pue: {pue} is below 1", hint="a PUE is at least 1.0 (no overhead)")
        if isinstance(intensity, IntensitySeries):
            if zone is not None and zone != intensity.zone:
                raise UsageError(f"zone: {zone!r} but the intensity series is {intensity.zone!r}")
            zone = intensity.zone
        elif isinstance(intensity, SignalStore) and not zone:
            raise UsageError("zone: needed to load the intensity from a store", hint="zone='DE'")
        if ledger is not None and intensity is None:
            raise UsageError(
                "ledger: records need an intensity series",
                hint="pass intensity=<IntensitySeries> or a SignalStore with zone=",
            )
        self.zone = zone
        self.intensity_source = intensity
        self.dataset, self.variant = dataset, variant
        self.interval_s = float(interval_s)
        self.meter_choice = meter
        self.meter_options: dict[str, Any] = {
            "gpus": gpus,
            "pids": pids,
            "exclusive": exclusive,
            "rapl_root": rapl_root,
            "power_w": power_w,
            "power_profile": power_profile,
            "tdp_w": tdp_w,
            "nvml_module": nvml_module,
        }
        self.pue = float(pue)
        self.ledger = Ledger(ledger) if isinstance(ledger, str | Path) else ledger
        self.fixed_job_id = job_id
        self.user = user if user is not None else _user()
        self.data_version = data_version
        self._reset()

    def _reset(self) -> None:
        self.job_id = self.fixed_job_id or uuid.uuid4().hex
        self._meter: PowerMeter | None = None
        self._sampler: Sampler | None = None
        self.readings: list[Reading] = []
        self.profile: PowerProfile | None = None
        self.part_profiles: dict[str, PowerProfile] = {}
        self.account: Account | None = None
        self.intensity: IntensitySeries | None = None
        self.record_ids: list[int] = []
        self.meter_info: MeterInfo | None = None
        self.sampler_cpu_s = 0.0
        self.sampler_errors: list[str] = []
        self.running = False

    # ------------------------------------------------------------------ context protocol
    def __enter__(self) -> Tracker:
        self._reset()
        source = self.intensity_source
        if isinstance(source, SignalStore):
            assert self.zone is not None
            self.dataset = self.dataset or source.resolve_dataset(self.zone, variant=self.variant)
        meter = self.meter_choice
        if not isinstance(meter, PowerMeter):
            meter = select_meter(meter, **self.meter_options)
        self._meter = meter
        self.readings = [meter.start()]
        self._sampler = Sampler(meter, self.interval_s)
        self._sampler.start()
        self.running = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        assert self._meter is not None and self._sampler is not None
        self._sampler.stop()
        self.running = False
        self.sampler_cpu_s = self._sampler.cpu_time_s
        self.sampler_errors = list(self._sampler.errors)
        try:
            self.readings += self._sampler.readings
            self.readings.append(self._meter.stop())
            self._finish()
        except Exception as err:
            if exc is None:
                raise
            warnings.warn(f"carbonshift: accounting failed ({err})", stacklevel=2)
        return False

    def _finish(self) -> None:
        assert self._meter is not None
        info = self._meter.info()
        notes = list(info.notes)
        if self.pue != 1.0:
            notes.append(f"energy multiplied by PUE {self.pue:g}")
        notes += [f"sampler read failed: {e}" for e in self.sampler_errors]
        self.meter_info = MeterInfo.from_dict({**info.to_dict(), "notes": notes})
        times = np.array([r.time_s for r in self.readings])
        energy = np.array([r.energy_j for r in self.readings]) * self.pue
        self.profile = PowerProfile.from_meter_readings(times, energy)
        parts = sorted({k for r in self.readings for k in r.parts_j})
        for part in parts:
            e = np.array([r.parts_j.get(part, 0.0) for r in self.readings]) * self.pue
            prof = PowerProfile.from_meter_readings(times, e)
            if prof is not None:
                self.part_profiles[part] = prof
        self.intensity = self._load_intensity()
        if self.intensity is None or self.profile is None:
            return
        self.account = account(self.profile, self.intensity)
        if self.ledger is not None:
            grid = (self.intensity.start_s, self.intensity.resolution_s)
            parts_kwh = {
                p: prof.per_step(*grid).energy_kwh for p, prof in self.part_profiles.items()
            }
            self.record_ids = self.ledger.record_account(
                self.account,
                job_id=self.job_id,
                user=self.user,
                meter=self.meter_info,
                meter_detail={"pue": self.pue, "host": host_info(self.meter_info)},
                data_version=self.data_version,
                parts_kwh=parts_kwh,
            )

    def _load_intensity(self) -> IntensitySeries | None:
        source = self.intensity_source
        if isinstance(source, SignalStore):
            assert self.zone is not None
            return source.load(self.zone, dataset=self.dataset, variant=self.variant)
        return source

    # ------------------------------------------------------------------ results
    @property
    def meter(self) -> MeterInfo | None:
        """The meter that measured (``None`` before the first run)."""
        if self.meter_info is not None:
            return self.meter_info
        return self._meter.info() if self._meter is not None else None

    @property
    def energy_kwh(self) -> float:
        """Energy so far (live while running), PUE included."""
        if self.profile is not None and not self.running:
            return self.profile.energy_kwh
        last = self._latest()
        return last.energy_j * self.pue / J_PER_KWH if last else 0.0

    def _latest(self) -> Reading | None:
        if self.running and self._sampler is not None and self._sampler.readings:
            return self._sampler.readings[-1]
        return self.readings[-1] if self.readings else None

    @property
    def emissions_g(self) -> float | None:
        """Emissions of the steps with an intensity (``None`` before the end or without one)."""
        return self.account.emissions_g if self.account is not None else None

    @property
    def unattributed_energy_kwh(self) -> float:
        return self.account.unattributed_energy_kwh if self.account is not None else 0.0

    @property
    def duration_s(self) -> float:
        last = self._latest()
        return last.time_s - self.readings[0].time_s if last and self.readings else 0.0

    @property
    def steps(self) -> tuple[StepAccount, ...]:
        return self.account.steps if self.account is not None else ()

    def counterfactuals(
        self,
        *,
        immediate_start: datetime | float | None = None,
        static_start: datetime | float | None = None,
        oracle_start: datetime | float | None = None,
        intensity: IntensitySeries | None = None,
    ) -> Counterfactuals:
        """The run's profile placed at the baselines' starts, on ``intensity`` (default the
        tracked one); recorded in the ledger as counterfactual records when there is one."""
        series = intensity or self.intensity
        if self.profile is None or series is None:
            raise UsageError("counterfactuals: need a finished run with an intensity series")
        cf = counterfactuals(
            self.profile,
            series,
            immediate_start_s=_epoch(immediate_start),
            static_start_s=_epoch(static_start),
            oracle_start_s=_epoch(oracle_start),
        )
        if self.ledger is not None and self.meter_info is not None:
            self.ledger.record_counterfactuals(
                cf,
                job_id=self.job_id,
                user=self.user,
                meter=self.meter_info,
                meter_detail={"pue": self.pue},
                data_version=self.data_version,
            )
        return cf

    def restate(self, actual: IntensitySeries) -> Restatement:
        """Final figures on actual values for a run accounted on a forecast (exact)."""
        if self.account is None or self.profile is None:
            raise UsageError("restate: need a finished run accounted on an intensity series")
        return restate(self.account, actual, profile=self.profile)

    def to_dict(self) -> dict[str, Any]:
        info = self.meter
        return {
            "job_id": self.job_id,
            "user": self.user,
            "zone": self.zone,
            "duration_s": self.duration_s,
            "energy_kwh": self.energy_kwh,
            "emissions_g": self.emissions_g,
            "unattributed_energy_kwh": self.unattributed_energy_kwh,
            "pue": self.pue,
            "meter": info.to_dict() if info else None,
            "account": self.account.to_dict() if self.account else None,
            "ledger_records": list(self.record_ids),
        }

    def summary(self) -> str:
        """One line for a log."""
        info = self.meter
        em = f"{self.emissions_g:.4g} g CO2eq" if self.emissions_g is not None else "no intensity"
        gaps = self.account.gap_summary() if self.account else ""
        return (
            f"{self.energy_kwh:.6g} kWh over {self.duration_s:.1f} s, {em}; "
            f"meter {info.describe() if info else '?'}" + (f"; {gaps}" if gaps else "")
        )


def _epoch(value: datetime | float | None) -> float | None:
    if value is None:
        return None
    return float(to_epoch_s(value)) if isinstance(value, datetime) else float(value)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


def track(
    zone: str | None = None,
    intensity: IntensitySeries | SignalStore | None = None,
    *,
    interval_s: float = 1.0,
    **options: Any,
) -> Tracker:
    """Measure the energy (and, given an intensity, the emissions) of a block or function.

    ``intensity`` is an :class:`IntensitySeries` or a :class:`SignalStore` (read for ``zone``
    at the end of the run). Options: ``meter`` (``auto``/``nvml``/``rapl``/``model`` or a
    :class:`PowerMeter`), ``gpus``, ``pids``, ``exclusive``, ``rapl_root``, ``power_w``,
    ``power_profile``, ``tdp_w``, ``pue``, ``ledger`` (path, URL or :class:`Ledger`),
    ``job_id``, ``user``, ``data_version``, ``dataset``, ``variant``. See :class:`Tracker`.
    """
    return Tracker(zone, intensity, interval_s=interval_s, **options)
