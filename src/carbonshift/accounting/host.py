"""What a run's machine was (OS, Python, CPU, memory, GPUs), recorded with its ledger records so
that exports such as CodeCarbon's ``emissions.csv`` can describe it later."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import psutil

from carbonshift.accounting.meters.base import MeterInfo

__all__ = ["cpu_model", "host_info"]


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo``), else what ``platform`` says."""
    try:
        for line in (
            Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
        ):
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info(meter: MeterInfo | None = None) -> dict[str, Any]:
    """A JSON-ready description of this machine; GPUs are those the meter read."""
    gpus = [d for d in (meter.devices if meter else ()) if d.startswith("GPU ")]
    models = sorted({g.split(" ", 2)[2] if g.count(" ") >= 2 else g for g in gpus})
    return {
        "os": platform.platform(),
        "python_version": platform.python_version(),
        "cpu_count": psutil.cpu_count() or os.cpu_count() or 0,
        "cpu_model": cpu_model(),
        "gpu_count": len(gpus),
        "gpu_model": (f"{len(gpus)} x " + ", ".join(models)) if gpus else "",
        "ram_total_size_gb": psutil.virtual_memory().total / 1024**3,
    }
