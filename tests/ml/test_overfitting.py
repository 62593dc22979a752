"""DSR and PBO against cases whose answers follow from first principles or the paper's worked example."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from paiid.ml.optimize.partitions import PBO_BLOCKS, PBO_OFFSETS, pbo_spread
from paiid.ml.overfitting import (
    MIN_TRADES,
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


def test_one_trade_optimum_is_too_few_trades_to_judge():
    # The finding of issue 14: one trade of 6 bars in 1,948, huge skew and kurtosis. The PSR treats the
    # 1,948 bars as observations and the positive skew shrinks its standard error, so without the guard
    # this would pass the 0.95 bar on both moment sets; it is one draw.
    r = np.zeros(1948)
    r[900:906] = [0.04, 0.03, 0.05, 0.02, 0.06, 0.03]
    assert stats.skew(r) > 15 and stats.kurtosis(r, fisher=False) > 250
    res = deflated_sharpe_ratio(r, n_trials=1)
    assert res.dsr > 0.95 and res.dsr_normal > 0.95  # what the numbers alone would say
    assert res.active_bars == 6
    assert not res.enough_activity and not res.significant
    assert res.judgement == "too few trades to judge"
    assert res.as_dict()["judgement"] == "too few trades to judge" and res.as_dict()["significant"] is False
    # Active bars alone are not enough: a long record of few trades is still few trades.
    rng = np.random.default_rng(0)
    busy = rng.standard_normal(2000) * 0.01 + 0.002
    assert deflated_sharpe_ratio(busy, n_trials=1).significant  # 2,000 active bars, trades not given
    few = deflated_sharpe_ratio(busy, n_trials=1, n_trades=MIN_TRADES - 1)
    assert few.dsr > 0.95 and not few.significant and few.judgement == "too few trades to judge"
    assert deflated_sharpe_ratio(busy, n_trials=1, n_trades=MIN_TRADES).significant


def test_normal_moment_dsr_is_reported_and_both_must_pass():
    # Per-bar SR 0.05 over 1,000 bars, one trial: with normal moments z = SR sqrt(n-1) / sqrt(1 + SR²/2)
    # gives 0.943; a skew of +3 shrinks the variance to 1 - 3 SR + ... and lifts the PSR over 0.95.
    sr, n = 0.05, 1000
    res = deflated_sharpe_from_stats(sr, n, n_trials=1, sharpe_variance=0.0, skew=3.0, kurtosis=3.0)
    z_normal = sr * math.sqrt(n - 1) / math.sqrt(1 + sr**2 / 2)
    assert res.dsr_normal == pytest.approx(stats.norm.cdf(z_normal), rel=1e-12)
    assert res.psr_normal == pytest.approx(res.dsr_normal)  # one trial: SR0 = 0
    z_skew = sr * math.sqrt(n - 1) / math.sqrt(1 - 3.0 * sr + 0.5 * sr**2)
    assert res.dsr == pytest.approx(stats.norm.cdf(z_skew), rel=1e-12)
    assert res.dsr > 0.95 > res.dsr_normal
    assert not res.significant and res.judgement == "not significant"
    # Negative skew lowers the higher-moment DSR below the normal one: the minimum still rules.
    neg = deflated_sharpe_from_stats(0.08, n, n_trials=1, sharpe_variance=0.0, skew=-3.0, kurtosis=3.0)
    assert neg.dsr < neg.dsr_normal
    assert {"dsr", "dsr_normal", "psr_normal", "n_trades", "active_bars", "min_trades",
            "min_active_bars"} <= set(res.as_dict())


def test_pbo_spread_on_noise_has_a_median_near_one_half_and_a_reported_range():
    # Expectation under no skill is 1/2 (the winner's out-of-sample rank is uniform).
    medians = []
    for s in range(6):
        m = np.random.default_rng(10 + s).standard_normal((800, 30))
        spread = pbo_spread(m)
        assert spread is not None
        assert {(r["n_blocks"], r["offset_bars"] > 0) for r in spread.runs} == {
            (b, off) for b in PBO_BLOCKS for off in (False, True)}
        assert len(spread.runs) == len(PBO_BLOCKS) * PBO_OFFSETS
        assert spread.low <= spread.median <= spread.high
        assert spread.low == min(r["pbo"] for r in spread.runs)
        assert spread.high == max(r["pbo"] for r in spread.runs)
        # The reference run is the classic single value: 16 blocks from the first bar.
        assert spread.reference.n_blocks == 16
        assert spread.reference.pbo == probability_of_backtest_overfitting(m, 16).pbo
        d = spread.as_dict()
        assert d["pbo"] == spread.median and d["pbo_range"] == [spread.low, spread.high]
        assert len(d["pbo_runs"]) == len(spread.runs)
        medians.append(spread.median)
        assert spread.high > spread.low  # one partition is not the whole story on noise
    # One noise history's median still varies (measured sd 0.19 over 40 histories of 800 x 30): the
    # partitions remove the arbitrariness of the cut, not the sampling noise of the history itself.
    assert 0.35 < float(np.mean(medians)) < 0.65, medians


def test_pbo_spread_of_a_dominant_strategy_is_zero_everywhere():
    rng = np.random.default_rng(0)
    m = rng.standard_normal((1600, 12)) * 0.01
    m[:, 3] += 0.01
    spread = pbo_spread(m)
    assert spread.median == spread.low == spread.high == 0.0 and not spread.wide
    assert pbo_spread(m[:, :1]) is None  # one configuration: nothing to overfit
    assert [r["n_blocks"] for r in pbo_spread(m[:19]).runs] == [8] * PBO_OFFSETS  # 2 rows a block
