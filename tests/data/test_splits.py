"""Time-series splits: properties that make scores honest, checked over random shapes with hypothesis.

Walk-forward: every training row precedes every test row by more than purge + embargo rows, no
training label reaches into the test window, and the test windows tile the rows after the first
training span. Purged k-fold: folds partition the rows, training never overlaps the test fold,
rows just before the fold are purged (by count and by label end), rows just after are embargoed.
For both: no training row's label window touches a test window or the embargo after it, and the
splitters work where scikit-learn takes a `cv=`.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from paiid.data import PurgedKFold, PurgedWalkForward, chronological_split
from paiid.data.splits import calibration_cv, embargo_rows, label_end_rows, label_end_within
from paiid.errors import NotEnoughHistory


def label_ends(n: int, horizon: int) -> np.ndarray:
    """Row i's label looks `horizon` bars ahead (capped at the last row)."""
    return np.minimum(np.arange(n) + horizon, n - 1)


def folds(cv: PurgedWalkForward | PurgedKFold, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(cv.split(np.zeros((n, 1))))


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(20, 3000),
    n_splits=st.integers(1, 8),
    purge=st.integers(0, 15),
    embargo=st.integers(0, 15),
    horizon=st.one_of(st.none(), st.integers(0, 30)),
    explicit_test=st.booleans(),
)
def test_walk_forward_trains_strictly_before_its_test(
    n: int, n_splits: int, purge: int, embargo: int, horizon: int | None, explicit_test: bool
) -> None:
    label_end = None if horizon is None else label_ends(n, horizon)
    test_size = max(1, n // (3 * n_splits)) if explicit_test else None
    cv = PurgedWalkForward(n_splits, purge=purge, embargo=embargo, label_end=label_end, test_size=test_size)
    try:
        splits = folds(cv, n)
    except NotEnoughHistory:
        assume(False)
        return
    assert cv.get_n_splits(np.zeros(n)) == len(splits) and cv.get_n_splits() == n_splits
    min_train = n // (n_splits + 1)
    if not splits:  # only possible when label purging emptied every training span
        assert label_end is not None and label_end[0] >= min_train
        return
    for train, test in splits:
        assert len(train) and len(test)
        assert train.max() < test.min() - purge - embargo
        if label_end is not None:
            assert label_end[train].max() < test.min()
        assert np.all(np.diff(train) == 1) and np.all(np.diff(test) == 1)  # contiguous spans
        assert train[0] == 0  # expanding
        if test_size is not None:
            assert len(test) == test_size
    tests = np.concatenate([test for _, test in splits])
    assert np.all(np.diff(tests) == 1)  # consecutive, disjoint windows in time order
    assert tests[0] >= min_train  # windows whose training rows were all purged are skipped
    if label_end is None:
        assert tests[0] == min_train
    if test_size is None:
        assert tests[-1] == n - 1  # with a computed size the windows reach the last row


def test_walk_forward_exact_layout() -> None:
    # 100 rows, 4 splits: 20 rows of first training span, windows of 20; the purge of 3 and the
    # embargo of 2 remove the 5 rows just before each window.
    splits = folds(PurgedWalkForward(4, purge=3, embargo=2), 100)
    assert [(test[0], test[-1]) for _, test in splits] == [(20, 39), (40, 59), (60, 79), (80, 99)]
    assert [train[-1] for train, _ in splits] == [14, 34, 54, 74]
    # a share as min_train: the first third of the rows
    assert folds(PurgedWalkForward(2, min_train=1 / 3), 90)[0][1][0] == 30


def test_walk_forward_purges_by_label_end() -> None:
    # Labels looking 10 bars ahead: the last training row must be test_start - 11.
    for train, test in folds(PurgedWalkForward(3, label_end=label_ends(200, 10)), 200):
        assert train[-1] == test[0] - 11


def test_walk_forward_rejects_too_little_data() -> None:
    with pytest.raises(NotEnoughHistory):
        folds(PurgedWalkForward(5, purge=5), 10)
    with pytest.raises(ValueError, match="label_end has shape"):
        folds(PurgedWalkForward(label_end=np.arange(50)), 100)
    with pytest.raises(ValueError, match="share in"):
        folds(PurgedWalkForward(min_train=1.5), 100)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(10, 3000),
    n_splits=st.integers(2, 10),
    purge=st.integers(0, 15),
    embargo=st.integers(0, 15),
    horizon=st.one_of(st.none(), st.integers(0, 30)),
)
def test_purged_kfold_purges_and_embargoes(
    n: int, n_splits: int, purge: int, embargo: int, horizon: int | None
) -> None:
    assume(n >= 2 * n_splits)
    label_end = None if horizon is None else label_ends(n, horizon)
    splits = folds(PurgedKFold(n_splits, label_end=label_end, purge=purge, embargo=embargo), n)
    bounds = np.linspace(0, n, n_splits + 1).astype(int)
    tests = [test for _, test in splits]
    # the folds are the contiguous blocks in order, less those whose training rows were all purged
    expected = [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    if len(splits) == n_splits:
        np.testing.assert_array_equal(np.concatenate(tests), np.arange(n))  # a partition of the rows
    assert all(any(np.array_equal(t, e) for e in expected) for t in tests)
    for train, test in splits:
        a, b = test[0], test[-1] + 1
        assert not np.intersect1d(train, test).size
        before, after = train[train < a], train[train >= b]
        assert len(before) + len(after) == len(train)
        if len(before):
            assert before.max() < a - purge
            if label_end is not None:
                assert label_end[before].max() < a
        if len(after):
            assert after.min() >= b + embargo
        # Nothing is dropped beyond what purge, label end and embargo require.
        allowed_before = [i for i in range(max(0, a - purge)) if label_end is None or label_end[i] < a]
        np.testing.assert_array_equal(before, allowed_before)
        np.testing.assert_array_equal(after, np.arange(min(n, b + embargo), n))
    # and a block is skipped only when purge, label end and embargo leave it no training rows
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if not any(t[0] == a for t in tests):
            assert all(label_end is not None and label_end[i] >= a for i in range(max(0, a - purge)))
            assert b + embargo >= n


def test_purged_kfold_rejects_degenerate_requests() -> None:
    with pytest.raises(ValueError, match="n_splits >= 2"):
        folds(PurgedKFold(1), 100)
    with pytest.raises(NotEnoughHistory):
        folds(PurgedKFold(5), 5)


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    n=st.integers(30, 600),
    n_splits=st.integers(2, 6),
    purge=st.integers(0, 10),
    embargo=st.integers(0, 10),
    kfold=st.booleans(),
)
def test_no_training_label_window_touches_a_test_window_or_its_embargo(
    data: st.DataObject, n: int, n_splits: int, purge: int, embargo: int, kfold: bool
) -> None:
    # Irregular label windows, as real ones are: row i's label ends anywhere from i to i + 40.
    label_end = np.minimum(np.arange(n) + np.array(data.draw(st.lists(
        st.integers(0, 40), min_size=n, max_size=n))), n - 1)
    kw = {"purge": purge, "embargo": embargo, "label_end": label_end}
    cv = PurgedKFold(n_splits, **kw) if kfold else PurgedWalkForward(n_splits, **kw)
    try:
        splits = folds(cv, n)
    except NotEnoughHistory:
        assume(False)
        return
    for train, test in splits:
        lo, hi = test[0], test[-1] + embargo  # the test window and the embargo after it
        overlaps = (train <= hi) & (label_end[train] >= lo)  # [i, label_end[i]] meets [lo, hi]
        assert not overlaps.any()


