"""Data layer: bundled real bars, user imports, Tradier, validation, storage and time-series splits."""

from paiid.data.repository import (
    as_of,
    available_symbols,
    current_as_of,
    describe_symbols,
    load_bars,
    normalise_symbol,
    timeframe_of,
)
from paiid.data.splits import PurgedKFold, PurgedWalkForward, Split, chronological_split
from paiid.data.validate import COLUMNS, ValidationReport, require_history, validate_bars

__all__ = [
    "COLUMNS",
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
    "normalise_symbol",
    "require_history",
    "timeframe_of",
    "validate_bars",
]
