"""`RegimeDetector`: which of the four regimes a market is in, as of a bar's close, with no lookahead.

Inputs (`inputs`) are standardised with the training mean/std and clipped to +-5 so one crash cannot
own a cluster; `clusters` fits the Gaussian/Markov parameters (``method="kmeans"`` or ``"hmm"``) and
`naming` names each cluster.

**Confidence is a real probability**: the *forward-filtered* posterior P(cluster_t | x_0..x_t) of that
Gaussian/Markov model, summed over the clusters mapped to each regime. Never the forward-backward
(smoothed) posterior, which uses later bars: it would change past labels once the future is known.
The emission log-likelihoods are divided by `temperature` (default 2) before filtering, because the
inputs are overlapping-window statistics: consecutive rows share most of their data, and a filter that
treats each row as fresh evidence is overconfident (`paiid evaluate` reports the calibration error).
The fitted clusters give each bar a volatility/direction *state*; the real-market layer (`market`) maps
states to regimes per bar from the price's drawdown and longer returns (a crash in a falling market is
``trending_bearish`` / ``volatile_bear``, not just turbulence). The reported regime then follows the
minimum-duration rule (`smoothing`).

**Close-only series** (no high/low: index levels, adjusted closes): ``volatility="close"`` takes the
volatility input from the 20-bar close-to-close volatility relative to its own usual level instead of
the high-low range (`inputs`); everything else is the same. The default, ``"range"``, refuses a series
without high and low (`BadInput` naming the missing columns and the fix) rather than silently fitting
without it.

Every fitted piece comes from the bars given to `fit` only: the volatility prior's level (the mean log
volatility of those bars, `prior_log_range_` whatever the measure), the standardisation, the clusters,
the family ranking (walk-forward inside them) and `typicality_` (the out-of-distribution check of an
answer's inputs against the training inputs).

**Recommended strategy families** are learned in `fit` when it is given the templates' per-bar
returns (`strategy_returns`, as the trainer does): `ranking_splits` walk-forward folds
(`validation`), ranked by out-of-sample Sharpe (`ranking`). Without them the ranking is empty, which
is what the selector's per-fold refits need (they use the labels only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from hmmlearn import _hmmc
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from paiid.data import missing_columns
from paiid.errors import BadInput, NotEnoughHistory
from paiid.features import WARMUP, build_features
from paiid.ml.regime.clusters import fit_hmm, fit_kmeans
from paiid.ml.regime.inputs import (
    MIN_BARS,
    VOLATILITY_COLUMNS,
    VOLATILITY_FEATURES,
    input_names,
    inputs_from_raw,
    log_positive,
    raw_features,
)
from paiid.ml.regime.market import details, drift_context, regime_map
from paiid.ml.regime.naming import REGIMES, map_clusters, regime_matrix
from paiid.ml.regime.ranking import family_sharpe, rank_families
from paiid.ml.regime.smoothing import smooth_labels
from paiid.ml.regime.validation import label_scores, walk_forward_folds
from paiid.ml.typicality import Typicality

#: Standardised inputs are clipped to +-this many standard deviations.
CLIP = 5.0


class RegimeDetector(BaseEstimator):
    """Clusters bars into the four named market regimes (see the module docstring for every rule).

    `fit(X)` takes one bar frame or a list of them (one per symbol or series); `predict`,
    `predict_proba` and `history` take one bar frame and answer for every bar, causally. Fitted state is
    numpy arrays, floats, lists and dicts only, so skops can save it and load it without pickle.
    """

    #: Bump whenever the learned state changes shape: the registry refuses files saved with another.
    #: Not bumped for `volatility`: it is a parameter, not learned state, and the learned arrays keep
    #: their shapes; files saved before it existed have no such attribute and read the class default.
    STATE_VERSION: ClassVar[int] = 2
    #: Class-level default of the `volatility` parameter, so a model file saved before the parameter
    #: existed (skops restores the instance dict, which lacks it) loads and behaves as it always did.
    volatility: str = "range"

    def __init__(
        self,
        method: str = "kmeans",
        n_clusters: int = 6,
        min_duration: int = 3,
        temperature: float = 2.0,
        prior_bars: float = 2500.0,
        n_init: int = 30,
        n_iter: int = 100,
        ranking_splits: int = 4,
        random_state: int | None = 0,
        volatility: str = "range",
    ) -> None:
        self.method = method
        self.n_clusters = n_clusters
        self.min_duration = min_duration
        self.temperature = temperature
        self.prior_bars = prior_bars
        self.n_init = n_init
        self.n_iter = n_iter
        self.ranking_splits = ranking_splits
        self.random_state = random_state
        self.volatility = volatility

    # ------------------------------------------------------------------------------------ inputs

    def inputs(self, bars: pd.DataFrame, features: pd.DataFrame | None = None) -> np.ndarray:
        """Model inputs per bar, before standardisation (NaN during warm-up)."""
        check_is_fitted(self, "mean_")
        return inputs_from_raw(raw_features(bars, features, self.volatility), self.prior_log_range_,
                               self.prior_bars)

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """Inputs in training standard deviations, clipped to +-`CLIP`."""
        return np.clip((x - self.mean_) / self.scale_, -CLIP, CLIP)

    # ------------------------------------------------------------------------------------ fit

    def fit(self, X: pd.DataFrame | Sequence[pd.DataFrame], y: Any = None, *,
            features: Sequence[pd.DataFrame | None] | None = None,
            strategy_returns: Sequence[Mapping[str, np.ndarray]] | None = None) -> RegimeDetector:
        """Fit on one or more bar frames (`features`: their precomputed feature frames, optional).

        With `strategy_returns` (per series, template id -> per-bar return, e.g.
        `ranking.strategy_returns`) the family ranking and the walk-forward scores are learned too.
        """
        series = [X] if isinstance(X, pd.DataFrame) else list(X)
        self._check_params(series, strategy_returns)
        feats = list(features) if features is not None else [None] * len(series)
        raws = [raw_features(b, f, self.volatility) for b, f in zip(series, feats, strict=True)]
        lr = np.concatenate([log_positive(r[WARMUP:, 0]) for r in raws])
        if not np.isfinite(lr).any():
            n = max(len(b) for b in series)
            raise NotEnoughHistory("fitting the regime model", MIN_BARS + 1, n)
        self.prior_log_range_ = float(np.nanmean(lr))
        blocks = []
        for r in raws:
            x = inputs_from_raw(r, self.prior_log_range_, self.prior_bars)
            blocks.append(x[np.isfinite(x).all(axis=1)])
        lengths = [len(b) for b in blocks if len(b)]
        x_all = np.concatenate([b for b in blocks if len(b)])
        if len(x_all) < 10 * self.n_clusters:
            raise NotEnoughHistory("fitting the regime model", MIN_BARS + 10 * self.n_clusters, len(x_all))
        self.mean_ = x_all.mean(axis=0)
        sd = x_all.std(axis=0)
        self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        z = self.standardise(x_all)
        fit_clusters = fit_kmeans if self.method == "kmeans" else fit_hmm
        cl = fit_clusters(z, lengths, int(self.n_clusters), n_init=int(self.n_init), n_iter=int(self.n_iter),
                          random_state=self.random_state)
        self.means_, self.covars_ = cl.means, cl.covars
        self.startprob_, self.transmat_ = cl.startprob, cl.transmat
        self.inertia_ = cl.inertia
        self.cluster_regime_ = map_clusters(self.means_ * self.scale_ + self.mean_)
        self.n_features_in_ = len(input_names(self.volatility))
        self.n_train_rows_ = int(len(z))
        # inputs of an answer far from every training row (a crash deeper than any seen) are flagged
        seed = 0 if self.random_state is None else int(self.random_state)
        self.typicality_ = Typicality(seed=seed).fit(x_all)

        self.strategy_sharpe_ = {r: {} for r in REGIMES}
        self.strategy_bars_ = {}
        self.walk_forward_scores_ = {}
        if strategy_returns is not None:
            full = [build_features(b) if f is None else f for b, f in zip(series, feats, strict=True)]
            folds = list(walk_forward_folds(clone(self), series, full, int(self.ranking_splits)))
            self.strategy_sharpe_, self.strategy_bars_ = family_sharpe(folds, series, strategy_returns)
            self.walk_forward_scores_ = label_scores(folds, series, full)
        self.strategy_ranking_ = rank_families(self.strategy_sharpe_)
        return self

    def _check_params(self, series: list[pd.DataFrame],
                      strategy_returns: Sequence[Mapping[str, np.ndarray]] | None) -> None:
        if not series:
            raise BadInput("RegimeDetector.fit needs at least one bar series")
        if self.method not in ("kmeans", "hmm"):
            raise BadInput(f"unknown regime method {self.method!r}: use 'kmeans' or 'hmm'")
        if int(self.n_clusters) < len(REGIMES):
            raise BadInput(f"n_clusters must be >= {len(REGIMES)} (one per named regime)")
        if self.volatility not in VOLATILITY_FEATURES:
            raise BadInput(f"unknown regime volatility {self.volatility!r}: use 'range' (high-low range) "
                           "or 'close' (close-to-close, for close-only series)")
        needed = VOLATILITY_COLUMNS[self.volatility]
        for bars in series:
            missing_cols = missing_columns(bars, needed, "the regime detector's high-low range volatility")
            if missing_cols is not None:
                raise BadInput(f"{missing_cols.message}; fit RegimeDetector(volatility='close') on "
                               "close-only series")
        if int(self.min_duration) < 1:
            raise BadInput("min_duration must be >= 1")
        if not float(self.temperature) > 0:
            raise BadInput("temperature must be > 0")
        if strategy_returns is not None and len(strategy_returns) != len(series):
            raise BadInput("strategy_returns needs one entry per bar series")

    # ------------------------------------------------------------------------------------ predict

    def _log_emission(self, z: np.ndarray) -> np.ndarray:
        """log N(z; mean_k, covars_k) for every row and cluster (full covariances; constant dropped)."""
        out = np.empty((len(z), len(self.means_)))
        for j, (mu, cov) in enumerate(zip(self.means_, self.covars_, strict=True)):
            chol = np.linalg.cholesky(cov)
            sol = np.linalg.solve(chol, (z - mu).T)
            out[:, j] = -0.5 * np.sum(sol * sol, axis=0) - np.sum(np.log(np.diag(chol)))
        return out

    def filtered_cluster_proba(self, z: np.ndarray) -> np.ndarray:
        """Forward filter P(cluster_t | z_0..z_t) for consecutive standardised rows (no NaN).

        hmmlearn's compiled scaled forward pass (alpha_t = normalise((alpha_{t-1} @ A) * b_t)) on the
        tempered emission likelihoods: the filtered probabilities, ~40x faster than a Python loop.
        """
        check_is_fitted(self, "means_")
        if len(z) == 0:
            return np.empty((0, len(self.startprob_)))
        loge = self._log_emission(z) / float(self.temperature)
        emis = np.exp(loge - loge.max(axis=1, keepdims=True))
        return np.asarray(_hmmc.forward_scaling(
            np.ascontiguousarray(self.startprob_), np.ascontiguousarray(self.transmat_), emis)[1])

    def history(self, bars: pd.DataFrame, features: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
        """Everything per bar, causally: `state_proba` (n, 4) filtered probabilities of the fitted states,
        `state` (the most probable one after the minimum-duration rule: the detector without the
        real-market layer, what the synthetic benchmark scores), `state_confidence`, `proba` (n, 4)
        regime probabilities after the real-market layer, `raw` (most probable regime), `regime` (after
        the minimum-duration rule), `confidence` (probability of `regime`), `days` (bars since `regime`
        began), `detail` (`market.details`).
        Warm-up rows: NaN / None / 0."""
        check_is_fitted(self, "means_")
        x = self.inputs(bars, features)
        n = len(x)
        ok = np.isfinite(x).all(axis=1)
        state_proba = np.full((n, len(REGIMES)), np.nan)
        proba = np.full((n, len(REGIMES)), np.nan)
        state = np.full(n, None, dtype=object)
        raw = np.full(n, None, dtype=object)
        regime = np.full(n, None, dtype=object)
        detail = np.full(n, None, dtype=object)
        conf = np.full(n, np.nan)
        state_conf = np.full(n, np.nan)
        days = np.zeros(n, dtype=np.int64)
        out = {"state_proba": state_proba, "state": state, "proba": proba, "raw": raw, "regime": regime,
               "confidence": conf, "days": days, "detail": detail, "state_confidence": state_conf}
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            return out
        # a gap of undefined rows inside the series (should not happen after warm-up) restarts the filter
        starts = np.flatnonzero(np.diff(idx, prepend=-2) != 1)
        z = self.standardise(x[idx])
        cp = np.concatenate([
            self.filtered_cluster_proba(z[a:b])
            for a, b in zip(starts, list(starts[1:]) + [len(idx)], strict=True)
        ])
        sp = np.clip(cp @ regime_matrix(self.cluster_regime_), 0.0, 1.0)  # sums can overshoot 1 by an ulp
        ctx = drift_context(bars)
        mp = regime_map({k: v[idx] for k, v in ctx.items()})
        p = np.clip(np.einsum("tk,tkr->tr", sp, mp), 0.0, 1.0)
        names = np.array(REGIMES, dtype=object)
        state_proba[idx], proba[idx] = sp, p
        st_idx, _ = smooth_labels(np.argmax(sp, axis=1), int(self.min_duration))
        state[idx] = names[st_idx]
        state_conf[idx] = sp[np.arange(len(idx)), st_idx]
        arg = np.argmax(p, axis=1)
        raw[idx] = names[arg]
        cur_idx, run_idx = smooth_labels(arg, int(self.min_duration))
        regime[idx] = names[cur_idx]
        conf[idx] = p[np.arange(len(idx)), cur_idx]
        days[idx] = run_idx
        detail[idx] = details(regime[idx], sp, {k: v[idx] for k, v in ctx.items()})
        return out

    def predict_proba(self, bars: pd.DataFrame) -> np.ndarray:
        """Filtered probability of each regime (columns in `REGIMES` order) at every bar; NaN in warm-up."""
        return self.history(bars)["proba"]

    def predict(self, bars: pd.DataFrame) -> np.ndarray:
        """Regime name at every bar after the minimum-duration rule; None during warm-up."""
        return self.history(bars)["regime"]

    def __sklearn_tags__(self) -> Any:  # pragma: no cover - only for sklearn's introspection
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
