"""DSR and PBO against cases whose answers follow from first principles or the paper's worked example."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from paiid.ml.overfitting import (
    dedupe_columns,
    deflated_sharpe_from_stats,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)


def test_dsr_matches_bailey_lopez_de_prado_worked_example():
    # Bailey & López de Prado (2014), section "A numerical example": annualised SR 2.5 over
    # 5 years of daily data (T=1250), N=100 trials with annualised V[SR]=1/2, skew -3,
    # kurtosis 10 -> SR0 ≈ 0.1132 per day and DSR ≈ 0.9004.
    res = deflated_sharpe_from_stats(
        2.5 / math.sqrt(250), 1250, n_trials=100, sharpe_variance=0.5 / 250, skew=-3.0, kurtosis=10.0
    )
    assert res.expected_max_sharpe == pytest.approx(0.1132, abs=5e-4)
    assert res.dsr == pytest.approx(0.9004, abs=2e-3)
    assert not res.significant  # 0.90 < 0.95


def test_dsr_with_one_trial_is_the_psr_and_normal_psr_is_a_z_test():
    sr, n = 0.05, 500
    one = deflated_sharpe_from_stats(sr, n, n_trials=1, sharpe_variance=0.01)
    assert one.expected_max_sharpe == 0.0
    assert one.dsr == pytest.approx(one.psr)
    # Normal returns: the standard error of SR is sqrt((1 + SR²/2)/(n-1)).
    z = sr / math.sqrt((1 + sr**2 / 2) / (n - 1))
    assert one.psr == pytest.approx(stats.norm.cdf(z), rel=1e-9)


def test_dsr_falls_as_trials_grow_and_sr0_grows():
    sr0 = [expected_max_sharpe(n, 0.002) for n in (1, 2, 5, 10, 100, 1000, 10000)]
    assert all(b > a for a, b in itertools.pairwise(sr0))
    dsr = [deflated_sharpe_from_stats(0.1, 1000, n_trials=n, sharpe_variance=0.002).dsr
           for n in (1, 2, 5, 10, 100, 1000)]
    assert all(b < a for a, b in itertools.pairwise(dsr))


def test_expected_max_sharpe_matches_simulation():
    # The false-strategy theorem against brute force: max of N standard normals, scaled.
    rng = np.random.default_rng(1)
    n, sd = 50, 0.03
    sim = (rng.standard_normal((20000, n)) * sd).max(axis=1).mean()
    assert expected_max_sharpe(n, sd**2) == pytest.approx(sim, rel=0.03)


def test_negative_skew_and_fat_tails_lower_psr():
    base = probabilistic_sharpe_ratio(0.08, 400)
    assert probabilistic_sharpe_ratio(0.08, 400, skew=-2.0) < base
    assert probabilistic_sharpe_ratio(0.08, 400, kurtosis=12.0) < base


def test_deflated_sharpe_from_returns_uses_their_moments():
    rng = np.random.default_rng(0)
    r = rng.standard_normal(2000) * 0.01 + 0.001
    res = deflated_sharpe_ratio(r, n_trials=20, trial_sharpes=rng.standard_normal(20) * 0.03)
    assert res.sharpe == pytest.approx(r.mean() / r.std(ddof=1))
    assert res.kurtosis == pytest.approx(stats.kurtosis(r, fisher=False))
    assert res.n_obs == 2000
    assert 0 <= res.dsr <= res.psr <= 1


def _pbo_brute_force(m: np.ndarray, s: int) -> float:
    """Straight from the definition with loops, means as the metric and ordinal comparisons."""
    t, n = m.shape
    edges = np.linspace(0, t, s + 1).astype(int)
    blocks = [list(range(a, b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    overfit = total = 0
    for c in itertools.combinations(range(s), s // 2):
        rows_in = [i for j in c for i in blocks[j]]
        rows_out = [i for j in range(s) if j not in c for i in blocks[j]]
        perf_in = [m[rows_in, k].mean() for k in range(n)]
        perf_out = [m[rows_out, k].mean() for k in range(n)]
        star = max(range(n), key=lambda k: perf_in[k])
        below = sum(p < perf_out[star] for p in perf_out)
        equal = sum(p == perf_out[star] for p in perf_out)
        rank = below + (equal + 1) / 2  # average rank among ties
        overfit += rank / (n + 1) <= 0.5
        total += 1
    return overfit / total


def test_pbo_matches_a_brute_force_reading_of_the_definition():
    rng = np.random.default_rng(3)
    m = rng.standard_normal((120, 7)) * 0.01 + np.linspace(-0.001, 0.001, 7)
    ours = probability_of_backtest_overfitting(m, n_blocks=8, metric="mean").pbo
    assert ours == pytest.approx(_pbo_brute_force(m, 8))


def test_pbo_of_identical_strategies_is_one():
    col = np.random.default_rng(0).standard_normal(400)
    res = probability_of_backtest_overfitting(np.tile(col[:, None], (1, 10)), n_blocks=8)
    assert res.pbo == 1.0
    np.testing.assert_allclose(res.logits, 0.0, atol=1e-12)


def test_pbo_of_a_persistently_dominant_strategy_is_zero():
    rng = np.random.default_rng(0)
    m = rng.standard_normal((1600, 20)) * 0.01
    m[:, 7] += 0.01  # a Sharpe of ~1 per bar: the best in every half of the data
    res = probability_of_backtest_overfitting(m, n_blocks=16)
    assert res.n_combinations == math.comb(16, 8)
    assert res.pbo == 0.0
    assert res.prob_oos_loss == 0.0


def test_pbo_of_anti_persistent_strategies_is_one():
    # Each column sums to zero over the whole sample, so in-sample mean = -out-of-sample mean:
    # the in-sample winner is always the out-of-sample loser.
    rng = np.random.default_rng(0)
    m = rng.standard_normal((320, 12))
    m -= m.mean(axis=0)
    res = probability_of_backtest_overfitting(m, n_blocks=10, metric="mean")
    assert res.pbo == 1.0
    assert res.is_oos_slope < 0


def test_pbo_of_noise_is_near_one_half():
    # Under no skill the winner's OOS rank is uniform, so PBO's expectation is 1/2.
    vals = [probability_of_backtest_overfitting(
        np.random.default_rng(s).standard_normal((800, 30)), n_blocks=10).pbo for s in range(6)]
    assert 0.3 < float(np.mean(vals)) < 0.7


def test_pbo_rejects_bad_input():
    with pytest.raises(ValueError):
        probability_of_backtest_overfitting(np.zeros((100, 1)))
    with pytest.raises(ValueError):
        probability_of_backtest_overfitting(np.zeros((100, 3)), n_blocks=5)
    with pytest.raises(ValueError):
        probability_of_backtest_overfitting(np.zeros((10, 3)), n_blocks=16)


def test_pbo_subsampled_combinations_are_seeded():
    m = np.random.default_rng(2).standard_normal((640, 8))
    a = probability_of_backtest_overfitting(m, 16, max_combinations=500, seed=4)
    b = probability_of_backtest_overfitting(m, 16, max_combinations=500, seed=4)
    assert a.n_combinations == 500 and a.pbo == b.pbo


def test_dedupe_columns_keeps_first_of_each():
    m = np.array([[1, 2, 1, 3], [4, 5, 4, 6]], dtype=float)
    assert dedupe_columns(m).tolist() == [0, 1, 3]
