"""The local signal store: a cache on disk so repeated queries never refetch or reparse.

Layout: one Parquet file per series, ``<root>/<dataset>/<zone>/<variant>.parquet``, holding the
regular grid (``timestamp`` UTC, ``carbon_intensity``, ``filled``) with the series' labels and
its import history in the file's schema metadata. Why Parquet files rather than one database:

- each series is read whole and columnar (a year of 5-minute data loads in about a millisecond),
  which is exactly the access pattern of planning and replay;
- a file is replaced atomically (write a temporary file, fsync, ``os.replace``), so a failed or
  interrupted import can never leave a half-written series, and readers never lock writers out;
- the files are plain, portable and readable by pandas, DuckDB, Spark or R without carbonshift.

A small JSON manifest (``imports.json``) remembers the size, modification time and SHA-256 of
every file imported, so importing an unchanged file again costs a ``stat`` and no parse.
Writers take an exclusive ``fcntl`` lock on ``<root>/.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from carbonshift.errors import StoreError, UnknownZoneError
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = ["SeriesInfo", "SignalStore"]

_META_KEY = b"carbonshift"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-+]*$")


def _check_name(kind: str, name: str) -> str:
    parts = name.split("/")
    if not name or not all(_SAFE.match(p) for p in parts):
        raise StoreError(
            f"{kind} name {name!r} cannot be stored",
            hint="use letters, digits and - _ . + (and / between folder levels for datasets)",
        )
    return name


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """What the store knows about one series without loading its values."""

    dataset: str
    zone: str
    variant: str
    labels: SignalLabels
    start_s: int
    end_s: int
    resolution_s: int
    rows: int
    missing: int
    sources: tuple[str, ...]
    path: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "zone": self.zone,
            "variant": self.variant,
            "labels": self.labels.to_dict(),
            "start": format_time(from_epoch_s(self.start_s)),
            "end": format_time(from_epoch_s(self.end_s)),
            "resolution_s": self.resolution_s,
            "rows": self.rows,
            "missing": self.missing,
            "sources": list(self.sources),
        }


class SignalStore:
    """Series on disk under ``root``; safe for many readers and one writer at a time."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()

    # ----------------------------------------------------------------- paths and locking
    def _path(self, dataset: str, zone: str, variant: str) -> Path:
        return (
            self.root
            / _check_name("dataset", dataset)
            / _check_name("zone", zone)
            / f"{_check_name('variant', variant)}.parquet"
        )

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive writer lock for the whole store."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ----------------------------------------------------------------- manifest of imports
    def _manifest_path(self) -> Path:
        return self.root / "imports.json"

    def _manifest(self) -> dict[str, Any]:
        try:
            data = json.loads(self._manifest_path().read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # a lost manifest only costs a re-parse; never fatal
        return data if isinstance(data, dict) else {}

    @staticmethod
    def fingerprint(path: Path) -> dict[str, Any]:
        st = path.stat()
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}

    def unchanged_since_import(self, path: Path, dataset: str) -> bool:
        """True when ``path`` was imported into ``dataset`` and has not changed since."""
        entry = self._manifest().get(str(path.resolve()))
        if not entry or entry.get("dataset") != dataset:
            return False
        fp = self.fingerprint(path)
        if entry.get("size") != fp["size"]:
            return False
        if entry.get("mtime_ns") == fp["mtime_ns"]:
            return all(self._path(dataset, z, v).exists() for z, v in entry.get("series", []))
        return bool(entry.get("sha256") == _sha256(path))

    def record_import(self, path: Path, dataset: str, series: list[tuple[str, str]]) -> None:
        manifest = self._manifest()
        manifest[str(path.resolve())] = {
            **self.fingerprint(path),
            "sha256": _sha256(path),
            "dataset": dataset,
            "series": series,
            "imported_at": format_time(datetime.now(UTC)),
        }
        _atomic_write_bytes(self._manifest_path(), json.dumps(manifest, indent=1).encode())

    # ----------------------------------------------------------------- writing
    def put(
        self,
        series: IntensitySeries,
        *,
        dataset: str = "default",
        variant: str = "actual",
        source: str = "",
        merge: bool = True,
    ) -> Path:
        """Store ``series``; with ``merge``, new values replace old ones where they overlap and
        the rest is kept. Refuses to mix series whose labels mean different things.

        Call inside :meth:`lock` when several processes may write.
        """
        path = self._path(dataset, series.zone, variant)
        sources: list[str] = []
        if path.exists() and merge:
            old, old_sources = self._read(path)
            _check_compatible(
                f"{dataset}/{series.zone}/{variant}", old.labels, old.resolution_s, series
            )
            series = _merge(old, series)
            sources = list(old_sources)
        if source and source not in sources:
            sources.append(source)
        _write_series(path, series, sources)
        return path

    def check_put(self, series: IntensitySeries, *, dataset: str, variant: str) -> None:
        """Raise the error :meth:`put` would raise for ``series``, without writing anything."""
        path = self._path(dataset, series.zone, variant)
        if not path.exists():
            return
        try:
            meta = _meta(pq.read_schema(path).metadata)
        except (OSError, pa.ArrowException):
            return  # an unreadable file is replaced by put; nothing to protect
        if meta:
            _check_compatible(
                f"{dataset}/{series.zone}/{variant}",
                SignalLabels.from_dict(meta["labels"]),
                int(meta["resolution_s"]),
                series,
            )

    def delete(self, zone: str, *, dataset: str = "default", variant: str | None = None) -> int:
        """Remove a zone's series (one variant or all); returns how many files went."""
        folder = self.root / _check_name("dataset", dataset) / _check_name("zone", zone)
        targets = [folder / f"{variant}.parquet"] if variant else list(folder.glob("*.parquet"))
        count = 0
        for target in targets:
            if target.exists():
                target.unlink()
                count += 1
        return count

    # ----------------------------------------------------------------- reading
    def _read(self, path: Path) -> tuple[IntensitySeries, list[str]]:
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(
                f"{path}: stored series cannot be read ({type(exc).__name__})",
                hint="delete it and import the source again",
            ) from None
        meta = _meta(table.schema.metadata)
        values = table.column("carbon_intensity").to_numpy(zero_copy_only=False).astype(np.float64)
        filled_col = table.column("filled").to_numpy(zero_copy_only=False).astype(bool)
        labels = SignalLabels.from_dict(meta["labels"])
        series = IntensitySeries(
            int(meta["start_s"]),
            int(meta["resolution_s"]),
            values,
            labels,
            filled_col if filled_col.any() else None,
        )
        return series, list(meta.get("sources", []))

    def load(
        self, zone: str, *, dataset: str | None = None, variant: str = "actual"
    ) -> IntensitySeries:
        """A stored series. Without ``dataset``, the zone's only dataset, else ``default``."""
        ds = dataset or self.resolve_dataset(zone, variant=variant)
        path = self._path(ds, zone, variant)
        if not path.exists():
            raise UnknownZoneError(
                f"no stored series for zone {zone!r} (dataset {ds}, variant {variant})",
                hint="see `carbonshift signals list`, or import it with `carbonshift signals import`",
            )
        return self._read(path)[0]

    def resolve_dataset(self, zone: str, *, variant: str = "actual") -> str:
        """Which dataset ``zone`` means when none is named."""
        datasets = (
            sorted(
                p.parent.parent.relative_to(self.root).as_posix()
                for p in self.root.glob(f"**/{zone}/{variant}.parquet")
            )
            if self.root.exists() and _SAFE.match(zone)
            else []
        )
        if not datasets:
            from carbonshift.signals.files import suggest_zones

            known = sorted({i.zone for i in self.catalog()})
            raise UnknownZoneError(
                f"unknown zone {zone!r}: nothing stored under that name",
                hint=(
                    suggest_zones(zone, known)
                    if known
                    else "the store is empty; run `carbonshift signals import PATH` first"
                ),
            )
        if len(datasets) == 1:
            return datasets[0]
        if "default" in datasets:
            return "default"
        raise UnknownZoneError(
            f"zone {zone!r} is stored in several datasets: {', '.join(datasets)}",
            hint="name one with --dataset",
        )

    def catalog(self) -> list[SeriesInfo]:
        """Every stored series, from the Parquet footers only (values are not read)."""
        if not self.root.exists():
            return []
        out = []
        for path in sorted(self.root.glob("**/*.parquet")):
            try:
                schema = pq.read_schema(path)
                rows = pq.read_metadata(path).num_rows
            except (OSError, pa.ArrowException):
                continue
            meta = _meta(schema.metadata)
            if not meta:
                continue
            rel = path.relative_to(self.root)
            out.append(
                SeriesInfo(
                    dataset="/".join(rel.parts[:-2]),
                    zone=rel.parts[-2],
                    variant=path.stem,
                    labels=SignalLabels.from_dict(meta["labels"]),
                    start_s=int(meta["start_s"]),
                    end_s=int(meta["start_s"]) + int(meta["resolution_s"]) * rows,
                    resolution_s=int(meta["resolution_s"]),
                    rows=rows,
                    missing=int(meta.get("missing", 0)),
                    sources=tuple(meta.get("sources", [])),
                    path=path,
                )
            )
        return out


