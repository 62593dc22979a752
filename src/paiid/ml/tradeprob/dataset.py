"""The training events: every template entry on every symbol, with its features at t and its label.

Rows are pooled over symbols and sorted by decision date, so that walk-forward folds train on the past.
Each event's label ends at the bar it hit a barrier (`t1`); `label_end_rows` and `embargo_rows` turn that
into the purging every fold applies (`PurgedWalkForward(label_end=..., embargo=...)`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from paiid.data import splits
from paiid.errors import NotEnoughHistory
from paiid.features import WARMUP
from paiid.ml.context import TEMPLATES, SymbolContext, build_context
from paiid.ml.tradeprob.features import event_features, feature_names
from paiid.ml.tradeprob.labels import HORIZON, PROFIT_ATR, STOP_ATR, entry_events, triple_barrier


@dataclass
class TradeDataset:
    """Pooled template entry events, sorted by decision date; plain numpy arrays."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    templates: list[str]
    ret: np.ndarray
    ret_atr: np.ndarray
    symbol: np.ndarray
    template: np.ndarray  # template index per event
    side: np.ndarray
    t_pos: np.ndarray
    t1_pos: np.ndarray
    t_date: np.ndarray
    t1_date: np.ndarray
    horizon: int
    contexts: dict[str, SymbolContext] = field(repr=False, default_factory=dict)

    def __len__(self) -> int:
        return int(self.y.size)

    @property
    def label_end_rows(self) -> np.ndarray:
        """Row index of the last event decided on or before each event's exit date (for purging)."""
        return splits.label_end_rows(self.t_date, self.t1_date)

    def embargo_rows(self) -> int:
        """About H bars' worth of events (events per bar x H), pooled over symbols."""
        if len(self) < 2:
            return 0
        span = sum(c.n for c in self.contexts.values()) or 1
        return splits.embargo_rows(self.horizon, len(self) * max(1, len(self.contexts)), span)


def build_trade_dataset(
    bars_by_symbol: Mapping[str, pd.DataFrame],
    *,
    horizon: int = HORIZON,
    profit_atr: float = PROFIT_ATR,
    stop_atr: float = STOP_ATR,
    regime_model: Any = None,
    templates: Sequence[str] = TEMPLATES,
    contexts: Mapping[str, SymbolContext] | None = None,
    entry_features: bool = False,
    features: Sequence[str] | None = None,
    regime: bool = True,
    atr: Callable[[SymbolContext], np.ndarray] | None = None,
    close_only: bool = False,
) -> TradeDataset:
    """Every template entry on every symbol, with features at t and the triple-barrier label
    (`entry_features`: with the optional ENTRY_FEATURES columns).

    For other data than the served model's (all defaults: today's dataset, unchanged): `features` /
    `regime` choose the base columns and the regime columns (`feature_names`); `atr(ctx)` gives the
    volatility unit per bar for the barriers and `ret_atr` (default the features' `atr_14`), and
    `close_only` labels on closes (`triple_barrier`), as the panel of close views needs."""
    names = feature_names(templates, entry_features, features=features, regime=regime)
    parts = []
    ctxs = {}
    for sym, bars in bars_by_symbol.items():
        ctx = (contexts or {}).get(sym) or build_context(sym, bars, regime_model, templates)
        ctxs[sym] = ctx
        t, side, tpl = entry_events(ctx, templates, horizon)
        if t.size == 0:
            continue
        X = event_features(
            ctx,
            t,
            side,
            tpl,
            templates,
            horizon=horizon,
            profit_atr=profit_atr,
            stop_atr=stop_atr,
            entry=entry_features,
            features=features,
            regime=regime,
        )
        tb = triple_barrier(ctx, t, side, horizon=horizon, profit_atr=profit_atr, stop_atr=stop_atr,
                            atr=None if atr is None else atr(ctx), close_only=close_only)
        ok = np.isfinite(X).all(axis=1) & np.isfinite(tb["ret_atr"])
        idx = ctx.bars.index.values
        parts.append(
            {
                "X": X[ok],
                "y": tb["label"][ok],
                "ret": tb["ret"][ok],
                "ret_atr": tb["ret_atr"][ok],
                "symbol": np.full(int(ok.sum()), sym, dtype=object),
                "template": tpl[ok],
                "side": side[ok],
                "t_pos": t[ok],
                "t1_pos": tb["t1"][ok],
                "t_date": idx[t[ok]].astype("datetime64[ns]"),
                "t1_date": idx[tb["t1"][ok]].astype("datetime64[ns]"),
            }
        )
    if not parts:
        raise NotEnoughHistory(
            "the trade-probability model (template entry signals)",
            WARMUP + horizon + 30,
            max((len(b) for b in bars_by_symbol.values()), default=0),
        )
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cat["template"], cat["symbol"].astype(str), cat["t_date"]))
    cat = {k: v[order] for k, v in cat.items()}
    return TradeDataset(
        cat["X"],
        cat["y"].astype(np.int64),
        names,
        list(templates),
        cat["ret"],
        cat["ret_atr"],
        cat["symbol"],
        cat["template"],
        cat["side"],
        cat["t_pos"],
        cat["t1_pos"],
        cat["t_date"],
        cat["t1_date"],
        horizon,
        ctxs,
    )

