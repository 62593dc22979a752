"""Strategy templates and backtests over HTTP: `GET /api/strategies`, `POST /api/backtest`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from paiid.backtest import FAMILIES, STRATEGIES
from paiid.backtest.service import backtest_symbol
from paiid.jsonutil import to_jsonable

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



class ParamRange(BaseModel):
    min: int | float
    max: int | float
    type: str = Field(..., description="int or float")


class Template(BaseModel):
    id: str
    family: str
    description: str
    params: dict[str, int | float] = Field(..., description="Default parameters.")
    ranges: dict[str, ParamRange] = Field(..., description="What the optimizer searches.")


class StrategyList(BaseModel):
    families: list[str]
    strategies: list[Template]


class Metrics(BaseModel):
    """Null where a ratio is undefined (no trades, no losing trade, no variance)."""

    model_config = ConfigDict(extra="allow")
    total_return: float | None
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float | None
    win_rate: float | None
    profit_factor: float | None
    trades: int
    exposure: float | None


class Trade(BaseModel):
    model_config = ConfigDict(extra="allow")
    entry_date: str
    exit_date: str | None
    side: str = Field(..., description="long or short")
    entry_price: float
    exit_price: float | None
    pnl: float | None
    return_: float | None = Field(..., alias="return")


class BacktestAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")
    symbol: str
    strategy_id: str
    execution_model: str = Field(
        ..., description="'ohlcv' (filled at the next open, stops on high/low) or 'close-only' (a close-only "
        "series: filled at the next close, stops, ATR, ADX and channels on closes, no volume confirmation).",
        examples=["ohlcv"],
    )
    execution: str = Field(..., description="The execution rules that ran, in one sentence.")
    metrics: Metrics
    trades: list[Trade]


@router.get("/api/strategies", response_model=StrategyList)
def strategies() -> dict[str, Any]:
    """The strategy templates with their family, default parameters, ranges and description."""
    return {"families": list(FAMILIES), "strategies": [t.describe() for t in STRATEGIES.values()]}


@router.post("/api/backtest", response_model=BacktestAnswer)
def backtest(req: BacktestRequest) -> dict[str, Any]:
    """Backtest one template on one stored symbol (same JSON as `paiid backtest --json`).

    A close-only symbol runs the close-only variant (see `execution_model`) instead of a 422."""
    payload, _, _ = backtest_symbol(
        req.symbol, req.strategy_id, start=req.start, end=req.end, params=req.params,
        commission_bps=req.commission_bps, slippage_bps=req.slippage_bps, stop=req.stop,
        take_profit=req.take_profit, fraction=req.fraction,
    )
    return to_jsonable(payload)
