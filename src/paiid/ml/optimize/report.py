"""How much of the full-history winner is luck (deflated Sharpe, PBO over several partitions).

The final study's best in-sample Sharpe is inflated by selection, so it is reported with the
**deflated Sharpe ratio** (the chance the winner's true Sharpe beats the best that luck alone would give
after that many trials) and the **probability of backtest overfitting** by CSCV over every parameter set
the study tried. The DSR's number of trials is every trial of the search (`ledger.count_trials`: the
walk-forward studies, earlier runs, the other templates on the symbol), not only the final study's;
pruned trials count (they were looked at) and their parameter sets are in the PBO matrix. The DSR is
given with observed and with normal moments, and guarded by the winner's trade and active-bar counts;
PBO is the median over several block partitions, with its range. See `paiid.ml.overfitting` and
`partitions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
import pandas as pd

from paiid.backtest.strategies import StrategyTemplate
from paiid.backtest.sweep import sweep_returns
from paiid.errors import PaiidError
from paiid.metrics import sharpe
from paiid.ml.optimize.objective import SCORE_FROM, annualised, strategy_returns, trade_count
from paiid.ml.optimize.partitions import PBO_BLOCKS, pbo_spread
from paiid.ml.optimize.study import best_trial, evaluated_trials, trial_counts
from paiid.ml.overfitting import dedupe_columns, deflated_sharpe_ratio


def score_full_history(
    bars: pd.DataFrame,
    tpl: StrategyTemplate,
    fixed: Mapping[str, Any],
    defaults: Mapping[str, Any],
    full_trials: list[optuna.trial.FrozenTrial],
    cscv_blocks: int,
    bpy: float,
    n_trials: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The full-history winner, and the report's `in_sample`, `deflated_sharpe` and `pbo` parts.

    `n_trials` is the count the DSR deflates by (default: this study's evaluated trials only).
    """
    best = best_trial(full_trials)
    if best is None:
        raise PaiidError("no trial of the full-history study completed: widen the parameter ranges")
    final_params = tpl.validate_params({**fixed, **best.params})
    evaluated = evaluated_trials(full_trials)
    # The trials x time matrix in one sweep (each row is `strategy_returns` of a trial to the bit), laid
    # out bars x trials in C order as `np.column_stack` of the rows would be, so every later reduction
    # sums in the same order.
    swept = sweep_returns(bars, tpl.id, [tpl.validate_params({**fixed, **t.params}) for t in evaluated])
    matrix = np.ascontiguousarray(swept[:, SCORE_FROM:].T)
    keep = dedupe_columns(matrix)
    matrix = matrix[:, keep]
    trial_sr = np.asarray(sharpe(matrix, axis=0))
    best_r = strategy_returns(bars, tpl.id, final_params)[SCORE_FROM:]
    dsr = deflated_sharpe_ratio(best_r, n_trials=max(n_trials or 0, len(evaluated)), trial_sharpes=trial_sr,
                                n_trades=trade_count(bars, tpl.id, final_params))
    pbo = pbo_spread(matrix, sorted({*PBO_BLOCKS, cscv_blocks})) if matrix.shape[1] >= 2 else None
    def_r = strategy_returns(bars, tpl.id, defaults)[SCORE_FROM:]
    return final_params, {
        "in_sample": {
            "best_sharpe": float(best.value),
            "default_sharpe": sharpe(def_r, bpy, axis=0),
            "trials": trial_counts(full_trials),
            "distinct_configs": int(matrix.shape[1]),
        },
        "deflated_sharpe": {**dsr.as_dict(), "sharpe_annualised": annualised(dsr.sharpe, bpy),
                            "expected_max_sharpe_annualised": annualised(dsr.expected_max_sharpe, bpy)},
        "pbo": pbo.as_dict() if pbo is not None else None,
    }
