"""The real-market layer: volatile bears apart from volatile whipsaws, real bear markets labelled bearish,
point-in-time fits, and the out-of-distribution flag."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paiid.data import as_of, load_bars
from paiid.features import WARMUP
from paiid.ml.base import Trained
from paiid.ml.regime import RegimeDetector, regime_answer, train
from paiid.ml.regime.inputs import log_positive, raw_features
from paiid.ml.regime.market import details, drift_context, regime_map
from paiid.ml.regime.realdata import agreement, criteria, yearly_refit_labels

#: The statistical jump model's published month-end shares (Shu, Mulvey et al., as issue 14 quotes them):
#: 100 % of the 2000-02 decline's and of autumn 2008's month-ends bear, 14-31 % of 2004-06's (the bull
#: market) too. External numbers, not this code's output.
PEER_DECLINE_SHARE = 1.0
PEER_BULL_SHARE_MIN = 0.14


@pytest.fixture(scope="module")
def spx() -> pd.DataFrame:
    return load_bars("SPX")


@pytest.fixture(scope="module")
def pit_flags() -> dict[str, pd.Series]:
    """Bearish flags of SPX and GOOG, year Y from a detector refitted on both up to the end of Y-1
    (what `paiid bench --only regime-vs-jump-model` compares)."""
    return yearly_refit_labels(("SPX", "GOOG"))


@pytest.fixture(scope="module")
def model(spx: pd.DataFrame) -> RegimeDetector:
    return RegimeDetector().fit([spx.loc[:"2017-12-31"], load_bars("GOOG")])


def _append(bars: pd.DataFrame, log_path: np.ndarray, daily_vol: float, seed: int) -> pd.DataFrame:
    """`bars` followed by business-day bars whose log close follows `log_path` (relative to the last
    close), with intrabar ranges of the given daily volatility."""
    rng = np.random.default_rng(seed)
    last = float(bars["close"].iloc[-1])
    close = last * np.exp(log_path)
    prev = np.concatenate([[last], close[:-1]])
    top, bot = np.maximum(prev, close), np.minimum(prev, close)
    high = top * np.exp(0.5 * daily_vol * np.abs(rng.standard_normal(len(close))))
    low = bot * np.exp(-0.5 * daily_vol * np.abs(rng.standard_normal(len(close))))
    idx = pd.bdate_range(bars.index[-1] + pd.Timedelta(days=1), periods=len(close), name="date")
    new = pd.DataFrame({"open": prev, "high": high, "low": low, "close": close,
                        "volume": float(bars["volume"].iloc[-1])}, index=idx.astype("datetime64[ns]"))
    return pd.concat([bars, new]).astype(np.float64)


def test_a_volatile_decline_is_a_volatile_bear_and_a_volatile_flat_whipsaw_is_not(
        model: RegimeDetector, spx: pd.DataFrame) -> None:
    """The same 3 %-a-day volatility, once with a 40 % fall and once flat (a zig-zag ending where it
    began). The zig-zag's troughs (about -18 % from its highs) stay above the close of a year before: a trough
    below it, under the 200-bar average and 15 % off the high, is an unrepaired bear market by the
    layer's rule (with a 12 % amplitude its three deepest bars are), which is not what this test is about."""
    base = spx.loc[:"2017-12-31"]
    rng = np.random.default_rng(7)
    n = 90
    noise = 0.03 * rng.standard_normal(n)
    fall = np.cumsum(noise - noise.mean() + np.log(0.6) / n)
    flat = 0.10 * np.sin(np.arange(1, n + 1) * 2 * np.pi / 10) + 0.01 * rng.standard_normal(n)
    down = model.history(_append(base, fall, 0.03, 1))
    whip = model.history(_append(base, flat, 0.03, 2))
    tail = slice(-30, None)
    assert np.mean(down["regime"][tail] == "trending_bearish") > 0.8
    assert np.mean(down["detail"][tail] == "volatile_bear") > 0.8
    assert np.mean(whip["regime"][tail] == "high_volatility") > 0.8
    assert np.mean(whip["detail"][tail] == "volatile_whipsaw") > 0.8
    # both are the same fitted state: only the drift tells them apart
    assert np.mean(down["state"][tail] == "high_volatility") > 0.8


