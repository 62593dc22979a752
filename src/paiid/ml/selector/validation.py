"""Purged walk-forward validation of the selector, and what following its choices would have earned.

Everything reported here is out of sample. The pooled decision dates (all symbols, sorted by date) are
cut into expanding walk-forward folds (`paiid.data.PurgedWalkForward`): each fold trains only on earlier rows,
drops every training row whose H-bar label window reaches into the test period (purge, via
`label_end`), and leaves an embargo of H bars' worth of rows before the test block. Beside every score:

* top-1 accuracy vs the **majority baseline** (always predict the class most frequent in that fold's
  training rows) and the **random baseline** (1/k, a uniform guess);
* the annualised Sharpe ratio of *following the ML choice* on the test bars (each choice held until the
  next decision date, switching costs charged) vs picking a template **at random** (mean over many
  draws), the **best single template chosen in hindsight** on the same bars (a deliberately tough bar),
  and **buy-and-hold**.

A plausibility check flags an accuracy far above what a 20-bar-ahead label allows (a leaky feature shows
up as near-perfect accuracy); `paiid.ml.leakage.check_causal` proves the features are causal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from paiid.data import PurgedWalkForward
from paiid.data.splits import label_end_within
from paiid.metrics import bars_per_year, sharpe
from paiid.ml.context import REGIME_FEATURES
from paiid.ml.selector.dataset import SelectorDataset, refit_regime, regime_columns
from paiid.ml.selector.edge import stand_aside_rows
from paiid.ml.selector.model import OutOfSample, StrategySelector
from paiid.progress import track

#: Walk-forward folds and the share of rows used for the first training window.
N_SPLITS = 5
MIN_TRAIN_SHARE = 1 / 3
#: Switching from one template to another trades the position difference at these costs (bps per unit).
SWITCH_COST_BPS = 2.0
#: Random-selection draws averaged for the random baseline.
RANDOM_DRAWS = 200
#: OOS accuracy above this (or this far above the majority baseline) is not plausible for a
#: 20-bar-ahead choice among four strategies; it means something leaks.
PLAUSIBLE_ACCURACY = 0.75
PLAUSIBLE_LIFT = 0.30


def folds(ds: SelectorDataset, n_splits: int = N_SPLITS) -> PurgedWalkForward:
    """The purged, embargoed walk-forward splitter over the pooled rows (`folds(ds).split(ds.X)`)."""
    return PurgedWalkForward(n_splits, min_train=MIN_TRAIN_SHARE, embargo=ds.embargo_rows(),
                             label_end=ds.label_end_rows)


def cross_validate(
    ds: SelectorDataset,
    estimator: StrategySelector,
    *,
    n_splits: int = N_SPLITS,
    y: np.ndarray | None = None,
    progress: bool = True,
    regime_model: Any = None,
) -> dict[str, Any]:
    """Fit a clone of `estimator` on each fold's (purged) training rows and predict its test rows.

    `y` overrides the labels (the shuffled-label leakage test). With `regime_model` (the one whose
    outputs are in ds.X) each fold refits a copy on the bars before its test period and recomputes the
    regime columns, so the regime model has not seen the test period either. Returns the test rows in
    order with their predictions, probabilities, the majority-class prediction of each fold, the regime
    label each test row was given, per-fold facts, each fold's training rows (`train_index`) and the
    stand-aside verdict of every test row (`stand_aside`). For that verdict each fold's model is given
    its own training rows' realised outcomes as the history its expectations read (`OutOfSample`): what
    was known before the test period, and nothing the fold's predictions depend on.
    """
    y = ds.y if y is None else np.asarray(y)
    reg_idx = [ds.feature_names.index(c) for c in REGIME_FEATURES]
    regimes = []
    label_end = ds.label_end_rows
    k = len(ds.templates)
    rows, pred, proba, major, info, train_index, aside = [], [], [], [], [], [], []
    splits = list(folds(ds, n_splits).split(ds.X))
    for f, (tr, test) in enumerate(track(splits, "selector walk-forward") if progress else splits):
        X, reg_labels = ds.X, ds.regime
        fold_regime = (
            refit_regime(regime_model, ds, ds.t_date[test[0]]) if regime_model is not None else None
        )
        if fold_regime is not None:
            cols, reg_labels = regime_columns(ds, fold_regime)
            X = ds.X.copy()
            X[:, reg_idx] = np.nan_to_num(cols)  # warm-up rows of a short symbol: no regime (zeros)
        # the model's own calibration folds need the label ends relative to its training rows
        known = OutOfSample(X[tr], ds.fwd_return[tr], ds.fwd_drawdown[tr], reg_labels[tr])
        model = clone(estimator).fit(X[tr], y[tr], label_end=label_end_within(label_end, tr),
                                     embargo=ds.embargo_rows(), oos=known)
        p = model.predict_proba(X[test])
        aside.append(stand_aside_rows(model, X[test], reg_labels[test]))
        train_index.append(np.asarray(tr))
        regimes.append(reg_labels[test])
        maj = int(np.argmax(np.bincount(y[tr], minlength=k)))
        rows.append(test)
        proba.append(p)
        pred.append(np.argmax(p, axis=1))
        major.append(np.full(len(test), maj))
        yt = y[test]
        info.append(
            {
                "fold": f,
                "train_rows": int(len(tr)),
                "test_rows": int(len(test)),
                "train_end": str(ds.t_date[tr[-1]])[:10],
                "test_start": str(ds.t_date[test[0]])[:10],
                "test_end": str(ds.t_date[test[-1]])[:10],
                "purged_rows": int(test[0] - len(tr)),
                "regime_refit": fold_regime is not None,
                "top1_accuracy": float(np.mean(pred[-1] == yt)),
                "majority_baseline": float(np.mean(maj == yt)),
            }
        )
    return {
        "rows": np.concatenate(rows),
        "pred": np.concatenate(pred),
        "proba": np.concatenate(proba),
        "majority": np.concatenate(major),
        "y": y,
        "folds": info,
        "regime": np.concatenate(regimes),
        "train_index": train_index,
        "stand_aside": np.concatenate(aside),
    }


# ------------------------------------------------------------------------------------------ trading


def selection_returns(
    ds: SelectorDataset, rows: np.ndarray, choice: np.ndarray, cost_bps: float = SWITCH_COST_BPS
) -> dict[str, np.ndarray]:
    """Per symbol, the per-bar returns of following `choice[i]` (template index) from decision row
    rows[i] until that symbol's next decision row (or `step` bars after the last one).

    Bar b earns returns[tpl][b] of the template chosen at the latest decision t < b (the template's own
    backtest: its position at t was decided at t's close and is held from t+1's open). Switching from
    template A to B at t costs `cost_bps` per unit of position difference sig_B[t] - sig_A[t]. A choice
    equal to the number of templates means flat (stand aside): no return, position 0.
    """
    out: dict[str, np.ndarray] = {}
    cost = cost_bps * 1e-4
    for sym in dict.fromkeys(ds.symbol[rows]):
        sel = rows[ds.symbol[rows] == sym]
        ch = choice[ds.symbol[rows] == sym]
        order = np.argsort(ds.t_pos[sel], kind="stable")
        sel, ch = sel[order], ch[order]
        ctx = ds.contexts[sym]
        t = ds.t_pos[sel]
        end = np.append(t[1:], min(t[-1] + ds.step, ctx.n - 1))
        flat = np.zeros(ctx.n)
        R = np.column_stack([ctx.returns[tid] for tid in ds.templates] + [flat])
        S = np.column_stack([np.nan_to_num(ctx.signals[tid]) for tid in ds.templates] + [flat])
        seg = []
        prev = None
        for ti, ei, c in zip(t, end, ch, strict=True):
            r = R[ti + 1 : ei + 1, c].copy()
            if prev is not None and prev != c and r.size:
                r[0] -= cost * abs(S[ti, c] - S[ti, prev])
            seg.append(r)
            prev = c
        out[sym] = np.concatenate(seg) if seg else np.zeros(0)
    return out


def asset_returns(ds: SelectorDataset, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Buy-and-hold per-bar returns over exactly the bars `selection_returns` covers."""
    out = {}
    for sym in dict.fromkeys(ds.symbol[rows]):
        t = np.sort(ds.t_pos[rows[ds.symbol[rows] == sym]])
        ctx = ds.contexts[sym]
        end = min(t[-1] + ds.step, ctx.n - 1)
        out[sym] = ctx.asset_returns[t[0] + 1 : end + 1]
    return out


