"""The local store: round trips of every shared trace, merges, and failed imports that lose nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carbonshift.errors import DataFileError, StoreError, UnknownZoneError
from carbonshift.signals.importer import import_paths
from carbonshift.signals.labels import SignalLabels
from carbonshift.signals.series import IntensitySeries
from carbonshift.signals.store import SignalStore

T0 = 1_640_995_200  # 2022-01-01T00:00Z


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture(scope="module")
def full_store(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> SignalStore:
    store = SignalStore(tmp_path_factory.mktemp("store"))
    report = import_paths(store, [data_dir])
    assert not report.failed
    return store


def test_every_shared_trace_round_trips(full_store: SignalStore, data_dir: Path) -> None:
    """Values read back from the store equal the files' values, read independently by pandas."""
    files = sorted(p for p in data_dir.rglob("*.csv.gz") if "jobs" not in p.parts)
    assert len(files) >= 130
    for path in files:
        frame = pd.read_csv(path)
        dataset = "default" if path.parent == data_dir else path.parent.name
        series = full_store.load(path.name.removesuffix(".csv.gz"), dataset=dataset)
        stamps = pd.to_datetime(frame["timestamp"], utc=True)
        times = ((stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy()
        idx = (times - series.start_s) // series.resolution_s
        np.testing.assert_array_equal(
            series.values[idx], frame["carbon_intensity"].to_numpy(), err_msg=str(path)
        )
        # steps absent from the file, and only those, are gaps
        assert int(np.isnan(series.values).sum()) == len(series) - len(frame), path


def test_catalog_lists_labels_without_loading(full_store: SignalStore) -> None:
    infos = {(i.dataset, i.zone, i.variant): i for i in full_store.catalog()}
    de = infos[("default", "DE", "actual")]
    assert (de.rows, de.resolution_s, de.labels.accounting) == (26280, 3600, "lifecycle")
    assert infos[("default", "DE", "direct")].labels.accounting == "direct"
    moer = infos[("watttime_moer", "CAISO_NORTH", "actual")]
    assert moer.labels.signal == "marginal"
    assert infos[("dacf", "DE", "forecast")].labels.kind == "forecast"


def test_zone_in_several_datasets_prefers_default(full_store: SignalStore) -> None:
    assert full_store.resolve_dataset("DE") == "default"
    assert full_store.resolve_dataset("CAISO_NORTH") == "watttime_moer"
    with pytest.raises(UnknownZoneError, match="unknown zone 'XX-NOPE'"):
        full_store.load("XX-NOPE")


def test_reimport_of_unchanged_files_reads_nothing(full_store: SignalStore, data_dir: Path) -> None:
    report = import_paths(full_store, [data_dir])
    assert report.files == 0 and len(report.unchanged) >= 130


def test_failed_import_leaves_the_store_untouched(tmp_path: Path) -> None:
    store = SignalStore(tmp_path / "store")
    good = tmp_path / "in" / "AA.csv"
    good.parent.mkdir()
    good.write_text("timestamp,carbon_intensity\n2022-01-01T00:00:00Z,1\n2022-01-01T01:00:00Z,2\n")
    import_paths(store, [good])
    before = snapshot(store.root)
    # a folder with a changed good file and one bad file: nothing may be written
    good.write_text("timestamp,carbon_intensity\n2022-01-01T00:00:00Z,9\n2022-01-01T01:00:00Z,9\n")
    (tmp_path / "in" / "BB.csv").write_text("timestamp,carbon_intensity\n2022-01-01T00:00:00Z,-1\n")
    with pytest.raises(DataFileError, match="BB.csv"):
        import_paths(store, [tmp_path / "in"])
    assert snapshot(store.root) == before
    assert list(store.load("AA").values) == [1.0, 2.0]
    # with keep_going the good file goes in and the bad one is reported
    report = import_paths(store, [tmp_path / "in"], keep_going=True)
    assert [p.name for p, _ in report.failed] == ["BB.csv"]
    assert list(store.load("AA").values) == [9.0, 9.0]


def test_merge_extends_and_overrides(tmp_path: Path) -> None:
    store = SignalStore(tmp_path)
    lab = SignalLabels(zone="M")
    store.put(IntensitySeries(T0, 3600, np.array([1.0, 2.0, 3.0]), lab))
    store.put(IntensitySeries(T0 + 7200, 3600, np.array([30.0, 40.0]), lab))
    store.put(IntensitySeries(T0 + 6 * 3600, 3600, np.array([60.0]), lab))
    s = store.load("M")
    np.testing.assert_array_equal(s.values[:5], [1, 2, 30, 40, np.nan])
    assert s.values[6] == 60 and len(s) == 7


def test_merge_refuses_other_meanings_and_resolutions(tmp_path: Path) -> None:
    store = SignalStore(tmp_path)
    store.put(IntensitySeries(T0, 3600, np.ones(3), SignalLabels(zone="M")))
    before = snapshot(tmp_path)
    with pytest.raises(StoreError, match="refusing to merge"):
        store.put(IntensitySeries(T0, 3600, np.ones(3), SignalLabels(zone="M", signal="marginal")))
    with pytest.raises(StoreError, match="900 s steps"):
        store.put(IntensitySeries(T0, 900, np.ones(3), SignalLabels(zone="M")))
    assert snapshot(tmp_path) == before


def test_unsafe_names_are_refused(tmp_path: Path) -> None:
    store = SignalStore(tmp_path)
    with pytest.raises(StoreError, match="cannot be stored"):
        store.put(IntensitySeries(T0, 3600, np.ones(2), SignalLabels(zone="../evil")))


def test_corrupt_series_file_is_reported_not_crashing(tmp_path: Path) -> None:
    store = SignalStore(tmp_path)
    path = store.put(IntensitySeries(T0, 3600, np.ones(2), SignalLabels(zone="C")))
    path.write_bytes(b"PAR1 garbage")
    with pytest.raises(StoreError, match="cannot be read"):
        store.load("C", dataset="default")
