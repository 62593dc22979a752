"""Data layer: bundled real bars, user imports, Tradier, validation, storage and time-series splits."""

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

__all__ = [
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
