"""`paiid.ml.base.forest_proba` / `classifier_proba`: scikit-learn's probabilities bit for bit, without
its per-tree joblib dispatch.

Exact equality (`np.array_equal`), never a tolerance: the served numbers must not move by one ulp.
Checked on a forest of several classes in which some trees' bootstrap draws missed a class, on
calibrated forests (multiclass and binary), and on a selector and a trade model fitted on real bars
with their own recipes, before and after a round trip through the registry's model files.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier

from paiid.data import load_bars
from paiid.ml.base import classifier_proba, forest_proba
from paiid.ml.selector import build_dataset, recommend_answer
from paiid.ml.selector.model import selector_for
from paiid.ml.tradeprob import build_trade_dataset
from paiid.ml.tradeprob.model import model_for


def _rare_class_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four classes, one of them only 3 rows of 400: many bootstrap draws miss it."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 6))
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0.5).astype(int)
    y[y == 3] = 2
    y[[5, 50, 300]] = 3
    return X, y


def test_forest_with_a_class_missing_from_some_trees_matches_sklearn_exactly() -> None:
    X, y = _rare_class_data()
    forest = RandomForestClassifier(n_estimators=60, min_samples_leaf=2, n_jobs=1, random_state=1).fit(X, y)
    rare = [t for t in forest.estimators_ if not t.tree_.value[:, 0, 3].any()]
    assert rare and len(rare) < len(forest.estimators_)  # the case this test is about really occurs
    Q = np.random.default_rng(2).normal(size=(41, 6))
    Q[3, 2] = np.nan  # a missing value takes the trees' learned missing-value branch in both
    for rows in (Q, Q[:1], Q[7:8], X[:200]):
        got = forest_proba(forest, rows)
        assert got.dtype == np.float64 and got.shape == (len(rows), 4)
        assert np.array_equal(got, forest.predict_proba(rows))
    assert not np.array_equal(forest_proba(forest, Q[:1]), forest_proba(forest, Q[1:2]))


def test_string_classes_and_class_weights_match_sklearn_exactly() -> None:
    X, y = _rare_class_data(3)
    labels = np.array(["bear", "bull", "flat", "spike"])[y]
    forest = RandomForestClassifier(n_estimators=25, class_weight="balanced", n_jobs=1, random_state=0)
    forest.fit(X, labels)
    assert np.array_equal(forest_proba(forest, X[:50]), forest.predict_proba(X[:50]))


def test_other_shapes_fall_back_to_sklearn() -> None:
    """More jobs (additions in no fixed order) and several outputs are scikit-learn's own answer."""
    X, y = _rare_class_data(4)
    multi = RandomForestClassifier(n_estimators=10, n_jobs=1, random_state=0).fit(X, np.c_[y, y % 2])
    got = forest_proba(multi, X[:5])
    want = multi.predict_proba(X[:5])
    assert len(got) == len(want) == 2 and all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
    parallel = RandomForestClassifier(n_estimators=10, n_jobs=2, random_state=0).fit(X, y)
    got = forest_proba(parallel, X[:5])
    np.testing.assert_allclose(got, parallel.predict_proba(X[:5]), rtol=0, atol=1e-15)


@pytest.mark.parametrize("binary", [False, True])
def test_calibrated_forests_match_sklearn_exactly(binary: bool) -> None:
    X, y = _rare_class_data(5)
    if binary:
        y = (y > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=30, min_samples_leaf=3, n_jobs=1, random_state=0)
    cal = CalibratedClassifierCV(forest, method="sigmoid", cv=3, ensemble=True).fit(X, y)
    Q = np.random.default_rng(6).normal(size=(41, 6))
    for rows in (Q, Q[:1], X):
        got = classifier_proba(cal, rows)
        assert np.array_equal(got, cal.predict_proba(rows))
    assert np.array_equal(classifier_proba(forest.fit(X, y), Q), forest.predict_proba(Q))


@pytest.fixture(scope="module")
def spx():
    return load_bars("SPX")


def _registry_round_trip(name: str, model):
    from paiid.engine import registry

    registry.save(name, model, {"features": model.feature_names_})
    return registry.load(name)[0]


def test_a_selector_fitted_on_real_bars_serves_sklearn_numbers_exactly(spx) -> None:
    ds = build_dataset({"SPX": spx}, progress=False)
    model = selector_for(ds, kind="rf", n_estimators=60, seed=0).fit(
        ds.X, ds.y, label_end=ds.label_end_rows, embargo=ds.embargo_rows())
    assert isinstance(model.model_, CalibratedClassifierCV) and len(model.model_.calibrated_classifiers_) > 1
    loaded = _registry_round_trip("selector", model)
    for m in (model, loaded):
        want = m.model_.predict_proba(ds.X)  # scikit-learn's own path on every real decision row
        assert np.array_equal(classifier_proba(m.model_, ds.X), want)
        s = want.sum(axis=1, keepdims=True)
        assert np.array_equal(m.predict_proba(ds.X), want / s)
    # the answer's one forest call: its first occlusion row is x itself, so its probabilities are
    # exactly those of predicting x alone
    for i in (0, len(ds) // 2, len(ds) - 1):
        x = ds.X[i]
        p, drivers = loaded.proba_and_drivers(x)
        assert np.array_equal(p, loaded.predict_proba(x[None, :])[0])
        assert drivers == loaded.drivers(x)
    bars = spx.loc[:"2016-06-30"]
    assert recommend_answer(loaded, None, bars, "SPX") == recommend_answer(model, None, bars, "SPX")


@pytest.mark.parametrize("calibration", ["blend", "sigmoid"])
def test_a_trade_model_fitted_on_real_bars_serves_sklearn_numbers_exactly(spx, calibration: str) -> None:
    ds = build_trade_dataset({"SPX": spx})
    model = model_for(ds, n_estimators=60, seed=0).set_params(calibration=calibration).fit(
        ds.X, ds.y, label_end=ds.label_end_rows, embargo=ds.embargo_rows(), ret_atr=ds.ret_atr)
    loaded = _registry_round_trip("tradeprob", model)
    for m in (model, loaded):
        want = m.model_.predict_proba(ds.X)[:, 1]
        assert np.array_equal(m.forest_proba(ds.X), want)
        assert np.array_equal(m.forest_proba(ds.X[-1:]), want[-1:])
        w = m.blend_weight_
        assert np.array_equal(m.predict_proba(ds.X)[:, 1], w * want + (1.0 - w) * m.base_rate_)
