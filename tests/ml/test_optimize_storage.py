"""`storage.add_trials` (one transaction per study) stores what Optuna's own `Study.add_trials` stores.

The reference is Optuna itself: the same frozen trials are added to one study by `Study.add_trials` and
to another by ours, and both are read back through Optuna's storage API, every field compared.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import optuna
import pytest

from paiid.ml.optimize.storage import add_trials, open_storage, prepare_storage, quiet_optuna, storage_url
from paiid.ml.optimize.study import write_trials


def _trials() -> list[optuna.trial.FrozenTrial]:
    """Finished trials of every kind the optimiser leaves: completed, pruned with an intermediate value,
    impossible (pruned, a user attribute, no parameters tried), infinite and NaN intermediate values,
    int, float, log and categorical parameters, and a system attribute."""
    quiet_optuna()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=3))
    for k in range(9):
        trial = study.ask()
        trial.suggest_int("fast", 2, 30)
        trial.suggest_float("stop", 0.5, 5.0)
        trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        trial.suggest_categorical("side", ["long", "both"])
        if k % 4 == 1:
            trial.report(float("nan") if k == 5 else -0.25 * k, 0)
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif k == 3:
            trial.report(float("inf"), 0)
            study.tell(trial, float("-inf"))
        else:
            trial.report(0.1 * k, 0)
            study.tell(trial, 0.3 * k - 1.0)
    impossible = study.ask()
    impossible.set_user_attr("invalid", "fast must be < slow (got fast=40, slow=20)")
    study.tell(impossible, state=optuna.trial.TrialState.PRUNED)
    trials = study.get_trials(deepcopy=True)
    for t in trials:
        t.system_attrs = {"batch": t.number // 3, "note": {"list": [1, 2.5, None]}}
    return trials


def _fields(t: optuna.trial.FrozenTrial) -> dict[str, Any]:
    inter = {k: ("nan" if math.isnan(v) else v) for k, v in t.intermediate_values.items()}
    return {
        "number": t.number, "state": t.state, "values": t.values, "params": t.params,
        "distributions": t.distributions, "user_attrs": t.user_attrs, "system_attrs": t.system_attrs,
        "intermediate_values": inter, "datetime_start": t.datetime_start,
        "datetime_complete": t.datetime_complete,
    }


def _read(url: str, name: str) -> list[dict[str, Any]]:
    study = optuna.load_study(study_name=name, storage=open_storage(url))
    return [_fields(t) for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)]


@pytest.fixture
def url(database) -> str:
    """The home's Optuna storage: the SQLite file, or the PostgreSQL database (`database` fixture)."""
    out = storage_url()
    assert out.startswith("sqlite") == (database.kind == "sqlite")
    prepare_storage(out)
    return out


def test_bulk_write_reads_back_as_optunas_own_add_trials(url: str) -> None:
    trials = _trials()
    for name in ("optuna", "ours"):
        optuna.create_study(study_name=name, storage=open_storage(url), direction="maximize")
    optuna.load_study(study_name="optuna", storage=open_storage(url)).add_trials(trials)
    add_trials(url, "ours", trials)
    ref, got = _read(url, "optuna"), _read(url, "ours")
    assert len(ref) == len(trials) == 10
    assert got == ref
    # What the report relies on, spelled out against the source trials rather than the reference.
    assert [t["number"] for t in got] == list(range(10))
    assert got[3]["values"] == [float("-inf")] and got[3]["intermediate_values"] == {0: float("inf")}
    assert got[5]["intermediate_values"] == {0: "nan"}
    assert got[9]["user_attrs"] == {"invalid": "fast must be < slow (got fast=40, slow=20)"}
    assert [t["datetime_start"] for t in got] == [t.datetime_start for t in trials]


def test_a_second_batch_numbers_on_and_other_studies_are_untouched(url: str) -> None:
    trials = _trials()
    for name in ("a", "b"):
        optuna.create_study(study_name=name, storage=open_storage(url), direction="maximize")
    add_trials(url, "a", trials[:4])
    add_trials(url, "b", trials[:2])
    add_trials(url, "a", trials[4:])
    add_trials(url, "a", [])
    a, b = _read(url, "a"), _read(url, "b")
    assert [t["number"] for t in a] == list(range(10)) and [t["number"] for t in b] == [0, 1]
    assert [t["params"] for t in a] == [t.params for t in trials]
    assert [t["values"] for t in a] == [t.values for t in trials]


def test_a_failed_write_leaves_the_study_as_it_was(url: str) -> None:
    trials = _trials()
    optuna.create_study(study_name="s", storage=open_storage(url), direction="maximize")
    no_value = copy.deepcopy(trials[0])  # completed without a value: `Study.add_trial` refuses it too
    no_value.values = None
    with pytest.raises(ValueError):  # refused before anything is written
        add_trials(url, "s", [*trials[:3], no_value])
    # Fails half-way, after the trial rows were flushed: the transaction is rolled back as a whole.
    unwritable = optuna.trial.create_trial(value=1.0, user_attrs={"not json": object()})
    with pytest.raises(TypeError):
        add_trials(url, "s", [*trials[:3], unwritable])
    assert _read(url, "s") == []
    add_trials(url, "s", trials[:2])  # and the storage is usable afterwards, numbered from 0
    assert [t["number"] for t in _read(url, "s")] == [0, 1]
    with pytest.raises(KeyError):
        add_trials(url, "no-such-study", trials)


def test_write_trials_writes_each_returned_study_once_and_keeps_the_rest(url: str) -> None:
    trials = _trials()
    optuna.create_study(study_name="w", storage=open_storage(url), direction="maximize")
    out = write_trials(url, [{"study": "w", "trials": 10, "seconds": 0.1, "frozen": trials},
                             {"study": "w", "trials": 3, "seconds": 0.1}])  # cooperative: wrote itself
    assert out == [{"study": "w", "trials": 10, "seconds": 0.1}, {"study": "w", "trials": 3, "seconds": 0.1}]
    assert len(_read(url, "w")) == 10
