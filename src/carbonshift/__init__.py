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
from carbonshift.signals import (
    IntensitySeries,
    SignalLabels,
    SignalStore,
    align,
    fill_gaps,
    find_gaps,
)
from carbonshift.signals.files import read_trace, read_zone

__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from carbonshift.accounting.tracker import track


def __getattr__(name: str) -> object:
    """Heavy parts of the public API (accounting: SQLAlchemy, psutil) load on first use."""
    if name == "track":
        from carbonshift.accounting.tracker import track

        return track
    raise AttributeError(f"module 'carbonshift' has no attribute {name!r}")


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
