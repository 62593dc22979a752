"""The selector's training set: one row per decision date, features known at t, label from t+1..t+H.

Why it is built this way:

* **Real backtests, run once.** The label of decision date t is read from the templates' per-bar
  returns `r[t+1..t+H]` in the symbol's context (`paiid.ml.context.build_context`: one full-history
  backtest per template), i.e. what following that template would have earned over the next H bars
  *given the position it already held at t* - exactly what a user switching to it at t gets.
* **No lookahead.** Features at t are the context's feature row t (`feature_matrix`). Nothing from t+1
  on enters a feature; every row carries its label window `[t+1, t+H]` (`t_pos`, `end_pos`, `t_date`,
  `end_date`) so validation can purge rows whose label overlaps a test window (`label_end_rows`).
* **Risk-adjusted label.** Score of template j = sum of its H forward returns divided by
  `sqrt(H) * max(std_j, floor)`, where the floor is half the asset's own per-bar volatility over the same
  window: a template that sits almost flat cannot win on a tiny denominator. The label is the template
  with the highest score; windows where every template is flat (a four-way tie at 0) carry no
  information about which to pick and are dropped.
* **Subsampled decision dates** (every `step` bars, default 5) cut the overlap between neighbouring labels
  (and the cost); the purge still handles what remains.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from paiid.data import splits
from paiid.features import WARMUP
from paiid.ml.context import (
    HORIZON,
    REGIME_FEATURES,
    TEMPLATES,
    ExtraFeatures,
    SymbolContext,
    build_context,
    feature_matrix,
    feature_names,
    regime_matrix,
    regime_per_bar,
)
from paiid.progress import track

#: Decision dates are every STEP bars.
STEP = 5


def forward_scores(
    ctx: SymbolContext, horizon: int = HORIZON, templates: Sequence[str] = TEMPLATES
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every bar t with a full window: (score, total return, max drawdown) per template over
    r[t+1..t+H], and the asset's return over the same window. Rows without a full window are NaN."""
    n, k = ctx.n, len(templates)
    score = np.full((n, k), np.nan)
    total = np.full((n, k), np.nan)
    mdd = np.full((n, k), np.nan)
    asset_total = np.full(n, np.nan)
    m = n - horizon - 1  # last t with r[t+H] available is n-1-H
    if m < 0:
        return score, total, mdd, asset_total
    idx = np.arange(m + 1)[:, None] + 1 + np.arange(horizon)[None, :]  # (t, h) -> t+1+h
    a = ctx.asset_returns[idx]
    a_sd = a.std(axis=1, ddof=1)
    asset_total[: m + 1] = np.prod(1.0 + a, axis=1) - 1.0
    for j, tid in enumerate(templates):
        r = ctx.returns[tid][idx]
        s = r.sum(axis=1)
        sd = r.std(axis=1, ddof=1)
        score[: m + 1, j] = s / (np.sqrt(horizon) * np.maximum(sd, 0.5 * a_sd + 1e-12))
        eq = np.cumprod(1.0 + r, axis=1)
        peak = np.maximum.accumulate(np.concatenate([np.ones((m + 1, 1)), eq], axis=1), axis=1)[:, 1:]
        total[: m + 1, j] = eq[:, -1] - 1.0
        mdd[: m + 1, j] = (eq / peak - 1.0).min(axis=1)
    return score, total, mdd, asset_total


@dataclass
class SelectorDataset:
    """The pooled training set, rows sorted by decision date (then symbol) so walk-forward folds are
    periods of time. Plain numpy arrays; `label_end_rows` and `embargo_rows()` are what
    `PurgedWalkForward(label_end=..., embargo=...)` wants."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    templates: list[str]
    scores: np.ndarray  # (n, k) forward risk-adjusted score per template
    fwd_return: np.ndarray  # (n, k) forward total return per template
    fwd_drawdown: np.ndarray  # (n, k) forward max drawdown per template (<= 0)
    asset_return: np.ndarray  # (n,) forward buy-and-hold return
    symbol: np.ndarray
    t_pos: np.ndarray  # bar position of the decision date within its symbol
    end_pos: np.ndarray  # t_pos + H: the last bar the label looks at
    t_date: np.ndarray  # datetime64[ns]
    end_date: np.ndarray
    regime: np.ndarray
    horizon: int
    step: int
    contexts: dict[str, SymbolContext] = field(repr=False, default_factory=dict)
    dropped_ties: int = 0

    def __len__(self) -> int:
        return int(self.y.size)

    @property
    def label_end_rows(self) -> np.ndarray:
        """For row i, the last row index whose decision date falls inside row i's label window: a
        training row whose label end reaches a test window's first row overlaps the test period."""
        return splits.label_end_rows(self.t_date, self.end_date)

    def embargo_rows(self) -> int:
        """Rows spanning H bars of time (one decision date per symbol every `step` bars, pooled)."""
        return splits.embargo_rows(self.horizon, max(1, len(np.unique(self.symbol))), self.step)

    @property
    def regime_source(self) -> str:
        """Where the regime columns of X came from: "model" (a trained regime model) or "rules"."""
        return next(iter(self.contexts.values())).regime_source


def decision_positions(n: int, horizon: int, step: int, start: int = WARMUP) -> np.ndarray:
    """Decision bars t = start, start+step, ... with a full label window (t + H <= n - 1)."""
    last = n - 1 - horizon
    if last < start:
        return np.zeros(0, dtype=np.int64)
    return np.arange(start, last + 1, step, dtype=np.int64)


