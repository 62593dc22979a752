"""The selector's holdout scorer: `paiid retrain` scores champion and challenger on the same new dates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from paiid.errors import ModelError, NotEnoughHistory
from paiid.ml.selector.dataset import build_dataset
from paiid.ml.selector.model import StrategySelector


def holdout_score(model: StrategySelector, bars: Mapping[str, pd.DataFrame], start: pd.Timestamp, *,
                  deps: Mapping[str, Any]) -> dict[str, Any]:
    """Top-1 accuracy of the strategy selector on decision dates in the holdout (higher is better);
    baseline: always picking the template that was best most often before the holdout. `bars` hold the
    history before `start` too, so the features of the first holdout dates are defined."""
    regime_model = deps.get("regime") if model.regime_source == "model" else None
    ds = build_dataset(dict(bars), regime_model=regime_model, progress=False)
    names = list(model.feature_names or [])
    if names and names != list(ds.feature_names):
        raise ModelError("the selector was trained on other features than today's dataset")
    test = ds.t_date >= np.datetime64(pd.Timestamp(start))
    if not test.any():
        raise NotEnoughHistory("scoring the selector on the holdout (decision dates after the cutoff)", 1, 0)
    pred = model.predict(ds.X[test])
    before = ds.y[~test]
    majority = int(np.bincount(before).argmax()) if len(before) else 0
    return {"metric": "top1_accuracy", "value": float(np.mean(pred == ds.y[test])), "higher_is_better": True,
            "n": int(test.sum()), "baseline": float(np.mean(ds.y[test] == majority)),
            "baseline_is": "always the template that was best most often before the holdout"}
