"""The `regime` trainer (`paiid train`): the detector fitted on every symbol, the family ranking and
the walk-forward scores learned with it, and the metadata the registry keeps beside the model."""

from __future__ import annotations

from typing import Any

from paiid.data import load_bars
from paiid.errors import BadInput, NotEnoughHistory
from paiid.features import build_features
from paiid.ml.base import Trained, data_fingerprint
from paiid.ml.regime.inputs import INPUT_NAMES, RAW_FEATURES
from paiid.ml.regime.model import RegimeDetector
from paiid.ml.regime.ranking import strategy_returns
from paiid.ml.regime.validation import MIN_VALIDATION_BARS


def train(symbols: list[str], *, seed: int = 0, deps: dict[str, Any] | None = None,
          method: str = "kmeans", n_splits: int = 4) -> Trained:
    """Fit the `regime` model on `symbols` and learn which strategy families work in each regime.

    Symbols too short to be fitted and tested on (`MIN_VALIDATION_BARS`) are skipped. The ranking
    and every score in the metadata come from the `n_splits` walk-forward test windows only
    (`RegimeDetector.fit` with the templates' returns); the detector itself is fitted on all bars.
    `deps` is unused: the regime model is first in the dependency order.
    """
    del deps
    if not symbols:
        raise BadInput("train the regime model on at least one symbol")
    data = []
    for sym in symbols:
        bars = load_bars(sym)
        if len(bars) >= MIN_VALIDATION_BARS:
            data.append((sym, bars, build_features(bars)))
    if not data:
        longest = max(len(load_bars(s)) for s in symbols)
        raise NotEnoughHistory("training the regime model", MIN_VALIDATION_BARS, longest)

    params = {"method": method, "random_state": seed, "ranking_splits": n_splits}
    model = RegimeDetector(**params).fit(
        [b for _, b, _ in data], features=[f for _, _, f in data],
        strategy_returns=[strategy_returns(b, f) for _, b, f in data])
    scores = {
        "cv": "walk-forward",
        "oos_sharpe_by_regime": model.strategy_sharpe_,
        "oos_bars_by_regime": model.strategy_bars_,
        **model.walk_forward_scores_,
    }
    metadata = {
        "features": list(INPUT_NAMES),
        "raw_features": list(RAW_FEATURES),
        "params": params,
        "scores": scores,
        "data": [data_fingerprint(sym, b) for sym, b, _ in data],
        "cluster_regime": list(model.cluster_regime_),
        "strategy_ranking": model.strategy_ranking_,
    }
    return Trained(model=model, metadata=metadata)
