"""The four strategy templates: small declarative objects from bars (and features) to target positions.

A template is data (id, family, default parameters, ranges) plus one function that maps bars to the
position wanted **at the close of each bar**. The engine acts on it at the next bar's open, so a signal
function may use everything up to and including bar t for the value at t, and nothing after it.

Every signal function is vectorised (TA-Lib + numpy, no Python loop over bars) because the optimizer calls
them thousands of times. Stateful rules ("stay long until the close crosses the mid-band") are expressed
with last-event indices (`np.maximum.accumulate`) instead of loops.

Close-only series (open, high, low and volume NaN) run their documented close-only variant: every
template sees bars whose open, high and low are the close and whose volume is 0 (`execution_arrays`), so
ADX comes from closes, the breakout's channels are channels of closes and its volume confirmation is
skipped, as for any symbol without volume data.

Parameter ranges are what the optimizer searches and what users may pass; anything outside them is a
`BadInput` naming the range. `allow_short` (0/1) exists on every template: 1 lets the template go short
on its bearish signal, 0 makes it long-only (the bearish signal then means flat).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import talib

from paiid.errors import BadInput

Array = np.ndarray
FAMILIES = ("trend_following", "mean_reversion", "momentum", "breakout")


@dataclass(frozen=True)
class StrategyTemplate:
    """A strategy template: identity, defaults, search ranges and the signal function.

    `ranges` maps a parameter name to `(lo, hi, kind)` with kind "int" or "float"; bounds are inclusive.
    `fn(features, bars, params)` returns the desired position (-1, 0, +1) decided at each bar's close.
    `check` (optional) enforces relations between parameters (e.g. fast < slow) and returns an error
    message or None. `lookback(params)` is how many bars the indicators need before the first signal.
    """

    id: str
    family: str
    params: dict[str, float | int]
    ranges: dict[str, tuple[float, float, str]]
    description: str
    fn: Callable[[pd.DataFrame | None, Any, dict[str, Any]], Array] = field(repr=False)
    lookback: Callable[[dict[str, Any]], int] = field(repr=False)
    check: Callable[[dict[str, Any]], str | None] | None = field(default=None, repr=False)

    def validate_params(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with `params`, checked against the ranges (raises `BadInput` naming them)."""
        out: dict[str, Any] = dict(self.params)
        for name, value in (params or {}).items():
            out[name] = self.validate_value(name, value)
        if self.check is not None:
            problem = self.check(out)
            if problem:
                raise BadInput(f"invalid parameters for {self.id!r}: {problem}")
        return out

    def validate_value(self, name: str, value: Any) -> int | float:
        """One parameter checked against its range and converted to its kind (`BadInput` naming the range).

        Separate from `validate_params` because the range check depends on the name and the value alone
        (relations between parameters are `check`'s, run on the whole set): a sweep of a thousand
        parameter sets checks each distinct value once (`backtest.sweep.grid_params`)."""
        if name not in self.ranges:
            raise BadInput(
                f"unknown parameter {name!r} for strategy {self.id!r}; valid parameters: "
                + ", ".join(f"{k} ({lo:g}..{hi:g})" for k, (lo, hi, _) in self.ranges.items())
            )
        lo, hi, kind = self.ranges[name]
        try:
            num = float(value)
        except (TypeError, ValueError):
            raise BadInput(f"parameter {name!r} of {self.id!r} must be a number in {lo:g}..{hi:g}"
                           ) from None
        if not np.isfinite(num) or num < lo or num > hi:
            raise BadInput(
                f"parameter {name}={value!r} is outside its range for {self.id!r}: "
                f"{name} must be between {lo:g} and {hi:g} ({kind})"
            )
        if kind == "int":
            if not float(num).is_integer():
                raise BadInput(f"parameter {name}={value!r} of {self.id!r} must be a whole number "
                               f"in {lo:g}..{hi:g}")
            return int(num)
        return float(num)

    def signals(
        self, features: pd.DataFrame | None, bars: pd.DataFrame, params: Mapping[str, Any] | None = None
    ) -> Array:
        """Desired position at the close of each bar (float array, -1/0/+1, 0 during warm-up)."""
        p = self.validate_params(params)
        arrays, close_only = execution_arrays(bars)
        out = np.asarray(self.fn(None if close_only else features, arrays, p), dtype=np.float64)
        return np.nan_to_num(out, nan=0.0)

    def min_bars(self, params: Mapping[str, Any] | None = None) -> int:
        """Fewest bars a backtest needs: the indicator look-back plus a month of bars to trade in."""
        return int(self.lookback(self.validate_params(params))) + 30

    def describe(self) -> dict[str, Any]:
        """The wire form used by `GET /api/strategies`."""
        return {
            "id": self.id,
            "family": self.family,
            "description": self.description,
            "params": dict(self.params),
            "ranges": {k: {"min": lo, "max": hi, "type": kind} for k, (lo, hi, kind) in self.ranges.items()},
        }


