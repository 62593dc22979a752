"""The panel strategy selector: one selector pooled over the real universe, judged three ways.

Why: the SPX + GOOG selector rests on about 225 independent decisions from two correlated series. The
universe (`paiid.ml.panel.universe`: 23 real daily series as closes) has ten times the evidence, if a
pooled model can use it. Whether it can is what `evaluate` measures, with nothing tuned on a test fold:

* **(a) pooled, held-out time** - `PurgedWalkForward` over the pooled rows (every symbol, sorted by
  decision date): the model has seen each test symbol's past, never the test period;
* **(b) held-out symbols and time** - `PurgedGroupWalkForward`: for each window, each group fold of
  symbols is predicted by a model that never saw those symbols (and saw the others only before the
  window);
* **(c) per-symbol models** - for each window and symbol, a model fitted on that symbol's own purged
  training rows only (the same rows (a) uses, restricted to the symbol).

All three are scored on the **same** test rows (the window rows every one of them could predict: a
symbol with fewer than `PER_SYMBOL_MIN_TRAIN` rows before a window has no per-symbol model there, and
its rows of that window are left out of all three, counted in `excluded_rows`). Beside every score:
its baseline (the majority class of *that model's* training rows; buy-and-hold; the template with the
best Sharpe on that model's training rows, `best_fixed_before`) and a block-bootstrap 95% CI and
p-value (`paiid.metrics.block_bootstrap`; accuracy over decision rows in date order, blocks of H bars'
worth of rows; Sharpe over the daily equal-weight portfolio of the symbols, blocks of H days).

Each fitted model also gives, for every row it predicts, the served answer's stand-aside verdict
(`paiid.ml.selector.edge.stand_aside_rows`), its expectations read from that model's own purged
training rows (`OutOfSample`: realised outcomes all ended before the window), as the OHLCV
selector's walk-forward does; the report scores following the model flat on those rows, and the
model against its own choices rotated in time (`report`).

Inputs per row (known at the close of t): `PANEL_FEATURES` (the scale-free features closes define),
the four templates' positions and trailing risk-adjusted returns (`paiid.ml.context.template_state`,
backtested with the close-only execution variant), and, with `cross_sectional=True`, the symbol's
60-bar return rank among the universe symbols with a bar on that date and the index's (`SP500`)
60-bar return and 60-bar volatility as of that date. No regime columns: the regime rules need high and
low. Labels are the selector's (`paiid.ml.selector.dataset`: the template with the best risk-adjusted
return over t+1..t+H). A held-out symbol's rows (its features and labels) are never in training; its
past closes do enter the context columns of other symbols' rows before the window (its share of the
60-bar rank; the index level when the index is held out), as they would for a model serving a symbol
of a live universe.

Fixed hyperparameters (`HYPERPARAMETERS`), chosen for runtime before any score was seen: decisions
every `STEP` = 10 bars, a random forest (balanced class weights, no calibration) of `N_ESTIMATORS`
trees with `MIN_SAMPLES_LEAF` rows per leaf, 5 walk-forward windows after the first third of the rows,
4 group folds dealt by a seeded permutation, fits spread over `N_JOBS` = 2 processes. The whole
universe evaluated in 3.4 minutes on a 2-core machine shared with other jobs (load about 9; see the
report's `runtime_s`) before the stand-aside verdicts: one `expectations` query a test row against up to
~15,000 training rows (a few ms each, in the fit workers) for the pooled and held-out-symbol models
roughly doubles the fits' time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.parallel import Parallel, delayed  # joblib through scikit-learn (a declared dependency)

from paiid.data.splits import PurgedGroupWalkForward, PurgedWalkForward, embargo_rows, label_end_within
from paiid.ml.context import HORIZON
from paiid.ml.panel.dataset import CROSS_SECTIONAL, STEP, build_panel_dataset
from paiid.ml.panel.report import MODELS, score, sentences
from paiid.ml.selector.dataset import SelectorDataset
from paiid.ml.selector.edge import stand_aside_rows
from paiid.ml.selector.model import OutOfSample, StrategySelector
from paiid.ml.selector.significance import fixed_template_before
from paiid.ml.selector.validation import MIN_TRAIN_SHARE, N_SPLITS, bars_per_year_of
from paiid.progress import track

__all__ = ["CROSS_SECTIONAL", "MODELS", "build_panel_dataset", "evaluate", "fit_panel_selector",
           "panel_predictions", "score", "sentences"]

N_ESTIMATORS = 100
MIN_SAMPLES_LEAF = 20
N_GROUP_FOLDS = 4
#: No probability calibration: only the argmax choice is scored here, and a sigmoid calibration per
#: fit (three forests and an L-BFGS fit per class) was three quarters of the runtime.
CALIBRATION = "none"
#: Worker processes for the ~140 fits (the target machine has 2 cores).
N_JOBS = 2
#: Rows a symbol needs before a window for a per-symbol model there (with STEP 10: about 2 years).
PER_SYMBOL_MIN_TRAIN = 50


def hyperparameters(n_estimators: int = N_ESTIMATORS, step: int = STEP) -> dict[str, Any]:
    """The fixed recipe, stated in the report (none of it is chosen on a test fold)."""
    return {"kind": "rf (class_weight balanced)", "calibration": CALIBRATION, "n_estimators": n_estimators,
            "min_samples_leaf": MIN_SAMPLES_LEAF, "max_features": "sqrt", "step_bars": step,
            "horizon_bars": HORIZON, "walk_forward_windows": N_SPLITS, "min_train_share": MIN_TRAIN_SHARE,
            "group_folds": N_GROUP_FOLDS, "per_symbol_min_train_rows": PER_SYMBOL_MIN_TRAIN,
            "tuned_on_test_folds": False}


def panel_model(ds: SelectorDataset, *, n_estimators: int = N_ESTIMATORS, seed: int = 0) -> StrategySelector:
    """The fixed recipe (`HYPERPARAMETERS`), unfitted, shaped for `ds`."""
    return StrategySelector(kind="rf", n_estimators=n_estimators, min_samples_leaf=MIN_SAMPLES_LEAF,
                            calibration=CALIBRATION, random_state=seed, templates=ds.templates,
                            feature_names=ds.feature_names, horizon=ds.horizon, step=ds.step,
                            regime_source="none")


def fit_panel_selector(bars_by_symbol: Mapping[str, pd.DataFrame], *, n_estimators: int = N_ESTIMATORS,
                       seed: int = 0, step: int = STEP, progress: bool = False
                       ) -> tuple[StrategySelector, SelectorDataset]:
    """The pooled model fitted on every row of the universe (the training benchmark), and its rows."""
    ds = build_panel_dataset(bars_by_symbol, step=step, progress=progress)
    model = panel_model(ds, n_estimators=n_estimators, seed=seed)
    model.fit(ds.X, ds.y, label_end=ds.label_end_rows, embargo=ds.embargo_rows())
    return model, ds


# ------------------------------------------------------------------------------------- predictions


def splitters(ds: SelectorDataset, seed: int = 0, n_splits: int = N_SPLITS,
              n_group_folds: int = N_GROUP_FOLDS) -> tuple[PurgedWalkForward, PurgedGroupWalkForward]:
    """The time splitter of (a) and (c) and the group splitter of (b), with the same windows."""
    kw = {"min_train": MIN_TRAIN_SHARE, "embargo": ds.embargo_rows(), "label_end": ds.label_end_rows,
          "min_classes": 2}
    return (PurgedWalkForward(n_splits, **kw),
            PurgedGroupWalkForward(n_splits, n_group_folds=n_group_folds, seed=seed, **kw))


def panel_predictions(ds: SelectorDataset, *, seed: int = 0, n_estimators: int = N_ESTIMATORS,
                      n_splits: int = N_SPLITS, n_group_folds: int = N_GROUP_FOLDS, n_jobs: int = N_JOBS,
                      progress: bool = False) -> dict[str, Any]:
    """Out-of-sample choices of the three models on every row each could predict.

    Per model: `pred`, `majority` and `fixed_before` (one value per row of `ds`, -1 where not
    predicted), `stand_aside` (the stand-aside verdict of `paiid.ml.selector.edge` for every predicted
    row, False elsewhere) and `fits`: one (train rows, test rows) pair per fitted model, as the
    splitters gave them (what the tests check: a held-out symbol never in its model's training rows).
    `window` is each row's walk-forward window (-1 outside every test window).

    The stand-aside verdict is the served answer's rule, point in time: each fitted model is handed
    its own (purged) training rows' realised forward returns as the history its `expectations` read
    (`OutOfSample`, as the OHLCV selector's `cross_validate` does), so a test row's verdict reads only
    outcomes whose label ended before its window."""
    time_cv, group_cv = splitters(ds, seed, n_splits, n_group_folds)
    bpy = bars_per_year_of(ds)
    n, k = len(ds), len(ds.templates)
    le = ds.label_end_rows
    est = panel_model(ds, n_estimators=n_estimators, seed=seed)
    out = {m: {"pred": np.full(n, -1), "majority": np.full(n, -1), "fixed_before": np.full(n, -1),
               "stand_aside": np.zeros(n, bool), "fits": []} for m in MODELS}
    window = np.full(n, -1)
    windows = list(time_cv.split(ds.X, ds.y))


    jobs: list[tuple[str, np.ndarray, np.ndarray, int]] = []
    one_symbol = embargo_rows(ds.horizon, 1, ds.step)
    for w, (tr, te) in enumerate(windows):
        window[te] = w
        jobs.append(("pooled", tr, te, ds.embargo_rows()))
        for s in dict.fromkeys(ds.symbol[te]):
            tr_s, te_s = tr[ds.symbol[tr] == s], te[ds.symbol[te] == s]
            if tr_s.size >= PER_SYMBOL_MIN_TRAIN and np.unique(ds.y[tr_s]).size >= 2:
                jobs.append(("per_symbol", tr_s, te_s, one_symbol))
    jobs += [("held_out_symbols", tr, te, ds.embargo_rows())
             for tr, te in group_cv.split(ds.X, ds.y, ds.symbol)]
    tasks = (delayed(_fit_predict)(est, ds.X[tr], ds.y[tr], label_end_within(le, tr), emb, ds.X[te],
                                   _history(ds, tr), ds.regime[te])
             for _, tr, te, emb in jobs)
    results = Parallel(n_jobs=n_jobs)(tasks)
    for (model, tr, te, _), (pred, aside) in zip(
            track(jobs, "panel selector walk-forward") if progress else jobs, results, strict=True):
        o = out[model]
        o["pred"][te] = pred
        o["stand_aside"][te] = aside
        o["majority"][te] = int(np.argmax(np.bincount(ds.y[tr], minlength=k)))
        o["fixed_before"][te] = fixed_template_before(ds, tr, bpy)
        o["fits"].append((tr, te))
    return {**out, "window": window, "windows": windows}


def _history(ds: SelectorDataset, train: np.ndarray) -> OutOfSample:
    """A fold's training rows as the history the stand-aside rule reads: their features, realised
    forward return and drawdown per template, and regime label (all resolved before the window)."""
    return OutOfSample(ds.X[train], ds.fwd_return[train], ds.fwd_drawdown[train], ds.regime[train])


def _fit_predict(est: StrategySelector, X: np.ndarray, y: np.ndarray, label_end: np.ndarray, embargo: int,
                 X_test: np.ndarray, history: OutOfSample, regime_test: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One fold (a worker process's job): a clone of `est` fitted on (X, y) with `history` as its
    expectations' rows; its choices on X_test and the stand-aside verdict of each test row."""
    model = clone(est).fit(X, y, label_end=label_end, embargo=embargo, oos=history)
    return model.predict(X_test), stand_aside_rows(model, X_test, regime_test)


def evaluate(bars_by_symbol: Mapping[str, pd.DataFrame], seed: int = 0, n_estimators: int = N_ESTIMATORS, *,
             step: int = STEP, n_jobs: int = N_JOBS, progress: bool = False) -> dict[str, Any]:
    """The panel selector study (see the module docstring), JSON-friendly, with its runtime."""
    t0 = time.perf_counter()
    ds = build_panel_dataset(bars_by_symbol, step=step, progress=progress)
    t1 = time.perf_counter()
    preds = panel_predictions(ds, seed=seed, n_estimators=n_estimators, n_jobs=n_jobs, progress=progress)
    t2 = time.perf_counter()
    report = score(ds, preds, seed=seed)
    report["summary"] = sentences(report)
    t3 = time.perf_counter()
    report.update({
        "symbols": sorted(bars_by_symbol), "n_rows": len(ds), "features": ds.feature_names,
        "class_share": {t: float(np.mean(ds.y == j)) for j, t in enumerate(ds.templates)},
        "hyperparameters": hyperparameters(n_estimators, step), "seed": seed,
        "windows": [{"window": w, "train_rows": int(tr.size), "test_rows": int(te.size),
                     "test_start": str(ds.t_date[te[0]])[:10], "test_end": str(ds.t_date[te[-1]])[:10]}
                    for w, (tr, te) in enumerate(preds["windows"])],
        "runtime_s": {"dataset": t1 - t0, "fits": t2 - t1, "scoring": t3 - t2, "total": t3 - t0},
    })
    return report
