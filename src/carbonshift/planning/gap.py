"""The heuristic's gap to the exact optimum on one batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from carbonshift.planning.capacity import CapacityProblem, Schedule, candidates
from carbonshift.planning.exact import solve_candidates_exact
from carbonshift.planning.greedy import solve_candidates_greedy

__all__ = ["GapReport", "heuristic_gap"]


@dataclass(frozen=True)
class GapReport:
    """The heuristic against the exact optimum on one batch (grams), with both schedules.

    ``uncapacitated_g`` is every job in its cheapest window ignoring capacity: a lower bound
    that shows how much the capacity costs (what herding would have given).
    ``lower_bound_g`` is HiGHS's proven bound; ``heuristic_bound_g`` the greedy's own
    (Lagrangian) bound, which exists without the MILP.
    """

    exact: Schedule
    heuristic: Schedule
    candidates: int
    uncapacitated_g: float

    @property
    def jobs(self) -> int:
        return int(self.exact.start_s.size)

    @property
    def exact_g(self) -> float:
        return self.exact.total_emissions_g

    @property
    def exact_optimal(self) -> bool:
        return self.exact.optimal

    @property
    def lower_bound_g(self) -> float:
        return self.exact.lower_bound_g

    @property
    def heuristic_g(self) -> float:
        return self.heuristic.total_emissions_g

    @property
    def heuristic_bound_g(self) -> float:
        return self.heuristic.lower_bound_g

    @property
    def gap_g(self) -> float:
        return self.heuristic_g - self.exact_g

    @property
    def gap_pct(self) -> float:
        """How much more the heuristic emits than the exact schedule, in percent."""
        return 100.0 * self.gap_g / self.exact_g if self.exact_g else 0.0

    def describe(self) -> str:
        proven = "optimal" if self.exact_optimal else "best found, not proven"
        return (
            f"{self.jobs} jobs, {self.candidates} options: exact {self.exact_g / 1000:.1f} kg "
            f"({proven}; bound {self.lower_bound_g / 1000:.1f} kg), greedy "
            f"{self.heuristic_g / 1000:.1f} kg (+{self.gap_pct:.2f} %), ignoring capacity "
            f"{self.uncapacitated_g / 1000:.1f} kg"
        )


def heuristic_gap(
    problem: CapacityProblem, *, time_limit_s: float = 60.0, mip_rel_gap: float = 1e-4
) -> GapReport:
    """Solve ``problem`` both ways and report the greedy's gap to the exact optimum."""
    c = candidates(problem)
    exact = solve_candidates_exact(c, time_limit_s, mip_rel_gap)
    greedy = solve_candidates_greedy(c, problem.jobs)
    cheapest = np.minimum.reduceat(c.cost_g, c.bounds[:-1])
    return GapReport(exact, greedy, int(c.job.size), float(cheapest.sum()))