def test_splitter_is_a_cv_for_cross_val_predict_and_calibrated_classifier() -> None:
    rng = np.random.default_rng(0)
    n = 400
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    label_end = label_ends(n, 5)
    # cross_val_predict needs folds that partition the rows: the k-fold variant, purged.
    kfold = PurgedKFold(4, label_end=label_end, embargo=5)
    oof = cross_val_predict(LogisticRegression(), X, y, cv=kfold, method="predict_proba")
    for train, test in kfold.split(X):
        manual = LogisticRegression().fit(X[train], y[train]).predict_proba(X[test])
        np.testing.assert_allclose(oof[test], manual)
    # CalibratedClassifierCV fits one calibrated copy per walk-forward fold, on exactly those rows.
    wf = PurgedWalkForward(3, label_end=label_end, embargo=5)
    cal = CalibratedClassifierCV(LogisticRegression(), cv=wf).fit(X, y)
    by_hand = CalibratedClassifierCV(LogisticRegression(), cv=list(wf.split(X, y))).fit(X, y)
    assert len(cal.calibrated_classifiers_) == wf.get_n_splits(X, y) == 3
    np.testing.assert_allclose(cal.predict_proba(X), by_hand.predict_proba(X))


def test_folds_a_classifier_cannot_use_are_skipped() -> None:
    # The first training span holds one class only: fitting a classifier there fails, so with
    # min_classes=2 that fold is skipped and CalibratedClassifierCV fits on the others.
    n = 300
    X = np.arange(n, dtype=float)[:, None]
    y = np.r_[np.zeros(100, int), np.tile([0, 1], 100)]
    cv = PurgedWalkForward(4, min_train=60, min_classes=2)
    assert len(folds(cv, n)) == 4  # without y nothing is known about classes
    kept = list(cv.split(X, y))
    assert [train[-1] for train, _ in kept] == [119, 179, 239]  # the window at row 60 is skipped
    assert cv.get_n_splits(X, y) == 3
    with pytest.raises(ValueError):  # what the skip prevents
        CalibratedClassifierCV(LogisticRegression(), cv=PurgedWalkForward(4, min_train=60)).fit(X, y)
    assert len(CalibratedClassifierCV(LogisticRegression(), cv=cv).fit(X, y).calibrated_classifiers_) == 3
    # min_test_classes: test windows with a single outcome are skipped too (only [60, 120) is mixed)
    y_test_one = np.r_[np.tile([0, 1], 60), np.ones(180, int)]
    kept = list(PurgedWalkForward(4, min_train=60, min_test_classes=2).split(X, y_test_one))
    assert [test[0] for _, test in kept] == [60]


