"""Real-data checks of the bearish label, point in time: published criteria, not the model's own rules.

Criteria (per day, from closes up to that day only):

* a day is **in a bear episode** when its close is more than 15 % below the running peak of all earlier
  closes (`BEAR_DRAWDOWN`) and the trailing 60-bar return is negative;
* a day is **in a bull episode** when its close is within 5 % of the running peak (`BULL_DRAWDOWN`) and the
  trailing 60-bar return is positive.

The agreement reported is the share of criterion-bear days labelled ``trending_bearish`` (higher is
better) and the share of criterion-bull days labelled ``trending_bearish`` (lower is better), and the
share of month-end closes labelled ``trending_bearish`` in three named windows (the 2000-02 decline,
autumn 2008 and the 2004-06 bull market: the months the statistical jump model of Shu, Mulvey et al.
is reported on, so that `paiid.bench.regime` can compare on the same footing).

**Point in time**: the labels of calendar year Y come from a detector refitted on the SPX and GOOG bars up
to the end of year Y-1 (read under `paiid.data.as_of`), applied causally to the days of Y. Years
without enough earlier bars for a fit (SPX starts in January 1999, so 2000) are not labelled and are
left out of every share; `coverage` says which days were.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from paiid.data import as_of, load_bars
from paiid.errors import NotEnoughHistory
from paiid.metrics import wilson_interval
from paiid.ml.regime.inputs import MIN_BARS
from paiid.ml.regime.model import RegimeDetector

#: Criterion-bear: close below the running peak by more than this, and a negative 60-bar return.
BEAR_DRAWDOWN = 0.15
#: Criterion-bull: close within this of the running peak, and a positive 60-bar return.
BULL_DRAWDOWN = 0.05
#: Trailing return window of both criteria.
RETURN_BARS = 60
#: (name, first day, last day) of the month-end windows.
MONTH_END_WINDOWS: list[tuple[str, str, str]] = [
    ("2000-2002 decline", "2000-03-24", "2002-10-09"),
    ("autumn 2008", "2008-09-01", "2008-12-31"),
    ("2004-2006 bull", "2004-01-01", "2006-12-31"),
]
#: Bars a series needs before a cut-off to take part in that year's refit.
MIN_FIT_BARS = MIN_BARS + 100


def criteria(bars: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(criterion-bear, criterion-bull) boolean per day, causal (see the module docstring)."""
    c = bars["close"]
    dd = c / c.cummax() - 1.0
    r = np.log(c / c.shift(RETURN_BARS))
    return (dd < -BEAR_DRAWDOWN) & (r < 0), (dd > -BULL_DRAWDOWN) & (r > 0)


#: A labeller: (training series, every symbol's full bars) -> per symbol a 0/1 bearish flag per day.
Labeller = Callable[[list[pd.DataFrame], dict[str, pd.DataFrame]], dict[str, pd.Series]]


def yearly_refit_labels(symbols: Sequence[str], *, seed: int = 0, method: str = "kmeans",
                        labeller: Labeller | None = None, volatility: str = "range") -> dict[str, pd.Series]:
    """Per symbol, a bearish flag per day (NaN where not labelled): year Y labelled by a model fitted
    on every symbol's bars up to the end of Y-1. `labeller(train_series, full_bars)` replaces our
    detector (the bench passes a peer); it returns per symbol a 0/1 bearish Series for every day.
    `volatility`: our detector's volatility input (``"close"`` for the close-only variant)."""
    full = {s: load_bars(s) for s in symbols}
    years = sorted({int(y) for b in full.values() for y in b.index.year})
    out = {s: pd.Series(np.nan, index=b.index) for s, b in full.items()}
    for year in years[1:]:
        cut = pd.Timestamp(f"{year - 1}-12-31")
        with as_of(cut):
            train = [load_bars(s) for s in symbols if (full[s].index <= cut).sum() >= MIN_FIT_BARS]
        if not train:
            continue
        try:
            flags = (labeller(train, full) if labeller is not None
                     else _ours(train, full, seed, method, volatility))
        except NotEnoughHistory:
            continue
        for s, flag in flags.items():
            days = out[s].index.year == year
            out[s][days] = flag[days].to_numpy(np.float64)
    return out


def _ours(train: list[pd.DataFrame], full: dict[str, pd.DataFrame], seed: int,
          method: str, volatility: str = "range") -> dict[str, pd.Series]:
    det = RegimeDetector(method=method, random_state=seed, volatility=volatility).fit(train)
    out = {}
    for s, b in full.items():
        reg = det.history(b)["regime"]
        flag = np.where(reg == "trending_bearish", 1.0, 0.0)
        flag[np.array([r is None for r in reg])] = np.nan  # warm-up: not labelled, not "not bearish"
        out[s] = pd.Series(flag, index=b.index)
    return out


def agreement(bars: pd.DataFrame, bearish: pd.Series) -> dict[str, Any]:
    """Criterion agreement and month-end shares of one symbol's bearish flags (NaN = not labelled)."""
    bear, bull = criteria(bars)
    ok = bearish.notna()

    def share(mask: pd.Series) -> dict[str, Any]:
        m = mask & ok
        n = int(m.sum())
        return {"days": n, "share_labelled_bearish": float(bearish[m].mean()) if n else None}

    months: dict[str, Any] = {}
    me = bearish.groupby(bearish.index.to_period("M")).tail(1)
    for name, start, end in MONTH_END_WINDOWS:
        win = me.loc[start:end]
        lab = win.dropna()
        if len(win) == 0:
            continue
        n_bear = int(lab.sum())
        months[name] = {"month_ends": int(len(win)), "labelled": int(len(lab)), "bearish": n_bear,
                        "share_bearish": float(lab.mean()) if len(lab) else None,
                        # a few dozen month-ends: the share's own 95 % interval says how much it can tell
                        "ci95": wilson_interval(n_bear, len(lab))}
    return {"criterion_bear": share(bear), "criterion_bull": share(bull), "month_ends": months,
            "coverage": {"first_labelled_day": ok.idxmax().date().isoformat() if ok.any() else None,
                         "labelled_days": int(ok.sum()), "days": int(len(ok))}}


def real_data_report(symbols: Sequence[str] = ("SPX", "GOOG"), *, seed: int = 0,
                     method: str = "kmeans", volatility: str = "range") -> dict[str, Any]:
    """`agreement` per symbol under yearly point-in-time refits, with the criteria spelled out."""
    flags = yearly_refit_labels(symbols, seed=seed, method=method, volatility=volatility)
    return {
        "criteria": {
            "bear_day": f"close more than {BEAR_DRAWDOWN:.0%} below the running peak and "
                        f"{RETURN_BARS}-bar return < 0",
            "bull_day": f"close within {BULL_DRAWDOWN:.0%} of the running peak and "
                        f"{RETURN_BARS}-bar return > 0",
            "month_end_windows": {n: [a, b] for n, a, b in MONTH_END_WINDOWS},
        },
        "point_in_time": "year Y labelled causally by a detector refitted on SPX and GOOG bars up to the "
                         "end of Y-1 (paiid.data.as_of); years with too little earlier data unlabelled",
        "symbols": {s: agreement(load_bars(s), flags[s]) for s in symbols},
    }
