"""Point-in-time serving: the models that answer as of a past bar, fitted on data up to its refit date.

Why: `--date D` used to cut only the input bars, while the models (pattern success rates, the
selector's expected returns, the trade base rate, the regime clusters) had been fitted on everything up
to the end of the data. Here an answer as of D gets, for each model it reads, the version fitted on data
up to `schedule.refit_for(bars)`, the last scheduled refit date on or before D:

* the promoted model when its refit date is that one or an earlier one (the normal, live case: fast);
* otherwise a *vintage*: the same recipe (the promoted version's symbols and seed) trained under
  `paiid.data.as_of(refit)`, registered unpromoted with `vintage: true` in its sidecar, and reused by
  every later answer with the same refit date. Its dependencies (the selector's regime model) are
  vintages of the same date.

Cost: the first answer of a refit period trains what it reads (measured in `paiid bench --only
vintages`); later ones load it from the registry, then from memory. Training happens under the training
lock, so concurrent requests train a vintage once, and under a lock per vintage, so the threads of one
process load it once. A refit date with too little data before it is `NotEnoughHistory` (422 / exit 2):
no model could have been fitted then.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pandas as pd

from paiid import config
from paiid.data import as_of
from paiid.engine import registry
from paiid.engine.catalog import MODELS
from paiid.engine.registry import ModelInfo
from paiid.engine.schedule import cap, refit_for
from paiid.engine.service import get_served
from paiid.engine.training import fit_and_register, min_train_bars, screen_at, trained_through, training_lock
from paiid.errors import ModelError, NotEnoughHistory
from paiid.progress import note

#: (models dir, name, refit date, recipe) -> (model, info) of vintages loaded in this process.
_loaded: dict[tuple[str, str, str, str], tuple[Any, ModelInfo]] = {}
_lock = threading.RLock()
#: One lock per vintage key: the threads of a burst of past-date requests that all miss `_loaded`
#: wait for the first one's load instead of each loading the same file (a 300-tree forest: ~1 s and
#: hundreds of MB apiece; `registry.load` instantiates one model at a time per process anyway).
_key_locks: dict[tuple[str, str, str, str], threading.RLock] = {}


def model_refit(info: ModelInfo) -> pd.Timestamp | None:
    """The date a registered version was fitted up to: its refit date, else (a version saved without
    one) the last bar of its training data; None when neither is recorded (a model saved by hand)."""
    value = info.metadata.get("refit_date") or trained_through(info.metadata.get("data"))
    return pd.Timestamp(value).normalize() if value else None


def _recipe(info: ModelInfo) -> tuple[list[str], int]:
    training = info.metadata.get("training") or {}
    return list(training.get("symbols") or []), int(training.get("seed") or 0)


def _recipe_key(symbols: list[str], seed: int) -> str:
    return json.dumps([sorted(symbols), seed])


def describe(info: ModelInfo) -> dict[str, Any]:
    """The `model` block of an answer: which version served and what data it was fitted on."""
    return {
        "name": info.name,
        "version": int(info.version),
        "refit_date": info.metadata.get("refit_date"),
        "trained_through": info.metadata.get("trained_through"),
        "vintage": bool(info.metadata.get("vintage")),
    }


def _find(name: str, refit: pd.Timestamp, key: str) -> int | None:
    """The newest registered vintage of `name` for this refit date and recipe that loads, if any."""
    for v in sorted(registry.versions(name), reverse=True):
        info = registry.describe(name, v)
        meta = info.metadata
        if (meta.get("vintage") and meta.get("refit_date") == refit.date().isoformat()
                and meta.get("recipe") == key):
            return v
    return None


def serving(name: str, bars: pd.DataFrame, *, train: bool = True) -> tuple[Any, ModelInfo] | None:
    """(model, info) of `name` that may answer as of the last bar of `bars` (see the module docstring).

    `train=False` returns None instead of loading or training anything that is not in memory yet (the
    API's event-loop fast path).
    """
    return serving_at(name, refit_for(bars), train=train)


def serving_at(name: str, refit: pd.Timestamp, *, train: bool = True) -> tuple[Any, ModelInfo] | None:
    """(model, info) of `name` fitted on data up to `refit` (the promoted one if it is that old)."""
    if train:
        current = get_served(name)
    else:
        current = get_served(name, ensure=False) if registry.promoted_version(name) is not None else None
        if current is None:
            return None
    promoted_refit = model_refit(current[1])
    if promoted_refit is None or promoted_refit <= refit:
        return current
    symbols, seed = _recipe(current[1])
    key = _recipe_key(symbols, seed)
    memo = (str(config.models_dir()), name, refit.date().isoformat(), key)
    with _lock:
        if memo in _loaded:
            return _loaded[memo]
    if not train:
        return None
    with _lock:
        key_lock = _key_locks.setdefault(memo, threading.RLock())
    with key_lock:
        with _lock:
            if memo in _loaded:  # another thread loaded it while we waited
                return _loaded[memo]
        found = _find(name, refit, key)
        if found is None:
            with training_lock():
                found = _find(name, refit, key)  # another process may have trained it while we waited
                if found is None:
                    found = _train(name, refit, symbols, seed, key)
        model, info = registry.load(name, found)
        with _lock:
            _loaded[memo] = (model, info)
    return model, info


def _train(name: str, refit: pd.Timestamp, symbols: list[str], seed: int, key: str) -> int:
    """Fit the vintage of `name` at `refit` (its dependencies first) and register it unpromoted."""
    deps = {dep: serving_at(dep, refit) for dep in MODELS[name].deps}
    usable, skipped = screen_at(symbols, refit, close_only=MODELS[name].close_only)
    if not usable:
        why = "; ".join(f"{s['symbol']}: {s['reason']}" for s in skipped)
        raise NotEnoughHistory(f"a {name} model fitted on data up to {refit.date()} ({why})",
                               min_train_bars(), 0)
    note(f"fitting {name} on data up to {refit.date()} (point in time; once per refit date)")
    with as_of(cap(refit)):
        _, info = fit_and_register(name, usable, seed=seed, deps=deps, promote=False,
                                  extra={"vintage": True, "recipe": key})
    if model_refit(info) != refit:
        raise ModelError(f"vintage {name} v{info.version} was not fitted up to {refit.date()}")
    return info.version


def clear_cache() -> None:
    """Forget loaded vintages (tests)."""
    with _lock:
        _loaded.clear()
        _key_locks.clear()
