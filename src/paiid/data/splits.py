"""Time-series splits: the one place every score in paiid gets its train/test rows from.

A shuffled split leaks the future into training on time series, so there is none here. The two
splitters follow scikit-learn's protocol (`split(X, y, groups)`, `get_n_splits`), so the same object
drives paiid's own fold loops and can be handed to scikit-learn as `cv=` (`CalibratedClassifierCV`,
`cross_val_predict`, `GridSearchCV`). Both purge the same way (`_purge`): a training row is dropped
when its label window reaches the test window (`label_end[i]`: the last row row i's label looks at;
labels that look H bars ahead without `label_end` need `purge >= H`), and `embargo` rows after a test
window are kept out of training as a margin for serial correlation (López de Prado, ch. 7).

* `PurgedWalkForward` trains only on rows before each test window: what every reported score uses.
* `PurgedKFold` trains on both sides of each fold; its folds partition the rows, which
  `cross_val_predict` requires. Only for estimators whose scores do not depend on order.

`label_end_rows` and `embargo_rows` turn a dataset's label windows (dates) into those row counts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from paiid.errors import NotEnoughHistory


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    test: np.ndarray


def label_end_rows(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """For rows sorted by decision time `start`, the last row decided at or before each row's label
    end `end` (at least the row itself): the `label_end` the splitters purge by."""
    return np.maximum(np.searchsorted(start, end, side="right") - 1, np.arange(len(start)))


def embargo_rows(horizon: int, rows: int, bars: int) -> int:
    """Rows that `horizon` bars of time hold when `rows` rows are decided every `bars` bars, rounded up
    (in integers, so that a whole number of rows is not pushed one up by floating-point rounding)."""
    return -(-horizon * rows // bars)


def label_end_within(label_end: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`label_end` renumbered as positions within `rows` (sorted), capped at the last of them: what a
    model fitted on a fold's training rows needs to purge its own inner folds."""
    return np.searchsorted(rows, np.minimum(label_end[rows], rows[-1]), side="right") - 1


def _purge(train: np.ndarray, start: int, stop: int, label_end: np.ndarray | None, before: int,
           after: int) -> np.ndarray:
    """Training rows kept for the test window [start, stop): rows more than `before` rows ahead of it
    whose label ends before it, and rows at least `after` rows past its end."""
    keep = train < start - before
    if label_end is not None:
        keep &= label_end[train] < start
    return train[keep | (train >= stop + after)]


