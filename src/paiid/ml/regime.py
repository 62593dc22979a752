"""Market regime detection: which of four regimes a market is in, as of a bar's close, with no lookahead.

The four regimes: ``trending_bullish``, ``trending_bearish``, ``ranging``, ``high_volatility``.

**Inputs** (`INPUT_NAMES`), all from `paiid.features.build_features`, so bar t uses bars 0..t only:

* volatility: 20-bar realised volatility and ATR% as *log ratios to the symbol's own typical level*
  (a running mean of its past log volatility, shrunk toward the training mean for short histories).
  Why relative: one model serves SPX, GOOG and hourly EURUSD, and "high volatility" means high for that
  market; an absolute threshold would call GOOG volatile every day and EURUSD never;
* trend strength: ADX(14);
* direction: 50-bar MA slope over 10 bars, distance from the 50-bar MA, 20- and 60-bar log returns,
  each divided by the *current* 20-bar volatility, i.e. a signal-to-noise ratio. Why not raw returns: in a
  volatile market every return is large, and K-Means then splits high volatility into "volatile up" and
  "volatile down" clusters instead of separating volatility from direction;
* volume trend: 10- vs 50-bar mean log volume.

Inputs are standardised with the training mean/std and clipped to +-5 so one crash cannot own a cluster.

**Methods.** ``method="kmeans"`` (default): K-Means on the standardised inputs gives the centres;
each cluster then gets a diagonal Gaussian (its members' variances), a transition matrix counted from
consecutive training labels (Laplace-smoothed) and a prior from its share. ``method="hmm"``: the same
parameters estimated jointly by hmmlearn's Gaussian HMM (EM). Both are then used the same way.

**Confidence is a real probability**: the *forward-filtered* posterior P(cluster_t | x_0..x_t) of that
Gaussian/Markov model, summed over the clusters mapped to each regime. Never the forward-backward
(smoothed) posterior, which uses later bars: it would change past labels once the future is known.
The emission log-likelihoods are divided by `temperature` (default 20) before filtering. Why: the inputs
are overlapping-window statistics, so consecutive rows share 19 of their 20 (or more) bars of data; a
filter that treats each row as fresh evidence counts the same evidence ~20 times and reports 0.99999
where it should say 0.9. On the synthetic benchmark this halves the calibration error for <1 point of
accuracy (`paiid evaluate` reports both).

**Cluster -> regime rule** (on the standardised centres, so names are stable across retrains):
volatility score = mean of the two volatility inputs, direction score = mean of the four direction
inputs. The cluster with the highest volatility score is ``high_volatility``; of the others, the highest
direction score is ``trending_bullish``, the lowest ``trending_bearish``, and the remaining one
``ranging`` is the one of the rest closest to calm and flat. Each extra cluster (default six clusters) is
``high_volatility`` if its volatility score is >= max(1, half the most volatile one's), else it takes the
regime of the bullish/ranging/bearish cluster with the nearest direction score. Why six: with four, K-Means
on real index data spends a cluster on "calm, slightly rising" markets and the rank rule then has to call a
near-flat cluster bearish; six lets strong and mild trends share a name (and scored better on synthetic data).

**No flicker** (past only): a reported regime changes only after a different regime has been the most
probable one for `min_duration` consecutive bars (default 5); until then the previous regime stands.
This costs at most `min_duration - 1` bars of lag at a true change and removes one-to-four-day blips.

**Recommended strategy families** are learned by `train`: on walk-forward test windows (detector fitted
on earlier bars only), each template's next-bar returns are grouped by the regime known at the bar before,
and the families are ranked by annualised Sharpe within each regime; families with a positive
out-of-sample Sharpe are recommended, best first.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from paiid.errors import BadInput, NotEnoughHistory
from paiid.features import WARMUP, build_features
from paiid.ml.base import Trained
from paiid.ml.synthetic import REGIMES

__all__ = [
    "INPUT_NAMES",
    "MIN_BARS",
    "REGIMES",
    "RegimeDetector",
    "naive_regime",
    "regime_answer",
    "regime_history",
    "train",
]

#: Bars needed before the first regime is reported (the feature frame's warm-up plus the bar itself).
MIN_BARS = WARMUP + 1
#: Model inputs (columns of `RegimeDetector.inputs`), derived from the feature frame.
INPUT_NAMES: list[str] = [
    "vol_rel", "range_rel", "adx_14", "ma_slope_50", "dist_sma_50", "ret_20", "ret_60", "volume_trend",
]
#: Columns of the feature frame the inputs are made from.
RAW_FEATURES: list[str] = [
    "rvol_20", "atr_pct", "adx_14", "ma_slope_50", "dist_sma_50", "ret_20", "ret_60", "volume_trend",
]
VOL_IDX = (0, 1)
DIR_IDX = (3, 4, 5, 6)
#: |volume_trend| below this (about 5 % between the 10- and 50-bar mean volume) is "flat".
VOLUME_FLAT = 0.05
_CLIP = 5.0
_VAR_FLOOR = 1e-3


def _running_level(x: np.ndarray, prior: float, prior_bars: float) -> np.ndarray:
    """Causal mean of `x` up to each bar, shrunk toward `prior` as if it were `prior_bars` extra bars."""
    ok = np.isfinite(x)
    total = np.cumsum(np.where(ok, x, 0.0)) + prior * prior_bars
    count = np.cumsum(ok) + prior_bars
    return total / count


def _log_pos(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan)


def naive_regime(bars: pd.DataFrame, vol_threshold: float, band: float = 0.0,
                 features: pd.DataFrame | None = None) -> np.ndarray:
    """The naive baseline: high_volatility if 20-bar volatility > `vol_threshold`, else the sign of the
    50-bar return (bullish above `band`, bearish below `-band`, ranging in between). None in warm-up."""
    feats = build_features(bars) if features is None else features
    c = bars["close"].to_numpy(np.float64)
    r50 = np.full(len(c), np.nan)
    r50[50:] = np.log(c[50:] / c[:-50])
    rv = feats["rvol_20"].to_numpy(np.float64)
    out = np.full(len(c), None, dtype=object)
    ok = np.isfinite(r50) & np.isfinite(rv)
    out[ok] = "ranging"
    out[ok & (r50 > band)] = "trending_bullish"
    out[ok & (r50 < -band)] = "trending_bearish"
    out[ok & (rv > vol_threshold)] = "high_volatility"
    out[: min(len(out), WARMUP)] = None
    return out


class RegimeDetector(BaseEstimator):
    """Clusters bars into the four named market regimes (see the module docstring for every rule).

    `fit(X)` takes one bar frame or a list of them (one per symbol or series); `predict`,
    `predict_proba` and `history` take one bar frame and answer for every bar, causally. Fitted state is
    numpy arrays, floats, lists and dicts only, so skops can save it and load it without pickle.
    """

    def __init__(
        self,
        method: str = "kmeans",
        n_clusters: int = 6,
        min_duration: int = 5,
        temperature: float = 20.0,
        prior_bars: float = 250.0,
        n_init: int = 10,
        n_iter: int = 100,
        random_state: int | None = 0,
    ) -> None:
        self.method = method
        self.n_clusters = n_clusters
        self.min_duration = min_duration
        self.temperature = temperature
        self.prior_bars = prior_bars
        self.n_init = n_init
        self.n_iter = n_iter
        self.random_state = random_state

    # ------------------------------------------------------------------------------------ inputs

    def _raw(self, bars: pd.DataFrame, features: pd.DataFrame | None) -> np.ndarray:
        feats = build_features(bars) if features is None else features
        return np.column_stack([feats[c].to_numpy(np.float64) for c in RAW_FEATURES])

    def _inputs_from_raw(self, raw: np.ndarray) -> np.ndarray:
        """The unstandardised model inputs (INPUT_NAMES order); NaN rows during warm-up."""
        log_vol = _log_pos(raw[:, 0])
        log_rng = _log_pos(raw[:, 1])
        ref_vol = _running_level(log_vol, self.prior_log_vol_, self.prior_bars)
        ref_rng = _running_level(log_rng, self.prior_log_range_, self.prior_bars)
        scale = np.exp(log_vol)  # current volatility: direction inputs become signal-to-noise ratios
        out = np.empty_like(raw)
        out[:, 0] = log_vol - ref_vol
        out[:, 1] = log_rng - ref_rng
        out[:, 2] = raw[:, 2]
        for j in DIR_IDX:
            out[:, j] = raw[:, j] / scale
        out[:, 7] = raw[:, 7]
        out[: min(len(out), WARMUP)] = np.nan
        return out

    def inputs(self, bars: pd.DataFrame, features: pd.DataFrame | None = None) -> np.ndarray:
        """Model inputs per bar, before standardisation (NaN during warm-up)."""
        check_is_fitted(self, "mean_")
        return self._inputs_from_raw(self._raw(bars, features))

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        return np.clip((x - self.mean_) / self.scale_, -_CLIP, _CLIP)

    # ------------------------------------------------------------------------------------ fit

    def fit(self, X: pd.DataFrame | Sequence[pd.DataFrame], y: Any = None,
            features: Sequence[pd.DataFrame | None] | None = None) -> RegimeDetector:
        """Fit on one or more bar frames (`features`: their precomputed feature frames, optional)."""
        series = [X] if isinstance(X, pd.DataFrame) else list(X)
        if not series:
            raise BadInput("RegimeDetector.fit needs at least one bar series")
        if self.method not in ("kmeans", "hmm"):
            raise BadInput(f"unknown regime method {self.method!r}: use 'kmeans' or 'hmm'")
        if int(self.n_clusters) < len(REGIMES):
            raise BadInput(f"n_clusters must be >= {len(REGIMES)} (one per named regime)")
        if int(self.min_duration) < 1:
            raise BadInput("min_duration must be >= 1")
        if not float(self.temperature) > 0:
            raise BadInput("temperature must be > 0")
        feats = list(features) if features is not None else [None] * len(series)
        raws = [self._raw(b, f) for b, f in zip(series, feats, strict=True)]
        lv = np.concatenate([_log_pos(r[WARMUP:, 0]) for r in raws])
        lr = np.concatenate([_log_pos(r[WARMUP:, 1]) for r in raws])
        if not np.isfinite(lv).any():
            n = max(len(b) for b in series)
            raise NotEnoughHistory("fitting the regime model", MIN_BARS + 1, n)
        self.prior_log_vol_ = float(np.nanmean(lv))
        self.prior_log_range_ = float(np.nanmean(lr[np.isfinite(lr)])) if np.isfinite(lr).any() else 0.0
        blocks = []
        for r in raws:
            x = self._inputs_from_raw(r)
            blocks.append(x[np.isfinite(x).all(axis=1)])
        lengths = [len(b) for b in blocks if len(b)]
        x_all = np.concatenate([b for b in blocks if len(b)])
        if len(x_all) < 10 * self.n_clusters:
            raise NotEnoughHistory("fitting the regime model", MIN_BARS + 10 * self.n_clusters, len(x_all))
        self.mean_ = x_all.mean(axis=0)
        sd = x_all.std(axis=0)
        self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        z = self._standardise(x_all)
        k = int(self.n_clusters)
        if self.method == "kmeans":
            self._fit_kmeans(z, lengths, k)
        else:
            self._fit_hmm(z, lengths, k)
        self.cluster_regime_ = map_clusters(self.means_)
        self.n_features_in_ = len(INPUT_NAMES)
        self.n_train_rows_ = int(len(z))
        if not hasattr(self, "strategy_ranking_"):
            self.strategy_ranking_ = {r: [] for r in REGIMES}
            self.strategy_sharpe_ = {r: {} for r in REGIMES}
        return self

    def _fit_kmeans(self, z: np.ndarray, lengths: list[int], k: int) -> None:
        from threadpoolctl import threadpool_limits

        # a few thousand rows: OpenMP threads cost more than they save (10x slower on a busy 2-core box)
        with threadpool_limits(limits=1):
            km = KMeans(n_clusters=k, n_init=int(self.n_init), random_state=self.random_state).fit(z)
        labels = km.labels_
        self.means_ = np.asarray(km.cluster_centers_, dtype=np.float64)
        var = np.empty_like(self.means_)
        for j in range(k):
            members = z[labels == j]
            var[j] = members.var(axis=0) if len(members) > 1 else 1.0
        self.vars_ = np.maximum(var, _VAR_FLOOR)
        counts = np.bincount(labels, minlength=k).astype(np.float64)
        self.startprob_ = counts / counts.sum()
        trans = np.ones((k, k))  # Laplace smoothing: no transition is impossible
        pos = 0
        for n in lengths:
            seg = labels[pos:pos + n]
            np.add.at(trans, (seg[:-1], seg[1:]), 1.0)
            pos += n
        self.transmat_ = trans / trans.sum(axis=1, keepdims=True)
        self.inertia_ = float(km.inertia_)

    def _fit_hmm(self, z: np.ndarray, lengths: list[int], k: int) -> None:
        from hmmlearn.hmm import GaussianHMM

        hmm = GaussianHMM(n_components=k, covariance_type="diag", n_iter=int(self.n_iter),
                          random_state=self.random_state, min_covar=_VAR_FLOOR)
        from threadpoolctl import threadpool_limits

        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore")
            hmm.fit(z, lengths)
        self.means_ = np.asarray(hmm.means_, dtype=np.float64).copy()
        self.vars_ = np.maximum(np.diagonal(hmm.covars_, axis1=1, axis2=2).copy(), _VAR_FLOOR)
        self.startprob_ = np.asarray(hmm.startprob_, dtype=np.float64).copy()
        self.transmat_ = np.asarray(hmm.transmat_, dtype=np.float64).copy()
        self.inertia_ = float(hmm.monitor_.history[-1]) if hmm.monitor_.history else float("nan")

    # ------------------------------------------------------------------------------------ predict

    def _log_emission(self, z: np.ndarray) -> np.ndarray:
        """log N(z; mean_k, diag(vars_k)) for every row and cluster (constant term dropped)."""
        inv = 1.0 / self.vars_
        quad = (z * z) @ inv.T - 2.0 * z @ (self.means_ * inv).T + np.sum(self.means_ ** 2 * inv, axis=1)
        return -0.5 * (quad + np.sum(np.log(self.vars_), axis=1))

    def filtered_cluster_proba(self, z: np.ndarray) -> np.ndarray:
        """Forward filter P(cluster_t | z_0..z_t) for consecutive standardised rows (no NaN)."""
        if len(z) == 0:
            return np.empty((0, len(self.startprob_)))
        loge = self._log_emission(z) / float(self.temperature)
        emis = np.exp(loge - loge.max(axis=1, keepdims=True))
        try:  # hmmlearn's compiled scaled forward pass: the same numbers, ~40x faster than the loop below
            from hmmlearn import _hmmc

            return np.asarray(_hmmc.forward_scaling(
                np.ascontiguousarray(self.startprob_), np.ascontiguousarray(self.transmat_), emis)[1])
        except (ImportError, AttributeError, TypeError, ValueError):  # pragma: no cover - private API moved
            pass
        return _forward_numpy(self.startprob_, self.transmat_, emis)

    def _cluster_to_regime_matrix(self) -> np.ndarray:
        m = np.zeros((len(self.cluster_regime_), len(REGIMES)))
        for j, name in enumerate(self.cluster_regime_):
            m[j, REGIMES.index(name)] = 1.0
        return m

    def history(self, bars: pd.DataFrame, features: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
        """Everything per bar, causally: `proba` (n, 4) filtered regime probabilities, `raw` (most
        probable regime), `regime` (after the minimum-duration rule), `confidence` (filtered probability
        of `regime`), `days` (bars since `regime` began). Warm-up rows: NaN / None / 0."""
        check_is_fitted(self, "means_")
        x = self.inputs(bars, features)
        n = len(x)
        ok = np.isfinite(x).all(axis=1)
        proba = np.full((n, len(REGIMES)), np.nan)
        raw = np.full(n, None, dtype=object)
        regime = np.full(n, None, dtype=object)
        conf = np.full(n, np.nan)
        days = np.zeros(n, dtype=np.int64)
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            return {"proba": proba, "raw": raw, "regime": regime, "confidence": conf, "days": days}
        # a gap of undefined rows inside the series (should not happen after warm-up) restarts the filter
        starts = np.flatnonzero(np.diff(idx, prepend=-2) != 1)
        z = self._standardise(x[idx])
        cp = np.concatenate([
            self.filtered_cluster_proba(z[a:b])
            for a, b in zip(starts, list(starts[1:]) + [len(idx)], strict=True)
        ])
        p = np.clip(cp @ self._cluster_to_regime_matrix(), 0.0, 1.0)  # sums can overshoot 1 by an ulp
        proba[idx] = p
        arg = np.argmax(p, axis=1)
        names = np.array(REGIMES, dtype=object)
        raw[idx] = names[arg]
        cur_idx, run_idx = smooth_labels(arg, int(self.min_duration))
        regime[idx] = names[cur_idx]
        conf[idx] = p[np.arange(len(idx)), cur_idx]
        days[idx] = run_idx
        return {"proba": proba, "raw": raw, "regime": regime, "confidence": conf, "days": days}

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


def _forward_numpy(startprob: np.ndarray, trans: np.ndarray, emis: np.ndarray) -> np.ndarray:
    """Scaled forward recursion alpha_t = normalise((alpha_{t-1} @ A) * b_t): filtered probabilities."""
    n, k = emis.shape
    out = np.empty((n, k))
    alpha = startprob * emis[0]
    alpha = alpha / alpha.sum()
    out[0] = alpha
    for t in range(1, n):
        alpha = (alpha @ trans) * emis[t]
        s = alpha.sum()
        alpha = alpha / s if s > 0 else np.full(k, 1.0 / k)
        out[t] = alpha
    return out


def smooth_labels(arg: np.ndarray, min_duration: int) -> tuple[np.ndarray, np.ndarray]:
    """The minimum-duration rule on per-bar argmax indices (past only).

    Returns (reported index per bar, bars since the reported regime began, counting the current bar
    as 1). A new regime is reported once it has been the argmax for `min_duration` consecutive bars;
    its start is then dated to the first of those bars.
    """
    a = arg.tolist()
    n = len(a)
    cur_out = [0] * n
    days_out = [0] * n
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    current = a[0]
    since = 0
    cand = a[0]
    run = 0
    for t in range(n):
        if a[t] == cand:
            run += 1
        else:
            cand, run = a[t], 1
        if cand != current and run >= min_duration:
            current, since = cand, t - run + 1
        cur_out[t] = current
        days_out[t] = t - since + 1
    return np.asarray(cur_out, dtype=np.int64), np.asarray(days_out, dtype=np.int64)


def map_clusters(centres: np.ndarray) -> list[str]:
    """The documented cluster -> regime rule on standardised centres (see the module docstring)."""
    centres = np.asarray(centres, dtype=np.float64)
    k = len(centres)
    vol = centres[:, list(VOL_IDX)].mean(axis=1)
    dire = centres[:, list(DIR_IDX)].mean(axis=1)
    names: list[str | None] = [None] * k
    hv = int(np.argmax(vol))
    names[hv] = "high_volatility"
    rest = [j for j in range(k) if j != hv]
    bull = max(rest, key=lambda j: (dire[j], -j))
    names[bull] = "trending_bullish"
    rest.remove(bull)
    bear = min(rest, key=lambda j: (dire[j], j))
    names[bear] = "trending_bearish"
    rest.remove(bear)
    ranging = min(rest, key=lambda j: (abs(dire[j]) + max(vol[j], 0.0), j))
    names[ranging] = "ranging"
    rest.remove(ranging)
    for j in rest:  # extra clusters: volatile like the high-volatility one, else the nearest direction
        if vol[j] >= max(1.0, 0.5 * vol[hv]):
            names[j] = "high_volatility"
        else:
            names[j] = names[min((bull, ranging, bear), key=lambda a: (abs(dire[j] - dire[a]), a))]
    return [str(n) for n in names]


def regime_history(model: RegimeDetector, bars: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-bar regime and confidence for other areas (the selector's training rows); causal."""
    return model.history(bars)


