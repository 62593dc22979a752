"""How sure are we? Intervals, p-values and honest nulls for the selector's out-of-sample scores.

`paiid evaluate` reported point scores beside baselines; with ~900 overlapping decision dates from two
correlated series, a point score says little about whether an edge is real. This module adds:

* `folds`: the per-fold table (test dates, rows, accuracy vs majority, ML / buy-and-hold / best-fixed-
  before Sharpe), so that one lucky period (2007-08) is visible as such;
* `effective_decisions`: what the test rows are worth as independent decisions, two ways (the overlap
  of their H-bar windows, rows x step / H, and the autocorrelation of the per-decision outcome);
* `accuracy_lift`: top-1 accuracy minus the majority baseline, block-bootstrapped over decision rows
  (blocks of `ds.embargo_rows()` rows: H bars of time, every symbol's rows of those dates together);
* `sharpe_margins`: ML minus buy-and-hold, minus the best template chosen **before** each test window
  (best Sharpe on that fold's training rows: what a user could have known), minus the best template in
  hindsight (a reference no real choice can match), block-bootstrapped over the pooled per-bar returns
  in date order (blocks of H bars x symbols, so the two symbols' same-day returns move together);
  and `rotation`: the ML Sharpe against its own choices circularly shifted in time against the outcomes
  (many shifts): a null that keeps how often and how persistently it picks each template and only
  breaks the timing, the one thing a selector claims to add, with the margin's paired block-bootstrap
  interval (`rotation_interval`); called significant only when that interval excludes 0 *and* the
  rotation p-value is below 0.05 (`summary.rotation_verdict`, the one rule for every selector);
* `stand_aside`: following the ML but flat whenever the stand-aside rule (`edge`) says so, with each
  fold's rule reading only that fold's training rows (`cross_validate`), against following it always.

Every interval is `paiid.metrics.block_bootstrap` (seeded: the same report on every run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from paiid.backtest.metrics import max_drawdown
from paiid.metrics import block_bootstrap, effective_sample_size, sharpe, sharpe_from_sums
from paiid.ml.selector.dataset import SelectorDataset
from paiid.ml.selector.validation import _pooled, asset_returns, bars_per_year_of, selection_returns

#: Circular shifts of the model's choice sequence in the rotation null.
ROTATIONS = 200


def by_date(ds: SelectorDataset, rows: np.ndarray, per_symbol: dict[str, np.ndarray]) -> np.ndarray:
    """The per-symbol bar returns of `selection_returns` / `asset_returns` for `rows`, pooled in date
    order (same-day bars of different symbols adjacent), so a time block holds every symbol's days."""
    vals, dates = [], []
    for sym, r in per_symbol.items():
        t = np.sort(ds.t_pos[rows[ds.symbol[rows] == sym]])
        ctx = ds.contexts[sym]
        end = min(t[-1] + ds.step, ctx.n - 1)
        d = ctx.bars.index.values[t[0] + 1: end + 1]
        if d.size != r.size:
            raise ValueError(f"{sym}: {r.size} returns for {d.size} bars")
        vals.append(r)
        dates.append(d)
    if not vals:
        return np.zeros(0)
    order = np.argsort(np.concatenate(dates), kind="stable")
    return np.concatenate(vals)[order]


def sharpe_margin(a: np.ndarray, b: np.ndarray, bpy: float, block: int, seed: int) -> dict[str, Any]:
    """Sharpe(a) - Sharpe(b) of aligned per-bar series with its block-bootstrap interval."""
    iv = block_bootstrap(lambda x, y: sharpe(x, bpy, axis=0) - sharpe(y, bpy, axis=0), a, b,
                         block=block, seed=seed)
    return iv.as_dict()


def fixed_template_before(ds: SelectorDataset, train: np.ndarray, bpy: float) -> int:
    """The template with the best Sharpe on a fold's training rows (what was knowable at its start)."""
    k = len(ds.templates)
    sh = [sharpe(_pooled(selection_returns(ds, train, np.full(train.size, j))), bpy, axis=0)
          for j in range(k)]
    return int(np.argmax(sh))


