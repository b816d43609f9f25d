"""CPU time of a job's process tree and of the whole machine (psutil), for attributing a shared
machine's energy by CPU-time share and for the TDP × utilisation model.

A job is its root processes and all their descendants. Processes come and go: the CPU time of
every process seen is remembered, so a child that exits keeps counting what it used up to the
last sample in which it was seen. New descendants are found by a scan of the process table at
most every ``rescan_s`` seconds (10 by default), which keeps a read cheap on busy machines; a
child that lives and dies between two scans is missed (lower ``rescan_s`` for jobs made of many
short processes).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Sequence
from typing import Protocol

import psutil

__all__ = ["CpuClock", "MachineCpu", "ProcessTree"]


class CpuClock(Protocol):
    """Anything that tells cumulative CPU seconds."""

    def cpu_time_s(self) -> float: ...


class ProcessTree:
    """Cumulative CPU seconds (user + system) of some processes and their descendants."""

    def __init__(
        self, pids: Sequence[int] | None = None, *, children: bool = True, rescan_s: float = 10.0
    ) -> None:
        self.pids = tuple(pids) if pids else (os.getpid(),)
        self.children = children
        self.rescan_s = rescan_s
        self._seen: dict[tuple[int, float], float] = {}
        self._procs: dict[int, psutil.Process] = {}
        self._members_cache: list[psutil.Process] = []
        self._scanned_at = -math.inf

    def _process(self, pid: int) -> psutil.Process | None:
        proc = self._procs.get(pid)
        if proc is None:
            try:
                proc = psutil.Process(pid)
            except psutil.Error:
                return None
            self._procs[pid] = proc
        return proc

    def _members(self) -> list[psutil.Process]:
        """The roots and their descendants; the process table is scanned at most every
        ``rescan_s`` seconds (a scan reads every process's stat file), the known members are
        read every time."""
        now = time.monotonic()
        if now - self._scanned_at < self.rescan_s:
            return self._members_cache
        self._scanned_at = now
        members: list[psutil.Process] = []
        for pid in self.pids:
            root = self._process(pid)
            if root is None:
                continue
            members.append(root)
            if self.children:
                with contextlib.suppress(psutil.Error):
                    members.extend(root.children(recursive=True))
        self._members_cache = members
        return members

    def cpu_time_s(self) -> float:
        for proc in self._members():
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    key = (proc.pid, proc.create_time())
            except psutil.Error:
                continue
            self._seen[key] = max(self._seen.get(key, 0.0), times.user + times.system)
        return sum(self._seen.values())

    def alive(self) -> bool:
        return any(p.is_running() for pid in self.pids if (p := self._process(pid)))


class MachineCpu:
    """Cumulative busy CPU seconds of the whole machine, all cores (idle and iowait excluded)."""

    def cpu_time_s(self) -> float:
        t = psutil.cpu_times()
        busy = t.user + t.system + getattr(t, "nice", 0.0)
        busy += getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
        return float(busy)

    @staticmethod
    def cores() -> int:
        return psutil.cpu_count() or os.cpu_count() or 1
