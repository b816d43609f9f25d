"""Accounting of finished jobs: measured energy, emissions, savings, into the ledger.

Each dispatched command runs under :mod:`carbonshift.accounting.probe`, which writes its energy
readings to ``<data_dir>/energy/<job id>/attempt-<n>.json``. Once a job that ran has ended,
the :class:`Accountant` (driven by the planning loop):

1. reads the probe files into one power profile (times moved onto the service clock, so that
   an accelerated demo clock places the run where the service thought it ran); without a probe
   file it falls back to the job's declared ``power_w`` over its run time, and says so;
2. picks the intensity: the zone's **actuals** when its source has them for the run (final
   figures), else the **forecast the job was planned on** (provisional figures, finalised on
   actuals by a later pass once they exist);
3. places the same profile at the baselines' starts, found by the planner's own policies:
   ``immediate`` (at submission), ``static`` (the zone's static slot, when one is configured)
   and, on actuals, ``oracle`` (the best start before the deadline with perfect foresight);
4. appends the actual and counterfactual records to the ledger (the same database as the job
   store), and stores a summary built by :func:`~carbonshift.accounting.build_report` from
   those very records, so the job's figures equal ``carbonshift report``'s.
"""

from __future__ import annotations

import itertools
import logging
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from carbonshift.accounting.counterfactual import counterfactuals
from carbonshift.accounting.ledger import Ledger
from carbonshift.accounting.meters.base import MeterInfo
from carbonshift.accounting.probe import ProbeRun, combine, meter_of, read_probe_file
from carbonshift.accounting.profile import PowerProfile
from carbonshift.accounting.report import build_report
from carbonshift.errors import CarbonshiftError
from carbonshift.planning import CronSchedule, ImmediatePolicy, Job, OraclePolicy, StaticPolicy
from carbonshift.service.clock import Clock
from carbonshift.service.config import ServiceConfig
from carbonshift.service.lifecycle import State
from carbonshift.service.records import JobRow
from carbonshift.service.store import JobStore
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = [
    "Accountant",
    "account_lines",
    "account_run",
    "baseline_starts",
    "choose_intensity",
    "describe_account",
    "energy_dir",
    "job_key",
    "probe_argv",
    "summarize",
]

log = logging.getLogger("carbonshift.service")

ACCOUNTED_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED)
"""End states of jobs that may have run (a job that never started has nothing to account)."""


def energy_dir(config: ServiceConfig) -> Path:
    """Where the probes of the service's jobs write (a shared file system for Slurm)."""
    return config.data_dir / "energy"


def probe_argv(
    config: ServiceConfig,
    job_id: int,
    power_w: float | None,
    argv: Sequence[str],
    shell: bool,
    token: str,
) -> tuple[str, ...]:
    """``argv`` wrapped in the energy probe, its file named by the dispatch ``token`` (unique
    per hand-over to an executor) and the executor's attempt number."""
    out = energy_dir(config) / str(job_id) / f"attempt-{token}-{{attempt}}.json"
    command = ["/bin/sh", "-c", argv[0]] if shell else list(argv)
    probe = [
        config.probe_python or sys.executable,
        "-m",
        "carbonshift.accounting.probe",
        "--out",
        str(out),
        "--interval",
        f"{config.probe_interval_s:g}",
    ]
    if config.pue != 1.0:
        probe += ["--pue", f"{config.pue:g}"]
    if power_w:
        probe += ["--power-w", f"{power_w:g}"]
    return (*probe, "--", *command)


def job_key(job_id: int) -> str:
    """The ledger's job id for a service job."""
    return f"service-{job_id}"


def choose_intensity(
    actual: IntensitySeries | None,
    forecasts: Iterable[IntensitySeries],
    start_s: float,
    end_s: float,
) -> tuple[IntensitySeries | None, bool]:
    """(series, provisional) to account a run over ``[start_s, end_s)`` on: ``actual`` when it
    covers the whole run (final), else the first forecast that covers its start (provisional;
    steps it lacks are reported as gaps), else ``(None, True)``. ``forecasts`` is read lazily."""
    if actual is not None and actual.start_s <= start_s and actual.end_s >= end_s:
        return actual, False
    for forecast in forecasts:
        if forecast.start_s <= start_s < forecast.end_s:
            return forecast, True
    return None, True


