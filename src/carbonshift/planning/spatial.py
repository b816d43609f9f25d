"""The cheapest plan for one job over one or several zones, on given series.

For each zone allowed, the cheapest contiguous window (or set of chunks, for an interruptible
job) is found on that zone's series inside the zone's feasible starts (its transfer delay and
availability applied); zones are then compared on expected grams: the job's energy times the
mean intensity, plus the zone's penalty. Ties go to the lower mean, then the earliest start,
then the zone listed first. Comparing grams across zones needs comparable signals (the
:class:`~carbonshift.planning.outlook.Outlook` checks the labels).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from carbonshift.planning.chunks import cheapest_chunks
from carbonshift.planning.job import Job
from carbonshift.planning.outlook import ZoneTerms
from carbonshift.planning.plan import Segment
from carbonshift.planning.window import TIE_DECIMALS, cheapest_window
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = ["Search", "ZoneChoice", "best_over_zones", "coverage_note", "fully_known"]


@dataclass(frozen=True, slots=True)
class ZoneChoice:
    """The best plan found in one zone."""

    zone: str
    segments: tuple[Segment, ...]
    mean_intensity_g_per_kwh: float
    penalty_g: float
    emissions_g: float


@dataclass(frozen=True, slots=True)
class Search:
    """The best choice over zones (``None`` if no zone had a usable window), and a note for
    each zone whose series did not cover its whole feasible span."""

    choice: ZoneChoice | None
    incomplete: tuple[str, ...]


def fully_known(series: IntensitySeries, lo_s: int, hi_s: int) -> bool:
    """Whether ``series`` has a known value for every step overlapping ``[lo_s, hi_s)``."""
    if series.start_s > lo_s or series.end_s < hi_s:
        return False
    r = series.resolution_s
    i0 = (lo_s - series.start_s) // r
    i1 = -(-(hi_s - series.start_s) // r)
    return not bool(np.isnan(series.values[i0:i1]).any())


def coverage_note(zone: str, series: IntensitySeries | None, lo_s: int, hi_s: int) -> str:
    """One line on how ``series`` falls short of ``[lo_s, hi_s)``."""
    need = f"{format_time(from_epoch_s(lo_s))}..{format_time(from_epoch_s(hi_s))}"
    if series is None:
        return f"{zone}: no series (needed {need})"
    missing = ""
    if series.has_gaps():
        missing = f" with {int(np.isnan(series.values).sum())} missing steps"
    return (
        f"{zone}: series covers {format_time(series.start)}..{format_time(series.end)}"
        f"{missing}; the feasible span is {need}"
    )


def _zone_best(
    job: Job, series: IntensitySeries, earliest_s: int, terms: ZoneTerms
) -> tuple[tuple[Segment, ...], float] | None:
    """Segments and their mean intensity in one zone, or None."""
    if job.interruptible:
        cp = cheapest_chunks(
            series,
            duration_s=job.duration_s,
            earliest_s=earliest_s + terms.transfer_s,
            finish_by_s=job.finish_by_s,
            min_chunk_s=job.min_chunk_s,
            overhead_s=job.overhead_s,
            available=terms.available,
        )
        if cp is None:
            return None
        run_s = sum(s.duration_s for s in cp.segments)
        return cp.segments, cp.integral / run_s
    ranges = terms.start_ranges(earliest_s, job.latest_safe_start_s, job.duration_s)
    w = cheapest_window(series, job.duration_s, ranges)
    if w is None:
        return None
    return (Segment(w.start_s, w.end_s),), w.mean_intensity_g_per_kwh


def best_over_zones(
    job: Job,
    *,
    earliest_s: int,
    series: Mapping[str, IntensitySeries],
    zones: Sequence[str],
    terms: Callable[[str], ZoneTerms],
    require_full: bool = False,
) -> Search:
    """Search every zone in ``zones`` on ``series`` (a zone missing from it is skipped and
    noted). With ``require_full`` a zone whose series does not cover its whole feasible span is
    skipped; otherwise it is planned within the part that is known."""
    best: ZoneChoice | None = None
    best_key: tuple[float, float, int, int] | None = None
    incomplete = []
    for idx, zone in enumerate(zones):
        t = terms(zone)
        lo = earliest_s + t.transfer_s
        if lo > job.latest_safe_start_s:
            continue
        s = series.get(zone)
        if s is None or not fully_known(s, lo, job.finish_by_s):
            incomplete.append(coverage_note(zone, s, lo, job.finish_by_s))
            if require_full or s is None:
                continue
        found = _zone_best(job, s, earliest_s, t)
        if found is None:
            continue
        segments, mean = found
        run_s = sum(seg.duration_s for seg in segments)
        mean_key = round(mean, TIE_DECIMALS)
        grams = job.power_w * mean_key * run_s / 3.6e6 + t.penalty_g
        key = (round(grams, TIE_DECIMALS), mean_key, segments[0].start_s, idx)
        if best_key is None or key < best_key:
            best_key = key
            best = ZoneChoice(zone, segments, mean, t.penalty_g, grams)
    return Search(best, tuple(incomplete))
