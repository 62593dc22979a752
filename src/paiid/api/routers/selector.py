"""Strategy recommendation and trade win-probability over HTTP.

`GET /api/ml/recommend-strategy?symbol=SPX[&date=D]` and `POST /api/ml/predict-trade`; the same JSON as
`paiid recommend --json` / `paiid predict-trade --json`. An unknown strategy id or side is a 422 naming
the valid choices (checked before any model is loaded); an unknown symbol is a 404.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from paiid.api.schemas import ServedModel, Typicality
from paiid.engine import answers
from paiid.jsonutil import to_jsonable

router = APIRouter(tags=["selector"])


class TradeRequest(BaseModel):
    """Body of `POST /api/ml/predict-trade`."""

    symbol: str = Field(..., examples=["SPX"])
    strategy_id: str = Field(
        ..., examples=["momentum-macd"], description="Template id (see /api/strategies)."
    )
    side: str | None = Field(
        None, examples=["long"], description="long or short (default: the template's current position)."
    )
    date: str | None = Field(
        None, description="As of the close of this date (YYYY-MM-DD); default the last bar."
    )


class Recommendation(BaseModel):
    model_config = ConfigDict(extra="allow")
    strategy_id: str
    probability: float = Field(..., description="Calibrated probability of being the best template.")
    expected_return: float | None
    risk_score: float | None = Field(..., description="0-100")
    reason: str


class MarketConditions(BaseModel):
    model_config = ConfigDict(extra="allow")
    regime: str
    volatility: str
    trend: str | None = Field(..., description="up, down or sideways (null without high and low: ADX)")


class StrategyRecommendation(BaseModel):
    model_config = ConfigDict(extra="allow")
    symbol: str
    as_of: str
    recommendations: list[Recommendation] = Field(..., description="Every template, most probable first.")
    market_conditions: MarketConditions
    stand_aside: bool | None = Field(
        None, description="True when no template has a credible edge now (the ranking is still given).")
    stand_aside_reason: str | None = None
    model: ServedModel | None = None
    model_family: str | None = Field(
        None, description="Which models answered: 'panel (close-only features)' for a close-only series, "
                          "else the per-symbol OHLCV models.")
    models: dict[str, ServedModel] | None = Field(None, description="Every model the answer read.")
    typicality: Typicality | None = None
    prediction_id: int | None = Field(
        None, description="This answer's id in the prediction log (what POST /api/journal links to); null "
        "if it could not be logged.")


class TradeOdds(BaseModel):
    model_config = ConfigDict(extra="allow")
    symbol: str
    as_of: str
    strategy_id: str
    side: str = Field(..., description="long or short")
    win_probability: float | None = Field(
        ..., description="Probability that the profit barrier comes before the stop and the time barrier.")
    expected_return: float | None
    horizon_bars: int
    informative: bool | None = Field(
        None, description="False: the probability is the base rate (the model has no skill to add).")
    note: str | None = None
    model: ServedModel | None = None
    model_family: str | None = Field(
        None, description="Which models answered: 'panel (close-only features)' for a close-only series, "
                          "else the per-symbol OHLCV models.")
    typicality: Typicality | None = None
    prediction_id: int | None = Field(
        None, description="This answer's id in the prediction log (what POST /api/journal links to); null "
        "if it could not be logged.")


@router.get("/api/ml/recommend-strategy", response_model=StrategyRecommendation)
def recommend_strategy(
    symbol: str = Query(..., examples=["SPX"]),
    date: str | None = Query(
        None, description="As of the close of this date (YYYY-MM-DD); default the last bar."
    ),
    x_user_id: str | None = Header(None, description="User id for the A/B split of the prediction log."),
) -> dict[str, Any]:
    """Templates ranked by the calibrated probability of being the best over the next 20 bars."""
    return to_jsonable(answers.recommendation(symbol, date, user_id=x_user_id))


@router.post("/api/ml/predict-trade", response_model=TradeOdds)
def predict_trade(
    req: TradeRequest,
    x_user_id: str | None = Header(None, description="User id for the A/B split of the prediction log."),
) -> dict[str, Any]:
    """Win probability of a proposed trade (profit barrier before stop or time barrier)."""
    return to_jsonable(answers.trade(req.symbol, req.strategy_id, req.side, req.date, user_id=x_user_id))