# --------------------------------------------------------------------------------------------- helpers


OHLCV = ("open", "high", "low", "close", "volume")
Bars = pd.DataFrame | Mapping[str, Array]


def bar_arrays(bars: Bars) -> dict[str, Array]:
    """The OHLCV columns as contiguous float64 arrays, extracted in one go; close-only bars come back as
    their close-only execution variant (see `execution_arrays`).

    Pulling five columns out of a DataFrame one by one costs ~40 us in pandas 3; one `to_numpy` and a
    transpose cost ~5 us, which matters when the optimizer runs thousands of backtests."""
    return execution_arrays(bars)[0]


def execution_arrays(bars: Bars) -> tuple[dict[str, Array], bool]:
    """(the arrays the templates and the engine run on, whether they are the close-only variant).

    Close-only series (`paiid.data.CLOSE_ONLY`: open, high, low and volume NaN) are run as if each
    bar's open, high and low were its close and it had no volume data (volume 0): the one execution
    model that needs nothing the series does not have, so signals at the close of t fill at the close
    of t+1, stops and targets are checked against closes, ATR and ADX are TA-Lib's on those flat bars
    (Wilder's average of absolute close changes) and breakout channels are channels of closes. The
    data themselves stay close-only: only these arrays are flat.
    """
    arrays = _raw_arrays(bars)
    if not is_close_only(bars, arrays):
        return arrays, False
    c = arrays["close"]
    return {"open": c, "high": c, "low": c, "close": c, "volume": np.zeros_like(c)}, True


def is_close_only(bars: Bars, arrays: Mapping[str, Array] | None = None) -> bool:
    """Whether `bars` is a close-only series: marked so by `paiid.data.validate.mark_columns`, or, for an
    unmarked frame or mapping, a close with no open, high or low value at all.

    O(1) for full OHLCV bars (the marks, then the first open), so the hot paths can ask on every call."""
    recorded = bars.attrs.get("columns") if isinstance(bars, pd.DataFrame) else None
    if recorded is not None:
        return list(recorded) == ["close"]
    a = arrays if arrays is not None else _raw_arrays(bars)
    if "close" not in a:
        return False
    o = a.get("open")
    if o is None:
        return "high" not in a and "low" not in a
    if not o.size or not np.isnan(o[0]):
        return False
    return all(k in a and bool(np.isnan(a[k]).all()) for k in ("open", "high", "low"))


def _raw_arrays(bars: Bars) -> dict[str, Array]:
    if not isinstance(bars, pd.DataFrame):
        return {k: np.asarray(bars[k], dtype=np.float64) for k in OHLCV if k in bars}
    pos = _column_positions(bars.columns)
    if pos is not None:
        block = bars.to_numpy()
        if block.dtype == np.float64:
            block = np.ascontiguousarray(block.T)
            return {k: block[i] for k, i in zip(OHLCV, pos, strict=True)}
    return {k: bars[k].to_numpy(dtype=np.float64) for k in OHLCV if k in bars.columns}


_POS_CACHE: dict[int, tuple[pd.Index, tuple[int, ...] | None]] = {}