def _pooled(per_symbol: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate(list(per_symbol.values())) if per_symbol else np.zeros(0)


def bars_per_year_of(ds: SelectorDataset) -> float:
    vals = [bars_per_year(c.bars.index) for c in ds.contexts.values()]
    return float(np.median(vals)) if vals else 252.0


def trading_scores(
    ds: SelectorDataset, cv: dict[str, Any], *, seed: int = 0, draws: int = RANDOM_DRAWS
) -> dict[str, Any]:
    """OOS Sharpe of following the ML choice vs random, best fixed template (hindsight), buy-and-hold."""
    # every Sharpe here is taken along axis 0 (numpy's mean and std; see `paiid.metrics.sharpe`)
    rows, pred = cv["rows"], cv["pred"]
    bpy = bars_per_year_of(ds)
    k = len(ds.templates)
    ml = selection_returns(ds, rows, pred)
    rng = np.random.default_rng(seed)
    rand_sh, rand_curves = [], []
    for _ in range(draws):
        rr = selection_returns(ds, rows, rng.integers(0, k, size=rows.size))
        rand_sh.append(sharpe(_pooled(rr), bpy, axis=0))
        rand_curves.append(rr)
    fixed = {tid: selection_returns(ds, rows, np.full(rows.size, j)) for j, tid in enumerate(ds.templates)}
    fixed_sh = {tid: sharpe(_pooled(v), bpy, axis=0) for tid, v in fixed.items()}
    best = max(fixed_sh, key=lambda t: fixed_sh[t])
    bh = asset_returns(ds, rows)
    ml_sh = sharpe(_pooled(ml), bpy, axis=0)
    rand_arr = np.array(rand_sh)
    return {
        "oos_sharpe": {
            "ml": ml_sh,
            "random": float(rand_arr.mean()),
            "best_fixed": fixed_sh[best],
            "buy_and_hold": sharpe(_pooled(bh), bpy, axis=0),
        },
        "best_fixed_template": best,
        "fixed_sharpe": fixed_sh,
        "random_sharpe_p95": float(np.quantile(rand_arr, 0.95)),
        "ml_beats_random_share": float(np.mean(ml_sh > rand_arr)),
        "oos_total_return": {
            "ml": float(np.prod(1 + _pooled(ml)) - 1),
            "best_fixed": float(np.prod(1 + _pooled(fixed[best])) - 1),
            "buy_and_hold": float(np.prod(1 + _pooled(bh)) - 1),
        },
        "per_symbol_sharpe": {
            sym: {
                "ml": sharpe(ml[sym], bpy, axis=0),
                "best_fixed": sharpe(fixed[best][sym], bpy, axis=0),
                "buy_and_hold": sharpe(bh[sym], bpy, axis=0),
            }
            for sym in ml
        },
        "switch_cost_bps": SWITCH_COST_BPS,
        "bars_per_year": bpy,
        "_curves": {"ml": ml, "random": rand_curves, "best_fixed": fixed[best], "buy_and_hold": bh},
    }


# ------------------------------------------------------------------------------------------ summary


def plausibility(accuracy: float, majority: float) -> dict[str, Any]:
    """Flag an out-of-sample accuracy that no honest 20-bar-ahead selector reaches (a leak)."""
    suspicious = accuracy > PLAUSIBLE_ACCURACY or accuracy - majority > PLAUSIBLE_LIFT
    return {
        "leakage_suspected": bool(suspicious),
        "rule": f"accuracy > {PLAUSIBLE_ACCURACY:g} or more than {PLAUSIBLE_LIFT:g} above the "
        "majority baseline",
    }


def summarize(
    ds: SelectorDataset, cv: dict[str, Any], *, seed: int = 0, with_curves: bool = False
) -> dict[str, Any]:
    """The contract's selector report from a cross-validation result."""
    y = cv["y"][cv["rows"]]
    k = len(ds.templates)
    acc = float(np.mean(cv["pred"] == y))
    maj = float(np.mean(cv["majority"] == y))
    p = cv["proba"]
    log_loss = float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))))
    prior = np.bincount(cv["y"][: cv["rows"][0]], minlength=k) / max(int(cv["rows"][0]), 1)
    trade = trading_scores(ds, cv, seed=seed)
    curves = trade.pop("_curves")
    out: dict[str, Any] = {
        "cv": "purged walk-forward",
        "top1_accuracy": acc,
        "majority_baseline": maj,
        "random_baseline": 1.0 / k,
        "log_loss": log_loss,
        "log_loss_prior_baseline": float(-np.mean(np.log(np.clip(prior[y], 1e-12, None)))),
        **trade,
        "folds": cv["folds"],
        "n_samples": int(len(ds)),
        "n_test": int(len(y)),
        "class_share": {t: float(np.mean(ds.y == j)) for j, t in enumerate(ds.templates)},
        "horizon_bars": ds.horizon,
        "decision_every_bars": ds.step,
        "purge": "training rows whose label window reaches the test period are dropped",
        "embargo_rows": ds.embargo_rows(),
        "symbols": sorted(set(ds.symbol.tolist())),
        **plausibility(acc, maj),
    }
    if with_curves:
        out["_curves"] = curves
    return out
