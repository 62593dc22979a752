"""The vectorised backtest engine: target positions in, trades, equity and per-bar returns out.

Execution rules (the whole point of a backtest is that these are honest):

* A strategy decides its target position at the **close of bar t**; the engine acts on it at the **open of
  bar t+1**. Nothing at bar t can see bar t+1 (a property test alters future bars and checks this).
* Every change of the target closes the open trade at that open and opens the new one there (a reversal
  long -> short is an exit plus an entry, and pays costs on both legs).
* Costs: `commission_bps` of traded notional on every entry and every exit, and `slippage_bps` moving
  every fill against us (buy higher, sell lower). Defaults: 1 bp each, a liquid US large cap / index
  future with a discount broker; raise them for anything less liquid.
* Sizing: a trade commits `fraction` x |target| of the account equity at entry and then holds that
  number of units until it exits (no daily rebalancing, like a real account). `whole_units=True` rounds
  the units down to whole shares, the way backtesting.py sizes orders (used by the oracle test).
* Stop-loss / take-profit (optional) are fixed at entry from the entry open: a percentage of it or a
  multiple of the ATR known at the signal bar. They are checked against every bar's low/high from the
  entry bar on. A bar that opens beyond a level fills at its open (a gap; worse for a stop, better for a
  take-profit). **A bar that touches both levels is assumed to hit the stop first** — the conservative
  choice, since intrabar order is unknown. After a stop or target exit the position stays flat until the
  strategy's target changes. While the ATR is still warming up an ATR-based level does not exist (no stop).
* A trade still open on the last bar is closed at the last close, with costs (`close_at_end=True`), so
  results never flatter themselves with unpaid exit costs; `close_at_end=False` marks it to market instead
  (backtesting.py's default) and flags it `is_open`.
* An account whose equity reaches zero stops trading (equity stays 0).

**Close-only series** (open, high, low and volume NaN: index levels, fund NAVs, adjusted-close exports)
run the documented close-only variant, an execution model of the backtest only (the stored data stay
close-only): every template and the engine run as if each bar's open, high and low were its close and
it had no volume data. So a signal at the close of t fills at the close of t+1; a stop or target is
checked against closes and a close beyond a level exits at that close (the gap rule above, since the
bar "opens" at its close); the ATR of ATR stops is TA-Lib's ATR of the flat bars (Wilder's average of
absolute close changes), ADX likewise; breakout channels are channels of closes and the breakout's
volume confirmation is skipped. `run_backtest` and `run_universe` detect such bars themselves
(`paiid.backtest.strategies.is_close_only`: the `mark_columns` marks, else the values), each symbol of
a universe with its own model, and `settings["execution"]` / `settings["execution_model"]` (and the
universe rows' `execution_model`) say which one ran.

The simulation is closed-form per trade: equity at a close inside trade k is
`E_k - fee_in_k + side_k * units_k * (close_t - entry_k)`, and with fractional sizing
`E_{k+1} = E_k (1 + r_k)`, so the whole path is a handful of numpy operations and one `cumprod` — no
Python loop over bars. Several symbols can be simulated in one call by concatenating their bars
(`group_starts`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import talib

from paiid.backtest.metrics import bars_per_year as estimate_bars_per_year
from paiid.backtest.metrics import compute_metrics
from paiid.backtest.strategies import StrategyTemplate, execution_arrays, get_strategy
from paiid.errors import BadInput, NotEnoughHistory

Array = np.ndarray

#: Default commission per side, in basis points of traded notional.
DEFAULT_COMMISSION_BPS = 1.0
#: Default slippage per fill, in basis points of the fill price.
DEFAULT_SLIPPAGE_BPS = 1.0
#: ATR period used for ATR-based stops and targets.
STOP_ATR_PERIOD = 14

#: The two execution models (`settings["execution_model"]`) and their one-line descriptions.
OHLCV_MODEL, CLOSE_ONLY_MODEL = "ohlcv", "close-only"
EXECUTION = {
    OHLCV_MODEL: "signal at close of t, filled at open of t+1; stop before target when a bar touches both",
    CLOSE_ONLY_MODEL: "close-only series: signal at close of t, filled at close of t+1; stops, targets, "
                      "ATR, ADX and channels on closes; no volume confirmation",
}

EXIT_SIGNAL, EXIT_STOP, EXIT_TAKE_PROFIT, EXIT_END = 0, 1, 2, 3
EXIT_REASONS = np.array(["signal", "stop_loss", "take_profit", "end_of_data"], dtype=object)


@dataclass(frozen=True)
class ExitRule:
    """A stop-loss or take-profit distance.

    `kind` is "pct" (a fraction of the entry open) or "atr" (a multiple of the ATR at the signal bar)."""

    kind: str
    value: float

    def distance(self, open_: Array, atr_prev: Array | None) -> Array:
        """Distance from the entry open to the level, for a trade entered at each bar."""
        if self.kind == "pct":
            return open_ * self.value
        assert atr_prev is not None
        return atr_prev * self.value

    def label(self) -> str:
        return f"{self.value * 100:g}%" if self.kind == "pct" else f"{self.value:g}xATR{STOP_ATR_PERIOD}"


_RULE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(%|x?\s*atr|pct)?\s*$", re.IGNORECASE)


def parse_exit_rule(spec: Any, what: str = "stop") -> ExitRule | None:
    """`None`, an `ExitRule`, a fraction (0.05 = 5 %), a string "5%" / "2atr" / "2.5xATR", or ("atr", 2)."""
    if spec is None or spec == "" or spec is False:
        return None
    if isinstance(spec, ExitRule):
        rule = spec
    elif isinstance(spec, tuple | list) and len(spec) == 2:
        rule = ExitRule(str(spec[0]).lower(), float(spec[1]))
    elif isinstance(spec, int | float) and not isinstance(spec, bool):
        rule = ExitRule("pct", float(spec))
    elif isinstance(spec, str):
        m = _RULE_RE.match(spec)
        if not m:
            raise BadInput(f"bad {what} {spec!r}: use a percentage like '5%' or an ATR multiple like '2atr'")
        num, unit = float(m.group(1)), (m.group(2) or "").lower().replace(" ", "")
        if unit.endswith("atr"):
            rule = ExitRule("atr", num)
        else:
            rule = ExitRule("pct", num / 100 if unit == "%" else num)
    else:
        raise BadInput(f"bad {what} {spec!r}: use a percentage like '5%' or an ATR multiple like '2atr'")
    if rule.kind not in ("pct", "atr"):
        raise BadInput(f"bad {what} kind {rule.kind!r}: use 'pct' or 'atr'")
    hi = 0.99 if (rule.kind == "pct" and what == "stop") else (10.0 if rule.kind == "pct" else 50.0)
    if not (0 < rule.value <= hi):
        unit = "a fraction of the entry price" if rule.kind == "pct" else "an ATR multiple"
        raise BadInput(f"{what} {rule.value:g} ({unit}) must be > 0 and <= {hi:g}")
    return rule


@dataclass
class Simulation:
    """Raw arrays out of `simulate` (one row per bar, one entry per trade)."""

    equity: Array
    returns: Array
    positions: Array
    entry_idx: Array
    exit_idx: Array
    side: Array
    entry_price: Array
    exit_price: Array
    units: Array
    pnl: Array
    trade_return: Array
    reason: Array
    is_open: Array


def _segmented_cumprod_exclusive(g: Array, first: Array) -> Array:
    """Product of g over the earlier entries of the same segment (1 for a segment's first entry)."""
    if g.size == 0:
        return g.copy()
    if not first[1:].any():
        out = np.empty_like(g)
        out[0] = 1.0
        np.cumprod(g[:-1], out=out[1:])
        return out
    out = np.empty_like(g)
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], g.size)
    for s, e in zip(starts, ends, strict=True):
        out[s] = 1.0
        if e - s > 1:
            np.cumprod(g[s:e - 1], out=out[s + 1:e])
    return out