def _column_positions(columns: pd.Index) -> tuple[int, ...] | None:
    """Positions of the OHLCV columns, cached per (immutable) Index object: listing string columns is slow."""
    hit = _POS_CACHE.get(id(columns))
    if hit is not None and hit[0] is columns:
        return hit[1]
    cols = [str(c) for c in columns]
    pos = tuple(cols.index(k) for k in OHLCV) if all(k in cols for k in OHLCV) else None
    if len(_POS_CACHE) > 256:
        _POS_CACHE.clear()
    _POS_CACHE[id(columns)] = (columns, pos)  # holding the Index keeps its id from being reused
    return pos


def _col(bars: Bars, name: str) -> Array:
    x = bars[name]
    return x if isinstance(x, np.ndarray) else x.to_numpy(dtype=np.float64)


def _feature(features: pd.DataFrame | None, name: str, n: int) -> Array | None:
    """Reuse a precomputed feature column when it is there and aligned (saves a TA-Lib call)."""
    if features is not None and name in features.columns and len(features) == n:
        return features[name].to_numpy(dtype=np.float64)
    return None


def _last_index(mask: Array) -> Array:
    """For each bar, the index of the latest bar <= t where `mask` is true (-1 if none yet)."""
    idx = np.where(mask, np.arange(mask.size), -1)
    return np.maximum.accumulate(idx)


def _hold_events(events: Array) -> Array:
    """Forward-fill an event array (NaN = no event) into a position; 0 before the first event."""
    has = ~np.isnan(events)
    last = _last_index(has)
    out = np.where(last >= 0, events[np.maximum(last, 0)], 0.0)
    return out


def _shift(x: Array, k: int = 1) -> Array:
    out = np.full_like(x, np.nan)
    out[k:] = x[:-k]
    return out


def _no_short(pos: Array, params: dict[str, Any]) -> Array:
    return pos if params.get("allow_short", 1) else np.maximum(pos, 0.0)


# ------------------------------------------------------------------------- trend following: MA cross


def _ma_cross(features: pd.DataFrame | None, bars: pd.DataFrame, p: dict[str, Any]) -> Array:
    """Enter on a fast/slow SMA cross when ADX >= adx_min (a trend is present); hold to the next cross.

    A cross without enough trend strength closes the open position (flat) instead of reversing it.
    adx_min = 0 disables the filter; the rule is then exactly the textbook SMA cross that is always in
    the market after the first cross (the oracle test runs this case against backtesting.py).
    """
    c = _col(bars, "close")
    fast = talib.SMA(c, timeperiod=p["fast"])
    slow = talib.SMA(c, timeperiod=p["slow"])
    with np.errstate(invalid="ignore"):
        above, below = fast > slow, fast < slow
    up = np.zeros(c.size, bool)
    dn = np.zeros(c.size, bool)
    up[1:] = below[:-1] & above[1:]
    dn[1:] = above[:-1] & below[1:]
    if p["adx_min"] > 0:
        adx = _feature(features, "adx_14", c.size) if p["adx_period"] == 14 else None
        if adx is None:
            adx = talib.ADX(_col(bars, "high"), _col(bars, "low"), c, timeperiod=p["adx_period"])
        with np.errstate(invalid="ignore"):
            ok = adx >= p["adx_min"]
    else:
        ok = np.ones(c.size, bool)
    ev = np.full(c.size, np.nan)
    ev[up] = np.where(ok[up], 1.0, 0.0)
    ev[dn] = np.where(ok[dn], -1.0, 0.0)
    return _no_short(_hold_events(ev), p)


def _ma_check(p: dict[str, Any]) -> str | None:
    return None if p["fast"] < p["slow"] else f"fast ({p['fast']}) must be less than slow ({p['slow']})"


# ------------------------------------------------------------------- mean reversion: Bollinger + RSI


