"""The score of one parameter set: its returns after costs, and the in-sample Sharpe a study maximises."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
import pandas as pd

from paiid.backtest import bars_per_year, get_strategy, run_backtest
from paiid.backtest.sweep import sweep_returns
from paiid.errors import BadInput, NotEnoughHistory
from paiid.features import WARMUP
from paiid.metrics import sharpe
from paiid.ml.optimize.space import suggest

#: In-sample bars scored start after the feature warm-up, so every template is judged on the same bars.
SCORE_FROM = WARMUP


def strategy_returns(bars: pd.DataFrame, strategy_id: str, params: Mapping[str, Any]) -> np.ndarray:
    """Per-bar returns after costs of the template on `bars` (signals computed once, then simulated).

    `close_at_end=False` marks a trade still open on the last bar to market instead of charging its
    exit there, so the returns up to bar t are the same whether or not later bars exist: a run on a
    prefix is exactly the start of the run on the whole history.

    A parameter set that never takes a position (common: e.g. a volume filter nothing passes) earns
    exactly 0 on every bar; that is returned directly instead of simulating an empty trade list.
    """
    tpl = get_strategy(strategy_id)
    sig = tpl.signals(None, bars, params)
    if not np.any(sig[:-1]):
        need = tpl.min_bars(params)
        if len(bars) < need:
            raise NotEnoughHistory(f"backtesting {tpl.id}", need, len(bars))
        return np.zeros(len(bars))
    return run_backtest(bars, strategy_id, params, signals=sig, close_at_end=False).returns


def trade_count(
    bars: pd.DataFrame, strategy_id: str, params: Mapping[str, Any], start: int = SCORE_FROM
) -> int:
    """Trades of the template on `bars` that hold a position on any scored bar (index >= `start`).

    The deflated Sharpe's trade guard reads this: a Sharpe made of one trade is one draw however many
    bars it spans."""
    tpl = get_strategy(strategy_id)
    sig = tpl.signals(None, bars, params)
    if not np.any(sig[:-1]):
        return 0
    res = run_backtest(bars, strategy_id, params, signals=sig, close_at_end=False)
    return int(np.count_nonzero(np.asarray(res.sim.exit_idx) >= start))


def annualised(sr_per_bar: float, bpy: float) -> float:
    """A per-bar Sharpe ratio scaled to a year of `bpy` bars."""
    return float(sr_per_bar * math.sqrt(bpy))


def make_objective(
    bars: pd.DataFrame,
    strategy_id: str,
    ranges: Mapping[str, tuple[float, float, str]],
    fixed: Mapping[str, Any],
) -> Callable[[optuna.Trial], float]:
    """The objective of one study: the annualised Sharpe of `bars` after `SCORE_FROM`, in two pruning steps.

    `bars` is the study's in-sample prefix only, so the objective cannot see the window it is scored on.
    """
    tpl = get_strategy(strategy_id)
    n = len(bars)
    bpy = bars_per_year(bars.index)
    # Step 0 scores the earlier half of the scored in-sample bars (a prefix run: cheaper, and it
    # cannot see anything the full run would not), step 1 all of them.
    mid = SCORE_FROM + (n - SCORE_FROM) // 2
    ends = [mid, n] if mid - SCORE_FROM >= 60 else [n]

    def objective(trial: optuna.Trial) -> float:
        params = {**fixed, **suggest(trial, ranges)}
        try:
            params = tpl.validate_params(params)
        except BadInput as exc:  # e.g. fast >= slow: not a trial, just an impossible point
            trial.set_user_attr("invalid", exc.message)
            raise optuna.TrialPruned() from None
        score = float("nan")
        for step, end in enumerate(ends):
            try:
                r = strategy_returns(bars.iloc[:end], tpl.id, params)
            except NotEnoughHistory as exc:
                trial.set_user_attr("invalid", exc.message)
                raise optuna.TrialPruned() from None
            score = sharpe(r[SCORE_FROM:end], bpy, axis=0)
            if step < len(ends) - 1:
                trial.report(score, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        return score

    return objective


def make_batch_objective(
    bars: pd.DataFrame,
    strategy_id: str,
    ranges: Mapping[str, tuple[float, float, str]],
    fixed: Mapping[str, Any],
) -> Callable[[list[optuna.Trial], optuna.Study], None]:
    """`make_objective` for a batch of asked trials: every backtest of the batch runs in one sweep per
    pruning step (`paiid.backtest.sweep.run_sweep`), then the trials are reported and told in order.

    The values are those of `make_objective` to the bit (each sweep column is `strategy_returns` of its
    parameters and the Sharpe ratio sums each row as a 1-D array), and the pruning decisions are the
    same: trial j is judged only after every earlier trial of the batch has been told, against the same
    completed trials a sequential run would have had. The price is that a trial the pruner stops after
    step 0 has had its full-length backtest computed too (in the same vectorised pass, so cheap).
    """
    tpl = get_strategy(strategy_id)
    n = len(bars)
    bpy = bars_per_year(bars.index)
    mid = SCORE_FROM + (n - SCORE_FROM) // 2
    ends = [mid, n] if mid - SCORE_FROM >= 60 else [n]

    def evaluate(trials: list[optuna.Trial], study: optuna.Study) -> None:
        params: list[dict[str, Any] | None] = []
        for trial in trials:  # suggested in asking order, as `study.optimize` would
            p = {**fixed, **suggest(trial, ranges)}
            try:
                params.append(tpl.validate_params(p))
            except BadInput as exc:
                trial.set_user_attr("invalid", exc.message)
                params.append(None)
        scores: list[np.ndarray] = []
        for end in ends:
            ok = [i for i, p in enumerate(params) if p is not None and tpl.min_bars(p) <= end]
            col = np.full(len(trials), np.nan)
            if ok:
                r = sweep_returns(bars.iloc[:end], tpl.id, [params[i] for i in ok])
                col[ok] = np.atleast_1d(sharpe(r[:, SCORE_FROM:end], bpy, axis=1))
            scores.append(col)
        for j, trial in enumerate(trials):
            p = params[j]
            if p is None:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                continue
            need = tpl.min_bars(p)
            pruned = False
            for step, end in enumerate(ends):
                if need > end:
                    short = NotEnoughHistory(f"backtesting {tpl.id}", need, end)
                    trial.set_user_attr("invalid", short.message)
                    pruned = True
                    break
                if step < len(ends) - 1:
                    trial.report(float(scores[step][j]), step)
                    if trial.should_prune():
                        pruned = True
                        break
            if pruned:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                study.tell(trial, float(scores[-1][j]))

    return evaluate