def symbol_rows(ctx: SymbolContext, X_all: np.ndarray, horizon: int, step: int,
                 templates: Sequence[str]) -> tuple[dict[str, np.ndarray], int]:
    """One symbol's rows (usable, non-tied decision dates) and how many tied windows were dropped."""
    score, total, mdd, asset_total = forward_scores(ctx, horizon, templates)
    t = decision_positions(ctx.n, horizon, step)
    X = X_all[t]
    s = score[t]
    ok = np.isfinite(X).all(axis=1) & np.isfinite(s).all(axis=1)
    tie = np.abs(s).max(axis=1) < 1e-12  # every template flat: no information
    keep = ok & ~tie
    t = t[keep]
    idx = ctx.bars.index
    rows = {
        "X": X[keep],
        "y": np.argmax(s[keep], axis=1),
        "scores": s[keep],
        "fwd_return": total[t],
        "fwd_drawdown": mdd[t],
        "asset_return": asset_total[t],
        "symbol": np.full(t.size, ctx.symbol, dtype=object),
        "t_pos": t,
        "end_pos": t + horizon,
        "t_date": idx.values[t].astype("datetime64[ns]"),
        "end_date": idx.values[t + horizon].astype("datetime64[ns]"),
        "regime": ctx.regime[t],
    }
    return rows, int((ok & tie).sum())


def build_dataset(
    bars_by_symbol: Mapping[str, pd.DataFrame],
    *,
    horizon: int = HORIZON,
    step: int = STEP,
    regime_model: Any = None,
    templates: Sequence[str] = TEMPLATES,
    contexts: Mapping[str, SymbolContext] | None = None,
    progress: bool = True,
    extra: ExtraFeatures | None = None,
) -> SelectorDataset:
    """Slide over every symbol's history and pool the rows (see the module docstring).

    `contexts` (optional) reuses already computed backtests/features per symbol.
    """
    if horizon < 1 or step < 1:
        raise ValueError("horizon and step must be >= 1")
    names = feature_names(templates) + list(extra or {})
    parts: list[dict[str, np.ndarray]] = []
    ctxs: dict[str, SymbolContext] = {}
    dropped = 0
    items = list(bars_by_symbol.items())
    for sym, bars in track(items, "selector dataset") if progress else items:
        ctx = (contexts or {}).get(sym) or build_context(sym, bars, regime_model, templates)
        ctxs[sym] = ctx
        if decision_positions(ctx.n, horizon, step).size == 0:
            continue
        rows, ties = symbol_rows(ctx, feature_matrix(ctx, templates, extra), horizon, step, templates)
        parts.append(rows)
        dropped += ties
    k = len(templates)
    if parts:
        cat = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        order = np.lexsort((cat["symbol"].astype(str), cat["t_date"]))
        cat = {key: v[order] for key, v in cat.items()}
    else:
        cat = {
            "X": np.zeros((0, len(names))), "y": np.zeros(0, np.int64), "scores": np.zeros((0, k)),
            "fwd_return": np.zeros((0, k)), "fwd_drawdown": np.zeros((0, k)), "asset_return": np.zeros(0),
            "symbol": np.zeros(0, object), "t_pos": np.zeros(0, np.int64), "end_pos": np.zeros(0, np.int64),
            "t_date": np.zeros(0, "datetime64[ns]"), "end_date": np.zeros(0, "datetime64[ns]"),
            "regime": np.zeros(0, object),
        }
    return SelectorDataset(
        cat["X"], cat["y"].astype(np.int64), names, list(templates), cat["scores"], cat["fwd_return"],
        cat["fwd_drawdown"], cat["asset_return"], cat["symbol"], cat["t_pos"], cat["end_pos"],
        cat["t_date"], cat["end_date"], cat["regime"], horizon, step, ctxs, dropped,
    )


def regime_columns(ds: SelectorDataset, regime_model: Any) -> tuple[np.ndarray, np.ndarray]:
    """Regime feature columns (REGIME_FEATURES order) and labels for every row of `ds` from
    `regime_model` (e.g. one refitted on an earlier period for a walk-forward fold)."""
    cols = np.full((len(ds), len(REGIME_FEATURES)), np.nan)
    labels = np.full(len(ds), None, dtype=object)
    for sym, ctx in ds.contexts.items():
        sel = np.flatnonzero(ds.symbol == sym)
        if sel.size == 0:
            continue
        lab, conf, _ = regime_per_bar(regime_model, ctx.bars, ctx.features)
        t = ds.t_pos[sel]
        cols[sel] = regime_matrix(lab, conf)[t]
        labels[sel] = lab[t]
    return cols, labels


def refit_regime(
    regime_model: Any, ds: SelectorDataset, cutoff: np.datetime64, min_bars: int = WARMUP + 250
) -> Any:
    """A copy of `regime_model` (same parameters) fitted only on bars before `cutoff`, or None when no
    symbol has `min_bars` bars before it. Walk-forward folds use it so that not even the regime
    model's cluster definitions have seen the test period."""
    cut = [c.bars.loc[c.bars.index < pd.Timestamp(cutoff)] for c in ds.contexts.values()]
    cut = [b for b in cut if len(b) >= min_bars]
    if not cut:
        return None
    return clone(regime_model).fit(cut)
