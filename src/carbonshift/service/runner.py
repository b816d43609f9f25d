"""``carbonshift run`` without a server: plan one job, wait for its window, run it here.

The plan is :class:`~carbonshift.planning.DynamicPolicy`'s on the zones' current forecasts,
with the DESIGN's fallbacks (static slot, latest safe start) when none is usable. The command
runs in its own process group with its output streamed to ours; an interruptible job is
stopped (SIGSTOP) between its planned chunks and continued (SIGCONT) at the next one. Energy is
measured with :func:`carbonshift.accounting.track` (the best meter present) and emissions are
reckoned on the forecast the plan used.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from carbonshift.errors import CarbonshiftError
from carbonshift.planning import CronSchedule, DynamicPolicy, Job, Outlook, Plan
from carbonshift.service.forecasts import ForecastSource
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import from_epoch_s

if TYPE_CHECKING:
    from carbonshift.accounting import Ledger

__all__ = ["RunOutcome", "execute", "plan_run"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int
    energy_kwh: float | None
    emissions_g: float | None
    meter: str
    status: str = "unmeasured"
    """``final`` (on actuals), ``provisional`` (on the forecast) or ``unmeasured``."""
    summary: Mapping[str, Any] | None = None
    """Energy, emissions and savings as :func:`~carbonshift.service.accountant.summarize`."""


def plan_run(
    job: Job,
    now: datetime,
    sources: Mapping[str, ForecastSource | None],
    *,
    static: CronSchedule | None,
    horizon_s: int,
    say: Say,
) -> tuple[Plan, dict[str, IntensitySeries]]:
    """The plan for ``job`` at ``now`` on the zones' fresh forecasts (what failed is said)."""
    forecasts: dict[str, IntensitySeries] = {}
    for zone, source in sources.items():
        if source is None:
            continue
        try:
            forecasts[zone] = source.fetch(now, horizon_s)
        except (CarbonshiftError, OSError, ValueError) as exc:
            say(f"note: {zone}: no forecast ({exc})")
    plan = DynamicPolicy().plan(job, now, Outlook(forecasts=forecasts, static=static))
    return plan, forecasts


def _wait_until(when_s: float, sleep: Callable[[float], None]) -> None:
    while True:
        left = when_s - time.time()
        if left <= 0:
            return
        sleep(min(left, 30.0))


def _signal(proc: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


def _run(argv: Sequence[str], plan: Plan, sleep: Callable[[float], None], say: Say) -> int:
    proc = subprocess.Popen(list(argv), start_new_session=True)
    try:
        segments = plan.segments
        for k, seg in enumerate(segments[:-1]):
            while proc.poll() is None and time.time() < seg.end_s:
                sleep(min(0.2, max(0.0, seg.end_s - time.time())))
            if proc.poll() is not None:
                break
            _signal(proc, signal.SIGSTOP)
            say(f"paused until chunk {k + 2} of {len(segments)}")
            _wait_until(segments[k + 1].start_s, sleep)
            _signal(proc, signal.SIGCONT)
        code = proc.wait()
    except KeyboardInterrupt:
        _signal(proc, signal.SIGCONT)
        _signal(proc, signal.SIGTERM)
        code = proc.wait()
    return code if code >= 0 else 128 - code


def execute(
    argv: Sequence[str],
    plan: Plan,
    *,
    series: IntensitySeries | None,
    job: Job | None = None,
    static: CronSchedule | None = None,
    actuals: Callable[[datetime, datetime], IntensitySeries | None] | None = None,
    power_w: float | None = None,
    measure: bool = True,
    ledger: Ledger | None = None,
    sleep: Callable[[float], None] = time.sleep,
    say: Say = print,
) -> RunOutcome:
    """Wait for ``plan``'s start (wall clock), run ``argv``, measure it; the exit code.

    Emissions are reckoned on ``actuals`` when they cover the run (final), else on the
    forecast ``series`` the plan used (provisional); with ``job`` given, the same measured
    profile is also placed at the immediate and static starts (savings) and, on actuals, at
    the oracle's. Records go to ``ledger`` when one is given.
    """
    _wait_until(plan.start_s, sleep)
    say(f"starting at {datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} in {plan.zone}")
    if not measure:
        return RunOutcome(_run(argv, plan, sleep, say), None, None, "none")
    from carbonshift.accounting import Ledger, track
    from carbonshift.service.accountant import account_run, choose_intensity

    options: dict[str, Any] = {}
    if power_w is not None:
        options["power_w"] = power_w
    tracker = track(plan.zone or None, interval_s=1.0, **options)
    with tracker:
        code = _run(argv, plan, sleep, say)
    info = tracker.meter
    meter = info.describe() if info is not None else "?"
    profile = tracker.profile
    if profile is None or info is None or job is None:
        return RunOutcome(code, tracker.energy_kwh, None, meter)
    truth = None
    if actuals is not None:
        try:
            truth = actuals(job.submit, from_epoch_s(math.ceil(profile.end_s)))
        except (CarbonshiftError, OSError, ValueError) as exc:
            say(f"note: no actual intensity ({exc})")
    forecasts = [series] if series is not None else []
    chosen, provisional = choose_intensity(truth, forecasts, profile.start_s, profile.end_s)
    if chosen is None:
        why = {
            "energy_kwh": tracker.energy_kwh,
            "meter_method": info.method,
            "measured": info.measured,
            "reason": f"no intensity for {plan.zone} over the run",
        }
        return RunOutcome(code, tracker.energy_kwh, None, meter, "unmeasured", why)
    book = ledger or Ledger("sqlite://")
    key = job.job_id or f"run-{uuid.uuid4().hex[:12]}"
    summary = account_run(
        book, key, profile, info, chosen, job, static=static, provisional=provisional
    )
    status = "provisional" if provisional else "final"
    return RunOutcome(code, tracker.energy_kwh, summary.get("emissions_g"), meter, status, summary)
