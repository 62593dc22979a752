"""The strategy selector model: which of the four templates to follow over the next H bars, with odds.

Model: a Random Forest (``class_weight="balanced"``; ``kind="gb"`` swaps in histogram gradient boosting)
on the features of `paiid.ml.context.feature_matrix`. Class weighting makes the forest look at the
rarer winners (breakout) but distorts its probabilities, so the forest is wrapped in a sigmoid
calibration fitted on **walk-forward** folds of the training rows (train on the past, calibrate on the
later block, purged of overlapping labels) - never on shuffled folds, which would calibrate on
leaked, overlapping windows and make the odds look better than they are.

Each recommendation also carries what the recipe's *out-of-sample* history says about a template in
similar conditions: the trainer hands `fit` the walk-forward test rows (`OutOfSample`: features,
realised forward return and drawdown per template, and the headline scores), and a query looks at its
nearest neighbours among them (same regime when there are enough, distance weighted by feature
importance). Expected return is their mean forward return; the risk score (0-100) is where their mean
drawdown ranks among every drawdown in that history. `drivers` names the features that moved a
template's probability most (occlusion: reset one feature to its training median and see how much the
probability falls).

The model also keeps a `paiid.ml.typicality.Typicality` fitted on its training rows (`typicality_`): an
answer whose inputs are far from anything the model was trained on says so and lowers its confidence.
The neighbours' spread (`return_sd`) is kept beside their mean so that an answer can say whether any
template's expected return is credibly positive (`paiid.ml.selector.edge`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.utils.validation import check_is_fitted

from paiid.data.splits import calibration_cv
from paiid.errors import BadInput
from paiid.ml.base import classifier_proba
from paiid.ml.context import HORIZON, REGIME_FEATURES, REGIMES, TEMPLATES
from paiid.ml.selector.dataset import STEP, SelectorDataset
from paiid.ml.typicality import Typicality

#: Neighbours used for expected return and risk.
NEIGHBOURS = 50


@dataclass(frozen=True)
class OutOfSample:
    """What the purged walk-forward of the selector's recipe produced: its test rows (features, forward
    return and drawdown per template, regime label) and its headline scores. `fit` keeps them, so that
    every answer reads its expectations from rows no model of the recipe trained on."""

    X: np.ndarray
    fwd_return: np.ndarray
    fwd_drawdown: np.ndarray
    regime: np.ndarray
    scores: Mapping[str, Any] = field(default_factory=dict)


def _base_estimator(kind: str, n_estimators: int, min_samples_leaf: int, max_features: Any, seed: int) -> Any:
    if kind == "rf":
        return RandomForestClassifier(
            n_estimators=n_estimators,
            min_samples_leaf=min_samples_leaf,
            max_features=max_features,
            class_weight="balanced",
            n_jobs=1,
            random_state=seed,
        )
    if kind == "gb":
        return HistGradientBoostingClassifier(
            max_iter=n_estimators,
            learning_rate=0.05,
            max_depth=3,
            min_samples_leaf=max(min_samples_leaf, 20),
            class_weight="balanced",
            random_state=seed,
        )
    raise BadInput(f"unknown selector kind {kind!r}; use 'rf' (random forest) or 'gb' (gradient boosting)")


def _nearest(d: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k smallest `d`, ordered as `np.argsort(d, kind="stable")[:k]` orders them.

    Why not that argsort: the stand-aside rule queries every test row against ~15,000 rows, and a full
    sort per query dominated the panel evaluation. Candidates are the rows at or below the k-th
    smallest distance (ties included), sorted stably, so order and tie-breaking are exactly the full
    sort's and every mean over the neighbours is bit-identical.
    """
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    if k >= d.size:
        return np.argsort(d, kind="stable")
    kth = np.partition(d, k - 1)[k - 1]
    if np.isnan(kth):  # NaNs sort last: fewer than k finite distances, let the full sort place them
        return np.argsort(d, kind="stable")[:k]
    cand = np.flatnonzero(d <= kth)
    return cand[np.argsort(d[cand], kind="stable")[:k]]


