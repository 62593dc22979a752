"""Tiny real trainers for the engine/CLI/API tests: a LogisticRegression on a few hundred real bars.

They follow the trainer contract (`train(symbols, *, seed, deps) -> Trained`) and fit a `TinyModel`, a
model class with a `STATE_VERSION` like the ML areas' own, so the tests exercise the real orchestration
and registry without depending on the ML areas' models. `CALLS` records what each was given.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.linear_model import LogisticRegression

from paiid.data import load_bars
from paiid.ml.base import Trained, data_fingerprint

CALLS: list[dict[str, Any]] = []
FEATURES = ["ret_1", "ret_5"]


class TinyModel(LogisticRegression):
    """What the tiny trainers fit: a logistic regression with the model classes' `STATE_VERSION`."""

    STATE_VERSION: ClassVar[int] = 1


def _fit(symbols: list[str], seed: int) -> tuple[TinyModel, list[dict]]:
    X, y, fps = [], [], []
    for sym in symbols:
        bars = load_bars(sym).iloc[-300:]
        fps.append(data_fingerprint(sym, bars))
        close = bars["close"].to_numpy()
        r1 = close[5:-1] / close[4:-2] - 1
        r5 = close[5:-1] / close[:-6] - 1
        X.append(np.column_stack([r1, r5]))
        y.append((close[6:] > close[5:-1]).astype(int))
    rng = np.random.default_rng(seed)
    Xa, ya = np.vstack(X), np.concatenate(y)
    idx = rng.permutation(len(ya))
    return TinyModel(C=1.0 + seed).fit(Xa[idx], ya[idx]), fps


def _trained(name: str, symbols: list[str], seed: int, deps: dict | None) -> Trained:
    CALLS.append({"name": name, "symbols": list(symbols), "seed": seed, "deps": sorted(deps or {})})
    model, fps = _fit(symbols, seed)
    return Trained(model, {"features": FEATURES, "params": {"C": 1.0 + seed},
                           "scores": {"accuracy": 0.55, "baseline_accuracy": 0.5}, "data": fps})


def train_regime(symbols: list[str], *, seed: int = 0, deps: dict | None = None) -> Trained:
    return _trained("regime", symbols, seed, deps)


def train_selector(symbols: list[str], *, seed: int = 0, deps: dict | None = None) -> Trained:
    assert deps and "regime" in deps, "selector needs the regime model"
    assert hasattr(deps["regime"], "predict_proba")
    return _trained("selector", symbols, seed, deps)


def train_pattern_scorer(symbols: list[str], *, seed: int = 0, deps: dict | None = None) -> Trained:
    return _trained("pattern_scorer", symbols, seed, deps)


def train_tradeprob(symbols: list[str], *, seed: int = 0, deps: dict | None = None) -> Trained:
    return _trained("tradeprob", symbols, seed, deps)


def train_broken(symbols: list[str], *, seed: int = 0, deps: dict | None = None) -> Trained:
    raise RuntimeError("this trainer always fails")


def use(monkeypatch: Any) -> None:
    """Make the real orchestration train these instead of the ML areas' models, under the real names.

    The registry refuses a file whose object is not the class of its name, so each name's class is
    `TinyModel` for the test (what these trainers fit).
    """
    from paiid.engine import registry, training

    monkeypatch.setattr(training, "TRAINERS", dict(TINY))
    monkeypatch.setattr(training, "_failed", set())
    for name in TINY:
        monkeypatch.setitem(registry.MODEL_CLASSES, name, TinyModel)
    CALLS.clear()


#: In the real models' dependency order.
TINY = {
    "regime": train_regime,
    "pattern_scorer": train_pattern_scorer,
    "selector": train_selector,
    "tradeprob": train_tradeprob,
}


# ------------------------------------------------------------------ the real recipes, with small forests

#: Trees per forest of `small_forests`: the real trainers' default is 300; 300 trees cost most of a
#: training (fitting them in the validation folds and the final fit, then writing and reading them back).
SMALL_FOREST_TREES = 24


def small_selector(symbols: list[str], *, seed: int = 0, deps: dict | None = None) -> Trained:
    """The real selector trainer (dataset, regime dependency, calibration folds) with few trees."""
    from paiid.ml import selector

    return selector.train(symbols, seed=seed, deps=deps, n_estimators=SMALL_FOREST_TREES)


def small_tradeprob(symbols: list[str], *, seed: int = 0, deps: dict | None = None) -> Trained:
    """The real trade-probability trainer (entry events, validation folds, shrinkage) with few trees."""
    from paiid.ml import tradeprob

    return tradeprob.train(symbols, seed=seed, deps=deps, n_estimators=SMALL_FOREST_TREES)


def small_forests(monkeypatch: Any) -> None:
    """Make every training and point-in-time refit of the test use the real trainers and models, the
    two forests with `SMALL_FOREST_TREES` trees instead of 300.

    For tests of *which data* a model is fitted on and answers from (point in time), where the number
    of trees changes how long a fit takes and nothing about what it reads. The regime and pattern models
    are the real trainers unchanged. Both sides of such a comparison must train through here.
    """
    from paiid.engine import training

    monkeypatch.setattr(training, "TRAINERS", {**training.TRAINERS, "selector": small_selector,
                                               "tradeprob": small_tradeprob})
    monkeypatch.setattr(training, "_failed", set())
