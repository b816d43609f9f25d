"""Export ledger records as a CodeCarbon-compatible ``emissions.csv``: one row per job (run).

Columns and units follow CodeCarbon 3.x's ``emissions.csv`` (a superset of 2.x's, in the same
order): ``duration`` in seconds, ``emissions`` in kg CO2eq, ``emissions_rate`` in kg/s,
``*_power`` in W (the run's mean), ``*_energy`` and ``energy_consumed`` in kWh,
``ram_total_size`` in GiB, ``water_consumed`` in litres. ``timestamp`` is the run's end in UTC.
The grid zone goes in ``region`` (CodeCarbon's country columns stay empty: a zone is not always
a country). Energy in steps without intensity counts in ``energy_consumed`` but adds no
emissions, as in the ledger.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from carbonshift.accounting.profile import J_PER_KWH
from carbonshift.accounting.records import LedgerRecord
from carbonshift.timeutil import from_epoch_s

__all__ = ["CODECARBON_COLUMNS", "codecarbon_csv", "codecarbon_rows", "write_codecarbon_csv"]

CODECARBON_COLUMNS = (
    "timestamp",
    "project_name",
    "run_id",
    "experiment_id",
    "duration",
    "emissions",
    "emissions_rate",
    "cpu_power",
    "gpu_power",
    "ram_power",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
    "water_consumed",
    "country_name",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "os",
    "python_version",
    "codecarbon_version",
    "cpu_count",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "longitude",
    "latitude",
    "ram_total_size",
    "tracking_mode",
    "cpu_utilization_percent",
    "gpu_utilization_percent",
    "ram_utilization_percent",
    "ram_used_gb",
    "on_cloud",
    "pue",
    "wue",
)


def _parts(recs: Sequence[LedgerRecord]) -> dict[str, float]:
    """kWh by part; records without a split count as the meter's main part."""
    out = {"cpu": 0.0, "gpu": 0.0, "ram": 0.0}
    for r in recs:
        split = {"cpu": r.cpu_energy_kwh, "gpu": r.gpu_energy_kwh, "ram": r.ram_energy_kwh}
        if all(v is None for v in split.values()):
            main = "gpu" if r.meter == "nvml" else "cpu"
            out[main] += r.energy_kwh
        else:
            for k, v in split.items():
                out[k] += v or 0.0
    return out


def codecarbon_rows(
    records: Sequence[LedgerRecord], *, project_name: str = "carbonshift"
) -> list[dict[str, Any]]:
    """One CodeCarbon row per job from its current ``actual`` records."""
    jobs: dict[str, list[LedgerRecord]] = defaultdict(list)
    for r in records:
        if r.scenario == "actual":
            jobs[r.job_id].append(r)
    rows = []
    for job_id, recs in jobs.items():
        start = min(r.interval_start_s for r in recs)
        end = max(r.interval_end_s for r in recs)
        duration = end - start
        emissions_kg = math.fsum(r.emissions_g for r in recs if r.emissions_g is not None) / 1e3
        energy = math.fsum(r.energy_kwh for r in recs)
        parts = _parts(recs)
        detail = recs[0].meter_detail
        host: dict[str, Any] = dict(detail.get("host") or {})
        attribution = str(detail.get("attribution", ""))
        shared = "share" in attribution or "processes" in attribution

        def power_w(kwh: float, duration: float = duration) -> float:
            return kwh * J_PER_KWH / duration if duration > 0 else 0.0

        rows.append(
            {
                "timestamp": from_epoch_s(end).strftime("%Y-%m-%dT%H:%M:%S"),
                "project_name": project_name,
                "run_id": job_id,
                "experiment_id": recs[0].user,
                "duration": duration,
                "emissions": emissions_kg,
                "emissions_rate": emissions_kg / duration if duration > 0 else 0.0,
                "cpu_power": power_w(parts["cpu"]),
                "gpu_power": power_w(parts["gpu"]),
                "ram_power": power_w(parts["ram"]),
                "cpu_energy": parts["cpu"],
                "gpu_energy": parts["gpu"],
                "ram_energy": parts["ram"],
                "energy_consumed": energy,
                "water_consumed": 0.0,
                "country_name": "",
                "country_iso_code": "",
                "region": "+".join(sorted({r.zone for r in recs})),
                "cloud_provider": "",
                "cloud_region": "",
                "os": host.get("os", ""),
                "python_version": host.get("python_version", ""),
                "codecarbon_version": "",
                "cpu_count": host.get("cpu_count", ""),
                "cpu_model": host.get("cpu_model", ""),
                "gpu_count": host.get("gpu_count", ""),
                "gpu_model": host.get("gpu_model", ""),
                "longitude": "",
                "latitude": "",
                "ram_total_size": host.get("ram_total_size_gb", ""),
                "tracking_mode": "process" if shared else "machine",
                "cpu_utilization_percent": "",
                "gpu_utilization_percent": "",
                "ram_utilization_percent": "",
                "ram_used_gb": "",
                "on_cloud": "N",
                "pue": float(detail.get("pue", 1.0)),
                "wue": 0.0,
            }
        )
    rows.sort(key=lambda row: (row["timestamp"], row["run_id"]))
    return rows


def codecarbon_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as CSV text with CodeCarbon's header."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CODECARBON_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_codecarbon_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(codecarbon_csv(rows), encoding="utf-8")
