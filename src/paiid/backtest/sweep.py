"""Many parameter sets of one template on one symbol in one vectorised pass: `run_sweep`.

Why: the optimiser scores a batch of trials and CSCV needs the trial-by-time return matrix, and both
are the same backtest repeated with other parameters. Running `run_backtest` once per parameter set
pays the Python and numpy call overhead per column; here every step of `engine.simulate` is done for
all columns at once on a (columns x bars) array, with numpy only (no compiled kernel, no new runtime
dependency).

Column k of a sweep is **exactly** (bit for bit) what `run_backtest(bars, template, grid[k], ...)` gives
with the same keyword arguments: the same execution rules (signal at the close of t, fill at the open of
t+1; the close-only variant for close-only bars, `strategies.execution_arrays`), the same commission,
slippage, sizing, stops and targets, the same equity, returns, positions, trades and metrics. That is
possible because every step is either elementwise (identical per column) or a scan (`cumsum`,
`cumprod`, `maximum.accumulate`) along a row, which numpy evaluates strictly left to right, as on the
1-D arrays of `simulate`; reductions (the Sharpe ratio, `compute_metrics`) run on contiguous rows, which
numpy sums the way it sums a 1-D array. The tests check equality column by column for every template.

How each piece is vectorised:

* **Signals.** The MA cross (what the optimiser and the bench sweep most) is broadcast: one TA-Lib SMA
  per distinct period for the whole grid (and one ADX per distinct ADX period), one SMA row compared
  against a slice of the others per run of columns sharing a period, then the crosses as the events
  the target changes at. The other templates' rules are stateful chains of TA-Lib
  indicators with per-column periods; they call the template's own function once per *distinct*
  parameter set (a few hundred microseconds each) and stack the targets. Custom targets can be passed
  as a (columns x bars) `signals` array.
* **Trades** are found on the flattened (columns x bars) array: a change of target starts or ends a
  trade, and a trade whose next change lies in a later row ends with its own row's data.
* **Stops and targets** (path-dependent: the first bar that touches a level) use the engine's method
  over every held bar of every column at once (the first hit per trade of a flat hit mask), so no
  loop over bars is needed.
* **Compounding** is a `cumprod` per row over a (columns x max trades) array padded with ones; with
  `whole_units=True` the units depend on the equity the previous trade left, so that one step is a loop
  over the trade ordinal (all columns at once per step), not over bars.
* **Equity** is the cumulative realised pnl per row plus each open trade marked to market by two
  run-length expansions, as in `simulate`.

Columns are processed in chunks of about `CHUNK_CELLS` cells so the temporaries stay in cache.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import talib

from paiid.backtest.engine import (
    CLOSE_ONLY_MODEL,
    DEFAULT_COMMISSION_BPS,
    DEFAULT_SLIPPAGE_BPS,
    EXECUTION,
    EXIT_END,
    EXIT_STOP,
    EXIT_TAKE_PROFIT,
    OHLCV_MODEL,
    BacktestResult,
    Simulation,
    _atr_prev,
    _check_costs,
    barrier_exits,
    parse_exit_rule,
)
from paiid.backtest.metrics import bars_per_year as estimate_bars_per_year
from paiid.backtest.metrics import compute_metrics
from paiid.backtest.strategies import StrategyTemplate, _feature, execution_arrays, get_strategy
from paiid.errors import BadInput, NotEnoughHistory
from paiid.metrics import sharpe as _sharpe

Array = np.ndarray

#: Cells (columns x bars) simulated per chunk: ~2 MB per float array, so a chunk's temporaries stay in cache.
CHUNK_CELLS = 1 << 18

Grid = Sequence[Mapping[str, Any]] | Mapping[str, Any]


class _Work:
    """Scratch arrays reused from chunk to chunk: a fresh multi-megabyte temporary per numpy call costs
    its page faults every time (measured: ~3x the arithmetic on these machines), a reused one once."""

    def __init__(self) -> None:
        self.bufs: dict[str, Array] = {}
        self._ranges: tuple[Array, Array, Array] | None = None

    def get(self, name: str, shape: tuple[int, ...], dtype: Any = np.float64) -> Array:
        size = math.prod(shape)
        b = self.bufs.get(name)
        if b is None or b.size < size or b.dtype != dtype:
            b = self.bufs[name] = np.empty(size, dtype)
        return b[:size].reshape(shape)

    def range_tables(self, c: Array) -> tuple[Array, Array]:
        """Sparse tables of the running min and max of `c` (row j: the extreme of c[i : i + 2**j]), built
        once per sweep for `_range_extreme`."""
        if self._ranges is None or self._ranges[0] is not c:
            self._ranges = (c, _sparse_table(c, np.minimum), _sparse_table(c, np.maximum))
        return self._ranges[1], self._ranges[2]


def _sparse_table(c: Array, op: np.ufunc) -> Array:
    """Row j holds op over c[i : i + 2**j] where that window fits (NaN after it)."""
    n = c.size
    levels = max(n.bit_length(), 1)
    t = np.full((levels, n), np.nan)
    t[0] = c
    for j in range(1, levels):
        w = 1 << (j - 1)
        m = n - 2 * w + 1
        op(t[j - 1, :m], t[j - 1, w:w + m], out=t[j, :m])
    return t


def _range_extreme(table: Array, lo: Array, hi: Array, op: np.ufunc) -> Array:
    """op (np.minimum / np.maximum) over c[lo:hi] for each pair (hi > lo), from the sparse table: the two
    power-of-two windows that cover the range. The extreme of a set of doubles is one of them (no
    rounding; NaN propagates through np.minimum / np.maximum either way), so this is what
    `op.reduceat(c, ...)` gives for the range, without scanning every bar of every range (measured:
    ~10% of a 1,000-pair sweep went to those scans)."""
    j = np.frexp((hi - lo).astype(np.float64))[1] - 1  # floor(log2(length)), exact
    return op(table[j, lo], table[j, hi - (1 << j)])


def _fill_runs(values: Array, runs: Array, out: Array) -> None:
    """`out.ravel()[:] = np.repeat(values, runs)` without the full-size float temporary."""
    rid = np.repeat(np.arange(values.size, dtype=np.int32 if values.size < 2**31 else np.int64), runs)
    np.take(values, rid, out=out.reshape(-1), mode="clip")


def grid_params(tpl: StrategyTemplate, grid: Grid) -> list[dict[str, Any]]:
    """The validated parameter set of every column.

    `grid` is a sequence of parameter mappings (one per column), or a mapping of parameter name to a
    sequence of values (one per column, all the same length) or to a scalar (the same in every
    column), the way numpy broadcasts. Every set is checked as `run_backtest` checks it (`BadInput`)."""
    def is_seq(v: Any) -> bool:
        return isinstance(v, Sequence | np.ndarray) and not isinstance(v, str)

    if isinstance(grid, Mapping):
        seqs = {name: (v.tolist() if isinstance(v, np.ndarray) else list(v))
                for name, v in grid.items() if is_seq(v)}
        scalars = {name: (v.item() if isinstance(v, np.generic) else v)
                   for name, v in grid.items() if not is_seq(v)}
        lengths = {len(v) for v in seqs.values()}
        if len(lengths) > 1:
            raise BadInput(f"grid columns have different lengths {sorted(lengths)}: "
                           "give one value per column")
        names = list(seqs)
        rows: list[dict[str, Any]] = [{**scalars, **dict(zip(names, vals, strict=True))}
                                      for vals in zip(*seqs.values(), strict=True)] if names else [scalars]
    else:
        rows = [{name: (v.item() if isinstance(v, np.generic) else v) for name, v in (p or {}).items()}
                for p in grid]
    if not rows:
        raise BadInput("the grid is empty: give at least one parameter set")
    try:
        return _validated(tpl, rows)
    except BadInput:  # the set-by-set check, for the very error `run_backtest` would raise first
        return [tpl.validate_params(p) for p in rows]


def _validated(tpl: StrategyTemplate, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`[tpl.validate_params(p) for p in rows]`, each distinct value of each parameter checked once.

    Why: checking a value costs ~1.5 us and a grid of a thousand sets repeats a few dozen distinct values
    (measured: the per-set check was ~30% of a 1,000-pair sweep). The range check depends on the name and
    the value only (`StrategyTemplate.validate_value`); the relations (`check`) still run per set. The
    memo is keyed by (name, type, value), so 2, 2.0 and True are checked apart, and holds only ints,
    floats and bools, whose conversion is a function of that key (a float zero is keyed by its sign:
    -0.0 equals 0.0 but converts to itself). An invalid grid raises here and is checked again set by set."""
    memo: dict[tuple[Any, ...], int | float] = {}
    defaults, check = tpl.params, tpl.check
    out: list[dict[str, Any]] = []
    for row in rows:
        p = dict(defaults)
        for name, value in row.items():
            cls = value.__class__
            if cls is int or cls is bool or cls is float:
                key = (name, cls, value) if value != 0.0 else (name, cls, "zero", math.copysign(1.0, value))
                v = memo.get(key)
                if v is None:
                    v = memo[key] = tpl.validate_value(name, value)
            else:
                v = tpl.validate_value(name, value)
            p[name] = v
        if check is not None and check(p):
            raise BadInput("invalid parameter set")  # the set-by-set check names it
        out.append(p)
    return out