class StrategySelector(ClassifierMixin, BaseEstimator):
    """Calibrated classifier over the templates plus the out-of-sample history used for expectations.

    `regime_source` says how the regime columns of X were made ("model": a trained regime model,
    "rules": `paiid.ml.context.rule_regime`), so that an answer rebuilds them the same way.
    Fitted state is numpy arrays, python scalars/lists and sklearn estimators only (skops-safe), and all
    of it is set by `fit`.
    """

    #: Bump whenever the learned state changes shape: the registry refuses files saved with another.
    STATE_VERSION: ClassVar[int] = 2  # 2: typicality_

    def __init__(
        self,
        kind: str = "rf",
        n_estimators: int = 300,
        min_samples_leaf: int = 5,
        max_features: Any = "sqrt",
        calibration: str = "sigmoid",
        calib_splits: int = 3,
        random_state: int = 0,
        templates: Sequence[str] | None = None,
        feature_names: Sequence[str] | None = None,
        horizon: int = HORIZON,
        step: int = STEP,
        regime_source: str = "rules",
    ):
        self.kind = kind
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.calibration = calibration
        self.calib_splits = calib_splits
        self.random_state = random_state
        self.templates = templates
        self.feature_names = feature_names
        self.horizon = horizon
        self.step = step
        self.regime_source = regime_source

    # ------------------------------------------------------------------------------------------ fit

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        label_end: np.ndarray | None = None,
        embargo: int = 0,
        oos: OutOfSample | None = None,
    ) -> StrategySelector:
        """Fit the calibrated model. `label_end` (row index each label reaches, rows in time order) lets
        the internal calibration folds purge overlapping labels; `embargo` adds a gap in rows. `oos` is
        the recipe's out-of-sample history; without it expectations are undefined (NaN)."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.int64)
        self.templates_ = list(self.templates or TEMPLATES)
        k = len(self.templates_)
        self.classes_ = np.arange(k)
        self.feature_names_ = list(self.feature_names or [f"x{i}" for i in range(X.shape[1])])
        base = _base_estimator(
            self.kind, self.n_estimators, self.min_samples_leaf, self.max_features, self.random_state
        )
        cv = calibration_cv(len(y), label_end, embargo, self.calib_splits, min_classes=2)
        if cv.get_n_splits(X, y) and self.calibration in ("sigmoid", "isotonic"):
            self.model_ = CalibratedClassifierCV(base, method=self.calibration, cv=cv, ensemble=True)
        else:  # too little data to calibrate honestly: the raw (balanced) forest
            self.model_ = base
        self.model_.fit(X, y)
        self.n_features_in_ = X.shape[1]
        self.median_ = np.nanmedian(X, axis=0)
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        self.quantiles_ = np.nanquantile(X, [0.1, 1 / 3, 0.5, 2 / 3, 0.9], axis=0)
        self.class_prior_ = np.bincount(y, minlength=k) / max(len(y), 1)
        self.feature_importances_ = self._importances()
        self.typicality_ = Typicality(seed=self.random_state).fit(X)
        if oos is None:
            oos = OutOfSample(np.zeros((0, X.shape[1])), np.zeros((0, k)), np.zeros((0, k)), np.zeros(0))
        self.hist_X_ = (np.asarray(oos.X, np.float64) - self.mean_) / self.scale_
        self.hist_return_ = np.asarray(oos.fwd_return, np.float64)
        self.hist_drawdown_ = np.asarray(oos.fwd_drawdown, np.float64)
        self.hist_regime_ = np.array([REGIMES.index(r) if r in REGIMES else -1 for r in oos.regime], np.int64)
        self.validation_ = dict(oos.scores)
        return self

    def _importances(self) -> np.ndarray:
        """Mean impurity importance over the calibrated forests (uniform for gradient boosting)."""
        ests = [c.estimator for c in getattr(self.model_, "calibrated_classifiers_", [])] or [self.model_]
        imps = [np.asarray(e.feature_importances_) for e in ests if hasattr(e, "feature_importances_")]
        if not imps:
            return np.full(self.n_features_in_, 1.0 / self.n_features_in_)
        imp = np.mean(imps, axis=0)
        return imp / (imp.sum() or 1.0)

    # -------------------------------------------------------------------------------------- predict

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability of each template being the best one; rows sum to 1. (scikit-learn's
        numbers through `paiid.ml.base.classifier_proba`, without its per-tree dispatch.)"""
        check_is_fitted(self)
        p = np.asarray(classifier_proba(self.model_, np.asarray(X, dtype=np.float64)), dtype=np.float64)
        if p.shape[1] != len(self.classes_):  # a class absent from training: give it zero
            full = np.zeros((p.shape[0], len(self.classes_)))
            full[:, np.asarray(self.model_.classes_, dtype=np.int64)] = p
            p = full
        p = np.clip(p, 0.0, None)
        s = p.sum(axis=1, keepdims=True)
        return np.where(s > 0, p / np.where(s > 0, s, 1.0), 1.0 / p.shape[1])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.argmax(self.predict_proba(X), axis=1)

    # ----------------------------------------------------------------------------------- expectations

    def expectations(self, x: np.ndarray, regime: str, k: int = NEIGHBOURS) -> dict[str, Any]:
        """Expected forward return, mean drawdown, win rate and risk score (0-100) per template from the
        out-of-sample rows most similar to `x` (same regime when at least k/2 such rows exist), and the
        spread of those rows' forward returns (`return_sd`, ddof=1) for the stand-aside rule."""
        check_is_fitted(self)
        n_t = len(self.templates_)
        if len(self.hist_return_) == 0:
            nan = np.full(n_t, np.nan)
            return {
                "expected_return": nan, "return_sd": nan, "drawdown": nan, "win_rate": nan,
                "risk_score": nan, "neighbours": 0,
            }
        z = (np.asarray(x, np.float64) - self.mean_) / self.scale_
        w = np.sqrt(self.feature_importances_)
        d = np.sqrt((((self.hist_X_ - z) * w) ** 2).sum(axis=1))
        code = REGIMES.index(regime) if regime in REGIMES else -1
        same = np.flatnonzero(self.hist_regime_ == code)
        pool = same if same.size >= k // 2 else np.arange(d.size)
        nn = pool[_nearest(d[pool], min(k, pool.size))]
        er = self.hist_return_[nn].mean(axis=0)
        dd = self.hist_drawdown_[nn].mean(axis=0)
        # share of all out-of-sample drawdowns at least as deep as `dd` (no sort: one comparison pass)
        all_dd = self.hist_drawdown_.ravel()
        deeper = np.where(np.isnan(dd), all_dd.size, (all_dd[None, :] >= dd[:, None]).sum(axis=1))
        risk = 100.0 * deeper / max(all_dd.size, 1)
        sd = self.hist_return_[nn].std(axis=0, ddof=1) if nn.size > 1 else np.full(n_t, np.nan)
        return {
            "expected_return": er,
            "return_sd": sd,
            "drawdown": dd,
            "win_rate": (self.hist_return_[nn] > 0).mean(axis=0),
            "risk_score": np.clip(risk, 0.0, 100.0),
            "neighbours": int(nn.size),
        }

    def drivers(self, x: np.ndarray, top: int = 3) -> list[list[tuple[str, float]]]:
        """Per template, the features whose value raised its probability most (occlusion against the
        training median; the regime columns are one group)."""
        return self.proba_and_drivers(x, top)[1]

    def proba_and_drivers(self, x: np.ndarray, top: int = 3
                          ) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        """(`predict_proba` of the one row `x`, `drivers(x, top)`) from one forest call.

        Why: the occlusion rows start with `x` itself, and a forest answers each row on its own (the
        same leaves, the same sums), so that first row is exactly `predict_proba(x[None, :])[0]`; an
        answer that wants both need not ask the forests twice.
        """
        check_is_fitted(self)
        x = np.asarray(x, np.float64)
        names = self.feature_names_
        groups: list[tuple[str, list[int]]] = []
        reg_idx = [i for i, nm in enumerate(names) if nm in REGIME_FEATURES]
        if reg_idx:
            groups.append(("regime", reg_idx))
        groups += [(nm, [i]) for i, nm in enumerate(names) if nm not in REGIME_FEATURES]
        rows = np.repeat(x[None, :], len(groups) + 1, axis=0)
        for g, (_, idx) in enumerate(groups, start=1):
            rows[g, idx] = self.median_[idx] if len(idx) == 1 else self.mean_[idx]
        p = self.predict_proba(rows)
        delta = p[0][None, :] - p[1:]  # > 0: this feature's value pushed the template up
        out = []
        for j in range(len(self.templates_)):
            order = np.argsort(-delta[:, j], kind="stable")
            out.append([(groups[g][0], float(delta[g, j])) for g in order[:top] if delta[g, j] > 0])
        return p[0], out


def selector_for(ds: SelectorDataset, *, kind: str, n_estimators: int, seed: int) -> StrategySelector:
    """An unfitted selector shaped for dataset `ds` (its templates, features, horizon, step and regime
    source): the one recipe the trainer and `paiid evaluate` share, so what is scored is what is served."""
    return StrategySelector(kind=kind, n_estimators=n_estimators, random_state=seed, templates=ds.templates,
                            feature_names=ds.feature_names, horizon=ds.horizon, step=ds.step,
                            regime_source=ds.regime_source)