def test_state_map_follows_the_published_rules() -> None:
    """Rules checked on hand-made context rows, not on the code's own output."""
    # rows: 0 -30 % and falling; 1 near the high, rising; 2 near the high, 60-bar up; 3 -30 % but rising
    # over 60 bars and back above the 200-bar average; 4 a rally 20 % below the year's high, below the
    # year-ago level and the 200-bar average; 5 the same above the 200-bar average; 6 the same above the
    # year-ago level
    ctx = {"drawdown": np.log([0.7, 0.98, 0.98, 0.7, 0.8, 0.8, 0.8]),
           "snr_20": np.array([-1.0, 0.5, -1.0, 1.0, 1.0, 1.0, 1.0]),
           "snr_60": np.array([-0.5, 0.5, 0.3, 0.4, 0.6, 0.6, 0.6]),
           "snr_120": np.array([-1.0, 0.5, 0.5, -0.2, -0.3, -0.3, 0.2]),
           "snr_250": np.array([-1.0, 1.0, 1.0, -1.0, -0.5, -0.5, 0.1]),
           "trend_gap": np.array([-0.2, 0.05, 0.05, 0.02, -0.03, 0.01, -0.03])}
    m = regime_map(ctx)
    hv, rg, be, bu = 3, 2, 1, 0  # REGIMES order
    assert m[0, hv, be] == 1 and m[0, rg, be] == 1  # -30 % and falling: crash and range are bearish
    assert m[1, hv, hv] == 1 and m[1, be, rg] == 1  # near the high, rising: a bearish state is a pullback
    assert m[3, hv, hv] == 1 and m[3, bu, bu] == 1  # -30 % but rising and above its average: not bearish
    # a rally inside a bear market that none of the three repairs has ended is still the bear market
    assert m[4, bu, be] == 1 and m[4, rg, be] == 1 and m[4, hv, be] == 1 and m[4, be, be] == 1
    for row in (5, 6):  # above the 200-bar average, or above the year-ago level: repaired
        assert m[row, bu, bu] == 1 and m[row, rg, rg] == 1 and m[row, hv, hv] == 1, row
    np.testing.assert_array_equal(m.sum(axis=2), 1.0)
    # the detail says where a bearish label came from: a rising state there is a bear-market rally
    proba = np.tile([0.7, 0.1, 0.1, 0.1], (7, 1))  # the bullish state most probable everywhere
    reg = np.array(["trending_bullish"] * 7, dtype=object)
    reg[4] = "trending_bearish"
    d = details(reg, proba, ctx)
    assert d[4] == "bear_market_rally" and d[5] == "recovery" and d[1] == "bull_trend"


def test_real_bear_markets_are_bearish_and_the_bull_market_is_not(
        spx: pd.DataFrame, pit_flags: dict[str, pd.Series]) -> None:
    """SPX 2001-2018 labelled year by year with detectors fitted on the years before (point in time)."""
    flags = pit_flags["SPX"]
    rep = agreement(spx, flags)
    assert rep["criterion_bear"]["days"] > 500
    assert rep["criterion_bear"]["share_labelled_bearish"] > 0.5
    assert rep["criterion_bull"]["share_labelled_bearish"] < 0.1
    bear, _ = criteria(spx)
    decline = flags.loc["2001-01-01":"2002-10-09"]
    assert decline[bear.loc[decline.index]].mean() > 0.9  # the 2000-02 decline, where labelled
    assert flags.loc["2004-01-01":"2006-12-31"].mean() < 0.2
    assert rep["month_ends"]["autumn 2008"]["share_bearish"] == 1.0
    assert flags.loc[:"2000-12-31"].isna().all()  # no earlier fit: not labelled, not counted
    # keeping the bear label through rallies must not reach the highs: under 1 % of either symbol's
    # criterion-bull days (within 5 % of the running peak, 60-bar return up) are labelled bearish
    for sym, f in pit_flags.items():
        _, sym_bull = criteria(load_bars(sym))
        assert f[sym_bull & f.notna()].mean() < 0.01, sym