def fold_table(ds: SelectorDataset, cv: dict[str, Any], bpy: float) -> tuple[list[dict[str, Any]], dict]:
    """Per fold: the CV facts plus ML, buy-and-hold and best-fixed-before Sharpe on its test rows; and
    the per-row choice of the best-fixed-before template, the per-fold ML and buy-and-hold series."""
    rows, pred = cv["rows"], cv["pred"]
    table, before = [], np.zeros(rows.size, np.int64)
    series: dict[str, list[np.ndarray]] = {"ml": [], "buy_and_hold": []}
    lo = 0
    for f, info in enumerate(cv["folds"]):
        hi = lo + int(info["test_rows"])
        sel, ch = rows[lo:hi], pred[lo:hi]
        j = fixed_template_before(ds, cv["train_index"][f], bpy)
        before[lo:hi] = j
        ml = by_date(ds, sel, selection_returns(ds, sel, ch))
        bh = by_date(ds, sel, asset_returns(ds, sel))
        fx = by_date(ds, sel, selection_returns(ds, sel, np.full(sel.size, j)))
        series["ml"].append(ml)
        series["buy_and_hold"].append(bh)
        table.append({
            **info,
            "ml_sharpe": sharpe(ml, bpy, axis=0),
            "buy_and_hold_sharpe": sharpe(bh, bpy, axis=0),
            "best_fixed_before": ds.templates[j],
            "best_fixed_before_sharpe": sharpe(fx, bpy, axis=0),
            "stood_aside_share": float(np.mean(cv["stand_aside"][lo:hi])) if "stand_aside" in cv else None,
        })
        lo = hi
    return table, {"before_choice": before, **series}


