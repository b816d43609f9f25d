"""Office-hours ad-hoc jobs with a "done by the next working morning" deadline.

The workload of Wiesner et al., "Let's Wait Awhile" (Middleware'21), scenario II (ML training
jobs issued by people at work), generated exactly as the authors' ``simulate.py``
(``generate_batch_jobs`` and ``AdHocStrategy._forecast_duration`` with ``"next_workday"``,
``dos-group/lets-wait-awhile``) so that one seed gives the same jobs:

- **Days.** ``n`` jobs are spread over the working days (Monday to Friday; public holidays
  are *not* excluded) of ``[from_day, to_day]`` with ``rng.multinomial(n, uniform)``.
- **Issue times.** On each day, each job draws a time uniformly from the ``step`` grid of
  ``[workday_start, workday_end)`` (09:00, 09:30, ..., 16:30); the day's times are sorted.
- **Durations.** Drawn afterwards for all jobs at once, uniformly from the ``step`` grid of
  ``[min_duration, max_duration)`` (4 h, 4.5 h, ..., 89.5 h).
- **Clock.** The authors' "09:00" is on the clock of their data's time index, which is UTC:
  ``tz`` defaults to ``"UTC"`` for that reason; any IANA zone may be given instead.
- **Deadline** (:func:`next_workday_deadline`): the original finish ``f = issue + duration``
  moved to 09:00 of the next working morning; ``f`` itself when it falls inside working
  hours. The authors' rule is kept as written (``rule="paper"``): a finish on a Saturday
  goes to Monday 09:00, a finish on Sunday or after 17:00 goes to 09:00 the next day, one
  before 09:00 to 09:00 the same day. So a job finishing on a **Friday evening** must be done
  by **Saturday** 09:00 (not Monday): that is what their code does. ``rule="strict"`` skips
  weekends (Friday evening and Saturday to Monday 09:00).

Random draws use ``numpy.random.default_rng(seed)`` in the authors' order (multinomial, one
``choice`` per day, then durations), so ``seed=0`` reproduces their job set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from carbonshift.errors import UsageError
from carbonshift.simulate.workload import DEFAULT_GPU_POWER_W, Workload

__all__ = ["OfficeHoursSpec", "next_workday_deadline", "office_hours_workload"]

RULES = ("paper", "strict")


@dataclass(frozen=True)
class OfficeHoursSpec:
    """The workload's parameters; the defaults are the paper's (3387 jobs in 2020)."""

    n: int = 3387
    from_day: date = date(2020, 1, 1)
    to_day: date = date(2020, 12, 31)
    workday_start_min: int = 9 * 60
    workday_end_min: int = 17 * 60
    min_duration_min: int = 4 * 60
    max_duration_min: int = 90 * 60
    step_min: int = 30
    tz: str = "UTC"
    rule: str = "paper"
    power_w: float = DEFAULT_GPU_POWER_W

    def __post_init__(self) -> None:
        if self.n <= 0:
            raise UsageError("office hours: n must be positive", hint="e.g. 3387")
        if self.rule not in RULES:
            raise UsageError(f"office hours: unknown deadline rule {self.rule!r}", hint="paper")
        if not 0 <= self.workday_start_min < self.workday_end_min <= 24 * 60:
            raise UsageError("office hours: the working day must lie within a day")
        if not 0 < self.min_duration_min < self.max_duration_min:
            raise UsageError("office hours: need 0 < min duration < max duration")
        if self.step_min <= 0 or self.to_day < self.from_day:
            raise UsageError("office hours: need a positive step and from_day <= to_day")


def _nine(t: datetime) -> datetime:
    return t.replace(hour=9, minute=0, second=0, microsecond=0)


def next_workday_deadline(finish: datetime, rule: str = "paper") -> datetime:
    """When a job whose original finish is ``finish`` (aware, local clock) must be done.

    ``paper``: the authors' rule as written (see the module notes): Saturday → Monday 09:00;
    Sunday or after 17:00 → 09:00 the next day (Friday evening → Saturday 09:00); before
    09:00 → 09:00 the same day; otherwise ``finish``. ``strict``: the same, but a deadline
    never falls on a weekend (it moves on to Monday 09:00).
    """
    weekday = finish.weekday()
    hours = finish.hour + finish.minute / 60 + finish.second / 3600
    if weekday == 5:
        out = _nine(finish) + timedelta(days=2)
    elif weekday == 6 or hours > 17:
        out = _nine(finish) + timedelta(days=1)
    elif hours < 9:
        out = _nine(finish)
    else:
        out = finish
    if rule == "strict":
        while out.weekday() >= 5:
            out = _nine(out) + timedelta(days=1)
    elif rule != "paper":
        raise UsageError(f"deadline rule: unknown {rule!r}", hint="paper or strict")
    return out


def office_hours_workload(spec: OfficeHoursSpec, seed: int = 0) -> Workload:
    """The jobs of ``spec`` drawn with ``seed`` (see the module notes), sorted by issue time."""
    rng = np.random.default_rng(seed)
    tz = ZoneInfo(spec.tz)
    step = spec.step_min
    durations_min = np.arange(spec.min_duration_min, spec.max_duration_min, step)
    start_mins = np.arange(spec.workday_start_min, spec.workday_end_min, step)
    days = [
        spec.from_day + timedelta(days=k) for k in range((spec.to_day - spec.from_day).days + 1)
    ]
    usable = [d for d in days if d.weekday() <= 4]
    if not usable:
        raise UsageError("office hours: no working day in the period")
    drawn = rng.multinomial(spec.n, [1 / len(usable)] * len(usable))
    per_day = dict(zip(usable, drawn.tolist(), strict=True))
    submit: list[int] = []
    for day in days:  # every day, weekends with no job, in the authors' order of draws
        count = per_day.get(day, 0)
        minutes = np.sort(rng.choice(start_mins, size=count))
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        for m in minutes.tolist():
            # wall-clock time on that day (zoneinfo resolves DST), then to epoch seconds
            local = midnight.replace(hour=m // 60, minute=m % 60)
            submit.append(int(local.timestamp()))
    dur_s = rng.choice(durations_min, size=spec.n).astype(np.int64) * 60
    submit_s = np.array(submit, dtype=np.int64)
    deadline = np.empty(spec.n, dtype=np.int64)
    for j in range(spec.n):
        finish = datetime.fromtimestamp(int(submit_s[j] + dur_s[j]), tz)
        deadline[j] = int(next_workday_deadline(finish, spec.rule).timestamp())
    n = spec.n
    return Workload(
        job_id=np.array([str(i) for i in range(n)], dtype=np.str_),
        submit_s=submit_s,
        duration_s=dur_s,
        deadline_s=deadline,
        power_w=np.full(n, float(spec.power_w)),
        gpus=np.ones(n, dtype=np.int64),
        interruptible=np.zeros(n, dtype=bool),
        zone=np.full(n, "", dtype=np.str_),
    )
