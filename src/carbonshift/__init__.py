"""carbonshift: run AI batch work when and where the grid is cleanest, never past its deadline,
and prove what that saved.

The public API is what ``__all__`` lists; everything else may change between releases.
"""

from carbonshift.errors import (
    AuthenticationError,
    CarbonshiftError,
    DataError,
    DataFileError,
    GapError,
    MissingCredentialError,
    NoDataError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    StoreError,
    UnknownZoneError,
    UsageError,
)

__version__ = "0.1.0"

_LAZY = {
    "IntensitySeries": "carbonshift.signals",
    "SignalLabels": "carbonshift.signals",
    "SignalStore": "carbonshift.signals",
    "align": "carbonshift.signals",
    "fill_gaps": "carbonshift.signals",
    "find_gaps": "carbonshift.signals",
    "read_trace": "carbonshift.signals.files",
    "read_zone": "carbonshift.signals.files",
    "track": "carbonshift.accounting.tracker",
}
"""Public names loaded on first use (numpy, pandas, SQLAlchemy and psutil are not imported
by ``import carbonshift``, so that tools such as the energy probe start fast)."""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from carbonshift.accounting.tracker import track
    from carbonshift.signals import (
        IntensitySeries,
        SignalLabels,
        SignalStore,
        align,
        fill_gaps,
        find_gaps,
    )
    from carbonshift.signals.files import read_trace, read_zone


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'carbonshift' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AuthenticationError",
    "CarbonshiftError",
    "DataError",
    "DataFileError",
    "GapError",
    "IntensitySeries",
    "MissingCredentialError",
    "NoDataError",
    "ProviderError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "SignalLabels",
    "SignalStore",
    "StoreError",
    "UnknownZoneError",
    "UsageError",
    "__version__",
    "align",
    "fill_gaps",
    "find_gaps",
    "read_trace",
    "read_zone",
    "track",
]
