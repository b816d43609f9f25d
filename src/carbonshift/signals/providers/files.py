"""Files and folders as a provider: the trace format of DESIGN.md and Electricity Maps'
data-portal CSV export. History only; a file's forecast column (if its dataset profile has
one) is served as a stitched fixed-lead forecast."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from carbonshift.errors import UsageError
from carbonshift.signals.files import list_zone_files, read_zone
from carbonshift.signals.providers.base import Provider, ProviderCapabilities
from carbonshift.signals.series import IntensitySeries

__all__ = ["FileProvider"]


class FileProvider(Provider):
    """Reads ``<zone>.csv[.gz]`` / ``<zone>.parquet`` files from one folder."""

    capabilities = ProviderCapabilities(
        name="files",
        history=True,
        forecast=False,
        forecast_horizon=None,
        resolution=timedelta(hours=1),
        signal="average",
        accounting="lifecycle",
        basis="consumption",
        auth="none",
        zones_hint="the file names of the folder",
    )

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        if not self.data_dir.is_dir():
            raise UsageError(
                f"data folder {self.data_dir} does not exist",
                hint="set --data or CARBONSHIFT_DATA to a folder of zone traces",
            )

    def zones(self) -> list[str]:
        return sorted(list_zone_files(self.data_dir))

    def history(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return read_zone(self.data_dir, zone).slice(start, end)
