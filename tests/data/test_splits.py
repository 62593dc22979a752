"""Time-series splits: properties that make scores honest, checked over random shapes with hypothesis.

Walk-forward: every training row precedes every test row by more than purge + embargo rows, no
training label reaches into the test window, and the test windows tile the rows after the first
training span. Purged k-fold: folds partition the rows, training never overlaps the test fold,
rows just before the fold are purged (by count and by label end), rows just after are embargoed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from paiid.data import chronological_split, purged_kfold, walk_forward
from paiid.errors import NotEnoughHistory


def label_ends(n: int, horizon: int) -> np.ndarray:
    """Row i's label looks `horizon` bars ahead (capped at the last row)."""
    return np.minimum(np.arange(n) + horizon, n - 1)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(20, 3000),
    n_splits=st.integers(1, 8),
    purge=st.integers(0, 15),
    embargo=st.integers(0, 15),
    horizon=st.one_of(st.none(), st.integers(0, 30)),
    expanding=st.booleans(),
    explicit_test=st.booleans(),
)
def test_walk_forward_trains_strictly_before_its_test(
    n: int, n_splits: int, purge: int, embargo: int, horizon: int | None, expanding: bool, explicit_test: bool
) -> None:
    label_end = None if horizon is None else label_ends(n, horizon)
    test_size = max(1, n // (3 * n_splits)) if explicit_test else None
    try:
        splits = walk_forward(n, n_splits=n_splits, purge=purge, embargo=embargo, label_end=label_end,
                              expanding=expanding, test_size=test_size)
    except NotEnoughHistory:
        assume(False)
        return
    min_train = n // (n_splits + 1)
    if not splits:  # only possible when label purging emptied every training span
        assert label_end is not None and label_end[0] >= min_train
        return
    for s in splits:
        assert len(s.train) and len(s.test)
        assert s.train.max() < s.test.min() - purge - embargo
        if label_end is not None:
            assert label_end[s.train].max() < s.test.min()
        assert np.all(np.diff(s.train) == 1) and np.all(np.diff(s.test) == 1)  # contiguous spans
        if expanding:
            assert s.train[0] == 0
        else:
            assert len(s.train) <= min_train
        if test_size is not None:
            assert len(s.test) == test_size
    tests = np.concatenate([s.test for s in splits])
    assert np.all(np.diff(tests) == 1)  # consecutive, disjoint windows in time order
    assert tests[0] >= min_train  # windows whose training rows were all purged are skipped
    if label_end is None:
        assert tests[0] == min_train
    if test_size is None:
        assert tests[-1] == n - 1  # with a computed size the windows reach the last row


def test_walk_forward_exact_layout() -> None:
    # 100 rows, 4 splits: 20 rows of first training span, windows of 20; the purge of 3 and the
    # embargo of 2 remove the 5 rows just before each window.
    splits = walk_forward(100, n_splits=4, purge=3, embargo=2)
    assert [(s.test[0], s.test[-1]) for s in splits] == [(20, 39), (40, 59), (60, 79), (80, 99)]
    assert [s.train[-1] for s in splits] == [14, 34, 54, 74]


def test_walk_forward_purges_by_label_end() -> None:
    # Labels looking 10 bars ahead: the last training row must be test_start - 11.
    splits = walk_forward(200, n_splits=3, label_end=label_ends(200, 10))
    for s in splits:
        assert s.train[-1] == s.test[0] - 11


def test_walk_forward_rejects_too_little_data() -> None:
    with pytest.raises(NotEnoughHistory):
        walk_forward(10, n_splits=5, purge=5)
    with pytest.raises(ValueError, match="label_end has shape"):
        walk_forward(100, label_end=np.arange(50))


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
    folds = purged_kfold(n, n_splits=n_splits, label_end=label_end, purge=purge, embargo=embargo)
    assert len(folds) == n_splits
    tests = np.concatenate([f.test for f in folds])
    np.testing.assert_array_equal(tests, np.arange(n))  # the folds partition the rows in order
    for f in folds:
        a, b = f.test[0], f.test[-1] + 1
        assert not np.intersect1d(f.train, f.test).size
        before, after = f.train[f.train < a], f.train[f.train >= b]
        assert len(before) + len(after) == len(f.train)
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


def test_purged_kfold_rejects_degenerate_requests() -> None:
    with pytest.raises(ValueError, match="n_splits >= 2"):
        purged_kfold(100, n_splits=1)
    with pytest.raises(NotEnoughHistory):
        purged_kfold(5, n_splits=5)


def test_chronological_split() -> None:
    s = chronological_split(100, test_size=0.2, purge=5)
    np.testing.assert_array_equal(s.test, np.arange(80, 100))
    np.testing.assert_array_equal(s.train, np.arange(0, 75))
    with pytest.raises(NotEnoughHistory):
        chronological_split(5, test_size=0.8, purge=2)
