"""Property tests (hypothesis): no lookahead, exact zero on flat prices, costs only ever hurt."""

from __future__ import annotations

import numpy as np
import pandas as pd
from bt_helpers import random_bars
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from paiid.backtest import STRATEGIES, get_strategy, run_backtest, simulate
from paiid.features import build_features

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def alter_after(bars: pd.DataFrame, t: int, seed: int) -> pd.DataFrame:
    """Same bars up to t; a different future after t (continuing from bar t's close)."""
    other = random_bars(seed, len(bars))
    scale = bars["close"].iloc[t] / other["close"].iloc[t]
    out = bars.copy()
    for col in ("open", "high", "low", "close"):
        out.iloc[t + 1:, out.columns.get_loc(col)] = other[col].iloc[t + 1:].to_numpy() * scale
    out.iloc[t + 1:, out.columns.get_loc("volume")] = other["volume"].iloc[t + 1:].to_numpy()
    return out


@st.composite
def template_params(draw, max_lookback: int):
    tpl = STRATEGIES[draw(st.sampled_from(sorted(STRATEGIES)))]
    params = {}
    for name, (lo, hi, kind) in tpl.ranges.items():
        params[name] = draw(st.integers(int(lo), int(hi))) if kind == "int" else draw(st.floats(lo, hi))
    try:
        p = tpl.validate_params(params)
    except Exception:  # noqa: BLE001 - e.g. fast >= slow: not a valid draw
        assume(False)
    assume(tpl.lookback(p) + 30 <= max_lookback)
    return tpl.id, p


def first_difference(a: np.ndarray, b: np.ndarray) -> int | None:
    diff = np.flatnonzero(~np.isclose(a, b, rtol=0, atol=0, equal_nan=True))
    return int(diff[0]) if diff.size else None


def lookahead_violation(bars, altered, t, strategy, params, **kw) -> str | None:
    """None if nothing known at or before bar t changed when only bars after t changed."""
    a = run_backtest(bars, strategy, params, features=build_features(bars), **kw)
    b = run_backtest(altered, strategy, params, features=build_features(altered), **kw)
    for name, x, y, upto in (
        ("signals", a.signals, b.signals, t + 1),  # decided at each close up to t
        ("positions", a.positions, b.positions, t + 2),  # held during t+1 was decided at close t
        ("returns", a.returns, b.returns, t + 1),
        ("equity", a.equity.to_numpy(), b.equity.to_numpy(), t + 1),
    ):
        i = first_difference(x[:upto], y[:upto])
        if i is not None:
            return f"{name} at bar {i} changed when bars after {t} changed"
    return None


N = 420


@settings(SETTINGS, max_examples=60)
@given(seed=st.integers(0, 10_000), other=st.integers(10_001, 20_000), frac=st.floats(0.05, 0.95),
       choice=template_params(N), stops=st.sampled_from([None, ("5%", None), ("2atr", "3atr"), (None, "4%")]))
def test_no_position_depends_on_a_future_bar(seed, other, frac, choice, stops):
    strategy, params = choice
    bars = random_bars(seed, N)
    t = int(frac * (N - 2))
    stop, tp = stops or (None, None)
    problem = lookahead_violation(bars, alter_after(bars, t, other), t, strategy, params, stop=stop,
                                  take_profit=tp)
    assert problem is None, problem


def test_the_lookahead_check_catches_a_cheat():
    """The property above can fail: a strategy peeking at tomorrow's close is caught."""
    bars = random_bars(1, 300)
    cheat = np.sign(np.append(bars["close"].to_numpy()[1:] - bars["close"].to_numpy()[:-1], 0.0))
    altered = alter_after(bars, 150, 99)
    cheat_b = np.sign(np.append(altered["close"].to_numpy()[1:] - altered["close"].to_numpy()[:-1], 0.0))
    a = run_backtest(bars, "momentum-macd", signals=cheat)
    b = run_backtest(altered, "momentum-macd", signals=cheat_b)
    assert first_difference(a.positions[:152], b.positions[:152]) is not None
    # and a perfect-foresight strategy is (as it should be) absurdly profitable
    assert a.metrics["sharpe"] > 5


@SETTINGS
@given(seed=st.integers(0, 10_000), price=st.floats(0.01, 1e5), n=st.integers(2, 300),
       whole=st.booleans(), frac=st.floats(0.01, 1.0), stops=st.booleans())
def test_zero_cost_round_trips_on_flat_prices_return_exactly_zero(seed, price, n, whole, frac, stops):
    rng = np.random.default_rng(seed)
    target = rng.choice([-1.0, 0.0, 1.0, 0.5, -0.25], n)
    flat = np.full(n, price)
    out = simulate(flat, flat, flat, flat, target, commission=0.0, slippage=0.0, cash=10_000.0, fraction=frac,
                   whole_units=whole, stop_dist=flat * 0.05 if stops else None,
                   tp_dist=flat * 0.05 if stops else None)
    assert (out.equity == 10_000.0).all()
    assert (out.returns == 0.0).all()
    assert (out.pnl == 0.0).all()


def test_flat_prices_with_costs_lose_exactly_the_costs():
    flat = np.full(6, 50.0)
    out = simulate(flat, flat, flat, flat, np.array([1.0, 0, -1, 0, 0, 0]), commission=0.001, slippage=0.0,
                   cash=1000.0)
    e1 = 1000 * (1 - 0.001 - 0.001)  # two legs of 10 bp on the full notional
    assert out.equity[-1] == np.float64(e1 * (1 - 0.002))
    assert out.trade_return.tolist() == [-0.002, -0.002]


@SETTINGS
@given(seed=st.integers(0, 10_000), c1=st.floats(0, 50), c2=st.floats(0, 50), s1=st.floats(0, 20))
def test_costs_never_help(seed, c1, c2, s1):
    bars = random_bars(seed, 300)
    lo, hi = sorted((c1, c2))
    cheap = run_backtest(bars, "momentum-breakout", commission_bps=lo, slippage_bps=s1)
    dear = run_backtest(bars, "momentum-breakout", commission_bps=hi, slippage_bps=s1)
    assert dear.metrics["final_equity"] <= cheap.metrics["final_equity"] * (1 + 1e-12)
    assert (cheap.positions == dear.positions).all()  # costs do not change the signals


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(40, 300))
def test_always_long_is_buy_and_hold_from_the_first_open(seed, n):
    bars = random_bars(seed, n)
    ohlc = (bars[k].to_numpy() for k in ("open", "high", "low", "close"))
    out = simulate(*ohlc, np.ones(n), commission=0.0, slippage=0.0, cash=1.0, close_at_end=False)
    c, o = bars["close"].to_numpy(), bars["open"].to_numpy()
    np.testing.assert_allclose(out.equity[1:], c[1:] / o[1], rtol=1e-12)


def test_signals_only_take_known_values():
    bars = random_bars(5, 600)
    for sid in STRATEGIES:
        sig = get_strategy(sid).signals(build_features(bars), bars)
        assert set(np.unique(sig)) <= {-1.0, 0.0, 1.0}
        assert np.count_nonzero(sig) > 0, sid
