"""`paiid evaluate`: the honest out-of-sample report, one part per model.

Each part is computed by its own area (regime, selector, patterns, trade probability) and only
reported here; every score sits next to its baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paiid.engine.training import usable_symbols
from paiid.ml.panel import evaluate as panel_evaluate
from paiid.ml.patterns import evaluate as patterns_evaluate
from paiid.ml.regime import evaluate as regime_evaluate
from paiid.ml.selector import evaluate as selector_evaluate
from paiid.ml.tradeprob import evaluate as tradeprob_evaluate
from paiid.progress import track

#: report key -> the function computing that part (`seed=` keyword; the selector also takes `plot=`).
PARTS: dict[str, Callable[..., dict[str, Any]]] = {
    "regime": regime_evaluate.evaluate,
    "selector": selector_evaluate.evaluate,
    "trade_probability": tradeprob_evaluate.evaluate,
    "patterns": patterns_evaluate.evaluate,
    "universe": panel_evaluate.evaluate,
}
#: Parts scored on the stored symbols (the others use synthetic series, the bundled SPX/GOOG and,
#: for `universe`, the panel of every bundled real daily series as closes).
ON_SYMBOLS = ("selector", "trade_probability")


def evaluate(parts: list[str] | None = None, seed: int = 0, plot: str | None = None) -> dict[str, Any]:
    """Every part (or those in `parts`); `plot` writes the selector's out-of-sample equity curves
    (ML choice vs random vs fixed templates vs buy-and-hold) to that HTML file."""
    chosen = [k for k in PARTS if not parts or k in parts]
    report: dict[str, Any] = {}
    kwargs: dict[str, Any] = {}
    if any(k in ON_SYMBOLS for k in chosen):
        # the same screening as training: one unsuitable import is reported, never fatal for every part
        kwargs["symbols"], skipped = usable_symbols(None)
        if skipped:
            report["skipped_symbols"] = skipped
    for key in track(chosen, "evaluating"):
        fn = PARTS[key]
        extra = dict(kwargs) if key in ON_SYMBOLS else {}
        if key == "selector" and plot:
            extra["plot"] = plot
        report[key] = fn(seed=seed, **extra)
    return report
