"""The trade model: a random forest shrunk toward the training base rate by a weight learned out of sample.

On the bundled daily symbols the forest shows no out-of-sample skill, the weight comes out 0 and the
served probability is the base rate: honest, and never worse than it (the earlier sigmoid-calibrated
forest was, Brier 0.2526 vs 0.2504).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.utils.validation import check_is_fitted

from paiid.data.splits import calibration_cv
from paiid.errors import BadInput, NotEnoughHistory
from paiid.ml.base import classifier_proba
from paiid.ml.context import TEMPLATES
from paiid.ml.tradeprob.dataset import TradeDataset
from paiid.ml.tradeprob.labels import HORIZON, PROFIT_ATR, STOP_ATR
from paiid.ml.tradeprob.validation import oos_scores, walk_forward_oos
from paiid.ml.typicality import Typicality


def blend_weight(p: np.ndarray, base: np.ndarray, y: np.ndarray, *, z: float = 0.0, block: int = 1) -> float:
    """Weight w in [0, 1] for `base + w * (p - base)` from out-of-sample rows (in time order).

    The Brier score of the blend is a quadratic in w, so its minimiser is the least-squares slope of
    (y - base) on (p - base). With a few hundred noisy events that slope is itself noisy, and a chance
    positive slope on the inner folds makes the blend *worse* than the base rate out of sample. So the
    slope is lowered by `z` standard errors before clipping to [0, 1] (a one-standard-error rule:
    keep the model only as far as the evidence for it goes). The standard error is a sandwich estimate
    over blocks of `block` consecutive rows, because overlapping triple-barrier labels make neighbouring
    residuals correlated. w = 0 means "no evidence of skill beyond the base rate". Without rows, or when
    the model never departs from the base rate, w = 0 (the safe answer).
    """
    d = np.asarray(p, np.float64) - np.asarray(base, np.float64)
    r = np.asarray(y, np.float64) - np.asarray(base, np.float64)
    den = float(d @ d)
    if d.size < 2 or den <= 1e-12:
        return 0.0
    w = float(d @ r) / den
    if z > 0:
        score = d * (r - w * d)
        block = int(min(max(block, 1), d.size))
        sums = np.add.reduceat(score, np.arange(0, d.size, block))
        w -= z * float(np.sqrt(sums @ sums)) / den
    return float(np.clip(w, 0.0, 1.0))


class TradeProbModel(ClassifierMixin, BaseEstimator):
    """P(profit barrier first) for a template entry, shrunk toward the training base rate by a weight
    learned out of sample; keeps the barrier settings it was trained with and the average outcome (in
    ATR units) of wins and non-wins for the expected return.

    Why the shrinkage: with a few hundred overlapping, noisy events a forest's probabilities can be
    worse than the plain base rate out of sample (it was: Brier 0.2526 vs 0.2504). The final answer is
    `w * forest + (1 - w) * base_rate`, with w fitted on purged walk-forward folds *inside* the training
    events (`blend_weight`, lowered by `shrink_se` standard errors), so a model without skill falls back
    to the base rate instead of adding noise, and one with clear skill keeps most of it. The forest's
    own probabilities are not sigmoid-calibrated first: a leaf size of `min_samples_leaf` already keeps
    them away from 0 and 1, and the blend is itself a (linear, regularised) recalibration.
    `calibration="sigmoid"` restores the earlier sigmoid-calibrated forest without shrinkage (kept for
    comparison).

    With `validation_splits` > 0, `fit` also scores the same recipe on that many purged walk-forward
    folds of its events, like a forest's out-of-bag score: the per-event results go to `cv_results_`
    (what the trainer reports) and the headline scores to `validation_` (what the answer shows), so
    the served model carries the evidence for its own probabilities. Everything learned is set in
    `fit`, anew on every call.

    Point in time: `fit` sees only events whose label resolved within the loaded bars (the dataset
    drops the rest), so `base_rate_` is the win rate of `n_events_` resolved events, the last of them
    resolved on `resolved_through_` (from `exit_dates`, when given). `typicality_` is fitted on the
    training rows, so an answer can say when its inputs are outside them (`paiid.ml.typicality`).
    """

    #: Bump whenever the learned state changes shape: the registry refuses files saved with another.
    #: 2: typicality_, n_events_, resolved_through_; validation_ with the skill interval.
    STATE_VERSION: ClassVar[int] = 2

    def __init__(
        self,
        n_estimators: int = 300,
        min_samples_leaf: int = 10,
        max_features: Any = "sqrt",
        calib_splits: int = 5,
        calibration: str = "blend",
        shrink_se: float = 1.0,
        validation_splits: int = 0,
        random_state: int = 0,
        horizon: int = HORIZON,
        profit_atr: float = PROFIT_ATR,
        stop_atr: float = STOP_ATR,
        templates: Sequence[str] | None = None,
        feature_names: Sequence[str] | None = None,
    ):
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.calib_splits = calib_splits
        self.calibration = calibration
        self.shrink_se = shrink_se
        self.validation_splits = validation_splits
        self.random_state = random_state
        self.horizon = horizon
        self.profit_atr = profit_atr
        self.stop_atr = stop_atr
        self.templates = templates
        self.feature_names = feature_names

    def _forest(self) -> RandomForestClassifier:
        return RandomForestClassifier(
            n_estimators=self.n_estimators,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            n_jobs=1,
            random_state=self.random_state,
        )

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        label_end: np.ndarray | None = None,
        embargo: int = 0,
        ret_atr: np.ndarray | None = None,
        exit_dates: np.ndarray | None = None,
    ) -> TradeProbModel:
        """Fit the forest and its shrinkage weight (or sigmoid calibration) on purged walk-forward
        folds of these events only (rows in time order; `label_end[i]`: the last row decided on or
        before row i's exit); `ret_atr` gives the outcome sizes, `exit_dates` the dates the labels
        resolved (for the answer's "N resolved events up to D")."""
        if self.calibration not in ("blend", "sigmoid"):
            raise BadInput(f"unknown calibration {self.calibration!r}; valid: blend, sigmoid")
        X = np.asarray(X, np.float64)
        y = np.asarray(y, np.int64)
        if len(np.unique(y)) < 2:
            raise NotEnoughHistory("the trade-probability model (both wins and losses)", 2, len(np.unique(y)))
        self.templates_ = list(self.templates or TEMPLATES)
        self.feature_names_ = list(self.feature_names or [f"x{i}" for i in range(X.shape[1])])
        self.classes_ = np.array([0, 1])
        self.base_rate_ = float(y.mean())
        self.n_events_ = int(y.size)
        self.resolved_through_ = (
            None if exit_dates is None or not len(exit_dates)
            else str(np.max(np.asarray(exit_dates, "datetime64[ns]")))[:10]
        )
        self.typicality_ = Typicality(seed=int(self.random_state)).fit(X)
        sigmoid = self.calibration == "sigmoid"  # a sigmoid needs both outcomes to calibrate on too
        cv = calibration_cv(len(y), label_end, embargo, self.calib_splits, min_classes=2,
                            min_test_classes=2 if sigmoid else 1)
        if sigmoid:
            self.model_ = (
                CalibratedClassifierCV(self._forest(), method="sigmoid", cv=cv, ensemble=True)
                if cv.get_n_splits(X, y)
                else self._forest()
            )
            self.model_.fit(X, y)
            self.blend_weight_ = 1.0
            self.blend_events_ = 0
        else:
            # out-of-sample forest probabilities on the inner folds -> the shrinkage weight
            p_in, b_in, y_in = [], [], []
            for tr, te in cv.split(X, y):
                inner = self._forest().fit(X[tr], y[tr])
                p_in.append(inner.predict_proba(X[te])[:, 1])
                b_in.append(np.full(len(te), y[tr].mean()))
                y_in.append(y[te])
            cat = [np.concatenate(a) if a else np.zeros(0) for a in (p_in, b_in, y_in)]
            self.blend_weight_ = blend_weight(*cat, z=float(self.shrink_se), block=max(1, int(embargo)))
            self.blend_events_ = int(cat[2].size)
            self.model_ = self._forest().fit(X, y)
        self.n_features_in_ = X.shape[1]
        ra = np.asarray(
            ret_atr if ret_atr is not None else np.where(y == 1, self.profit_atr, -self.stop_atr), np.float64
        )
        self.win_ret_atr_ = float(ra[y == 1].mean()) if (y == 1).any() else float(self.profit_atr)
        self.loss_ret_atr_ = float(ra[y == 0].mean()) if (y == 0).any() else -float(self.stop_atr)
        calibrated = isinstance(self.model_, CalibratedClassifierCV)
        ests = [c.estimator for c in self.model_.calibrated_classifiers_] if calibrated else [self.model_]
        imp = np.mean([e.feature_importances_ for e in ests], axis=0)
        self.feature_importances_ = imp / (imp.sum() or 1.0)
        if self.validation_splits:
            self.cv_results_ = walk_forward_oos(
                lambda: clone(self).set_params(validation_splits=0),
                X, y, label_end, embargo, ret_atr, n_splits=int(self.validation_splits),
            )
            scores = oos_scores(self.cv_results_, block=max(1, int(embargo)))
            self.validation_ = {**scores, "blend_weight": self.blend_weight_}
        else:
            self.cv_results_ = None
            self.validation_ = None
        return self

    def forest_proba(self, X: np.ndarray) -> np.ndarray:
        """P(win) of the forest (or the sigmoid-calibrated forest) before shrinkage: its ranking is
        what the out-of-sample AUC of the model itself measures, even when the blend weight is 0.
        (scikit-learn's numbers through `paiid.ml.base.classifier_proba`, without its per-tree dispatch.)"""
        check_is_fitted(self)
        return np.asarray(classifier_proba(self.model_, np.asarray(X, np.float64)), np.float64)[:, 1]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = self.forest_proba(X)
        w = self.blend_weight_
        p = w * p + (1.0 - w) * self.base_rate_
        return np.column_stack([1.0 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)


def model_for(ds: TradeDataset, *, n_estimators: int, seed: int) -> TradeProbModel:
    """An unfitted model shaped for dataset `ds`: the one recipe the trainer and `paiid evaluate` share,
    so what is scored is what is served."""
    return TradeProbModel(n_estimators=n_estimators, random_state=seed, templates=ds.templates,
                          feature_names=ds.feature_names, horizon=ds.horizon)

