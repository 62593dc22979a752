"""The one home of the scores every layer reports: Sharpe, Sortino, bars per year, Brier, AUC, calibration.

It sits at the bottom of the house (numpy, pandas, scipy and scikit-learn only) so that the backtest,
the ML areas and the engine all compute a score the same way without importing each other.

Definitions (r = per-bar returns, B = bars per year):
- sharpe = mean(r) / std(r, ddof=1) * sqrt(B), risk-free rate 0; 0 when r has fewer than two returns
  or no variance (std <= 1e-15, where the ratio is rounding noise rather than a claim).
- sortino = mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(B) (downside deviation against 0 over all
  bars); +inf when there is no losing bar and the mean is positive.
- bars per year come from the index (bars counted over the calendar span), so daily equities get
  ~252 and EURUSD hourly ~6,200 without anyone having to say which timeframe the data has.
- uncertainty: `block_bootstrap` (circular blocks, percentile 95% interval and two-sided p-value),
  `effective_sample_size` (autocorrelation-adjusted n) and `wilson_interval` (success rates), so that
  every edge the project reports has its interval computed one way.
- brier = mean((p - y) ** 2) for binary outcomes y (scikit-learn's `brier_score_loss`); auc is
  scikit-learn's `roc_auc_score`, None when only one class is present (no ranking to score).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.metrics import brier_score_loss, mean_squared_error, roc_auc_score

DAYS_PER_YEAR = 365.25
#: A standard deviation at or below this is rounding noise: the Sharpe ratio is reported as 0.
MIN_STD = 1e-15
_NS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


# ------------------------------------------------------------------------------------ bars per year


def bars_per_year(index: pd.DatetimeIndex | None, default: float = 252.0) -> float:
    """Bars per year estimated from a datetime index: (bars - 1) / span in years.

    Falls back to `default` when the index spans less than a week (too short to estimate)."""
    if index is None or len(index) < 2:
        return default
    i8 = index.asi8 if isinstance(index, pd.DatetimeIndex) else pd.DatetimeIndex(index).asi8
    span_days = float(i8[-1] - i8[0]) / (86400.0 * _NS[str(getattr(index, "unit", "ns"))])
    if span_days < 7:
        return default
    return (len(index) - 1) / (span_days / DAYS_PER_YEAR)


def bars_per_year_from_spacing(index: pd.Index) -> float:
    """Bars per year from the spacing of the *first* bars, so that a later bar never changes it (what a
    causal feature needs; `bars_per_year` looks at the whole span): 252 for daily bars,
    252 x 24 h / spacing for intraday ones (a 24-hour market such as FX; for a stock's 6.5-hour
    session this overstates the annualised level)."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        return 252.0
    step = pd.Series(index[:500]).diff().median()
    if pd.isna(step) or step >= pd.Timedelta(hours=20) or step <= pd.Timedelta(0):
        return 252.0
    return 252.0 * pd.Timedelta(hours=24) / step


# --------------------------------------------------------------------------------- return ratios