def barrier_exits(tb: np.ndarray, tid: np.ndarray, side: np.ndarray, pe_raw: np.ndarray, a: np.ndarray,
                  stop_dist: np.ndarray | None, tp_dist: np.ndarray | None, low: np.ndarray, high: np.ndarray,
                  open_: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The trades whose stop or take-profit is touched, each at the first held bar that touches one.

    `tb` are the held bars (in trade order, then bar order) and `tid` the trade holding each; `side`,
    `pe_raw` (entry price before slippage) and `a` (entry bar) are per trade; `stop_dist` / `tp_dist` per
    bar (distances known at the entry bar) or None. Returns (trades hit, their exit bars, fill prices,
    whether it was the stop): a level is filled at the level, or at the open when the bar opened through
    it; the stop wins a bar that touches both. One function for `simulate` and `paiid.backtest.sweep`,
    so the sweep's columns exit exactly as single backtests do.
    """
    s_t = side[tid]
    hit = np.zeros(tb.size, bool)
    stop_hit = hit
    with np.errstate(invalid="ignore"):
        if stop_dist is not None:
            sl = pe_raw - side * stop_dist[a]
            adverse = np.where(s_t > 0, low[tb], high[tb])
            stop_hit = s_t * (adverse - sl[tid]) <= 0
            hit = hit | stop_hit
        if tp_dist is not None:
            tp = pe_raw + side * tp_dist[a]
            favour = np.where(s_t > 0, high[tb], low[tb])
            hit = hit | (s_t * (favour - tp[tid]) >= 0)
    hm = np.flatnonzero(hit)
    if not hm.size:
        none = np.zeros(0, np.intp)
        return none, none, np.zeros(0), np.zeros(0, bool)
    ht = tid[hm]
    first = np.ones(hm.size, bool)
    first[1:] = ht[1:] != ht[:-1]
    k = ht[first]
    hb = tb[hm[first]]
    ob = open_[hb]
    sk = side[k]
    is_stop = stop_hit[hm[first]] if stop_dist is not None else np.zeros(k.size, bool)
    px = np.empty(k.size)
    if stop_dist is not None:
        lv = sl[k]
        px = np.where(sk * (ob - lv) <= 0, ob, lv)  # gapped through the stop: filled at the open
    if tp_dist is not None:
        lv = tp[k]
        px_tp = np.where(sk * (ob - lv) >= 0, ob, lv)
        px = np.where(is_stop, px, px_tp)
    return k, hb, px, is_stop


def simulate(
    open_: Array,
    high: Array,
    low: Array,
    close: Array,
    target: Array,
    *,
    commission: float,
    slippage: float,
    fraction: float = 1.0,
    cash: float = 10_000.0,
    stop_dist: Array | None = None,
    tp_dist: Array | None = None,
    whole_units: bool = False,
    close_at_end: bool = True,
    group_starts: Array | None = None,
) -> Simulation:
    """Simulate trading `target` (desired position at each close, in [-1, 1]) on OHLC arrays.

    `commission` and `slippage` are fractions (1 bp = 1e-4). `stop_dist`/`tp_dist` give, for a trade entered
    at bar t, the distance from its entry open to the stop / target level (NaN = none). `group_starts` lists
    the first bar of each symbol when several are concatenated: each starts flat with `cash`, and a trade
    never spans two symbols.
    """
    n = close.size
    tgt = np.asarray(target, dtype=np.float64)
    if n and not np.abs(tgt).max() <= 1.0:  # NaN, inf or out of [-1, 1] (one pass in the common case)
        tgt = np.clip(np.nan_to_num(tgt, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)
    d = np.empty(n)
    d[:1] = 0.0
    d[1:] = tgt[:-1]  # decided at the close of t-1, held from the open of t
    if group_starts is not None:
        gs = np.asarray(group_starts, dtype=np.int64)
        d[gs] = 0.0
        boundary = np.zeros(n + 1, bool)
        boundary[n] = True
        boundary[gs] = True
    else:
        gs = np.zeros(1, dtype=np.int64)
        boundary = None
    chg = np.empty(n, bool)
    chg[:1] = False
    np.not_equal(d[1:], d[:-1], out=chg[1:])
    nz = d != 0
    ch_idx = np.flatnonzero(chg)
    is_entry = nz[ch_idx]
    a = ch_idx[is_entry]  # entry bars (the target changed to a non-zero value)
    k_n = a.size
    positions = d * fraction if fraction != 1.0 else d
    b = np.append(ch_idx, n)[np.flatnonzero(is_entry) + 1]  # next change: the exit (or the end)
    eod = boundary[b] if boundary is not None else b == n
    da = d[a]
    side = np.sign(da)
    q = np.abs(da) * fraction if fraction != 1.0 else np.abs(da)
    pe_raw = open_[a]
    pe = pe_raw * (1.0 + side * slippage) if slippage else pe_raw

    exit_idx = b - eod
    if boundary is None:  # only the last trade can run into the end of the data
        x_raw = open_[np.minimum(b, n - 1)]
        if k_n and eod[-1]:
            x_raw[-1] = close[n - 1]
    else:
        x_raw = np.where(eod, close[b - 1], open_[np.minimum(b, n - 1)])
    reason = eod * EXIT_END  # EXIT_SIGNAL (0) unless the data ended first
    use_stops = k_n > 0 and (stop_dist is not None or tp_dist is not None)
    tb = tid = None
    if use_stops:
        tb = np.flatnonzero(nz)
        tid = np.cumsum(chg & nz)[tb] - 1
        k, hb, px, is_stop = barrier_exits(tb, tid, side, pe_raw, a, stop_dist, tp_dist, low, high, open_)
        exit_idx[k] = hb
        x_raw[k] = px
        reason[k] = np.where(is_stop, EXIT_STOP, EXIT_TAKE_PROFIT)

    if close_at_end:
        closing = np.ones(k_n, bool)
        x = x_raw * (1.0 - side * slippage) if slippage else x_raw
        fee_out_rate = commission
    else:
        closing = reason != EXIT_END
        x = np.where(closing, x_raw * (1.0 - side * slippage), x_raw)
        fee_out_rate = closing * commission

    if group_starts is None:
        first_in_group = np.zeros(k_n, bool)
        first_in_group[:1] = True
    else:
        gid_trade = np.searchsorted(gs, a, side="right") - 1
        first_in_group = np.ones(k_n, bool)
        first_in_group[1:] = gid_trade[1:] != gid_trade[:-1]
    if whole_units:
        # Sequential by nature (units depend on the equity the previous trade left), but only over
        # trades: the per-unit entry cost and per-unit pnl are vectorised, the loop does two flops a trade.
        per_unit_cost = pe * (1.0 + commission)
        per_unit_pnl = side * (x - pe) - commission * pe - fee_out_rate * x
        units_l: list[float] = []
        equity_k = cash
        for f0, qi, ci, gi in zip(first_in_group.tolist(), q.tolist(), per_unit_cost.tolist(),
                                  np.broadcast_to(per_unit_pnl, (k_n,)).tolist(), strict=True):
            if f0:
                equity_k = cash
            u = float(math.floor(qi * equity_k / ci)) if equity_k > 0 else 0.0
            units_l.append(u)
            equity_k += u * gi
        units = np.array(units_l)
        pnl = units * per_unit_pnl
        fee_in = commission * units * pe
    else:
        ratio = x / pe
        rel = side * q * (ratio - 1.0) - commission * q - fee_out_rate * q * ratio
        growth = np.maximum(1.0 + rel, 0.0)
        e_k = cash * _segmented_cumprod_exclusive(growth, first_in_group)
        units = q * e_k / pe
        fee_in = commission * units * pe
        pnl = e_k * rel

    valid = units > 0
    realized = np.bincount(exit_idx, weights=pnl, minlength=n) if k_n else np.zeros(n)
    equity = np.cumsum(realized)
    if boundary is not None:
        gid_bar = np.cumsum(boundary[:n]) - 1
        equity -= (equity - realized)[gs][gid_bar]
    equity += cash
    if k_n:
        # Mark open trades to market at each close. Trade k is marked on bars [a_k, exit_k) (its exit bar
        # is realised above); the bars form alternating runs gap, trade, gap, trade, ..., gap that cover
        # every bar once, so two np.repeat calls spread the per-trade coefficients over the bars and flat
        # bars get exactly 0.
        edges = np.empty(2 * k_n + 2, dtype=np.int64)
        edges[0] = 0
        edges[1:-1:2] = a
        edges[2:-1:2] = exit_idx
        edges[-1] = n
        runs = np.diff(edges)
        slope = np.zeros(2 * k_n + 1)
        level = np.zeros(2 * k_n + 1)
        slope[1::2] = side * units
        level[1::2] = -side * units * pe - fee_in
        equity += np.repeat(slope, runs) * close + np.repeat(level, runs)
        if use_stops or not valid.all():
            if tb is None:
                tb = np.flatnonzero(nz)
                tid = np.cumsum(chg & nz)[tb] - 1
            after = (tb > exit_idx[tid]) | ~valid[tid]
            positions[tb[after]] = 0.0

    busted = not equity.min() > 0
    if busted:  # the account stops trading
        for g0, g1 in zip(gs, np.append(gs[1:], n), strict=True):
            bad = np.flatnonzero(equity[g0:g1] <= 0)
            if bad.size:
                equity[g0 + bad[0]:g1] = 0.0
                positions[g0 + bad[0] + 1:g1] = 0.0
                valid = valid & ~((a > g0 + bad[0]) & (a < g1))  # no trades after the account is gone
    returns = np.empty(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(equity[1:], equity[:-1], out=returns[1:])
        returns[gs] = equity[gs] / cash
        returns -= 1.0
    if busted:
        prev_eq = np.empty(n)
        prev_eq[1:] = equity[:-1]
        prev_eq[gs] = cash
        returns[prev_eq <= 0] = 0.0

    notional = units * pe
    with np.errstate(invalid="ignore", divide="ignore"):
        tret = pnl / notional
    if not valid.all():
        v = valid
        return Simulation(equity, returns, positions, a[v], exit_idx[v], side[v], pe[v], x[v], units[v],
                          pnl[v], tret[v], reason[v], ~closing[v])
    return Simulation(equity, returns, positions, a, exit_idx, side, pe, x, units, pnl, tret, reason,
                      ~closing)


TRADE_COLUMNS = ["entry_date", "exit_date", "side", "entry_price", "exit_price", "pnl", "return"]


@dataclass
class BacktestResult:
    """One backtest: metrics, per-bar arrays, and the trade list and equity Series (built lazily on first
    access: the optimizer and the selector only read metrics, returns and positions)."""

    strategy_id: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    index: pd.DatetimeIndex
    positions: Array
    returns: Array
    signals: Array
    sim: Simulation = field(repr=False)
    settings: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def equity(self) -> pd.Series:
        """Account equity at each bar's close (marked to market), indexed like the bars."""
        return pd.Series(self.sim.equity, index=self.index, name="equity")

    @cached_property
    def daily_equity(self) -> pd.Series:
        """Equity at the last bar of each calendar day (the same as `equity` for daily bars)."""
        eq = self.equity
        days = eq.index.normalize()
        if days.is_unique:
            return eq.set_axis(days)
        return eq.groupby(days).last()

    @cached_property
    def trades(self) -> pd.DataFrame:
        """entry_date, exit_date, side ('long'/'short'), entry/exit fill prices, pnl (currency), return
        (pnl over entry notional, after costs), plus units, bars, exit_reason and is_open."""
        s = self.sim
        idx = self.index
        return pd.DataFrame({
            "entry_date": idx[s.entry_idx],
            "exit_date": idx[s.exit_idx],
            "side": np.where(s.side > 0, "long", "short"),
            "entry_price": s.entry_price,
            "exit_price": s.exit_price,
            "pnl": s.pnl,
            "return": s.trade_return,
            "units": s.units,
            "bars": s.exit_idx - s.entry_idx,
            "exit_reason": EXIT_REASONS[s.reason],
            "is_open": s.is_open,
        })

    def to_payload(self, symbol: str) -> dict[str, Any]:
        """The contract's JSON shape (CLI `--json` and `POST /api/backtest`)."""
        tr = self.trades
        rows = [
            {
                "entry_date": e.isoformat(), "exit_date": x.isoformat(), "side": side,
                "entry_price": float(ep), "exit_price": float(xp), "pnl": float(pnl), "return": float(ret),
                "exit_reason": reason, "is_open": bool(op),
            }
            for e, x, side, ep, xp, pnl, ret, reason, op in zip(
                tr["entry_date"], tr["exit_date"], tr["side"], tr["entry_price"], tr["exit_price"], tr["pnl"],
                tr["return"], tr["exit_reason"], tr["is_open"], strict=True,
            )
        ]
        return {
            "symbol": symbol,
            "strategy_id": self.strategy_id,
            "params": self.params,
            "start": self.index[0].isoformat(),
            "end": self.index[-1].isoformat(),
            "execution_model": self.settings.get("execution_model", OHLCV_MODEL),
            "execution": self.settings.get("execution", EXECUTION[OHLCV_MODEL]),
            "settings": self.settings,
            "metrics": self.metrics,
            "trades": rows,
        }


def _check_costs(commission_bps: float, slippage_bps: float, fraction: float) -> None:
    if not (0 <= commission_bps <= 1000):
        raise BadInput(f"commission_bps {commission_bps:g} must be between 0 and 1000")
    if not (0 <= slippage_bps <= 1000):
        raise BadInput(f"slippage_bps {slippage_bps:g} must be between 0 and 1000")
    if not (0 < fraction <= 1):
        raise BadInput(f"fraction {fraction:g} must be > 0 and <= 1 (share of equity committed per trade)")


def _atr_prev(arrays: Mapping[str, Array], features: pd.DataFrame | None) -> Array:
    """ATR known at the close before each bar (what a stop placed at that bar's open can use)."""
    if features is not None and "atr_14" in features.columns and len(features) == len(arrays["close"]):
        atr = features["atr_14"].to_numpy(dtype=np.float64)
    else:
        atr = talib.ATR(arrays["high"], arrays["low"], arrays["close"], timeperiod=STOP_ATR_PERIOD)
    out = np.full_like(atr, np.nan)
    out[1:] = atr[:-1]
    return out


def run_backtest(
    bars: pd.DataFrame,
    strategy: str | StrategyTemplate = "trend-following-ma-cross",
    params: Mapping[str, Any] | None = None,
    *,
    features: pd.DataFrame | None = None,
    commission_bps: float = DEFAULT_COMMISSION_BPS,
    slippage_bps: float = DEFAULT_SLIPPAGE_BPS,
    stop: Any = None,
    take_profit: Any = None,
    fraction: float = 1.0,
    cash: float = 10_000.0,
    whole_units: bool = False,
    close_at_end: bool = True,
    bars_per_year: float | None = None,
    signals: Array | None = None,
) -> BacktestResult:
    """Backtest one template on one symbol's bars (see the module docstring for the execution rules).

    `features` (the `build_features` frame for the same bars) is optional; templates reuse its columns
    when the parameters match and compute the rest with TA-Lib. `stop` / `take_profit`: see
    `parse_exit_rule`. `signals` overrides the template's target positions (for custom strategies).
    Raises `BadInput` for an unknown id or a parameter out of range and `NotEnoughHistory` when the bars
    are fewer than the template's look-back plus 30.
    """
    tpl = get_strategy(strategy)
    p = tpl.validate_params(params)
    _check_costs(commission_bps, slippage_bps, fraction)
    stop_rule = parse_exit_rule(stop, "stop")
    tp_rule = parse_exit_rule(take_profit, "take_profit")
    need = tpl.lookback(p) + 30
    if len(bars) < need:
        span = f"from {bars.index[0].date()} to {bars.index[-1].date()}" if len(bars) else "(empty range)"
        raise NotEnoughHistory(f"backtesting {tpl.id} on bars {span}", need, len(bars))
    arrays, close_only = execution_arrays(bars)
    if close_only:  # precomputed ATR/ADX columns are not those of the flat bars the variant runs on
        features = None
    if signals is None:
        target = np.asarray(tpl.fn(features, arrays, p), dtype=np.float64)
    else:
        target = np.asarray(signals, dtype=np.float64)
        if target.shape != (len(bars),):
            raise BadInput(f"signals must have one value per bar ({len(bars)}), got shape {target.shape}")
    o, h, lo, c = arrays["open"], arrays["high"], arrays["low"], arrays["close"]
    kinds = (getattr(stop_rule, "kind", ""), getattr(tp_rule, "kind", ""))
    atr_prev = _atr_prev(arrays, features) if "atr" in kinds else None
    sim = simulate(
        o, h, lo, c, target,
        commission=commission_bps * 1e-4,
        slippage=slippage_bps * 1e-4,
        fraction=fraction,
        cash=cash,
        stop_dist=stop_rule.distance(o, atr_prev) if stop_rule else None,
        tp_dist=tp_rule.distance(o, atr_prev) if tp_rule else None,
        whole_units=whole_units,
        close_at_end=close_at_end,
    )
    bpy = bars_per_year or estimate_bars_per_year(bars.index)
    metrics = compute_metrics(
        sim.returns, sim.positions, None, {"pnl": sim.pnl, "return": sim.trade_return},
        bars_per_year_=bpy, close=c, equity=sim.equity,
    )
    metrics["final_equity"] = float(sim.equity[-1])
    metrics["commission_paid"] = float(
        commission_bps * 1e-4 * np.dot(sim.units, sim.entry_price + sim.exit_price * ~sim.is_open)
    )
    settings = {
        "commission_bps": commission_bps, "slippage_bps": slippage_bps, "fraction": fraction, "cash": cash,
        "stop": stop_rule.label() if stop_rule else None,
        "take_profit": tp_rule.label() if tp_rule else None,
        "whole_units": whole_units, "close_at_end": close_at_end,
        "execution_model": CLOSE_ONLY_MODEL if close_only else OHLCV_MODEL,
        "execution": EXECUTION[CLOSE_ONLY_MODEL if close_only else OHLCV_MODEL],
    }
    return BacktestResult(
        strategy_id=tpl.id,
        params=p,
        metrics=metrics,
        index=bars.index,
        positions=sim.positions,
        returns=sim.returns,
        signals=target,
        sim=sim,
        settings=settings,
    )


def run_universe(
    bars_by_symbol: Mapping[str, pd.DataFrame],
    strategies: list[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    features_by_symbol: Mapping[str, pd.DataFrame] | None = None,
    commission_bps: float = DEFAULT_COMMISSION_BPS,
    slippage_bps: float = DEFAULT_SLIPPAGE_BPS,
    fraction: float = 1.0,
) -> pd.DataFrame:
    """Every template on every symbol, one vectorised simulation per template over all symbols at once.

    Returns one row per (symbol, strategy_id) with the headline metrics and the symbol's
    `execution_model` (close-only symbols run the close-only variant, the others the OHLCV rules).
    Symbols too short for a template get NaN metrics rather than failing the whole run.
    """
    _check_costs(commission_bps, slippage_bps, fraction)
    ids = list(strategies or [])
    if not ids:
        from paiid.backtest.strategies import STRATEGIES

        ids = list(STRATEGIES)
    syms = list(bars_by_symbol)
    lengths = np.array([len(bars_by_symbol[s]) for s in syms])
    gs = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    runs = [execution_arrays(bars_by_symbol[s]) for s in syms]
    model = [CLOSE_ONLY_MODEL if flat else OHLCV_MODEL for _, flat in runs]
    feats = [None if flat else (features_by_symbol or {}).get(s)
             for s, (_, flat) in zip(syms, runs, strict=True)]
    cat = {k: np.concatenate([arr[k] for arr, _ in runs]) for k in ("open", "high", "low", "close")}
    bpy = [estimate_bars_per_year(bars_by_symbol[s].index) for s in syms]
    rows: list[dict[str, Any]] = []
    for sid in ids:
        tpl = get_strategy(sid)
        p = tpl.validate_params((params or {}).get(sid))
        need = tpl.lookback(p) + 30
        target = np.concatenate([
            np.nan_to_num(np.asarray(tpl.fn(f, arr, p), float))
            for f, (arr, _) in zip(feats, runs, strict=True)
        ])
        sim = simulate(cat["open"], cat["high"], cat["low"], cat["close"], target,
                       commission=commission_bps * 1e-4, slippage=slippage_bps * 1e-4, fraction=fraction,
                       cash=1.0, group_starts=gs)
        t_group = np.searchsorted(gs, sim.entry_idx, side="right") - 1
        for g, s in enumerate(syms):
            lo_, hi_ = gs[g], gs[g] + lengths[g]
            if lengths[g] < need:
                rows.append({"symbol": s, "strategy_id": sid, "bars": int(lengths[g]),
                             "execution_model": model[g]})
                continue
            sel = t_group == g
            m = compute_metrics(sim.returns[lo_:hi_], sim.positions[lo_:hi_], None,
                                {"pnl": sim.pnl[sel], "return": sim.trade_return[sel]},
                                bars_per_year_=bpy[g], close=cat["close"][lo_:hi_])
            rows.append({"symbol": s, "strategy_id": sid, **m, "execution_model": model[g]})
    return pd.DataFrame(rows)
