"""Choosing the best meter present: NVML for the job's GPUs, RAPL for CPUs, else a declared
model. The reasons the better meters were passed over are kept in the chosen meter's notes, so
every result says both what measured it and why nothing better did."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from carbonshift.accounting.meters.base import CombinedMeter, PowerMeter
from carbonshift.accounting.meters.model import DEFAULT_CPU_TDP_W, ModelMeter
from carbonshift.accounting.meters.nvml import NvmlMeter
from carbonshift.accounting.meters.process import MachineCpu, ProcessTree
from carbonshift.accounting.meters.rapl import RaplMeter
from carbonshift.errors import UsageError

__all__ = ["MeterChoice", "select_meter"]

MeterChoice = Literal["auto", "nvml", "rapl", "model"]


def _model(
    power_w: float | None,
    profile: tuple[Sequence[float], Sequence[float]] | None,
    tdp_w: float | None,
    pids: Sequence[int] | None,
) -> ModelMeter:
    if power_w is not None:
        return ModelMeter.constant(power_w)
    if profile is not None:
        return ModelMeter.profile(*profile)
    if tdp_w is not None:
        return ModelMeter.tdp(tdp_w, pids=pids)
    return ModelMeter.tdp(DEFAULT_CPU_TDP_W, pids=pids, declared=False)


def select_meter(
    choice: MeterChoice | str = "auto",
    *,
    gpus: Sequence[int | str] | None = None,
    rapl_root: Path | str | None = None,
    pids: Sequence[int] | None = None,
    exclusive: bool = False,
    power_w: float | None = None,
    power_profile: tuple[Sequence[float], Sequence[float]] | None = None,
    tdp_w: float | None = None,
    nvml_module: Any = None,
) -> PowerMeter:
    """The meter to use for a job whose processes are ``pids`` (default: this process).

    ``auto`` takes NVML for the assigned GPUs and RAPL for the CPUs, summed when both are
    present, else the declared model (``power_w``, ``power_profile`` as (durations, powers), or
    ``tdp_w`` × utilisation; with nothing declared, a default TDP, said so in the result).
    RAPL energy is the job's CPU-time share of the machine unless ``exclusive`` says the job
    has the machine to itself.
    """
    if choice not in ("auto", "nvml", "rapl", "model"):
        raise UsageError(f"meter: {choice!r} is not known", hint="use auto, nvml, rapl or model")
    if choice == "model":
        meter: PowerMeter = _model(power_w, power_profile, tdp_w, pids)
        meter.notes.append("model meter chosen by the caller")
        return meter

    nvml = NvmlMeter(gpus, nvml=nvml_module)
    if exclusive:
        rapl = RaplMeter(rapl_root)
    else:
        rapl = RaplMeter(rapl_root, job_cpu=ProcessTree(pids), machine_cpu=MachineCpu())
    reasons: dict[str, str | None] = {}
    for name, candidate in (("nvml", nvml), ("rapl", rapl)):
        if choice in ("auto", name):
            reasons[name] = candidate.unavailable_reason()
    if choice != "auto":
        reason = reasons[choice]
        if reason:
            raise UsageError(f"meter {choice} cannot measure here: {reason}", hint="use auto")
        return nvml if choice == "nvml" else rapl

    found: list[PowerMeter] = [m for n, m in (("nvml", nvml), ("rapl", rapl)) if not reasons[n]]
    skipped = [r for r in reasons.values() if r]
    if not found:
        meter = _model(power_w, power_profile, tdp_w, pids)
        meter.notes.extend(skipped)
        meter.notes.append("nothing could be measured: energy is modelled")
        return meter
    chosen = found[0] if len(found) == 1 else CombinedMeter(found)
    chosen.notes.extend(skipped)
    if "nvml" not in [m.name for m in found]:
        return chosen
    if "rapl" not in [m.name for m in found]:
        chosen.notes.append("CPU energy not measured (no readable RAPL); GPU energy only")
    return chosen