def _mean_std(r: np.ndarray) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) of a flat series with less overhead than
    ndarray.std (one dot product; the backtest calls this for every run of an optimisation)."""
    n = r.size
    mean = float(r.sum()) / n
    dev = r - mean
    return mean, math.sqrt(float(np.dot(dev, dev)) / (n - 1))


def sharpe(returns: np.ndarray, bars_per_year: float = 1.0, *, axis: int | None = None) -> float | np.ndarray:
    """Sharpe ratio of per-bar returns, annualised by sqrt(`bars_per_year`) (1 = per bar).

    `axis=None` treats `returns` as one flat series (the fast path). With an `axis` the ratio is taken
    along it with numpy's mean and std, e.g. for every column of a trial-by-time matrix at once. The
    two sum the squared deviations in a different order, so they can differ in the last digit
    (~1e-16 relative); each caller keeps the one its published numbers were computed with.
    """
    r = np.asarray(returns, dtype=np.float64)
    if axis is None:
        if r.size < 2:
            return 0.0
        mean, sd = _mean_std(r.ravel())
        return float(mean / sd * math.sqrt(bars_per_year)) if sd > MIN_STD else 0.0
    if r.shape[axis] < 2:
        out = np.zeros(np.delete(r.shape, axis))
    else:
        mu = r.mean(axis=axis)
        sd = r.std(axis=axis, ddof=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(sd > MIN_STD, mu / np.where(sd > MIN_STD, sd, 1.0), 0.0) * math.sqrt(bars_per_year)
    return float(out) if np.ndim(out) == 0 else out


def sharpe_from_sums(total: float, total_sq: float, n: int, bars_per_year: float = 1.0) -> float:
    """The Sharpe ratio from running sums (sum, sum of squares, count), for returns accumulated piece by
    piece without keeping them; 0 below two returns or without variance.

    The variance sum_sq / n - mean ** 2 cancels digits when the mean is large against the spread (a
    constant series of 0.1 leaves a variance of ~1e-19 rather than 0); per-bar returns, whose mean is
    small against their spread, lose nothing that shows."""
    if n < 2:
        return 0.0
    mean = total / n
    var = max(total_sq / n - mean * mean, 0.0) * n / (n - 1)
    return float(mean / math.sqrt(var) * math.sqrt(bars_per_year)) if var > 0 else 0.0


def volatility(returns: np.ndarray, bars_per_year: float = 1.0) -> float:
    """Annualised standard deviation (ddof=1) of per-bar returns; 0 below two returns."""
    r = np.asarray(returns, dtype=np.float64)
    return float(_mean_std(r.ravel())[1] * math.sqrt(bars_per_year)) if r.size > 1 else 0.0


def sortino(returns: np.ndarray, bars_per_year: float = 1.0) -> float:
    """Sortino ratio: mean over the downside deviation against 0 (all bars), annualised."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2:
        return 0.0
    mean = float(r.sum()) / r.size
    down = np.minimum(r, 0.0)
    dd = math.sqrt(float(np.dot(down, down)) / r.size)
    if not dd > MIN_STD:
        return math.inf if mean > 0 else 0.0
    return float(mean / dd * math.sqrt(bars_per_year))


# -------------------------------------------------------------------------- probability forecasts


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Brier score of probabilities `p` for binary outcomes `y` (lower is better)."""
    return float(brier_score_loss(y, p))


def auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """ROC AUC of scores `p` for binary outcomes `y`, or None when only one class is present."""
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None


def column_brier(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The Brier score of every column at once (the mean squared error of the probabilities;
    `brier_score_loss` takes one column), e.g. over bootstrap resamples."""
    return mean_squared_error(y, p, multioutput="raw_values")


