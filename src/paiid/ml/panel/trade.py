"""The panel trade model: one win-probability model pooled over the whole universe, as closes.

Events are the four templates' entries on the close-only backtests of every symbol's close view
(`universe.close_view`: filled at the next close, stops and channels on closes), the features are
`PANEL_FEATURES` (the scale-free ones closes define) plus the sided and template columns of
`paiid.ml.tradeprob.features`, without regime columns (the rule regime reads ADX, which closes do not
give), and the labels are the triple barrier on closes (`triple_barrier(close_only=True)`).

**Volatility unit: the ATR of the close view** (`close_atr`: TA-Lib's ATR(14) of flat bars, open = high
= low = close, i.e. Wilder's average of absolute close-to-close changes), not rvol_20 x close. Why: it is
the very number the close-only backtest's ATR stops use, so a "2 ATR" barrier means the same distance in
the labels and in a backtest of the same trade; it is the same estimator (Wilder's 14-bar smoothing) as
the served model's `atr_14`, only on closes, so `ret_atr` keeps its meaning; and it is in price units
from absolute moves, where rvol_20 x close converts a 20-bar standard deviation of log returns (more
swayed by one outlier bar, and about 1.25x larger for normal moves). It is used for both the barrier
placement and the `ret_atr` target.

`evaluate` scores three recipes on the **same test events** (the pooled walk-forward test windows, minus
events a recipe could not forecast): *pooled* (`PurgedWalkForward` over pooled events sorted by date),
*held-out symbols* (`PurgedGroupWalkForward`: the window's events of symbols never seen in training;
symbols that are one series, e.g. SPX and SP500, are one group) and *per-symbol* (each symbol's own
model on its own past, in the same windows). Each recipe's Brier score is set against the base rate of
its own training events; pooled vs per-symbol is a Brier difference on the same events; every interval
is a circular block bootstrap (`paiid.metrics`) through `paiid.ml.tradeprob.significance`.
Hyperparameters are fixed (`HYPERPARAMETERS`), never chosen on a test fold.
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
from paiid.features import indicators as ind
from paiid.jsonutil import to_jsonable
from paiid.metrics import Interval, block_bootstrap, brier, calibration_bins, column_brier
from paiid.ml.context import SymbolContext
from paiid.ml.panel.universe import PANEL_FEATURES, close_view
from paiid.ml.tradeprob.dataset import TradeDataset, build_trade_dataset
from paiid.ml.tradeprob.labels import HORIZON, PROFIT_ATR, STOP_ATR
from paiid.ml.tradeprob.model import TradeProbModel, model_for
from paiid.ml.tradeprob.significance import (
    ALPHA,
    CONSTANT_TOL,
    auc_interval,
    effective_events,
    skill_interval,
    skill_significant,
)
from paiid.ml.tradeprob.validation import MIN_TRAIN_SHARE, N_SPLITS
from paiid.progress import track

#: ATR period of the close view (the backtest's STOP_ATR_PERIOD and the features' atr_14).
ATR_PERIOD = 14
#: Forest settings fixed for the panel's size (~27,000 events, ~130 model fits per evaluation; chosen for
#: run time before any test fold was scored): fewer trees than the served model's 300, leaves of 50
#: events (the served 10 are for ~900 events), two inner folds for the blend weight instead of five.
N_ESTIMATORS = 50
MIN_SAMPLES_LEAF = 50
CALIB_SPLITS = 2
#: Worker processes for the independent fits (the machine has 2 cores).
N_JOBS = 2
N_GROUP_FOLDS = 3
#: Fewest training events (of both outcomes) a model is fitted on; below it the recipe forecasts its
#: training base rate (what a model without evidence serves anyway).
MIN_TRAIN_EVENTS = 30
#: Daily log-return correlation over >= 250 common bars from which two symbols are one series.
SAME_SERIES_CORR = 0.99
SCHEMES = ("pooled", "held_out_symbols", "per_symbol")
#: The robustness check's block length, in multiples of the headline block (~1 label horizon).
LONG_BLOCKS = 5
HYPERPARAMETERS = {
    "n_estimators": N_ESTIMATORS, "min_samples_leaf": MIN_SAMPLES_LEAF, "max_features": "sqrt",
    "shrink_se": 1.0, "calib_splits": CALIB_SPLITS, "time_splits": N_SPLITS,
    "min_train_share": MIN_TRAIN_SHARE, "group_folds": N_GROUP_FOLDS, "min_train_events": MIN_TRAIN_EVENTS,
    "horizon_bars": HORIZON, "profit_atr": PROFIT_ATR, "stop_atr": STOP_ATR,
    "atr": f"ATR({ATR_PERIOD}) of the close view",
    "chosen": "fixed in advance (the served trade model's recipe; trees, leaf size and inner folds set for "
              "run time on ~27,000 events); nothing is tuned on a test fold",
}


def close_atr(ctx: SymbolContext) -> np.ndarray:
    """TA-Lib ATR(14) of the flat bars of the closes: Wilder's average of |close_t - close_t-1|."""
    c = ctx.bars["close"].to_numpy(np.float64)
    return ind.atr(c, c, c, ATR_PERIOD)


