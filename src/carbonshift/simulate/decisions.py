"""``Decisions``: where and when each job of a workload ran under one policy, and what it
emitted on the **actual** intensity.

Emissions use the accounting's definition (:mod:`carbonshift.accounting.emissions`): the
energy in each intensity step times that step's actual value, partial steps by overlap. For a
constant declared power that sum is ``power × ∫ intensity dt``, which
:meth:`IntensitySeries.window_integrals` gives for millions of runs at once; the tests check
it against :func:`carbonshift.accounting.emissions.account` run by run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from carbonshift.errors import DataError
from carbonshift.signals.series import FloatArray, IntArray, IntensitySeries
from carbonshift.simulate.workload import BoolArray, Workload

__all__ = ["Decisions", "Segments", "evaluate"]

Segments = tuple[tuple[int, int], ...]
"""The ``[start_s, end_s)`` runs of one interruptible job."""


@dataclass(frozen=True)
class Decisions:
    """One policy's decisions for a workload (arrays indexed like the workload's jobs).

    ``zone`` is where each job ran (its home zone unless relocated); ``decision_s`` when its
    start was fixed; ``fallback`` marks jobs planned without a usable forecast or slot.
    ``segments`` is set only for interruptible runs (``None`` for contiguous ones).
    ``emissions_g``/``mean_intensity_g_per_kwh`` are on actuals (:func:`evaluate`).
    """

    policy: str
    workload: Workload
    home: npt.NDArray[np.str_]
    zone: npt.NDArray[np.str_]
    decision_s: IntArray
    start_s: IntArray
    end_s: IntArray
    run_s: IntArray
    fallback: BoolArray
    emissions_g: FloatArray
    mean_intensity_g_per_kwh: FloatArray
    segments: Sequence[Segments | None] | None = None

    def __len__(self) -> int:
        return int(self.start_s.size)

    @property
    def delay_s(self) -> IntArray:
        return self.start_s - self.workload.submit_s

    @property
    def deadline_missed(self) -> BoolArray:
        return self.end_s > self.workload.deadline_s

    def select(self, mask: BoolArray) -> Decisions:
        segs = (
            None if self.segments is None else [self.segments[int(i)] for i in np.flatnonzero(mask)]
        )
        return Decisions(
            self.policy,
            self.workload.take(mask),
            self.home[mask],
            self.zone[mask],
            self.decision_s[mask],
            self.start_s[mask],
            self.end_s[mask],
            self.run_s[mask],
            self.fallback[mask],
            self.emissions_g[mask],
            self.mean_intensity_g_per_kwh[mask],
            segs,
        )


def _integrals(
    actuals: Mapping[str, IntensitySeries],
    zone: npt.NDArray[np.str_],
    start_s: IntArray,
    end_s: IntArray,
) -> FloatArray:
    out = np.full(start_s.size, np.nan)
    for z in np.unique(zone).tolist():
        sel = zone == z
        series = actuals.get(z)
        if series is None:
            raise DataError(f"zone {z!r}: no actual series to account the runs on")
        out[sel] = series.window_integrals(start_s[sel], end_s[sel])
    return out


def evaluate(
    policy: str,
    workload: Workload,
    actuals: Mapping[str, IntensitySeries],
    *,
    home: npt.NDArray[np.str_],
    zone: npt.NDArray[np.str_],
    decision_s: IntArray,
    start_s: IntArray,
    fallback: BoolArray,
    segments: Sequence[Segments | None] | None = None,
) -> Decisions:
    """Account each job's run (contiguous from ``start_s``, or its ``segments``) on the actual
    series of the zone it ran in."""
    start = np.asarray(start_s, dtype=np.int64)
    if segments is None:
        end = start + workload.duration_s
        run: IntArray = workload.duration_s.copy()
        integral = _integrals(actuals, zone, start, end)
    else:
        end = np.array([s[-1][1] if s else 0 for s in segments], dtype=np.int64)
        run = np.array([sum(b - a for a, b in s) if s else 0 for s in segments], dtype=np.int64)
        flat = [(i, a, b) for i, s in enumerate(segments) if s for a, b in s]
        idx = np.array([f[0] for f in flat], dtype=np.int64)
        a = np.array([f[1] for f in flat], dtype=np.int64)
        b = np.array([f[2] for f in flat], dtype=np.int64)
        parts = _integrals(actuals, zone[idx], a, b)
        integral = np.bincount(idx, weights=parts, minlength=start.size).astype(np.float64)
    emissions = workload.power_w * integral / 3.6e6
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = integral / run
    return Decisions(
        policy,
        workload,
        home,
        zone,
        np.asarray(decision_s, dtype=np.int64),
        start,
        end,
        run,
        np.asarray(fallback, dtype=bool),
        emissions,
        mean,
        segments,
    )
