"""Trade win-probability: will a proposed trade reach its profit barrier before its stop or time barrier?

Meta-labeling with triple-barrier labels (López de Prado, *Advances in Financial Machine Learning*,
ch. 3), written from the book's description; the modules, in the order they build on each other:

- `labels`: the events (the templates' own entry signals) and their triple-barrier labels.
- `features`: what the model sees at an event, turned to the trade's side; optional entry features.
- `dataset`: `TradeDataset`, every entry on every symbol, sorted by date, with its purge windows.
- `significance`: what the scores support: block-bootstrap intervals and p-values, no AUC of constant
  forecasts, effective event counts, the plain `summary` sentences.
- `validation`: purged walk-forward out-of-sample probabilities, scores beside baselines.
- `model`: `TradeProbModel`, a forest shrunk toward the base rate (`blend_weight`); `model_for`.
- `answer`: the `predict-trade` JSON (`trade_answer`, `parse_side`), with `informative` and `typicality`.
- `evaluate`: `paiid evaluate`'s part and `paiid retrain`'s holdout score.
- `trainer`: `train`, the trainer (nothing imports it back).
"""

from paiid.ml.tradeprob.answer import SIDES, parse_side, trade_answer
from paiid.ml.tradeprob.dataset import TradeDataset, build_trade_dataset
from paiid.ml.tradeprob.evaluate import holdout_score
from paiid.ml.tradeprob.features import ENTRY_FEATURES, event_features, feature_names
from paiid.ml.tradeprob.labels import HORIZON, PROFIT_ATR, STOP_ATR, entry_events, triple_barrier
from paiid.ml.tradeprob.model import TradeProbModel, blend_weight, model_for
from paiid.ml.tradeprob.trainer import train
from paiid.ml.tradeprob.validation import bootstrap_ci, cross_validate, summarize

__all__ = [
    "ENTRY_FEATURES",
    "HORIZON",
    "PROFIT_ATR",
    "SIDES",
    "STOP_ATR",
    "TradeDataset",
    "TradeProbModel",
    "blend_weight",
    "bootstrap_ci",
    "build_trade_dataset",
    "cross_validate",
    "entry_events",
    "event_features",
    "feature_names",
    "holdout_score",
    "model_for",
    "parse_side",
    "summarize",
    "trade_answer",
    "train",
    "triple_barrier",
]
