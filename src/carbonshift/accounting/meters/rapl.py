"""CPU (and DRAM) energy from Intel/AMD RAPL counters under Linux powercap sysfs.

Layout read (``root`` defaults to ``/sys/class/powercap``; tests point it at a folder they
write)::

    intel-rapl:0/name                  package-0
    intel-rapl:0/energy_uj             cumulative microjoules, wraps at max_energy_range_uj
    intel-rapl:0/max_energy_range_uj
    intel-rapl:0/intel-rapl:0:2/name   dram        (a subzone; core/uncore are inside package)

Package zones count as ``cpu`` and ``dram`` subzones as ``ram``; ``core``/``uncore`` (already
inside the package) and ``psys`` (the whole platform) are left out so nothing counts twice.
A counter that went down since the last read wrapped once: the delta is
``max_energy_range_uj - previous + current``. Read at least once per wrap period (minutes at
full power; the sampler reads every second).

On a shared machine the package energy is attributed to the job by CPU-time share: in each
interval between readings, the job's share is its process tree's CPU seconds over the whole
machine's busy CPU seconds (clipped to [0, 1]). The result says so and gives the mean share.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from carbonshift.accounting.meters.base import MeterInfo, PowerMeter, Reading
from carbonshift.accounting.meters.process import CpuClock

__all__ = ["DEFAULT_RAPL_ROOT", "RaplMeter", "RaplZone", "counter_delta_uj", "find_zones"]

DEFAULT_RAPL_ROOT = Path("/sys/class/powercap")


def counter_delta_uj(previous: int, current: int, max_range_uj: int) -> int:
    """Microjoules between two readings of a counter that wraps at ``max_range_uj``."""
    if current >= previous:
        return current - previous
    return max_range_uj - previous + current


@dataclass(frozen=True, slots=True)
class RaplZone:
    """One powercap zone: its folder, name (``package-0``, ``dram``) and the part it counts."""

    path: Path
    name: str
    part: str
    max_range_uj: int

    def read_uj(self) -> int:
        return int((self.path / "energy_uj").read_text().strip())


def find_zones(root: Path) -> list[RaplZone]:
    """Package and DRAM zones under ``root`` (a powercap folder), each once."""
    if not root.is_dir():
        return []
    dirs: dict[str, Path] = {}
    for pattern in ("intel-rapl:*", "intel-rapl:*/intel-rapl:*"):
        for d in sorted(root.glob(pattern)):
            if d.is_dir() and (d / "energy_uj").exists():
                dirs.setdefault(d.name, d)
    zones = []
    for key in sorted(dirs):
        d = dirs[key]
        try:
            name = (d / "name").read_text().strip()
        except OSError:
            continue
        if name.startswith("package"):
            part = "cpu"
        elif name == "dram":
            part = "ram"
        else:
            continue  # core/uncore are inside the package; psys is the whole platform
        try:
            max_range = int((d / "max_energy_range_uj").read_text().strip())
        except (OSError, ValueError):
            max_range = 2**32
        zones.append(RaplZone(d, name, part, max_range))
    return zones


class RaplMeter(PowerMeter):
    """RAPL package (+DRAM) energy, whole machine or the job's CPU-time share of it."""

    name = "rapl"

    def __init__(
        self,
        root: Path | str | None = None,
        *,
        job_cpu: CpuClock | None = None,
        machine_cpu: CpuClock | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(clock=clock)
        self.root = Path(root or os.environ.get("CARBONSHIFT_RAPL_ROOT") or DEFAULT_RAPL_ROOT)
        if (job_cpu is None) != (machine_cpu is None):
            raise ValueError("give both job_cpu and machine_cpu (or neither)")
        self.job_cpu = job_cpu
        self.machine_cpu = machine_cpu
        self.zones: list[RaplZone] = []
        self._last_uj: list[int] = []
        self._zone_j: list[float] = []
        self._attributed_j: dict[str, float] = {}
        self._last_cpu: tuple[float, float] = (0.0, 0.0)
        self._last_t = 0.0
        self._last_power: float | None = None
        self._total_j = 0.0
        self._whole_j = 0.0

    def unavailable_reason(self) -> str | None:
        if not self.root.is_dir():
            return f"rapl: {self.root} not found (no powercap RAPL on this machine)"
        zones = find_zones(self.root)
        if not zones:
            return f"rapl: no package zones under {self.root}"
        try:
            for z in zones:
                z.read_uj()
        except PermissionError:
            return f"rapl: {zones[0].path / 'energy_uj'} is not readable (root only on this kernel)"
        except (OSError, ValueError) as exc:
            return f"rapl: cannot read {self.root}: {exc}"
        return None

    def _cpu(self) -> tuple[float, float]:
        if self.job_cpu is None or self.machine_cpu is None:
            return (0.0, 0.0)
        return (self.job_cpu.cpu_time_s(), self.machine_cpu.cpu_time_s())

    def _start(self) -> Reading:
        self.zones = find_zones(self.root)
        if not self.zones:
            raise RuntimeError(self.unavailable_reason() or "rapl: no zones")
        self._last_uj = [z.read_uj() for z in self.zones]
        self._zone_j = [0.0] * len(self.zones)
        self._attributed_j = {z.part: 0.0 for z in self.zones}
        self._last_cpu = self._cpu()
        self._total_j = 0.0
        self._whole_j = 0.0
        self._last_t = self.clock()
        return Reading(self._last_t, 0.0, None, dict(self._attributed_j))

    def share(self, job_s: float, busy_s: float) -> float:
        """The job's share of the machine's energy in one interval."""
        if busy_s <= 0:
            return 0.0 if job_s <= 0 else 1.0
        return min(1.0, max(0.0, job_s / busy_s))

    def _read(self) -> Reading:
        now = self.clock()
        raw = [z.read_uj() for z in self.zones]
        cpu = self._cpu()
        share = 1.0
        if self.job_cpu is not None:
            share = self.share(cpu[0] - self._last_cpu[0], cpu[1] - self._last_cpu[1])
        interval_j = 0.0
        for i, z in enumerate(self.zones):
            delta_j = counter_delta_uj(self._last_uj[i], raw[i], z.max_range_uj) / 1e6
            self._zone_j[i] += delta_j
            self._whole_j += delta_j
            self._attributed_j[z.part] += delta_j * share
            interval_j += delta_j * share
        self._total_j += interval_j
        dt = now - self._last_t
        self._last_power = interval_j / dt if dt > 0 else self._last_power
        self._last_uj, self._last_cpu, self._last_t = raw, cpu, now
        return Reading(now, self._total_j, self._last_power, dict(self._attributed_j))

    def info(self) -> MeterInfo:
        zones = self.zones or find_zones(self.root)
        if self.job_cpu is None:
            attribution = "whole machine (the job is taken to have the CPUs to itself)"
        else:
            whole = self._whole_j
            mean = f"{100.0 * self._total_j / whole:.1f}%" if whole > 0 else "n/a so far"
            attribution = (
                "cpu-time share of the job's processes (machine shared): "
                f"{mean} of the measured energy"
            )
        return MeterInfo(
            name="rapl",
            measured=True,
            method="RAPL energy counters (powercap)",
            devices=tuple(z.name for z in zones),
            attribution=attribution,
            parts=tuple(sorted({z.part for z in zones})),
            notes=tuple(self.notes),
        )