def panel_dataset(bars_by_symbol: Mapping[str, pd.DataFrame]) -> TradeDataset:
    """The pooled close-only events of every symbol (each as its close view), sorted by date."""
    views = {s: close_view(b, s) for s, b in bars_by_symbol.items()}
    return build_trade_dataset(views, features=PANEL_FEATURES, regime=False, atr=close_atr, close_only=True)


def series_groups(bars_by_symbol: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """Symbol -> its group: symbols whose closes are one series (SAME_SERIES_CORR) share one, so that
    holding out a symbol also holds out its copies."""
    rets = pd.DataFrame({s: np.log(b["close"].astype(float)).diff() for s, b in bars_by_symbol.items()})
    corr = rets.corr(min_periods=250)
    group = {s: s for s in sorted(bars_by_symbol)}
    for a in sorted(group):
        for b in sorted(group):
            if a < b and corr.loc[a, b] >= SAME_SERIES_CORR:
                old, new = sorted((group[a], group[b]))[::-1]
                group = {s: new if g == old else g for s, g in group.items()}
    return group


def _embargo(ds: TradeDataset, symbols: Any) -> int:
    """H bars' worth of the events of `symbols` (the formula of `TradeDataset.embargo_rows`)."""
    syms = [str(s) for s in np.unique(np.asarray(symbols).astype(str))]
    n = int(np.isin(ds.symbol.astype(str), syms).sum())
    return embargo_rows(ds.horizon, n * len(syms), sum(ds.contexts[s].n for s in syms) or 1) if n > 1 else 0


def panel_splits(ds: TradeDataset, groups: Mapping[str, str], seed: int = 0,
                 n_splits: int = N_SPLITS) -> dict[str, list[tuple[np.ndarray, np.ndarray, int]]]:
    """(train rows, test rows, embargo) of every model each recipe fits, over the same time windows."""
    le, emb, sym = ds.label_end_rows, ds.embargo_rows(), ds.symbol.astype(str)
    wf = PurgedWalkForward(n_splits, min_train=MIN_TRAIN_SHARE, embargo=emb, label_end=le)
    windows = list(wf.split(ds.X))
    gcv = PurgedGroupWalkForward(n_splits, n_group_folds=N_GROUP_FOLDS, seed=seed, min_train=MIN_TRAIN_SHARE,
                                 embargo=emb, label_end=le)
    held = [(tr, te, _embargo(ds, sym[tr])) for tr, te in gcv.split(ds.X, ds.y, [groups[s] for s in sym])]
    own = [(tr[sym[tr] == s], te[sym[te] == s], _embargo(ds, [s]))
           for tr, te in windows for s in sorted(set(sym[te]))]
    return {"pooled": [(tr, te, emb) for tr, te in windows], "held_out_symbols": held, "per_symbol": own}


def _model(ds: TradeDataset, seed: int, n_estimators: int) -> TradeProbModel:
    """The one recipe every panel fit uses (`HYPERPARAMETERS`)."""
    return model_for(ds, n_estimators=n_estimators, seed=seed).set_params(
        min_samples_leaf=MIN_SAMPLES_LEAF, calib_splits=CALIB_SPLITS)


def _fit_predict(model: TradeProbModel, ds: TradeDataset, tr: np.ndarray, te: np.ndarray,
                 emb: int) -> tuple[np.ndarray, np.ndarray, float, float] | None:
    """(served, forest, blend weight, CPU seconds) on `te` of `model` fitted on `tr`; None with too
    little to fit."""
    if len(tr) < MIN_TRAIN_EVENTS or len(np.unique(ds.y[tr])) < 2 or not len(te):
        return None
    cpu = time.process_time()
    m = clone(model).fit(ds.X[tr], ds.y[tr], label_end=label_end_within(ds.label_end_rows, tr), embargo=emb,
                         ret_atr=ds.ret_atr[tr])
    p, raw = m.predict_proba(ds.X[te])[:, 1], m.forest_proba(ds.X[te])
    return p, raw, float(m.blend_weight_), time.process_time() - cpu


def oos_forecasts(ds: TradeDataset, fits: dict[str, list[tuple[np.ndarray, np.ndarray, int]]], seed: int,
                  n_estimators: int, n_jobs: int) -> dict[str, Any]:
    """Out-of-sample forecasts per dataset row and recipe (NaN where it made none), with each row's
    model (`unit`), whether that model's forecasts are one constant and its training base rate. A model
    without enough training events forecasts its training base rate (what it would serve anyway). The
    fits are independent, so they run on `n_jobs` processes, largest first."""
    tasks = [(k, i, tr, te, emb) for k in SCHEMES for i, (tr, te, emb) in enumerate(fits[k])]
    tasks.sort(key=lambda t: -len(t[2]))
    model = _model(ds, seed, n_estimators)
    done = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_fit_predict)(model, ds, tr, te, emb) for _, _, tr, te, emb in tasks)
    out = {}
    for k in SCHEMES:
        n = len(ds)
        out[k] = {"p": np.full(n, np.nan), "raw": np.full(n, np.nan), "base": np.full(n, np.nan),
                  "unit": np.full(n, -1), "constant": np.ones(len(fits[k]) + 1, bool), "weights": []}
    results = list(track(done, "panel trade model fits", total=len(tasks)))
    for (k, i, tr, te, _), r in zip(tasks, results, strict=True):
        o = out[k]
        if not len(tr) or not len(te):
            continue
        o["base"][te], o["unit"][te] = float(ds.y[tr].mean()), i
        if r is None:
            o["p"][te] = o["base"][te]
            continue
        o["p"][te], o["raw"][te] = r[0], r[1]
        o["constant"][i] = bool(np.ptp(r[0]) <= CONSTANT_TOL)
        o["weights"].append(r[2])
    for o in out.values():
        o["models"] = len(o["weights"])
    out["fit_cpu_seconds"] = float(sum(r[3] for r in results if r is not None))
    return out


