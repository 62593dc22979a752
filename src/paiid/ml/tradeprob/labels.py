"""Events and their triple-barrier labels (López de Prado, *Advances in Financial Machine Learning*, ch. 3).

* **Events** are the templates' own entry signals: bar t where a template's desired position changes to
  long or short (decided at t's close, filled at t+1's open). The side comes from the template; the
  model on top of them (meta-labeling) does not pick the direction, it says how often *this kind of
  signal in these conditions* works out.
* **Triple barrier** from the entry (t+1's open): profit at `PROFIT_ATR` x ATR(14) in the trade's favour,
  stop at `STOP_ATR` x ATR against it, and a time barrier `HORIZON` bars later (ATR known at t, so the
  barriers adapt to volatility without lookahead). Label 1 = profit barrier first. A bar touching both
  counts as a stop (intrabar order unknown, the conservative choice, as in the backtest engine); a bar
  that gaps through a level fills at its open. Time-barrier exits count as not-a-win.
* **Close-only** (`triple_barrier(close_only=True)`, for series with closes only and for the close
  views the panel models pool): the bars are read as flat bars, open = high = low = close, which is
  the close-only backtest's execution model: entry at t+1's close, barriers checked on closes, a close
  beyond a level exits at that close. Such bars have no ATR(14) of highs and lows, so the caller gives
  the volatility unit (`atr=`), e.g. TA-Lib's ATR of the flat bars.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from paiid.features import WARMUP
from paiid.ml.context import TEMPLATES, SymbolContext

#: Time barrier (bars) and the profit / stop distances in ATR(14) multiples.
HORIZON = 20
PROFIT_ATR = 2.0
STOP_ATR = 2.0


def entry_events(
    ctx: SymbolContext, templates: Sequence[str] = TEMPLATES, horizon: int = HORIZON
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, side, template index) of every new long/short entry signal with a full label window
    (`horizon=0`: every entry up to the second-to-last bar, for track records)."""
    ts, sides, tpls = [], [], []
    for j, tid in enumerate(templates):
        sig = ctx.signals[tid]
        prev = np.concatenate(([0.0], sig[:-1]))
        t = np.flatnonzero((sig != 0) & (np.sign(sig) != np.sign(prev)))
        t = t[(t >= WARMUP) & (t + max(horizon, 1) < ctx.n)]
        ts.append(t)
        sides.append(np.sign(sig[t]))
        tpls.append(np.full(t.size, j))
    return np.concatenate(ts), np.concatenate(sides), np.concatenate(tpls).astype(np.int64)


def triple_barrier(
    ctx: SymbolContext,
    t: np.ndarray,
    side: np.ndarray,
    *,
    horizon: int = HORIZON,
    profit_atr: float = PROFIT_ATR,
    stop_atr: float = STOP_ATR,
    atr: np.ndarray | None = None,
    close_only: bool = False,
) -> dict[str, np.ndarray]:
    """Outcome of entering at t+1's open with `side`: label (1 = profit barrier first), exit bar t1,
    side-adjusted return (fraction of entry) and the return in ATR units.

    `atr`: the volatility unit per bar (known at the close of each bar) that places the barriers and
    divides `ret_atr`; default the features' `atr_14`. `close_only`: open, high and low are taken to be
    the close (see the module docstring), so NaN open / high / low columns are never read.

    Events with t + horizon >= n are allowed: the missing bars are NaN (never touch a barrier), so such
    an event either hit a barrier on the bars that exist (then its outcome is final) or has t1 >= n
    (unresolved). Training uses only events with a full window; `track_record` uses the rest too."""
    b = ctx.bars
    pad = np.full(horizon + 1, np.nan)
    cols = ("close",) * 4 if close_only else ("open", "high", "low", "close")
    o, h, lo, c = (np.concatenate((b[k].to_numpy(np.float64), pad)) for k in cols)
    atr = ctx.features["atr_14"].to_numpy(np.float64) if atr is None else np.asarray(atr, np.float64)
    t = np.asarray(t, dtype=np.int64)
    s = np.asarray(side, dtype=np.float64)
    entry = o[t + 1]
    a = atr[t]
    up = entry + s * profit_atr * a  # profit level (above for long, below for short)
    dn = entry - s * stop_atr * a  # stop level
    idx = t[:, None] + 1 + np.arange(horizon)[None, :]
    hh, ll, oo = h[idx], lo[idx], o[idx]
    fav = np.where(s[:, None] > 0, hh, ll)
    adv = np.where(s[:, None] > 0, ll, hh)
    hit_pt = s[:, None] * (fav - up[:, None]) >= 0
    hit_sl = s[:, None] * (adv - dn[:, None]) <= 0
    any_hit = hit_pt | hit_sl
    first = np.where(any_hit.any(axis=1), np.argmax(any_hit, axis=1), horizon - 1)
    rows = np.arange(t.size)
    stop_first = hit_sl[rows, first]
    win = hit_pt[rows, first] & ~stop_first & any_hit[rows, first]
    o_first = oo[rows, first]
    exit_px = np.where(
        stop_first,
        np.where(s * (o_first - dn) <= 0, o_first, dn),
        np.where(win, np.where(s * (o_first - up) >= 0, o_first, up), c[t + 1 + first]),
    )
    ret = s * (exit_px / entry - 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ret_atr = s * (exit_px - entry) / a
    return {
        "label": win.astype(np.int64),
        "t1": t + 1 + first,
        "ret": ret,
        "ret_atr": ret_atr,
        "outcome": np.where(win, "profit", np.where(stop_first & any_hit[rows, first], "stop", "time")),
    }
