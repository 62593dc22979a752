"""How typical an answer's inputs are of the rows its model was trained on (an out-of-distribution check).

Why: a model answers anything it is given, and a forest asked about a crash deeper than any it saw
returns a confident-looking number from its nearest leaves. Each model keeps a `Typicality` fitted on
its training rows; each answer reports the percentile of its input's distance to the training data and,
when that is far outside what training rows show among themselves, flags the answer and lowers its
confidence. The idea is FreqAI's dissimilarity index (distance to the training set against the training
set's own typical spacing); the percentile makes the threshold read as a plain statement ("further from
the training data than 99.5% of the training rows are").

Distances are Euclidean on standardised inputs (median and inter-quartile range of the training rows, so
one wild training row does not rescale everything), from a seeded sample of at most `max_rows` training
rows; a training row's own distance is to its nearest *other* sampled row, so the reference distribution
is leave-one-out rather than zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

#: Percentile of the training rows' own distances above which an input is called unusual.
UNUSUAL_PERCENTILE = 99.0
#: Confidence is multiplied by this for an unusual input (the answer still comes, marked).
UNUSUAL_CONFIDENCE_FACTOR = 0.5


class Typicality(BaseEstimator):
    """Nearest-neighbour distance of an input to (a sample of) the training rows, as a percentile.

    scikit-learn conventions: parameters in `__init__`, learned state with a trailing underscore set in
    `fit`, so a model can hold one and skops can save it (numpy arrays and floats only).
    """

    def __init__(self, max_rows: int = 2000, k: int = 5, seed: int = 0) -> None:
        self.max_rows = max_rows
        self.k = k
        self.seed = seed

    def fit(self, X: np.ndarray) -> Typicality:
        X = np.asarray(X, np.float64)
        X = X[np.isfinite(X).all(axis=1)]
        if len(X) < self.k + 2:
            raise ValueError(f"Typicality needs at least {self.k + 2} complete training rows, got {len(X)}")
        self.center_ = np.median(X, axis=0)
        q75, q25 = np.percentile(X, [75, 25], axis=0)
        scale = q75 - q25
        scale[~(scale > 1e-12)] = np.where(X.std(axis=0) > 1e-12, X.std(axis=0), 1.0)[~(scale > 1e-12)]
        self.scale_ = scale
        rng = np.random.default_rng(self.seed)
        rows = rng.choice(len(X), size=min(self.max_rows, len(X)), replace=False)
        self.reference_ = (X[np.sort(rows)] - self.center_) / self.scale_
        d = self._knn(self.reference_, exclude_self=True)
        self.reference_distances_ = np.sort(d)
        self.n_training_rows_ = int(len(X))
        return self

    def _knn(self, Z: np.ndarray, *, exclude_self: bool = False) -> np.ndarray:
        """Mean distance of each row of Z to its k nearest reference rows (in blocks, to bound memory)."""
        ref = self.reference_
        k = min(self.k, len(ref) - (1 if exclude_self else 0))
        out = np.empty(len(Z))
        rn = (ref * ref).sum(axis=1)
        for lo in range(0, len(Z), 512):
            z = Z[lo: lo + 512]
            d2 = (z * z).sum(axis=1)[:, None] + rn[None, :] - 2.0 * z @ ref.T
            np.maximum(d2, 0.0, out=d2)
            if exclude_self:
                d2[np.arange(len(z)), np.arange(lo, lo + len(z))] = np.inf
            part = np.partition(d2, k - 1, axis=1)[:, :k]
            out[lo: lo + len(z)] = np.sqrt(part).mean(axis=1)
        return out

    def percentile(self, X: np.ndarray) -> np.ndarray:
        """For each row: the share (0-100) of training rows that are closer to the rest than it is."""
        Z = (np.atleast_2d(np.asarray(X, np.float64)) - self.center_) / self.scale_
        d = self._knn(np.nan_to_num(Z, nan=0.0, posinf=1e6, neginf=-1e6))
        ref = self.reference_distances_
        return 100.0 * np.searchsorted(ref, d, side="right") / len(ref)

    def assess(self, x: np.ndarray) -> dict[str, Any]:
        """The answer's `typicality` block for one input row: percentile, whether unusual, and why."""
        pct = float(self.percentile(np.asarray(x, np.float64).reshape(1, -1))[0])
        unusual = pct > UNUSUAL_PERCENTILE
        return {
            "percentile": round(pct, 1),
            "unusual": unusual,
            "confidence_factor": UNUSUAL_CONFIDENCE_FACTOR if unusual else 1.0,
            "training_rows": self.n_training_rows_,
            "note": (f"inputs are further from the training data than {pct:.1f}% of training rows are: "
                     "outside what the model has seen, confidence lowered" if unusual
                     else f"inputs typical of the training data (distance percentile {pct:.0f})"),
        }
