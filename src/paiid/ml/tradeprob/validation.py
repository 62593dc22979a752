"""Purged walk-forward validation of the trade model, with baselines and block-bootstrap intervals.

Events (template entry signals), pooled and sorted by date, go through expanding walk-forward folds;
training events whose triple-barrier label ends inside the test period are purged. Beside every score:

* **Brier** of the probabilities vs **baseline Brier** = the Brier score of predicting each fold's
  *training* base rate for every test event (what you know without a model);
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

The folds take a `make` callable for a fresh model, so this module knows no model class: the model
itself runs `walk_forward_oos` inside `fit` when asked (`TradeProbModel(validation_splits=...)`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from paiid.data import PurgedWalkForward
from paiid.data.splits import label_end_within
from paiid.metrics import auc, brier, calibration_bins, column_auc, column_brier
from paiid.ml.tradeprob.dataset import TradeDataset
from paiid.ml.tradeprob.labels import PROFIT_ATR, STOP_ATR
from paiid.progress import track

N_SPLITS = 5
MIN_TRAIN_SHARE = 1 / 3
#: Bootstrap resamples for the confidence intervals.
N_BOOT = 1000


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
    starts = np.stack([rng.integers(0, n, size=k) for _ in range(n_boot)])  # resample by resample
    # one resample per column, so that each metric is one scikit-learn call over all resamples
    idx = ((starts[:, :, None] + np.arange(block)) % n).reshape(n_boot, -1)[:, :n].T
    yb = y[idx]
    both = yb.min(axis=0) != yb.max(axis=0)  # AUC needs both classes in the resample
    aucs, aucs_raw = column_auc(yb[:, both], p[idx][:, both]), column_auc(yb[:, both], raw[idx][:, both])
    den = column_brier(yb, base[idx])
    pos = den > 0
    bss = 1.0 - column_brier(yb[:, pos], p[idx][:, pos]) / den[pos]

    def ci(v: np.ndarray) -> list[float] | None:
        return [float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))] if len(v) else None

    return {
        "auc_ci95": ci(aucs),
        "auc_model_ci95": ci(aucs_raw),
        "brier_skill_ci95": ci(bss),
        "block": block,
        "resamples": int(n_boot),
    }


def walk_forward_oos(
    make: Callable[[], Any],
    X: np.ndarray,
    y: np.ndarray,
    label_end: np.ndarray | None = None,
    embargo: int = 0,
    ret_atr: np.ndarray | None = None,
    *,
    n_splits: int = N_SPLITS,
    progress: bool = True,
) -> dict[str, Any]:
    """OOS probabilities for every test event of the purged walk-forward folds over rows in time order.

    `make()` gives a fresh unfitted model with `fit(X, y, label_end, embargo, ret_atr)`, `predict_proba`
    and `forest_proba`; each fold's training rows get their own label ends (renumbered within the fold)
    so that the model's inner folds are purged too. Each fold records its first and last test row
    (`test_rows`); `summarize` turns them into dates.
    """
    y = np.asarray(y)
    cv = PurgedWalkForward(n_splits, min_train=MIN_TRAIN_SHARE, embargo=embargo, label_end=label_end)
    splits = list(cv.split(X))
    rows, proba, raw, base, info = [], [], [], [], []
    for f, (tr, test) in enumerate(track(splits, "trade-probability walk-forward") if progress else splits):
        # label ends renumbered as rows of this fold's training set
        rel_end = None if label_end is None else label_end_within(label_end, tr)
        model = make().fit(
            X[tr], y[tr], label_end=rel_end, embargo=embargo, ret_atr=None if ret_atr is None else ret_atr[tr]
        )
        p = model.predict_proba(X[test])[:, 1]
        raw.append(model.forest_proba(X[test]))
        rate = float(y[tr].mean())
        rows.append(test)
        proba.append(p)
        base.append(np.full(len(test), rate))
        yt = y[test]
        info.append(
            {
                "fold": f,
                "train_events": int(len(tr)),
                "test_events": int(len(test)),
                "test_rows": [int(test[0]), int(test[-1])],
                "brier": brier(yt, p),
                "baseline_brier": brier(yt, np.full(len(yt), rate)),
                "auc": auc(yt, p),
                "auc_model": auc(yt, raw[-1]),
                "blend_weight": float(model.blend_weight_),
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


def cross_validate(
    ds: TradeDataset,
    make: Callable[[], Any],
    *,
    n_splits: int = N_SPLITS,
    y: np.ndarray | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """`walk_forward_oos` over the events of `ds` (labels `y` instead of `ds.y` when given)."""
    return walk_forward_oos(
        make,
        ds.X,
        ds.y if y is None else np.asarray(y),
        ds.label_end_rows,
        ds.embargo_rows(),
        ds.ret_atr,
        n_splits=n_splits,
        progress=progress,
    )


def oos_scores(cv: dict[str, Any]) -> dict[str, Any]:
    """The headline scores of a `walk_forward_oos` result: Brier vs its baseline, AUCs, base rate."""
    rows, p, base, raw = cv["rows"], cv["proba"], cv["base"], cv["raw"]
    y = cv["y"][rows]
    score, baseline = brier(y, p), brier(y, base)
    return {
        "brier": score,
        "baseline_brier": baseline,
        "brier_skill": 1.0 - score / baseline if baseline > 0 else None,
        "auc": auc(y, p),
        "auc_model": auc(y, raw),
        "base_rate": float(y.mean()),
        "n_test": int(len(rows)),
    }


def summarize(ds: TradeDataset, cv: dict[str, Any], *, seed: int = 0) -> dict[str, Any]:
    """The contract's trade_probability report from a cross-validation result on the events of `ds`."""
    rows, p, base, raw = cv["rows"], cv["proba"], cv["base"], cv["raw"]
    y = cv["y"][rows]
    ret = ds.ret[rows]
    take = p > base
    # reliability: observed win rate per probability quintile bucket
    reliability = [
        {"mean_probability": b.mean_predicted, "observed_win_rate": b.observed, "events": b.n}
        for b in calibration_bins(y, p, np.quantile(p, np.linspace(0, 1, 6)))
    ]
    sc = oos_scores(cv)
    order = np.argsort(rows, kind="stable")  # time order (rows are sorted by decision date)
    boot = bootstrap_ci(
        y[order], p[order], base[order], raw[order], block=max(1, ds.embargo_rows()), seed=seed
    )
    weights = [f["blend_weight"] for f in cv["folds"]]
    return {
        "cv": "purged walk-forward",
        "brier": sc["brier"],
        "baseline_brier": sc["baseline_brier"],
        "brier_skill": sc["brier_skill"],
        "brier_skill_ci95": boot["brier_skill_ci95"],
        "auc": sc["auc"],
        "auc_ci95": boot["auc_ci95"],
        "auc_model": sc["auc_model"],
        "auc_model_ci95": boot["auc_model_ci95"],
        "auc_baseline": 0.5,
        "blend_weight": float(np.mean(weights)) if weights else None,
        "bootstrap": {
            "method": "circular block",
            "block_events": boot["block"],
            "resamples": boot["resamples"],
        },
        "base_rate": sc["base_rate"],
        "n_events": int(len(ds)),
        "n_test": sc["n_test"],
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
        "folds": [_dated(ds, f) for f in cv["folds"]],
        "barriers": {"profit_atr": PROFIT_ATR, "stop_atr": STOP_ATR, "time_bars": ds.horizon},
    }


def _dated(ds: TradeDataset, fold: dict[str, Any]) -> dict[str, Any]:
    """A fold's record with its first and last test rows given as decision dates."""
    first, last = fold["test_rows"]
    head = {k: fold[k] for k in ("fold", "train_events", "test_events")}
    rest = {k: v for k, v in fold.items() if k not in head and k != "test_rows"}
    return {**head, "test_start": str(ds.t_date[first])[:10], "test_end": str(ds.t_date[last])[:10], **rest}