def test_calibration_folds_shrink_with_the_data() -> None:
    # 60 rows per fold at least, the first half training, the embargo at most a tenth of the rows.
    assert calibration_cv(150, None, 5, 5).get_n_splits(np.zeros(150)) == 2
    (train, test), = calibration_cv(100, None, 50, 5).split(np.zeros(100))
    np.testing.assert_array_equal(test, np.arange(50, 100))
    assert train[-1] == 50 - 1 - 10


@settings(max_examples=200, deadline=None)
@given(horizon=st.integers(1, 60), rows=st.integers(1, 10**6), bars=st.integers(1, 10**6))
def test_embargo_rows_is_the_exact_ceiling(horizon: int, rows: int, bars: int) -> None:
    assert embargo_rows(horizon, rows, bars) == math.ceil(Fraction(horizon * rows, bars))


def test_embargo_rows_is_not_pushed_up_by_float_rounding() -> None:
    # 29 rows every 7 bars over a 7-bar horizon: 29 rows, not 30
    assert math.ceil(29 / 7 * 7) == 30  # the float product (29.000000000000004) a naive ceiling sees
    assert embargo_rows(7, 29, 7) == 29


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 30)), min_size=1, max_size=80))
def test_label_end_rows_and_their_renumbering_within_a_fold(events: list[tuple[int, int]]) -> None:
    events.sort()
    start = np.array([t for t, _ in events])
    end = start + np.array([h for _, h in events])
    le = label_end_rows(start, end)
    n = len(start)
    for i in range(n):
        decided = np.flatnonzero(start <= end[i])  # rows decided at or before row i's label end
        assert le[i] == max(i, decided.max())
    rows = np.arange(0, n, 2)  # a fold's training rows
    rel = label_end_within(le, rows)
    for j, r in enumerate(rows):
        reach = min(le[r], rows[-1])
        assert rows[rel[j]] <= reach and (rel[j] == len(rows) - 1 or rows[rel[j] + 1] > reach)


def test_chronological_split() -> None:
    s = chronological_split(100, test_size=0.2, purge=5)
    np.testing.assert_array_equal(s.test, np.arange(80, 100))
    np.testing.assert_array_equal(s.train, np.arange(0, 75))
    with pytest.raises(NotEnoughHistory):
        chronological_split(5, test_size=0.8, purge=2)
