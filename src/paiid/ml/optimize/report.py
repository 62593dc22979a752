"""How much of the full-history winner is luck (deflated Sharpe, PBO), and the one-sentence verdict.

The final study's best in-sample Sharpe is inflated by selection, so it is reported with the
**deflated Sharpe ratio** (the chance the winner's true Sharpe beats the best that luck alone would give
after that many trials) and the **probability of backtest overfitting** by CSCV over every parameter set
the study tried. Pruned trials count in the DSR's number of trials (they were looked at) and their
parameter sets are in the PBO matrix. See `paiid.ml.overfitting`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
import pandas as pd

from paiid.backtest.strategies import StrategyTemplate
from paiid.errors import PaiidError
from paiid.metrics import sharpe
from paiid.ml.optimize.objective import SCORE_FROM, annualised, strategy_returns
from paiid.ml.optimize.study import best_trial, evaluated_trials, trial_counts
from paiid.ml.overfitting import (
    dedupe_columns,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
)


def score_full_history(
    bars: pd.DataFrame,
    tpl: StrategyTemplate,
    fixed: Mapping[str, Any],
    defaults: Mapping[str, Any],
    full_trials: list[optuna.trial.FrozenTrial],
    cscv_blocks: int,
    bpy: float,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters to use from now on, and the report's `in_sample`, `deflated_sharpe` and `pbo` parts."""
    best = best_trial(full_trials)
    if best is None:
        raise PaiidError("no trial of the full-history study completed: widen the parameter ranges")
    final_params = tpl.validate_params({**fixed, **best.params})
    evaluated = evaluated_trials(full_trials)
    matrix = np.column_stack([
        strategy_returns(bars, tpl.id, tpl.validate_params({**fixed, **t.params}))[SCORE_FROM:]
        for t in evaluated
    ])
    keep = dedupe_columns(matrix)
    matrix = matrix[:, keep]
    trial_sr = np.asarray(sharpe(matrix, axis=0))
    best_r = strategy_returns(bars, tpl.id, final_params)[SCORE_FROM:]
    dsr = deflated_sharpe_ratio(best_r, n_trials=len(evaluated), trial_sharpes=trial_sr)
    pbo = (probability_of_backtest_overfitting(matrix, cscv_blocks)
           if matrix.shape[1] >= 2 and matrix.shape[0] >= 2 * cscv_blocks else None)
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


def verdict(report: Mapping[str, Any]) -> str:
    """One sentence a user can act on: is the optimised edge real, luck, or not there?"""
    dsr = report["deflated_sharpe"]["dsr"]
    pbo = (report.get("pbo") or {}).get("pbo")
    wf = report["walk_forward"]
    parts = []
    if dsr > 0.95 and (pbo is None or pbo < 0.2) and wf["beats_default"]:
        parts.append("the optimised parameters show skill beyond what the search alone explains")
    elif dsr <= 0.95 and (pbo is None or pbo >= 0.3):
        parts.append("no evidence of skill: the in-sample gain is what trying this many parameter sets "
                     "gives by luck")
    else:
        parts.append("mixed evidence: treat the optimised parameters with caution")
    parts.append(f"deflated Sharpe {dsr:.2f}")
    if pbo is not None:
        parts.append(f"PBO {pbo:.2f}")
    parts.append(f"walk-forward OOS Sharpe {wf['oos_sharpe']['optimized']:.2f} vs default "
                 f"{wf['oos_sharpe']['default']:.2f} and buy-and-hold {wf['oos_sharpe']['buy_and_hold']:.2f}")
    return "; ".join(parts)
