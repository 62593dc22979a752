"""`optimize`: one walk-forward optimisation of a template on a symbol, from the studies to the stored report.

The studies are independent tasks handed to a `mapper` (the engine's executor: local processes or a
Dask cluster; `ml` never imports `engine`, so the CLI passes `paiid.engine.executor.map` in). Every
trial ends up in one Optuna storage, which is also where the report is computed from, and a saved run
is also recorded in the trial ledger so that later runs deflate by it (`ledger`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import optuna
import pandas as pd

from paiid.backtest import bars_per_year, get_strategy
from paiid.data import normalise_symbol
from paiid.errors import BadInput, NotEnoughHistory
from paiid.jsonutil import to_jsonable
from paiid.ml.optimize.ledger import (
    count_trials,
    fingerprint,
    record_run,
    storage_runs,
    study_name,
    this_run,
)
from paiid.ml.optimize.objective import SCORE_FROM
from paiid.ml.optimize.report import score_full_history
from paiid.ml.optimize.results import save_result
from paiid.ml.optimize.space import search_space
from paiid.ml.optimize.storage import MEMORY, open_storage, prepare_storage, quiet_optuna, redact, storage_url
from paiid.ml.optimize.study import StudyTask, load_trials, run_study, write_trials
from paiid.ml.optimize.summary import summary, verdict
from paiid.ml.optimize.walkforward import score_windows, windows

#: A `map(fn, items, *, desc=...) -> list` callable; the engine's executor fits.
Mapper = Callable[..., list]

DEFAULT_TRIALS = 50
DEFAULT_SPLITS = 4
#: Blocks for CSCV: C(16, 8) = 12,870 splits, each block ~ 1/16 of the history.
CSCV_BLOCKS = 16


def _serial_map(fn: Callable, items: Sequence, **_: Any) -> list:
    return [fn(x) for x in items]


def optimize(
    bars: pd.DataFrame,
    strategy_id: str,
    *,
    symbol: str = "custom",
    n_trials: int = DEFAULT_TRIALS,
    n_splits: int = DEFAULT_SPLITS,
    min_train: int | None = None,
    seed: int = 0,
    space: Sequence[str] | None = None,
    fixed: Mapping[str, Any] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    cscv_blocks: int = CSCV_BLOCKS,
    mapper: Mapper | None = None,
    workers_per_study: int = 1,
    batch_size: int = 1,
    storage: str | None = None,
    save: bool = True,
    group: str | None = None,
) -> dict[str, Any]:
    """Walk-forward optimise `strategy_id` on `bars`; see the package docstring.

    `storage`: an Optuna RDB URL (default `storage_url()`), or "memory" for a run that stays in this
    process (no database, no workers: the studies then run in-process whatever `mapper` is given).
    `space` limits the searched parameters, `fixed` pins some (they also apply to the default-params
    baseline), `bounds` narrows ranges (`{"fast": (5, 30)}`). `batch_size`: trials asked and backtested
    at once after the random start-up trials (which are always one batch; see `study.run_study`): 1
    keeps the sequential trial sequence and so today's numbers, more is faster but samples another
    sequence (still reproducible for a seed). `mapper` runs the studies (default:
    in this process). `group` names a search spanning several symbols: the trials of every run in the
    group count in each other's deflated Sharpe (see `ledger`). Returns a JSON-ready report and, with
    `save`, stores it (`load_result`) and records its trials in the ledger.
    """
    tpl = get_strategy(strategy_id)
    fixed = dict(fixed or {})
    ranges = search_space(tpl, space, fixed, bounds)
    defaults = tpl.validate_params(fixed)
    if n_trials < 2:
        raise BadInput("--trials must be at least 2 (one trial is not an optimisation)")
    if workers_per_study < 1:
        raise BadInput("workers_per_study must be >= 1")
    if batch_size < 1:
        raise BadInput("batch_size must be >= 1")
    n = len(bars)
    if min_train is None:
        min_train = max(SCORE_FROM + 250, n // (n_splits + 1))
    need = min_train + n_splits * 60
    if n < need:
        raise NotEnoughHistory(f"walk-forward optimisation with {n_splits} windows", need, n)
    run_windows = windows(n, n_splits, min_train)
    url = storage or storage_url()
    mapper = _serial_map if (mapper is None or url == MEMORY) else mapper
    prepare_storage(url)
    quiet_optuna()

    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    sym = normalise_symbol(symbol)
    moves = {"trials": n_trials, "splits": n_splits, "min_train": min_train, "seed": seed, "ranges": ranges,
             "fixed": fixed, "workers_per_study": workers_per_study}
    if batch_size != 1:  # batch 1 is the sequential search: the same trials, so the same fingerprint
        moves["batch_size"] = batch_size
    fp = fingerprint(bars, tpl.id, moves)
    n_startup = max(5, min(20, n_trials // 4))
    tasks: list[StudyTask] = []
    for k, (name, train_end, _, _) in enumerate(run_windows):
        study_name_k = study_name(sym, tpl.id, run_id, name)
        created = optuna.create_study(study_name=study_name_k, storage=open_storage(url),
                                      direction="maximize")
        created.set_user_attr("fingerprint", fp)
        if group is not None:
            created.set_user_attr("search_group", group)
        share = [n_trials // workers_per_study + (j < n_trials % workers_per_study)
                 for j in range(workers_per_study)]
        for j, count in enumerate(share):
            if count:
                tasks.append(StudyTask(
                    storage=url, study_name=study_name_k, bars=bars.iloc[:train_end], strategy_id=tpl.id,
                    ranges=ranges, fixed=fixed, n_trials=count, seed=seed * 1009 + k * 101 + j,
                    n_startup=n_startup, cooperative=workers_per_study > 1, batch_size=batch_size,
                ))
    tasks.sort(key=lambda t: -len(t.bars))  # longest studies first: better balance across workers
    t0 = time.perf_counter()
    write_trials(url, mapper(run_study, tasks, desc=f"optimising {tpl.id} on {symbol}"))
    elapsed = time.perf_counter() - t0

    bpy = bars_per_year(bars.index)
    by_window = {t.study_name.rsplit(":", 1)[1]: t.study_name for t in tasks}
    walk = score_windows(bars, tpl, fixed, defaults, run_windows[:-1], url, by_window, bpy)
    # Final study on all history: the parameters to use from now on, deflated for the search.
    full_trials = load_trials(url, by_window["full"])
    stored = storage_runs(url)
    run = this_run(stored, sym, tpl.id, run_id, group, fp)
    counted = count_trials(url, run, stored)
    final_params, luck = score_full_history(bars, tpl, fixed, defaults, full_trials, cscv_blocks, bpy,
                                            counted["total"])
    report = {
        "symbol": sym,
        "strategy_id": tpl.id,
        "family": tpl.family,
        "created": pd.Timestamp.now(tz="UTC").isoformat(),
        "data": {"first": bars.index[0], "last": bars.index[-1], "bars": n, "bars_per_year": bpy},
        "settings": {
            "trials": n_trials, "splits": len(run_windows) - 1, "min_train": min_train, "seed": seed,
            "searched": {k: {"min": lo, "max": hi, "type": kind} for k, (lo, hi, kind) in ranges.items()},
            "fixed": fixed, "sampler": "TPE (multivariate, seeded)", "pruner": "median",
            "objective": "annualised Sharpe ratio of in-sample bars after the warm-up (costs included)",
            "workers_per_study": workers_per_study, "batch_size": batch_size, "storage": redact(url),
            "run_id": run_id,
            "group": group, "fingerprint": fp,
        },
        "best_params": final_params,
        "default_params": defaults,
        "walk_forward": walk,
        **luck,
        "trials_counted": counted,
        "elapsed_s": elapsed,
    }
    report["verdict"] = verdict(report)
    report["summary"] = summary(report)
    if save:
        save_result(report)
        record_run(run)
    return to_jsonable(report)
