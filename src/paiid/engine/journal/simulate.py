"""`paiid journal simulate`: a seeded synthetic user replayed over past dates of the stored bars.

Why: the journal's report needs entries to be shown, tested and documented before real users write
any. The synthetic user, on every `every`-th bar between `start` and `end`:

1. asks for the strategy recommendation as of that date (`paiid.engine.answers.recommendation`: point
   in time, served by the models fitted up to that date's refit date, and logged like any answer);
2. with probability `adopt` adopts it: the top template on the side its rule holds then, with the trade
   model's default barriers (`STOP_ATR` / `PROFIT_ATR` x ATR(14) from that close);
3. otherwise follows a fixed manual rule: long with the same barriers when the close is above its
   50-day average, else passes on the advice.

Every entry is stored with `source="simulated"` and the report built from them says `simulated: true`.
Past dates before the served models' refit date need point-in-time refits of the selector and regime
models (one per refit period, about a minute each on two cores, kept for later runs), which is why the
default replays only the last quarter of data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from paiid.data import load_bars, normalise_symbol
from paiid.data.repository import parse_timestamp
from paiid.engine import answers, tracking
from paiid.engine.journal import record
from paiid.engine.journal.facts import template_side
from paiid.errors import BadInput, PaiidError
from paiid.features import build_features
from paiid.ml.tradeprob.labels import PROFIT_ATR, STOP_ATR
from paiid.progress import track

#: The manual rule's name, stored as the manual trades' template.
MANUAL_RULE = "rule:close>sma50"
#: Default replay length when no start is given: one quarter (one point-in-time refit period).
DEFAULT_SPAN = pd.Timedelta(days=91)


def decision_dates(bars: pd.DataFrame, start: Any, end: Any, every: int) -> list[pd.Timestamp]:
    """Every `every`-th bar date in [start, end] (defaults: the last quarter up to the last bar)."""
    if every < 1:
        raise BadInput(f"every must be at least 1 bar, not {every}")
    stop = parse_timestamp(end, "end") if end is not None else bars.index[-1]
    begin = parse_timestamp(start, "start") if start is not None else stop - DEFAULT_SPAN
    if begin > stop:
        raise BadInput(f"start {begin.date()} is after end {stop.date()}")
    window = bars.index[(bars.index >= begin) & (bars.index <= stop)]
    if not len(window):
        raise BadInput(f"no bars between {begin.date()} and {stop.date()} (stored: {bars.index[0].date()} to "
                       f"{bars.index[-1].date()})")
    return list(window[::every])


def simulate(symbol: str = "SPX", start: Any = None, end: Any = None, *, every: int = 2, adopt: float = 0.6,
             seed: int = 0, user_id: str | None = None) -> dict[str, Any]:
    """Replay the synthetic user (module docstring); returns the run's counts and its journal report."""
    if not 0.0 <= float(adopt) <= 1.0:
        raise BadInput(f"adopt must be a probability between 0 and 1, not {adopt}")
    sym = normalise_symbol(symbol)
    bars = load_bars(sym)
    dates = decision_dates(bars, start, end, int(every))
    uid = user_id or f"simulated-{seed}"
    rng = np.random.default_rng(seed)
    features = build_features(bars)
    atr = features["atr_14"]
    sma50 = bars["close"].rolling(50).mean()  # at bar t from bars up to t only
    counts = {"adopt": 0, "manual": 0, "pass": 0}
    skipped: list[dict[str, str]] = []
    for day in track(dates, f"simulated user on {sym}"):
        draw = rng.random()  # one draw per date whatever happens, so a seed replays the same choices
        iso = day.date().isoformat()
        try:
            answer = answers.recommendation(sym, iso, user_id=uid)
        except PaiidError as exc:
            skipped.append({"date": iso, "reason": exc.message})
            continue
        pid = answer.get("prediction_id")
        if pid is None:
            skipped.append({"date": iso, "reason": "the answer could not be logged"})
            continue
        close, a = float(bars["close"].loc[day]), float(atr.loc[day])
        if draw < adopt:
            action, side = "adopt", template_side(sym, day, answer["recommendations"][0]["strategy_id"])
        elif close > float(sma50.loc[day]):
            action, side = "manual", "long"
        else:
            action, side = "pass", None
        prices: dict[str, float | None] = {"entry": None, "stop": None, "target": None}
        if side is not None and np.isfinite(a):
            s = 1.0 if side == "long" else -1.0
            prices = {"entry": close, "stop": close - s * STOP_ATR * a, "target": close + s * PROFIT_ATR * a}
        record.add(pid, action, side=side, template=MANUAL_RULE if action == "manual" else None,
                   entry_date=iso, user_id=uid, source="simulated",
                   note=f"paiid journal simulate --seed {seed} --adopt {adopt:g}", **prices)
        counts[action] += 1
    return {
        "simulated": True,
        "symbol": sym, "start": dates[0].date().isoformat(), "end": dates[-1].date().isoformat(),
        "every": int(every), "adopt_probability": float(adopt), "seed": int(seed), "user_id": uid,
        "decisions": sum(counts.values()), "actions": counts, "skipped": skipped,
        "manual_rule": "long when the close is above its 50-day simple moving average, else pass",
        "journal": tracking.journal_report(source="simulated", user=uid),
    }
