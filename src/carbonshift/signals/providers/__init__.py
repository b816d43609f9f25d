"""Grid-signal providers behind one interface (:class:`Provider`), and a registry by name."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from carbonshift.errors import UsageError
from carbonshift.signals.providers.base import Provider, ProviderCapabilities
from carbonshift.signals.providers.cache import ResponseCache

__all__ = ["PROVIDERS", "Provider", "ProviderCapabilities", "make_provider"]

# name -> (module, class); imported lazily so a broken optional client never blocks the CLI
PROVIDERS: dict[str, tuple[str, str]] = {
    "uk": ("carbonshift.signals.providers.uk_carbon_intensity", "UKCarbonIntensityProvider"),
    "electricitymaps": (
        "carbonshift.signals.providers.electricity_maps",
        "ElectricityMapsProvider",
    ),
    "watttime": ("carbonshift.signals.providers.watttime", "WattTimeProvider"),
    "entsoe": ("carbonshift.signals.providers.entsoe", "EntsoeProvider"),
}
ALIASES = {
    "ukci": "uk",
    "uk-carbon-intensity": "uk",
    "carbonintensity": "uk",
    "uk_carbon_intensity": "uk",
    "em": "electricitymaps",
    "electricity_maps": "electricitymaps",
    "electricity-maps": "electricitymaps",
    "entso-e": "entsoe",
    "wt": "watttime",
}


def provider_class(name: str) -> type[Provider]:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in PROVIDERS:
        raise UsageError(
            f"--provider: unknown provider {name!r}",
            hint=f"use one of {', '.join(sorted(PROVIDERS))} (or import files with `signals import`)",
        )
    module, cls = PROVIDERS[key]
    provider: type[Provider] = getattr(importlib.import_module(module), cls)
    return provider


def make_provider(
    name: str,
    *,
    cache_dir: Path | None = None,
    base_url: str | None = None,
    **kwargs: Any,
) -> Provider:
    """Build provider ``name`` with an HTTP response cache under ``cache_dir``."""
    cls = provider_class(name)
    if cache_dir is not None:
        kwargs["cache"] = ResponseCache(cache_dir)
    if base_url:
        kwargs["base_url"] = base_url
    return cls(**kwargs)
