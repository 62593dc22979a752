"""One answer for "what should I trade on SYMBOL now?": regime + ranked strategies + trade odds + patterns.

`recommendations(symbol, date=None, user=None)` is what `GET /api/ai/recommendations` serves. It

1. cuts the bars at `date` (default: the last bar) and looks up the serving version of every model;
2. returns the cached core answer for (symbol, last-bar stamp, model versions) if there is one —
   a new bar or a newly promoted model is a different key, so it can never serve a stale answer —
   or computes it by running the four models (`paiid.engine.cache` explains the keys);
3. orders the strategies for the user's A/B group: users (an id from `X-User-Id` or `?user=`) are
   split deterministically by a hash of their id into `ml` (ranked by the strategy selector's
   probabilities) and `manual` (ranked by the rule book a human would use: the families the regime
   recommends first, in its order). Users without an id see the `ml` ranking and belong to no group;
4. logs the served answer to the prediction log (`paiid.engine.tracking.log_prediction`) with the
   model versions and A/B group, so live accuracy and the A/B comparison can be resolved later.

Why the core is computed once and the group-specific ordering after the cache: the models' output
does not depend on who asks, so one cache entry serves both groups.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from paiid import config
from paiid.data import (
    BEYOND_CLOSE,
    available_symbols,
    current_as_of,
    load_bars,
    normalise_symbol,
    real_columns,
    require_history,
    timeframe_of,
)
from paiid.data.store import stored_symbols
from paiid.engine.cache import BarStamp, LRUCache, answer_key
from paiid.engine.catalog import FAMILY_NAMES, ROLES
from paiid.engine.schedule import refit_for
from paiid.engine.vintages import describe, serving_at
from paiid.errors import BadInput
from paiid.jsonutil import to_jsonable
from paiid.ml.context import AnswerContext
from paiid.ml.panel import close_view
from paiid.ml.panel import serve as panel

log = logging.getLogger("paiid.orchestrator")

#: The models an AI recommendation of an OHLCV symbol combines, by registry name (a close-only symbol's:
#: `ROLES["close_only"]`, the panel models).
MODEL_NAMES: tuple[str, ...] = ("regime", "selector", "tradeprob", "pattern_scorer")
#: Fewest bars the combined answer needs (feature warm-up of 200 bars plus the models' context).
MIN_BARS = 260
#: Keys of the trade-probability answer that repeat what the strategy entry already says.
_TRADE_ECHO = frozenset({"symbol", "strategy_id", "side", "as_of"})

_cache: LRUCache[dict[str, Any]] = LRUCache(maxsize=256)
_versions_seen: dict[str, Any] = {}
_versions_lock = threading.Lock()


def cache() -> LRUCache[dict[str, Any]]:
    """The process-wide answer cache (the bench and tests clear it to measure cold answers)."""
    return _cache


# ------------------------------------------------------------------------------------------ A/B split


def normalise_user(user: str | None) -> str | None:
    """A user id as given (trimmed), None when absent; refuses ids that cannot be logged sensibly."""
    if user is None:
        return None
    uid = user.strip()
    if not uid:
        return None
    if len(uid) > 128 or not uid.isprintable():
        raise BadInput("invalid user id: use 1-128 printable characters (X-User-Id header or user parameter)")
    return uid


def ab_group(user: str | None) -> str | None:
    """`manual` or `ml` for a user id, the same on every call and every server worker; None if no id.

    A hash rather than a random draw stored somewhere: every worker process agrees without sharing
    state, and a user keeps their group across restarts, which an A/B test needs. The split itself is
    the prediction log's (`tracking.ab_group`), so what is served and what is logged always agree.
    """
    from paiid.engine.tracking import ab_group as split

    uid = normalise_user(user)
    return None if uid is None else split(uid)


# ------------------------------------------------------------------------------------------ models


def family_of(bars: pd.DataFrame) -> str:
    """"ohlcv" when the bars have real open, high, low and volume, else "close_only" (served by the
    panel models, `paiid.ml.panel.serve`)."""
    return "ohlcv" if set(BEYOND_CLOSE) <= set(real_columns(bars)) else "close_only"


_snapshots: dict[tuple[Any, ...], dict[str, pd.Series]] = {}
_snapshots_lock = threading.Lock()


def panel_snapshot(selector_info: Any) -> dict[str, pd.Series]:
    """`panel.universe_snapshot` of the panel selector's universe (its training symbols), memoised per
    database and the symbols' (last bar, bar count).

    Why the whole history: a value at a date is computed from bars up to that date only, so an answer
    as of D reads the same numbers from it as from a store cut at D, and one snapshot serves every date
    (a scan as of any day loads the universe once per process, not once per row).
    """
    meta = selector_info.metadata
    universe = list(meta.get("universe") or (meta.get("training") or {}).get("symbols") or [])
    # bundled series never change within a process; a stored one (an import) is stamped by its last bar
    # and count (one query; `describe_symbols` would also read every bundled index: ~0.2 s)
    stamps = {s["symbol"]: (s.get("last"), s.get("bars")) for s in stored_symbols()}
    known = set(available_symbols())
    key = (config.database_url(), current_as_of(),
           tuple((u, stamps.get(u)) for u in universe if u in known))
    with _snapshots_lock:
        if key in _snapshots:
            return _snapshots[key]
    snap = panel.universe_snapshot({u: close_view(load_bars(u), u) for u, _ in key[2]})
    with _snapshots_lock:
        if len(_snapshots) > 8:
            _snapshots.clear()
        _snapshots[key] = snap
    return snap


def served_models(bars: pd.DataFrame, *, train: bool = True) -> dict[str, tuple[Any, Any]] | None:
    """name -> (fitted model, ModelInfo) of every model the answer as of the last bar of `bars` needs:
    the ones fitted up to its refit date (`engine/vintages.py`; trains the defaults if none exist), of
    the bars' family (`family_of`: the OHLCV models, or the panel models for a close-only series).

    `train=False`: None unless every one is already in memory (the event-loop fast path, which must not
    load or train anything).
    """
    out = {}
    refit = refit_for(bars)  # one refit date for every model (it depends on the bars alone)
    for name in ROLES[family_of(bars)].values():
        got = serving_at(name, refit, train=train)
        if got is None:
            return None
        out[name] = got
    return out


def _version_key(models: Mapping[str, tuple[Any, Any]]) -> dict[str, tuple[int, str]]:
    """What identifies each serving model: version and file hash (homes reuse version numbers)."""
    return {name: (int(info.version), str(info.sha256)) for name, (_, info) in models.items()}


def _prune_if_models_changed(models: Mapping[str, tuple[Any, Any]]) -> None:
    """Drop cached answers of models no longer served, so the LRU holds only answers that can hit.

    The trigger is a change of the *promoted* models an answer used: answers as of past dates are
    served by point-in-time refits, and a watchlist mixing them with today's answers must not wipe the
    cache at every switch. Past-date refits follow the promoted recipe, so a new promoted set is also
    when their answers may go stale. (Stale entries are never hit either way: the key holds the versions.)
    """
    global _versions_seen
    versions = _version_key(models)
    live = {name: versions[name] for name, (_, info) in models.items() if not info.metadata.get("vintage")}
    if not live:
        return
    with _versions_lock:
        if live == _versions_seen:
            return
        _versions_seen = dict(live)
    current = tuple(sorted(versions.items()))
    _cache.prune(lambda key: key[2] == current)


# ------------------------------------------------------------------------------------------ compute


def _current_side(context: AnswerContext, strategy_id: str) -> tuple[str, int]:
    """The side a template's default rule holds at the last bar: ('long'|'short', position -1/0/+1).

    Read from the template's full-history backtest in the shared context (the one the selector and the
    trade model read): all history, not a tail, because stateful rules ("hold until ...") depend on
    events long ago. A flat template is priced as a long entry (what it would open on its next bullish
    signal).
    """
    position = int(np.sign(np.nan_to_num(context.backtest(strategy_id)[1][-1])))
    return ("short" if position < 0 else "long"), position


def _family(strategy_id: str) -> str | None:
    from paiid.backtest import STRATEGIES

    tpl = STRATEGIES.get(strategy_id)
    return tpl.family if tpl is not None else None


def compute(symbol: str, bars: pd.DataFrame, models: Mapping[str, tuple[Any, Any]]) -> dict[str, Any]:
    """The user-independent core answer as of the last bar of `bars` (JSON-ready, cacheable).

    Every model reads one `AnswerContext` of the bars: the features, the templates' backtests and the
    regime history are computed once for the whole answer, not once per model. Trade win-probabilities
    are computed for the strategy each A/B group sees first (one or two calls), not for all templates:
    each call costs a forest evaluation, and the top pick is the trade the answer recommends. The other
    strategies carry `trade: null`.
    """
    from paiid.ml.patterns import patterns_answer
    from paiid.ml.regime import regime_answer
    from paiid.ml.selector import recommend_answer
    from paiid.ml.tradeprob import trade_answer as ohlcv_trade_answer

    trade_answer = ohlcv_trade_answer
    family = family_of(bars)
    roles = ROLES[family]
    regime_model, selector_model, trade_model = (models[roles[r]][0]
                                                 for r in ("regime", "selector", "tradeprob"))
    tf = timeframe_of(bars.index)
    if family == "close_only":  # the panel models on the close view; chart patterns without the scorer
        ctx = AnswerContext(symbol, close_view(bars, symbol))
        regime = panel.regime_answer(regime_model, bars, symbol, context=ctx)
        snapshot = panel_snapshot(models[roles["selector"]][1])
        reco = panel.recommend_answer(selector_model, regime_model, bars, symbol, snapshot, context=ctx)
        patterns = patterns_answer(None, bars, symbol, tf)
        trade_answer = panel.trade_answer
    else:
        ctx = AnswerContext(symbol, bars)
        regime = regime_answer(regime_model, bars, symbol, context=ctx)
        reco = recommend_answer(selector_model, regime_model, bars, symbol, context=ctx)
        patterns = patterns_answer(models["pattern_scorer"][0], bars, symbol, tf, context=ctx)

    strategies: list[dict[str, Any]] = []
    for ml_rank, rec in enumerate(reco["recommendations"], start=1):
        sid = rec["strategy_id"]
        side, position = _current_side(ctx, sid)
        strategies.append({**rec, "family": rec.get("family") or _family(sid), "ml_rank": ml_rank,
                           "current_position": position, "side": side, "trade": None})
    families = list(regime.get("recommended_strategies") or [])
    tops = {rank_for_group(strategies, families, g)[0]["strategy_id"] for g in (None, "manual")}
    for s in strategies:
        if s["strategy_id"] in tops:
            trade = trade_answer(trade_model, bars, symbol, s["strategy_id"], s["side"], context=ctx)
            s["trade"] = {"side": s["side"], **{k: v for k, v in trade.items() if k not in _TRADE_ECHO}}

    pats = list(patterns.get("patterns", []))
    top = strategies[0] if strategies else None
    confidence = {
        "regime": regime.get("confidence"),
        "strategy": top["probability"] if top else None,
        "trade": (top["trade"] or {}).get("win_probability") if top else None,
        "patterns": max((p.get("confidence") or 0.0 for p in pats), default=None),
    }
    core = {
        "symbol": symbol,
        "as_of": bars.index[-1].isoformat(),
        "timeframe": tf,
        "last_close": float(bars["close"].iloc[-1]),
        "regime": {k: v for k, v in regime.items() if k not in ("symbol", "as_of")},
        "market_conditions": reco.get("market_conditions", {}),
        "strategies": strategies,
        "patterns": pats,
        "confidence": confidence,
        "model_family": FAMILY_NAMES[family],
        "model_versions": {name: int(info.version) for name, (_, info) in models.items()},
        "models": {name: describe(info) for name, (_, info) in models.items()},
        "recommendation": {k: reco.get(k) for k in ("stand_aside", "stand_aside_reason", "typicality")},
        "patterns_typicality": patterns.get("typicality"),
    }
    return to_jsonable(core)


def rank_for_group(strategies: list[dict[str, Any]], recommended_families: list[str], group: str | None
                   ) -> list[dict[str, Any]]:
    """The strategies in the order the user's A/B group sees them, each with its `rank`.

    `ml` (and users without a group): the selector's order (probability, descending). `manual`: the
    families the regime recommends first, in the regime's order, then the rest; within a family the
    selector's order. The probabilities shown are the same in both groups; only the ranking differs.
    """
    if group == "manual":
        order = {fam: i for i, fam in enumerate(recommended_families)}
        ranked = sorted(strategies, key=lambda s: (order.get(s.get("family"), len(order)), s["ml_rank"]))
    else:
        ranked = sorted(strategies, key=lambda s: s["ml_rank"])
    return [{**s, "rank": i} for i, s in enumerate(ranked, start=1)]


# ------------------------------------------------------------------------------------------ serve


def recommendations(symbol: str, date: str | None = None, user: str | None = None, *,
                    log_prediction: bool = True, bars: pd.DataFrame | None = None) -> dict[str, Any]:
    """The `GET /api/ai/recommendations` answer for `symbol` as of the close of `date` (default: last bar).

    Cached per (symbol, last bar, model versions); every call is logged to the prediction log
    unless `log_prediction` is False (callers that only look, e.g. tests of the cache itself).
    `bars`: the symbol's bars the caller already loaded with `load_bars(symbol, end=date)`, so they are
    not read from the store a second time (the scan: ~15-30 ms of CPU per 5,000-bar series); the same
    checks (columns, history) run on them and the answer is the one a fresh load would give.
    """
    answer = _serve(symbol, date, user, log_prediction=log_prediction, compute_missing=True, bars=bars)
    assert answer is not None  # compute_missing=True always yields an answer (or raises)
    return answer


def cached_recommendations(symbol: str, date: str | None = None, user: str | None = None
                           ) -> dict[str, Any] | None:
    """The answer (logged) if it can be served without running a model or loading one, else None.

    Why: the API serves this on its event loop and only hands misses to a worker thread. A cached
    answer costs about a millisecond of CPU; bouncing it through the thread pool under concurrent
    load costs more than that in GIL hand-offs (measured: ~370 vs ~760 requests/s on 2 cores).
    Returns None, without counting a cache miss, when a model is not loaded in this process yet or
    the answer is not cached; the caller then calls `recommendations` on a thread.
    """
    from paiid.engine.service import current_info

    if any(current_info(name) is None for name in MODEL_NAMES):
        return None
    return _serve(symbol, date, user, log_prediction=True, compute_missing=False)


def _serve(symbol: str, date: str | None, user: str | None, *, log_prediction: bool,
           compute_missing: bool, bars: pd.DataFrame | None = None) -> dict[str, Any] | None:
    sym = normalise_symbol(symbol)
    uid = normalise_user(user)
    if bars is None:
        bars = load_bars(sym, end=date)
    require_history(bars, MIN_BARS, f"AI recommendations for {sym}{f' as of {date}' if date else ''}")
    models = served_models(bars, train=compute_missing)
    if models is None:
        return None
    versions = _version_key(models)
    _prune_if_models_changed(models)
    key = answer_key(sym, BarStamp.of(bars), versions)
    if compute_missing:
        core, hit = _cache.get_or_compute(key, lambda: compute(sym, bars, models))
    else:
        core, hit = _cache.peek(key), True
        if core is None:
            return None

    group = ab_group(uid)
    families = list(core["regime"].get("recommended_strategies") or [])
    answer = {
        **core,
        "strategies": rank_for_group(core["strategies"], families, group),
        "user": uid,
        "ab_group": group,
        "ranking": group or "ml",
        "cached": hit,
    }
    if log_prediction:
        answer["prediction_id"] = _log(answer)
    return answer


def _log(answer: dict[str, Any]) -> int:
    """Write the served answer to the prediction log; returns the row id.

    One row per answer served (cache hits included), kind `recommendation`, attributed to the selector's
    version with every model version in the output. The call it is scored on is the top-ranked strategy
    *as this user's group saw it*: its current position is the direction (flat = no call, not scored)
    and its trade win-probability the probability, so live accuracy and the A/B test compare what each
    group was actually shown. A logging failure propagates (500) instead of silently dropping a row:
    the A/B comparison is only honest if every served answer is counted.
    """
    from paiid.engine import tracking

    top = answer["strategies"][0] if answer["strategies"] else {}
    trade = top.get("trade") or {}  # computed for every group's first strategy
    direction = int(top.get("current_position") or 0)
    output = {
        "as_of": answer["as_of"],
        "regime": answer["regime"].get("current_regime"),
        "regime_confidence": answer["regime"].get("confidence"),
        "ranking": answer["ranking"],
        "strategies": [[s["strategy_id"], s.get("probability")] for s in answer["strategies"]],
        "top": {"strategy_id": top.get("strategy_id"), "direction": direction, **trade},
        "patterns": [[p.get("type"), p.get("signal"), p.get("confidence")] for p in answer["patterns"]],
        "model_versions": answer["model_versions"],
        "cached": answer["cached"],
    }
    horizon = trade.get("horizon_bars")
    selector = "panel_selector" if "panel_selector" in answer["model_versions"] else "selector"
    return tracking.log_prediction(
        "recommendation", answer["symbol"], output,
        as_of=answer["as_of"],
        model_name=selector,
        model_version=answer["model_versions"].get(selector),
        user_id=answer["user"],
        horizon_bars=horizon if isinstance(horizon, int) and horizon > 0 else None,
        direction=direction,
        probability=trade.get("win_probability") if direction else None,
        ab=answer["ab_group"],
    )