def rotation_null(ds: SelectorDataset, rows: np.ndarray, choice: np.ndarray, bpy: float,
                  shifts: int = ROTATIONS, *, series: Callable[[np.ndarray], np.ndarray] | None = None,
                  block: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Sharpe of following `choice` against the same choices rotated in time within each symbol.

    Shifts run evenly from 2 x H/step rows (less would keep much of the alignment, since choices
    persist) to the shortest symbol's row count minus that. p-value: (1 + #null >= observed) /
    (1 + shifts), one-sided: the question is whether the timing adds value.

    `series(choices)` turns one choice per row into the per-bar returns whose Sharpe is scored
    (default: every symbol's bars pooled, `selection_returns`); the panel passes its daily
    equal-weight portfolio, so that the null is scored like its other Sharpe figures. With `block`
    the answer also carries `interval`: the margin's block-bootstrap 95% CI, the ML series and every
    rotation's resampled on the same blocks of bars (`rotation_interval`)."""
    score = series if series is not None else (lambda c: _pooled(selection_returns(ds, rows, c)))
    sym = ds.symbol[rows]
    groups = [np.flatnonzero(sym == s) for s in dict.fromkeys(sym)]
    gap = 2 * max(1, ds.horizon // ds.step)
    n_min = min(len(g) for g in groups)
    ml = score(choice)
    observed = sharpe(ml, bpy, axis=0)
    if n_min <= 2 * gap:
        out = {"ml": observed, "null_mean": None, "null_p95": None, "margin": None, "p_value": None,
               "shifts": 0, "significant": False}
        return out if block is None else {**out, "interval": None}
    cand = np.unique(np.linspace(gap, n_min - gap, shifts).round().astype(np.int64))
    null = np.empty(cand.size)
    kept = []
    for i, s in enumerate(cand):
        rot = choice.copy()
        for g in groups:
            rot[g] = np.roll(choice[g], int(s))
        r = score(rot)
        null[i] = sharpe(r, bpy, axis=0)
        if block is not None:
            kept.append(r)
    p = float((1 + np.sum(null >= observed)) / (1 + null.size))
    out = {"ml": observed, "null_mean": float(null.mean()), "null_p95": float(np.quantile(null, 0.95)),
           "margin": float(observed - null.mean()), "p_value": p, "shifts": int(null.size),
           "significant": bool(p < 0.05)}
    if block is not None:
        out["interval"] = rotation_interval(ml, np.column_stack(kept), bpy, block, seed)
    return out


def rotation_interval(ml: np.ndarray, null: np.ndarray, bpy: float, block: int, seed: int) -> dict[str, Any]:
    """Sharpe(ml) minus the mean Sharpe of the null's columns (aligned per-bar series, bars x shifts),
    with its block-bootstrap 95% interval.

    Why paired: the rotations earn on the same market days as the ML, so a resample of bad days lowers
    both; resampling the ML alone against a fixed null mean would overstate the uncertainty of the gap.
    A resample's null Sharpes come from its bar counts (`w @ null`, `w @ null**2`:
    `paiid.metrics.sharpe_from_sums`) rather than by gathering bars x resamples x shifts values."""
    n = ml.size
    sums = np.vectorize(sharpe_from_sums, otypes=[np.float64])

    def stat(a: np.ndarray, ix: np.ndarray) -> np.ndarray:
        b = ix.shape[1]
        flat = (ix.astype(np.int64) + n * np.arange(b)).ravel()
        w = np.bincount(flat, minlength=n * b).reshape(b, n).astype(np.float64)
        null_sharpe = sums(w @ null, w @ (null * null), n, bpy).mean(axis=1)
        return sharpe(a, bpy, axis=0) - null_sharpe

    return block_bootstrap(stat, ml, np.arange(n), block=block, seed=seed).as_dict()


def _drawdown(per_symbol: dict[str, np.ndarray]) -> dict[str, Any]:
    dd = {s: max_drawdown(np.cumprod(1.0 + r)) for s, r in per_symbol.items()}
    return {"worst": min(dd.values()) if dd else 0.0, "per_symbol": dd}


def stand_aside_report(ds: SelectorDataset, cv: dict[str, Any], bpy: float, block: int, seed: int
                       ) -> dict[str, Any]:
    """Following the ML flat-when-standing-aside vs always, out of sample (each fold's own rule)."""
    rows, pred, aside = cv["rows"], cv["pred"], np.asarray(cv["stand_aside"], bool)
    with_sa = selection_returns(ds, rows, np.where(aside, len(ds.templates), pred))
    without = selection_returns(ds, rows, pred)
    a, b = by_date(ds, rows, with_sa), by_date(ds, rows, without)
    return {
        "rule": "flat when no template's forward return over the most similar training-period decision "
                "dates clears zero by one standard error (paiid.ml.selector.edge)",
        "stood_aside_share": float(aside.mean()) if aside.size else 0.0,
        "oos_sharpe": {"with_stand_aside": sharpe(a, bpy, axis=0), "without": sharpe(b, bpy, axis=0)},
        "max_drawdown": {"with_stand_aside": _drawdown(with_sa), "without": _drawdown(without)},
        "sharpe_difference": sharpe_margin(a, b, bpy, block, seed),
    }


def significance(ds: SelectorDataset, cv: dict[str, Any], *, seed: int = 0) -> dict[str, Any]:
    """The uncertainty keys of the selector report (see the module docstring)."""
    rows, pred = cv["rows"], cv["pred"]
    y = cv["y"][rows]
    bpy = bars_per_year_of(ds)
    n_sym = len(dict.fromkeys(ds.symbol[rows]))
    row_block = ds.embargo_rows()
    bar_block = ds.horizon * n_sym
    hit = (pred == y).astype(np.float64)
    maj = (cv["majority"] == y).astype(np.float64)
    lift = block_bootstrap(lambda a, b: a.mean(axis=0) - b.mean(axis=0), hit, maj, block=row_block,
                           seed=seed).as_dict()
    outcome = ds.scores[rows, pred]
    by_overlap = rows.size * ds.step / ds.horizon
    by_acf = effective_sample_size(outcome)
    table, extra = fold_table(ds, cv, bpy)
    ml = by_date(ds, rows, selection_returns(ds, rows, pred))
    bh = by_date(ds, rows, asset_returns(ds, rows))
    fixed = {j: by_date(ds, rows, selection_returns(ds, rows, np.full(rows.size, j)))
             for j in range(len(ds.templates))}
    hindsight = max(fixed, key=lambda j: sharpe(fixed[j], bpy, axis=0))
    before = by_date(ds, rows, selection_returns(ds, rows, extra["before_choice"]))
    out: dict[str, Any] = {
        "folds": table,
        "effective_decisions": {
            "value": float(min(by_overlap, by_acf)),
            "rows": int(rows.size),
            "by_overlap": float(by_overlap),
            "by_autocorrelation": float(by_acf),
            "method": "the smaller of rows x step / horizon (overlap of the label windows) and "
                      "paiid.metrics.effective_sample_size of the chosen template's forward score, rows "
                      "pooled in date order (so the symbols' same-day correlation counts too)",
        },
        "accuracy_lift": {**lift, "ml": float(hit.mean()), "majority": float(maj.mean()),
                          "unit": "share of decisions (0.07 = 7 points)"},
        "sharpe_margins": {
            "buy_and_hold": sharpe_margin(ml, bh, bpy, bar_block, seed),
            "best_fixed_before": {**sharpe_margin(ml, before, bpy, bar_block, seed),
                                  "note": "the template with the best Sharpe on each fold's training rows"},
            "best_fixed_hindsight": {**sharpe_margin(ml, fixed[hindsight], bpy, bar_block, seed),
                                     "template": ds.templates[hindsight],
                                     "note": "reference only: chosen on the test period itself"},
            "rotation": rotation_null(ds, rows, pred, bpy, block=bar_block, seed=seed),
            "block_bars": int(bar_block),
        },
        "oos_sharpe_best_fixed_before": sharpe(before, bpy, axis=0),
        "stand_aside": stand_aside_report(ds, cv, bpy, bar_block, seed),
        "_fold_series": extra,
    }
    return out
