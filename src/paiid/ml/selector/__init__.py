"""Strategy selector: which of the four templates to follow over the next 20 bars, with calibrated odds.

- `dataset`: one row per decision date, features known at t, risk-adjusted label from t+1..t+H.
- `model`: `StrategySelector` (calibrated forest + out-of-sample history) and `selector_for`, the recipe.
- `explain`: words for feature values in the answer's reasons.
- `answer`: the recommend-strategy JSON.
- `validation`: purged walk-forward cross-validation and the trading scores beside their baselines.
- `holdout`: the holdout scorer `paiid retrain` compares champion and challenger with.
- `train`: the `selector` trainer; `evaluate` / `plot`: the `paiid evaluate` part and its equity chart.

The symbol context the selector shares with the trade-probability model is `paiid.ml.context`.
"""

from paiid.ml.context import HORIZON, MIN_BARS
from paiid.ml.selector.answer import recommend_answer
from paiid.ml.selector.dataset import SelectorDataset, build_dataset
from paiid.ml.selector.holdout import holdout_score
from paiid.ml.selector.model import OutOfSample, StrategySelector, selector_for
from paiid.ml.selector.train import train

__all__ = [
    "HORIZON",
    "MIN_BARS",
    "OutOfSample",
    "SelectorDataset",
    "StrategySelector",
    "build_dataset",
    "holdout_score",
    "recommend_answer",
    "selector_for",
    "train",
]
