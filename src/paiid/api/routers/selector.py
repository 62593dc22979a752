"""Strategy recommendation and trade win-probability over HTTP.

`GET /api/ml/recommend-strategy?symbol=SPX[&date=D]` and `POST /api/ml/predict-trade`; the same JSON as
`paiid recommend --json` / `paiid predict-trade --json`. An unknown strategy id or side is a 422 naming
the valid choices (checked before any model is loaded); an unknown symbol is a 404.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

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


@router.get("/api/ml/recommend-strategy")
def recommend_strategy(
    symbol: str = Query(..., examples=["SPX"]),
    date: str | None = Query(
        None, description="As of the close of this date (YYYY-MM-DD); default the last bar."
    ),
) -> dict[str, Any]:
    """Templates ranked by the calibrated probability of being the best over the next 20 bars."""
    from paiid.data import load_bars, normalise_symbol
    from paiid.engine.service import get_model
    from paiid.errors import PaiidError
    from paiid.jsonutil import to_jsonable
    from paiid.ml.selector import MIN_BARS, recommend_answer

    sym = normalise_symbol(symbol)
    bars = load_bars(sym, end=date, min_bars=MIN_BARS, what=f"a strategy recommendation for {sym}")
    model = get_model("selector")
    try:
        regime_model = get_model("regime")
    except PaiidError:  # the selector falls back to its own regime rule
        regime_model = None
    return to_jsonable(recommend_answer(model, regime_model, bars, sym))


@router.post("/api/ml/predict-trade")
def predict_trade(req: TradeRequest) -> dict[str, Any]:
    """Win probability of a proposed trade (profit barrier before stop or time barrier)."""
    from paiid.backtest import get_strategy
    from paiid.data import load_bars, normalise_symbol
    from paiid.engine.service import get_model
    from paiid.jsonutil import to_jsonable
    from paiid.ml.selector import MIN_BARS
    from paiid.ml.tradeprob import parse_side, trade_answer

    tid = get_strategy(req.strategy_id).id  # 422 naming the valid ids, before any model is loaded
    if req.side is not None:
        parse_side(req.side)
    sym = normalise_symbol(req.symbol)
    bars = load_bars(sym, end=req.date, min_bars=MIN_BARS, what=f"a trade prediction for {sym}")
    return to_jsonable(trade_answer(get_model("tradeprob"), bars, sym, tid, req.side))
