"""The trade model scored where it has not been trained: `paiid evaluate`'s part and retrain's holdout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from paiid.errors import ModelError, NotEnoughHistory
from paiid.metrics import brier
from paiid.ml.context import load_symbols
from paiid.ml.tradeprob.dataset import build_trade_dataset
from paiid.ml.tradeprob.model import TradeProbModel, model_for
from paiid.ml.tradeprob.validation import cross_validate, summarize


def evaluate(seed: int = 0, *, symbols: list[str], n_estimators: int = 300) -> dict[str, Any]:
    """The trade-probability part of `paiid evaluate` on `symbols` (the usable daily ones)."""
    ds = build_trade_dataset(load_symbols(symbols))

    def make() -> TradeProbModel:
        return model_for(ds, n_estimators=n_estimators, seed=seed)

    out = summarize(ds, cross_validate(ds, make), seed=seed)
    out["symbols"] = list(symbols)
    out["model"] = (
        f"random forest ({n_estimators} trees) shrunk toward the base rate by a weight fitted on inner "
        "purged walk-forward folds; "
        "events = template entry signals (meta-labeling)"
    )
    return out


def holdout_score(
    model: TradeProbModel, bars: Mapping[str, pd.DataFrame], start: pd.Timestamp, *, deps: Mapping[str, Any]
) -> dict[str, Any]:
    """`paiid retrain`'s test: Brier score of `model` on the entries decided at or after `start` (lower
    is better), beside the base rate before `start` predicted for every one of them."""
    del deps  # part of the holdout-scorer interface; the trade model needs no other model
    ds = build_trade_dataset(dict(bars))
    names = list(model.feature_names or [])
    if names and names != list(ds.feature_names):
        raise ModelError("the trade-probability model was trained on other features than today's dataset")
    test = ds.t_date >= np.datetime64(pd.Timestamp(start))
    if not test.any():
        raise NotEnoughHistory(
            "scoring the trade-probability model on the holdout (resolved cases after the cutoff)", 1, 0
        )
    y = ds.y[test].astype(float)
    prior = ds.y[~test]
    base_rate = float(prior.mean()) if len(prior) else 0.5
    return {"metric": "brier", "value": brier(y, model.predict_proba(ds.X[test])[:, 1]),
            "higher_is_better": False, "n": int(test.sum()),
            "baseline": brier(y, np.full(len(y), base_rate)),
            "baseline_is": "the success rate before the holdout, predicted for every case"}