def baseline_starts(
    job: Job,
    *,
    static: CronSchedule | None,
    actuals: IntensitySeries | None,
) -> dict[str, float | None]:
    """Where the baselines would have started ``job``, by the planner's own policies.

    ``immediate``: at submission. ``static``: the static slot (closest feasible start when the
    slot would miss the deadline), when a schedule is given. ``oracle``: the best start on
    ``actuals`` (perfect foresight), only when actuals are given.
    """
    now = job.submit
    out: dict[str, float | None] = {"immediate": None, "static": None, "oracle": None}
    out["immediate"] = float(ImmediatePolicy().plan(job, now).start_s)
    if static is not None:
        out["static"] = float(StaticPolicy(static).plan(job, now).start_s)
    if actuals is not None:
        zone = job.zones[0] if job.zones else actuals.zone
        plan = OraclePolicy({zone: actuals}).plan(job, now)
        out["oracle"] = None if plan.fallback is not None else float(plan.start_s)
    return out


def summarize(ledger: Ledger, key: str) -> dict[str, Any]:
    """A job's current figures, from its ledger records (as ``carbonshift report --by job``)."""
    records = ledger.records(job_id=key)
    report = build_report(records, by="job")
    if not report.rows:
        return {}
    row = report.rows[0].to_dict()
    actual = [r for r in records if r.scenario == "actual"]
    row["status"] = (
        "final" if actual and all(r.status == "final" for r in actual) else "provisional"
    )
    row["intensity"] = actual[0].labels.describe() if actual else ""
    row["meter"] = actual[0].meter if actual else ""
    detail = actual[0].meter_detail if actual else {}
    row["meter_method"] = str(detail.get("method", ""))
    row["measured"] = bool(detail.get("measured", False))
    row["start"] = (
        format_time(from_epoch_s(min(r.interval_start_s for r in actual))) if actual else None
    )
    row["end"] = (
        format_time(from_epoch_s(max(r.interval_end_s for r in actual))) if actual else None
    )
    return row


