"""The grid-signal layer: labelled intensity series, files, providers and the local store."""

from carbonshift.signals.gaps import Gap, fill_gaps, find_gaps
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries, align
from carbonshift.signals.store import SignalStore

__all__ = [
    "Gap",
    "IntensitySeries",
    "SignalLabels",
    "SignalStore",
    "align",
    "fill_gaps",
    "find_gaps",
]