def _bb_rsi(features: pd.DataFrame | None, bars: pd.DataFrame, p: dict[str, Any]) -> Array:
    """Buy a close below the lower band with RSI below rsi_low, sell short above the upper band with RSI
    above rsi_high; exit when the close gets back to the middle band (the mean it reverts to)."""
    c = _col(bars, "close")
    upper, mid, lower = talib.BBANDS(c, timeperiod=p["bb_period"], nbdevup=p["bb_std"], nbdevdn=p["bb_std"],
                                     matype=0)
    rsi = _feature(features, "rsi_14", c.size) if p["rsi_period"] == 14 else None
    if rsi is None:
        rsi = talib.RSI(c, timeperiod=p["rsi_period"])
    with np.errstate(invalid="ignore"):
        long_in = (c < lower) & (rsi < p["rsi_low"])
        short_in = (c > upper) & (rsi > p["rsi_high"]) & bool(p["allow_short"])
        at_or_above_mid = c >= mid
        at_or_below_mid = c <= mid
    last_long, last_short = _last_index(long_in), _last_index(short_in)
    is_long = (last_long >= 0) & (last_long > last_short) & (last_long > _last_index(at_or_above_mid))
    is_short = (last_short >= 0) & (last_short > last_long) & (last_short > _last_index(at_or_below_mid))
    return is_long.astype(np.float64) - is_short.astype(np.float64)


def _bb_check(p: dict[str, Any]) -> str | None:
    if p["rsi_low"] >= p["rsi_high"]:
        return f"rsi_low ({p['rsi_low']}) must be less than rsi_high ({p['rsi_high']})"
    return None


# ------------------------------------------------------------------------------ momentum: MACD + ROC


def _macd_roc(features: pd.DataFrame | None, bars: pd.DataFrame, p: dict[str, Any]) -> Array:
    """Long while the MACD histogram is positive and the rate of change over roc_period exceeds roc_min;
    short in the mirror case; flat when the two disagree (momentum not confirmed)."""
    c = _col(bars, "close")
    hist = None
    if (p["fast"], p["slow"], p["signal"]) == (12, 26, 9):
        hist = _feature(features, "macd_hist", c.size)
    if hist is None:
        _, _, hist = talib.MACD(c, fastperiod=p["fast"], slowperiod=p["slow"], signalperiod=p["signal"])
    roc = c / _shift(c, p["roc_period"]) - 1.0
    with np.errstate(invalid="ignore"):
        pos = ((hist > 0) & (roc > p["roc_min"])).astype(np.float64)
        pos -= ((hist < 0) & (roc < -p["roc_min"])).astype(np.float64)
    return _no_short(pos, p)


def _macd_check(p: dict[str, Any]) -> str | None:
    return None if p["fast"] < p["slow"] else f"fast ({p['fast']}) must be less than slow ({p['slow']})"


# ------------------------------------------------------------------------ breakout: Donchian + volume


def _donchian(features: pd.DataFrame | None, bars: pd.DataFrame, p: dict[str, Any]) -> Array:
    """Enter when the close breaks the highest high (lowest low) of the previous `channel` bars on volume
    above volume_mult x its average of the previous volume_period bars; exit on a close through the
    opposite `exit_channel` extreme (the classic turtle exit). Symbols without volume data (all zero)
    skip the volume confirmation rather than never trading."""
    h, lo, c, v = _col(bars, "high"), _col(bars, "low"), _col(bars, "close"), _col(bars, "volume")
    hi_prev = _shift(talib.MAX(h, timeperiod=p["channel"]))
    lo_prev = _shift(talib.MIN(lo, timeperiod=p["channel"]))
    ex_hi = _shift(talib.MAX(h, timeperiod=p["exit_channel"]))
    ex_lo = _shift(talib.MIN(lo, timeperiod=p["exit_channel"]))
    avg_v = _shift(talib.SMA(v, timeperiod=p["volume_period"]))
    with np.errstate(invalid="ignore"):
        vol_ok = (v > p["volume_mult"] * avg_v) | (avg_v <= 0)
        long_in = (c > hi_prev) & vol_ok
        short_in = (c < lo_prev) & vol_ok & bool(p["allow_short"])
        long_out = c < ex_lo
        short_out = c > ex_hi
    last_long, last_short = _last_index(long_in), _last_index(short_in)
    is_long = (last_long >= 0) & (last_long > last_short) & (last_long > _last_index(long_out))
    is_short = (last_short >= 0) & (last_short > last_long) & (last_short > _last_index(short_out))
    return is_long.astype(np.float64) - is_short.astype(np.float64)


