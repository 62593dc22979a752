"""Health and data endpoints.

Response models are declared so that `/openapi.json` documents the shapes clients rely on
(the same fields as `paiid data list --json`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from paiid import __version__
from paiid.data import describe_symbols

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str = Field(description="'ok' when the process serves requests.")
    version: str


class SymbolInfo(BaseModel):
    symbol: str
    source: str = Field(description="Where the bars come from: a bundled package, a file or 'tradier'.")
    timeframe: str = Field(description="'daily', 'hourly' or e.g. '15min'.")
    first: str = Field(description="Timestamp of the first bar (ISO 8601, UTC).")
    last: str = Field(description="Timestamp of the last bar (ISO 8601, UTC).")
    bars: int
    columns: list[str] = Field(
        description="The real bar columns: all of open, high, low, close, volume, or ['close'] for a "
        "close-only series (index levels, adjusted closes, fund NAVs), whose other columns are absent, "
        "never filled in."
    )


class SymbolList(BaseModel):
    symbols: list[SymbolInfo]


# decorators register bottom-up: GET first, because a request with another method is answered by the
# first route on its path, whose methods make the 405's `Allow` header
@router.head("/health", response_model=Health, operation_id="health_head")
@router.get("/health", response_model=Health)
def health() -> dict[str, str]:
    """Liveness: answers without touching models or data (HEAD too, as uptime monitors send it)."""
    return {"status": "ok", "version": __version__}


@router.get("/api/data/symbols", response_model=SymbolList)
def symbols() -> dict[str, Any]:
    """Every available symbol with source, timeframe, date range and bar count."""
    return {"symbols": describe_symbols()}