class _PurgedSplitter(ABC):
    """What both splitters share: label ends checked against X, purge and embargo, and folds that
    nothing can be fitted or calibrated on skipped (no training rows left after purging, or too few
    classes).

    scikit-learn takes any object with `split` and `get_n_splits` as `cv=`; not deriving from its
    `BaseCrossValidator` keeps scikit-learn out of `paiid.data`, which every command imports (about 1 s
    of start-up for `paiid data import`).

    `min_classes` / `min_test_classes`: folds whose training / test rows hold fewer distinct labels of
    `y` are skipped (a forest fitted on one class, or a sigmoid calibrated on one, has nothing to say).
    """

    def __init__(self, n_splits: int = 5, *, purge: int = 0, embargo: int = 0,
                 label_end: np.ndarray | None = None, min_classes: int = 1,
                 min_test_classes: int = 1) -> None:
        self.n_splits = n_splits
        self.purge = purge
        self.embargo = embargo
        self.label_end = label_end
        self.min_classes = min_classes
        self.min_test_classes = min_test_classes

    @abstractmethod
    def _folds(self, n: int, label_end: np.ndarray | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(train, test) per fold before the class checks; an empty train means "skip"."""

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(train, test) row positions per fold, in time order; `groups` is ignored."""
        n = len(X)
        label_end = None if self.label_end is None else np.asarray(self.label_end)
        if label_end is not None and label_end.shape != (n,):  # a caller's bug, not the user's input
            raise ValueError(f"label_end has shape {label_end.shape}, expected ({n},)")
        y = None if y is None else np.asarray(y)
        for train, test in self._folds(n, label_end):
            if not len(train):
                continue
            if y is not None and (len(np.unique(y[train])) < self.min_classes
                                  or len(np.unique(y[test])) < self.min_test_classes):
                continue
            yield train, test

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """The folds `split` yields for this data (fewer than `n_splits` when some are skipped);
        without X, the `n_splits` asked for."""
        if X is None:
            return self.n_splits
        return sum(1 for _ in self.split(X, y, groups))


class PurgedWalkForward(_PurgedSplitter):
    """Consecutive test windows after an initial training span; training rows always precede the test.

    `min_train`: rows of the first training span (a float in (0, 1): that share of the rows, at least
    one; default n // (n_splits + 1)). Without `test_size` the rows after it are shared out over the
    `n_splits` windows, the last taking what the division leaves over; an explicit `test_size` is
    honoured exactly (windows past the data are dropped). Training is expanding; with no training rows
    after a window, its `embargo` widens the gap before it, on top of `purge`. Windows left without
    training rows by `label_end` purging are skipped, so a split can yield fewer than `n_splits` folds,
    or none when labels look further ahead than the data allows: callers that report a score must check.
    """

    def __init__(self, n_splits: int = 5, *, min_train: float | None = None, test_size: int | None = None,
                 purge: int = 0, embargo: int = 0, label_end: np.ndarray | None = None,
                 min_classes: int = 1, min_test_classes: int = 1) -> None:
        super().__init__(n_splits, purge=purge, embargo=embargo, label_end=label_end,
                         min_classes=min_classes, min_test_classes=min_test_classes)
        self.min_train = min_train
        self.test_size = test_size

    def _folds(self, n: int, label_end: np.ndarray | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n_splits = self.n_splits
        if self.min_train is None:
            min_train = n // (n_splits + 1)
        elif isinstance(self.min_train, float):
            if not 0 < self.min_train < 1:
                raise ValueError(f"min_train {self.min_train} is neither a row count nor a share in (0, 1)")
            min_train = max(int(n * self.min_train), 1)
        else:
            min_train = self.min_train
        test_size = (n - min_train) // n_splits if self.test_size is None else self.test_size
        gap = self.purge + self.embargo
        if test_size < 1 or min_train - gap < 1 or min_train + test_size > n:
            raise NotEnoughHistory(f"walk-forward with {n_splits} splits", min_train + gap + n_splits, n)
        for k in range(n_splits):
            start = min_train + k * test_size
            if start >= n:
                break
            stop = n if self.test_size is None and k == n_splits - 1 else min(n, start + test_size)
            yield _purge(np.arange(start), start, stop, label_end, gap, self.embargo), np.arange(start, stop)


class PurgedKFold(_PurgedSplitter):
    """K contiguous folds partitioning the rows; training uses both sides of the test fold, minus the
    `purge` rows and purged labels before it and the `embargo` rows after it. (A fold whose training
    rows are all purged is skipped, as in walk-forward; then the folds no longer cover every row.)"""

    def _folds(self, n: int, label_end: np.ndarray | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if self.n_splits < 2:
            raise ValueError("PurgedKFold needs n_splits >= 2")
        if n < 2 * self.n_splits:
            raise NotEnoughHistory(f"purged k-fold with {self.n_splits} folds", 2 * self.n_splits, n)
        bounds = np.linspace(0, n, self.n_splits + 1).astype(int)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            yield _purge(np.arange(n), a, b, label_end, self.purge, self.embargo), np.arange(a, b)


def calibration_cv(n: int, label_end: np.ndarray | None, embargo: int, n_splits: int, *,
                   min_classes: int = 2, min_test_classes: int = 1) -> PurgedWalkForward:
    """The walk-forward (train, calibrate) folds over a model's own n training rows, purged by label
    window: what the selector and the trade-probability model hand to `CalibratedClassifierCV(cv=...)`.

    A calibration fitted on shuffled folds would calibrate on leaked, overlapping label windows. The
    folds shrink with the data (at least 60 rows per fold, the first half always training, the
    embargo at most a tenth of the rows) so that a small training set still gets an honest, if
    coarse, calibration.
    """
    return PurgedWalkForward(max(1, min(n_splits, n // 60)), min_train=0.5, embargo=min(embargo, n // 10),
                             label_end=label_end, min_classes=min_classes, min_test_classes=min_test_classes)


def chronological_split(n: int, test_size: float = 0.2, purge: int = 0) -> Split:
    """First part for training, last `test_size` share for testing, `purge` rows dropped between."""
    n_test = max(1, int(round(n * test_size)))
    start = n - n_test
    if start - purge < 1:
        raise NotEnoughHistory("a chronological split", n_test + purge + 1, n)
    return Split(np.arange(0, start - purge), np.arange(start, n))


class PurgedGroupWalkForward(PurgedWalkForward):
    """Walk-forward in time *and* whole groups (symbols) held out: the split for a pooled panel.

    A pooled model validated by `PurgedWalkForward` alone still sees, in training, the held-out
    window's symbol before the window; it cannot say whether the model works on a symbol it has never
    seen. Holding out symbols alone (group k-fold) would leak across the cross-section instead: the
    same dates in other symbols share the market's moves, so a model trained on 2008 in MSFT and
    tested on 2008 in AAPL is told the answer. Here both hold at once: for each time window of
    `PurgedWalkForward` (rows pooled over groups and sorted by decision time, as the datasets are)
    and each of `n_group_folds` group folds, the test rows are the window's rows whose group is in
    the fold and the training rows are the window's purged, before-the-window training rows whose
    group is not. So other symbols enter training only before the window (purged by `label_end`,
    which callers pooling several symbols per date need: a row position alone does not separate two
    symbols decided on the same date), and the held-out symbols never.

    Groups are the sorted unique values of `groups`, dealt out round-robin to the folds, or after a
    permutation by `seed` when it is given (so the same symbols are not always held out together).
    Folds are yielded window by window, group fold by group fold; a fold with no test or no training
    rows (a group fold absent from a window), or too few classes, is skipped.
    """

    def __init__(self, n_splits: int = 5, *, n_group_folds: int = 3, seed: int | None = None,
                 min_train: float | None = None, test_size: int | None = None, purge: int = 0,
                 embargo: int = 0, label_end: np.ndarray | None = None, min_classes: int = 1,
                 min_test_classes: int = 1) -> None:
        super().__init__(n_splits, min_train=min_train, test_size=test_size, purge=purge, embargo=embargo,
                         label_end=label_end, min_classes=min_classes, min_test_classes=min_test_classes)
        self.n_group_folds = n_group_folds
        self.seed = seed

    def group_folds(self, groups: Any) -> np.ndarray:
        """The group fold (0 .. n_group_folds - 1) of every row: how `split` deals the groups out."""
        groups = np.asarray(groups)
        unique, inverse = np.unique(groups, return_inverse=True)
        order = np.arange(len(unique))
        if self.seed is not None:
            order = np.random.default_rng(self.seed).permutation(len(unique))
        fold_of_group = np.empty(len(unique), dtype=int)
        fold_of_group[order] = np.arange(len(unique)) % self.n_group_folds
        return fold_of_group[inverse.ravel()]

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(train, test) row positions per (time window, group fold); `groups` is required."""
        if groups is None:  # a caller's bug: without groups this is plain walk-forward
            raise ValueError("PurgedGroupWalkForward.split needs groups (one group label per row)")
        if self.n_group_folds < 2:
            raise ValueError("PurgedGroupWalkForward needs n_group_folds >= 2")
        n = len(X)
        groups = np.asarray(groups)
        if groups.shape[:1] != (n,):
            raise ValueError(f"groups has shape {groups.shape}, expected ({n},)")
        label_end = None if self.label_end is None else np.asarray(self.label_end)
        if label_end is not None and label_end.shape != (n,):
            raise ValueError(f"label_end has shape {label_end.shape}, expected ({n},)")
        y = None if y is None else np.asarray(y)
        fold = self.group_folds(groups)
        for train, test in self._folds(n, label_end):
            for g in range(self.n_group_folds):
                test_g = test[fold[test] == g]
                train_g = train[fold[train] != g]
                if not len(train_g) or not len(test_g):
                    continue
                if y is not None and (len(np.unique(y[train_g])) < self.min_classes
                                      or len(np.unique(y[test_g])) < self.min_test_classes):
                    continue
                yield train_g, test_g

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """The folds `split` yields for this data; without X, the n_splits * n_group_folds asked for."""
        if X is None:
            return self.n_splits * self.n_group_folds
        return sum(1 for _ in self.split(X, y, groups))
