"""`GET /api/ai/recommendations` (everything the dashboard shows, in one answer), chart bars and plotly.js.

The recommendation endpoint is `async`: cached answers are served on the event loop, misses are
computed on a worker thread (see `orchestrator.cached_recommendations` for the measured reason).
Its answer goes through the response model like every other: FastAPI then validates and encodes it
in pydantic-core (NaN and inf as null), which takes half the time `json.dumps` took on the cached
answer when the route built its own `Response`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly
from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from paiid.api.schemas import ServedModel
from paiid.data import load_bars, normalise_symbol, timeframe_of
from paiid.engine.orchestrator import cached_recommendations, recommendations
from paiid.engine.vintages import serving
from paiid.errors import NotEnoughHistory
from paiid.jsonutil import to_jsonable
from paiid.ml.patterns import MIN_BARS, patterns_answer
from paiid.ml.patterns.answer import RECENT_BARS

router = APIRouter(tags=["ai"])

MAX_TAIL = 5000


class TradeOdds(BaseModel):
    model_config = ConfigDict(extra="allow")
    side: str = Field(..., description="long or short: the side the template's rule holds now (flat: long).")
    win_probability: float | None = None
    expected_return: float | None = None
    horizon_bars: int | None = None


class RankedStrategy(BaseModel):
    model_config = ConfigDict(extra="allow")
    strategy_id: str
    family: str | None = None
    rank: int = Field(..., description="Position in the order this user's A/B group sees (1 = first).")
    ml_rank: int = Field(..., description="Position by the selector's probability.")
    probability: float
    expected_return: float | None = None
    risk_score: float | None = Field(None, description="0-100")
    reason: str | None = None
    current_position: int = Field(..., description="-1, 0 or +1: what the template's default rule holds now.")
    side: str = Field(..., description="long or short: the trade this strategy means now (flat: long).")
    trade: TradeOdds | None = Field(
        None, description="Trade win-probability; present for the strategy each A/B group sees first.")


class AIRecommendations(BaseModel):
    model_config = ConfigDict(extra="allow")
    symbol: str
    as_of: str
    timeframe: str
    last_close: float | None = None
    regime: dict[str, Any] = Field(
        ..., description="current_regime, confidence, features, recommended_strategies")
    market_conditions: dict[str, Any]
    strategies: list[RankedStrategy]
    patterns: list[dict[str, Any]]
    confidence: dict[str, float | None]
    model_versions: dict[str, int]
    model_family: str | None = Field(
        None, description="Which models answered: 'panel (close-only features)' for a close-only series, "
                          "else the per-symbol OHLCV models.")
    models: dict[str, ServedModel] | None = Field(
        None, description="Every model the answer read, fitted on data up to the as-of date's refit date.")
    user: str | None = None
    ab_group: str | None = Field(None, description="manual or ml (null without a user id)")
    ranking: str = Field(..., description="ml or manual: how `strategies` is ordered")
    cached: bool
    prediction_id: int | None = Field(
        None, description="This answer's id in the prediction log (what POST /api/journal links to).")


class Bars(BaseModel):
    symbol: str
    timeframe: str
    date: list[str]
    open: list[float | None]
    high: list[float | None]
    low: list[float | None]
    close: list[float | None]
    volume: list[float | None]


@router.get("/api/ai/recommendations", response_model=AIRecommendations)
async def ai_recommendations(
    symbol: str = Query(..., description="A stored symbol, e.g. SPX (see /api/data/symbols).",
                        examples=["SPX"]),
    date: str | None = Query(None, description="As of the close of this date, YYYY-MM-DD (default: last)."),
    user: str | None = Query(None, description="User id for the A/B split (or header X-User-Id)."),
    x_user_id: str | None = Header(None, description="User id for the A/B split."),
) -> dict[str, Any]:
    """Regime, ranked strategies (with trade win-probabilities) and chart patterns, with confidences.

    Cached per (symbol, last bar, model versions); each answer served is written to the prediction log
    with the model versions and the user's A/B group (`manual` or `ml`, fixed by the user id).
    """
    uid = user if user is not None else x_user_id
    # a cached answer is served right here on the event loop (no thread hop); computing one runs
    # the models, so it goes to a worker thread and never blocks other requests
    answer = cached_recommendations(symbol, date=date, user=uid)
    if answer is None:
        answer = await run_in_threadpool(recommendations, symbol, date=date, user=uid)
    return answer


@router.get("/api/data/bars", response_model=Bars)
def data_bars(
    symbol: str = Query(..., examples=["SPX"]),
    tail: int = Query(250, ge=1, le=MAX_TAIL, description="How many of the last bars to return."),
    date: str | None = Query(None, description="Last date to include, YYYY-MM-DD (default: the last bar)."),
) -> dict[str, Any]:
    """OHLCV bars as columns (what plotly's candlestick wants), the last `tail` up to `date`."""
    full = load_bars(symbol, end=date)
    if full.empty:
        raise NotEnoughHistory(f"a chart of {symbol.strip().upper()}{f' up to {date}' if date else ''}", 1, 0)
    bars = full.iloc[-tail:]
    payload = {
        "symbol": symbol.strip().upper(),
        "timeframe": timeframe_of(full.index) if len(full) > 1 else "daily",
        "date": [ts.isoformat() for ts in bars.index],
        **{col: to_jsonable(bars[col].to_numpy()) for col in ("open", "high", "low", "close", "volume")},
    }
    return payload


class Chart(Bars):
    patterns: list[dict[str, Any]] = Field(
        ..., description="Chart patterns confirmed inside the window (and candlesticks on its last bar), "
        "each with `active` = still reported as of the last bar.")


@router.get("/api/ai/chart", response_model=Chart)
def ai_chart(
    symbol: str = Query(..., examples=["SPX"]),
    tail: int = Query(250, ge=1, le=MAX_TAIL, description="How many of the last bars to return."),
    date: str | None = Query(None, description="Last date to include, YYYY-MM-DD (default: the last bar)."),
) -> dict[str, Any]:
    """The dashboard chart: the last `tail` bars plus every pattern detected inside that window.

    `/api/ai/recommendations` lists the patterns *active* as of the last bar (often none); the chart
    also shows the ones confirmed earlier in the window, so a user sees what the detector finds.
    """
    sym = normalise_symbol(symbol)
    full = load_bars(sym, end=date)
    if len(full) < MIN_BARS:  # 422 before any model is loaded
        raise NotEnoughHistory(f"a chart with patterns of {sym}{f' up to {date}' if date else ''}",
                               MIN_BARS, len(full))
    bars = full.iloc[-tail:]
    tf = timeframe_of(full.index)
    scorer = serving("pattern_scorer", full)[0]  # fitted up to the chart's last date (point in time)
    found = patterns_answer(scorer, full, sym, tf, recent_bars=max(tail, RECENT_BARS))
    first = bars.index[0].isoformat()
    patterns = [{**p, "active": p.get("bars_since_confirmation", 0) < RECENT_BARS}
                for p in found["patterns"] if p.get("end_date", "") >= first]
    payload = {
        "symbol": sym,
        "timeframe": tf,
        "date": [ts.isoformat() for ts in bars.index],
        **{col: to_jsonable(bars[col].to_numpy()) for col in ("open", "high", "low", "close", "volume")},
        "patterns": to_jsonable(patterns),
    }
    return payload


def _plotly_js() -> Path:
    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


@router.get("/vendor/plotly.min.js", include_in_schema=False)
def plotly_js() -> FileResponse:
    """plotly.js from the installed plotly package: the dashboard works offline, with no CDN."""
    return FileResponse(_plotly_js(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})