# ---------------------------------------------------------------------------------------- answer


def _volume_trend_label(value: float) -> str:
    if not math.isfinite(value) or abs(value) < VOLUME_FLAT:
        return "flat"
    return "increasing" if value > 0 else "decreasing"


def regime_answer(model: RegimeDetector, bars: pd.DataFrame, symbol: str) -> dict[str, Any]:
    """The market-regime JSON of the contract, as of the last bar of `bars` (callers cut at `--date`)."""
    from paiid.backtest.metrics import bars_per_year

    if len(bars) < MIN_BARS:
        raise NotEnoughHistory(f"regime detection for {symbol}", MIN_BARS, len(bars))
    feats = build_features(bars)
    hist = model.history(bars, feats)
    regime = hist["regime"][-1]
    if regime is None:
        raise NotEnoughHistory(f"regime detection for {symbol}", MIN_BARS, len(bars))
    last = feats.iloc[-1]
    ann = math.sqrt(bars_per_year(bars.index))
    proba = hist["proba"][-1]
    days = int(hist["days"][-1])
    since = bars.index[len(bars) - days]
    ranking = list(model.strategy_ranking_.get(regime, []))
    raw = hist["raw"]
    pending = None
    if raw[-1] != regime:  # another regime leads but has not lasted `min_duration` bars yet
        run = 1
        while run < len(raw) and raw[-1 - run] == raw[-1]:
            run += 1
        pending = {"regime": raw[-1], "bars_so_far": run, "bars_needed": int(model.min_duration)}
    return {
        "symbol": symbol,
        "as_of": bars.index[-1].isoformat(),
        "current_regime": regime,
        "confidence": float(hist["confidence"][-1]),
        "features": {
            "volatility": float(last["rvol_20"]) * ann,
            "trend_strength": float(last["adx_14"]),
            "volume_trend": _volume_trend_label(float(last["volume_trend"])),
        },
        "recommended_strategies": ranking,
        "probabilities": {r: float(p) for r, p in zip(REGIMES, proba, strict=True)},
        "most_probable_today": raw[-1],
        "pending_change": pending,
        "days_in_regime": days,
        "regime_since": since.isoformat(),
        "strategy_sharpe": dict(model.strategy_sharpe_.get(regime, {})),
        "method": model.method,
        "notes": {
            "volatility": "20-bar realised volatility, annualised",
            "trend_strength": "ADX(14), 0-100; above 25 is usually read as a trend",
            "confidence": "forward-filtered probability of the reported regime (uses no later bar)",
            "recommended_strategies":
                "families with a positive out-of-sample Sharpe in this regime, best first",
        },
    }


