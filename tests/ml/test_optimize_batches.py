"""Trials evaluated in batches through `run_sweep`: with the sequential trial sequence (batch 1 after the
start-up batch) every trial, and so the winner and its value, is what `study.optimize` with the one-at-a-
time objective gives; the PBO matrix from one sweep is the matrix of one backtest per trial."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from paiid.backtest import bars_per_year, get_strategy
from paiid.data import load_bars
from paiid.ml.optimize import optimize
from paiid.ml.optimize.objective import SCORE_FROM, make_batch_objective, make_objective, strategy_returns
from paiid.ml.optimize.partitions import PBO_BLOCKS, pbo_spread
from paiid.ml.optimize.report import score_full_history
from paiid.ml.optimize.space import search_space
from paiid.ml.optimize.storage import quiet_optuna
from paiid.ml.optimize.study import batch_sizes, best_trial, evaluated_trials, run_batches
from paiid.ml.overfitting import dedupe_columns


def _study(seed: int, n_startup: int) -> optuna.Study:
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=n_startup)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=n_startup, n_warmup_steps=0)
    return optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)


def _trials(study: optuna.Study) -> list[tuple]:
    return [(t.state, t.params, t.value, t.intermediate_values, "invalid" in t.user_attrs)
            for t in study.trials]


@pytest.mark.parametrize(("symbol", "strategy_id"), [
    ("SPX", "trend-following-ma-cross"), ("AAPL", "mean-reversion-bb-rsi"), ("GOOG", "momentum-breakout"),
])
def test_batched_trials_are_the_sequential_trials(symbol: str, strategy_id: str) -> None:
    quiet_optuna()
    bars = load_bars(symbol).iloc[:1800]
    ranges = search_space(get_strategy(strategy_id))
    seq = _study(7, 8)
    seq.optimize(make_objective(bars, strategy_id, ranges, {}), n_trials=30)
    bat = _study(7, 8)
    run_batches(bat, make_batch_objective(bars, strategy_id, ranges, {}), 30, 8, 1)
    assert _trials(bat) == _trials(seq)
    states = {t.state for t in seq.trials}
    assert optuna.trial.TrialState.COMPLETE in states
    assert best_trial(bat.trials).params == best_trial(seq.trials).params
    # a larger batch is another trial sequence, but the same one for the same seed
    again = [_study(7, 8), _study(7, 8)]
    for s in again:
        run_batches(s, make_batch_objective(bars, strategy_id, ranges, {}), 30, 8, 6)
    assert _trials(again[0]) == _trials(again[1])
    assert _trials(again[0])[:8] == _trials(seq)[:8]  # the start-up batch is the same random draws


def test_pruning_and_impossible_points_are_decided_as_in_a_sequential_run() -> None:
    """Narrow ranges where fast >= slow is common: invalid, pruned and completed trials all occur."""
    quiet_optuna()
    bars = load_bars("GOOG")
    tpl = get_strategy("trend-following-ma-cross")
    ranges = search_space(tpl, ["fast", "slow"], bounds={"fast": (5, 40), "slow": (10, 45)})
    seq = _study(1, 5)
    seq.optimize(make_objective(bars, tpl.id, ranges, {"adx_min": 0}), n_trials=40)
    bat = _study(1, 5)
    run_batches(bat, make_batch_objective(bars, tpl.id, ranges, {"adx_min": 0}), 40, 5, 1)
    assert _trials(bat) == _trials(seq)
    invalid = sum("invalid" in t.user_attrs for t in seq.trials)
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in seq.trials) - invalid
    assert invalid > 0 and pruned > 0


def test_batch_sizes_put_the_start_up_trials_first() -> None:
    assert batch_sizes(50, 12, 1) == [12] + [1] * 38
    assert batch_sizes(50, 12, 16) == [12, 16, 16, 6]
    assert batch_sizes(3, 12, 4) == [3]
    with pytest.raises(ValueError):
        batch_sizes(10, 2, 0)


def test_the_pbo_matrix_from_one_sweep_is_one_backtest_per_trial() -> None:
    quiet_optuna()
    bars = load_bars("SPX").iloc[:2000]
    tpl = get_strategy("momentum-macd")
    ranges = search_space(tpl)
    study = _study(3, 8)
    run_batches(study, make_batch_objective(bars, tpl.id, ranges, {}), 24, 8, 4)
    trials = study.get_trials(deepcopy=False)
    defaults = tpl.validate_params({})
    bpy = bars_per_year(bars.index)
    _, luck = score_full_history(bars, tpl, {}, defaults, trials, 16, bpy)
    # the matrix as it was built before the sweep: one strategy_returns per evaluated trial
    old = np.column_stack([strategy_returns(bars, tpl.id, tpl.validate_params(t.params))[SCORE_FROM:]
                           for t in evaluated_trials(trials)])
    old = old[:, dedupe_columns(old)]
    assert luck["in_sample"]["distinct_configs"] == old.shape[1]
    assert luck["pbo"] == pbo_spread(old, sorted({*PBO_BLOCKS, 16})).as_dict()


def test_optimize_takes_a_batch_size_and_stays_reproducible() -> None:
    bars = load_bars("GOOG")
    kw = {"symbol": "GOOG", "n_trials": 16, "n_splits": 2, "seed": 5, "save": False, "storage": "memory"}
    one = optimize(bars, "trend-following-ma-cross", **kw)
    ones = optimize(bars, "trend-following-ma-cross", batch_size=1, **kw)
    assert one["best_params"] == ones["best_params"] and one["pbo"] == ones["pbo"]
    assert one["settings"]["fingerprint"] == ones["settings"]["fingerprint"]
    big = [optimize(bars, "trend-following-ma-cross", batch_size=8, **kw) for _ in range(2)]
    assert big[0]["best_params"] == big[1]["best_params"]
    assert big[0]["in_sample"] == big[1]["in_sample"]
    assert big[0]["settings"]["batch_size"] == 8
    assert big[0]["settings"]["fingerprint"] != one["settings"]["fingerprint"]
