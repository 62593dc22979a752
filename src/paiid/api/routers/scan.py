"""`GET /api/ml/scan?symbols=A,B[&date=D]`: the watchlist scan, the same JSON as `paiid scan --json`.

Thin route: `paiid.engine.scan` checks the symbols (unknown 404, more than `MAX_SYMBOLS` 422, a bad
date 422, all before any model is loaded) and builds one row a symbol from the same answers as the
single-symbol endpoints. `symbols` is required here, unlike the CLI's default of every stored symbol:
a request's cost grows with the symbols it names, and a client lists them with `/api/data/symbols`.
Synchronous on purpose: FastAPI runs it on a worker thread, and the scan itself may fan out to
processes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from paiid.api.schemas import ServedModel
from paiid.engine import scan as engine_scan
from paiid.errors import BadInput

router = APIRouter(tags=["scan"])

#: Most symbols one request may scan (a larger watchlist: several requests).
MAX_SYMBOLS = 200


class ScanRecommendation(BaseModel):
    model_config = ConfigDict(extra="allow")
    strategy_id: str
    family: str | None = None
    probability: float = Field(..., description="The selector's probability of this template (the top one).")
    expected_return: float | None = None
    risk_score: float | None = Field(None, description="0-100")
    side: str = Field(..., description="long or short: the side the template's rule holds now (flat: long).")
    current_position: int = Field(..., description="-1, 0 or +1")


class ScanPattern(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    signal: str = Field(..., description="bullish, bearish or neutral")
    confidence: float | None = None
    bars_since_confirmation: int | None = None


class ScanRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    symbol: str
    as_of: str | None = Field(..., description="The symbol's last bar on or before the scan's date "
                                               "(null on an error row).")
    regime: str | None = Field(..., description="trending_bullish, trending_bearish, ranging or "
                                                "high_volatility")
    confidence: float | None = Field(..., description="The regime's confidence.")
    regime_detail: str | None = None
    recommendation: ScanRecommendation | None = Field(
        ..., description="The selector's top template (given even when it says to stand aside).")
    stand_aside: bool | None = Field(None, description="True: no template has a credible edge now.")
    stand_aside_reason: str | None = None
    win_probability: float | None = Field(
        ..., description="The top template's trade win-probability on its current side.")
    informative: bool | None = Field(
        None, description="False: the trade model adds nothing beyond its base rate.")
    patterns: list[ScanPattern] = Field(..., description="Patterns confirmed in the last few bars.")
    models: dict[str, ServedModel] | None = Field(
        None, description="Every model the row read, fitted up to the refit date of its as-of bar.")
    model_family: str | None = Field(
        None, description="Which models answered: 'panel (close-only features)' for a close-only series, "
                          "else the per-symbol OHLCV models.")
    error: str | None = Field(
        None, description="Why this symbol could not be answered (the other rows still are).")


class ScanAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")
    as_of: str | None = Field(..., description="The requested date, else the latest row's as-of bar.")
    rows: list[ScanRow]


@router.get("/api/ml/scan", response_model=ScanAnswer)
def scan(
    symbols: str = Query(..., description=f"Comma-separated stored symbols (at most {MAX_SYMBOLS}).",
                         examples=["SPX,GOOG,EURUSD"]),
    date: str | None = Query(None, description="As of the close of this date, YYYY-MM-DD (default: each "
                                               "symbol's last bar)."),
    sort: str | None = Query(None, description="Order rows by symbol, as_of, regime, confidence, "
                                               "probability, expected_return, win_probability or patterns."),
) -> dict[str, Any]:
    """One row a symbol: regime, top strategy or stand aside, its win probability, fresh patterns.

    A symbol that cannot be answered (too little history, missing columns) gets a row with `error`;
    scan rows are not written to the prediction log (a screen, not a served recommendation).
    """
    if engine_scan.parse_symbols(symbols) is None:
        raise BadInput("symbols is empty: give comma-separated stored symbols, e.g. SPX,GOOG "
                       "(see /api/data/symbols)")
    if sort is not None:
        engine_scan.sort_rows([], sort)  # a bad column is a 422 before anything is computed
    result = engine_scan.scan(symbols, date, limit=MAX_SYMBOLS)
    result["rows"] = engine_scan.sort_rows(result["rows"], sort)
    return result