def _iv(iv: Interval | dict[str, Any] | None) -> dict[str, Any] | None:
    if iv is None:
        return None
    d = iv.as_dict() if isinstance(iv, Interval) else dict(iv)
    return {"estimate": d["estimate"], "ci95": d["ci95"], "p_value": d["p_value"]}


def _brier_diff(y: np.ndarray, a: np.ndarray, b: np.ndarray, block: int, seed: int) -> dict[str, Any] | None:
    """Brier(a) - Brier(b) on the same events (> 0: b is better), with its block-bootstrap interval."""
    iv = block_bootstrap(lambda y_, a_, b_: column_brier(y_, a_) - column_brier(y_, b_), y, a, b,
                         block=block, seed=seed)
    return _iv(iv)


def _score(ds: TradeDataset, sch: dict[str, Any], rows: np.ndarray, block: int, seed: int,
           bins: bool = False) -> dict[str, Any]:
    """One recipe on `rows` (in time order): Brier vs its training base rate, skill with CI and
    p-value, AUC with CI only on the rows of models whose forecasts vary, the forest's own AUC."""
    y, p, b, raw = ds.y[rows], sch["p"][rows], sch["base"][rows], sch["raw"][rows]
    sk = skill_interval(y, p, b, block=block, seed=seed)
    varies = ~sch["constant"][sch["unit"][rows]]
    has_raw = np.isfinite(raw)
    out = {
        "brier": brier(y, p), "baseline_brier": brier(y, b),
        "brier_skill": _iv(sk), "skill_significant": skill_significant(sk.estimate, sk.p_value),
        "auc": _iv(auc_interval(y[varies], p[varies], block=block, seed=seed)) if varies.sum() > 1 else None,
        "auc_events": int(varies.sum()),
        "auc_model": _iv(auc_interval(y[has_raw], raw[has_raw], block=block, seed=seed))
        if has_raw.sum() > 1 else None,
        "train_base_rate_mean": float(b.mean()),
    }
    if bins:
        edges = np.unique(np.quantile(p, np.linspace(0, 1, 6)))
        edges = edges if edges.size > 1 else np.array([0.0, 1.0])
        out["calibration"] = [{"lo": c.lo, "hi": c.hi, "events": c.n, "mean_probability": c.mean_predicted,
                               "observed_win_rate": c.observed} for c in calibration_bins(y, p, edges)]
        out["models"] = sch["models"]
        out["blend_weight_mean"] = float(np.mean(sch["weights"])) if sch["weights"] else None
        out["models_with_zero_weight"] = int(sum(w == 0 for w in sch["weights"]))
    return out


