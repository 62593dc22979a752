"""The models paiid trains and serves: one row a model, the one list of their names.

Each row says, for one model name, the class every saved version must be (`registry.MODEL_CLASSES`),
its trainer (`training.TRAINERS`) and the holdout scorer `paiid retrain` compares champion and
challenger with (`retrain.HOLDOUT_SCORERS`); those three are read off this table, so a new model is
one row here and nothing else in the engine. Rows are in dependency order: each trainer gets the
models of the rows above it as `deps`.

The interfaces every ML area provides::

    train(symbols: list[str], *, seed: int, deps: dict[str, model]) -> paiid.ml.base.Trained
    holdout_score(model, bars: dict[str, DataFrame], start: Timestamp, *, deps: dict) -> dict
        # {"metric": str, "value": float, "higher_is_better": bool, "n": int, "baseline": float | None}
        # scores only decisions at or after `start` (bars hold the history before it for features)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from paiid.ml import patterns, regime, selector, tradeprob
from paiid.ml.base import Trained
from paiid.ml.panel import serve as panel


@dataclass(frozen=True)
class ModelKind:
    """What the engine needs to know of one model: its class, its trainer and its holdout scorer."""

    cls: type
    train: Callable[..., Trained]
    holdout_score: Callable[..., dict[str, Any]]
    #: Models (rows above) its trainer reads from `deps`; a point-in-time refit trains these first.
    deps: tuple[str, ...] = ()
    #: Trained on the close views of every suitable daily symbol (close-only ones included) and serving
    #: the symbols without high, low or volume (`paiid.ml.panel.serve`); False: trained on the OHLCV
    #: symbols and serving them.
    close_only: bool = False


MODELS: dict[str, ModelKind] = {
    "regime": ModelKind(regime.RegimeDetector, regime.train, regime.holdout_score),
    "pattern_scorer": ModelKind(patterns.PatternScorer, patterns.train, patterns.holdout_score),
    "selector": ModelKind(selector.StrategySelector, selector.train, selector.holdout_score, ("regime",)),
    "tradeprob": ModelKind(tradeprob.TradeProbModel, tradeprob.train, tradeprob.holdout_score),
    "panel_regime": ModelKind(regime.RegimeDetector, panel.train_regime, panel.holdout_regime,
                              close_only=True),
    "panel_selector": ModelKind(selector.StrategySelector, panel.train_selector, panel.holdout_selector,
                                close_only=True),
    "panel_trade": ModelKind(tradeprob.TradeProbModel, panel.train_trade, panel.holdout_trade,
                             close_only=True),
}

#: Which model answers each role for each family of symbols: symbols with open, high, low and volume
#: get the OHLCV models, the others (close-only series) the panel models (`paiid.ml.panel.serve` says
#: why the OHLCV symbols keep theirs). The close-only family has no pattern scorer: it is fitted on
#: OHLCV detections, and chart patterns on closes are answered without it.
ROLES: dict[str, dict[str, str]] = {
    "ohlcv": {"regime": "regime", "selector": "selector", "tradeprob": "tradeprob",
              "pattern_scorer": "pattern_scorer"},
    "close_only": {"regime": "panel_regime", "selector": "panel_selector", "tradeprob": "panel_trade"},
}
#: The `model_family` every answer names.
FAMILY_NAMES: dict[str, str] = {"ohlcv": "ohlcv (per-symbol OHLCV features)",
                                 "close_only": panel.MODEL_FAMILY}