# ---------------------------------------------------------------------------------------- trainer


def _strategy_returns(bars: pd.DataFrame, features: pd.DataFrame) -> dict[str, np.ndarray]:
    from paiid.backtest import STRATEGIES, run_backtest

    return {sid: np.asarray(run_backtest(bars, sid, features=features).returns, dtype=np.float64)
            for sid in STRATEGIES}


def regime_strategy_sharpe(
    labels: np.ndarray, returns: dict[str, np.ndarray], positions: np.ndarray, bars_per_year: float
) -> dict[str, dict[str, tuple[float, float, int]]]:
    """Per regime and template: (sum, sum of squares, count) of the next bar's return after each bar
    in `positions` labelled with that regime (regime known at t, return earned over t+1)."""
    out: dict[str, dict[str, tuple[float, float, int]]] = {r: {} for r in REGIMES}
    n = len(labels)
    pos = positions[positions + 1 < n]
    for r in REGIMES:
        sel = pos[labels[pos] == r]
        for sid, ret in returns.items():
            x = ret[sel + 1]
            x = x[np.isfinite(x)]
            out[r][sid] = (float(x.sum()), float((x * x).sum()), int(len(x)))
    return out


def _sharpe(s: float, ss: float, n: int, bpy: float) -> float | None:
    if n < 20:
        return None
    mean = s / n
    var = max(ss / n - mean * mean, 0.0) * n / (n - 1)
    return float(mean / math.sqrt(var) * math.sqrt(bpy)) if var > 0 else 0.0


