"""`paiid evaluate` part "trade_probability": purged walk-forward Brier score and AUC, with baselines.

Events (template entry signals) of all default symbols, pooled and sorted by date, go through expanding
walk-forward folds; training events whose triple-barrier label ends inside the test period are purged.
Beside every score:

* **Brier** of the calibrated probabilities vs **baseline Brier** = the Brier score of predicting each
  fold's *training* base rate for every test event (what you know without a model);
* **AUC** (0.5 = no ranking skill) of the final probabilities, and **auc_model** of the forest's
  probabilities before shrinkage toward the base rate (when a fold's blend weight is 0 its final
  probabilities are one constant, so only auc_model shows whether the forest ranked events at all);
  the out-of-sample **base rate**;
* **Brier skill score** 1 - Brier / baseline Brier (> 0 = better than the base rate) and the
  **blend weight** each fold's model gave itself (0 = it fell back to the base rate, see
  `TradeProbModel`);
* 95% **bootstrap intervals** for AUC and the Brier skill score. Neighbouring events overlap in time
  (their triple-barrier windows share bars), so rows are resampled in consecutive blocks of about one
  label horizon's worth of events (a circular block bootstrap) rather than one by one, which would
  understate the uncertainty;
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
#: Bootstrap resamples for the confidence intervals.
N_BOOT = 1000


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC via ranks (ties averaged); NaN when only one class is present."""
    from scipy.stats import rankdata

    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(p)
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def bootstrap_ci(
    y: np.ndarray,
    p: np.ndarray,
    base: np.ndarray,
    raw: np.ndarray | None = None,
    *,
    block: int = 1,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict[str, Any]:
    """95% circular-block-bootstrap intervals of AUC (of `p`, and of `raw` when given) and of the Brier
    skill score of `p` against `base`; rows in time order.

    Blocks of `block` consecutive rows keep the serial dependence of overlapping labels inside each
    resample; a fixed `seed` makes the interval reproducible.
    """
    y = np.asarray(y, np.int64)
    p = np.asarray(p, np.float64)
    base = np.asarray(base, np.float64)
    raw = p if raw is None else np.asarray(raw, np.float64)
    n = y.size
    if n < 2:
        return {
            "auc_ci95": None,
            "auc_model_ci95": None,
            "brier_skill_ci95": None,
            "block": int(block),
            "resamples": 0,
        }
    block = int(min(max(block, 1), n))
    rng = np.random.default_rng(seed)
    k = int(np.ceil(n / block))
    aucs, aucs_raw, bss = [], [], []
    for _ in range(n_boot):
        starts = rng.integers(0, n, size=k)
        idx = ((starts[:, None] + np.arange(block)[None, :]) % n).ravel()[:n]
        yb, pb, bb = y[idx], p[idx], base[idx]
        a, ar = _auc(yb, pb), _auc(yb, raw[idx])
        if np.isfinite(a):
            aucs.append(a)
            aucs_raw.append(ar)
        den = float(np.mean((bb - yb) ** 2))
        if den > 0:
            bss.append(1.0 - float(np.mean((pb - yb) ** 2)) / den)

    def ci(v: list[float]) -> list[float] | None:
        return [float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))] if v else None

    return {
        "auc_ci95": ci(aucs),
        "auc_model_ci95": ci(aucs_raw),
        "brier_skill_ci95": ci(bss),
        "block": block,
        "resamples": int(n_boot),
    }


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
    rows, proba, raw, base, info = [], [], [], [], []
    for f, sp in enumerate(track(splits, "trade-probability walk-forward") if progress else splits):
        tr = sp.train
        rel_end = np.searchsorted(tr, np.minimum(label_end[tr], tr[-1]), side="right") - 1
        model = make().fit(
            ds.X[tr], y[tr], label_end=rel_end, embargo=ds.embargo_rows(), ret_atr=ds.ret_atr[tr]
        )
        p = model.predict_proba(ds.X[sp.test])[:, 1]
        raw.append(model.forest_proba(ds.X[sp.test]) if hasattr(model, "forest_proba") else p)
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
                "auc_model": float(roc_auc_score(yt, raw[-1])) if len(np.unique(yt)) == 2 else None,
                "blend_weight": _maybe_float(getattr(model, "blend_weight_", None)),
            }
        )
    return {
        "rows": np.concatenate(rows),
        "proba": np.concatenate(proba),
        "raw": np.concatenate(raw),
        "base": np.concatenate(base),
        "y": y,
        "folds": info,
    }


def _maybe_float(x: Any) -> float | None:
    return None if x is None else float(x)


def summarize(ds: TradeDataset, cv: dict[str, Any], *, seed: int = 0) -> dict[str, Any]:
    """The contract's trade_probability report from a cross-validation result."""
    rows, p, base = cv["rows"], cv["proba"], cv["base"]
    raw = cv.get("raw", p)
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
    brier = float(brier_score_loss(y, p))
    baseline = float(brier_score_loss(y, base))
    order = np.argsort(rows, kind="stable")  # time order (rows are sorted by decision date)
    boot = bootstrap_ci(
        y[order], p[order], base[order], raw[order], block=max(1, ds.embargo_rows()), seed=seed
    )
    weights = [f.get("blend_weight") for f in cv["folds"] if f.get("blend_weight") is not None]
    return {
        "cv": "purged walk-forward",
        "brier": brier,
        "baseline_brier": baseline,
        "brier_skill": 1.0 - brier / baseline if baseline > 0 else None,
        "brier_skill_ci95": boot["brier_skill_ci95"],
        "auc": float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None,
        "auc_ci95": boot["auc_ci95"],
        "auc_model": float(roc_auc_score(y, raw)) if len(np.unique(y)) == 2 else None,
        "auc_model_ci95": boot["auc_model_ci95"],
        "auc_baseline": 0.5,
        "blend_weight": float(np.mean(weights)) if weights else None,
        "bootstrap": {
            "method": "circular block",
            "block_events": boot["block"],
            "resamples": boot["resamples"],
        },
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
    from paiid.ml.tradeprob import TradeProbModel, build_trade_dataset, model_for

    if symbols is None:
        from paiid.data import describe_symbols

        symbols = [s["symbol"] for s in describe_symbols() if s.get("timeframe") == "daily"]
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
