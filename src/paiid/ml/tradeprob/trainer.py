"""Trainer `tradeprob`: events from all templates on the given symbols, one fit that scores itself.

The model's own purged walk-forward validation (`TradeProbModel(validation_splits=...)`) gives the scores
the registry keeps beside it, so the trainer runs the folds once and what is reported is what is served.
"""

from __future__ import annotations

from typing import Any

from paiid.errors import NotEnoughHistory
from paiid.ml.base import Trained, data_fingerprint
from paiid.ml.context import load_symbols
from paiid.ml.tradeprob.dataset import build_trade_dataset
from paiid.ml.tradeprob.labels import PROFIT_ATR, STOP_ATR
from paiid.ml.tradeprob.model import model_for
from paiid.ml.tradeprob.validation import N_SPLITS, summarize

#: Fewest entry events worth training on.
MIN_EVENTS = 200


def train(
    symbols: list[str], *, seed: int = 0, deps: dict[str, Any] | None = None, n_estimators: int = 300
) -> Trained:
    """The fitted model and its metadata (scores from its own validation folds, parameters, data).

    The regime columns come from the rule-based regime (`paiid.ml.context.rule_regime`) so that serving
    needs nothing but bars; `deps` (the other models) is part of the trainer interface and not needed.
    """
    del deps
    bars = load_symbols(symbols)
    ds = build_trade_dataset(bars)
    if len(ds) < MIN_EVENTS:
        raise NotEnoughHistory("training the trade-probability model (entry events)", MIN_EVENTS, len(ds))
    model = model_for(ds, n_estimators=n_estimators, seed=seed).set_params(validation_splits=N_SPLITS)
    model.fit(ds.X, ds.y, label_end=ds.label_end_rows, embargo=ds.embargo_rows(), ret_atr=ds.ret_atr,
              exit_dates=ds.t1_date)
    return Trained(
        model,
        {
            "features": list(ds.feature_names),
            "params": {
                "n_estimators": n_estimators,
                "min_samples_leaf": model.min_samples_leaf,
                "calibration": model.calibration,
                "shrinkage": "w * forest + (1 - w) * base rate, w from inner purged walk-forward folds "
                "minus one standard error",
                "blend_weight": float(model.blend_weight_),
                "horizon": ds.horizon,
                "profit_atr": PROFIT_ATR,
                "stop_atr": STOP_ATR,
                "events": "template entry signals",
                "seed": seed,
            },
            "scores": summarize(ds, model.cv_results_),
            "data": [data_fingerprint(s, b) for s, b in bars.items()],
            "feature_importances": dict(
                zip(ds.feature_names, map(float, model.feature_importances_), strict=True)
            ),
        },
    )
