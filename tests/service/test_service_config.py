"""The service's configuration file and clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carbonshift.errors import UsageError
from carbonshift.service.clock import ManualClock, ScaledClock, SystemClock, make_clock
from carbonshift.service.config import ServiceConfig, ZoneConfig, load_config


def test_toml_config_with_executors_and_zones(tmp_path: Path) -> None:
    path = tmp_path / "service.toml"
    path.write_text(
        """
[service]
host = "127.0.0.1"
port = 9000
db = "postgresql://carbon@db/carbonshift"
replan_every = "10m"
safety_margin = "2m"
dispatch_ahead = "30m"

[clock]
speed = 60
origin = "2022-06-01T00:00Z"

[executors.local]
kind = "local"

[executors.hpc]
kind = "slurm"
slurm_conf = "slurm.conf"
interrupt_mode = "restart"

[zones.DE]
executor = "hpc"
partition = "de-gpu"
capacity_gpus = 16
provider = "electricitymaps"
static_slot = "0 3 * * *"
static_tz = "Europe/Berlin"

[zones.FR]
forecast_file = "FR.csv"

[zones.NL]
history_file = "NL.csv"
history_max_gap = "6h"
""",
        encoding="utf-8",
    )
    cfg = load_config(path)
    assert (cfg.port, cfg.replan_every_s, cfg.safety_margin_s, cfg.dispatch_ahead_s) == (
        9000,
        600.0,
        120,
        1800.0,
    )
    assert cfg.database_url == "postgresql://carbon@db/carbonshift"
    assert cfg.clock_speed == 60 and cfg.clock_origin == datetime(2022, 6, 1, tzinfo=UTC)
    hpc = cfg.executor("hpc")
    assert hpc.kind == "slurm" and hpc.slurm_conf == tmp_path / "slurm.conf"
    assert hpc.interrupt_mode == "restart"
    de = cfg.zone("DE")
    assert de is not None and de.partition == "de-gpu" and de.capacity_gpus == 16
    fr = cfg.zone("FR")
    assert fr is not None and fr.executor == "local" and fr.forecast_file == tmp_path / "FR.csv"
    assert fr.history_max_gap_s == 2 * 86400  # the default
    nl = cfg.zone("NL")
    assert nl is not None and nl.history_max_gap_s == 6 * 3600


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[service]\nreplan = "5m"\n', "unknown key 'replan'"),
        ('[zones.DE]\nexecutor = "nope"\n', "no executor named 'nope'"),
        ("[zones.DE]\ncapacity_gpus = -2\n", "capacity_gpus"),
        ('[executors.x]\nkind = "k8s"\n', "kind"),
        ('[service]\nreplan_every = "soon"\n', "service.replan_every"),
        ("[service\n", "not valid TOML"),
        ('[zones.DE]\nhistory_max_gap = "0s"\n', "zones.DE.history_max_gap: must be positive"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        load_config(path)


def test_defaults_are_the_embedded_service(tmp_path: Path) -> None:
    cfg = ServiceConfig(data_dir=tmp_path)
    assert cfg.host == "127.0.0.1" and cfg.replan_every_s == 900.0
    assert cfg.database_url == f"sqlite:///{tmp_path.absolute() / 'jobs.db'}"
    assert [e.kind for e in cfg.executors] == ["local"]
    assert [z.name for z in cfg.zones] == ["local"] and cfg.zones[0].source == "none"
    assert ZoneConfig("X", forecast_file=Path("x.csv")).source == "forecast file x.csv"


def test_clocks() -> None:
    origin = datetime(2022, 6, 1, tzinfo=UTC)
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    fast = ScaledClock(60, origin, anchor)
    assert fast.from_wall(anchor + timedelta(seconds=10)) == origin + timedelta(minutes=10)
    assert fast.wall_seconds(600) == 10
    same = ScaledClock(2, anchor)
    assert same.from_wall(anchor + timedelta(seconds=5)) == anchor + timedelta(seconds=10)
    assert isinstance(make_clock(), SystemClock)
    assert isinstance(make_clock(40, origin), ScaledClock)
    manual = ManualClock(origin)
    manual.advance(timedelta(hours=1))
    assert manual.now() == origin + timedelta(hours=1) == manual.from_wall(anchor)
    with pytest.raises(UsageError):
        ScaledClock(0, origin)
