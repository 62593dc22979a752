"""What every trainer returns, so the registry can store any model the same way; and the fast,
bit-identical probabilities of the forests every served answer asks (`classifier_proba`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.utils.validation import check_is_fitted


@dataclass
class Trained:
    """A fitted model plus the metadata the registry keeps beside it.

    `metadata` keys: `features` (list of input names), `params` (hyper-parameters), `scores`
    (out-of-sample, each with its baseline), `data` (per symbol: first, last, bars, sha256).
    """

    model: Any
    metadata: dict[str, Any] = field(default_factory=dict)


def data_fingerprint(symbol: str, bars: pd.DataFrame) -> dict[str, Any]:
    """First/last bar, count and a hash of the bars a model was trained on (for reproducibility)."""
    digest = hashlib.sha256(bars.index.asi8.tobytes() + bars.to_numpy().tobytes()).hexdigest()
    return {
        "symbol": symbol,
        "first": bars.index[0].isoformat(),
        "last": bars.index[-1].isoformat(),
        "bars": len(bars),
        "sha256": digest,
    }


# ------------------------------------------------------------------------------------ fast predictions


def forest_proba(forest: Any, X: Any) -> np.ndarray:
    """`forest.predict_proba(X)` of a fitted `RandomForestClassifier`, bit for bit, without joblib.

    Why: an answer asks a 300-tree forest about 1-40 rows, and scikit-learn's `predict_proba` then
    spends about as long dispatching one joblib task per tree (`Parallel(require="sharedmem")` with a
    lock) as the trees take to predict: half of a scan row's CPU. With `n_jobs=1` scikit-learn adds
    the trees' leaf fractions into one zero array in `estimators_` order and divides by the tree count
    once; this does exactly those additions in that order, so the result is identical (the tests
    compare with `np.array_equal`). Each tree of a forest is fitted on the forest's whole label
    encoding (bootstrap draws become sample weights), so every tree has the forest's classes and a
    class a tree's draw missed is a 0 in its leaves, as in scikit-learn.

    Anything else (more jobs, where the order of the additions is not fixed; several outputs; another
    estimator) is scikit-learn's own `predict_proba`. A plain function, not a subclass, so no new type
    enters the model files (`engine/registry/trust.py`) and models stored before get the gain too.
    """
    if not (isinstance(forest, RandomForestClassifier) and forest.n_jobs == 1
            and getattr(forest, "n_outputs_", None) == 1):
        return forest.predict_proba(X)
    check_is_fitted(forest)
    Xv = forest._validate_X_predict(X)  # float32, feature count: what predict_proba checks
    width = int(forest.n_classes_)
    total = np.zeros((Xv.shape[0], width), dtype=np.float64)
    for tree in forest.estimators_:
        total += tree.tree_.predict(Xv)[:, :width]
    total /= len(forest.estimators_)
    return total


def _calibrated_one(cc: Any, X: Any) -> np.ndarray:
    """One `_CalibratedClassifier.predict_proba` (sigmoid or isotonic over a random forest) with the
    forest's probabilities from `forest_proba`; the arithmetic of scikit-learn 1.9's, step for step."""
    est = cc.estimator
    pred = forest_proba(est, X)
    if len(est.classes_) == 2:  # binary: scikit-learn keeps the column of the last class only
        pred = pred[:, -1:]
    classes = np.asarray(cc.classes)
    n_classes = classes.shape[0]
    proba = np.zeros((pred.shape[0], n_classes))
    pos = np.searchsorted(np.unique(classes), est.classes_)  # LabelEncoder().fit(classes).transform
    for class_idx, this_pred, calibrator in zip(pos, pred.T, cc.calibrators, strict=False):
        if n_classes == 2:
            class_idx += 1
        proba[:, class_idx] = calibrator.predict(this_pred)
    if n_classes == 2:
        proba[:, 0] = 1.0 - proba[:, 1]
    else:
        denominator = np.sum(proba, axis=1)[:, np.newaxis]
        uniform = np.full_like(proba, 1 / n_classes)
        proba = np.divide(proba, denominator, out=uniform, where=denominator != 0)
    proba[(1.0 < proba) & (proba <= 1.0 + 1e-5)] = 1.0
    return proba


def _fast_calibrated(model: Any) -> bool:
    """A `CalibratedClassifierCV` whose every piece `_calibrated_one` reproduces exactly: numpy input,
    sigmoid or isotonic calibrators over random forests of at least two classes each."""
    pieces = getattr(model, "calibrated_classifiers_", None)
    return (isinstance(model, CalibratedClassifierCV) and bool(pieces)
            and all(getattr(cc, "method", None) in ("sigmoid", "isotonic")
                    and isinstance(cc.estimator, RandomForestClassifier)
                    and len(cc.estimator.classes_) >= 2 for cc in pieces))


def classifier_proba(model: Any, X: Any) -> np.ndarray:
    """`model.predict_proba(X)` bit for bit, faster for the two shapes paiid serves: a random forest
    (`forest_proba`) and a `CalibratedClassifierCV` over random forests.

    For the calibrated one the pieces are called here (each fold's forest through `forest_proba`, then
    its calibrators, the normalisation and the mean over folds in scikit-learn's order), because the
    forests are otherwise only reached inside scikit-learn's own `predict_proba`. Anything else, or
    input that is not a numpy array, is scikit-learn's `predict_proba`.
    """
    if isinstance(model, RandomForestClassifier):
        return forest_proba(model, X)
    if not (_fast_calibrated(model) and isinstance(X, np.ndarray) and X.ndim == 2):
        return np.asarray(model.predict_proba(X))
    check_is_fitted(model)
    mean = np.zeros((X.shape[0], model.classes_.shape[0]))
    for cc in model.calibrated_classifiers_:
        mean += _calibrated_one(cc, X)
    mean /= len(model.calibrated_classifiers_)
    return mean
