"""`paiid.metrics` against scikit-learn and values computed by hand (plain Python, the statistics module)."""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_auc_score

from paiid.metrics import (
    auc,
    bars_per_year_from_spacing,
    brier,
    calibration_bins,
    column_auc,
    column_brier,
    expected_calibration_error,
    sharpe,
    sharpe_from_sums,
    sortino,
    volatility,
)

R = [0.0, 0.01, -0.02, 0.03, -0.01, 0.02]


def _hand_sharpe(r: list[float], bpy: float) -> float:
    return statistics.mean(r) / statistics.stdev(r) * math.sqrt(bpy)


def test_sharpe_flat_and_along_an_axis_by_hand():
    assert sharpe(np.array(R), 252.0) == pytest.approx(_hand_sharpe(R, 252.0), rel=1e-12)
    assert sharpe(np.array(R), 252.0, axis=0) == pytest.approx(_hand_sharpe(R, 252.0), rel=1e-12)
    assert sharpe(np.array(R)) == pytest.approx(_hand_sharpe(R, 1.0), rel=1e-12)  # per bar by default
    cols = np.random.default_rng(0).normal(0.001, 0.01, (300, 4))
    by_column = sharpe(cols, 52.0, axis=0)
    assert by_column.shape == (4,)
    for j in range(4):
        assert by_column[j] == pytest.approx(_hand_sharpe(cols[:, j].tolist(), 52.0), rel=1e-12)


def test_sharpe_without_variance_or_returns_is_zero():
    for axis in (None, 0):
        assert sharpe(np.full(10, 0.01), 252.0, axis=axis) == 0.0
        assert sharpe(np.array([0.05]), 252.0, axis=axis) == 0.0
        assert sharpe(np.zeros(0), 252.0, axis=axis) == 0.0
    np.testing.assert_array_equal(sharpe(np.ones((5, 3)), axis=0), np.zeros(3))
    np.testing.assert_array_equal(sharpe(np.ones((1, 3)), axis=0), np.zeros(3))


def test_sharpe_from_running_sums_matches_the_series():
    r = np.random.default_rng(1).normal(0.0005, 0.01, 1000)
    halves = (r[:400], r[400:])  # accumulated piece by piece
    s = sum(float(h.sum()) for h in halves)
    ss = sum(float((h * h).sum()) for h in halves)
    assert sharpe_from_sums(s, ss, len(r), 252.0) == pytest.approx(_hand_sharpe(r.tolist(), 252.0), rel=1e-9)
    assert sharpe_from_sums(0.05, 0.0025, 1, 252.0) == 0.0
    assert sharpe_from_sums(1.5, 0.75, 3, 252.0) == 0.0  # three returns of 0.5: no variance


def test_sortino_and_volatility_by_hand():
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in R) / len(R))
    hand = statistics.mean(R) / downside * math.sqrt(252)
    assert sortino(np.array(R), 252.0) == pytest.approx(hand, rel=1e-12)
    assert sortino(np.array([0.0, 0.01, 0.02]), 252.0) == math.inf  # no losing bar, positive mean
    assert volatility(np.array(R), 252.0) == pytest.approx(statistics.stdev(R) * math.sqrt(252), rel=1e-12)
    assert volatility(np.array([0.01]), 252.0) == 0.0


def test_bars_per_year_from_the_spacing_of_the_first_bars():
    daily = pd.date_range("2020-01-01", periods=600, freq="D")
    assert bars_per_year_from_spacing(daily) == 252.0
    hourly = pd.date_range("2020-01-01", periods=600, freq="h")
    assert bars_per_year_from_spacing(hourly) == pytest.approx(252 * 24)
    # bars after the first 500 do not change it (a causal input must not move when history grows)
    longer = hourly.append(pd.date_range(hourly[-1] + pd.Timedelta(minutes=1), periods=2000, freq="min"))
    assert bars_per_year_from_spacing(longer) == bars_per_year_from_spacing(hourly)
    assert bars_per_year_from_spacing(pd.RangeIndex(10)) == 252.0