# --------------------------------------------------------------------- helpers
def _meta(raw: dict[bytes, bytes] | None) -> dict[str, Any]:
    if not raw or _META_KEY not in raw:
        return {}
    data = json.loads(raw[_META_KEY])
    return data if isinstance(data, dict) else {}


def _check_compatible(
    key: str, labels: SignalLabels, resolution_s: int, series: IntensitySeries
) -> None:
    if not labels.comparable_with(series.labels) or labels.kind != series.labels.kind:
        raise StoreError(
            f"{key} holds {labels.describe()}; refusing to merge {series.labels.describe()}",
            hint="import it under another dataset name (--dataset NAME)",
        )
    if resolution_s != series.resolution_s:
        raise StoreError(
            f"{key} is stored at {resolution_s} s steps; the new data has "
            f"{series.resolution_s} s steps",
            hint="resample before importing, or use another --dataset",
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _merge(old: IntensitySeries, new: IntensitySeries) -> IntensitySeries:
    res = old.resolution_s
    if (new.start_s - old.start_s) % res:
        raise StoreError(
            f"{new.zone}: new data is not on the stored {res} s grid",
            hint="align the timestamps to the stored steps",
        )
    lo, hi = min(old.start_s, new.start_s), max(old.end_s, new.end_s)
    n = (hi - lo) // res
    values = np.full(n, np.nan)
    filled = np.zeros(n, dtype=bool)
    for s in (old, new):  # later wins where it has a value
        i0 = (s.start_s - lo) // res
        known = ~np.isnan(s.values)
        values[i0 : i0 + len(s)][known] = s.values[known]
        if s.filled is not None:
            filled[i0 : i0 + len(s)][known] = s.filled[known]
        else:
            filled[i0 : i0 + len(s)][known] = False
    return IntensitySeries(lo, res, values, new.labels, filled if filled.any() else None)


def _atomic_write_bytes(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_series(path: Path, series: IntensitySeries, sources: list[str]) -> None:
    meta = {
        "labels": series.labels.to_dict(),
        "start_s": series.start_s,
        "resolution_s": series.resolution_s,
        "missing": int(np.isnan(series.values).sum()),
        "sources": sources,
        "format": 1,
    }
    filled = series.filled if series.filled is not None else np.zeros(len(series), dtype=bool)
    table = pa.table(
        {
            "timestamp": pa.array(series.times_s, type=pa.timestamp("s", tz="UTC")),
            "carbon_intensity": pa.array(series.values, type=pa.float64()),
            "filled": pa.array(filled, type=pa.bool_()),
        }
    ).replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    _atomic_write_bytes(path, sink.getvalue().to_pybytes())
