"""Strategy templates and backtests over HTTP: `GET /api/strategies`, `POST /api/backtest`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

router = APIRouter(tags=["backtest"])


class BacktestRequest(BaseModel):
    """Body of `POST /api/backtest`; everything but symbol and strategy_id is optional."""

    symbol: str = Field(..., examples=["SPX"])
    strategy_id: str = Field(..., examples=["trend-following-ma-cross"])
    start: str | None = Field(None, description="First date, YYYY-MM-DD (default: the first bar).")
    end: str | None = Field(None, description="Last date, YYYY-MM-DD (default: the last bar).")
    params: dict[str, float] = Field(
        default_factory=dict, description="Template parameters, see /api/strategies.",
        examples=[{"fast": 20, "slow": 50}],
    )
    commission_bps: float = Field(1.0, ge=0, le=1000, description="Commission per side in basis points.")
    slippage_bps: float = Field(1.0, ge=0, le=1000, description="Slippage per fill in basis points.")
    stop: str | None = Field(None, description="Stop-loss, e.g. '5%' or '2atr'.")
    take_profit: str | None = Field(None, description="Take-profit, e.g. '10%' or '3atr'.")
    fraction: float = Field(1.0, gt=0, le=1, description="Share of equity committed per trade.")


@router.get("/api/strategies")
def strategies() -> dict[str, Any]:
    """The strategy templates with their family, default parameters, ranges and description."""
    from paiid.backtest import FAMILIES, STRATEGIES

    return {"families": list(FAMILIES), "strategies": [t.describe() for t in STRATEGIES.values()]}


@router.post("/api/backtest")
def backtest(req: BacktestRequest) -> dict[str, Any]:
    """Backtest one template on one stored symbol (same JSON as `paiid backtest --json`)."""
    from paiid.backtest.service import backtest_symbol
    from paiid.jsonutil import to_jsonable

    payload, _, _ = backtest_symbol(
        req.symbol, req.strategy_id, start=req.start, end=req.end, params=req.params,
        commission_bps=req.commission_bps, slippage_bps=req.slippage_bps, stop=req.stop,
        take_profit=req.take_profit, fraction=req.fraction,
    )
    return to_jsonable(payload)
