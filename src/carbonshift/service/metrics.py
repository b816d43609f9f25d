"""Prometheus metrics of the service, on a private registry (served at ``/metrics``).

- ``carbonshift_jobs{state}``: jobs by state (read from the store at each scrape);
- ``carbonshift_plan_intensity_g_per_kwh{kind}``: expected mean intensity of each new plan
  (``planned``) and of starting it at once (``immediate``), as histograms;
- ``carbonshift_fallbacks_total{zone,level}``: plans made on a fallback (last good forecast,
  static slot, latest safe start, partial forecast);
- ``carbonshift_forecast_failures_total{zone}``: refreshes that gave no usable forecast;
- ``carbonshift_loop_duration_seconds``: one planning-loop pass;
- ``carbonshift_jobs_submitted_total``, ``carbonshift_dispatches_total{executor}``,
  ``carbonshift_jobs_finished_total{state}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from carbonshift.service.lifecycle import State

__all__ = ["CONTENT_TYPE", "ServiceMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_INTENSITY_BUCKETS = (25, 50, 75, 100, 150, 200, 250, 300, 400, 500, 600, 800, 1000)


class _JobsByState(Collector):
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("carbonshift_jobs", "Jobs by lifecycle state", labels=["state"])
        counts = self.counts()
        for state in State:
            family.add_metric([state.value], float(counts.get(state.value, 0)))
        yield family


class ServiceMetrics:
    """Every metric of one service instance."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_JobsByState(counts))
        self.plan_intensity = Histogram(
            "carbonshift_plan_intensity_g_per_kwh",
            "Expected mean intensity of new plans (planned) and of starting at once (immediate)",
            ["kind"],
            buckets=_INTENSITY_BUCKETS,
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "carbonshift_fallbacks_total",
            "Plans made on a fallback",
            ["zone", "level"],
            registry=self.registry,
        )
        self.forecast_failures = Counter(
            "carbonshift_forecast_failures_total",
            "Forecast refreshes that gave nothing usable",
            ["zone"],
            registry=self.registry,
        )
        self.loop_duration = Histogram(
            "carbonshift_loop_duration_seconds",
            "Duration of one planning-loop pass",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.submitted = Counter(
            "carbonshift_jobs_submitted", "Jobs accepted by the API", registry=self.registry
        )
        self.dispatches = Counter(
            "carbonshift_dispatches",
            "Jobs handed to an executor",
            ["executor"],
            registry=self.registry,
        )
        self.finished = Counter(
            "carbonshift_jobs_finished", "Jobs that ended", ["state"], registry=self.registry
        )
        self.energy = Counter(
            "carbonshift_job_energy_kwh",
            "Energy of accounted jobs (measured, or modelled where nothing could be measured)",
            ["zone"],
            registry=self.registry,
        )
        self.emissions = Counter(
            "carbonshift_job_emissions_g",
            "Emissions of accounted jobs at their first accounting (provisional on a forecast "
            "or final on actuals), by the intensity's meaning",
            ["zone", "signal"],
            registry=self.registry,
        )
        self.baseline = Counter(
            "carbonshift_job_baseline_emissions_g",
            "Emissions the accounted jobs would have had at a baseline's start (the same "
            "measured profile); saved = this minus carbonshift_job_compared_emissions_g",
            ["zone", "baseline"],
            registry=self.registry,
        )
        self.compared = Counter(
            "carbonshift_job_compared_emissions_g",
            "Actual emissions of the accounted jobs that have that baseline",
            ["zone", "baseline"],
            registry=self.registry,
        )

    def observe_plan(
        self, zone: str, planned: float | None, immediate: float | None, fallback: str | None
    ) -> None:
        if planned is not None:
            self.plan_intensity.labels("planned").observe(planned)
        if immediate is not None:
            self.plan_intensity.labels("immediate").observe(immediate)
        if fallback is not None:
            self.fallbacks.labels(zone, fallback).inc()

    def observe_account(self, zone: str, summary: Mapping[str, Any]) -> None:
        """Add one accounted job's figures (see :mod:`carbonshift.service.accountant`)."""
        energy = summary.get("energy_kwh")
        if energy:
            self.energy.labels(zone).inc(float(energy))
        if summary.get("emissions_g") is not None:
            self.emissions.labels(zone, str(summary.get("signal", ""))).inc(
                float(summary["emissions_g"])
            )
        for baseline in ("immediate", "static"):
            saving = summary.get(f"savings_vs_{baseline}") or {}
            if saving.get("baseline_emissions_g") is not None:
                self.baseline.labels(zone, baseline).inc(float(saving["baseline_emissions_g"]))
                self.compared.labels(zone, baseline).inc(float(saving["actual_emissions_g"]))

    def render(self) -> bytes:
        return generate_latest(self.registry)
