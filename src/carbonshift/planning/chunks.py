"""The cheapest set of chunks for an interruptible job: exact dynamic programming.

Model (documented, and what the brute-force tests enumerate):

- Time from the earliest start to ``deadline − margin`` is cut into equal **slots** of length
  ``q``, aligned with the data grid: ``q`` is the greatest common divisor of the resolution, the
  offsets of both ends from the grid, the duration, the minimum chunk and the pause overhead
  (at least one minute; if the problem would be too large, a multiple of that). When rounding
  is needed it is conservative: the span shrinks, the duration, chunk and overhead grow.
- The job occupies whole slots. A **chunk** is a maximal run of occupied slots; chunks are
  separated by at least one idle slot.
- The first chunk does useful work from its first slot. Every later chunk first spends
  ``overhead`` slots restoring (running at full power: **overhead energy counts** in the
  emissions) and then does useful work.
- Each chunk does at least ``min_chunk`` of useful work (a job shorter than that runs whole),
  and the useful work adds up to the duration.
- The cost is the integral of intensity over every occupied slot, overhead included. Slots on
  unknown (NaN) data cannot be used.

The dynamic programme runs backward over slots with states (idle | restoring p slots |
working with ℓ useful slots in this chunk) × (useful slots done), vectorised over the last
index; a forward pass then rebuilds the plan preferring to run rather than wait whenever that
costs no more, so ties go to the earliest work. Size: slots × work × (1 + overhead + chunk).
With a one-slot minimum chunk and no overhead every set of slots is valid, so the plan is
simply the cheapest ``work`` slots (ties to the earliest), found by a sort.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from carbonshift.planning.plan import Segment
from carbonshift.signals.series import FloatArray, IntensitySeries

__all__ = ["MAX_DP_CELLS", "MIN_SLOT_S", "ChunkPlan", "cheapest_chunks", "chunk_costs_dp"]

MIN_SLOT_S = 60
MAX_DP_CELLS = 20_000_000


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """Segments chosen by :func:`cheapest_chunks` and their integral (value-seconds)."""

    segments: tuple[Segment, ...]
    integral: float
    slot_s: int


def _up(x: int, q: int) -> int:
    return -(-x // q) * q


def _slot_length(
    resolution_s: int,
    offsets: list[int],
    duration_s: int,
    min_chunk_s: int,
    overhead_s: int,
    span_s: int,
) -> int:
    q = resolution_s
    for x in [*offsets, duration_s, min_chunk_s, overhead_s]:
        q = math.gcd(q, x)
    if q < MIN_SLOT_S:
        q = math.gcd(resolution_s, MIN_SLOT_S) if resolution_s >= MIN_SLOT_S else resolution_s
    while True:
        n = span_s // q
        work = _up(duration_s, q) // q
        chunk = min(_up(min_chunk_s, q) // q, work)
        over = _up(overhead_s, q) // q
        if n * (work + 1) * (1 + over + chunk) <= MAX_DP_CELLS:
            return q
        q *= 2


def chunk_costs_dp(
    costs: FloatArray, work: int, min_chunk: int, overhead: int
) -> list[bool] | None:
    """Exact DP on slot costs (inf = unusable). Returns which slots are occupied, or ``None``
    when no valid plan exists. ``work``, ``min_chunk`` and ``overhead`` count slots."""
    n = costs.size
    w_n = work + 1
    m = max(1, min(min_chunk, work))
    o = overhead
    if m == 1 and o == 0:
        # Any set of slots is a valid plan: the ``work`` cheapest usable slots, ties to the
        # earliest (what the DP below prefers too), without the O(slots × work) tables.
        if int(np.isfinite(costs).sum()) < work:
            return None
        chosen = np.zeros(n, dtype=bool)
        chosen[np.argsort(costs, kind="stable")[:work]] = True
        return [bool(x) for x in chosen]
    inf = np.inf
    tol = 1e-9 * (float(np.abs(costs[np.isfinite(costs)]).sum()) + 1.0)
    # value-to-go at boundary n
    vi = np.full(w_n, inf)
    vi[work] = 0.0
    vo = np.full((o, w_n), inf)
    vr = np.full((m, w_n), inf)
    vr[m - 1, work] = 0.0
    run_idle = np.zeros((n, w_n), dtype=bool)  # idle state: start/resume at slot i
    cont_run = np.zeros((n, m, w_n), dtype=bool)  # working state: keep working at slot i
    for i in range(n - 1, -1, -1):
        c = costs[i]
        # idle: run (start the first chunk, or resume) vs skip the slot
        run = np.full(w_n, inf)
        run[0] = c + vr[0, 1] if work >= 1 else inf
        if work > 1:
            nxt = vo[0, 1:work] if o > 0 else vr[0, 2 : work + 1]
            run[1:work] = c + nxt
        take = run <= vi + tol
        run_idle[i] = take & np.isfinite(run)
        new_vi = np.where(run_idle[i], run, vi)
        # restoring after a pause: no choice
        new_vo = np.full((o, w_n), inf)
        if o > 0:
            new_vo[: o - 1] = c + vo[1:]
            new_vo[o - 1, :work] = c + vr[0, 1:]
        # working: keep working (useful slot) vs stop (slot i idle; only with ≥ m done)
        cont = np.full((m, w_n), inf)
        cont[:, :work] = c + vr[np.minimum(np.arange(1, m + 1), m - 1), 1:]
        stop = np.full((m, w_n), inf)
        stop[m - 1] = vi
        keep = cont <= stop + tol
        cont_run[i] = keep & np.isfinite(cont)
        new_vr = np.where(cont_run[i], cont, stop)
        vi, vo, vr = new_vi, new_vo, new_vr
    if not np.isfinite(vi[0]):
        return None
    occupied = [False] * n
    mode, p, ell, w = "idle", 0, 0, 0
    for i in range(n):
        if mode == "idle":
            if run_idle[i, w]:
                occupied[i] = True
                if w == 0 or o == 0:
                    mode, ell, w = "work", 1, w + 1
                else:
                    mode, p = "restore", 1
        elif mode == "restore":
            occupied[i] = True
            if p < o:
                p += 1
            else:
                mode, ell, w = "work", 1, w + 1
        elif cont_run[i, min(ell, m) - 1, w]:
            occupied[i] = True
            ell, w = min(ell + 1, m), w + 1
        else:
            mode = "idle"
    return occupied


def cheapest_chunks(
    series: IntensitySeries,
    *,
    duration_s: int,
    earliest_s: int,
    finish_by_s: int,
    min_chunk_s: int,
    overhead_s: int,
    available: Sequence[tuple[int, int]] | None = None,
) -> ChunkPlan | None:
    """Cheapest chunks (see the module notes) inside ``[earliest_s, finish_by_s)`` and the
    series; ``None`` if none fits on known data. The duration and chunks are rounded up to the
    slot length, so the last segment may end up to one slot after the work is done.
    ``available`` (``[start_s, end_s)`` spans) restricts the slots that may be used."""
    lo = max(earliest_s, series.start_s)
    hi = min(finish_by_s, series.end_s)
    if hi - lo < duration_s:
        return None
    g0 = series.start_s
    q = _slot_length(
        series.resolution_s,
        [(lo - g0) % series.resolution_s, (hi - g0) % series.resolution_s],
        duration_s,
        min_chunk_s,
        overhead_s,
        hi - lo,
    )
    lo_q = g0 + _up(lo - g0, q)
    hi_q = g0 + ((hi - g0) // q) * q
    n = (hi_q - lo_q) // q
    work = _up(duration_s, q) // q
    if n < work:
        return None
    starts = lo_q + q * np.arange(n, dtype=np.int64)
    costs = series.window_integrals(starts, starts + q)
    costs[np.isnan(costs)] = np.inf
    if available is not None:
        inside = np.zeros(n, dtype=bool)
        for a, b in available:
            inside |= (starts >= a) & (starts + q <= b)
        costs[~inside] = np.inf
    occupied = chunk_costs_dp(costs, work, _up(min_chunk_s, q) // q, _up(overhead_s, q) // q)
    if occupied is None:
        return None
    segments: list[Segment] = []
    integral = 0.0
    i = 0
    while i < n:
        if occupied[i]:
            j = i
            while j < n and occupied[j]:
                j += 1
            segments.append(Segment(int(starts[i]), int(starts[i]) + (j - i) * q))
            integral += float(costs[i:j].sum())
            i = j
        else:
            i += 1
    return ChunkPlan(tuple(segments), integral, q)
