"""`paiid retrain`'s champion/challenger test for the regime model.

A regime model has no ground truth on real prices, so it is judged by what it is used for: on every
holdout bar, hold the template of the best family the model recommends for the regime known at that
bar's close, and earn the next bar's return.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from paiid.backtest import STRATEGIES
from paiid.errors import NotEnoughHistory
from paiid.features import build_features
from paiid.metrics import bars_per_year, sharpe
from paiid.ml.regime.inputs import MIN_BARS
from paiid.ml.regime.model import RegimeDetector
from paiid.ml.regime.ranking import strategy_returns


def holdout_score(model: RegimeDetector, bars: dict[str, pd.DataFrame], start: pd.Timestamp, *,
                  deps: dict[str, Any] | None = None) -> dict[str, Any]:
    """Annualised Sharpe over all symbols of following the model's best family on every bar at or
    after `start` (higher is better); no recommendation means flat. Baseline: holding all four
    templates in equal parts (no regime information). `deps` is unused: the regime model is first
    in the dependency order."""
    del deps
    check_is_fitted(model, ["means_", "strategy_ranking_"])
    of_family = {t.family: sid for sid, t in STRATEGIES.items()}
    chosen: list[np.ndarray] = []
    blended: list[np.ndarray] = []
    bpy = []
    for b in bars.values():
        if len(b) < MIN_BARS + 1:
            continue
        feats = build_features(b)
        labels = model.history(b, feats)["regime"]
        returns = strategy_returns(b, feats)
        test = np.flatnonzero(b.index >= pd.Timestamp(start))
        test = test[test + 1 < len(b)]
        if len(test) == 0:
            continue
        pick = np.zeros(len(test))
        for i, t in enumerate(test):
            ranking = model.strategy_ranking_.get(labels[t], []) if labels[t] is not None else []
            sid = of_family.get(ranking[0]) if ranking else None
            pick[i] = returns[sid][t + 1] if sid is not None else 0.0  # no recommendation: stay flat
        chosen.append(np.nan_to_num(pick))
        blended.append(np.nan_to_num(np.mean([r[test + 1] for r in returns.values()], axis=0)))
        bpy.append(bars_per_year(b.index))
    if not chosen:
        raise NotEnoughHistory("scoring the regime model on the holdout (bars after the cutoff)", 1, 0)
    ann = float(np.mean(bpy))
    ours, base = np.concatenate(chosen), np.concatenate(blended)
    return {"metric": "holdout_sharpe_following_regime_family", "value": sharpe(ours, ann, axis=0),
            "higher_is_better": True, "n": int(len(ours)), "baseline": sharpe(base, ann, axis=0),
            "baseline_is": "all four templates in equal parts, no regime information"}
