"""NVIDIA GPU energy through NVML (the ``nvidia-ml-py`` package, imported as ``pynvml`` only
when this meter is used; install it with ``pip install 'carbonshift[nvidia]'``).

Only the GPUs assigned to the job are read: an explicit list (indices or UUIDs, prefixes
allowed as in ``CUDA_VISIBLE_DEVICES``), else ``CUDA_VISIBLE_DEVICES``, else every GPU. Each
GPU's energy comes from its total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ,
Volta and later) where supported; otherwise from ``nvmlDeviceGetPowerUsage`` (mW) samples
joined by the trapezoid rule between reads. Integer indices are NVML's (PCI bus) order; CUDA
uses the same order only with ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, so UUIDs are the safe choice
on machines with different GPU models.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from carbonshift.accounting.meters.base import MeterInfo, PowerMeter, Reading

__all__ = ["NvmlMeter", "assigned_gpus"]


def assigned_gpus(explicit: Sequence[int | str] | None = None) -> list[str] | None:
    """The GPUs a job may use, as strings (indices or UUID prefixes); ``None`` means all.

    An explicit list wins; else ``CUDA_VISIBLE_DEVICES`` (empty, ``-1`` or ``NoDevFiles`` means
    none; CUDA stops at the first invalid entry, so do we).
    """
    if explicit is not None:
        return [str(g).strip() for g in explicit]
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is None:
        return None
    out = []
    for item in env.split(","):
        item = item.strip()
        if not item or item in ("-1", "NoDevFiles"):
            break
        if item.startswith("-"):
            break
        out.append(item)
    return out


@dataclass(slots=True)
class _Gpu:
    handle: Any
    label: str
    counter: bool
    first_mj: float = 0.0
    energy_j: float = 0.0
    last_w: float | None = None
    last_t: float = 0.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class NvmlMeter(PowerMeter):
    """Energy of the job's GPUs, from NVML counters or integrated power samples."""

    name = "nvml"

    def __init__(
        self,
        gpus: Sequence[int | str] | None = None,
        *,
        nvml: Any = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(clock=clock)
        self._nvml = nvml
        self.requested = assigned_gpus(gpus)
        self.gpus: list[_Gpu] = []
        self._initialised = False

    # ------------------------------------------------------------------ NVML access
    def _module(self) -> Any:
        if self._nvml is None:
            self._nvml = importlib.import_module("pynvml")
        return self._nvml

    def _init(self) -> Any:
        nvml = self._module()
        if not self._initialised:
            nvml.nvmlInit()
            self._initialised = True
        return nvml

    def _shutdown(self) -> None:
        if self._initialised:
            try:
                self._module().nvmlShutdown()
            finally:
                self._initialised = False

    def _handles(self) -> list[tuple[Any, str]]:
        nvml = self._init()
        count = int(nvml.nvmlDeviceGetCount())
        all_handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        if self.requested is None:
            chosen = list(range(count))
        else:
            uuids = [_text(nvml.nvmlDeviceGetUUID(h)) for h in all_handles]
            chosen = []
            for item in self.requested:
                if item.isdigit():
                    index = int(item)
                    if index >= count:
                        raise ValueError(f"GPU {index} is assigned but NVML sees {count} GPU(s)")
                    chosen.append(index)
                    continue
                if item.startswith("MIG-"):
                    raise ValueError(
                        f"{item}: MIG instances have no energy counter of their own; "
                        "declare a power model instead"
                    )
                match = [i for i, u in enumerate(uuids) if u.startswith(item)]
                if len(match) != 1:
                    raise ValueError(f"GPU {item!r} matches {len(match)} devices' UUIDs")
                chosen.append(match[0])
        out = []
        for i in dict.fromkeys(chosen):
            h = all_handles[i]
            out.append((h, f"GPU {i} {_text(nvml.nvmlDeviceGetName(h))}"))
        if self.requested and any(r.isdigit() for r in self.requested) and count > 1:
            note = (
                "GPU indices read in NVML (PCI bus) order; set CUDA_DEVICE_ORDER=PCI_BUS_ID "
                "or assign GPUs by UUID to be sure they match CUDA's"
            )
            if os.environ.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID" and note not in self.notes:
                self.notes.append(note)
        return out

    def unavailable_reason(self) -> str | None:
        if self.requested == []:
            return "nvml: CUDA_VISIBLE_DEVICES assigns no GPU to this job"
        try:
            self._module()
        except ImportError:
            return "nvml: nvidia-ml-py is not installed (pip install 'carbonshift[nvidia]')"
        try:
            handles = self._handles()
        except Exception as exc:  # NVMLError has no stable import path; report any failure
            self._shutdown()
            return f"nvml: {type(exc).__name__}: {exc}"
        self._shutdown()
        if not handles:
            return "nvml: no NVIDIA GPU found"
        return None

    # ------------------------------------------------------------------ meter protocol
    def _power_w(self, gpu: _Gpu) -> float | None:
        try:
            return float(self._module().nvmlDeviceGetPowerUsage(gpu.handle)) / 1000.0
        except Exception:
            return None

    def _counter_mj(self, handle: Any) -> float | None:
        try:
            return float(self._module().nvmlDeviceGetTotalEnergyConsumption(handle))
        except Exception:
            return None

    def _start(self) -> Reading:
        now = self.clock()
        self.gpus = []
        for handle, label in self._handles():
            mj = self._counter_mj(handle)
            gpu = _Gpu(handle, label, counter=mj is not None, first_mj=mj or 0.0, last_t=now)
            gpu.last_w = self._power_w(gpu)
            if not gpu.counter and gpu.last_w is None:
                raise RuntimeError(f"nvml: {label} reports neither energy nor power")
            self.gpus.append(gpu)
        return Reading(now, 0.0, self._total_power(), {"gpu": 0.0})

    def _total_power(self) -> float | None:
        powers = [g.last_w for g in self.gpus]
        return None if any(p is None for p in powers) else sum(p for p in powers if p is not None)

    def _read(self) -> Reading:
        now = self.clock()
        for gpu in self.gpus:
            power = self._power_w(gpu)
            if gpu.counter:
                mj = self._counter_mj(gpu.handle)
                if mj is not None:
                    gpu.energy_j = max(gpu.energy_j, (mj - gpu.first_mj) / 1000.0)
            elif power is not None and gpu.last_w is not None:
                # a failed read leaves last_w/last_t: the next good one spans the whole interval
                gpu.energy_j += (gpu.last_w + power) / 2.0 * (now - gpu.last_t)
            if power is not None:
                gpu.last_w, gpu.last_t = power, now
        total = sum(g.energy_j for g in self.gpus)
        return Reading(now, total, self._total_power(), {"gpu": total})

    def _close(self) -> None:
        self._shutdown()

    def info(self) -> MeterInfo:
        if self.gpus:
            counters = sum(g.counter for g in self.gpus)
            if counters == len(self.gpus):
                method = "NVML total-energy counters"
            elif counters == 0:
                method = "NVML power samples, trapezoid between reads"
            else:
                method = f"NVML energy counters ({counters} GPUs) and power samples (others)"
        else:
            method = "NVML"
        return MeterInfo(
            name="nvml",
            measured=True,
            method=method,
            devices=tuple(g.label for g in self.gpus),
            attribution="whole GPU(s) assigned to the job",
            parts=("gpu",),
            notes=tuple(self.notes),
        )
