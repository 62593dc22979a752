"""`GET /api/ml/detect-patterns`: recent chart and candlestick patterns with confidences."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from paiid.api.schemas import ServedModel, Typicality
from paiid.engine import answers
from paiid.jsonutil import to_jsonable

router = APIRouter(tags=["patterns"])


class Pattern(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(..., description="e.g. double_top, head_and_shoulders, candle_engulfing")
    confidence: float | None = Field(..., description="Scorer's probability that the target comes before "
                                     "the stop; null on a close-only series (see `confidence_note`).")
    signal: str = Field(..., description="bullish, bearish or neutral")
    target_price: float | None
    stop_loss: float | None
    historical_success_rate: float | None
    timeframe: str
    start_date: str
    end_date: str


class PatternsAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")
    symbol: str
    as_of: str
    timeframe: str
    patterns: list[Pattern]
    model: ServedModel | None = None
    typicality: Typicality | None = None
    prediction_id: int | None = Field(
        None, description="This answer's id in the prediction log (what POST /api/journal links to); null "
        "if it could not be logged.")


@router.get("/api/ml/detect-patterns", response_model=PatternsAnswer)
def detect_patterns(
    symbol: str = Query(..., description="A stored symbol, e.g. SPX.", examples=["SPX"]),
    timeframe: str = Query("daily", description="daily, weekly or hourly (the data's own or coarser)."),
    date: str | None = Query(None, description="As of the close of this date, YYYY-MM-DD (default: last)."),
    x_user_id: str | None = Header(None, description="User id for the A/B split of the prediction log."),
) -> dict[str, Any]:
    """Chart patterns confirmed in the last bars and candlesticks on the last bar, computed as of `date`."""
    return to_jsonable(answers.patterns(symbol, date, timeframe, user_id=x_user_id))
