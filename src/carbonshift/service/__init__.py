"""The scheduler service: job store, planning loop, executors and REST API in one process.

``carbonshift serve`` runs :class:`~carbonshift.service.daemon.Service`:

- :mod:`~carbonshift.service.store` (with :mod:`.schema`, :mod:`.records`): jobs, every state
  transition with its time and reason, the plan history, stored forecasts; SQLite (WAL) by
  default, PostgreSQL for teams, the same schema and migrations;
- :mod:`~carbonshift.service.lifecycle`: submitted → planned → dispatching → waiting →
  running (⇄ paused) → succeeded / failed / cancelled, illegal transitions refused;
- :mod:`~carbonshift.service.loop` (with :mod:`.planner`, :mod:`.forecasts`,
  :mod:`.follow`, :mod:`.dispatch`): refresh forecasts, plan jobs together under capacity
  with the DESIGN's fallbacks, hand them to executors idempotently, follow them;
- :mod:`~carbonshift.service.api` (with :mod:`.models`, :mod:`.auth`, :mod:`.metrics`): the
  REST API, bearer tokens beyond loopback, Prometheus metrics;
- :mod:`~carbonshift.service.config`, :mod:`~carbonshift.service.clock`: TOML configuration
  and the injectable clock; :mod:`~carbonshift.service.client`, :mod:`.runner`: the CLI's side.
"""

from carbonshift.service.clock import Clock, ManualClock, ScaledClock, SystemClock
from carbonshift.service.config import ExecutorConfig, ServiceConfig, ZoneConfig, load_config
from carbonshift.service.lifecycle import ALLOWED, State, check_transition
from carbonshift.service.store import JobStore

__all__ = [
    "ALLOWED",
    "Clock",
    "ExecutorConfig",
    "JobStore",
    "ManualClock",
    "ScaledClock",
    "ServiceConfig",
    "State",
    "SystemClock",
    "ZoneConfig",
    "check_transition",
    "load_config",
]
