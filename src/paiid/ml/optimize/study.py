"""One Optuna study of one window: the task a worker runs, and the trials it leaves in the storage."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import optuna
import pandas as pd

from paiid.ml.optimize.objective import make_batch_objective, make_objective
from paiid.ml.optimize.storage import add_trials, open_storage, quiet_optuna


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
    batch_size: int = 1  # trials asked at once after the start-up trials (1: the sequential trial sequence)


def run_study(task: StudyTask) -> dict[str, Any]:
    """Run `task.n_trials` trials of an existing study (module level so any worker can run it).

    Alone on its study, a worker samples against an in-memory copy and returns the finished trials,
    which the caller writes in one transaction per study (`write_trials`): the sampler sees exactly the
    same history either way, and the shared database takes a few statements per study instead of
    several per parameter and report (with SQLite, concurrent writers otherwise spend their time
    waiting for the lock). Cooperating workers must see each other's trials as they happen, so they
    use the shared storage directly; a rerun of one of their tasks resumes it (`_resume`).

    Alone on its study, the trials are asked and told in batches and each batch is backtested in one
    sweep (`make_batch_objective`). The start-up trials (random, `n_startup` of them) do not depend on
    earlier results, so they are one batch and the trial sequence is exactly that of `study.optimize`;
    after them TPE samples from the trials told so far, so `batch_size` 1 (the default) keeps the
    sequence, and so every number, identical to a sequential run, while a larger batch samples each
    batch from the same history (faster, still reproducible for a seed, but another sequence).
    """
    quiet_optuna()
    t0 = time.perf_counter()
    sampler = optuna.samplers.TPESampler(seed=task.seed, multivariate=True, n_startup_trials=task.n_startup)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=task.n_startup, n_warmup_steps=0)
    if task.cooperative:
        storage = open_storage(task.storage)
        shared = optuna.load_study(study_name=task.study_name, storage=storage, sampler=sampler,
                                   pruner=pruner)
        objective = make_objective(task.bars, task.strategy_id, task.ranges, task.fixed)
        left = task.n_trials - _resume(shared, storage, task.seed)

        def tagged(trial: optuna.Trial) -> float:
            trial.set_user_attr(TASK_ATTR, task.seed)
            return objective(trial)

        if left > 0:
            shared.optimize(tagged, n_trials=left)
    else:
        local = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
        run_batches(local, make_batch_objective(task.bars, task.strategy_id, task.ranges, task.fixed),
                    task.n_trials, task.n_startup, task.batch_size)
        # returned, not written: a cluster runs a task at least once, so a task rerun after its worker
        # died must not add its trials twice; the caller writes each task's result once (`write_trials`)
        return {"study": task.study_name, "trials": task.n_trials, "seconds": time.perf_counter() - t0,
                "frozen": local.get_trials(deepcopy=False)}
    return {"study": task.study_name, "trials": task.n_trials, "seconds": time.perf_counter() - t0}


#: User attribute naming the cooperative task that ran a trial (its seed: unique among a study's tasks).
TASK_ATTR = "paiid_task"
_FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def _resume(study: optuna.Study, storage: Any, seed: int) -> int:
    """How many trials an earlier attempt of this cooperative task finished; its orphans marked failed.

    A cluster runs a task at least once: a worker killed mid-study has its task rerun from the start.
    Cooperative trials go straight to the shared storage, so without this the rerun would add its full
    share again (12 trials asked, 16 finished seen after one kill) and the killed trial would stay
    RUNNING for ever. Each trial is tagged with its task (`TASK_ATTR`); a rerun counts its task's
    finished trials and runs only the rest, and marks its task's RUNNING trials (left by the dead
    attempt: a task has one live attempt) FAIL, so they are not evaluated trials anywhere. Not covered:
    a trial killed before its objective tagged it stays RUNNING (it is counted as requested only).
    """
    done = 0
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get(TASK_ATTR) != seed:
            continue
        if t.state in _FINISHED:
            done += 1
        elif t.state == optuna.trial.TrialState.RUNNING:
            storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
    return done


def write_trials(storage: str, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add each non-cooperative study's returned trials to the shared storage, once per task; the results
    without their trials (what the report keeps). One transaction per study (`storage.add_trials`)."""
    for res in results:
        frozen = res.pop("frozen", None)
        if frozen:
            add_trials(storage, res["study"], frozen)
    return results


def batch_sizes(n_trials: int, n_startup: int, batch_size: int) -> list[int]:
    """How many trials each ask/tell batch holds: the start-up trials at once, then `batch_size` at a time."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    sizes = [min(n_startup, n_trials)] if n_startup > 0 and n_trials > 0 else []
    left = n_trials - sum(sizes)
    while left > 0:
        sizes.append(min(batch_size, left))
        left -= sizes[-1]
    return sizes


def run_batches(study: optuna.Study, evaluate: Any, n_trials: int, n_startup: int, batch_size: int) -> None:
    """Ask, evaluate and tell `n_trials` trials of `study` in the batches of `batch_sizes`."""
    for size in batch_sizes(n_trials, n_startup, batch_size):
        evaluate([study.ask() for _ in range(size)], study)


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
