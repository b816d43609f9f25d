"""Planning: jobs, windows, plans, policies and multi-job capacity planning.

Pure code: plain functions and frozen dataclasses over numpy arrays and
:class:`~carbonshift.signals.series.IntensitySeries`; no I/O, no clock, no database.

One job::

    job = Job(submit=t0, duration=timedelta(hours=2), slack=timedelta(hours=10))
    plan = DynamicPolicy().plan(job, now=t0, outlook=Outlook(forecasts={"DE": forecast}))

Many independent jobs at once: :func:`plan_many`. A batch sharing GPUs: :func:`solve_exact`,
:func:`solve_greedy`, :func:`heuristic_gap`. Static slots: :class:`CronSchedule`,
:func:`learn_static_slot`.
"""

from __future__ import annotations

from carbonshift.planning.batch import BatchPlan, MinTable, plan_many
from carbonshift.planning.capacity import CapacityProblem, Schedule, check_schedule
from carbonshift.planning.chunks import ChunkPlan, cheapest_chunks
from carbonshift.planning.cron import CronSchedule
from carbonshift.planning.errors import InfeasibleBatchError, InfeasibleJobError, LookaheadError
from carbonshift.planning.exact import solve_exact
from carbonshift.planning.gap import GapReport, heuristic_gap
from carbonshift.planning.greedy import solve_greedy
from carbonshift.planning.job import DEFAULT_POWER_W, Job
from carbonshift.planning.outlook import Outlook, ZoneTerms, known_before
from carbonshift.planning.plan import Fallback, FallbackLevel, Plan, Segment, build_plan
from carbonshift.planning.policies import (
    DynamicPolicy,
    ImmediatePolicy,
    OraclePolicy,
    Policy,
    StaticPolicy,
)
from carbonshift.planning.slot import StaticSlot, learn_static_slot
from carbonshift.planning.spatial import best_over_zones
from carbonshift.planning.window import Window, cheapest_window

__all__ = [
    "DEFAULT_POWER_W",
    "BatchPlan",
    "CapacityProblem",
    "ChunkPlan",
    "CronSchedule",
    "DynamicPolicy",
    "Fallback",
    "FallbackLevel",
    "GapReport",
    "ImmediatePolicy",
    "InfeasibleBatchError",
    "InfeasibleJobError",
    "Job",
    "LookaheadError",
    "MinTable",
    "OraclePolicy",
    "Outlook",
    "Plan",
    "Policy",
    "Schedule",
    "Segment",
    "StaticPolicy",
    "StaticSlot",
    "Window",
    "ZoneTerms",
    "best_over_zones",
    "build_plan",
    "cheapest_chunks",
    "cheapest_window",
    "check_schedule",
    "heuristic_gap",
    "known_before",
    "learn_static_slot",
    "plan_many",
    "solve_exact",
    "solve_greedy",
]
