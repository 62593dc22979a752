"""One Optuna study of one window: the task a worker runs, and the trials it leaves in the storage."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import optuna
import pandas as pd

from paiid.ml.optimize.objective import make_objective
from paiid.ml.optimize.storage import open_storage, quiet_optuna


@dataclass(frozen=True)
class StudyTask:
    """One unit of work for a worker: run `n_trials` trials of one window's study."""

    storage: str
    study_name: str
    bars: pd.DataFrame  # the in-sample prefix only: bars after it do not exist for this task
    strategy_id: str
    ranges: dict[str, tuple[float, float, str]]
    fixed: dict[str, Any]
    n_trials: int
    seed: int
    n_startup: int
    cooperative: bool = False  # other workers run trials of the same study at the same time


def run_study(task: StudyTask) -> dict[str, Any]:
    """Run `task.n_trials` trials of an existing study (module level so any worker can run it).

    Alone on its study, a worker samples against an in-memory copy and writes the finished trials
    to the shared storage in one go at the end: the sampler sees exactly the same history either way,
    and the shared database takes one write per trial instead of one per parameter and report (with
    SQLite, concurrent writers otherwise spend their time waiting for the lock). Cooperating workers
    must see each other's trials as they happen, so they use the shared storage directly.
    """
    quiet_optuna()
    t0 = time.perf_counter()
    sampler = optuna.samplers.TPESampler(seed=task.seed, multivariate=True, n_startup_trials=task.n_startup)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=task.n_startup, n_warmup_steps=0)
    shared = optuna.load_study(study_name=task.study_name, storage=open_storage(task.storage),
                               sampler=sampler, pruner=pruner)
    objective = make_objective(task.bars, task.strategy_id, task.ranges, task.fixed)
    if task.cooperative:
        shared.optimize(objective, n_trials=task.n_trials)
    else:
        local = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
        local.optimize(objective, n_trials=task.n_trials)
        shared.add_trials(local.get_trials(deepcopy=False))
    return {"study": task.study_name, "trials": task.n_trials, "seconds": time.perf_counter() - t0}


def load_trials(storage: str, study_name: str) -> list[optuna.trial.FrozenTrial]:
    """Every trial of the study, in the order they were started."""
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage))
    return sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)


def best_trial(trials: list[optuna.trial.FrozenTrial]) -> optuna.trial.FrozenTrial | None:
    """Highest value among completed trials; ties go to the earliest (deterministic)."""
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
            and math.isfinite(t.value)]
    if not done:
        return None
    return max(done, key=lambda t: (t.value, -t.number))


def evaluated_trials(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Trials whose parameters were actually backtested (completed or pruned, not impossible)."""
    ok = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return [t for t in trials if t.state in ok and "invalid" not in t.user_attrs]


def trial_counts(trials: list[optuna.trial.FrozenTrial]) -> dict[str, int]:
    """How many trials were asked for, finished, stopped early, and impossible (e.g. fast >= slow)."""
    states = [t.state for t in trials]
    invalid = sum("invalid" in t.user_attrs for t in trials)
    return {
        "requested": len(trials),
        "completed": states.count(optuna.trial.TrialState.COMPLETE),
        "pruned": states.count(optuna.trial.TrialState.PRUNED) - invalid,
        "invalid": invalid,
    }
