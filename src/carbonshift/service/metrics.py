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

from collections.abc import Callable, Iterator

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

    def observe_plan(
        self, zone: str, planned: float | None, immediate: float | None, fallback: str | None
    ) -> None:
        if planned is not None:
            self.plan_intensity.labels("planned").observe(planned)
        if immediate is not None:
            self.plan_intensity.labels("immediate").observe(immediate)
        if fallback is not None:
            self.fallbacks.labels(zone, fallback).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
