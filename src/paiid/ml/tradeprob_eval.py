"""`paiid evaluate` part "trade_probability": purged walk-forward Brier score and AUC, with baselines.

Events (template entry signals) of all default symbols, pooled and sorted by date, go through expanding
walk-forward folds; training events whose triple-barrier label ends inside the test period are purged.
Beside every score:

* **Brier** of the calibrated probabilities vs **baseline Brier** = the Brier score of predicting each
  fold's *training* base rate for every test event (what you know without a model);
* **AUC** (0.5 = no ranking skill) and the out-of-sample **base rate**;
* what the probability is worth as a filter (meta-labeling): mean trade return (triple-barrier exit,
  before costs) of the events the model rates above the training base rate vs all events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score

from paiid.data import walk_forward
from paiid.ml.tradeprob import PROFIT_ATR, STOP_ATR, TradeDataset

N_SPLITS = 5
MIN_TRAIN_SHARE = 1 / 3


def cross_validate(
    ds: TradeDataset,
    make: Callable[[], Any],
    *,
    n_splits: int = N_SPLITS,
    y: np.ndarray | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """OOS probabilities for every test event of the purged walk-forward folds."""
    from paiid.progress import track

    y = ds.y if y is None else np.asarray(y)
    n = len(ds)
    label_end = ds.label_end_rows
    splits = walk_forward(
        n,
        n_splits=n_splits,
        min_train=max(int(n * MIN_TRAIN_SHARE), 1),
        embargo=ds.embargo_rows(),
        label_end=label_end,
    )
    rows, proba, base, info = [], [], [], []
    for f, sp in enumerate(track(splits, "trade-probability walk-forward") if progress else splits):
        tr = sp.train
        rel_end = np.searchsorted(tr, np.minimum(label_end[tr], tr[-1]), side="right") - 1
        model = make().fit(
            ds.X[tr], y[tr], label_end=rel_end, embargo=ds.embargo_rows(), ret_atr=ds.ret_atr[tr]
        )
        p = model.predict_proba(ds.X[sp.test])[:, 1]
        rate = float(y[tr].mean())
        rows.append(sp.test)
        proba.append(p)
        base.append(np.full(len(sp.test), rate))
        yt = y[sp.test]
        info.append(
            {
                "fold": f,
                "train_events": int(len(tr)),
                "test_events": int(len(sp.test)),
                "test_start": str(ds.t_date[sp.test[0]])[:10],
                "test_end": str(ds.t_date[sp.test[-1]])[:10],
                "brier": float(brier_score_loss(yt, p)),
                "baseline_brier": float(brier_score_loss(yt, np.full(len(yt), rate))),
                "auc": float(roc_auc_score(yt, p)) if len(np.unique(yt)) == 2 else None,
            }
        )
    return {
        "rows": np.concatenate(rows),
        "proba": np.concatenate(proba),
        "base": np.concatenate(base),
        "y": y,
        "folds": info,
    }


def summarize(ds: TradeDataset, cv: dict[str, Any]) -> dict[str, Any]:
    """The contract's trade_probability report from a cross-validation result."""
    rows, p, base = cv["rows"], cv["proba"], cv["base"]
    y = cv["y"][rows]
    ret = ds.ret[rows]
    take = p > base
    # reliability: observed win rate per probability decile bucket
    edges = np.quantile(p, np.linspace(0, 1, 6))
    bucket = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, 4)
    reliability = [
        {
            "mean_probability": float(p[bucket == b].mean()),
            "observed_win_rate": float(y[bucket == b].mean()),
            "events": int((bucket == b).sum()),
        }
        for b in range(5)
        if (bucket == b).any()
    ]
    return {
        "cv": "purged walk-forward",
        "brier": float(brier_score_loss(y, p)),
        "baseline_brier": float(brier_score_loss(y, base)),
        "auc": float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None,
        "auc_baseline": 0.5,
        "base_rate": float(y.mean()),
        "n_events": int(len(ds)),
        "n_test": int(len(rows)),
        "filter": {
            "rule": "take the event when its probability exceeds the training base rate",
            "taken_share": float(take.mean()),
            "win_rate_taken": float(y[take].mean()) if take.any() else None,
            "win_rate_all": float(y.mean()),
            "mean_return_taken": float(ret[take].mean()) if take.any() else None,
            "mean_return_all": float(ret.mean()),
        },
        "reliability": reliability,
        "per_template_base_rate": {
            t: float(y[ds.template[rows] == j].mean())
            for j, t in enumerate(ds.templates)
            if (ds.template[rows] == j).any()
        },
        "folds": cv["folds"],
        "barriers": {"profit_atr": PROFIT_ATR, "stop_atr": STOP_ATR, "time_bars": ds.horizon},
    }


def evaluate(seed: int = 0, *, symbols: list[str] | None = None, n_estimators: int = 300) -> dict[str, Any]:
    """The trade-probability part of `paiid evaluate` on the default (daily) symbols."""
    from paiid.ml.dataset import load_symbols
    from paiid.ml.tradeprob import TradeProbModel, build_trade_dataset

    if symbols is None:
        from paiid.data import describe_symbols

        symbols = [s["symbol"] for s in describe_symbols() if s.get("timeframe") == "daily"]
    ds = build_trade_dataset(load_symbols(symbols))

    def make() -> TradeProbModel:
        return TradeProbModel(
            n_estimators=n_estimators,
            random_state=seed,
            templates=ds.templates,
            feature_names=ds.feature_names,
            horizon=ds.horizon,
        )

    out = summarize(ds, cross_validate(ds, make))
    out["symbols"] = list(symbols)
    out["model"] = (
        f"random forest ({n_estimators} trees), sigmoid-calibrated on purged walk-forward folds; "
        "events = template entry signals (meta-labeling)"
    )
    return out
