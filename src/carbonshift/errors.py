"""One exception root for carbonshift, with subclasses that say how to fix the input.

Every error carries a one-line message that names the offending field, file, row or option
and says what to do. The CLI prints that line and exits with ``exit_code``: 2 for usage errors
(wrong options, missing credentials), 3 for data errors (bad files, unknown zones, gaps), 4 for
provider errors (the remote service refused or failed). Library code raises; it never exits.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "CarbonshiftError",
    "DataError",
    "DataFileError",
    "GapError",
    "MissingCredentialError",
    "NoDataError",
    "ProviderError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "StoreError",
    "UnknownZoneError",
    "UsageError",
]


class CarbonshiftError(Exception):
    """Root of every error carbonshift raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message and its fix, on one line, as the CLI prints it."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(CarbonshiftError, ValueError):
    """A bad option, argument or parameter value: fix the call."""

    exit_code = 2


class MissingCredentialError(UsageError):
    """A provider needs a credential that is not configured; the message names the variable."""


class DataError(CarbonshiftError, ValueError):
    """The data cannot be used as it is: a bad file, an unknown zone, a gap."""

    exit_code = 3


class DataFileError(DataError):
    """A file (or one of its rows) cannot be read as a carbon-intensity trace."""


class UnknownZoneError(DataError, KeyError):
    """No stored series matches the zone asked for."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return self.one_line()


class StaleDataError(DataError):
    """The data ends too long before the decision time to forecast from it."""


class GapError(DataError):
    """Missing values where the computation needs data; fill them explicitly or pick another span."""


class StoreError(DataError):
    """The local signal store cannot be read or written as asked."""


class ProviderError(CarbonshiftError):
    """A remote provider refused or failed the request."""

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status_code: int | None = None,
        provider: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.provider = provider
        super().__init__(message, hint=hint)


class AuthenticationError(ProviderError):
    """The provider rejected the credential (HTTP 401/403)."""


class NoDataError(ProviderError):
    """The provider has no data for this zone, signal or period (HTTP 404 or an empty answer)."""


class RateLimitedError(ProviderError):
    """The provider kept answering 429 after every retry."""


class ProviderUnavailableError(ProviderError):
    """The provider could not be reached or kept failing with 5xx after every retry."""
