"""The journal as it stands now: every entry with its status and outcome, from the bars loaded now.

Outcomes are computed when asked, not stored: an entry never changes after it is written (see
`entries`), and the answer to "has this trade resolved?" depends on which bars exist, which
`paiid.data.as_of` may cap (a replay of a past date sees the trades of that date still open).

Statuses: a superseded entry is `superseded` whatever its trade did; a pass is `passed` and carries, as
`outcome`, what the advice it passed on would have earned (the answer's own levels when it showed
them, else the trade model's default barriers), so passed advice can be compared with taken advice;
a trade is `open` until its barriers resolve it (`won`, `lost` or `timeout`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from paiid.data import load_bars
from paiid.engine.journal.entries import TRADES
from paiid.engine.journal.facts import Prediction, advice
from paiid.engine.journal.outcomes import Resolver, Trade
from paiid.errors import PaiidError


def _pass_trade(entry: Mapping[str, Any], pred: Prediction, resolver: Resolver) -> Trade | None:
    """The trade a pass declined: the advice's side, from its shown levels (same distances) or defaults."""
    adv = advice(pred)
    side = entry.get("side") or adv.side
    if side not in ("long", "short"):
        return None
    if adv.levels is not None:
        ref, profit, stop = adv.levels
        return Trade(pd.Timestamp(entry["entry_date"]), side, ref, stop, profit)
    return Trade(pd.Timestamp(entry["entry_date"]), side)


def resolve_entries(entries: Iterable[Mapping[str, Any]], predictions: Mapping[int, Prediction],
                    superseded: set[int]) -> list[dict[str, Any]]:
    """Each entry (a dict of `entries.FIELDS` and `symbol`) with `status`, `outcome` (the resolved trade
    or the pass's would-have trade; None when there is none) and the advice it followed."""
    resolvers: dict[str, Resolver | str] = {}
    out = []
    for e in entries:
        row = dict(e)
        pred = predictions.get(int(row["prediction_id"]))
        adv = advice(pred) if pred is not None else None
        row["advice"] = adv
        row["prediction"] = pred
        sym = str(row["symbol"])
        if sym not in resolvers:
            try:
                resolvers[sym] = Resolver(sym, load_bars(sym))
            except PaiidError as exc:
                resolvers[sym] = exc.message
        resolver = resolvers[sym]
        outcome: dict[str, Any] | None = None
        trade: Trade | None = None
        if isinstance(resolver, str):
            outcome = {"status": "open", "why": resolver}
        elif row["action"] in TRADES and row.get("side") in ("long", "short"):
            trade = Trade(pd.Timestamp(row["entry_date"]), row["side"], row.get("entry"), row.get("stop"),
                          row.get("target"))
        elif row["action"] == "pass" and pred is not None:
            trade = _pass_trade(row, pred, resolver)
        if trade is not None and not isinstance(resolver, str):
            outcome = resolver.resolve(trade)
        row["outcome"] = outcome
        if int(row["id"]) in superseded:
            row["status"] = "superseded"
        elif row["action"] == "pass":
            row["status"] = "passed"
        else:
            row["status"] = (outcome or {}).get("status", "open")
        out.append(row)
    return out