def train(symbols: list[str], *, seed: int = 0, deps: dict[str, Any] | None = None,
          method: str = "kmeans", n_splits: int = 4) -> Trained:
    """Fit the `regime` model on `symbols` and learn which strategy families work in each regime.

    Walk-forward (per symbol, `paiid.data.walk_forward`): for each split a detector is fitted on the
    bars before the test window of every symbol, labels the test window causally, and the templates'
    next-bar returns are accumulated per regime. The final detector is fitted on all bars; the ranking
    and every score in the metadata come from the test windows only.
    """
    from paiid.backtest import STRATEGIES
    from paiid.backtest.metrics import bars_per_year
    from paiid.data import load_bars, walk_forward
    from paiid.ml.base import data_fingerprint
    from paiid.progress import track

    del deps  # the regime model is first in the dependency order
    if not symbols:
        raise BadInput("train the regime model on at least one symbol")
    data = []
    for sym in symbols:
        bars = load_bars(sym)
        if len(bars) >= MIN_BARS + 250:  # too short to fit and test on: skipped, not fatal
            data.append((sym, bars, build_features(bars)))
    if not data:
        longest = max(len(load_bars(s)) for s in symbols)
        raise NotEnoughHistory("training the regime model", MIN_BARS + 250, longest)

    params = {"method": method, "n_clusters": 6, "min_duration": 5, "random_state": seed}
    returns = {sym: _strategy_returns(b, f) for sym, b, f in data}
    splits = {sym: walk_forward(len(b), n_splits=n_splits, min_train=max(MIN_BARS + 250, len(b) // 3))
              for sym, b, _ in data}
    acc: dict[str, dict[str, dict[str, list[float]]]] = {}
    switches = {"smoothed": 0, "raw": 0, "bars": 0}
    fwd: dict[str, list[float]] = {"hv": [], "other": [], "naive_hv": [], "naive_other": []}
    for k in track(range(n_splits), "regime: walk-forward"):
        fit_bars, fit_feats, used = [], [], []
        for sym, b, f in data:
            if k < len(splits[sym]):
                start = int(splits[sym][k].test[0])
                fit_bars.append(b.iloc[:start])
                fit_feats.append(f.iloc[:start])
                used.append(sym)
        if not fit_bars:
            continue
        det = RegimeDetector(**params).fit(fit_bars, features=fit_feats)
        for sym, b, f in data:
            if sym not in used:
                continue
            test = splits[sym][k].test
            hist = det.history(b, f)
            labels = hist["regime"]
            bpy = bars_per_year(b.index)
            stats = regime_strategy_sharpe(labels, returns[sym], test, bpy)
            for r, per in stats.items():
                for sid, (s, ss, n) in per.items():
                    cell = acc.setdefault(sym, {}).setdefault(r, {}).setdefault(sid, [0.0, 0.0, 0.0, bpy])
                    cell[0] += s
                    cell[1] += ss
                    cell[2] += n
            lab = labels[test]
            raw = hist["raw"][test]
            switches["smoothed"] += int(np.sum(lab[1:] != lab[:-1]))
            switches["raw"] += int(np.sum(raw[1:] != raw[:-1]))
            switches["bars"] += len(test)
            # does "high_volatility" now mean higher realised volatility over the next 20 bars?
            r1 = np.log(b["close"].to_numpy()[1:] / b["close"].to_numpy()[:-1])
            fut = pd.Series(np.append(r1, np.nan)).iloc[::-1].rolling(20).std().iloc[::-1].to_numpy()
            ok = test[np.isfinite(fut[test])]
            fwd["hv"] += list(fut[ok][labels[ok] == "high_volatility"])
            fwd["other"] += list(fut[ok][labels[ok] != "high_volatility"])
            thr = float(np.nanquantile(f["rvol_20"].to_numpy()[: test[0]], 0.8))
            nv = naive_regime(b, thr, features=f)
            fwd["naive_hv"] += list(fut[ok][nv[ok] == "high_volatility"])
            fwd["naive_other"] += list(fut[ok][nv[ok] != "high_volatility"])

    # per regime and template: Sharpe per symbol, averaged weighted by bar count
    family = {sid: t.family for sid, t in STRATEGIES.items()}
    sharpe: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for r in REGIMES:
        sharpe[r] = {}
        for sid in STRATEGIES:
            num, den = 0.0, 0
            for sym in acc:
                s, ss, n, bpy = acc[sym].get(r, {}).get(sid, [0.0, 0.0, 0.0, 252.0])
                v = _sharpe(s, ss, int(n), bpy)
                if v is not None:
                    num += v * n
                    den += int(n)
            if den:
                fam = family[sid]
                sharpe[r][fam] = max(sharpe[r].get(fam, -np.inf), num / den)
                counts[r] = max(counts.get(r, 0), den)
    ranking = {r: [f for f, v in sorted(sharpe[r].items(), key=lambda kv: -kv[1]) if v > 0] for r in REGIMES}

    model = RegimeDetector(**params).fit([b for _, b, _ in data], features=[f for _, _, f in data])
    model.strategy_ranking_ = ranking
    model.strategy_sharpe_ = {r: {f: float(v) for f, v in sharpe[r].items()} for r in REGIMES}

    years = switches["bars"] / 252.0 if switches["bars"] else float("nan")

    def _ratio(a: list[float], b: list[float]) -> float | None:
        return float(np.mean(a) / np.mean(b)) if a and b else None

    scores = {
        "cv": "walk-forward",
        "oos_sharpe_by_regime": model.strategy_sharpe_,
        "oos_bars_by_regime": counts,
        "switches_per_year": switches["smoothed"] / years if years else None,
        "switches_per_year_without_min_duration": switches["raw"] / years if years else None,
        "next_20_bar_vol_ratio_high_vs_other": _ratio(fwd["hv"], fwd["other"]),
        "naive_next_20_bar_vol_ratio_high_vs_other": _ratio(fwd["naive_hv"], fwd["naive_other"]),
    }
    metadata = {
        "features": list(INPUT_NAMES),
        "raw_features": list(RAW_FEATURES),
        "params": params,
        "scores": scores,
        "data": [data_fingerprint(sym, b) for sym, b, _ in data],
        "cluster_regime": list(model.cluster_regime_),
        "strategy_ranking": ranking,
    }
    return Trained(model=model, metadata=metadata)
