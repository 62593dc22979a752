"""Trainer `selector`: dataset from the symbols, purged walk-forward scores, final fit on every row.

The walk-forward test rows and scores are handed to the final `fit` (`OutOfSample`), so the served
model's expected return and risk come only from rows that no model of the recipe trained on.
"""

from __future__ import annotations

from typing import Any

from paiid.errors import NotEnoughHistory
from paiid.ml.base import Trained, data_fingerprint
from paiid.ml.context import load_symbols
from paiid.ml.selector.dataset import build_dataset
from paiid.ml.selector.model import OutOfSample, selector_for
from paiid.ml.selector.validation import cross_validate, summarize

#: Decision dates a selector needs to be trained and validated at all.
MIN_ROWS = 200


def train(
    symbols: list[str],
    *,
    seed: int = 0,
    deps: dict[str, Any] | None = None,
    kind: str = "rf",
    n_estimators: int = 300,
) -> Trained:
    """Train the selector on `symbols` (with `deps["regime"]`, the regime model, when there is one)."""
    regime_model = (deps or {}).get("regime")
    bars = load_symbols(symbols)
    ds = build_dataset(bars, regime_model=regime_model)
    if len(ds) < MIN_ROWS:
        raise NotEnoughHistory("training the strategy selector (decision dates)", MIN_ROWS, len(ds))
    recipe = selector_for(ds, kind=kind, n_estimators=n_estimators, seed=seed)
    cv = cross_validate(ds, recipe, regime_model=regime_model if ds.regime_source == "model" else None)
    scores = summarize(ds, cv, seed=seed)
    oos = cv["rows"]
    history = OutOfSample(
        ds.X[oos], ds.fwd_return[oos], ds.fwd_drawdown[oos], ds.regime[oos],
        scores={
            "top1_accuracy": scores["top1_accuracy"],
            "majority_baseline": scores["majority_baseline"],
            "random_baseline": scores["random_baseline"],
            "oos_sharpe": dict(scores["oos_sharpe"]),
        },
    )
    model = recipe.fit(ds.X, ds.y, label_end=ds.label_end_rows, embargo=ds.embargo_rows(), oos=history)
    return Trained(
        model,
        {
            "features": list(ds.feature_names),
            "params": {
                "kind": kind,
                "n_estimators": n_estimators,
                "min_samples_leaf": model.min_samples_leaf,
                "class_weight": "balanced",
                "calibration": "sigmoid on purged walk-forward folds",
                "horizon": ds.horizon,
                "step": ds.step,
                "templates": ds.templates,
                "regime_source": ds.regime_source,
                "seed": seed,
            },
            "scores": scores,
            "data": [data_fingerprint(s, b) for s, b in bars.items()],
            "feature_importances": dict(
                zip(ds.feature_names, map(float, model.feature_importances_), strict=True)
            ),
        },
    )
