"""PurgedGroupWalkForward: walk-forward in time with whole groups held out, checked with hypothesis.

Pooled panel rows (several groups per decision date, sorted by date) with labels looking `horizon`
dates ahead: no test group appears in its fold's training rows, every training row is decided
strictly before every test row, no training label reaches the test window (purge by label end and
by row count), and every (time window, group fold) that has rows on both sides is yielded.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from paiid.data.splits import PurgedGroupWalkForward, PurgedWalkForward, label_end_rows
from paiid.errors import NotEnoughHistory


def panel(n_dates: int, n_groups: int, horizon: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of a pooled panel sorted by decision date: (date, group, label_end). Each group has a
    random subset of the dates (symbols start and stop at different times)."""
    rng = np.random.default_rng(seed)
    dates, groups = [], []
    for g in range(n_groups):
        have = rng.random(n_dates) < rng.uniform(0.5, 1.0)
        d = np.flatnonzero(have)
        dates.append(d)
        groups.append(np.full(len(d), g))
    date = np.concatenate(dates)
    group = np.concatenate(groups)
    order = np.lexsort((group, date))
    date, group = date[order], group[order]
    return date, group, label_end_rows(date, date + horizon)


@settings(max_examples=120, deadline=None)
@given(
    n_dates=st.integers(30, 400),
    n_groups=st.integers(2, 9),
    n_splits=st.integers(1, 6),
    n_group_folds=st.integers(2, 5),
    horizon=st.integers(1, 12),
    purge=st.integers(0, 10),
    embargo=st.integers(0, 10),
    seed=st.one_of(st.none(), st.integers(0, 1000)),
    data_seed=st.integers(0, 10_000),
)
def test_group_walk_forward_holds_out_groups_and_time(
    n_dates: int, n_groups: int, n_splits: int, n_group_folds: int, horizon: int, purge: int,
    embargo: int, seed: int | None, data_seed: int,
) -> None:
    date, group, label_end = panel(n_dates, n_groups, horizon, data_seed)
    n = len(date)
    X = np.zeros((n, 1))
    cv = PurgedGroupWalkForward(n_splits, n_group_folds=n_group_folds, seed=seed, purge=purge,
                                embargo=embargo, label_end=label_end)
    plain = PurgedWalkForward(n_splits, purge=purge, embargo=embargo, label_end=label_end)
    try:
        splits = list(cv.split(X, groups=group))
        windows = list(plain.split(X))
    except NotEnoughHistory:
        assume(False)
        return
    fold = cv.group_folds(group)
    # the folds deal every group to exactly one fold, and the seed only permutes them
    for g in np.unique(group):
        assert len(np.unique(fold[group == g])) == 1
    per_fold = np.bincount(fold[np.unique(group, return_index=True)[1]], minlength=n_group_folds)
    assert per_fold.max() - per_fold.min() <= 1  # dealt out evenly, seeded or not
    expected = []
    for train, test in windows:
        for f in range(n_group_folds):
            t, tr = test[fold[test] == f], train[fold[train] != f]
            if len(t) and len(tr):
                expected.append((tr, t))
    assert len(splits) == len(expected)  # every (window, group fold) with rows on both sides
    for (train, test), (e_train, e_test) in zip(splits, expected, strict=True):
        assert np.array_equal(train, e_train) and np.array_equal(test, e_test)
        assert not set(group[test]) & set(group[train])  # a held-out group is never trained on
        assert date[train].max() < date[test].min()  # strictly before in time, across groups too
        assert label_end[train].max() < test.min()  # no training label reaches the test window
        assert train.max() < test.min() - purge - embargo  # the row purge and embargo hold
    # covered: every test row of every window lands in exactly one group fold's test
    for train, test in windows:
        got = [t for tr, t in splits if len(t) and test[0] <= t[0] and t[-1] <= test[-1]]
        covered = np.sort(np.concatenate(got)) if got else np.array([], dtype=int)
        missing = np.setdiff1d(test, covered)
        # only rows of a fold whose training side was empty (all its groups' other rows) may be missing
        for f in np.unique(fold[missing]):
            assert not len(train[fold[train] != f])


def test_round_robin_without_seed_and_permuted_with_one() -> None:
    groups = np.array(["MSFT", "AAPL", "KO", "GE", "AAPL", "XOM"])
    cv = PurgedGroupWalkForward(2, n_group_folds=2)
    # sorted unique: AAPL, GE, KO, MSFT, XOM -> folds 0, 1, 0, 1, 0
    assert cv.group_folds(groups).tolist() == [1, 0, 0, 1, 0, 0]
    seeded = PurgedGroupWalkForward(2, n_group_folds=2, seed=3).group_folds(groups)
    assert seeded[1] == seeded[4]  # one symbol, one fold
    assert np.bincount(seeded[[1, 3, 2, 0, 5]], minlength=2).tolist() in ([3, 2], [2, 3])


def test_groups_are_required_and_min_classes_skip() -> None:
    X = np.zeros((60, 1))
    with pytest.raises(ValueError, match="groups"):
        list(PurgedGroupWalkForward(2).split(X))
    with pytest.raises(ValueError, match="groups"):
        list(PurgedGroupWalkForward(2).split(X, groups=np.zeros(59)))
    groups = np.arange(60) % 4
    y = (groups == 0).astype(int)  # class 1 only in group 0
    cv = PurgedGroupWalkForward(2, n_group_folds=4, min_classes=2)
    splits = list(cv.split(X, y, groups))
    # the fold holding out group 0 trains on class 0 only: skipped; the other three are kept per window
    assert len(splits) == 2 * 3
    assert all(0 in groups[train] for train, _ in splits)
    assert cv.get_n_splits() == 8 and cv.get_n_splits(X, y, groups) == 6
