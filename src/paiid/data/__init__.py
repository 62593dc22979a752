"""Data layer: bundled real bars, user imports, Tradier, validation, storage and time-series splits.

The names below are re-exported lazily (PEP 562 `__getattr__`): importing any `paiid.data.*`
module runs this file first, and importing `repository`, `splits` and `validate` here would load
pandas, numpy and pyarrow into every process that only needs the store, such as an unchanged
`paiid data import` (a third of its start-up). `from paiid.data import load_bars` works as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paiid.data.repository import (
        as_of,
        available_symbols,
        current_as_of,
        describe_symbols,
        load_bars,
        missing_columns,
        normalise_symbol,
        real_columns,
        require_columns,
        timeframe_of,
    )
    from paiid.data.splits import PurgedKFold, PurgedWalkForward, Split, chronological_split
    from paiid.data.validate import (
        BEYOND_CLOSE,
        CLOSE_ONLY,
        COLUMNS,
        MissingColumns,
        ValidationReport,
        require_history,
        validate_bars,
    )

#: Each re-exported name and the submodule that defines it.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("as_of", "available_symbols", "current_as_of", "describe_symbols", "load_bars",
                     "missing_columns", "normalise_symbol", "real_columns", "require_columns",
                     "timeframe_of"), "repository"),
    **dict.fromkeys(("PurgedKFold", "PurgedWalkForward", "Split", "chronological_split"), "splits"),
    **dict.fromkeys(("BEYOND_CLOSE", "CLOSE_ONLY", "COLUMNS", "MissingColumns", "ValidationReport",
                     "require_history", "validate_bars"), "validate"),
}

__all__ = [  # `_EXPORTS`' names, spelt out for linters and type checkers
    "BEYOND_CLOSE",
    "CLOSE_ONLY",
    "COLUMNS",
    "MissingColumns",
    "PurgedKFold",
    "PurgedWalkForward",
    "Split",
    "ValidationReport",
    "as_of",
    "available_symbols",
    "chronological_split",
    "current_as_of",
    "describe_symbols",
    "load_bars",
    "missing_columns",
    "normalise_symbol",
    "real_columns",
    "require_columns",
    "require_history",
    "timeframe_of",
    "validate_bars",
]


def __getattr__(name: str) -> Any:
    """Import the submodule defining `name` on first use, then keep the name here (no second lookup)."""
    where = _EXPORTS.get(name)
    if where == "repository":
        from paiid.data import repository as module
    elif where == "splits":
        from paiid.data import splits as module
    elif where == "validate":
        from paiid.data import validate as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