def account_run(
    ledger: Ledger,
    key: str,
    profile: PowerProfile,
    meter: MeterInfo,
    series: IntensitySeries,
    job: Job,
    *,
    static: CronSchedule | None,
    provisional: bool,
    user: str = "",
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Record a measured run and its counterfactual placements in ``ledger``; its summary.

    The baselines' starts come from :func:`baseline_starts` (the oracle only on actuals); the
    summary is :func:`summarize` of the records just written, with notes on what is missing.
    """
    starts = baseline_starts(job, static=static, actuals=None if provisional else series)
    cf = counterfactuals(
        profile,
        series,
        immediate_start_s=starts["immediate"],
        static_start_s=starts["static"],
        oracle_start_s=starts["oracle"],
    )
    extra = dict(detail or {})
    ledger.record_account(cf.actual.account, job_id=key, user=user, meter=meter, meter_detail=extra)
    ledger.record_counterfactuals(cf, job_id=key, user=user, meter=meter, meter_detail=extra)
    summary = summarize(ledger, key)
    notes: list[str] = []
    if static is None:
        notes.append("no static slot configured: no static baseline")
    if provisional:
        notes.append("no oracle before actuals are known")
    summary["notes"] = notes + list(cf.notes) + cf.unavailable()
    return summary


def format_saving(s: Mapping[str, Any] | None) -> str | None:
    """A saving (or the room left to the oracle) as ``+1.2 g (+3.4 %)``; None if unknown."""
    if not s:
        return None
    g = s.get("saved_g", s.get("room_left_g"))
    pct = s.get("saved_pct", s.get("room_left_pct"))
    if g is None:
        return None
    share = f" ({pct:+.1f} %)" if pct is not None else ""
    return f"{g:+.4g} g{share}"


def _fmt_saving(s: Mapping[str, Any] | None, what: str) -> str | None:
    said = format_saving(s)
    return None if said is None else f"{what} {said}"


def account_lines(status: str, summary: Mapping[str, Any]) -> list[str]:
    """Energy; emissions (labelled); savings; notes: what a person reads about one job."""
    why = summary.get("reason", "no energy was measured")
    if summary.get("energy_kwh") is None:
        return [f"energy not known ({why})"]
    method = summary.get("meter_method") or summary.get("meter", "")
    kind = "measured" if summary.get("measured") else "modelled"
    lines = [f"energy {summary['energy_kwh']:.6g} kWh {kind}" + (f" ({method})" if method else "")]
    if status == "unmeasured":  # energy known, no intensity to reckon emissions on
        return [*lines, f"emissions not known ({why})"]
    if summary.get("emissions_g") is not None and summary.get("intensity"):
        lines.append(
            f"emissions {summary['emissions_g']:.4g} g CO2eq, {status}, on {summary['intensity']}"
        )
    if summary.get("unattributed_energy_kwh"):
        lines.append(f"{summary['unattributed_energy_kwh']:.3g} kWh fell in intensity gaps")
    savings = [
        _fmt_saving(summary.get("savings_vs_immediate"), "saved vs immediate"),
        _fmt_saving(summary.get("savings_vs_static"), "vs static"),
        _fmt_saving(summary.get("room_left_to_oracle"), "room left to oracle"),
    ]
    said = [s for s in savings if s]
    if said:
        lines.append(", ".join(said))
    lines += [f"note: {n}" for n in summary.get("notes") or []]
    return lines


def describe_account(status: str, summary: Mapping[str, Any]) -> str:
    """:func:`account_lines` on one line (for logs)."""
    return "; ".join(account_lines(status, summary))


class Accountant:
    """Accounts finished jobs into the ledger (see the module docstring)."""

    def __init__(
        self,
        store: JobStore,
        ledger: Ledger,
        clock: Clock,
        energy_dir: Path,
        *,
        sources: Mapping[str, Any] | None = None,
        statics: Mapping[str, CronSchedule | None] | None = None,
        metrics: Any = None,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.clock = clock
        self.energy_dir = energy_dir
        self.sources = dict(sources or {})
        self.statics = dict(statics or {})
        self.metrics = metrics

    def probe_dir(self, job_id: int) -> Path:
        return self.energy_dir / str(job_id)

    def probe_out(self, job_id: int) -> Path:
        """The ``--out`` of the job's probe (``{attempt}`` filled in by the probe)."""
        return self.probe_dir(job_id) / "attempt-{attempt}.json"

    # -- passes ---------------------------------------------------------------------------

    def run_pass(self, limit: int = 20) -> int:
        """Account the jobs that ended since the last pass; returns how many."""
        done = 0
        for row in self.store.unaccounted(ACCOUNTED_STATES, limit=limit):
            try:
                status, summary = self.account_job(row)
            except (CarbonshiftError, OSError, ValueError) as exc:
                status, summary = "unmeasured", {"reason": f"accounting failed: {exc}"}
                log.warning("job %s: accounting failed: %s", row.id, exc)
            self.store.save_account(row.id, status, summary, self.clock.now().timestamp())
            log.info("job %s %s: %s", row.id, row.state.value, describe_account(status, summary))
            if self.metrics is not None and status != "unmeasured":
                self.metrics.observe_account(row.planned_zone or "", summary)
            done += 1
        return done

    def finalize_pass(self, limit: int = 50) -> int:
        """Restate provisional accounts on actuals that have arrived since; returns how many."""
        done = 0
        for job_id in self.store.accounts_in_status("provisional", limit=limit):
            row = self.store.get_job(job_id)
            if row is None or row.planned_zone is None:
                continue
            key = job_key(job_id)
            records = self.ledger.records(job_id=key, scenario="actual")
            if not records:
                continue
            lo = min(r.interval_start_s for r in records)
            hi = max(r.interval_end_s for r in records)
            actual = self._actuals(
                row.planned_zone, min(lo, row.submitted_at_s), max(hi, row.deadline_s)
            )
            if actual is None or not actual.start_s <= lo or actual.end_s < hi:
                continue
            try:
                _, pending = self.ledger.finalize(key, actual)
            except CarbonshiftError as exc:
                log.warning("job %s: cannot finalise: %s", job_id, exc)
                continue
            summary = summarize(self.ledger, key)
            status = "provisional" if pending else "final"
            self.store.save_account(job_id, status, summary, self.clock.now().timestamp())
            log.info("job %s finalised: %s", job_id, describe_account(status, summary))
            done += 1
        return done

    # -- one job --------------------------------------------------------------------------

    def account_job(self, row: JobRow) -> tuple[str, dict[str, Any]]:
        """Account one ended job; returns (status, summary)."""
        key = job_key(row.id)
        if self.ledger.records(job_id=key):  # accounted before a crash: summary only
            summary = summarize(self.ledger, key)
            return str(summary.get("status", "provisional")), summary
        zone = row.planned_zone or (row.zones[0] if row.zones else "")
        profile, meter, notes = self._profile(row)
        if profile is None or meter is None:
            return "unmeasured", {"reason": "; ".join(notes) or "no energy readings"}
        lo = min(profile.start_s, row.submitted_at_s)
        hi = max(profile.end_s, row.deadline_s)
        series, provisional = self._intensity(row, zone, lo, hi, profile)
        if series is None:
            energy = {
                "energy_kwh": profile.energy_kwh,
                "meter": meter.name,
                "meter_method": meter.method,
                "measured": meter.measured,
                "reason": f"no intensity for {zone} over the run",
                "notes": notes,
            }
            return "unmeasured", energy
        job = Job(
            submit=from_epoch_s(math.floor(row.submitted_at_s)),
            duration=timedelta(seconds=max(1, row.duration_s)),
            deadline=from_epoch_s(math.ceil(row.deadline_s)),
            zones=(zone,),
            job_id=key,
        )
        user = row.env.get("USER", "") if row.env else ""
        summary = account_run(
            self.ledger,
            key,
            profile,
            meter,
            series,
            job,
            static=self.statics.get(zone),
            provisional=provisional,
            user=user,
            detail={"service_job": row.id, "state": row.state.value},
        )
        summary["notes"] = notes + summary.get("notes", [])
        return ("provisional" if provisional else "final"), summary

    def _profile(self, row: JobRow) -> tuple[PowerProfile | None, MeterInfo | None, list[str]]:
        notes: list[str] = []
        runs: list[ProbeRun] = []
        folder = self.probe_dir(row.id)
        for path in sorted(folder.glob("attempt-*.json")) if folder.is_dir() else []:
            try:
                runs.append(read_probe_file(path))
            except CarbonshiftError as exc:
                notes.append(str(exc))
        runs = [r for r in runs if r.times_s.size >= 2]
        if runs:
            if not all(r.complete for r in runs):
                notes.append("a probe did not finish (killed): energy up to its last write")
            profile = combine([self._on_clock(r, row.started_at_s) for r in runs])
            return profile, meter_of(runs), notes
        started, ended = row.started_at_s, row.ended_at_s
        if row.power_w and started is not None and ended is not None and ended > started:
            profile = PowerProfile.constant(started, ended - started, row.power_w)
            meter = MeterInfo(
                name="model",
                method=f"declared {row.power_w:g} W over the run (no probe readings)",
                measured=False,
            )
            return profile, meter, [*notes, "no probe readings: the job's declared power"]
        notes.append("no probe readings and no declared power_w")
        return None, None, notes

    def _on_clock(self, run: ProbeRun, started_s: float | None) -> ProbeRun:
        """The run's reading times moved from the wall clock onto the service clock.

        Each time goes through ``clock.from_wall`` (the identity on the system clock, linear on
        an accelerated one); a clock that cannot map wall times (a test's manual clock) gets
        the readings at wall-clock pace from the job's recorded start.
        """
        wall = run.times_s
        mapped = np.array([self.clock.from_wall(from_epoch_s(t)).timestamp() for t in wall])
        if wall.size >= 2 and not (np.diff(mapped) > 0).all():
            base = started_s if started_s is not None else float(mapped[0])
            mapped = base + (wall - wall[0])
        return ProbeRun(mapped, run.energy_j, run.meter, run.exit_code, run.complete, run.pue)

    def _actuals(self, zone: str, lo: float, hi: float) -> IntensitySeries | None:
        source = self.sources.get(zone)
        get = getattr(source, "actuals", None)
        if get is None:
            return None
        try:
            series = get(from_epoch_s(math.floor(lo)), from_epoch_s(math.ceil(hi)))
        except (CarbonshiftError, OSError, ValueError) as exc:
            log.info("%s: no actuals (%s)", zone, exc)
            return None
        return series if isinstance(series, IntensitySeries) else None

    def _intensity(
        self, row: JobRow, zone: str, lo: float, hi: float, profile: PowerProfile
    ) -> tuple[IntensitySeries | None, bool]:
        """(series, provisional): actuals covering the run, else the planned-on forecast."""
        plans = self.store.plans(row.id)
        stored = (
            self.store.forecast(p.forecast_id)
            for p in plans
            if p.zone == zone and p.forecast_id is not None
        )
        forecasts = itertools.chain(stored, (self.store.latest_forecast(zone),))
        return choose_intensity(
            self._actuals(zone, lo, hi),
            (f.series for f in forecasts if f is not None),
            profile.start_s,
            profile.end_s,
        )