# ------------------------------------------------------------------------------------------ registry

_SHORT = (0, 1, "int")

STRATEGIES: dict[str, StrategyTemplate] = {
    t.id: t
    for t in (
        StrategyTemplate(
            id="trend-following-ma-cross",
            family="trend_following",
            params={"fast": 20, "slow": 50, "adx_period": 14, "adx_min": 20.0, "allow_short": 1},
            ranges={
                "fast": (2, 100, "int"),
                "slow": (5, 300, "int"),
                "adx_period": (5, 50, "int"),
                "adx_min": (0.0, 50.0, "float"),
                "allow_short": _SHORT,
            },
            description="Fast/slow simple moving-average cross, entered only when ADX shows a trend "
            "(adx_min; 0 disables the filter); held until the opposite cross.",
            fn=_ma_cross,
            lookback=lambda p: max(p["slow"], 2 * p["adx_period"] if p["adx_min"] > 0 else 0) + 1,
            check=_ma_check,
        ),
        StrategyTemplate(
            id="mean-reversion-bb-rsi",
            family="mean_reversion",
            params={"bb_period": 20, "bb_std": 2.0, "rsi_period": 14, "rsi_low": 30.0, "rsi_high": 70.0,
                    "allow_short": 1},
            ranges={
                "bb_period": (5, 100, "int"),
                "bb_std": (0.5, 4.0, "float"),
                "rsi_period": (2, 50, "int"),
                "rsi_low": (5.0, 50.0, "float"),
                "rsi_high": (50.0, 95.0, "float"),
                "allow_short": _SHORT,
            },
            description="Bollinger band + RSI extremes: buy below the lower band when RSI is oversold, "
            "short above the upper band when overbought; exit at the middle band.",
            fn=_bb_rsi,
            lookback=lambda p: max(p["bb_period"], p["rsi_period"] + 1),
            check=_bb_check,
        ),
        StrategyTemplate(
            id="momentum-macd",
            family="momentum",
            params={"fast": 12, "slow": 26, "signal": 9, "roc_period": 20, "roc_min": 0.0, "allow_short": 1},
            ranges={
                "fast": (2, 50, "int"),
                "slow": (5, 100, "int"),
                "signal": (2, 50, "int"),
                "roc_period": (2, 250, "int"),
                "roc_min": (0.0, 0.2, "float"),
                "allow_short": _SHORT,
            },
            description="MACD histogram sign confirmed by rate of change: long when both point up, "
            "short when both point down, flat when they disagree.",
            fn=_macd_roc,
            lookback=lambda p: max(p["slow"] + p["signal"], p["roc_period"] + 1),
            check=_macd_check,
        ),
        StrategyTemplate(
            id="momentum-breakout",
            family="breakout",
            params={"channel": 20, "exit_channel": 10, "volume_period": 20, "volume_mult": 1.2,
                    "allow_short": 1},
            ranges={
                "channel": (5, 250, "int"),
                "exit_channel": (2, 250, "int"),
                "volume_period": (2, 100, "int"),
                "volume_mult": (0.0, 5.0, "float"),
                "allow_short": _SHORT,
            },
            description="Donchian channel breakout confirmed by above-average volume; exit on a close "
            "through the opposite exit_channel extreme.",
            fn=_donchian,
            lookback=lambda p: max(p["channel"], p["exit_channel"], p["volume_period"]) + 1,
        ),
    )
}


def get_strategy(strategy_id: str) -> StrategyTemplate:
    """The template with this id, or `BadInput` naming the valid ids."""
    if isinstance(strategy_id, StrategyTemplate):
        return strategy_id
    try:
        return STRATEGIES[str(strategy_id or "").strip()]
    except KeyError:
        valid = ", ".join(STRATEGIES)
        raise BadInput(f"unknown strategy {strategy_id!r}; valid strategies: {valid}") from None