def column_auc(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """ROC AUC of every column (each with both classes) at once: the Mann-Whitney U of the positives'
    ranks (ties averaged), which is what `roc_auc_score` computes. Why not call that: it spends ~3 ms a
    call checking its input, and a bootstrap calls it thousands of times."""
    pos = y == 1
    n1 = pos.sum(axis=0)
    n0 = len(y) - n1
    ranks = rankdata(p, axis=0)
    return (np.where(pos, ranks, 0.0).sum(axis=0) - n1 * (n1 + 1) / 2) / (n1 * n0)


class CalibrationBin(NamedTuple):
    """One bin of a reliability table: its edges, how many forecasts fell in it, their mean
    probability and the observed frequency of the outcome."""

    lo: float
    hi: float
    n: int
    mean_predicted: float
    observed: float


def calibration_bins(y: np.ndarray, p: np.ndarray, edges: np.ndarray) -> list[CalibrationBin]:
    """Reliability table of probabilities `p` against outcomes `y` over the bins between `edges`
    (fixed, e.g. `np.linspace(0, 1, 11)`, or quantiles of `p`); empty bins are left out.

    A forecast equal to an inner edge goes to the bin above it, and forecasts outside the edges go to
    the first or last bin. (scikit-learn's `calibration_curve` puts a forecast on an edge in the bin
    below and returns no counts, which the expected calibration error needs.)
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    which = np.digitize(p, edges[1:-1])
    out = []
    for b in range(len(edges) - 1):
        m = which == b
        if m.any():
            out.append(CalibrationBin(float(edges[b]), float(edges[b + 1]), int(m.sum()),
                                      float(p[m].mean()), float(y[m].mean())))
    return out


def expected_calibration_error(bins: list[CalibrationBin]) -> float | None:
    """Mean gap |mean probability - observed frequency| over the forecasts of a reliability table
    (each bin weighted by its count); None for an empty table."""
    n = sum(b.n for b in bins)
    return float(sum(b.n * abs(b.mean_predicted - b.observed) for b in bins) / n) if n else None


# ------------------------------------------------------------------------------------- uncertainty
#: Bootstrap resamples for every confidence interval the project reports.
N_BOOT = 1000


class Interval(NamedTuple):
    """A point estimate with its 95% interval and the two-sided p-value of "the true value is 0"."""

    estimate: float
    ci95: tuple[float, float] | None
    p_value: float | None
    n: int
    block: int

    def as_dict(self) -> dict[str, object]:
        return {"estimate": self.estimate, "ci95": None if self.ci95 is None else list(self.ci95),
                "p_value": self.p_value, "n": self.n, "block": self.block,
                "significant": bool(self.p_value is not None and self.p_value < 0.05)}


def block_indices(n: int, block: int, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """Row indices of `n_boot` circular-block-bootstrap resamples, one resample per column (n x n_boot).

    Blocks of `block` consecutive rows (rows in time order) keep the serial dependence of overlapping
    labels or autocorrelated returns inside each resample; resampling rows one by one would understate
    the uncertainty. A fixed `seed` makes every interval reproducible."""
    block = int(min(max(block, 1), max(n, 1)))
    rng = np.random.default_rng(seed)
    k = int(np.ceil(n / block))
    starts = rng.integers(0, n, size=(n_boot, k))
    return ((starts[:, :, None] + np.arange(block)) % n).reshape(n_boot, -1)[:, :n].T


def block_bootstrap(
    stat: Callable[..., np.ndarray], *series: np.ndarray, block: int, n_boot: int = N_BOOT, seed: int = 0
) -> Interval:
    """`stat` of aligned `series` with its circular-block-bootstrap 95% interval and p-value.

    `stat(*columns)` gets each series as a 2-D array (rows x resamples) and returns one value per
    column, so a resample costs one vectorised call: e.g. `lambda a, b: sharpe(a, B, axis=0) -
    sharpe(b, B, axis=0)` for a Sharpe margin. The p-value is the two-sided percentile-bootstrap one
    (twice the smaller share of resamples on either side of 0), None below two rows.
    """
    cols = [np.asarray(s, np.float64) for s in series]
    n = len(cols[0])
    if any(len(c) != n for c in cols):
        raise ValueError("block_bootstrap: series of different lengths")
    est = float(np.asarray(stat(*[c[:, None] for c in cols])).ravel()[0]) if n else float("nan")
    if n < 2:
        return Interval(est, None, None, n, int(block))
    idx = block_indices(n, block, n_boot, seed)
    values = np.asarray(stat(*[c[idx] for c in cols]), np.float64)
    values = values[np.isfinite(values)]
    if not values.size:
        return Interval(est, None, None, n, int(block))
    lo, hi = np.quantile(values, [0.025, 0.975])
    p = float(min(1.0, 2.0 * min((values <= 0).mean(), (values >= 0).mean())))
    return Interval(est, (float(lo), float(hi)), p, n, int(min(max(block, 1), n)))


def effective_sample_size(x: np.ndarray) -> float:
    """How many independent observations a serially correlated series is worth: n / (1 + 2 sum rho_k),
    the autocorrelations summed up to the first lag where they turn non-positive (Geyer's initial
    positive sequence, simplified). Overlapping 20-bar outcomes sampled every 5 bars are worth about a
    quarter of their count; this says so from the data rather than from an assumption."""
    x = np.asarray(x, np.float64)
    x = x[np.isfinite(x)]
    n = x.size
    if n < 3:
        return float(n)
    d = x - x.mean()
    var = float(np.dot(d, d))
    if var <= 0:
        return float(n)
    acf = np.correlate(d, d, mode="full")[n - 1:] / var
    total = 0.0
    for rho in acf[1: n // 2]:
        if rho <= 0:
            break
        total += float(rho)
    return float(n / (1.0 + 2.0 * total))


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float] | None:
    """Wilson score 95% interval of a success rate (None for no cases): honest at small n and at rates
    near 0 or 1, where the normal approximation gives intervals outside [0, 1]."""
    if n <= 0:
        return None
    p = successes / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))