# ------------------------------------------------------------------------------------------- signals


def _ma_cross_events(arrays: Mapping[str, Array], features: pd.DataFrame | None, ps: list[dict[str, Any]],
                     cache: dict[Any, Any], work: _Work) -> tuple[Array, Array]:
    """`strategies._ma_cross` for several parameter sets at once (rows), bit for bit the same, as its
    events: (flat positions of the crosses in (row, bar) order, the position each one sets).

    The comparisons are `_ma_cross`'s own (fast > slow, fast < slow on the same SMA doubles,
    `_compare_rows`); the ADX filter is read at the crosses only, which is all `_ma_cross` reads of it."""
    c = arrays["close"]
    n = c.size
    where, table = _sma_table(c, ps, cache)
    shape = (len(ps), n)
    above, below = work.get("b0", shape, bool), work.get("b1", shape, bool)
    up, dn = work.get("b2", shape, bool), work.get("b3", shape, bool)
    _compare_rows(table, np.array([where[p["fast"]] for p in ps], dtype=np.intp),
                  np.array([where[p["slow"]] for p in ps], dtype=np.intp), above, below, work)
    up[:, 0] = False
    dn[:, 0] = False
    np.logical_and(below[:, :-1], above[:, 1:], out=up[:, 1:])
    np.logical_and(above[:, :-1], below[:, 1:], out=dn[:, 1:])
    up |= dn  # every cross, up or down
    ev_at = np.flatnonzero(up)  # flat positions of the crosses, in (row, bar) order
    val = dn.reshape(-1)[ev_at].astype(np.float64)
    val = 1.0 - 2.0 * val  # +1 at an up cross, -1 at a down cross
    mins = np.array([p["adx_min"] for p in ps], dtype=np.float64)
    if (mins > 0).any():
        # The trend test at the crosses only (the rest of `_ma_cross`'s `ok` is never read): one ADX per
        # distinct period, the same comparison per element.
        rows_adx = [p["adx_period"] for p in ps]
        periods_adx = sorted({w for w, m in zip(rows_adx, mins, strict=True) if m > 0})
        for w in periods_adx:
            if ("adx", w) not in cache:
                adx = _feature(features, "adx_14", n) if w == 14 else None
                if adx is None:
                    adx = talib.ADX(arrays["high"], arrays["low"], c, timeperiod=w)
                cache[("adx", w)] = adx
        adx_table = np.stack([cache[("adx", w)] for w in periods_adx])
        at_adx = {w: i for i, w in enumerate(periods_adx)}
        row_adx = np.array([at_adx.get(w, 0) for w in rows_adx], dtype=np.intp)
        ev_row = ev_at // n
        ev_min = mins[ev_row]
        with np.errstate(invalid="ignore"):
            ok = (ev_min <= 0) | (adx_table[row_adx[ev_row], ev_at - ev_row * n] >= ev_min)
        val = np.where(ok, val, 0.0)  # a cross without trend: flat
    longonly = np.array([not p.get("allow_short", 1) for p in ps])
    if longonly.any():
        val = np.where(longonly[ev_at // n], np.maximum(val, 0.0), val)
    return ev_at, val


def _sma_table(c: Array, ps: list[dict[str, Any]], cache: dict[Any, Any]) -> tuple[dict[int, int], Array]:
    """(row of each period, one TA-Lib SMA per distinct period as rows) covering `ps`: built once for the
    whole grid (`run_sweep` asks with every set first), so a chunk only gathers its rows from it."""
    have = cache.get("sma_table")
    need = {p["fast"] for p in ps} | {p["slow"] for p in ps}
    if have is None or not need <= have[0].keys():
        periods = sorted(need | (set(have[0]) if have is not None else set()))
        have = cache["sma_table"] = ({w: i for i, w in enumerate(periods)},
                                     np.stack([talib.SMA(c, timeperiod=w) for w in periods]))
    return have


def _compare_rows(table: Array, fi: Array, si: Array, above: Array, below: Array, work: _Work) -> None:
    """Row i: `above = table[fi[i]] > table[si[i]]` and `below = ... <`, the comparisons `_ma_cross` makes.

    Why not gather both sides and compare: that writes and reads two (columns x bars) float arrays, most
    of the memory traffic of a sweep. A grid is usually an outer product, so consecutive rows share their
    fast (or their slow) period: such a run compares one SMA row, broadcast, against the other side's
    rows, which are a slice of the table (no copy) when their periods are consecutive table rows, else
    one gather. Scattered pairs (an optimiser's batch) gather both sides, as before."""
    k, n = above.shape
    runs_f = 1 + int(np.count_nonzero(fi[1:] != fi[:-1]))
    runs_s = 1 + int(np.count_nonzero(si[1:] != si[:-1]))
    with np.errstate(invalid="ignore"):
        if 8 * min(runs_f, runs_s) > k:
            # mode="clip" (the indices are valid): with out= and the default mode numpy copies through a
            # buffer, measured 5x slower here.
            f = np.take(table, fi, axis=0, out=work.get("f0", (k, n)), mode="clip")
            s = np.take(table, si, axis=0, out=work.get("f1", (k, n)), mode="clip")
            np.greater(f, s, out=above)
            np.less(f, s, out=below)
            return
        by_fast = runs_f <= runs_s
        key, other = (fi, si) if by_fast else (si, fi)
        step_one = np.diff(other) == 1
        cut = (np.flatnonzero(key[1:] != key[:-1]) + 1).tolist()
        for r0, r1 in zip([0, *cut], [*cut, k], strict=True):
            one = table[key[r0]]
            if r1 - r0 == 1 or step_one[r0:r1 - 1].all():
                many = table[other[r0]:other[r0] + r1 - r0]
            else:
                many = np.take(table, other[r0:r1], axis=0, out=work.get("f0", (r1 - r0, n)), mode="clip")
            if by_fast:
                np.greater(one, many, out=above[r0:r1])
                np.less(one, many, out=below[r0:r1])
            else:
                np.greater(many, one, out=above[r0:r1])
                np.less(many, one, out=below[r0:r1])


def _hold(ev_at: Array, val: Array, shape: tuple[int, int], out: Array) -> None:
    """Hold each event's value until the next one, each row starting flat: runs [row start, first event),
    [event, next event), ... filled by one np.repeat instead of a running maximum over every bar."""
    k_rows, n = shape
    row_e = ev_at // n
    counts = np.bincount(row_e, minlength=k_rows)
    starts = np.cumsum(counts) - counts
    edges = np.empty(ev_at.size + k_rows + 1, dtype=np.int64)
    values = np.zeros(ev_at.size + k_rows)
    rows = np.arange(k_rows)
    edges[starts + rows] = rows * n
    at = np.arange(ev_at.size) + row_e + 1
    edges[at] = ev_at
    values[at] = val
    edges[-1] = k_rows * n
    _fill_runs(values, np.diff(edges), out)


def _changes_from_events(ev_at: Array, val: Array, shape: tuple[int, int]) -> tuple[Array, Array]:
    """(flat bars where the held position `d` changes, its new value) from the target's events: `d` at t is
    the target at t-1, so it changes the bar after an event whose value differs from the row's previous
    one (0 at the row's start); an event on a row's last bar changes nothing inside the data."""
    n = shape[1]
    row_e = ev_at // n
    prev = np.zeros(val.size)
    prev[1:] = val[:-1]
    first = np.ones(val.size, bool)
    first[1:] = row_e[1:] != row_e[:-1]
    prev[first] = 0.0
    keep = (val != prev) & (ev_at - row_e * n < n - 1)
    return ev_at[keep] + 1, val[keep]


def _is_ma_cross(tpl: StrategyTemplate) -> bool:
    return tpl.fn.__name__ == "_ma_cross" and tpl.fn.__module__ == "paiid.backtest.strategies"


def _targets(tpl: StrategyTemplate, arrays: Mapping[str, Array], features: pd.DataFrame | None,
             ps: list[dict[str, Any]], cache: dict[Any, Any], out: Array, work: _Work) -> None:
    """Target positions of the parameter sets `ps` (rows of `out`), as `tpl.fn(features, arrays, p)` gives
    them."""
    if _is_ma_cross(tpl):
        _hold(*_ma_cross_events(arrays, features, ps, cache, work), out.shape, out)
        return
    for i, p in enumerate(ps):
        key = ("fn", tuple(sorted(p.items())))
        if key not in cache:
            cache[key] = np.asarray(tpl.fn(features, arrays, p), dtype=np.float64)
        out[i] = cache[key]


# ------------------------------------------------------------------------------------------ simulate


@dataclass
class _Plan:
    """One chunk of columns reduced to its trades: everything the per-bar arrays are expanded from."""

    s0: int
    k_cols: int
    n: int
    cash: float
    row: Array
    af: Array  # flat (row * n + bar) entry bars
    xf: Array  # flat exit bars
    pos_end: Array  # flat end (exclusive) of the bars the trade holds a position on
    pos_val: Array  # the position held (0 for a trade that could not be sized)
    before: Array  # realised pnl of the column before the trade's exit
    after: Array  # ... and after it
    slope: Array  # units x side: the trade's equity moves by slope x close
    level: Array
    starts: Array  # first trade of each row
    bust: dict[int, int]  # row -> first bar whose equity is <= 0 (the account stops trading)


def _changes_dense(target: Array, work: _Work) -> tuple[Array, Array]:
    """(flat bars where the held position changes, its new value) from a (columns x bars) target, with
    the engine's treatment of NaN, inf and out-of-range targets."""
    k_cols, n = target.shape
    tgt = np.asarray(target, dtype=np.float64)
    if tgt.size and not (tgt.max() <= 1.0 and tgt.min() >= -1.0):  # clipping an in-range row: identity
        tgt = np.clip(np.nan_to_num(tgt, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)
    chg = work.get("b0", (k_cols, n), bool)
    chg[:, :2] = False
    np.not_equal(tgt[:, 1:-1], tgt[:, :-2], out=chg[:, 2:])  # d[t] != d[t-1] with d[t] = target[t-1]
    chg[:, 1] = tgt[:, 0] != 0
    ch = np.flatnonzero(chg)
    return ch, tgt.reshape(-1)[ch - 1]


def _held(ch: Array, vals: Array, shape: tuple[int, int], work: _Work) -> Array:
    """The held position d (columns x bars) from its changes (a work buffer)."""
    k_cols, n = shape
    d = work.get("f1", shape)
    row = ch // n
    counts = np.bincount(row, minlength=k_cols)
    starts = np.cumsum(counts) - counts
    edges = np.empty(ch.size + k_cols + 1, dtype=np.int64)
    values = np.zeros(ch.size + k_cols)
    rows = np.arange(k_cols)
    edges[starts + rows] = rows * n
    at = np.arange(ch.size) + row + 1
    edges[at] = ch
    values[at] = vals
    edges[-1] = k_cols * n
    _fill_runs(values, np.diff(edges), d)
    return d


def _plan_block(
    o: Array, h: Array, lo: Array, c: Array, ch: Array, vals: Array, shape: tuple[int, int], *,
    commission: float, slippage: float, fraction: float, cash: float, stop_dist: Array | None,
    tp_dist: Array | None, whole_units: bool, close_at_end: bool, work: _Work, s0: int = 0,
) -> tuple[dict[str, Array], _Plan]:
    """`engine.simulate` for a chunk of columns over the same bars, given where each column's held position
    changes (`ch`, flat, sorted) and to what (`vals`): the trades, and the plan their per-bar equity,
    returns and positions are expanded from (`_expand`). Each statement mirrors the one of `simulate` it
    replaces, so that the values match to the bit."""
    k_cols, n = shape
    is_entry = vals != 0
    af = ch[is_entry]  # flat entry bars
    k_n = af.size
    row = af // n
    base = row * n
    a = af - base
    nxt = np.append(ch, k_cols * n)[np.flatnonzero(is_entry) + 1]
    b = np.minimum(nxt - base, n)  # the next change in the same row, else the end of the row's data
    eod = b == n
    da = vals[is_entry]
    side = np.sign(da)
    q = np.abs(da) * fraction if fraction != 1.0 else np.abs(da)
    pe_raw = o[a]
    pe = pe_raw * (1.0 + side * slippage) if slippage else pe_raw
    exit_idx = b - eod
    x_raw = o[np.minimum(b, n - 1)]
    x_raw[eod] = c[n - 1]
    reason = eod * EXIT_END
    use_stops = k_n > 0 and (stop_dist is not None or tp_dist is not None)
    stopped = np.zeros(k_n, bool)
    if use_stops:
        d_f = _held(ch, vals, shape, work).reshape(-1)
        nz_f = d_f != 0
        tbf = np.flatnonzero(nz_f)
        tid = np.searchsorted(af, tbf, side="right") - 1  # the trade holding each held bar
        tb = tbf % n
        k, hb, px, is_stop = barrier_exits(tb, tid, side, pe_raw, a, stop_dist, tp_dist, lo, h, o)
        exit_idx[k] = hb
        x_raw[k] = px
        reason[k] = np.where(is_stop, EXIT_STOP, EXIT_TAKE_PROFIT)
        stopped[k] = True

    if close_at_end:
        closing = np.ones(k_n, bool)
        x = x_raw * (1.0 - side * slippage) if slippage else x_raw
        fee_out_rate: float | Array = commission
    else:
        closing = reason != EXIT_END
        x = np.where(closing, x_raw * (1.0 - side * slippage), x_raw)
        fee_out_rate = closing * commission

    counts = np.bincount(row, minlength=k_cols)
    starts = np.cumsum(counts) - counts
    ordinal = np.arange(k_n) - starts[row]  # position of each trade in its column
    width = int(counts.max()) + 1 if k_n else 1
    if whole_units:
        per_unit_cost = pe * (1.0 + commission)
        per_unit_pnl = np.broadcast_to(side * (x - pe) - commission * pe - fee_out_rate * x, (k_n,))
        units = np.empty(k_n)
        equity_k = np.full(k_cols, cash)
        for j in range(width - 1):  # over trade ordinals, all columns at once
            cols = np.flatnonzero(counts > j)
            t = starts[cols] + j
            e = equity_k[cols]
            with np.errstate(invalid="ignore", divide="ignore"):
                u = np.where(e > 0, np.floor(q[t] * e / per_unit_cost[t]), 0.0)
            units[t] = u
            equity_k[cols] = e + u * per_unit_pnl[t]
        pnl = units * per_unit_pnl
        fee_in = commission * units * pe
    else:
        ratio = x / pe
        rel = side * q * (ratio - 1.0) - commission * q - fee_out_rate * q * ratio
        growth = np.maximum(1.0 + rel, 0.0)
        padded = np.ones((k_cols, width))
        padded[row, ordinal + 1] = growth
        np.cumprod(padded, axis=1, out=padded)
        e_k = cash * padded[row, ordinal]  # product of the earlier trades' growth in the same column
        units = q * e_k / pe
        fee_in = commission * units * pe
        pnl = e_k * rel

    valid = units > 0
    # The realised pnl summed in exit order is what the engine's running sum over bars gives (it only
    # adds zeros in between).
    acc = np.zeros((k_cols, width))
    acc[row, ordinal + 1] = pnl
    np.cumsum(acc, axis=1, out=acc)
    slope = side * units
    level = -side * units * pe - fee_in
    b_flat = base + np.minimum(b, exit_idx + 1)
    plan = _Plan(s0=s0, k_cols=k_cols, n=n, cash=cash, row=row, af=af, xf=base + exit_idx,
                 pos_end=np.where(stopped, base + exit_idx + 1, b_flat) if use_stops else base + b,
                 pos_val=np.where(valid, da * fraction if fraction != 1.0 else da, 0.0),
                 before=acc[row, ordinal], after=acc[row, ordinal + 1], slope=slope, level=level,
                 starts=starts, bust={})

    # Can an account go to zero? Equity on a trade's bars is (realised + cash) + (slope x close + level),
    # monotone in the close, so its worst value over the trade is at least its value at the series' extreme
    # close; only a column that fails this bound is expanded to find its first bar at or below zero.
    if k_n and n:
        cext = np.where(slope > 0, c.min(), c.max())
        with np.errstate(invalid="ignore"):
            worst = (plan.before + cash) + (slope * cext + level)
            ok = (worst > 0) & (plan.after + cash > 0)
        if not ok.all():  # the exact worst close of each trade that failed the bound, over its own bars
            k_bad = np.flatnonzero(~ok)
            span = a[k_bad] < exit_idx[k_bad]
            lo_b = a[k_bad]
            hi_b = np.where(span, exit_idx[k_bad], lo_b + 1)  # [a, a + 1): one bar, ignored
            mins, maxs = work.range_tables(c)
            reduce = np.where(slope[k_bad] > 0, _range_extreme(mins, lo_b, hi_b, np.minimum),
                              _range_extreme(maxs, lo_b, hi_b, np.maximum))
            with np.errstate(invalid="ignore"):
                exact = (plan.before[k_bad] + cash) + (slope[k_bad] * reduce + level[k_bad])
                ok[k_bad] = ((exact > 0) | ~span) & (plan.after[k_bad] + cash > 0)
        suspects = np.unique(row[~ok])
        if suspects.size:
            eq = np.empty((k_cols, n))
            _expand_equity(plan, c, eq, work)
            for r in suspects:
                bad = np.flatnonzero(eq[r] <= 0)
                if bad.size:
                    plan.bust[int(r)] = int(bad[0])
                    valid = valid & ~((row == r) & (a > bad[0]))

    notional = units * pe
    with np.errstate(invalid="ignore", divide="ignore"):
        tret = pnl / notional
    v = valid if not valid.all() else slice(None)
    trades = {"column": row[v] + s0, "entry_idx": a[v], "exit_idx": exit_idx[v], "side": side[v],
              "entry_price": pe[v], "exit_price": x[v], "units": units[v], "pnl": pnl[v],
              "trade_return": tret[v], "reason": reason[v], "is_open": ~closing[v]}
    return trades, plan


def _expand_equity(plan: _Plan, c: Array, equity: Array, work: _Work) -> None:
    """Per-bar equity of a chunk from its plan (before the bust rule): per row, runs [row start, a_0),
    [a_0, x_0), [x_0, a_1), ..., [x_last, row end), each (realised + cash) + (slope x close + level)."""
    k_cols, n, k_n = plan.k_cols, plan.n, plan.af.size
    if not k_n:
        equity[:] = plan.cash
        return
    n_runs = 2 * k_n + k_cols
    edges = np.empty(n_runs + 1, dtype=np.int64)
    rows_all = np.arange(k_cols)
    edges[2 * plan.starts + rows_all] = rows_all * n
    pos_k = 2 * np.arange(k_n) + plan.row + 1
    edges[pos_k] = plan.af
    edges[pos_k + 1] = plan.xf
    edges[-1] = k_cols * n
    r_level = np.zeros(n_runs)
    slope = np.zeros(n_runs)
    level = np.zeros(n_runs)
    r_level[pos_k] = plan.before
    r_level[pos_k + 1] = plan.after
    slope[pos_k] = plan.slope
    level[pos_k] = plan.level
    r_level += plan.cash
    eq = equity.reshape(-1)
    rid = np.repeat(np.arange(n_runs, dtype=np.int32 if n_runs < 2**31 else np.int64), np.diff(edges))
    tmp = work.get("f0", (k_cols * n,))
    np.take(slope, rid, out=eq, mode="clip")
    equity *= c
    np.take(level, rid, out=tmp, mode="clip")
    eq += tmp
    np.take(r_level, rid, out=tmp, mode="clip")
    eq += tmp


def _expand(plan: _Plan, c: Array, equity: Array, returns: Array, positions: Array, work: _Work) -> None:
    """A chunk's per-bar equity, returns and positions from its plan, with the engine's bust rule."""
    k_cols, n = plan.k_cols, plan.n
    _expand_equity(plan, c, equity, work)
    k_n = plan.af.size
    edges = np.empty(2 * k_n + k_cols + 1, dtype=np.int64)
    values = np.zeros(2 * k_n + k_cols)
    rows_all = np.arange(k_cols)
    edges[2 * plan.starts + rows_all] = rows_all * n
    pos_k = 2 * np.arange(k_n) + plan.row + 1
    edges[pos_k] = plan.af
    edges[pos_k + 1] = plan.pos_end
    values[pos_k] = plan.pos_val
    edges[-1] = k_cols * n
    _fill_runs(values, np.diff(edges), positions)
    for r, bad in plan.bust.items():
        equity[r, bad:] = 0.0
        positions[r, bad + 1:] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(equity[:, 1:], equity[:, :-1], out=returns[:, 1:])
        returns[:, 0] = equity[:, 0] / plan.cash
        returns -= 1.0
    for r in plan.bust:
        prev_eq = np.empty(n)
        prev_eq[1:] = equity[r, :-1]
        prev_eq[0] = plan.cash
        returns[r, prev_eq <= 0] = 0.0


# ------------------------------------------------------------------------------------------- results


TRADE_FIELDS = ("entry_idx", "exit_idx", "side", "entry_price", "exit_price", "units", "pnl", "trade_return",
                "reason", "is_open")


@dataclass
class SweepResult:
    """Every column of a sweep: the trades of all columns in one table (`trades["column"]` says whose,
    sorted by column then entry); (columns x bars) `equity`, `returns`, `positions` and `signals`,
    expanded from the trades on first access (all columns at once, then kept); and per column the
    metrics `run_backtest` reports (`metrics(k)`, computed on first use) or its whole result (`result(k)`).

    The per-bar arrays are lazy because the trades are the sweep's work and the per-bar arrays its
    bulk: the optimiser reads `returns` (then they are built, in one vectorised pass), a search over a
    grid that ranks columns by their trades or final equity need not pay for them.
    """

    strategy_id: str
    params: list[dict[str, Any]]
    index: pd.DatetimeIndex
    close: Array
    trades: dict[str, Array]
    bars_per_year: float
    commission_bps: float
    settings: dict[str, Any] = field(default_factory=dict)
    _plans: list[_Plan] = field(default_factory=list, repr=False)
    _targets_of: Any = field(default=None, repr=False)  # (s0, s1) -> the chunk's target positions
    _metrics: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)
    _dense: dict[str, Array] = field(default_factory=dict, repr=False)

    def _expand_all(self) -> dict[str, Array]:
        if not self._dense:
            k, n = len(self.params), len(self.index)
            eq, rt, po = np.empty((k, n)), np.empty((k, n)), np.empty((k, n))
            work = _Work()
            for plan in self._plans:
                sl = slice(plan.s0, plan.s0 + plan.k_cols)
                _expand(plan, self.close, eq[sl], rt[sl], po[sl], work)
            self._dense.update(equity=eq, returns=rt, positions=po)
        return self._dense

    @property
    def equity(self) -> Array:
        """(columns x bars) account equity at each close, marked to market."""
        return self._expand_all()["equity"]

    @property
    def returns(self) -> Array:
        """(columns x bars) per-bar returns after costs."""
        return self._expand_all()["returns"]

    @property
    def positions(self) -> Array:
        """(columns x bars) position held over each bar (after stops, sizing failures and a bust)."""
        return self._expand_all()["positions"]

    @property
    def signals(self) -> Array:
        """(columns x bars) target positions decided at each close (the template's, or those given)."""
        if "signals" not in self._dense:
            k, n = len(self.params), len(self.index)
            out = np.empty((k, n))
            for plan in self._plans:
                out[plan.s0:plan.s0 + plan.k_cols] = self._targets_of(plan.s0, plan.s0 + plan.k_cols)
            self._dense["signals"] = out
        return self._dense["signals"]

    def final_equity(self) -> Array:
        """Each column's equity at the last close (`equity[:, -1]`) from the trades alone, without the
        per-bar arrays."""
        out = np.empty(len(self.params))
        for plan in self._plans:
            sl = slice(plan.s0, plan.s0 + plan.k_cols)
            out[sl] = plan.cash
            if plan.af.size:
                last = plan.starts + np.bincount(plan.row, minlength=plan.k_cols) - 1
                has = last >= plan.starts
                # the last bar is at or after every exit: realised pnl plus cash (+ 0 of no open trade)
                out[sl][has] = (plan.after[last[has]] + plan.cash) + 0.0
            for r in plan.bust:
                out[plan.s0 + r] = 0.0
        return out

    def __len__(self) -> int:
        return len(self.params)

    @property
    def trade_bounds(self) -> Array:
        """Offsets of each column's trades in `trades` (column k: `bounds[k]:bounds[k + 1]`)."""
        return np.searchsorted(self.trades["column"], np.arange(len(self.params) + 1))

    def trade_counts(self, start: int = 0) -> Array:
        """Trades per column that hold a position on any bar >= `start` (their exit bar is >= it)."""
        t = self.trades
        return np.bincount(t["column"][t["exit_idx"] >= start], minlength=len(self.params))

    def sharpe(self, start: int = 0, end: int | None = None, bars_per_year: float = 1.0) -> Array:
        """Sharpe ratio of every column's returns on bars [start, end): each row is summed as a 1-D array
        is, so a column's value equals `paiid.metrics.sharpe(returns_k[start:end], bpy, axis=0)`."""
        return np.atleast_1d(_sharpe(self.returns[:, start:end], bars_per_year, axis=1))

    def sim(self, k: int) -> Simulation:
        """Column k as the `Simulation` `simulate` returns."""
        lo_, hi_ = self.trade_bounds[k:k + 2]
        t = {name: self.trades[name][lo_:hi_] for name in TRADE_FIELDS}
        return Simulation(self.equity[k], self.returns[k], self.positions[k], t["entry_idx"], t["exit_idx"],
                          t["side"], t["entry_price"], t["exit_price"], t["units"], t["pnl"],
                          t["trade_return"], t["reason"], t["is_open"])

    def metrics(self, k: int) -> dict[str, Any]:
        """Column k's metrics, computed exactly as `run_backtest` computes them."""
        if k not in self._metrics:
            s = self.sim(k)
            m = compute_metrics(s.returns, s.positions, None, {"pnl": s.pnl, "return": s.trade_return},
                                bars_per_year_=self.bars_per_year, close=self.close, equity=s.equity)
            m["final_equity"] = float(s.equity[-1])
            m["commission_paid"] = float(
                self.commission_bps * 1e-4 * np.dot(s.units, s.entry_price + s.exit_price * ~s.is_open))
            self._metrics[k] = m
        return self._metrics[k]

    def result(self, k: int) -> BacktestResult:
        """Column k as the `BacktestResult` `run_backtest` returns for `params[k]`."""
        return BacktestResult(strategy_id=self.strategy_id, params=self.params[k], metrics=self.metrics(k),
                              index=self.index, positions=self.positions[k], returns=self.returns[k],
                              signals=self.signals[k], sim=self.sim(k), settings=dict(self.settings))


def run_sweep(
    bars: pd.DataFrame,
    template: str | StrategyTemplate,
    grid: Grid,
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
) -> SweepResult:
    """Backtest `template` on `bars` for every parameter set of `grid` at once (see the module docstring).

    The keyword arguments are `run_backtest`'s and apply to every column; `signals` (columns x bars)
    overrides the template's targets. Raises `BadInput` for a bad parameter set and `NotEnoughHistory`
    when the bars are too few for the longest look-back of the grid, as `run_backtest` would for it.
    """
    tpl = get_strategy(template)
    ps = grid_params(tpl, grid)
    _check_costs(commission_bps, slippage_bps, fraction)
    stop_rule = parse_exit_rule(stop, "stop")
    tp_rule = parse_exit_rule(take_profit, "take_profit")
    need = max(tpl.lookback(p) for p in ps) + 30
    if len(bars) < need:
        span = f"from {bars.index[0].date()} to {bars.index[-1].date()}" if len(bars) else "(empty range)"
        raise NotEnoughHistory(f"backtesting {tpl.id} on bars {span}", need, len(bars))
    arrays, close_only = execution_arrays(bars)
    if close_only:
        features = None
    n, k_cols = len(bars), len(ps)
    if signals is not None:
        signals = np.asarray(signals, dtype=np.float64)
        if signals.shape != (k_cols, n):
            raise BadInput(f"signals must be (columns, bars) = ({k_cols}, {n}), got shape {signals.shape}")
    o, h, lo, c = arrays["open"], arrays["high"], arrays["low"], arrays["close"]
    kinds = (getattr(stop_rule, "kind", ""), getattr(tp_rule, "kind", ""))
    atr_prev = _atr_prev(arrays, features) if "atr" in kinds else None
    stop_dist = stop_rule.distance(o, atr_prev) if stop_rule else None
    tp_dist = tp_rule.distance(o, atr_prev) if tp_rule else None
    parts: list[dict[str, Array]] = []
    plans: list[_Plan] = []
    cache: dict[Any, Any] = {}
    work = _Work()
    sparse = signals is None and _is_ma_cross(tpl)
    if signals is None and _is_ma_cross(tpl):
        _sma_table(c, ps, cache)  # every period of the grid at once, not chunk by chunk
    step = max(1, CHUNK_CELLS // max(n, 1))

    def targets_of(s0: int, s1: int, out: Array | None = None) -> Array:
        out = np.empty((s1 - s0, n)) if out is None else out
        if signals is not None:
            out[:] = signals[s0:s1]
        else:
            _targets(tpl, arrays, features, ps[s0:s1], cache, out, work)
        return out

    for s0 in range(0, k_cols, step):
        s1 = min(s0 + step, k_cols)
        shape = (s1 - s0, n)
        if sparse:  # the MA cross's crosses are the changes of its target: no per-bar target needed
            events = _ma_cross_events(arrays, features, ps[s0:s1], cache, work)
            ch, vals = _changes_from_events(*events, shape)
        elif signals is not None:
            ch, vals = _changes_dense(signals[s0:s1], work)
        else:
            ch, vals = _changes_dense(targets_of(s0, s1, work.get("tg", shape)), work)
        tr, plan = _plan_block(o, h, lo, c, ch, vals, shape, commission=commission_bps * 1e-4,
                               slippage=slippage_bps * 1e-4, fraction=fraction, cash=cash,
                               stop_dist=stop_dist, tp_dist=tp_dist, whole_units=whole_units,
                               close_at_end=close_at_end, work=work, s0=s0)
        parts.append(tr)
        plans.append(plan)
    trades = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    model = CLOSE_ONLY_MODEL if close_only else OHLCV_MODEL
    settings = {
        "commission_bps": commission_bps, "slippage_bps": slippage_bps, "fraction": fraction, "cash": cash,
        "stop": stop_rule.label() if stop_rule else None,
        "take_profit": tp_rule.label() if tp_rule else None,
        "whole_units": whole_units, "close_at_end": close_at_end,
        "execution_model": model, "execution": EXECUTION[model],
    }
    return SweepResult(strategy_id=tpl.id, params=ps, index=bars.index, close=c, trades=trades,
                       bars_per_year=bars_per_year or estimate_bars_per_year(bars.index),
                       commission_bps=commission_bps, settings=settings, _plans=plans,
                       _targets_of=targets_of)


def sweep_returns(bars: pd.DataFrame, strategy_id: str, params: Iterable[Mapping[str, Any]]) -> Array:
    """(columns x bars) returns after costs, each row what `ml.optimize.objective.strategy_returns` gives:
    `close_at_end=False` (an open trade is marked to market, so a prefix run is the start of the full one)."""
    return run_sweep(bars, strategy_id, list(params), close_at_end=False).returns


__all__ = ["CHUNK_CELLS", "SweepResult", "grid_params", "run_sweep", "sweep_returns"]
