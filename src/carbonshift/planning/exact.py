"""The exact batch solver: a MILP over (job, zone, start) binaries, solved by HiGHS.

Variables: one binary per candidate of :mod:`carbonshift.planning.capacity`. Rows: each job
takes exactly one candidate; each (zone, step) holds at most its capacity in GPUs. Objective:
the candidates' grams. Sizes solved on this project's 2-core machine: 1,000 jobs × 3 zones ×
hourly starts over a week (≈ 21,000 binaries) in well under a minute; larger batches belong to
:func:`~carbonshift.planning.greedy.solve_greedy` (or a coarser ``start_stride_s``).
"""

from __future__ import annotations

import numpy as np

from carbonshift.planning.capacity import (
    Candidates,
    CapacityProblem,
    Schedule,
    candidates,
    first_argmin_per_job,
    make_schedule,
)
from carbonshift.planning.errors import InfeasibleBatchError

__all__ = ["solve_candidates_exact", "solve_exact"]


def solve_exact(
    problem: CapacityProblem, *, time_limit_s: float = 60.0, mip_rel_gap: float = 1e-4
) -> Schedule:
    """The minimum-emission assignment (MILP, HiGHS).

    ``optimal`` is True when HiGHS proved the schedule within ``mip_rel_gap`` of the optimum
    (default 0.01 %, HiGHS's own default), False when the time limit stopped it first;
    ``lower_bound_g`` is its proven bound either way. Raises :class:`InfeasibleBatchError`
    when no schedule meets every deadline within the capacity.
    """
    return solve_candidates_exact(candidates(problem), time_limit_s, mip_rel_gap)


def solve_candidates_exact(c: Candidates, time_limit_s: float, mip_rel_gap: float) -> Schedule:
    """:func:`solve_exact` on prepared candidates."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    nv, n_jobs = c.job.size, c.gpus.size
    n_steps = c.cap.shape[1]
    assign = coo_matrix((np.ones(nv), (c.job, np.arange(nv))), shape=(n_jobs, nv)).tocsr()
    lengths = c.last_step - c.first_step
    rep = np.repeat(np.arange(nv), lengths)
    within = np.arange(rep.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows = c.zone[rep] * n_steps + c.first_step[rep] + within
    vals = c.gpus[c.job[rep]].astype(np.float64)
    keep = vals > 0
    used_rows, row_idx = np.unique(rows[keep], return_inverse=True)
    load = coo_matrix((vals[keep], (row_idx, rep[keep])), shape=(used_rows.size, nv)).tocsr()
    constraints = [LinearConstraint(assign, 1, 1)]
    if used_rows.size:
        constraints.append(
            LinearConstraint(load, -np.inf, c.cap.ravel()[used_rows].astype(np.float64))
        )
    res = milp(
        c.cost_g,
        integrality=np.ones(nv),
        bounds=Bounds(0, 1),
        constraints=constraints,
        options={
            "time_limit": float(time_limit_s),
            "mip_rel_gap": float(mip_rel_gap),
            "disp": False,
        },
    )
    if res.x is None:
        if res.status == 2:
            raise InfeasibleBatchError(
                f"no assignment of the {n_jobs} jobs meets every deadline within the capacity",
                hint="raise the capacity, allow more zones or loosen the deadlines",
            )
        raise InfeasibleBatchError(
            f"exact solver found no schedule ({res.message})",
            hint="raise the time limit or use solve_greedy",
        )
    # each job's largest x (1 up to HiGHS's integrality tolerance)
    chosen = first_argmin_per_job(c, -np.asarray(res.x))
    bound = float(getattr(res, "mip_dual_bound", np.nan) or np.nan)
    return make_schedule(c, chosen, "milp", bool(res.status == 0), bound)
