"""The pattern scorer's holdout scorer: `paiid retrain` scores champion and challenger on the same dates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from paiid.errors import NotEnoughHistory
from paiid.metrics import brier
from paiid.ml.patterns.dataset import pooled_dataset, symbol_dataset
from paiid.ml.patterns.scorer import PatternScorer

#: Symbols shorter than this are left out, as the trainer leaves them out: too few detections to say
#: anything about success rates.
MIN_SYMBOL_BARS = 300


def holdout_score(model: PatternScorer, bars: Mapping[str, pd.DataFrame], start: pd.Timestamp, *,
                  deps: Mapping[str, Any]) -> dict[str, Any]:
    """Brier score of the pattern scorer on the detections confirmed at or after `start` (lower is
    better), beside the success rate of the detections before `start` predicted for every one of them.
    `bars` hold the history before `start` too, so the patterns forming across the cutoff are seen."""
    del deps  # part of the holdout-scorer interface; the pattern scorer needs no other model
    ds = pooled_dataset([symbol_dataset(s, b) for s, b in bars.items() if len(b) >= MIN_SYMBOL_BARS])
    t0 = pd.Timestamp(start).value
    test = ds.subset(np.flatnonzero(ds.time >= t0))
    if not len(test):
        raise NotEnoughHistory(
            "scoring the pattern scorer on the holdout (resolved cases after the cutoff)", 1, 0
        )
    before = ds.y[ds.time < t0]
    base_rate = float(before.mean()) if len(before) else 0.5
    y = test.y.astype(float)
    return {"metric": "brier", "value": brier(y, model.predict_proba(test.X, test.types, test.kinds)),
            "higher_is_better": False, "n": len(test), "baseline": brier(y, np.full(len(y), base_rate)),
            "baseline_is": "the success rate before the holdout, predicted for every case"}
