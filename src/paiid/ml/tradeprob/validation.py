"""Purged walk-forward validation of the trade model, with baselines and block-bootstrap intervals.

Events (template entry signals), pooled and sorted by date, go through expanding walk-forward folds;
training events whose triple-barrier label ends inside the test period are purged. Beside every score:

* **Brier** of the probabilities vs **baseline Brier** = the Brier score of predicting each fold's
  *training* base rate for every test event (what you know without a model);
* **AUC** (0.5 = no ranking skill) of the final probabilities over the folds where they vary (None,
  with `auc_note`, when every fold's blend weight is 0: its final probabilities are one constant and
  rank nothing), and **auc_model** of the forest's probabilities before shrinkage toward the base rate
  (which shows whether the forest ranked events at all); the out-of-sample **base rate**;
* **Brier skill score** 1 - Brier / baseline Brier (> 0 = better than the base rate) and the
  **blend weight** each fold's model gave itself (0 = it fell back to the base rate, see
  `TradeProbModel`);
* 95% **bootstrap intervals** and p-values for AUC and the Brier skill score
  (`paiid.metrics.block_bootstrap`). Neighbouring events overlap in time (their triple-barrier windows
  share bars), so rows are resampled in consecutive blocks of about one label horizon's worth of
  events (a circular block bootstrap) rather than one by one, which would understate the uncertainty;
  the **effective number of events** and plain **summary** sentences come from `significance`;
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
from paiid.metrics import N_BOOT, auc, brier, calibration_bins, wilson_interval
from paiid.ml.tradeprob.dataset import TradeDataset
from paiid.ml.tradeprob.labels import PROFIT_ATR, STOP_ATR
from paiid.ml.tradeprob.significance import (
    CONSTANT_TOL,
    auc_interval,
    bootstrap_ci,
    effective_events,
    sentences,
    served_auc,
    served_rows,
    skill_interval,
    skill_significant,
)
from paiid.progress import track

N_SPLITS = 5
MIN_TRAIN_SHARE = 1 / 3

__all__ = ["N_SPLITS", "bootstrap_ci", "cross_validate", "oos_scores", "summarize", "walk_forward_oos"]


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
        constant = bool(np.ptp(p) <= CONSTANT_TOL)
        info.append(
            {
                "fold": f,
                "train_events": int(len(tr)),
                "test_events": int(len(test)),
                "test_rows": [int(test[0]), int(test[-1])],
                "base_rate": float(yt.mean()),
                "train_base_rate": rate,
                "brier": brier(yt, p),
                "baseline_brier": brier(yt, np.full(len(yt), rate)),
                "auc": None if constant else auc(yt, p),  # a constant forecast ranks nothing
                "auc_model": auc(yt, raw[-1]),
                "blend_weight": float(model.blend_weight_),
                "constant": constant,
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


def oos_scores(cv: dict[str, Any], *, block: int = 1, seed: int = 0) -> dict[str, Any]:
    """The headline scores of a `walk_forward_oos` result: Brier vs its baseline with the skill score's
    block-bootstrap interval and p-value (`block` events a block), AUCs, base rate.

    `auc` is of the served probabilities over the folds where they vary, None (with `auc_note`) when
    every fold serves a constant (see `significance.served_rows`)."""
    rows, p, base, raw = cv["rows"], cv["proba"], cv["base"], cv["raw"]
    y = cv["y"][rows]
    score, baseline = brier(y, p), brier(y, base)
    order = np.argsort(rows, kind="stable")  # time order (rows are sorted by decision date)
    skill = skill_interval(y[order], p[order], base[order], block=max(1, int(block)), seed=seed)
    served, note = served_auc(cv)
    return {
        "brier": score,
        "baseline_brier": baseline,
        "brier_skill": 1.0 - score / baseline if baseline > 0 else None,
        "brier_skill_ci95": None if skill.ci95 is None else list(skill.ci95),
        "brier_skill_p_value": skill.p_value,
        "skill_significant": skill_significant(skill.estimate, skill.p_value),
        "auc": served,
        "auc_note": note,
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
    block = max(1, ds.embargo_rows())
    sc = oos_scores(cv, block=block, seed=seed)
    order = np.argsort(rows, kind="stable")  # time order (rows are sorted by decision date)
    served = served_rows(cv)[0][order]
    a = auc_interval(y[order][served], p[order][served], block=block, seed=seed)
    a_raw = auc_interval(y[order], raw[order], block=block, seed=seed)
    r = rows[order]
    eff = effective_events(y[order], base[order], ds.symbol[r], ds.t_pos[r], ds.t1_pos[r])
    n_eff = max(1, int(round(eff["autocorrelation_adjusted"])))
    weights = [f["blend_weight"] for f in cv["folds"]]
    rep = {
        "cv": "purged walk-forward",
        "brier": sc["brier"],
        "baseline_brier": sc["baseline_brier"],
        "brier_skill": sc["brier_skill"],
        "brier_skill_ci95": sc["brier_skill_ci95"],
        "brier_skill_p_value": sc["brier_skill_p_value"],
        "skill_significant": sc["skill_significant"],
        "auc": sc["auc"],
        "auc_note": sc["auc_note"],
        "auc_ci95": a["ci95"] if sc["auc"] is not None else None,
        "auc_model": sc["auc_model"],
        "auc_model_ci95": a_raw["ci95"],
        "auc_model_p_value": a_raw["p_value"],
        "auc_baseline": 0.5,
        "blend_weight": float(np.mean(weights)) if weights else None,
        "constant_folds": int(sum(f["constant"] for f in cv["folds"])),
        "bootstrap": {
            "method": "circular block (paiid.metrics.block_bootstrap)",
            "block_events": block,
            "resamples": N_BOOT,
        },
        "base_rate": sc["base_rate"],
        "base_rate_ci95": (lambda c: None if c is None else list(c))(
            wilson_interval(int(round(sc["base_rate"] * n_eff)), n_eff)
        ),
        "effective_events": eff,
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
    rep["summary"] = sentences(rep)
    return rep


def _dated(ds: TradeDataset, fold: dict[str, Any]) -> dict[str, Any]:
    """A fold's record with its first and last test rows given as decision dates."""
    first, last = fold["test_rows"]
    head = {k: fold[k] for k in ("fold", "train_events", "test_events")}
    rest = {k: v for k, v in fold.items() if k not in head and k not in ("test_rows", "constant")}
    return {**head, "test_start": str(ds.t_date[first])[:10], "test_end": str(ds.t_date[last])[:10], **rest}
