"""The walk-forward windows of a run, and the honest score: each window's winner traded on the next window.

Each window's study only ever saw the bars before its test window. Its best parameters, the template's
defaults and buy-and-hold are then run on exactly the same test bars; the stitched test returns are
the out-of-sample score.

This is the nested truth about optimising: what a user who re-optimised before each window would have
earned, against the defaults on the same bars. The difference of the stitched Sharpe ratios gets a
circular-block-bootstrap 95% interval and p-value (`paiid.metrics.block_bootstrap`, blocks of a month
of bars so that volatility clusters stay together): "optimised beats default" is only a finding when
that interval excludes 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from paiid.backtest.strategies import StrategyTemplate
from paiid.data import PurgedWalkForward
from paiid.errors import PaiidError
from paiid.metrics import block_bootstrap, sharpe
from paiid.ml.optimize.objective import strategy_returns
from paiid.ml.optimize.study import best_trial, load_trials, trial_counts
from paiid.ml.overfitting import probabilistic_sharpe_ratio

#: (name, in-sample end, test start, test end) as bar positions; the in-sample prefix is `bars[:end]`.
Window = tuple[str, int, int, int]


def windows(n: int, n_splits: int, min_train: int) -> list[Window]:
    """The studies of one run: one per walk-forward window (`wf0`, `wf1`, ...), then `full` on all history.

    `paiid.data.PurgedWalkForward` cuts the history into an expanding in-sample window and the
    out-of-sample window that follows it; a window's study is trained on everything before its test.
    """
    splits = PurgedWalkForward(n_splits, min_train=min_train).split(range(n))
    out = [(f"wf{k}", int(test[0]), int(test[0]), int(test[-1]) + 1) for k, (_, test) in enumerate(splits)]
    out.append(("full", n, n, n))
    return out


def score_windows(
    bars: pd.DataFrame,
    tpl: StrategyTemplate,
    fixed: Mapping[str, Any],
    defaults: Mapping[str, Any],
    test_windows: list[Window],
    storage: str,
    studies: Mapping[str, str],
    bpy: float,
) -> dict[str, Any]:
    """The report's `walk_forward` part: per window and stitched, optimised vs default vs buy-and-hold.

    `studies` maps a window's name to its study in `storage`.
    """
    close = bars["close"].to_numpy(np.float64)
    bh_all = _buy_and_hold(close)
    report_windows = []
    oos_opt, oos_def, oos_bh = [], [], []
    for name, train_end, test_start, test_end in test_windows:
        trials = load_trials(storage, studies[name])
        best = best_trial(trials)
        if best is None:
            raise PaiidError(f"no trial of window {name} completed: widen the ranges or add history")
        params = tpl.validate_params({**fixed, **best.params})
        # The test window's returns come from a run that ends with that window: nothing later exists.
        r_opt = strategy_returns(bars.iloc[:test_end], tpl.id, params)[test_start:test_end]
        r_def = strategy_returns(bars.iloc[:test_end], tpl.id, defaults)[test_start:test_end]
        r_bh = bh_all[test_start:test_end]
        oos_opt.append(r_opt)
        oos_def.append(r_def)
        oos_bh.append(r_bh)
        report_windows.append({
            "window": name,
            "train": {"start": bars.index[0], "end": bars.index[train_end - 1], "bars": train_end},
            "test": {"start": bars.index[test_start], "end": bars.index[test_end - 1],
                     "bars": test_end - test_start},
            "best_params": params,
            "in_sample_sharpe": float(best.value),
            "oos_sharpe": {"optimized": sharpe(r_opt, bpy, axis=0),
                           "default": sharpe(r_def, bpy, axis=0),
                           "buy_and_hold": sharpe(r_bh, bpy, axis=0)},
            "trials": trial_counts(trials),
        })
    r_opt, r_def, r_bh = (np.concatenate(x) for x in (oos_opt, oos_def, oos_bh))
    oos_psr = probabilistic_sharpe_ratio(
        sharpe(r_opt, axis=0), len(r_opt),
        **_moments(r_opt),
    )
    oos = {
        "optimized": sharpe(r_opt, bpy, axis=0),
        "default": sharpe(r_def, bpy, axis=0),
        "buy_and_hold": sharpe(r_bh, bpy, axis=0),
    }
    return {
        "windows": report_windows,
        "oos_sharpe": oos,
        "oos_total_return": {"optimized": _total(r_opt), "default": _total(r_def),
                             "buy_and_hold": _total(r_bh)},
        "oos_bars": len(r_opt),
        "oos_psr": oos_psr,
        "beats_default": oos["optimized"] > oos["default"],
        "beats_buy_and_hold": oos["optimized"] > oos["buy_and_hold"],
        "optimized_minus_default": sharpe_difference(r_opt, r_def, bpy),
        "optimized_minus_buy_and_hold": sharpe_difference(r_opt, r_bh, bpy),
    }


def bootstrap_block(n: int, bpy: float) -> int:
    """A month of bars (at least 5, at most a tenth of the sample)."""
    return int(max(5, min(round(bpy / 12), max(n // 10, 5))))


def sharpe_difference(a: np.ndarray, b: np.ndarray, bpy: float, seed: int = 0) -> dict[str, Any]:
    """Annualised Sharpe of `a` minus that of `b` on the same bars, with its block-bootstrap CI, p-value."""

    def stat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.atleast_1d(sharpe(x, bpy, axis=0)) - np.atleast_1d(sharpe(y, bpy, axis=0))

    return block_bootstrap(stat, a, b, block=bootstrap_block(len(a), bpy), seed=seed).as_dict()


def _buy_and_hold(close: np.ndarray) -> np.ndarray:
    r = np.zeros(close.size)
    r[1:] = close[1:] / close[:-1] - 1.0
    return r


def _total(r: np.ndarray) -> float:
    return float(np.prod(1.0 + r) - 1.0)


def _moments(r: np.ndarray) -> dict[str, float]:
    if len(r) < 3 or not r.std() > 0:
        return {"skew": 0.0, "kurtosis": 3.0}
    return {"skew": float(stats.skew(r)), "kurtosis": float(stats.kurtosis(r, fisher=False))}
