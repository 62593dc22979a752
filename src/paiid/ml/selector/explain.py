"""Words for the selector's numbers: a short phrase per feature value ("RSI at 28", "volatility low").

The answer's reason names the features that drove a template's probability (`StrategySelector.drivers`);
these phrases make them readable. Levels (low / normal / high) are judged against the symbol's own past
when its feature history is given, so an hourly symbol is compared with itself and the words agree with
the answer's market conditions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from paiid.ml.context import SHORT
from paiid.ml.selector.model import StrategySelector

_VOLATILITY_LABELS = {
    "rvol_20": "volatility",
    "rvol_60": "60-bar volatility",
    "atr_pct": "ATR",
    "bb_bandwidth": "Bollinger bandwidth",
}


def past_rank(v: float, past: np.ndarray) -> float:
    """Share of the finite values of `past` that are <= v (0.5 when there are none)."""
    past = past[np.isfinite(past)]
    return float((past <= v).mean()) if past.size else 0.5


def tercile(rank: float) -> str:
    """low / normal / high for a rank in 0..1, by thirds."""
    return "low" if rank < 1 / 3 else ("high" if rank > 2 / 3 else "normal")


def level(model: StrategySelector, name: str, v: float, history: pd.DataFrame | None = None) -> str:
    """low / normal / high by tercile: against the symbol's own past values when `history` (its feature
    frame up to the decision bar) has at least 50 of them, else against the training rows."""
    if history is not None and name in history.columns:
        past = history[name].to_numpy(np.float64)
        if np.isfinite(past).sum() >= 50:
            return tercile(past_rank(v, past))
    q = model.quantiles_[:, model.feature_names_.index(name)]
    return "low" if v <= q[1] else ("high" if v >= q[3] else "normal")


def _pct(v: float) -> str:
    return f"{v * 100:+.1f}%"


def _band_position(v: float) -> str:
    if v < 0:
        return "below the lower"
    if v > 1:
        return "above the upper"
    if v < 0.2:
        return "near the lower"
    return "near the upper" if v > 0.8 else "inside the"


def describe_feature(
    model: StrategySelector, name: str, x: np.ndarray, regime: str, history: pd.DataFrame | None = None
) -> str:
    """A short human phrase for one feature's value (e.g. "RSI at 28", "volatility low")."""
    if name == "regime":
        return f"{regime.replace('_', ' ')} regime"
    v = float(x[model.feature_names_.index(name)])
    if name == "rsi_14":
        return f"RSI at {v:.0f}"
    if name == "macd_hist_pct":
        return "MACD histogram " + ("positive" if v > 0 else "negative")
    if name in _VOLATILITY_LABELS:
        return f"{_VOLATILITY_LABELS[name]} {level(model, name, v, history)}"
    if name == "vol_ratio":
        return "volatility " + ("rising" if v > 1.1 else ("falling" if v < 0.9 else "steady"))
    if name == "adx_14":
        return f"ADX at {v:.0f} ({'strong' if v >= 25 else 'weak'} trend)"
    if name in ("plus_di", "minus_di"):
        return f"{'+DI' if name == 'plus_di' else '-DI'} at {v:.0f}"
    if name == "bb_pctb":
        return f"price {_band_position(v)} Bollinger band"
    if name.startswith("ret_"):
        return f"{name[4:]}-bar return {_pct(float(np.expm1(v)))}"
    if name.startswith("dist_sma_"):
        return f"price {abs(v) * 100:.1f}% {'above' if v >= 0 else 'below'} its {name[9:]}-bar average"
    if name == "ma_slope_50":
        return "50-bar average " + ("rising" if v > 0 else "falling")
    if name.startswith("volume") or name == "obv_slope":
        return f"{name.replace('_', ' ')} {level(model, name, v, history)}"
    short_to_id = {s: t for t, s in SHORT.items()}
    if name.startswith("pos_"):
        tid = short_to_id.get(name[4:], name[4:])
        return f"{tid} currently {'long' if v > 0 else 'short' if v < 0 else 'flat'}"
    if name.startswith("perf"):
        w, _, short = name[4:].partition("_")
        tid = short_to_id.get(short, short)
        return f"{tid} {'in profit' if v > 0 else 'losing'} over the last {w} bars"
    return f"{name} {level(model, name, v, history)}" if name in model.feature_names_ else name
