"""Reading carbon-intensity trace files: the trace format of DESIGN.md (CSV, gzip or not, or
Parquet) and the CSV export of Electricity Maps' data portal.

Every problem is reported as one :class:`DataFileError` naming the file, the line or column and
the fix; nothing here writes anywhere.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carbonshift.errors import DataError, DataFileError, UnknownZoneError, UsageError
from carbonshift.signals.datasets import DEFAULT_PROFILE, DatasetProfile, profile_for
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries

__all__ = [
    "ParsedTrace",
    "TraceSource",
    "discover_traces",
    "list_zone_files",
    "parse_trace_file",
    "read_trace",
    "read_zone",
    "suggest_zones",
    "zone_from_path",
]

_SUFFIXES = (".csv.gz", ".csv", ".parquet", ".pq")
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"

# Electricity Maps data-portal export (hourly/daily/monthly CSV downloads)
_EM_TIME = "Datetime (UTC)"
_EM_ZONE = "Zone Id"
_EM_COLUMNS = {
    "Carbon Intensity gCO₂eq/kWh (LCA)": "carbon_intensity",
    "Carbon intensity gCO₂eq/kWh (Life cycle)": "carbon_intensity",
    "Carbon Intensity gCO₂eq/kWh (direct)": "carbon_intensity_direct",
    "Carbon intensity gCO₂eq/kWh (direct)": "carbon_intensity_direct",
}


def zone_from_path(path: Path) -> str:
    """The zone a trace file holds: its name without ``.csv``, ``.csv.gz`` or ``.parquet``."""
    name = path.name
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


@dataclass(frozen=True, slots=True)
class TraceSource:
    """A file to import and the dataset (folder profile) it belongs to."""

    path: Path
    dataset: str


@dataclass(frozen=True, slots=True)
class ParsedTrace:
    """Everything one file holds: one series per variant (``actual``, ``direct``...)."""

    path: Path
    zone: str
    format: str
    profile: DatasetProfile
    series: dict[str, IntensitySeries]


def _sniff(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(4)
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file", hint="check the path") from None
    except IsADirectoryError:
        raise DataFileError(
            f"{path}: is a directory", hint="pass files or folders of traces"
        ) from None
    except OSError as exc:
        raise DataFileError(
            f"{path}: cannot be read ({exc.strerror})", hint="check permissions"
        ) from None


def _read_table(path: Path) -> tuple[pd.DataFrame, str]:
    head = _sniff(path)
    if head == _PARQUET_MAGIC:
        try:
            return pd.read_parquet(path), "parquet"
        except Exception as exc:  # pyarrow raises many types
            raise DataFileError(
                f"{path}: not a readable Parquet file ({type(exc).__name__})",
                hint="re-export it, or use CSV",
            ) from None
    try:
        if head[:2] == _GZIP_MAGIC:
            with gzip.open(path, "rb") as gz:
                raw = gz.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError) as exc:
        raise DataFileError(
            f"{path}: cannot be decompressed ({exc})", hint="check the gzip file"
        ) from None
    if not raw.strip():
        raise DataFileError(f"{path}: the file is empty", hint="export the trace again")
    if b"\x00" in raw[:4096]:
        raise DataFileError(
            f"{path}: not a CSV file (binary content)",
            hint="give a CSV (optionally gzip) or Parquet trace with timestamp,carbon_intensity",
        )
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype={"timestamp": str, _EM_TIME: str})
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataFileError(
            f"{path}: not a readable CSV file ({first})",
            hint="give a CSV with a header line: timestamp,carbon_intensity",
        ) from None
    return frame, "csv"


def _times_s(path: Path, column: pd.Series, *, assume_utc: bool) -> np.ndarray[Any, Any]:
    text = column.astype(str)
    if column.isna().any():
        line = int(np.flatnonzero(column.isna().to_numpy())[0]) + 2
        raise DataFileError(
            f"{path}: line {line}: empty timestamp", hint="every row needs a timestamp"
        )
    try:
        parsed = pd.to_datetime(text, format="ISO8601", utc=assume_utc)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        # mixed aware/naive or unparsable: find the first bad row to name it
        for i, value in enumerate(text):
            try:
                ts = pd.Timestamp(value)
            except (ValueError, TypeError):
                raise DataFileError(
                    f"{path}: line {i + 2}: cannot read timestamp {value!r}",
                    hint="use ISO 8601 UTC like 2022-01-01T00:00:00Z",
                ) from None
            if ts.tzinfo is None and not assume_utc:
                raise DataFileError(
                    f"{path}: line {i + 2}: timestamp {value!r} has no time zone",
                    hint="write UTC times with a Z suffix, e.g. 2022-01-01T00:00:00Z",
                ) from None
        raise DataFileError(
            f"{path}: unreadable timestamps ({msg})", hint="use ISO 8601 UTC"
        ) from None
    if getattr(parsed.dt, "tz", None) is None:
        raise DataFileError(
            f"{path}: line 2: timestamp {text.iloc[0]!r} has no time zone",
            hint="write UTC times with a Z suffix, e.g. 2022-01-01T00:00:00Z",
        )
    utc = parsed.dt.tz_convert("UTC")
    nanos = utc.dt.as_unit("ns").astype("int64").to_numpy()
    if (nanos % 1_000_000_000).any():
        line = int(np.flatnonzero(nanos % 1_000_000_000)[0]) + 2
        raise DataFileError(
            f"{path}: line {line}: sub-second timestamp", hint="round to whole seconds"
        )
    return nanos // 1_000_000_000


def _values(path: Path, frame: pd.DataFrame, column: str, *, strict: bool) -> np.ndarray[Any, Any]:
    series = pd.to_numeric(frame[column], errors="coerce")
    bad_text = series.isna() & frame[column].notna()
    if bad_text.any():
        line = int(np.flatnonzero(bad_text.to_numpy())[0]) + 2
        raise DataFileError(
            f"{path}: line {line}: {column} {frame[column].iloc[line - 2]!r} is not a number",
            hint="intensities are numbers in gCO2eq/kWh",
        )
    values = series.to_numpy(dtype=np.float64)
    if strict and np.isnan(values).any():
        line = int(np.flatnonzero(np.isnan(values))[0]) + 2
        raise DataFileError(
            f"{path}: line {line}: {column} is missing (NaN)",
            hint="drop the row (the step becomes a gap) or fill it before importing",
        )
    finite = values[~np.isnan(values)]
    if (finite < 0).any() or np.isinf(finite).any():
        line = int(np.flatnonzero((values < 0) | np.isinf(values))[0]) + 2
        raise DataFileError(
            f"{path}: line {line}: {column} {values[line - 2]} is negative or infinite",
            hint="intensities are >= 0 gCO2eq/kWh; fix or drop the row",
        )
    return values


def parse_trace_file(
    path: Path,
    *,
    zone: str | None = None,
    profile: DatasetProfile | None = None,
    label_overrides: dict[str, Any] | None = None,
) -> ParsedTrace:
    """Read one trace file into series, one per variant the profile names and the file has."""
    path = Path(path)
    frame, fmt = _read_table(path)
    if frame.empty:
        raise DataFileError(f"{path}: no data rows", hint="the file has a header but no values")
    columns = [str(c).strip() for c in frame.columns]
    frame.columns = pd.Index(columns)
    assume_utc = False
    if _EM_TIME in columns:  # Electricity Maps data-portal export
        fmt = "electricitymaps-portal-csv"
        frame = frame.rename(columns={_EM_TIME: "timestamp", **_EM_COLUMNS})
        assume_utc = True  # the header says (UTC); the values are written without an offset
        if zone is None and _EM_ZONE in frame.columns:
            zone = str(frame[_EM_ZONE].iloc[0])
        if profile is None:
            profile = DEFAULT_PROFILE
    profile = profile or DEFAULT_PROFILE
    missing = [c for c in ("timestamp", "carbon_intensity") if c not in frame.columns]
    if missing:
        raise DataFileError(
            f"{path}: missing column {missing[0]!r} (found: {', '.join(columns[:8])})",
            hint="a trace needs the columns timestamp (UTC ISO 8601) and carbon_intensity (gCO2eq/kWh)",
        )
    zone = zone or zone_from_path(path)
    times = _times_s(path, frame["timestamp"], assume_utc=assume_utc)
    overrides = dict(label_overrides or {})
    out: dict[str, IntensitySeries] = {}
    for spec in profile.columns:
        if spec.column not in frame.columns:
            continue
        values = _values(path, frame, spec.column, strict=spec.required)
        keep = ~np.isnan(values)
        if not keep.any():
            continue
        fields: dict[str, Any] = (
            {**spec.labels, **overrides} if spec.required else dict(spec.labels)
        )
        if not spec.required and "provider" in overrides:
            # overrides of signal meaning apply to the main column only; provider carries over
            fields["provider"] = overrides["provider"]
        try:
            labels = SignalLabels(zone=zone, **fields)
        except UsageError as exc:
            raise UsageError(f"{path}: {exc.message}", hint=exc.hint) from None
        source = f"{path}" + ("" if spec.required else f" (column {spec.column})")
        try:
            if spec.required:
                out[spec.variant] = IntensitySeries.from_points(
                    times, values, labels, source=source, row_label="line", row_base=2
                )
            else:
                res = out["actual"].resolution_s if "actual" in out else None
                out[spec.variant] = IntensitySeries.from_points(
                    times[keep], values[keep], labels, resolution_s=res, source=source
                )
        except DataError as exc:
            raise DataFileError(exc.message, hint=exc.hint) from None
    return ParsedTrace(path, zone, fmt, profile, out)


def read_trace(
    path: Path | str,
    *,
    zone: str | None = None,
    variant: str = "actual",
    labels: dict[str, Any] | None = None,
) -> IntensitySeries:
    """One series from a trace file (the ``carbon_intensity`` column unless ``variant`` says)."""
    p = Path(path)
    parsed = parse_trace_file(
        p, zone=zone, profile=profile_for(p.parent.name), label_overrides=labels
    )
    if variant not in parsed.series:
        raise DataFileError(
            f"{p}: has no {variant!r} series",
            hint=f"available: {', '.join(sorted(parsed.series))}",
        )
    return parsed.series[variant]


def list_zone_files(data_dir: Path) -> dict[str, Path]:
    """Zone name -> trace file for the files directly in ``data_dir``."""
    out: dict[str, Path] = {}
    if not data_dir.is_dir():
        raise UsageError(
            f"--data: {data_dir} is not a folder", hint="point it at a folder of zone traces"
        )
    for child in sorted(data_dir.iterdir()):
        if child.is_file() and child.name.lower().endswith(_SUFFIXES):
            out.setdefault(zone_from_path(child), child)
    return out


def read_zone(data_dir: Path | str, zone: str, *, variant: str = "actual") -> IntensitySeries:
    """The series of ``zone`` from a folder of ``<zone>.csv[.gz]`` / ``<zone>.parquet`` files."""
    folder = Path(data_dir)
    files = list_zone_files(folder)
    if zone not in files:
        raise UnknownZoneError(
            f"zone {zone!r} not found in {folder}",
            hint=suggest_zones(zone, list(files)),
        )
    return read_trace(files[zone], zone=zone, variant=variant)


def suggest_zones(zone: str, known: list[str]) -> str:
    """A hint naming the known zones closest to a mistyped one."""
    import difflib

    if not known:
        return "no zones are available there"
    close = difflib.get_close_matches(zone.upper(), known, n=6, cutoff=0.4)
    close += [z for z in known if z.upper().startswith(zone.upper()[:2]) and z not in close]
    return (
        f"did you mean {', '.join(close[:6])}?"
        if close
        else f"known zones include {', '.join(known[:8])}"
    )


def _is_trace(path: Path) -> bool:
    """Whether a file looks like a trace (header has timestamp + carbon_intensity, or EM CSV)."""
    try:
        head = _sniff(path)
        if head == _PARQUET_MAGIC:
            import pyarrow.parquet as pq

            names = set(pq.read_schema(path).names)
            return {"timestamp", "carbon_intensity"} <= names
        opener = gzip.open if head[:2] == _GZIP_MAGIC else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            header = fh.readline()
    except (OSError, EOFError, DataFileError):
        return False
    names = {c.strip() for c in header.split(",")}
    return ({"timestamp", "carbon_intensity"} <= names) or _EM_TIME in names


def discover_traces(
    paths: Sequence[Path], *, dataset: str | None = None
) -> tuple[list[TraceSource], list[Path]]:
    """Expand files and folders into the trace files to import.

    Files named explicitly are always returned (and fail loudly later if malformed). Inside
    folders, files that are not traces (READMEs, job traces, summaries) are skipped and listed
    in the second return value. A file in a sub-folder belongs to the dataset named by that
    sub-folder; top-level files to ``dataset`` or ``default``.
    """
    found: list[TraceSource] = []
    skipped: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            root_name = dataset or (path.name if path.name in _profile_names() else "default")
            for child in sorted(_walk(path)):
                if not child.name.lower().endswith(_SUFFIXES) or not _is_trace(child):
                    skipped.append(child)
                    continue
                rel = child.parent.relative_to(path)
                ds = root_name if rel == Path(".") else (dataset or rel.as_posix())
                found.append(TraceSource(child, ds))
        elif path.exists():
            ds = dataset or (
                path.parent.name if path.parent.name in _profile_names() else "default"
            )
            found.append(TraceSource(path, ds))
        else:
            raise DataFileError(f"{path}: no such file or folder", hint="check the path")
    return found, skipped


def _profile_names() -> set[str]:
    from carbonshift.signals.datasets import PROFILES

    return set(PROFILES)


def _walk(folder: Path) -> Iterable[Path]:
    for child in folder.rglob("*"):
        if child.is_file() and not any(
            part.startswith(".") for part in child.relative_to(folder).parts
        ):
            yield child
