"""Fitting the Gaussian/Markov model behind the detector, by either of its two methods.

``kmeans`` (the default): K-Means on the standardised inputs; each cluster then gets a full-covariance
Gaussian, refined by EM from the K-Means centres (this is the soft assignment: the inputs are strongly
correlated, and spherical K-Means distances alone mislabel about one bar in six on the benchmark), a
prior from its weight and a transition matrix counted from consecutive training labels
(Laplace-smoothed). ``hmm``: the same parameters estimated jointly by hmmlearn's full-covariance
Gaussian HMM (EM), started from the ``kmeans`` solution. Both are then used the same way.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from hmmlearn.hmm import GaussianHMM
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

#: Covariance floor (standardised units), so no cluster collapses onto a handful of identical rows.
VAR_FLOOR = 1e-3


class Clusters(NamedTuple):
    """Fitted parameters: per-cluster means and full covariances, start and transition probabilities."""

    means: np.ndarray
    covars: np.ndarray
    startprob: np.ndarray
    transmat: np.ndarray
    #: K-Means inertia (``kmeans``) or the final log-likelihood (``hmm``), for diagnostics.
    inertia: float


def fit_kmeans(z: np.ndarray, lengths: list[int], k: int, *, n_init: int, n_iter: int,
               random_state: int | None) -> Clusters:
    """`n_init` K-Means runs, each refined into a full-covariance Gaussian mixture by EM from its
    centres; the mixture with the highest likelihood wins. Why not K-Means' own best inertia:
    spherical distances on correlated inputs have many near-equal optima, and picking by the
    likelihood of the refined model makes retrains with other seeds agree. `lengths` are the row
    counts of the consecutive series in `z` (transitions are counted within each)."""
    # a few thousand rows: OpenMP threads cost more than they save (10x slower on a busy 2-core box)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seeds = np.random.SeedSequence(random_state).generate_state(int(n_init))
        best = None
        for s in seeds:
            km = KMeans(n_clusters=k, n_init=1, random_state=int(s)).fit(z)
            gm = GaussianMixture(n_components=k, covariance_type="full", means_init=km.cluster_centers_,
                                 reg_covar=VAR_FLOOR, max_iter=int(n_iter), random_state=int(s)).fit(z)
            score = float(gm.score(z))
            if best is None or score > best[0]:
                best = (score, km, gm)
        assert best is not None
        _, km, gm = best
    labels = gm.predict(z)
    trans = np.ones((k, k))  # Laplace smoothing: no transition is impossible
    pos = 0
    for n in lengths:
        seg = labels[pos:pos + n]
        np.add.at(trans, (seg[:-1], seg[1:]), 1.0)
        pos += n
    return Clusters(
        means=np.asarray(gm.means_, dtype=np.float64).copy(),
        covars=np.asarray(gm.covariances_, dtype=np.float64).copy(),
        startprob=np.asarray(gm.weights_, dtype=np.float64).copy(),
        transmat=trans / trans.sum(axis=1, keepdims=True),
        inertia=float(km.inertia_),
    )


def fit_hmm(z: np.ndarray, lengths: list[int], k: int, *, n_init: int, n_iter: int,
            random_state: int | None) -> Clusters:
    """hmmlearn's Gaussian HMM, EM started from `fit_kmeans`' solution rather than hmmlearn's own
    single K-Means: the same starting point for both methods, and the best of `n_init` starts."""
    start = fit_kmeans(z, lengths, k, n_init=n_init, n_iter=n_iter, random_state=random_state)
    hmm = GaussianHMM(n_components=k, covariance_type="full", n_iter=int(n_iter),
                      random_state=random_state, min_covar=VAR_FLOOR, init_params="")
    hmm.startprob_, hmm.transmat_ = start.startprob, start.transmat
    hmm.means_, hmm.covars_ = start.means, start.covars
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        hmm.fit(z, lengths)
    return Clusters(
        means=np.asarray(hmm.means_, dtype=np.float64).copy(),
        covars=np.asarray(hmm.covars_, dtype=np.float64).copy(),
        startprob=np.asarray(hmm.startprob_, dtype=np.float64).copy(),
        transmat=np.asarray(hmm.transmat_, dtype=np.float64).copy(),
        inertia=float(hmm.monitor_.history[-1]) if hmm.monitor_.history else float("nan"),
    )
