"""Writing and listing journal entries: `POST /api/journal`, `paiid journal add|list`.

Every refusal is a `BadInput` (422 / exit 2) that names the field and what would be accepted, and every
check runs before anything is written: the answer must exist in the prediction log; an "adopt" is the
answer's own top template and side; stops and targets must sit on the loss and profit side of the entry
for the trade's side; a trade cannot start in the future or before the answer it followed; a correction
must name an entry about the same answer that nobody corrected yet.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from paiid.backtest import get_strategy
from paiid.data import load_bars
from paiid.data.repository import parse_timestamp
from paiid.engine import tracking
from paiid.engine.journal import entries
from paiid.engine.journal.entries import ACTIONS, FIELDS, SIDES, SOURCES, TRADES
from paiid.engine.journal.facts import ADVICE_KINDS, Prediction, advice, template_side
from paiid.engine.journal.ledger import resolve_entries
from paiid.engine.orchestrator import normalise_user
from paiid.errors import BadInput, PaiidError

MAX_NOTE = 2000
MAX_LIST = 1000
#: Largest row id SQLite stores (a larger id cannot exist, and binding it would overflow).
MAX_ID = 2**63 - 1


def _today() -> dt.date:
    """The latest calendar date anywhere on Earth's main time zones: local or UTC, whichever is later, so
    a user east of UTC journalling a trade on their today is not refused."""
    return max(dt.date.today(), dt.datetime.now(dt.UTC).date())


def _price(value: Any, name: str) -> float | None:
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"{name} must be a price (a positive number), not {value!r}") from None
    if not math.isfinite(f) or f <= 0:
        raise BadInput(f"{name} must be a positive finite price, not {value!r}")
    return f


def _prediction(prediction_id: Any) -> Prediction:
    try:
        pid = int(prediction_id)
    except (TypeError, ValueError):
        raise BadInput(f"prediction_id must be the integer id of a logged answer, not {prediction_id!r}"
                       ) from None
    pred = tracking.predictions_by_id([pid]).get(pid) if 1 <= pid <= MAX_ID else None
    if pred is None:
        raise BadInput(f"unknown prediction_id {pid}: no logged answer has that id (every served answer "
                       "carries its prediction_id; `paiid track` lists what is logged)")
    return pred


def _entry_date(value: Any, pred: Prediction) -> pd.Timestamp:
    as_of = pred.as_of.normalize()
    if value is None:
        return as_of
    ts = parse_timestamp(value, "entry_date")
    assert ts is not None
    day = ts.normalize()
    if day.date() > _today():
        raise BadInput(f"entry_date {day.date()} is in the future (today is {_today()}); journal a trade "
                       "on or after the day it starts")
    if day < as_of:
        raise BadInput(f"entry_date {day.date()} is before the answer's as_of {as_of.date()}: a trade that "
                       f"followed prediction {pred.id} starts on or after that date")
    return day


def _check_levels(side: str, ref: float, stop: float | None, target: float | None, ref_name: str) -> None:
    """A long's stop below and target above its entry; a short's the other way round."""
    for name, value, above in (("stop", stop, side == "short"), ("target", target, side == "long")):
        if value is None or (value > ref if above else value < ref):
            continue
        where = "above" if value > ref else "below" if value < ref else "equal to"
        raise BadInput(f"{name} {value:g} is {where} the {ref_name} {ref:g} for a {side}: a {side}'s "
                       f"{name} must be {'above' if above else 'below'} its entry")


def _side(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip().lower()
    if s not in SIDES:
        raise BadInput(f"unknown side {value!r}; valid sides: long, short")
    return s


def _decide(action: str, pred: Prediction, template: str | None,
            side: str | None) -> tuple[str | None, str | None]:
    """(template, side) the entry stores: the advice's own for adopt/pass, the user's otherwise."""
    adv = advice(pred)
    if action in ("adopt", "pass") and pred.kind in ADVICE_KINDS and adv.template is None:
        raise BadInput(f"prediction {pred.id} names no top template to {action}")
    if action == "adopt":
        if pred.kind not in ADVICE_KINDS:
            raise BadInput(f"prediction {pred.id} is a {pred.kind} answer, which recommends no single trade "
                           "to adopt; journal it as adopt_other (a template) or manual")
        if template is not None and template != adv.template:
            raise BadInput(f"adopt means the answer's top template {adv.template}; for {template!r} use "
                           "action adopt_other")
        recommended = adv.side or template_side(pred.symbol, pred.as_of, str(adv.template))
        if side is not None and side != recommended:
            raise BadInput(f"adopt means the answer's side ({recommended}); a {side} trade is action manual")
        return adv.template, recommended
    if action == "adopt_other":
        if template is None:
            raise BadInput("adopt_other needs the template adopted (a strategy id, see "
                           "`paiid backtest --help`)")
        tid = get_strategy(template).id  # names the valid ids
        if tid == adv.template:
            raise BadInput(f"{tid} is the answer's top template: use action adopt")
        return tid, side or template_side(pred.symbol, pred.as_of, tid)
    if action == "manual":
        if side is None:
            raise BadInput("a manual trade needs a side: long or short")
        if template is not None and len(template) > 64:
            raise BadInput("template must be at most 64 characters")
        return template, side
    # pass: what was passed on is the advice itself
    if template is not None and template != adv.template:
        raise BadInput(f"a pass is about the answer's top template ({adv.template}); leave template empty")
    if adv.template is None:
        return None, None
    return adv.template, adv.side or template_side(pred.symbol, pred.as_of, str(adv.template))


def _default_user(pred: Prediction, supersedes: int | None) -> str | None:
    """Without a user id, a correction keeps the corrected entry's user, a first entry the answer's."""
    old = entries.get(supersedes) if supersedes is not None else None
    return old["user_id"] if old is not None else pred.user_id


def add(
    prediction_id: Any,
    action: str,
    *,
    template: str | None = None,
    side: str | None = None,
    entry: Any = None,
    stop: Any = None,
    target: Any = None,
    entry_date: Any = None,
    supersedes: Any = None,
    note: str | None = None,
    user_id: str | None = None,
    source: str = "user",
) -> dict[str, Any]:
    """Validate and store one decision about a logged answer; returns the stored entry with its status."""
    act = str(action or "").strip().lower()
    if act not in ACTIONS:
        raise BadInput(f"unknown action {action!r}; valid actions: {', '.join(ACTIONS)}")
    if source not in SOURCES:
        raise BadInput(f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
    pred = _prediction(prediction_id)
    side_in = _side(side)
    tpl_in = None if template is None or not str(template).strip() else str(template).strip()
    prices = {k: _price(v, k) for k, v in (("entry", entry), ("stop", stop), ("target", target))}
    if act == "pass" and any(v is not None for v in prices.values()):
        raise BadInput("a pass records no trade: leave entry, stop and target empty")
    day = _entry_date(entry_date, pred)
    tpl, sd = _decide(act, pred, tpl_in, side_in)
    if act in TRADES and sd is not None:
        ref, ref_name = prices["entry"], "entry"
        if ref is None:
            try:
                bars = load_bars(pred.symbol, end=day)
            except PaiidError:
                bars = None
            if bars is not None and len(bars):
                ref, ref_name = float(bars["close"].iloc[-1]), f"reference close of {bars.index[-1].date()}"
        if ref is not None:
            _check_levels(sd, ref, prices["stop"], prices["target"], ref_name)
    if supersedes is not None:
        try:
            supersedes = int(supersedes)
        except (TypeError, ValueError):
            raise BadInput(f"supersedes must be the integer id of a journal entry, not {supersedes!r}"
                           ) from None
        if not 1 <= supersedes <= MAX_ID:
            raise BadInput(f"supersedes: journal entry {supersedes} does not exist")
    if note is not None and len(str(note)) > MAX_NOTE:
        raise BadInput(f"note must be at most {MAX_NOTE} characters")
    uid = normalise_user(user_id) if user_id is not None else _default_user(pred, supersedes)
    row = {
        "recorded_at": entries.utcnow(), "prediction_id": pred.id, "symbol": pred.symbol, "action": act,
        "template": tpl, "side": sd, **prices, "entry_date": day.to_pydatetime(), "user_id": uid,
        "ab_group": tracking.ab_group(uid), "supersedes": supersedes,
        "note": None if note is None else str(note), "source": source,
    }
    stored = entries.insert(row)
    resolved = resolve_entries([stored], {pred.id: pred}, set())[0]
    return public(resolved)


def public(row: dict[str, Any], *, outcome: bool = False) -> dict[str, Any]:
    """An entry in the API's shape (`entries.FIELDS` + `status`; `outcome` too when asked)."""
    out = {k: row.get(k) for k in FIELDS}
    out["entry_date"] = pd.Timestamp(row["entry_date"]).date().isoformat()
    out["recorded_at"] = pd.Timestamp(row["recorded_at"]).isoformat()
    out["status"] = row["status"]
    if outcome:
        out["symbol"] = row.get("symbol")
        out["outcome"] = row.get("outcome")
    return out


def resolved(*, limit: int | None = None, user: str | None = None,
             source: str | None = None) -> list[dict[str, Any]]:
    """Stored entries (newest first) with status, outcome and the advice each followed."""
    rows = entries.read(limit=limit, user=user, source=source)
    preds = tracking.predictions_by_id(sorted({int(r["prediction_id"]) for r in rows}))
    return resolve_entries(rows, preds, entries.superseded_ids())


def list_entries(*, limit: int | None = 100, user: str | None = None,
                 outcome: bool = False) -> list[dict[str, Any]]:
    """`GET /api/journal` / `paiid journal list`: the newest `limit` entries, optionally one user's."""
    if limit is not None and not 1 <= int(limit) <= MAX_LIST:
        raise BadInput(f"limit must be between 1 and {MAX_LIST}, not {limit}")
    uid = normalise_user(user) if user is not None else None
    return [public(r, outcome=outcome) for r in resolved(limit=limit, user=uid)]
