"""Cooperative studies (`workers_per_study > 1`) under at-least-once delivery: a task rerun after its worker
died, or delivered twice, leaves the study with the trials asked for, not more, and no trial RUNNING."""

from __future__ import annotations

import collections
import multiprocessing as mp
import os
import signal
import time
from typing import Any

import optuna

from paiid.backtest import get_strategy
from paiid.bench.optimize import synthetic_bars
from paiid.ml.optimize import optimize, search_space
from paiid.ml.optimize.storage import open_storage, prepare_storage, quiet_optuna
from paiid.ml.optimize.study import StudyTask, run_study

MA = "trend-following-ma-cross"
FINISHED = ("COMPLETE", "PRUNED")


def _states(url: str, name: str) -> collections.Counter:
    study = optuna.load_study(study_name=name, storage=open_storage(url))
    return collections.Counter(t.state.name for t in study.get_trials(deepcopy=False))


def test_a_cooperative_task_killed_mid_study_and_rerun_adds_only_the_missing_trials(paiid_home) -> None:
    quiet_optuna()
    url = f"sqlite:///{paiid_home / 'optuna.db'}"
    prepare_storage(url)
    name = "paiid:SYN:ma:run:full"
    optuna.create_study(study_name=name, storage=open_storage(url), direction="maximize")
    ranges = search_space(get_strategy(MA), None, {}, None)
    tasks = [StudyTask(storage=url, study_name=name, bars=synthetic_bars(5000, [0, 0]), strategy_id=MA,
                       ranges=ranges, fixed={}, n_trials=6, seed=j, n_startup=5, cooperative=True)
             for j in range(2)]
    proc = mp.get_context("forkserver").Process(target=run_study, args=(tasks[0],))
    proc.start()
    deadline = time.monotonic() + 120
    while sum(_states(url, name)[s] for s in FINISHED) < 3:  # killed with some trials done, one running
        assert proc.is_alive() and time.monotonic() < deadline, "the task ended before it could be killed"
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    killed = _states(url, name)
    assert 3 <= sum(killed[s] for s in FINISHED) < 6
    run_study(tasks[0])  # what Dask does with the dead worker's task: run it again from the start
    run_study(tasks[1])
    after = _states(url, name)
    assert sum(after[s] for s in FINISHED) == 12
    assert after["RUNNING"] == 0 and after["FAIL"] == killed["RUNNING"]


def _at_least_once(fn: Any, items: Any, **_: Any) -> list:
    """Every task delivered twice, as Dask may when a worker dies after finishing a task unreported."""
    items = list(items)
    [fn(x) for x in items]
    return [fn(x) for x in items]


def test_cooperative_tasks_delivered_twice_leave_each_study_its_trials_once(paiid_home) -> None:
    bars = synthetic_bars(1400, [2, 2])
    kw = {"symbol": "SYN2", "n_trials": 8, "n_splits": 2, "seed": 0, "save": False, "workers_per_study": 2,
          "space": ["fast", "slow"], "fixed": {"adx_min": 0.0}}
    rep = optimize(bars, MA, mapper=_at_least_once, **kw)
    assert rep["in_sample"]["trials"]["requested"] == 8
    assert [w["trials"]["requested"] for w in rep["walk_forward"]["windows"]] == [8, 8]
    assert rep["trials_counted"]["this_run"] == {
        "walk_forward": sum(w["trials"]["completed"] + w["trials"]["pruned"]
                            for w in rep["walk_forward"]["windows"]),
        "full_history": rep["in_sample"]["trials"]["completed"] + rep["in_sample"]["trials"]["pruned"]}
