"""Health and data endpoints."""

from __future__ import annotations

from fastapi import APIRouter

from paiid import __version__

router = APIRouter(tags=["system"])


@router.get("/health")
def health() -> dict:
    return {"status": "ok", "version": __version__}


@router.get("/api/data/symbols")
def symbols() -> dict:
    """Every available symbol with source, timeframe, date range and bar count."""
    from paiid.data import describe_symbols

    return {"symbols": describe_symbols()}
