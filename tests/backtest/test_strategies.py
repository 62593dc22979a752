"""The four templates: declarations, parameter validation, and their rules against loop-based references.

Each reference below is a plain bar-by-bar state machine written from the template's description with
pandas rolling windows (SMA, Bollinger, Donchian) — independent of the vectorised last-event-index code
in `paiid.backtest.strategies`. RSI, ADX and MACD come from TA-Lib directly (the indicators themselves
are checked against `ta` in tests/features).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib
from bt_helpers import random_bars
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paiid.backtest import FAMILIES, STRATEGIES, get_strategy
from paiid.errors import BadInput

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_declarations():
    assert list(STRATEGIES) == ["trend-following-ma-cross", "mean-reversion-bb-rsi", "momentum-macd",
                                "momentum-breakout"]
    assert {t.family for t in STRATEGIES.values()} == set(FAMILIES)
    assert STRATEGIES["momentum-breakout"].family == "breakout"
    for tpl in STRATEGIES.values():
        assert set(tpl.params) == set(tpl.ranges), tpl.id
        for name, (lo, hi, kind) in tpl.ranges.items():
            assert lo <= tpl.params[name] <= hi, (tpl.id, name)
            assert kind in ("int", "float")
        assert tpl.validate_params() == tpl.params  # defaults are valid
        d = tpl.describe()
        assert d["id"] == tpl.id and d["description"] and set(d["ranges"]) == set(tpl.params)


def test_validation_messages_name_the_choices():
    with pytest.raises(BadInput, match="valid strategies: trend-following-ma-cross, mean-reversion-bb-rsi"):
        get_strategy("trend-following")
    tpl = STRATEGIES["mean-reversion-bb-rsi"]
    with pytest.raises(BadInput, match=r"bb_std must be between 0.5 and 4"):
        tpl.validate_params({"bb_std": 9})
    with pytest.raises(BadInput, match="whole number"):
        tpl.validate_params({"bb_period": 20.5})
    with pytest.raises(BadInput, match=r"valid parameters: bb_period \(5\.\.100\)"):
        tpl.validate_params({"period": 20})
    with pytest.raises(BadInput, match="rsi_low .* must be less than rsi_high"):
        tpl.validate_params({"rsi_low": 50, "rsi_high": 50})
    assert tpl.validate_params({"bb_period": 30.0})["bb_period"] == 30
    assert isinstance(tpl.validate_params({"bb_period": 30.0})["bb_period"], int)


def test_min_bars_grow_with_the_lookback():
    tpl = STRATEGIES["trend-following-ma-cross"]
    assert tpl.min_bars({"fast": 10, "slow": 200}) > tpl.min_bars({"fast": 10, "slow": 30})


# ----------------------------------------------------------------------------------- references


def ref_ma_cross(bars, p):
    c = bars["close"]
    fast, slow = c.rolling(p["fast"]).mean().to_numpy(), c.rolling(p["slow"]).mean().to_numpy()
    adx = talib.ADX(bars["high"].to_numpy(), bars["low"].to_numpy(), c.to_numpy(), p["adx_period"])
    pos, out = 0, []
    for t in range(len(c)):
        if t and fast[t - 1] < slow[t - 1] and fast[t] > slow[t]:
            pos = 1 if p["adx_min"] == 0 or adx[t] >= p["adx_min"] else 0
        elif t and fast[t - 1] > slow[t - 1] and fast[t] < slow[t]:
            trend = p["adx_min"] == 0 or adx[t] >= p["adx_min"]
            pos = -1 if trend and p["allow_short"] else 0
        out.append(pos)
    return np.array(out, float)


def ref_bb_rsi(bars, p):
    c = bars["close"]
    mid = c.rolling(p["bb_period"]).mean()
    sd = c.rolling(p["bb_period"]).std(ddof=0)
    upper, lower = (mid + p["bb_std"] * sd).to_numpy(), (mid - p["bb_std"] * sd).to_numpy()
    mid = mid.to_numpy()
    rsi = talib.RSI(c.to_numpy(), p["rsi_period"])
    cc = c.to_numpy()
    pos, out = 0, []
    for t in range(len(c)):
        if pos == 1 and cc[t] >= mid[t]:
            pos = 0
        elif pos == -1 and cc[t] <= mid[t]:
            pos = 0
        if cc[t] < lower[t] and rsi[t] < p["rsi_low"]:
            pos = 1
        elif p["allow_short"] and cc[t] > upper[t] and rsi[t] > p["rsi_high"]:
            pos = -1
        out.append(pos)
    return np.array(out, float)


def ref_macd(bars, p):
    c = bars["close"]
    _, _, hist = talib.MACD(c.to_numpy(), p["fast"], p["slow"], p["signal"])
    roc = (c / c.shift(p["roc_period"]) - 1).to_numpy()
    out = []
    for h, r in zip(hist, roc, strict=True):
        if h > 0 and r > p["roc_min"]:
            out.append(1)
        elif h < 0 and r < -p["roc_min"] and p["allow_short"]:
            out.append(-1)
        else:
            out.append(0)
    return np.array(out, float)


def ref_breakout(bars, p):
    h, lo, c, v = (bars[k] for k in ("high", "low", "close", "volume"))
    hi_prev = h.rolling(p["channel"]).max().shift(1).to_numpy()
    lo_prev = lo.rolling(p["channel"]).min().shift(1).to_numpy()
    ex_hi = h.rolling(p["exit_channel"]).max().shift(1).to_numpy()
    ex_lo = lo.rolling(p["exit_channel"]).min().shift(1).to_numpy()
    avg_v = v.rolling(p["volume_period"]).mean().shift(1).to_numpy()
    cc, vv = c.to_numpy(), v.to_numpy()
    pos, out = 0, []
    for t in range(len(c)):
        if pos == 1 and cc[t] < ex_lo[t]:
            pos = 0
        elif pos == -1 and cc[t] > ex_hi[t]:
            pos = 0
        vol_ok = vv[t] > p["volume_mult"] * avg_v[t] or avg_v[t] <= 0
        if cc[t] > hi_prev[t] and vol_ok:
            pos = 1
        elif p["allow_short"] and cc[t] < lo_prev[t] and vol_ok:
            pos = -1
        out.append(pos)
    return np.array(out, float)


REFERENCES = {
    "trend-following-ma-cross": ref_ma_cross,
    "mean-reversion-bb-rsi": ref_bb_rsi,
    "momentum-macd": ref_macd,
    "momentum-breakout": ref_breakout,
}


@st.composite
def params_for(draw, sid):
    tpl = STRATEGIES[sid]
    while True:
        raw = {}
        for name, (lo, hi, kind) in tpl.ranges.items():
            hi = min(hi, 60) if kind == "int" else hi
            raw[name] = draw(st.integers(int(lo), int(hi))) if kind == "int" else draw(st.floats(lo, hi))
        try:
            return tpl.validate_params(raw)
        except BadInput:
            continue


@pytest.mark.parametrize("sid", list(STRATEGIES))
def test_defaults_match_reference(sid):
    bars = random_bars(11, 800)
    tpl = STRATEGIES[sid]
    got = tpl.signals(None, bars)
    np.testing.assert_array_equal(got, REFERENCES[sid](bars, tpl.params))
    assert (got != 0).mean() > 0.05, "the template should trade on random bars"


@pytest.mark.parametrize("sid", list(STRATEGIES))
@SETTINGS
@given(data=st.data(), seed=st.integers(0, 5000))
def test_random_params_match_reference(sid, data, seed):
    bars = random_bars(seed, 400)
    p = data.draw(params_for(sid))
    np.testing.assert_array_equal(STRATEGIES[sid].signals(None, bars, p), REFERENCES[sid](bars, p))


def test_features_frame_gives_the_same_signals():
    """Templates reuse precomputed feature columns when the parameters match; results must not change."""
    from paiid.features import build_features

    bars = random_bars(2, 700)
    feats = build_features(bars)
    for tpl in STRATEGIES.values():
        np.testing.assert_array_equal(tpl.signals(feats, bars), tpl.signals(None, bars))


def test_long_only_switch():
    bars = random_bars(4, 600)
    for tpl in STRATEGIES.values():
        both = tpl.signals(None, bars)
        long_only = tpl.signals(None, bars, {"allow_short": 0})
        assert (both < 0).any() and not (long_only < 0).any(), tpl.id


def test_volume_confirmation_filters_breakouts():
    bars = random_bars(8, 800)
    tpl = STRATEGIES["momentum-breakout"]
    loose = tpl.signals(None, bars, {"volume_mult": 0.0})
    strict = tpl.signals(None, bars, {"volume_mult": 2.5})
    assert np.count_nonzero(strict) < np.count_nonzero(loose)
    no_volume = bars.assign(volume=0.0)  # FX-style data without volume still trades
    assert np.count_nonzero(tpl.signals(None, no_volume)) > 0


def test_mean_reversion_exits_at_the_mid_band():
    close = np.r_[np.full(30, 100.0) + np.tile([0.3, -0.3], 15), 90.0, 91.0, 93.0, 97.0, 101.0, 102.0]
    idx = pd.bdate_range("2020-01-01", periods=close.size)
    bars = pd.DataFrame({"open": close, "high": close + 0.5, "low": close - 0.5, "close": close,
                         "volume": 1e6}, index=idx)
    sig = STRATEGIES["mean-reversion-bb-rsi"].signals(None, bars, {"rsi_period": 5})
    mid = pd.Series(close).rolling(20).mean().to_numpy()
    assert sig[30] == 1  # the plunge closes below the lower band with RSI(5) oversold
    first_exit = 30 + int(np.argmax(close[30:] >= mid[30:]))
    assert (sig[30:first_exit] == 1).all() and sig[first_exit] == 0
