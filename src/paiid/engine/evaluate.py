"""`paiid evaluate`: the honest out-of-sample report, one part per model.

Each part is computed by its own area (regime, selector, patterns, trade probability) and only
reported here; every score sits next to its baseline.
"""

from __future__ import annotations

import importlib
from typing import Any

from paiid.progress import track

#: report key -> "module:function" returning that part as a dict.
PARTS: dict[str, str] = {
    "regime": "paiid.ml.regime.evaluate:evaluate",
    "selector": "paiid.ml.selector.evaluate:evaluate",
    "trade_probability": "paiid.ml.tradeprob.evaluate:evaluate",
    "patterns": "paiid.ml.patterns.evaluate:evaluate",
}


def evaluate(parts: list[str] | None = None, seed: int = 0, plot: str | None = None) -> dict[str, Any]:
    """Every part (or those in `parts`); `plot` writes the selector's out-of-sample equity curves
    (ML choice vs random vs fixed templates vs buy-and-hold) to that HTML file."""
    report: dict[str, Any] = {}
    for key in track([k for k in PARTS if not parts or k in parts], "evaluating"):
        module, func = PARTS[key].split(":")
        try:
            fn = getattr(importlib.import_module(module), func)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            report[key] = {"status": "not implemented yet"}
            continue
        report[key] = fn(seed=seed, plot=plot) if key == "selector" and plot else fn(seed=seed)
    return report
