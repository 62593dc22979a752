"""Time-series splits: the one helper every score in paiid is computed through.

A shuffled split leaks the future into training on time series, so there is none here. Walk-forward
windows train only on the past; `purge` drops training rows whose label window reaches into the
test window (labels that look H bars ahead need purge >= H), and `embargo` additionally drops rows
just after a test window when training data can follow it (purged k-fold, López de Prado ch. 7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paiid.errors import NotEnoughHistory


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    test: np.ndarray


def _check_label_end(n: int, label_end: np.ndarray | None) -> np.ndarray | None:
    """`label_end` as an int array of length n; a wrong length is a caller's bug, so ValueError."""
    if label_end is None:
        return None
    label_end = np.asarray(label_end)
    if label_end.shape != (n,):
        raise ValueError(f"label_end has shape {label_end.shape}, expected ({n},)")
    return label_end


def _purge(train: np.ndarray, test_start: int, label_end: np.ndarray | None, purge: int) -> np.ndarray:
    train = train[train < test_start - purge]
    if label_end is not None:
        train = train[label_end[train] < test_start]
    return train


def chronological_split(n: int, test_size: float = 0.2, purge: int = 0) -> Split:
    """First part for training, last `test_size` share for testing, `purge` rows dropped between."""
    n_test = max(1, int(round(n * test_size)))
    start = n - n_test
    if start - purge < 1:
        raise NotEnoughHistory("a chronological split", n_test + purge + 1, n)
    return Split(np.arange(0, start - purge), np.arange(start, n))


def walk_forward(
    n: int,
    *,
    n_splits: int = 5,
    min_train: int | None = None,
    test_size: int | None = None,
    purge: int = 0,
    embargo: int = 0,
    label_end: np.ndarray | None = None,
    expanding: bool = True,
) -> list[Split]:
    """Consecutive test windows after an initial training span; training data always precedes the test.

    `label_end[i]` (optional) is the last row index row i's label looks at; rows whose label reaches
    the test window are purged. `embargo` rows are skipped after `purge` too, as a safety margin for
    serial correlation. With `expanding=False` the training window rolls with length `min_train`.
    Without `test_size` the rows after `min_train` are shared out over the `n_splits` windows.
    Windows left without training rows by `label_end` purging are skipped, so the list can be
    shorter than `n_splits`, or empty when labels look further ahead than the data allows: callers
    that report a score must check.
    """
    label_end = _check_label_end(n, label_end)
    if min_train is None:
        min_train = n // (n_splits + 1)
    # With a computed test size the last window takes the few rows the division leaves over; an
    # explicit test size is honoured exactly (later windows are dropped when the data runs out).
    absorb_rest = test_size is None
    if test_size is None:
        test_size = (n - min_train) // n_splits
    gap = purge + embargo
    if test_size < 1 or min_train - gap < 1 or min_train + test_size > n:
        raise NotEnoughHistory(f"walk-forward with {n_splits} splits", min_train + gap + n_splits, n)
    splits = []
    for k in range(n_splits):
        start = min_train + k * test_size
        stop = n if absorb_rest and k == n_splits - 1 else min(n, start + test_size)
        if start >= n:
            break
        lo = 0 if expanding else max(0, start - min_train)
        train = _purge(np.arange(lo, start), start, label_end, gap)
        if len(train):  # a window whose every training label reaches into it is skipped
            splits.append(Split(train, np.arange(start, stop)))
    return splits


def purged_kfold(
    n: int, *, n_splits: int = 5, label_end: np.ndarray | None = None, purge: int = 0, embargo: int = 0
) -> list[Split]:
    """K contiguous folds; training uses both sides of the test fold minus purge and embargo.

    Only for estimators whose scores don't depend on order (e.g. CSCV); reported model scores use
    `walk_forward`.
    """
    if n_splits < 2:
        raise ValueError("purged_kfold needs n_splits >= 2")
    if n < 2 * n_splits:
        raise NotEnoughHistory(f"purged k-fold with {n_splits} folds", 2 * n_splits, n)
    label_end = _check_label_end(n, label_end)
    bounds = np.linspace(0, n, n_splits + 1).astype(int)
    idx = np.arange(n)
    end = label_end if label_end is not None else idx
    out = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        test = idx[a:b]
        before = idx[: max(0, a - purge)]
        before = before[end[before] < a]
        after = idx[min(n, b + embargo):]
        out.append(Split(np.concatenate([before, after]), test))
    return out


def calibration_splits(n: int, label_end: np.ndarray | None, embargo: int, n_splits: int) -> list[tuple]:
    """Walk-forward (train, calibrate) index pairs over a model's own training rows, purged by label window.

    What the selector and the trade-probability model hand to `CalibratedClassifierCV(cv=...)`: a
    calibration fitted on shuffled folds would calibrate on leaked, overlapping label windows. The
    folds shrink with the data (at least 60 rows per fold, the first half always training) so that a
    small training set still gets an honest, if coarse, calibration.
    """
    n_splits = max(1, min(n_splits, n // 60))
    splits = walk_forward(
        n, n_splits=n_splits, min_train=max(n // 2, 1), embargo=min(embargo, n // 10), label_end=label_end
    )
    return [(s.train, s.test) for s in splits]
