"""The fast batch heuristic: greedy placement, guided by congestion prices.

1. **Density pass.** Jobs by energy per GPU-hour (largest first, then least slack): a GPU-hour
   of clean capacity saves the most for the jobs that draw the most per GPU. Each takes its
   cheapest option that still has free capacity (ties: earliest start, then zone order).
2. **Prices.** Rounds of subgradient ascent on the Lagrangian relaxation of the capacity rows:
   each job alone picks its cheapest option at ``grams + GPUs × Σ price(zone, step)``; steps it
   overfills get dearer (Polyak step against the density pass's cost). The best relaxation
   value is a proven **lower bound** on the optimum, available without the MILP.
3. **Priced pass.** Jobs by least slack (then largest energy) take the option with the lowest
   priced cost among those with free capacity, so that they avoid contended steps.

The cheaper of the two feasible passes is returned, with the lower bound. Cost: one pass is a
loop over jobs with a small vectorised step per job; the prices are fully vectorised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from carbonshift.planning.capacity import (
    Candidates,
    CapacityProblem,
    Schedule,
    candidates,
    first_argmin_per_job,
    make_schedule,
    usage,
)
from carbonshift.planning.errors import InfeasibleBatchError
from carbonshift.planning.job import Job
from carbonshift.signals.series import FloatArray, IntArray

__all__ = ["congestion_prices", "solve_candidates_greedy", "solve_greedy"]


def _greedy_pass(c: Candidates, order: IntArray, priced: FloatArray | None) -> IntArray:
    """One option per job in ``order`` (``-1`` where none had free capacity)."""
    bounds = c.bounds
    residual = c.cap.copy()
    last_step = residual.shape[1] - 1
    chosen = np.full(c.n_jobs, -1, dtype=np.int64)
    for j in order.tolist():
        lo, hi = int(bounds[j]), int(bounds[j + 1])
        need = int(c.gpus[j])
        first, last, zone = c.first_step[lo:hi], c.last_step[lo:hi], c.zone[lo:hi]
        if need == 0:
            ok = np.ones(hi - lo, dtype=bool)
        else:
            steps = first[:, None] + np.arange(int((last - first).max()))[None, :]
            free = residual[zone[:, None], np.minimum(steps, last_step)]
            ok = np.asarray(np.where(steps < last[:, None], free >= need, True).all(axis=1))
        if not ok.any():
            continue
        if priced is None:
            pick = lo + int(np.argmax(ok))  # options are sorted cheapest first
        else:
            pick = lo + int(np.argmin(np.where(ok, priced[lo:hi], np.inf)))
        chosen[j] = pick
        residual[c.zone[pick], c.first_step[pick] : c.last_step[pick]] -= need
    return chosen


def _priced(c: Candidates, prices: FloatArray) -> FloatArray:
    cum = np.zeros((prices.shape[0], prices.shape[1] + 1))
    np.cumsum(prices, axis=1, out=cum[:, 1:])
    held = cum[c.zone, c.last_step] - cum[c.zone, c.first_step]
    return np.asarray(c.cost_g + c.gpus[c.job] * held, dtype=np.float64)


def congestion_prices(
    c: Candidates, upper_bound_g: float, *, iterations: int = 100
) -> tuple[FloatArray, float]:
    """Prices per (zone, step) in grams per GPU-step, and the best Lagrangian lower bound."""
    prices = np.zeros(c.cap.shape)
    best_prices, best_bound = prices, -np.inf
    theta, stall = 1.0, 0
    for _ in range(iterations):
        priced = _priced(c, prices)
        pick = first_argmin_per_job(c, priced)
        bound = float(priced[pick].sum() - (prices * c.cap).sum())
        if bound > best_bound + 1e-9:
            best_prices, best_bound, stall = prices, bound, 0
        else:
            stall += 1
            if stall >= 5:
                theta, stall = theta / 2, 0
        over = (usage(c, pick) - c.cap).astype(np.float64)
        over[(prices <= 0) & (over < 0)] = 0.0
        norm = float((over**2).sum())
        if norm == 0.0 or upper_bound_g <= bound:
            break  # the relaxed choice fits (it is optimal) or the bound meets the schedule
        prices = np.maximum(0.0, prices + theta * (upper_bound_g - bound) / norm * over)
    return best_prices, best_bound


def solve_greedy(problem: CapacityProblem, *, iterations: int = 100) -> Schedule:
    """The heuristic schedule (see the module notes); ``lower_bound_g`` is its Lagrangian
    bound. Raises :class:`InfeasibleBatchError` naming a job neither pass could place."""
    return solve_candidates_greedy(candidates(problem), problem.jobs, iterations=iterations)


def solve_candidates_greedy(
    c: Candidates, jobs: Sequence[Job], *, iterations: int = 100
) -> Schedule:
    """:func:`solve_greedy` on prepared candidates."""
    slack = c.latest_s - c.earliest_s
    energy = np.array([job.energy_kwh for job in jobs])
    hours = c.duration_s / 3600.0
    density = energy / np.maximum(c.gpus, 1) / hours
    passes = [_greedy_pass(c, np.lexsort((slack, -density)), None)]
    placed = passes[0] >= 0
    upper = (
        float(c.cost_g[passes[0]].sum())
        if placed.all()
        else float(np.maximum.reduceat(c.cost_g, c.bounds[:-1]).sum())
    )
    prices, bound = congestion_prices(c, upper, iterations=iterations)
    passes.append(_greedy_pass(c, np.lexsort((-energy, slack)), _priced(c, prices)))
    feasible = [p for p in passes if (p >= 0).all()]
    if not feasible:
        unplaced = np.flatnonzero(passes[-1] < 0)
        j = int(unplaced[0])
        raise InfeasibleBatchError(
            f"greedy: {unplaced.size} jobs found no window with free capacity before their "
            f"deadlines (first: {jobs[j].label}, index {j})",
            hint="raise the capacity or loosen the deadlines; solve_exact may still fit the batch",
        )
    best = min(feasible, key=lambda p: float(c.cost_g[p].sum()))
    return make_schedule(c, best, "greedy", False, bound)
