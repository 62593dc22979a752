"""How much of an optimised backtest is luck: the deflated Sharpe ratio and the probability of
backtest overfitting.

Trying many parameter sets and keeping the best inflates the winner's Sharpe ratio even when no
set has any skill. Two corrections are reported beside every optimisation:

* **Deflated Sharpe ratio** (Bailey & López de Prado, 2014). The probabilistic Sharpe ratio (PSR)
  is the probability that the true Sharpe exceeds a benchmark given the estimate's standard error,
  which grows with negative skew and fat tails. The DSR uses as benchmark the Sharpe ratio one
  would *expect as the maximum of N skill-less trials* with the observed spread of trial Sharpes,
  so it falls as the number of trials grows. DSR > 0.95 is the usual bar for "significant".
* **Probability of backtest overfitting** via combinatorially symmetric cross-validation (CSCV,
  Bailey, Borwein, López de Prado & Zhu, 2016). The trial-by-time return matrix is cut into S
  blocks; for every way of choosing S/2 blocks as in-sample, the in-sample winner's rank among all
  trials in the other half is recorded. PBO is the share of splits in which the winner lands at or
  below the out-of-sample median. Skill that persists gives PBO near 0, pure noise about 0.5 (the
  winner's out-of-sample rank is uniform), and anti-persistent selection close to 1.

All Sharpe ratios here are per bar (not annualised): the formulas use the number of observations,
and annualising would only rescale both sides.

Two guards keep the DSR from vouching for what it cannot judge. A result needs `MIN_TRADES` trades
and `MIN_ACTIVE_BARS` bars with a non-zero return before it can be called significant: the PSR treats
every bar as an observation, but a strategy that trades once is one draw however many bars it spans,
and its skew and kurtosis come from a handful of bars (an optimum with 6 active bars in 1,948 had skew
22, kurtosis 508 and a DSR of 0.98). And the DSR is also computed with normal moments; significance
needs both above 0.95, because a large positive skew shrinks the higher-moment standard error
exactly when the skew is estimated from a few lucky bars. Measured on skill-less random-entry
strategies (Student-t(3) market, 1,948 bars, PSR > 0.95 at a nominal 5%): the higher-moment PSR
says "significant" 16% of the time with 6 active bars, 9-10% with 25-50, 6-8% from 100-150, 5% from
500; the normal-moment one 4-6% throughout. 30 trades is the usual minimum for a t-statistic over
independent bets (t(29) 97.5% quantile 2.05 vs 1.96).

One PBO is one block partition: on noise it ranges from under 0.2 to over 0.6, so `pbo_spread`
repeats CSCV over several block counts and offsets and reports the median and the range.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from paiid.metrics import sharpe

EULER_GAMMA = 0.5772156649015329
#: Below this many trades a result is "too few trades to judge", whatever its DSR (see module doc).
MIN_TRADES = 30
#: Below this many bars with a non-zero return the moments behind the PSR are not estimable.
MIN_ACTIVE_BARS = 100
#: The bar "significant" is held to (on both the higher-moment and the normal-moment DSR).
DSR_BAR = 0.95


def probabilistic_sharpe_ratio(
    sharpe: float, n_obs: int, *, skew: float = 0.0, kurtosis: float = 3.0, benchmark: float = 0.0
) -> float:
    """P(true Sharpe > `benchmark`) for a per-bar Sharpe estimated from `n_obs` bars.

    `kurtosis` is the plain (non-excess) kurtosis, 3 for normal returns. The standard error of the
    Sharpe estimate grows with negative skew and fat tails (Mertens 2002), which is why a strategy
    selling tail risk needs a longer record to be believed.
    """
    if n_obs < 2:
        return float("nan")
    var = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    var = max(var, 1e-12)
    z = (sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(var)
    return float(stats.norm.cdf(z))


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """Expected maximum per-bar Sharpe of `n_trials` independent skill-less trials.

    The false-strategy theorem: E[max] ≈ σ_SR((1-γ)Φ⁻¹(1-1/N) + γΦ⁻¹(1-1/(Ne))), with γ the
    Euler-Mascheroni constant and σ_SR the standard deviation of the trials' Sharpe ratios.
    One trial involves no selection, so its benchmark is 0.
    """
    if n_trials <= 1 or sharpe_variance <= 0:
        return 0.0
    n = float(n_trials)
    z1 = stats.norm.ppf(1.0 - 1.0 / n)
    z2 = stats.norm.ppf(1.0 - 1.0 / (n * math.e))
    return float(math.sqrt(sharpe_variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


@dataclass(frozen=True)
class DeflatedSharpe:
    """The DSR and everything it was computed from (so a reader can redo it)."""

    sharpe: float  # per-bar Sharpe of the selected trial
    expected_max_sharpe: float  # SR0: the best Sharpe expected from luck alone
    dsr: float  # P(true Sharpe > SR0), standard error with the observed skew and kurtosis
    psr: float  # P(true Sharpe > 0), ignoring the selection
    dsr_normal: float  # the same DSR with normal moments (skew 0, kurtosis 3)
    psr_normal: float
    n_trials: int
    sharpe_variance: float
    skew: float
    kurtosis: float
    n_obs: int
    active_bars: int  # bars with a non-zero return (n_obs when only summary statistics are known)
    n_trades: int | None = None  # None: not known to this function, not guarded

    @property
    def enough_activity(self) -> bool:
        """Enough trades and active bars for the DSR to mean anything (see the module docstring)."""
        return self.active_bars >= MIN_ACTIVE_BARS and (self.n_trades is None or self.n_trades >= MIN_TRADES)

    @property
    def significant(self) -> bool:
        return bool(self.enough_activity and self.dsr > DSR_BAR and self.dsr_normal > DSR_BAR)

    @property
    def judgement(self) -> str:
        if not self.enough_activity:
            return "too few trades to judge"
        return "significant" if self.significant else "not significant"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "significant": self.significant, "enough_activity": self.enough_activity,
                "judgement": self.judgement, "min_trades": MIN_TRADES, "min_active_bars": MIN_ACTIVE_BARS}


def deflated_sharpe_from_stats(
    sharpe: float,
    n_obs: int,
    *,
    n_trials: int,
    sharpe_variance: float,
    skew: float = 0.0,
    kurtosis: float = 3.0,
    active_bars: int | None = None,
    n_trades: int | None = None,
) -> DeflatedSharpe:
    """DSR from summary statistics (per-bar Sharpe, plain kurtosis)."""
    sr0 = expected_max_sharpe(n_trials, sharpe_variance)

    def psr(benchmark: float, sk: float, ku: float) -> float:
        return probabilistic_sharpe_ratio(sharpe, n_obs, skew=sk, kurtosis=ku, benchmark=benchmark)

    return DeflatedSharpe(
        sharpe=float(sharpe),
        expected_max_sharpe=sr0,
        dsr=psr(sr0, skew, kurtosis),
        psr=psr(0.0, skew, kurtosis),
        dsr_normal=psr(sr0, 0.0, 3.0),
        psr_normal=psr(0.0, 0.0, 3.0),
        n_trials=int(n_trials),
        sharpe_variance=float(sharpe_variance),
        skew=float(skew),
        kurtosis=float(kurtosis),
        n_obs=int(n_obs),
        active_bars=int(n_obs if active_bars is None else active_bars),
        n_trades=None if n_trades is None else int(n_trades),
    )


def deflated_sharpe_ratio(
    returns: np.ndarray, *, n_trials: int, sharpe_variance: float | None = None,
    trial_sharpes: np.ndarray | None = None, n_trades: int | None = None,
) -> DeflatedSharpe:
    """DSR of the selected trial's per-bar `returns` after `n_trials` trials.

    Give the spread of the trials either as `sharpe_variance` or as the trials' per-bar Sharpe
    ratios (`trial_sharpes`, variance with ddof=1). `n_trades` (the selected trial's trade count)
    arms the trade guard; the active-bar guard counts the non-zero returns.
    """
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    if sharpe_variance is None:
        if trial_sharpes is None or len(trial_sharpes) < 2:
            sharpe_variance = 0.0
        else:
            sharpe_variance = float(np.var(np.asarray(trial_sharpes, dtype=np.float64), ddof=1))
    if len(r) > 2 and r.std() > 0:
        skew = float(stats.skew(r))
        kurt = float(stats.kurtosis(r, fisher=False))
    else:
        skew, kurt = 0.0, 3.0
    return deflated_sharpe_from_stats(
        sharpe(r, axis=0), len(r), n_trials=n_trials, sharpe_variance=sharpe_variance,
        skew=skew, kurtosis=kurt, active_bars=int(np.count_nonzero(r)), n_trades=n_trades,
    )


@dataclass(frozen=True)
class PBOResult:
    """CSCV outcome: PBO and the distribution it came from."""

    pbo: float  # share of splits whose in-sample winner ranks at or below the OOS median
    logits: np.ndarray  # λ = log(ω/(1-ω)) per split, ω = OOS relative rank of the IS winner
    n_blocks: int
    n_combinations: int
    n_configs: int
    prob_oos_loss: float  # share of splits in which the IS winner's OOS metric is below 0
    is_oos_slope: float  # slope of OOS on IS metric of the winners (< 0: performance degrades)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pbo": self.pbo,
            "logit_median": float(np.median(self.logits)) if len(self.logits) else None,
            "n_blocks": self.n_blocks,
            "n_combinations": self.n_combinations,
            "n_configs": self.n_configs,
            "prob_oos_loss": self.prob_oos_loss,
            "is_oos_slope": self.is_oos_slope,
        }


def _block_sharpe(s1: np.ndarray, s2: np.ndarray, n: np.ndarray) -> np.ndarray:
    mean = s1 / n
    var = np.maximum(s2 - s1 * s1 / n, 0.0) / np.maximum(n - 1, 1)
    sd = np.sqrt(var)
    return np.where(sd > 1e-15, mean / np.where(sd > 1e-15, sd, 1.0), 0.0)


def probability_of_backtest_overfitting(
    returns: np.ndarray,
    n_blocks: int = 16,
    *,
    metric: str | Callable[[np.ndarray], np.ndarray] = "sharpe",
    max_combinations: int | None = None,
    seed: int = 0,
) -> PBOResult:
    """PBO by CSCV of a (bars x configurations) matrix of per-bar returns.

    `metric` is "sharpe", "mean" or a function mapping a (rows x configs) array to one value per
    config. Ties in out-of-sample rank get the average rank, so N identical configurations give
    ω = 1/2 in every split, i.e. PBO = 1: choosing among them adds nothing over the median.
    Duplicate columns should be removed by the caller when duplicates are an artefact (e.g. an
    optimizer re-trying the same parameters). With `max_combinations`, a seeded random subset of
    the C(S, S/2) splits is used.
    """
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError("PBO needs a 2-D matrix with at least two configurations")
    if n_blocks < 2 or n_blocks % 2:
        raise ValueError("n_blocks must be an even number >= 2")
    t, n_cfg = m.shape
    if t < 2 * n_blocks:
        raise ValueError(f"PBO with {n_blocks} blocks needs at least {2 * n_blocks} rows, got {t}")
    bounds = np.linspace(0, t, n_blocks + 1).astype(int)
    combos = list(itertools.combinations(range(n_blocks), n_blocks // 2))
    if max_combinations is not None and len(combos) > max_combinations:
        pick = np.random.default_rng(seed).choice(len(combos), max_combinations, replace=False)
        combos = [combos[i] for i in sorted(pick)]
    mask = np.zeros((len(combos), n_blocks), dtype=np.float64)
    for i, c in enumerate(combos):
        mask[i, list(c)] = 1.0

    if callable(metric):
        is_perf = np.empty((len(combos), n_cfg))
        oos_perf = np.empty((len(combos), n_cfg))
        blocks = [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        for i, c in enumerate(combos):
            chosen = set(c)
            rows_in = np.concatenate([blocks[j] for j in range(n_blocks) if j in chosen])
            rows_out = np.concatenate([blocks[j] for j in range(n_blocks) if j not in chosen])
            is_perf[i] = metric(m[rows_in])
            oos_perf[i] = metric(m[rows_out])
    else:
        # Sums per block make every split a matrix product instead of a pass over the data.
        s1 = np.add.reduceat(m, bounds[:-1], axis=0)
        s2 = np.add.reduceat(m * m, bounds[:-1], axis=0)
        cnt = np.diff(bounds).astype(np.float64)[:, None] * np.ones((1, n_cfg))
        parts = []
        for sel in (mask, 1.0 - mask):
            a, b, n = sel @ s1, sel @ s2, sel @ cnt
            if metric == "sharpe":
                parts.append(_block_sharpe(a, b, n))
            elif metric == "mean":
                parts.append(a / n)
            else:
                raise ValueError(f"unknown metric {metric!r}: use 'sharpe', 'mean' or a function")
        is_perf, oos_perf = parts

    best = np.argmax(is_perf, axis=1)
    ranks = stats.rankdata(oos_perf, axis=1, method="average")
    omega = ranks[np.arange(len(combos)), best] / (n_cfg + 1.0)
    logits = np.log(omega / (1.0 - omega))
    win_is = is_perf[np.arange(len(combos)), best]
    win_oos = oos_perf[np.arange(len(combos)), best]
    slope = float(np.polyfit(win_is, win_oos, 1)[0]) if np.ptp(win_is) > 0 else 0.0
    return PBOResult(
        pbo=float(np.mean(omega <= 0.5 + 1e-12)),
        logits=logits,
        n_blocks=n_blocks,
        n_combinations=len(combos),
        n_configs=n_cfg,
        prob_oos_loss=float(np.mean(win_oos < 0)),
        is_oos_slope=slope,
    )


def dedupe_columns(returns: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct column (repeated trials are one config)."""
    m = np.ascontiguousarray(np.asarray(returns, dtype=np.float64).T)
    seen: dict[bytes, int] = {}
    for i, row in enumerate(m):
        seen.setdefault(row.tobytes(), i)
    return np.array(sorted(seen.values()), dtype=int)