def test_brier_by_hand():
    y = [0, 1, 1, 0, 1]
    p = [0.1, 0.8, 0.4, 0.3, 1.0]
    by_hand = sum((a - b) ** 2 for a, b in zip(p, y, strict=True)) / 5
    assert brier(np.array(y), np.array(p)) == pytest.approx(by_hand, rel=1e-12)
    yy = np.array([[0, 1], [1, 1], [1, 0]])
    pp = np.array([[0.2, 0.9], [0.6, 0.5], [0.7, 0.1]])
    by_hand = [(0.2**2 + 0.4**2 + 0.3**2) / 3, (0.1**2 + 0.5**2 + 0.1**2) / 3]
    np.testing.assert_allclose(column_brier(yy, pp), by_hand, rtol=1e-12)


def _hand_auc(y: list[int], p: list[float]) -> float:
    """Share of (positive, negative) pairs ranked the right way round, ties counting one half."""
    scored = list(zip(p, y, strict=True))
    pairs = [(a, b) for (a, ya), (b, yb) in itertools.product(scored, repeat=2) if ya == 1 and yb == 0]
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)


def test_auc_by_hand_and_none_with_one_class():
    y = [0, 1, 1, 0, 1, 0]
    p = [0.2, 0.7, 0.2, 0.6, 0.9, 0.1]
    assert auc(np.array(y), np.array(p)) == pytest.approx(_hand_auc(y, p))
    assert auc(np.ones(4), np.array([0.1, 0.2, 0.3, 0.4])) is None


def test_column_auc_is_roc_auc_score_of_each_column():
    """The bootstrap scores all resamples at once; each column's AUC is scikit-learn's, ties included."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, (200, 40))
    p = np.round(rng.random((200, 40)), 1)  # coarse scores: many ties
    expected = [roc_auc_score(y[:, j], p[:, j]) for j in range(40)]
    np.testing.assert_allclose(column_auc(y, p), expected, rtol=1e-12)


def test_calibration_bins_by_hand():
    edges = np.array([0.0, 0.5, 1.0])
    y = np.array([0, 1, 1, 1, 0])
    p = np.array([0.1, 0.3, 0.5, 0.9, 1.2])  # 0.5 is on the inner edge: the upper bin; 1.2 the last bin
    lo, hi = calibration_bins(y, p, edges)
    assert (lo.lo, lo.hi, lo.n) == (0.0, 0.5, 2)
    assert lo.mean_predicted == pytest.approx(0.2) and lo.observed == pytest.approx(0.5)
    assert (hi.lo, hi.hi, hi.n) == (0.5, 1.0, 3)
    assert hi.mean_predicted == pytest.approx((0.5 + 0.9 + 1.2) / 3) and hi.observed == pytest.approx(2 / 3)
    assert calibration_bins(y, np.full(5, 0.1), np.linspace(0, 1, 11))[0].n == 5  # empty bins left out
    gap = (2 * abs(0.2 - 0.5) + 3 * abs((0.5 + 0.9 + 1.2) / 3 - 2 / 3)) / 5
    assert expected_calibration_error([lo, hi]) == pytest.approx(gap)
    assert expected_calibration_error([]) is None


def test_calibration_bins_agree_with_scikit_learn_off_the_edges():
    rng = np.random.default_rng(4)
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    table = calibration_bins(y, p, np.linspace(0, 1, 11))
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10)
    np.testing.assert_allclose([b.observed for b in table], prob_true, rtol=1e-12)
    np.testing.assert_allclose([b.mean_predicted for b in table], prob_pred, rtol=1e-12)


def test_quantile_bins_hold_every_forecast_even_with_ties():
    """Quantile edges (the trade model's reliability table): the largest forecast is in the last bin."""
    p = np.array([0.2, 0.2, 0.2, 0.4, 0.4, 0.7, 0.9, 0.9])
    y = np.array([0, 1, 0, 1, 1, 0, 1, 1])
    table = calibration_bins(y, p, np.quantile(p, np.linspace(0, 1, 6)))
    assert sum(b.n for b in table) == len(p)
    assert table[-1].mean_predicted == pytest.approx(0.9) and table[0].mean_predicted == pytest.approx(0.2)
