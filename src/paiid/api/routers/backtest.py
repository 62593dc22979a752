"""Strategy templates and backtests (filled in by the backtest issue)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["backtest"])


@router.get("/api/strategies")
def strategies() -> dict:
    """The strategy templates with their parameters and ranges."""
    return {"strategies": []}
