"""Interruptible jobs (``--interruptible``) in a replay: chunks, planned job by job.

The chunk planner (:func:`cheapest_chunks`, via :class:`DynamicPolicy` and
:class:`OraclePolicy`) is per job, so this path is slower than the contiguous one:

- ``oracle``: :class:`OraclePolicy` on the actual values at the submit time;
- ``dynamic``: :class:`DynamicPolicy` at the submit time on the forecast issued then
  (covering the job's whole span; no re-planning once chunks are chosen: a chunked plan's
  first chunk is fixed when it starts, and re-planning the rest is not replayed here).

``immediate`` and ``static`` never pause, so they use the contiguous path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import numpy as np

from carbonshift.forecast.base import Forecaster
from carbonshift.planning import DynamicPolicy, Job, OraclePolicy, Outlook, Plan
from carbonshift.signals.series import IntArray, IntensitySeries
from carbonshift.simulate.decisions import Segments
from carbonshift.simulate.workload import BoolArray, Workload
from carbonshift.timeutil import from_epoch_s

__all__ = ["DEFAULT_MIN_CHUNK_S", "plan_chunked"]

DEFAULT_MIN_CHUNK_S = 3600
ProgressFn = Callable[[int], None]


def _job(workload: Workload, j: int, zones: Sequence[str], min_chunk_s: int) -> Job:
    return Job(
        submit=from_epoch_s(int(workload.submit_s[j])),
        duration=timedelta(seconds=int(workload.duration_s[j])),
        deadline=from_epoch_s(int(workload.deadline_s[j])),
        power_w=float(workload.power_w[j]),
        gpus=int(workload.gpus[j]),
        zones=tuple(zones),
        interruptible=True,
        min_chunk=timedelta(seconds=min(min_chunk_s, int(workload.duration_s[j]))),
        job_id=str(workload.job_id[j]),
    )


def plan_chunked(
    policy: str,
    workload: Workload,
    zones: Sequence[str],
    histories: Sequence[IntensitySeries],
    forecaster: Forecaster | None,
    *,
    min_chunk_s: int = DEFAULT_MIN_CHUNK_S,
    progress: ProgressFn | None = None,
) -> tuple[IntArray, list[Segments | None], BoolArray]:
    """Zone index, segments and fallback flag per job for ``oracle`` or ``dynamic``."""
    n = len(workload)
    zone_index = np.zeros(n, dtype=np.int64)
    segments: list[Segments | None] = []
    fallback = np.zeros(n, dtype=bool)
    order = {z: i for i, z in enumerate(zones)}
    actuals = dict(zip(zones, histories, strict=True))
    for j in range(n):
        job = _job(workload, j, zones, min_chunk_s)
        now = job.submit_s
        plan: Plan
        if policy == "oracle":
            plan = OraclePolicy(actuals).plan(job, now)
        else:
            assert forecaster is not None
            horizon = job.deadline_s - now
            forecasts = {z: forecaster.forecast(h, now, horizon) for z, h in actuals.items()}
            plan = DynamicPolicy().plan(job, now, Outlook(forecasts=forecasts))
        zone_index[j] = order[plan.zone]
        segments.append(tuple((s.start_s, s.end_s) for s in plan.segments))
        fallback[j] = plan.fallback is not None and plan.fallback.level != "partial_forecast"
        if progress is not None:
            progress(1)
    return zone_index, segments, fallback
