"""Replaying job traces through the planner on history, and comparison reports.

One module per noun: :mod:`~carbonshift.simulate.workload` (jobs as arrays, from a regular
arrival pattern or a job/GPU trace file), :mod:`~carbonshift.simulate.office_hours` (office-hours
ad-hoc jobs due the next working morning), :mod:`~carbonshift.simulate.policies` (immediate,
static, oracle, vectorised), :mod:`~carbonshift.simulate.dynamic` (forecast-driven re-planning,
vectorised), :mod:`~carbonshift.simulate.chunks` (interruptible jobs),
:mod:`~carbonshift.simulate.capacity` (shared GPUs), :mod:`~carbonshift.simulate.decisions`
(runs accounted on actuals), :mod:`~carbonshift.simulate.summary` (result rows),
:mod:`~carbonshift.simulate.comparison` (the orchestration), :mod:`~carbonshift.simulate.render`
and :mod:`~carbonshift.simulate.html` (reports).
"""

from carbonshift.simulate.comparison import (
    POLICIES,
    CompareSpec,
    Comparison,
    load_zones,
    run_comparison,
)
from carbonshift.simulate.decisions import Decisions
from carbonshift.simulate.office_hours import OfficeHoursSpec, office_hours_workload
from carbonshift.simulate.policies import StaticSpec
from carbonshift.simulate.summary import ResultRow
from carbonshift.simulate.workload import Workload, read_jobs_file, regular_workload

__all__ = [
    "POLICIES",
    "CompareSpec",
    "Comparison",
    "Decisions",
    "OfficeHoursSpec",
    "ResultRow",
    "StaticSpec",
    "Workload",
    "load_zones",
    "office_hours_workload",
    "read_jobs_file",
    "regular_workload",
    "run_comparison",
]