def _verdict(iv: dict[str, Any] | None, better: str, worse: str) -> str:
    """"+0.0012, 95% CI [..], p = ..: not significant" (or which way it is significant)."""
    if iv is None or iv["p_value"] is None:
        return "no interval (too few events)"
    lo, hi = iv["ci95"]
    ci = f"{iv['estimate']:+.4f}, 95% CI [{lo:+.4f}, {hi:+.4f}], p = {iv['p_value']:.2f}"
    if iv["p_value"] >= ALPHA:
        return f"{ci}: not significant"
    return f"{ci}: significant, {better if iv['estimate'] > 0 else worse}"


def _sentences(rep: dict[str, Any]) -> list[str]:
    """Plain sentences from the numbers: skill per recipe, pooling vs per-symbol, held-out symbols."""
    sc, cmp_, table = rep["scores"], rep["comparisons"], rep["per_symbol"]
    label = {"pooled": "Pooled model, held-out time",
             "held_out_symbols": "Held-out symbols (never in training) and held-out time",
             "per_symbol": "Per-symbol models (each on its own past)"}
    eff = rep["effective_events"]["autocorrelation_adjusted"]
    out = [f"{rep['test_events']} common test events on {len(table)} symbols, worth about {eff:.0f} "
           "independent ones."]
    for k in SCHEMES:
        v = _verdict(sc[k]["brier_skill"], "beats the base rate", "worse than the base rate")
        out.append(f"{label[k]}: Brier {sc[k]['brier']:.4f} vs {sc[k]['baseline_brier']:.4f} for its "
                   f"training base rate; Brier skill {v}.")
    v = _verdict(cmp_["per_symbol_minus_pooled"], "pooling helps", "per-symbol models are better")
    out.append(f"Does pooling help? Brier of per-symbol minus pooled models {v}.")
    v = _verdict(sc["held_out_symbols"]["brier_skill"], "the model carries to symbols it never saw",
                 "worse than the base rate on symbols it never saw")
    w = _verdict(cmp_["held_out_minus_per_symbol"], "the symbols' own models are better",
                 "the model that never saw the symbol is better")
    out.append(f"Skill on held-out symbols: Brier skill {v}; held-out-symbol minus per-symbol Brier {w}.")
    lb = rep["bootstrap"]["longer_blocks"]
    v = _verdict(lb["pooled"], "still beats the base rate", "worse than the base rate")
    w = _verdict(lb["per_symbol_minus_pooled"], "pooling still helps", "per-symbol models are better")
    out.append(f"With {LONG_BLOCKS}x longer bootstrap blocks ({lb['block_events']} events) the pooled "
               f"skill is {v}; per-symbol minus pooled Brier {w}.")
    same = [" and ".join(m) for m in rep["groups"].values() if len(m) > 1]
    if same:
        out.append(f"One series under two symbols ({'; '.join(same)}): held out together, counted twice.")
    sig = [s for s, r in table.items() if r["pooled"]["skill_significant"]]
    names = f" ({', '.join(sig)})" if sig else ""
    out.append(f"Per symbol, the pooled model's skill is significant (p < {ALPHA}) on {len(sig)} of "
               f"{len(table)} symbols{names}; about {0.025 * len(table):.1f} would be by chance alone.")
    return out


