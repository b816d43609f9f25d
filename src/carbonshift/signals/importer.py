"""Importing trace files into the store: validate everything first, then write.

An import is all-or-nothing by default: every file is parsed and checked against what is
already stored before a single series is written, so a bad file leaves the store as it was.
With ``keep_going`` the good files are imported and the bad ones reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carbonshift.errors import CarbonshiftError, DataError
from carbonshift.signals.datasets import profile_for
from carbonshift.signals.files import ParsedTrace, discover_traces, parse_trace_file
from carbonshift.signals.store import SignalStore

__all__ = ["ImportReport", "import_paths"]

Progress = Callable[[str], None]


@dataclass
class ImportReport:
    imported: list[tuple[str, str, str]] = field(default_factory=list)  # dataset, zone, variant
    files: int = 0
    unchanged: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    labels_assumed: list[Path] = field(default_factory=list)


def import_paths(
    store: SignalStore,
    paths: Sequence[Path],
    *,
    dataset: str | None = None,
    zone: str | None = None,
    labels: dict[str, Any] | None = None,
    keep_going: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import trace files and folders into ``store`` and say what happened."""
    sources, skipped = discover_traces(list(paths), dataset=dataset)
    report = ImportReport(skipped=skipped)
    if zone is not None and len(sources) > 1:
        raise DataError(
            f"--zone {zone}: names one zone but {len(sources)} files were given",
            hint="drop --zone (file names give the zones) or import one file",
        )
    parsed: list[tuple[ParsedTrace, str]] = []
    for src in sources:
        if progress:
            progress(src.path.name)
        if not force and not labels and store.unchanged_since_import(src.path, src.dataset):
            report.unchanged.append(src.path)
            continue
        try:
            trace = parse_trace_file(
                src.path,
                zone=zone,
                profile=profile_for(src.dataset.split("/")[-1]),
                label_overrides=labels,
            )
            for variant, series in trace.series.items():
                store.check_put(series, dataset=src.dataset, variant=variant)
        except CarbonshiftError as exc:
            if not keep_going:
                raise
            report.failed.append((src.path, exc.one_line()))
            continue
        if (
            trace.profile.name == "default"
            and not labels
            and trace.format != "electricitymaps-portal-csv"
        ):
            report.labels_assumed.append(src.path)
        parsed.append((trace, src.dataset))
    with store.lock():
        for trace, ds in parsed:
            keys = []
            for variant, series in trace.series.items():
                store.put(series, dataset=ds, variant=variant, source=str(trace.path))
                keys.append((trace.zone, variant))
                report.imported.append((ds, trace.zone, variant))
            store.record_import(trace.path, ds, keys)
            report.files += 1
    return report
