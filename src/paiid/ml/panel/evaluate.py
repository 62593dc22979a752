"""`paiid evaluate --part universe`: both panel models on the whole real universe, one report.

Why a part of its own: the other parts score the served models (fitted on the stored OHLCV
symbols); this one asks the issue's question on the broad real base instead - does pooling 23
close-only series beat a model per symbol, and does any skill carry to symbols a model never saw?
Each model is scored in held-out time, in held-out symbols *and* time, and per symbol, on the same
test rows (`selector.evaluate`, `trade.evaluate`); every edge comes with its interval.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from paiid.ml.panel import selector, trade
from paiid.ml.panel.universe import universe_bars


def evaluate(seed: int = 0, symbols: Sequence[str] | None = None) -> dict[str, Any]:
    """The panel selector's and the panel trade model's reports on `symbols` (default `UNIVERSE`)."""
    t0 = time.perf_counter()
    bars = universe_bars(symbols)
    sel = selector.evaluate(bars, seed=seed)
    tp = trade.evaluate(bars, seed=seed)
    summary = [f"Universe: {len(bars)} real daily series as closes ({', '.join(bars)})."]
    summary += [f"Strategy selector: {s}" for s in sel.get("summary", [])]
    summary += [f"Trade win-probability: {s}" for s in tp.get("summary", [])]
    return {
        "symbols": list(bars),
        "selector": sel,
        "trade_probability": tp,
        "summary": summary,
        "runtime_s": time.perf_counter() - t0,
    }