def evaluate(bars_by_symbol: Mapping[str, pd.DataFrame], seed: int = 0, *,
             n_estimators: int = N_ESTIMATORS, n_jobs: int = N_JOBS) -> dict[str, Any]:
    """The panel trade-model study (JSON-friendly): three recipes scored on the same test events."""
    start, cpu = time.perf_counter(), time.process_time()
    ds = panel_dataset(bars_by_symbol)
    groups = series_groups({s: bars_by_symbol[s] for s in ds.contexts})
    fits = panel_splits(ds, groups, seed)
    res = oos_forecasts(ds, fits, seed, n_estimators, n_jobs)
    common = np.flatnonzero(np.logical_and.reduce([np.isfinite(res[k]["p"]) for k in SCHEMES]))
    block = max(1, ds.embargo_rows())
    y, sym = ds.y[common], ds.symbol[common].astype(str)
    rep: dict[str, Any] = {
        "model": "TradeProbModel (random forest shrunk toward the training base rate) on close-only "
                 "template entry events, triple barrier on closes",
        "hyperparameters": HYPERPARAMETERS, "features": list(ds.feature_names),
        "symbols": sorted(ds.contexts),
        "groups": {g: sorted(s for s in groups if groups[s] == g) for g in sorted(set(groups.values()))},
        "events": len(ds), "test_events": int(common.size),
        "test_events_per_recipe": {k: int(np.isfinite(res[k]["p"]).sum()) for k in SCHEMES},
        "test_period": [str(ds.t_date[common[i]])[:10] for i in (0, -1)] if common.size else None,
        "base_rate_note": "every baseline is the win rate of the recipe's own training events (before the "
                          "test window, purged), predicted for each of its test events",
        "bootstrap": {"method": "circular block (paiid.metrics.block_bootstrap)", "block_events": block},
        "effective_events": effective_events(y, res["pooled"]["base"][common], sym, ds.t_pos[common],
                                             ds.t1_pos[common]),
        "scores": {k: _score(ds, res[k], common, block, seed, bins=True) for k in SCHEMES},
    }
    p = {k: res[k]["p"][common] for k in SCHEMES}
    long_block = LONG_BLOCKS * block  # serial dependence beyond one label horizon (market regimes)
    rep["bootstrap"]["longer_blocks"] = {
        "block_events": long_block,
        **{k: _iv(skill_interval(y, p[k], res[k]["base"][common], block=long_block, seed=seed))
           for k in SCHEMES},
        "per_symbol_minus_pooled": _brier_diff(y, p["per_symbol"], p["pooled"], long_block, seed),
    }
    rep["comparisons"] = {
        "per_symbol_minus_pooled": _brier_diff(y, p["per_symbol"], p["pooled"], block, seed),
        "held_out_minus_per_symbol": _brier_diff(y, p["held_out_symbols"], p["per_symbol"], block, seed),
        "held_out_minus_pooled": _brier_diff(y, p["held_out_symbols"], p["pooled"], block, seed),
        "note": "Brier(first) - Brier(second) on the same events; > 0 means the second is better",
    }
    table = {}
    for s in sorted(set(sym)):
        rows = common[sym == s]
        b = max(1, _embargo(ds, [s]))
        ps = {k: res[k]["p"][rows] for k in SCHEMES}
        eff = effective_events(ds.y[rows], res["pooled"]["base"][rows], sym[sym == s], ds.t_pos[rows],
                               ds.t1_pos[rows])
        table[s] = {"events": int(rows.size), "win_rate": float(ds.y[rows].mean()),
                    "effective_events": {k: v for k, v in eff.items() if k not in ("events", "method")},
                    **{k: _score(ds, res[k], rows, b, seed) for k in SCHEMES},
                    "per_symbol_minus_pooled": _brier_diff(ds.y[rows], ps["per_symbol"], ps["pooled"], b,
                                                           seed)}
    rep["per_symbol"] = table
    rep["summary"] = _sentences(rep)
    rep["runtime"] = {"wall_seconds": round(time.perf_counter() - start, 1), "n_jobs": n_jobs,
                      "fit_cpu_seconds": round(res["fit_cpu_seconds"], 1),
                      "main_cpu_seconds": round(time.process_time() - cpu, 1)}
    return to_jsonable(rep)


def fit_panel_trade(bars_by_symbol: Mapping[str, pd.DataFrame], *, seed: int = 0,
                    n_estimators: int = N_ESTIMATORS) -> TradeProbModel:
    """The panel trade model fitted on every resolved event of the universe (for serving and the bench)."""
    ds = panel_dataset(bars_by_symbol)
    return _model(ds, seed, n_estimators).fit(
        ds.X, ds.y, label_end=ds.label_end_rows, embargo=ds.embargo_rows(), ret_atr=ds.ret_atr,
        exit_dates=ds.t1_date)
