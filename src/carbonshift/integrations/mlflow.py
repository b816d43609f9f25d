"""Log what carbonshift measured into MLflow, next to a run's model metrics.

Optional extra: ``pip install 'carbonshift[mlflow]'`` (``mlflow-skinny`` is enough).

- :func:`log_tracker`: a finished :func:`carbonshift.track` block (energy, emissions, meter).
- :func:`log_account`: a service job's account, the ``summary`` of
  ``GET /v1/jobs/{id}/account`` (energy, emissions, savings against starting at once and
  against the static slot, room left to perfect foresight).

Both log to ``run_id``, else to the active run (``mlflow.start_run()``). Metrics carry their
units in their names; tags say how the figures were made, so that a number in MLflow can be
traced back to its meter and its intensity signal:

==================================  ============================================================
metric                              meaning
==================================  ============================================================
``carbonshift.energy_kwh``          energy of the run (PUE included)
``carbonshift.emissions_g``         g CO2eq on the labelled intensity (absent without one)
``carbonshift.duration_s``          tracked wall time (``log_tracker``)
``carbonshift.unattributed_energy_kwh``  energy in intensity gaps (not silently filled)
``carbonshift.saved_vs_immediate_g`` / ``_pct``  ``log_account``: vs starting at submission
``carbonshift.saved_vs_static_g`` / ``_pct``     ``log_account``: vs the static slot
``carbonshift.room_left_to_oracle_g`` / ``_pct``  ``log_account``: left to perfect foresight
==================================  ============================================================

Tags: ``carbonshift.zone``, ``carbonshift.meter``, ``carbonshift.meter_method``,
``carbonshift.measured`` (``true`` for a meter, ``false`` for a declared model),
``carbonshift.intensity`` (the signal's labels), ``carbonshift.status`` (``provisional`` on a
forecast, ``final`` on actuals) and ``carbonshift.job_id``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from carbonshift.errors import UsageError

if TYPE_CHECKING:
    from carbonshift.accounting.tracker import Tracker

__all__ = ["PREFIX", "log_account", "log_tracker"]

PREFIX = "carbonshift."


def _mlflow() -> Any:
    try:
        return importlib.import_module("mlflow")
    except ImportError:
        raise UsageError(
            "MLflow is not installed", hint="pip install 'carbonshift[mlflow]'"
        ) from None


def _run_id(mlflow: Any, run_id: str | None) -> str:
    if run_id is not None:
        return run_id
    active = mlflow.active_run()
    if active is None:
        raise UsageError(
            "run_id: no MLflow run is active",
            hint="log inside `with mlflow.start_run():` or pass run_id=",
        )
    return str(active.info.run_id)


def _log(
    run_id: str | None, metrics: Mapping[str, float | None], tags: Mapping[str, object]
) -> str:
    mlflow = _mlflow()
    rid = _run_id(mlflow, run_id)
    client = mlflow.MlflowClient()
    for name, value in metrics.items():
        if value is not None and math.isfinite(value):
            client.log_metric(rid, PREFIX + name, float(value))
    for name, tag in tags.items():
        if tag is not None and tag != "":
            client.set_tag(rid, PREFIX + name, str(tag).lower() if isinstance(tag, bool) else tag)
    return rid


def log_tracker(tracker: Tracker, *, run_id: str | None = None) -> str:
    """Log a finished ``track()`` block to ``run_id`` (or the active run); the run id."""
    info = tracker.meter
    if info is None:
        raise UsageError(
            "tracker: it has not run yet", hint="log after the `with carbonshift.track()` block"
        )
    account = tracker.account
    metrics = {
        "energy_kwh": tracker.energy_kwh,
        "emissions_g": tracker.emissions_g,
        "duration_s": tracker.duration_s,
        "unattributed_energy_kwh": tracker.unattributed_energy_kwh,
    }
    tags = {
        "zone": tracker.zone or "",
        "meter": info.name,
        "meter_method": info.method,
        "measured": info.measured,
        "intensity": account.labels.describe() if account is not None else "",
        "status": account.status if account is not None else "",
        "job_id": tracker.job_id,
    }
    return _log(run_id, metrics, tags)


def _saving(summary: Mapping[str, Any], key: str, name: str) -> dict[str, float | None]:
    entry = summary.get(key) or {}
    kind = "room_left" if key == "room_left_to_oracle" else "saved"
    return {f"{name}_g": entry.get(f"{kind}_g"), f"{name}_pct": entry.get(f"{kind}_pct")}


def log_account(
    summary: Mapping[str, Any],
    *,
    run_id: str | None = None,
    status: str | None = None,
    job_id: int | str | None = None,
) -> str:
    """Log a service job's account (its ``summary``; ``status`` final/provisional)."""
    if summary.get("energy_kwh") is None:
        raise UsageError(
            "summary: no energy in it (the job is not accounted yet?)",
            hint="take the summary of GET /v1/jobs/{id}/account once its status is not pending",
        )
    metrics: dict[str, float | None] = {
        "energy_kwh": summary.get("energy_kwh"),
        "emissions_g": summary.get("emissions_g"),
        "unattributed_energy_kwh": summary.get("unattributed_energy_kwh"),
        **_saving(summary, "savings_vs_immediate", "saved_vs_immediate"),
        **_saving(summary, "savings_vs_static", "saved_vs_static"),
        **_saving(summary, "room_left_to_oracle", "room_left_to_oracle"),
    }
    tags = {
        "meter": summary.get("meter", ""),
        "meter_method": summary.get("meter_method", ""),
        "measured": summary.get("measured"),
        "intensity": summary.get("intensity", ""),
        "status": status or summary.get("status", ""),
        "job_id": "" if job_id is None else job_id,
    }
    return _log(run_id, metrics, tags)
