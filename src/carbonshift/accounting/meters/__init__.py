"""Power meters behind one interface: NVML (NVIDIA GPUs), RAPL (CPUs), a declared model."""

from carbonshift.accounting.meters.base import (
    Clock,
    CombinedMeter,
    MeterInfo,
    PowerMeter,
    Reading,
)
from carbonshift.accounting.meters.model import DEFAULT_CPU_TDP_W, ModelMeter
from carbonshift.accounting.meters.nvml import NvmlMeter, assigned_gpus
from carbonshift.accounting.meters.process import MachineCpu, ProcessTree
from carbonshift.accounting.meters.rapl import (
    DEFAULT_RAPL_ROOT,
    RaplMeter,
    counter_delta_uj,
    find_zones,
)
from carbonshift.accounting.meters.select import MeterChoice, select_meter

__all__ = [
    "DEFAULT_CPU_TDP_W",
    "DEFAULT_RAPL_ROOT",
    "Clock",
    "CombinedMeter",
    "MachineCpu",
    "MeterChoice",
    "MeterInfo",
    "ModelMeter",
    "NvmlMeter",
    "PowerMeter",
    "ProcessTree",
    "RaplMeter",
    "Reading",
    "assigned_gpus",
    "counter_delta_uj",
    "find_zones",
    "select_meter",
]
