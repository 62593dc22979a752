"""The panel selector's rows: `paiid.ml.selector.dataset`'s labels on close views of every symbol.

Why a dataset of its own: the SPX + GOOG selector reads regime columns and OHLC features; a panel
of close-only series has neither. Rows here are the selector's (decision dates every `STEP` bars,
label = the template with the best risk-adjusted return over t+1..t+H, `forward_scores`; ties
dropped), with `PANEL_FEATURES`, the template state and the cross-sectional columns known at t
(`CROSS_SECTIONAL`: the symbol's 60-bar return rank among the symbols with a bar that date, and the
index's 60-bar return and volatility as of that date).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from paiid.errors import BadInput
from paiid.ml.context import HORIZON, TEMPLATES, SymbolContext, build_context, feature_matrix, feature_names
from paiid.ml.panel.universe import INDEX_SYMBOL, PANEL_FEATURES
from paiid.ml.selector.dataset import SelectorDataset, symbol_rows
from paiid.progress import track

#: Decision dates every STEP bars (the SPX + GOOG selector uses 5; 10 halves the overlap of the 20-bar
#: labels and the cost, and 23 symbols still give ~18,000 rows).
STEP = 10
#: The cross-sectional columns (`cross_sectional=True`).
CROSS_SECTIONAL = ["xs_rank_ret_60", "index_ret_60", "index_rvol_60"]


def _cross_sectional(ctxs: Mapping[str, SymbolContext], index: str | None) -> dict[str, np.ndarray]:
    """Per symbol, the `CROSS_SECTIONAL` columns at each of its bars, from data at or before that bar:
    the percentile rank of its 60-bar return among the symbols with a bar on that date, and the
    index's 60-bar return and volatility at its latest bar on or before that date."""
    ret60 = pd.DataFrame({s: pd.Series(c.features["ret_60"].to_numpy(np.float64), index=c.bars.index)
                          for s, c in ctxs.items()})
    rank = ret60.rank(axis=1, pct=True)
    if index is not None and index not in ctxs:
        raise BadInput(f"the index {index} is not among the panel's symbols: "
                       "pass its bars or cross_sectional=False")
    out = {}
    for s, c in ctxs.items():
        cols = [rank[s].reindex(c.bars.index).to_numpy(np.float64)]
        if index is not None:
            f = ctxs[index].features
            idx = f[["ret_60", "rvol_60"]].set_axis(ctxs[index].bars.index)
            cols += list(idx.reindex(c.bars.index, method="ffill").to_numpy(np.float64).T)
        out[s] = np.column_stack(cols)
    return out


def build_panel_dataset(
    bars_by_symbol: Mapping[str, pd.DataFrame], *, horizon: int = HORIZON, step: int = STEP,
    cross_sectional: bool = True, index: str | None = INDEX_SYMBOL, templates: Sequence[str] = TEMPLATES,
    progress: bool = False,
) -> SelectorDataset:
    """The pooled panel rows, sorted by decision date then symbol (as `build_dataset`'s are).

    `bars_by_symbol` should be close views (`universe_bars`); OHLCV bars are accepted, but then their
    templates run on the full bars and the panel is no longer one kind of data. Labels, ties and
    decision dates come from `paiid.ml.selector.dataset` (`forward_scores`); `index=None` (or
    `cross_sectional=False`) leaves out the index columns (the rank column needs only the panel)."""
    if not bars_by_symbol:
        raise BadInput("the panel needs at least one symbol")
    items = list(bars_by_symbol.items())
    ctxs = {s: build_context(s, b, None, templates)
            for s, b in (track(items, "panel contexts") if progress else items)}
    use_index = index if cross_sectional else None
    xs = _cross_sectional(ctxs, use_index) if cross_sectional else {}
    names = feature_names(templates, features=PANEL_FEATURES, regime=False)
    if cross_sectional:
        names += CROSS_SECTIONAL if use_index is not None else CROSS_SECTIONAL[:1]
    parts, dropped = [], 0
    for s, ctx in ctxs.items():
        X_all = feature_matrix(ctx, templates, features=PANEL_FEATURES, regime=False)
        if cross_sectional:
            X_all = np.column_stack([X_all, xs[s]])
        rows, ties = symbol_rows(ctx, X_all, horizon, step, templates)
        if rows["y"].size:
            parts.append(rows)
        dropped += ties
    if not parts:
        raise BadInput("no symbol of the panel has a decision date with a full label window")
    cat = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.lexsort((cat["symbol"].astype(str), cat["t_date"]))
    cat = {key: v[order] for key, v in cat.items()}
    return SelectorDataset(
        cat["X"], cat["y"].astype(np.int64), names, list(templates), cat["scores"], cat["fwd_return"],
        cat["fwd_drawdown"], cat["asset_return"], cat["symbol"], cat["t_pos"], cat["end_pos"],
        cat["t_date"], cat["end_date"], cat["regime"], horizon, step, ctxs, dropped,
    )
