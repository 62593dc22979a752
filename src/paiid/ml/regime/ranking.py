"""Which strategy families work in which regime, measured out of sample.

On walk-forward test windows (detector fitted on earlier bars only, `validation.walk_forward_folds`),
each template's next-bar returns are grouped by the regime known at the bar before; per regime and
template the annualised Sharpe is computed per symbol and averaged weighted by bar count, a family
scores as its best template, and the families with a positive out-of-sample Sharpe are recommended,
best first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from paiid.backtest import STRATEGIES, run_backtest
from paiid.metrics import bars_per_year, sharpe_from_sums
from paiid.ml.regime.naming import REGIMES
from paiid.ml.regime.validation import Fold

#: A regime with fewer next-bar returns than this (per symbol and template) gets no Sharpe there.
MIN_RETURNS = 20


def strategy_returns(bars: pd.DataFrame, features: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-bar net returns of every strategy template on `bars` (template id -> array)."""
    return {sid: np.asarray(run_backtest(bars, sid, features=features).returns, dtype=np.float64)
            for sid in STRATEGIES}


def regime_return_sums(
    labels: np.ndarray, returns: Mapping[str, np.ndarray], positions: np.ndarray
) -> dict[str, dict[str, tuple[float, float, int]]]:
    """Per regime and template: (sum, sum of squares, count) of the next bar's return after each bar
    in `positions` labelled with that regime (regime known at t, return earned over t+1)."""
    out: dict[str, dict[str, tuple[float, float, int]]] = {r: {} for r in REGIMES}
    n = len(labels)
    pos = positions[positions + 1 < n]
    for r in REGIMES:
        sel = pos[labels[pos] == r]
        for sid, ret in returns.items():
            x = ret[sel + 1]
            x = x[np.isfinite(x)]
            out[r][sid] = (float(x.sum()), float((x * x).sum()), int(len(x)))
    return out


def family_sharpe(
    folds: Sequence[Fold], series: Sequence[pd.DataFrame], returns: Sequence[Mapping[str, np.ndarray]]
) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """(regime -> family -> out-of-sample Sharpe, regime -> bars it rests on) over every fold."""
    acc: dict[int, dict[str, dict[str, list[float]]]] = {}
    for fold in folds:
        bpy = bars_per_year(series[fold.series].index)
        sums = regime_return_sums(fold.history["regime"], returns[fold.series], fold.test)
        for r, per in sums.items():
            for sid, (s, ss, n) in per.items():
                cell = acc.setdefault(fold.series, {}).setdefault(r, {}).setdefault(sid, [0.0, 0.0, 0.0, bpy])
                cell[0] += s
                cell[1] += ss
                cell[2] += n
    family = {sid: t.family for sid, t in STRATEGIES.items()}
    sharpe: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for r in REGIMES:
        sharpe[r] = {}
        for sid in STRATEGIES:
            num, den = 0.0, 0
            for i in acc:  # per symbol, averaged weighted by bar count
                s, ss, n, bpy = acc[i].get(r, {}).get(sid, [0.0, 0.0, 0.0, 252.0])
                if n >= MIN_RETURNS:
                    v = sharpe_from_sums(s, ss, int(n), bpy)
                    num += v * n
                    den += int(n)
            if den:
                fam = family[sid]
                sharpe[r][fam] = max(sharpe[r].get(fam, -np.inf), num / den)
                counts[r] = max(counts.get(r, 0), den)
    return {r: {f: float(v) for f, v in sharpe[r].items()} for r in REGIMES}, counts


def rank_families(sharpe: Mapping[str, Mapping[str, float]]) -> dict[str, list[str]]:
    """Per regime, the families with a positive Sharpe, best first."""
    return {r: [f for f, v in sorted(sharpe[r].items(), key=lambda kv: -kv[1]) if v > 0] for r in REGIMES}
