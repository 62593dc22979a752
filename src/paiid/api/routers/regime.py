"""`GET /api/ml/market-regime`: the market regime of a symbol as of a date, with its confidence."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from paiid.api.schemas import ServedModel, Typicality
from paiid.engine import answers
from paiid.jsonutil import to_jsonable

router = APIRouter(tags=["regime"])


class RegimeFeatures(BaseModel):
    model_config = ConfigDict(extra="allow")
    volatility: float = Field(..., description="20-bar realised volatility, annualised.")
    trend_strength: float | None = Field(..., description="ADX(14), 0-100 (null for a close-only series).")
    volume_trend: str | None = Field(
        ..., description="increasing, decreasing or flat (null for a series without volume)")


class RegimeAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")
    symbol: str
    as_of: str
    current_regime: str = Field(
        ..., description="trending_bullish, trending_bearish, ranging or high_volatility")
    confidence: float = Field(
        ..., description="Forward-filtered probability of the regime (no later bar used).")
    features: RegimeFeatures
    recommended_strategies: list[str] = Field(
        ..., description="Strategy families with a positive out-of-sample Sharpe in this regime, best first.")
    model: ServedModel | None = None
    model_family: str | None = Field(
        None, description="Which models answered: 'panel (close-only features)' for a close-only series, "
                          "else the per-symbol OHLCV models.")
    typicality: Typicality | None = None
    prediction_id: int | None = Field(
        None, description="This answer's id in the prediction log (what POST /api/journal links to); null "
        "if it could not be logged.")


@router.get("/api/ml/market-regime", response_model=RegimeAnswer)
def market_regime(
    symbol: str = Query(..., description="A stored symbol, e.g. SPX.", examples=["SPX"]),
    date: str | None = Query(
        None, description="As of the close of this date, YYYY-MM-DD (default: last bar)."),
    x_user_id: str | None = Header(None, description="User id for the A/B split of the prediction log."),
) -> dict[str, Any]:
    """Market regime as of `date`: unknown symbol 404, too little history 422. Logged for `paiid track`."""
    return to_jsonable(answers.regime(symbol, date, user_id=x_user_id))
