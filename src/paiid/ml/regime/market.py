"""The real-market layer: the fitted volatility/direction *state* of a bar, read in the light of where the
price stands against its own past, gives the reported regime and its `detail`.

Why a layer on top of the clusters: the clusters see 20- and 60-bar inputs only, and on those a sideways
month at -30 % below the high of a bear market looks like a sideways month at the top of a bull market,
and a crash looks like any other turbulence. Real bear markets are mostly that: the 2000-02 S&P 500
decline (-49 %) was labelled high volatility in its crashes and ranging in between, never bearish, while
short pullbacks in the 2003-07 bull market were labelled bearish. The layer uses three causal facts per
bar (bar t uses closes 0..t only):

* `drawdown`: log close against the highest close of the last `PEAK_BARS` (250, about a year) bars;
* `snr_w`: the w-bar log return in units of its own noise (w-bar realised volatility x sqrt(w)), for
  w = 20, 60, 120 and 250;
* `trend_gap`: log close against its `TREND_BARS` (200) bar average close.

Per bar, each state is mapped to a regime (`regime_map`), so regime probabilities stay probabilities
(the filtered state probabilities summed over the states mapped to each regime):

* a bar is in a **bear context** when drawdown <= -`BEAR_DRAWDOWN` (10 %) and snr_60 < 0: a high-
  volatility state there is ``trending_bearish`` with detail ``volatile_bear``, a ranging state is
  ``trending_bearish`` with detail ``bear_market_range``;
* a ``trending_bearish`` state within `PULLBACK_DRAWDOWN` (5 %) of the high while snr_120 > 0 is a
  pullback in a rising market: ``ranging`` with detail ``bull_pullback``;
* a bar is in an **unrepaired bear market** when drawdown <= -`RALLY_DRAWDOWN` (15 %), snr_250 < 0 and
  the close is below its `TREND_BARS` (200) bar average: every state there is ``trending_bearish``, a
  rising one with detail ``bear_market_rally``, a ranging one ``bear_market_range``, a volatile one
  ``volatile_bear`` (see "Bear-market rallies" below);
* every other state keeps its name. Details: ``volatile_bull`` (high volatility, snr_20 > 0 and
  snr_60 >= `TREND_SNR`), else ``volatile_whipsaw``; ``bear_trend``; ``bull_trend``, or ``recovery``
  when drawdown <= -15 % and snr_250 < 0 but the close has regained its 200-bar average; ``range``.

**Bear-market rallies.** A bear market is not over when a rally starts: the 2000-02 S&P 500 decline had
rallies of +10 to +20 % (May-June 2001, October 2001-January 2002) whose 20- and 60-bar returns were up,
and the detector called them ``ranging`` or ``trending_bullish``, so 4 of its 21 point-in-time labelled
month-ends (2001-05, 2001-06, 2001-12, 2002-01) were not bearish. The rule keeps the bear label through a
rally as long as none of three textbook repairs has happened: the price is back within 15 % of its
250-bar high, or above its level 250 bars ago, or above its 200-bar average (the classic trend test).
Each is causal and ends the bear label on the first bar it holds; nothing in the rule is fitted.

How it was chosen, honestly: looking at the SPX 2000-02 month-ends. 15 % and 250 bars were already the
layer's rally definition (before, a detail only); making every state bearish there gave 21 of 21, but made
the S&P 500 index's 2003 and 2009 recoveries (the bull runs of `episodes`) 7 and 20 points more bearish,
so the 200-bar average was added after seeing that (150 and 250 bars were tried beside it; 200 is the
conventional length and lay between them): +5 and +6 points instead. Ranging-only (the bullish state kept)
reached 20 of 21. So the SPX/GOOG criteria and the index table (1990-2022) were seen for every candidate
and are not out of sample. Not looked at while choosing, and how they came out (point in time, yearly
refits, before -> after): the close-only detector on SPX and GOOG (SPX criterion-bear days bearish 78.9 ->
81.4 %, 2000-02 month-ends 76 -> 100 %, 2004-06 unchanged at 13.9 %; GOOG 87.9 -> 88.9 %; criterion-bull
unchanged), ``method="hmm"`` (SPX 77.1 -> 78.7 %, 2000-02 81 -> 100 %, 2004-06 unchanged at 11.1 %; GOOG
81.7 -> 82.2 %), the leave-episode-out shares of `evaluate` (SPX 2000-02 days bearish 59.7 -> 73.0 %,
2003-07 bull market 12.8 -> 14.0 %, GOOG unchanged), and the synthetic benchmark (the fitted state is
unchanged by construction, 91.9 %; the served label's agreement falls 72.8 -> 68.0 %: the generator's
rallies after a deep driftless fall are, by this rule, still bear markets). The price on real data: the
first months of a recovery off a bear-market low (spring 2003, spring 2009, before the 200-bar average is
regained) are labelled bearish; criterion-bull days (within 5 % of the running peak) cannot be, since a
bar 15 % below its 250-bar high is at least 15 % below the running peak. Against the jump-model peer
(`paiid.bench.regime`, the same yearly refits on SPX and GOOG), SPX month-ends: 2000-02 100 % (was 81 %)
against the peer's 76, 100 and 57 % (penalties 5, 15, 30), autumn 2008 100 % against 100 %, 2004-06 8.3 %
(unchanged) against the peer's 0 % under these refits (its published 14-31 % come from other fits), so the
"fewer in the bull years" half of that bench target is still not met.

On the synthetic benchmark the layer has a price: the generator's high-volatility regime is a driftless
random walk at ~48 % volatility whose falls of 10 % and more are, by the real-market definition, volatile
bears. `evaluate` therefore scores the fitted state against the generator's truth (`synthetic_accuracy`)
and reports the served label's agreement with it beside (`synthetic_accuracy_served`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from paiid.ml.regime.naming import REGIMES, TREND_SNR

#: Bars over which the reference high is taken (about a year of daily bars).
PEAK_BARS = 250
#: Drawdown (fraction below the reference high) from which a falling market is in a bear context.
BEAR_DRAWDOWN = 0.10
#: A bearish state within this fraction of the high, in a rising 120-bar market, is a pullback.
PULLBACK_DRAWDOWN = 0.05
#: Drawdown from which a falling year's rally is still a bear market (until repaired, module docstring).
RALLY_DRAWDOWN = 0.15
#: Bars of the trend average whose regaining ends an unrepaired bear market (the classic 200-day average).
TREND_BARS = 200
#: Return windows of the signal-to-noise context.
SNR_WINDOWS = (20, 60, 120, 250)

_IDX = {r: i for i, r in enumerate(REGIMES)}


def drift_context(bars: pd.DataFrame) -> dict[str, np.ndarray]:
    """`drawdown`, `snr_<w>` and `trend_gap` (log close against its `TREND_BARS`-bar average close) per
    bar (see the module docstring); NaN where a window is not filled."""
    close = pd.Series(bars["close"].to_numpy(np.float64))
    s = np.log(close)
    r1 = s.diff()
    out = {"drawdown": (s - s.rolling(PEAK_BARS, min_periods=1).max()).to_numpy(),
           "trend_gap": (s - np.log(close.rolling(TREND_BARS).mean())).to_numpy()}
    for w in SNR_WINDOWS:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"snr_{w}"] = ((s - s.shift(w)) / (r1.rolling(w).std() * np.sqrt(w))).to_numpy()
    return out


def _flags(ctx: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    dd = np.nan_to_num(ctx["drawdown"], nan=0.0)

    def below(name: str, value: float) -> np.ndarray:
        x = ctx[name]
        return np.isfinite(x) & (x < value)

    def above(name: str, value: float) -> np.ndarray:
        x = ctx[name]
        return np.isfinite(x) & (x >= value)

    rally = (dd <= np.log1p(-RALLY_DRAWDOWN)) & below("snr_250", 0.0)
    return {
        "bear": (dd <= np.log1p(-BEAR_DRAWDOWN)) & below("snr_60", 0.0),
        "pullback": (dd > np.log1p(-PULLBACK_DRAWDOWN)) & above("snr_120", 1e-12),
        "rally": rally,
        # not repaired: still 15 % below the year's high, below the year-ago level and below the trend
        "unrepaired": rally & below("trend_gap", 0.0),
        "vol_bull": above("snr_20", 1e-12) & above("snr_60", TREND_SNR),
    }


def regime_map(ctx: dict[str, np.ndarray]) -> np.ndarray:
    """(bars, states, regimes) 0/1 array: state probabilities @ it[t] = regime probabilities at bar t."""
    f = _flags(ctx)
    n, k = len(f["bear"]), len(REGIMES)
    m = np.zeros((n, k, k))
    m[:, np.arange(k), np.arange(k)] = 1.0
    hv, rg, be, bu = (_IDX[r] for r in ("high_volatility", "ranging", "trending_bearish", "trending_bullish"))
    bear = f["bear"] | f["unrepaired"]
    for state, cond, target in ((hv, bear, be), (rg, bear, be), (bu, f["unrepaired"], be),
                                (be, f["pullback"], rg)):
        m[cond, state, state] = 0.0
        m[cond, state, target] = 1.0
    return m


def details(regime: np.ndarray, state_proba: np.ndarray, ctx: dict[str, np.ndarray]) -> np.ndarray:
    """The `detail` of each bar's reported regime: which state it comes from and in what context.

    Vectorised over bars (a per-bar loop cost about 20 ms of a 35 ms regime answer on SPX)."""
    f = _flags(ctx)
    mp = regime_map(ctx)
    reg = np.asarray(regime, dtype=object)
    out = np.full(len(reg), None, dtype=object)
    known = np.fromiter((r is not None for r in reg), dtype=bool, count=len(reg))
    rows = np.flatnonzero(known & np.isfinite(state_proba).all(axis=1))
    if not rows.size:
        return out
    name = reg[rows]
    j = np.fromiter((_IDX[r] for r in name), dtype=np.intp, count=rows.size)
    # the most probable state among those that the map sends to the reported regime
    src = np.asarray(REGIMES, dtype=object)[
        np.argmax(np.where(mp[rows, :, j] > 0, state_proba[rows], -1.0), axis=1)]
    detail = np.where(
        name == "trending_bearish",
        np.where(src == "high_volatility", "volatile_bear",
                 np.where(src == "ranging", "bear_market_range",
                          np.where(src == "trending_bullish", "bear_market_rally", "bear_trend"))),
        np.where(
            name == "high_volatility",
            np.where(f["vol_bull"][rows], "volatile_bull", "volatile_whipsaw"),
            np.where(
                name == "ranging",
                np.where(src == "trending_bearish", "bull_pullback", "range"),
                np.where(f["rally"][rows], "recovery", "bull_trend"))))
    out[rows] = detail.astype(object)
    return out
