"""The errors a user can cause, each mapped once to a CLI exit code and an HTTP status.

Everything a user can get wrong raises a `PaiidError` subclass whose message says what to do;
the CLI prints it as `error: ...` with exit 2 and the API answers `{"detail": ...}` with the status.
"""

from __future__ import annotations


class PaiidError(Exception):
    """Base class: a problem with the user's input or state, not a bug."""

    status_code: int = 422
    exit_code: int = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple:
        """Pickle as (class, message, attributes) so subclasses whose `__init__` takes other arguments
        than the message (`UnknownSymbol(symbol)`, `NotEnoughHistory(what, needed, available)`) come
        back from a worker process as themselves, with the same message and fields."""
        return _unpickle, (type(self), self.message), self.__dict__


def _unpickle(cls: type[PaiidError], message: str) -> PaiidError:
    """A `cls` carrying `message`, built without `cls.__init__`; pickle then restores its fields."""
    error = cls.__new__(cls)
    PaiidError.__init__(error, message)
    return error


class BadInput(PaiidError):
    """Bad parameters, unknown strategy id, malformed file, ..."""


class UnknownSymbol(PaiidError):
    status_code = 404

    def __init__(self, symbol: str, known: list[str] | None = None):
        hint = f"; known symbols: {', '.join(sorted(known))}" if known else ""
        super().__init__(
            f"unknown symbol {symbol!r}{hint}. Import it with `paiid data import FILE --symbol {symbol}` "
            f"or fetch it with `paiid data fetch {symbol}`"
        )
        self.symbol = symbol


class NotEnoughHistory(PaiidError):
    def __init__(self, what: str, needed: int, available: int):
        super().__init__(
            f"{what} needs at least {needed} bars of history, but only {available} are available"
        )
        self.needed = needed
        self.available = available


class DataValidationError(PaiidError):
    """One or more problems found in a bar series; `problems` lists each one precisely."""

    def __init__(self, problems: list[str], source: str = "data"):
        self.problems = problems
        super().__init__(f"{source} rejected: " + "; ".join(problems))


class ModelError(PaiidError):
    """A model file is missing, corrupt, tampered with or of an untrusted type."""

    status_code = 503
    exit_code = 1


class AuthError(PaiidError):
    status_code = 401


class UpstreamError(PaiidError):
    """A remote data provider (Tradier) refused or sent something we cannot use."""

    status_code = 502
    exit_code = 1
