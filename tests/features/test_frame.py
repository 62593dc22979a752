"""The feature frame: no lookahead, defined after warm-up, scale-free where it says so.

No lookahead is the property every model's honesty rests on: the features of bar t must be
identical whether the frame is computed on the whole series or on the series cut just after t.
Hypothesis picks the cut points (and, for synthetic series, the prices). TA-Lib computes each
prefix with the same operations in the same order, so equality is exact, NaNs included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paiid.data import load_bars
from paiid.features import SCALE_FREE, WARMUP, build_features, feature_rows

SPX = load_bars("SPX")
SPX_FEATURES = build_features(SPX)


def synthetic_bars(n: int, seed: int, vol: float = 0.01) -> pd.DataFrame:
    """A geometric random walk with consistent OHLC and lognormal volume."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, vol, n)))
    open_ = np.r_[close[0], close[:-1]] * np.exp(rng.normal(0, vol / 4, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, vol / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, vol / 2, n)))
    volume = np.exp(rng.normal(13, 0.5, n)).round()
    index = pd.bdate_range("2000-01-03", periods=n, name="date")
    cols = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    return pd.DataFrame(cols, index=index)


def assert_same_prefix(full: pd.DataFrame, bars: pd.DataFrame, t: int) -> None:
    cut = build_features(bars.iloc[: t + 1])
    assert list(cut.columns) == list(full.columns)
    assert cut.index.equals(full.index[: t + 1])
    np.testing.assert_array_equal(cut.to_numpy(), full.iloc[: t + 1].to_numpy())


@settings(max_examples=25, deadline=None)
@given(t=st.integers(0, len(SPX) - 1))
def test_no_lookahead_on_spx(t: int) -> None:
    assert_same_prefix(SPX_FEATURES, SPX, t)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(50, 700), seed=st.integers(0, 2**32 - 1), frac=st.floats(0, 1),
       vol=st.sampled_from([0.002, 0.01, 0.04]))
def test_no_lookahead_on_synthetic_series(n: int, seed: int, frac: float, vol: float) -> None:
    bars = synthetic_bars(n, seed, vol)
    t = min(n - 1, int(frac * n))
    assert_same_prefix(build_features(bars), bars, t)


def test_changing_the_future_does_not_change_the_past() -> None:
    t = 3000
    future_shock = SPX.copy()
    future_shock.iloc[t + 1 :, :4] *= 3.0  # a tripling the day after t
    future_shock.iloc[t + 1 :, 4] = 0.0
    changed = build_features(future_shock)
    before, after = changed.to_numpy(), SPX_FEATURES.to_numpy()
    np.testing.assert_array_equal(before[: t + 1], after[: t + 1])
    assert not np.allclose(before[t + 1], after[t + 1], equal_nan=True)


@pytest.mark.parametrize("symbol", ["SPX", "GOOG", "EURUSD"])
def test_every_column_is_defined_after_warmup(symbol: str) -> None:
    # The longest look-back is the 200-bar SMA, defined from row 199; from WARMUP on nothing is NaN.
    feats = build_features(load_bars(symbol))
    assert np.isfinite(feats.iloc[WARMUP:].to_numpy()).all()
    assert len(feature_rows(feats)) == len(feats) - WARMUP
    assert feats["dist_sma_200"].iloc[: 199].isna().all() and np.isfinite(feats["dist_sma_200"].iloc[199])


def test_columns_match_an_independent_pandas_computation() -> None:
    c = SPX["close"]
    lr = np.log(c).diff()
    expected = {
        "ret_1": lr,
        "ret_20": np.log(c / c.shift(20)),
        "dist_sma_50": c / c.rolling(50).mean() - 1,
        "rvol_20": lr.rolling(20).std(ddof=0),  # population std of the last 20 log returns
        "ma_slope_50": c.rolling(50).mean().pct_change(10),
    }
    for name, series in expected.items():
        got = SPX_FEATURES[name]
        np.testing.assert_allclose(got.iloc[WARMUP:], series.iloc[WARMUP:], rtol=1e-9, atol=1e-12,
                                   err_msg=name)
    lv = np.log1p(SPX["volume"])
    z = (lv - lv.rolling(20).mean()) / lv.rolling(20).std(ddof=0)
    np.testing.assert_allclose(SPX_FEATURES["volume_z"].iloc[WARMUP:], z.iloc[WARMUP:], rtol=1e-7, atol=1e-9)


def test_scale_free_columns_do_not_depend_on_the_price_level() -> None:
    # The reason SCALE_FREE exists: one model serves SPX (~2000) and EURUSD (~1.1).
    scaled = SPX.copy()
    scaled[["open", "high", "low", "close"]] *= 0.00137
    a = SPX_FEATURES[SCALE_FREE].iloc[WARMUP:]
    b = build_features(scaled)[SCALE_FREE].iloc[WARMUP:]
    np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-6, atol=1e-9)
    # ... while the price-level columns do move, so the check can tell them apart.
    atr_scaled = build_features(scaled)["atr_14"].iloc[WARMUP:]
    assert not np.allclose(atr_scaled, SPX_FEATURES["atr_14"].iloc[WARMUP:])


def test_scale_free_lists_real_columns() -> None:
    assert set(SCALE_FREE) <= set(SPX_FEATURES.columns)
    assert len(SCALE_FREE) == len(set(SCALE_FREE))


@pytest.mark.parametrize("n", [0, 1, 2, 30])
def test_short_frames_do_not_crash(n: int) -> None:
    feats = build_features(SPX.iloc[:n])
    assert feats.shape == (n, SPX_FEATURES.shape[1])
    assert feature_rows(feats).empty


def test_flat_prices_and_zero_volume_stay_finite_after_warmup() -> None:
    # Forward-filled gaps produce flat, zero-volume stretches; no division may blow up there.
    bars = synthetic_bars(400, seed=1)
    bars.iloc[250:300, :4] = bars["close"].iloc[249]
    bars.iloc[250:300, 4] = 0.0
    feats = build_features(bars)
    assert np.isfinite(feats[SCALE_FREE].iloc[WARMUP:].to_numpy()).all()
    assert feats["bb_pctb"].iloc[299] == 0.5  # zero-width band: the middle by definition


def test_close_only_bars_define_the_close_features_and_nothing_else() -> None:
    """On SPX with high, low and volume removed: every close feature is the OHLCV value exactly, every
    other column is NaN on every bar (absent, never estimated), as `FEATURE_INPUTS` documents."""
    from paiid.features import CLOSE_ONLY_FEATURES, FEATURE_INPUTS, features_for

    full = load_bars("SPX")
    close_only = full.copy()
    close_only[["open", "high", "low", "volume"]] = np.nan
    with np.errstate(all="raise"):  # nothing divides by or takes the log of an absent value
        got = build_features(close_only)
    want = build_features(full)
    assert set(FEATURE_INPUTS) == set(want.columns)
    assert features_for(["close"]) == CLOSE_ONLY_FEATURES and features_for(list(full.columns)) == list(want)
    assert {"rvol_20", "rsi_14", "ret_1", "dist_sma_200"} <= set(CLOSE_ONLY_FEATURES)
    assert not {"atr_pct", "adx_14", "range_10", "volume_z", "obv_slope"} & set(CLOSE_ONLY_FEATURES)
    for name in want.columns:
        if name in CLOSE_ONLY_FEATURES:
            np.testing.assert_array_equal(got[name].to_numpy(), want[name].to_numpy(), err_msg=name)
            assert got[name].iloc[WARMUP:].notna().all(), name
        else:
            assert got[name].isna().all(), name