def test_month_ends_meet_the_jump_models_published_shares_on_the_declines_and_bull_years(
        spx: pd.DataFrame, pit_flags: dict[str, pd.Series]) -> None:
    """Point in time (yearly refits), against the peer's *published* shares (a fit on the whole history,
    hindsight): all of the declines' month-ends bearish, fewer of 2004-06's than its lowest 14 %. Against
    our point-in-time replication of the peer the bull years are not better (`paiid bench --only
    regime-vs-jump-model` reports that, with paired tests); this test does not claim they are. The month-
    ends are taken here from SPX's own trading days (the last of each calendar month), not from
    `agreement`, so the test does not read the numbers it checks from the code under test."""
    flags = pit_flags["SPX"]
    days = pd.Series(spx.index, index=spx.index)
    month_end = pd.DatetimeIndex(days.groupby(spx.index.to_period("M")).max().to_numpy())
    me = flags.loc[month_end]
    decline = me.loc["2000-03-24":"2002-10-09"]
    assert len(decline) == 31  # April 2000 .. September 2002
    labelled = decline.dropna()
    # 2000 has no earlier year to fit on (SPX starts in 1999): the 21 month-ends of 2001-02 are labelled
    assert list(labelled.index.year.unique()) == [2001, 2002] and len(labelled) == 21
    missed = [d.date().isoformat() for d in labelled.index[labelled != 1.0]]
    assert labelled.mean() >= PEER_DECLINE_SHARE, f"2000-02 month-ends not bearish: {missed}"
    autumn = me.loc["2008-09-01":"2008-12-31"]
    assert len(autumn) == 4 and autumn.notna().all()
    assert autumn.mean() >= PEER_DECLINE_SHARE
    bull = me.loc["2004-01-01":"2006-12-31"]
    assert len(bull) == 36 and bull.notna().all()
    assert bull.mean() < PEER_BULL_SHARE_MIN


def test_every_fitted_piece_comes_from_the_training_bars(spx: pd.DataFrame) -> None:
    """Trained under as_of(B): the volatility prior is the mean log range of bars up to B, not of all."""
    with as_of("2005-12-30"):
        trained: Trained = train(["SPX"], n_splits=2)
    m = trained.model
    lr = log_positive(raw_features(spx.loc[:"2005-12-30"])[WARMUP:, 0])
    assert m.prior_log_range_ == pytest.approx(float(np.nanmean(lr)))
    full = log_positive(raw_features(spx)[WARMUP:, 0])
    assert abs(m.prior_log_range_ - float(np.nanmean(full))) > 1e-3
    assert trained.metadata["data"][0]["bars"] == len(spx.loc[:"2005-12-30"])
    assert m.typicality_.n_training_rows_ == m.n_train_rows_


def test_typicality_flags_a_crash_beyond_the_training_data(model: RegimeDetector, spx: pd.DataFrame) -> None:
    ordinary = regime_answer(model, spx.loc[:"2017-06-30"], "SPX")
    assert ordinary["typicality"]["unusual"] is False
    assert ordinary["detail"] is not None
    rng = np.random.default_rng(3)
    crash = np.cumsum(np.log(0.93) + 0.02 * rng.standard_normal(15))  # -7 % a day for three weeks
    shocked = _append(spx.loc[:"2017-12-31"], crash, 0.08, 4)
    ans = regime_answer(model, shocked, "SPX")
    assert ans["typicality"]["unusual"] is True
    hist = model.history(shocked)
    assert ans["confidence"] == pytest.approx(hist["confidence"][-1] * ans["typicality"]["confidence_factor"])
    assert ans["confidence"] < hist["confidence"][-1]


def test_drift_context_is_causal(spx: pd.DataFrame) -> None:
    a, b = drift_context(spx), drift_context(spx.iloc[:3000])
    for k in a:
        np.testing.assert_array_equal(a[k][:3000], b[k])
