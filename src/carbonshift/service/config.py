"""The service's configuration: built-in defaults, a TOML file, then command-line overrides.

::

    [service]
    host = "127.0.0.1"          # anything but loopback needs a token
    port = 8642
    data_dir = "/var/lib/carbonshift"
    db = "postgresql://carbon@db/carbonshift"   # default: SQLite in data_dir
    replan_every = "15m"
    safety_margin = "5m"        # latest safe start = deadline − duration − margin
    dispatch_ahead = "1h"       # hand a job to its executor this long before its start
    poll_every = "2s"           # wall-clock seconds between executor polls
    max_forecast_age = "6h"     # older forecasts count as stale (a fallback)
    forecast_horizon = "24h"

    [executors.local]
    kind = "local"

    [executors.hpc]
    kind = "slurm"
    slurm_conf = "/etc/slurm/slurm.conf"

    [zones.DE]
    executor = "hpc"
    partition = "de-gpu"        # Slurm partition (default: the zone name)
    capacity_gpus = 16
    provider = "electricitymaps" # or forecast_file = ..., or history_file = ... + forecaster
    static_slot = "0 3 * * *"    # fallback when no forecast is usable
    static_tz = "Europe/Berlin"

    [zones.FR]
    history_file = "FR.csv"      # forecast by `forecaster` from the actuals known before now
    forecaster = "seasonal_24h"
    history_max_gap = "2d"       # history ending longer before now is refused (a fallback)

Unknown keys are refused with their name, so a typo never silently drops a setting.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from carbonshift.errors import UsageError
from carbonshift.timeutil import parse_duration, parse_time

__all__ = [
    "DEFAULT_PORT",
    "ExecutorConfig",
    "ServiceConfig",
    "ZoneConfig",
    "default_data_dir",
    "load_config",
]

DEFAULT_PORT = 8642
ExecutorKind = Literal["local", "slurm"]


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "carbonshift" / "service"


@dataclass(frozen=True)
class ZoneConfig:
    """One zone: where its jobs run and where its forecast comes from."""

    name: str
    executor: str = "local"
    partition: str | None = None
    capacity_gpus: int | None = None
    penalty_g: float = 0.0
    forecast_file: Path | None = None
    history_file: Path | None = None
    forecaster: str = "seasonal_24h"
    history_max_gap_s: float = 2 * 86400.0
    provider: str | None = None
    base_url: str | None = None
    provider_timeout_s: float = 10.0
    provider_retries: int = 1
    provider_options: Mapping[str, Any] = field(default_factory=dict)
    static_slot: str | None = None
    static_tz: str = "UTC"

    @property
    def source(self) -> str:
        if self.provider:
            return f"provider {self.provider}"
        if self.forecast_file is not None:
            return f"forecast file {self.forecast_file}"
        if self.history_file is not None:
            return f"{self.forecaster} on {self.history_file}"
        return "none"


@dataclass(frozen=True)
class ExecutorConfig:
    """One executor instance; ``kind`` says which class."""

    name: str
    kind: ExecutorKind = "local"
    state_dir: Path | None = None
    kill_grace_s: float = 10.0
    launch_timeout_s: float = 30.0
    slurm_conf: Path | None = None
    bin_dir: Path | None = None
    sbatch_args: tuple[str, ...] = ()
    command_timeout_s: float = 30.0
    interrupt_mode: Literal["signal", "restart"] = "signal"


@dataclass(frozen=True)
class ServiceConfig:
    """Everything ``carbonshift serve`` needs (times in seconds)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    db_url: str | None = None
    token: str | None = None
    replan_every_s: float = 900.0
    safety_margin_s: int = 300
    dispatch_ahead_s: float = 3600.0
    poll_every_s: float = 2.0
    max_forecast_age_s: float = 6 * 3600.0
    forecast_horizon_s: int = 24 * 3600
    clock_speed: float = 1.0
    clock_origin: datetime | None = None
    clock_anchor: datetime | None = None
    zones: tuple[ZoneConfig, ...] = ()
    executors: tuple[ExecutorConfig, ...] = ()
    measure: bool = True
    """Wrap each command in the energy probe and account finished jobs into the ledger."""
    probe_interval_s: float = 5.0
    probe_python: str | None = None
    """The Python that runs the probe where jobs run (default: the server's own)."""
    pue: float = 1.0

    def __post_init__(self) -> None:
        if not self.executors:
            object.__setattr__(self, "executors", (ExecutorConfig("local"),))
        if not self.zones:
            object.__setattr__(self, "zones", (ZoneConfig("local"),))
        names = {e.name for e in self.executors}
        for zone in self.zones:
            if zone.executor not in names:
                raise UsageError(
                    f"zones.{zone.name}.executor: no executor named {zone.executor!r}",
                    hint=f"define [executors.{zone.executor}] or use one of {sorted(names)}",
                )
        if self.replan_every_s <= 0 or self.poll_every_s <= 0:
            raise UsageError("replan_every / poll_every: must be positive", hint="e.g. 15m, 2s")
        if not self.probe_interval_s > 0:
            raise UsageError("service.probe_interval: must be positive", hint="e.g. 5s")
        if not self.pue >= 1.0:
            raise UsageError(f"service.pue: {self.pue} is below 1", hint="a PUE is at least 1.0")

    @property
    def database_url(self) -> str:
        """The job store: ``db_url``, else SQLite in the data directory."""
        return self.db_url or f"sqlite:///{self.data_dir.absolute() / 'jobs.db'}"

    def zone(self, name: str) -> ZoneConfig | None:
        return next((z for z in self.zones if z.name == name), None)

    def executor(self, name: str) -> ExecutorConfig:
        found = next((e for e in self.executors if e.name == name), None)
        if found is None:
            raise UsageError(f"no executor named {name!r}")
        return found

    def with_overrides(self, **changes: Any) -> ServiceConfig:
        """A copy with the given fields replaced (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _seconds(value: Any, key: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return parse_duration(value, field=key).total_seconds()
    raise UsageError(f"{key}: expected a duration such as 15m, not {value!r}")


def _take(table: Mapping[str, Any], allowed: set[str], where: str) -> dict[str, Any]:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise UsageError(
            f"{where}: unknown key {unknown[0]!r}", hint=f"known keys: {', '.join(sorted(allowed))}"
        )
    return dict(table)


def _path(value: Any, base: Path) -> Path:
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else (base / p)


_ZONE_KEYS = {
    "executor",
    "partition",
    "capacity_gpus",
    "penalty_g",
    "forecast_file",
    "history_file",
    "forecaster",
    "history_max_gap",
    "provider",
    "base_url",
    "provider_timeout",
    "provider_retries",
    "provider_options",
    "static_slot",
    "static_tz",
}
_EXECUTOR_KEYS = {
    "kind",
    "state_dir",
    "kill_grace",
    "launch_timeout",
    "slurm_conf",
    "bin_dir",
    "sbatch_args",
    "command_timeout",
    "interrupt_mode",
}
_SERVICE_KEYS = {
    "host",
    "port",
    "data_dir",
    "db",
    "replan_every",
    "safety_margin",
    "dispatch_ahead",
    "poll_every",
    "max_forecast_age",
    "forecast_horizon",
    "measure",
    "probe_interval",
    "probe_python",
    "pue",
}


def _zone(name: str, raw: Mapping[str, Any], base: Path) -> ZoneConfig:
    t = _take(raw, _ZONE_KEYS, f"zones.{name}")
    where = f"zones.{name}"
    cap = t.get("capacity_gpus")
    if cap is not None and (not isinstance(cap, int) or cap < 0):
        raise UsageError(f"{where}.capacity_gpus: expected a whole number >= 0, not {cap!r}")
    max_gap_s = _seconds(t.get("history_max_gap", "2d"), f"{where}.history_max_gap")
    if not max_gap_s > 0:
        raise UsageError(f"{where}.history_max_gap: must be positive", hint="e.g. 2d")
    return ZoneConfig(
        name=name,
        executor=str(t.get("executor", "local")),
        partition=None if t.get("partition") is None else str(t["partition"]),
        capacity_gpus=cap,
        penalty_g=float(t.get("penalty_g", 0.0)),
        forecast_file=_path(t["forecast_file"], base) if "forecast_file" in t else None,
        history_file=_path(t["history_file"], base) if "history_file" in t else None,
        forecaster=str(t.get("forecaster", "seasonal_24h")),
        history_max_gap_s=max_gap_s,
        provider=None if t.get("provider") is None else str(t["provider"]),
        base_url=None if t.get("base_url") is None else str(t["base_url"]),
        provider_timeout_s=_seconds(t.get("provider_timeout", 10.0), f"{where}.provider_timeout"),
        provider_retries=int(t.get("provider_retries", 1)),
        provider_options=dict(t.get("provider_options", {})),
        static_slot=None if t.get("static_slot") is None else str(t["static_slot"]),
        static_tz=str(t.get("static_tz", "UTC")),
    )


def _executor(name: str, raw: Mapping[str, Any], base: Path) -> ExecutorConfig:
    t = _take(raw, _EXECUTOR_KEYS, f"executors.{name}")
    where = f"executors.{name}"
    kind = str(t.get("kind", "local"))
    if kind not in ("local", "slurm"):
        raise UsageError(f"{where}.kind: {kind!r} is not an executor", hint="local or slurm")
    mode = str(t.get("interrupt_mode", "signal"))
    if mode not in ("signal", "restart"):
        raise UsageError(f"{where}.interrupt_mode: {mode!r}", hint="signal or restart")
    return ExecutorConfig(
        name=name,
        kind="local" if kind == "local" else "slurm",
        state_dir=_path(t["state_dir"], base) if "state_dir" in t else None,
        kill_grace_s=_seconds(t.get("kill_grace", 10.0), f"{where}.kill_grace"),
        launch_timeout_s=_seconds(t.get("launch_timeout", 30.0), f"{where}.launch_timeout"),
        slurm_conf=_path(t["slurm_conf"], base) if "slurm_conf" in t else None,
        bin_dir=_path(t["bin_dir"], base) if "bin_dir" in t else None,
        sbatch_args=tuple(str(a) for a in t.get("sbatch_args", ())),
        command_timeout_s=_seconds(t.get("command_timeout", 30.0), f"{where}.command_timeout"),
        interrupt_mode="signal" if mode == "signal" else "restart",
    )


def parse_config(data: Mapping[str, Any], *, base: Path) -> ServiceConfig:
    """A :class:`ServiceConfig` from parsed TOML; relative paths are relative to ``base``."""
    top = _take(data, {"service", "executors", "zones", "clock"}, "config")
    svc = _take(top.get("service", {}), _SERVICE_KEYS, "service")
    clock = _take(top.get("clock", {}), {"speed", "origin", "anchor"}, "clock")
    kwargs: dict[str, Any] = {}
    if "host" in svc:
        kwargs["host"] = str(svc["host"])
    if "port" in svc:
        kwargs["port"] = int(svc["port"])
    if "data_dir" in svc:
        kwargs["data_dir"] = _path(svc["data_dir"], base)
    if "db" in svc:
        kwargs["db_url"] = str(svc["db"])
    for key, target in (
        ("replan_every", "replan_every_s"),
        ("dispatch_ahead", "dispatch_ahead_s"),
        ("poll_every", "poll_every_s"),
        ("max_forecast_age", "max_forecast_age_s"),
    ):
        if key in svc:
            kwargs[target] = _seconds(svc[key], f"service.{key}")
    if "safety_margin" in svc:
        kwargs["safety_margin_s"] = round(_seconds(svc["safety_margin"], "service.safety_margin"))
    if "forecast_horizon" in svc:
        kwargs["forecast_horizon_s"] = round(
            _seconds(svc["forecast_horizon"], "service.forecast_horizon")
        )
    if "measure" in svc:
        if not isinstance(svc["measure"], bool):
            raise UsageError(f"service.measure: expected true or false, not {svc['measure']!r}")
        kwargs["measure"] = svc["measure"]
    if "probe_interval" in svc:
        kwargs["probe_interval_s"] = _seconds(svc["probe_interval"], "service.probe_interval")
    if "probe_python" in svc:
        kwargs["probe_python"] = str(svc["probe_python"])
    if "pue" in svc:
        pue = svc["pue"]
        if isinstance(pue, bool) or not isinstance(pue, int | float):
            raise UsageError(f"service.pue: expected a number such as 1.2, not {pue!r}")
        kwargs["pue"] = float(pue)
    if "speed" in clock:
        kwargs["clock_speed"] = float(clock["speed"])
    if "origin" in clock:
        kwargs["clock_origin"] = parse_time(str(clock["origin"]), field="clock.origin")
    if "anchor" in clock:
        kwargs["clock_anchor"] = parse_time(str(clock["anchor"]), field="clock.anchor")
    executors = tuple(_executor(n, t, base) for n, t in dict(top.get("executors", {})).items())
    zones = tuple(_zone(n, t, base) for n, t in dict(top.get("zones", {})).items())
    return ServiceConfig(zones=zones, executors=executors, **kwargs)


def load_config(path: Path) -> ServiceConfig:
    """Read a TOML configuration file (see the module docstring)."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"--config: {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"--config: {path} is not valid TOML: {exc}") from None
    return parse_config(data, base=path.parent.absolute())
