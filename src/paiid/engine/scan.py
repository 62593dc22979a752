"""The watchlist scan: one row a symbol — regime, top recommendation or stand-aside, its trade odds and
fresh patterns — as of one date, for `paiid scan` and `GET /api/ml/scan`.

Why it is built from `orchestrator.recommendations`: a row must say exactly what the symbol's own
answers say (`paiid regime`, `recommend`, `predict-trade`, `patterns` as of the same date), with the
same point-in-time model selection (`engine/vintages.py`: models fitted up to the refit date of the
symbol's as-of bar) and the same model family (a close-only symbol's row comes from the panel models,
`paiid.ml.panel.serve`, as its own answers do). The combined answer already runs the four models on
one shared context and is cached per (symbol, last bar, model versions), so a warm scan of unchanged
symbols is cache hits.

How it fans out: the parent checks every symbol (unknown ones fail the whole scan before any model is
loaded) and makes sure the default models exist, then computes the rows through
`paiid.engine.executor.map` (local processes, or Dask when `PAIID_DASK_SCHEDULER` is set) with a
progress bar. Each task loads its symbol's bars itself and answers when the models of its refit date
are the promoted ones or already in memory (`orchestrator.served_models(bars, train=False)`: the live
case, nothing to fit). A symbol that needs a point-in-time refit (`engine/vintages.py`) not in the
worker's memory comes back pending (None); the parent then loads its bars, fits or loads the models
of each such refit date once, here, under the training lock — so no worker trains (the lock would
serialise them anyway, and each would first wait for it) — and computes those rows in a second round,
in which the workers only load the registered models.

Why the bars are not loaded in the parent first (as the scan once did, to group symbols by refit
date): that read is serial and happens before the first row starts, about 15-30 ms of CPU per
5,000-bar series from the store, so 15-30 s at 1,000 symbols (measured with `paiid bench --only
scan-universe`'s data: 1.4-3.0 s of parent CPU for 100 symbols before, 0.02 s now). In the task it
runs on every worker at once, and the task hands the bars it read to `orchestrator.recommendations`
(`bars=`), so each row reads its series once (reading it twice cost ~15% of a row). Small local scans
stay in this process: its models are already in memory, while a fresh worker pays ~3 s of imports and ~1 s of
model loading before its first row.

A symbol that cannot be answered (too little history, missing columns, bad data: any `PaiidError`)
gets a row with `error` instead of failing the scan; a bug (any other exception) still fails it.

Why scan rows are NOT written to the prediction log: a scan is a screen over many symbols, repeated
as often as a watchlist is refreshed, not an answer a user acts on. Logging each row would count the
same (symbol, bar) many times and fill live accuracy and the A/B comparison with calls nobody was
shown as a recommendation; the per-symbol answer a user opens from the scan is logged as usual.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from paiid.data import (
    BEYOND_CLOSE,
    available_symbols,
    load_bars,
    normalise_symbol,
    real_columns,
    require_history,
)
from paiid.data.repository import parse_timestamp
from paiid.engine import executor
from paiid.engine import orchestrator as orch
from paiid.engine.catalog import ROLES
from paiid.engine.schedule import refit_for
from paiid.engine.training import ensure_models
from paiid.errors import BadInput, PaiidError, UnknownSymbol
from paiid.jsonutil import to_jsonable

#: A pattern is "fresh" when it was confirmed within this many bars of the as-of bar (the combined
#: answer lists those of the last `RECENT_BARS` = 20; a watchlist wants what just happened).
FRESH_BARS = 5
#: Below this many symbols a local scan runs in this process (see the module docstring).
PARALLEL_MIN = 32
#: Columns `sort_rows` accepts, and whether larger values come first.
SORT_KEYS: dict[str, bool] = {
    "symbol": False, "as_of": True, "regime": False, "confidence": True, "probability": True,
    "expected_return": True, "win_probability": True, "patterns": True,
}
_PATTERN_KEYS = ("type", "kind", "signal", "confidence", "bars_since_confirmation", "end_date")
_TRADE_KEYS = ("side", "win_probability", "expected_return", "horizon_bars", "base_rate", "informative",
               "note")


def parse_symbols(symbols: str | Iterable[str] | None) -> list[str] | None:
    """`"A,B c"` or `["A", "b"]` → canonical symbols in the given order, duplicates dropped; None or
    nothing given → None (every stored symbol)."""
    if symbols is None:
        return None
    parts = symbols.replace(",", " ").split() if isinstance(symbols, str) else [
        p for s in symbols for p in str(s).replace(",", " ").split()]
    out: list[str] = []
    for p in parts:
        sym = normalise_symbol(p)
        if sym not in out:
            out.append(sym)
    return out or None


def resolve_symbols(symbols: str | Iterable[str] | None, *, limit: int | None = None) -> list[str]:
    """The symbols a scan covers, checked: unknown ones raise one `UnknownSymbol` naming them all
    (404 / exit 2), more than `limit` a `BadInput`. Touches no model."""
    wanted = parse_symbols(symbols)
    known = available_symbols()
    syms = list(known) if wanted is None else wanted
    if limit is not None and len(syms) > limit:
        raise BadInput(f"a scan takes at most {limit} symbols per request, {len(syms)} given; "
                       "split the watchlist into several requests")
    stored = set(known)
    unknown = [s for s in syms if s not in stored]
    if unknown:
        error = UnknownSymbol(unknown[0], known)
        if len(unknown) > 1:  # one message naming them all, still a 404 / exit 2
            error.message = (f"unknown symbols {', '.join(map(repr, unknown))}; known symbols: "
                             f"{', '.join(known)}. Import each with `paiid data import FILE --symbol SYM` "
                             "or fetch it with `paiid data fetch SYM`")
            error.args = (error.message,)
        raise error
    return syms


def scan(symbols: str | Iterable[str] | None = None, date: str | None = None, *,
         workers: int | None = None, scheduler: str | None = None, limit: int | None = None
         ) -> dict[str, Any]:
    """`{"as_of", "rows": [...], ...}`: one row a symbol (default: every stored symbol), as of the close
    of `date` (default: each symbol's last bar).

    `as_of` is `date` when given, else the latest of the rows' own `as_of` (each row is as of its last
    bar on or before `date`). `workers`: local processes (default: this process below `PARALLEL_MIN`
    symbols, else one a CPU; 1 = this process); `scheduler`: a Dask address (default
    `PAIID_DASK_SCHEDULER`). Rows come back in the order of `symbols`.
    """
    asked = parse_timestamp(date, "date")  # a bad date is a BadInput before anything is loaded
    syms = resolve_symbols(symbols, limit=limit)
    n = workers
    if n is None:
        n = 1 if executor.resolve_scheduler(scheduler) is None and len(syms) < PARALLEL_MIN else None
    if syms:  # the defaults of the scanned symbols' families, trained here if none exist (cheap when they do)
        ensure_models([n for fam in {_family(s) for s in syms} for n in ROLES[fam].values()])
    rows: dict[str, dict[str, Any]] = {}
    pending = _fan_out(syms, date, False, rows, scheduler, n)
    ready = _fit_refits(pending, date, rows)
    if ready:  # the second round: models of their refit dates are registered now, workers only load them
        _fan_out(ready, date, True, rows, scheduler, n)
    ordered = [rows[s] for s in syms]
    dates = [r["as_of"] for r in ordered if r.get("as_of")]
    return to_jsonable({
        "as_of": asked.isoformat() if asked is not None else max(dates, default=None),
        "date": date,
        "symbols": len(ordered),
        "answered": sum(1 for r in ordered if not r.get("error")),
        "errors": sum(1 for r in ordered if r.get("error")),
        "fresh_pattern_bars": FRESH_BARS,
        "executor": executor.describe(scheduler, n),
        "rows": ordered,
    })


def _family(symbol: str) -> str:
    """The model family of a stored symbol from its real columns (no bars loaded): see
    `orchestrator.family_of`."""
    return "ohlcv" if set(BEYOND_CLOSE) <= set(real_columns(symbol)) else "close_only"


def _fan_out(syms: list[str], date: str | None, load_models: bool, rows: dict[str, dict[str, Any]],
             scheduler: str | None, workers: int | None) -> list[str]:
    """Compute the rows of `syms` through the executor into `rows`; the symbols that came back pending
    (their refit date's models are not in the worker's memory and `load_models` is False)."""
    if not syms:
        return []
    out = executor.map(_row_task, [(s, date, load_models) for s in syms], scheduler=scheduler,
                       workers=workers, desc=f"scanning {len(syms)} symbols")
    pending = []
    for sym, got in zip(syms, out, strict=True):
        if got is None:
            pending.append(sym)
        else:
            rows[sym] = got
    return pending


def _fit_refits(pending: list[str], date: str | None, rows: dict[str, dict[str, Any]]) -> list[str]:
    """Fit (or load) the models of every refit date among `pending`, once each, in this process; the
    symbols now ready for a row. A refit date no model can be fitted at gives its symbols error rows."""
    by_refit: dict[Any, list[tuple[str, Any]]] = {}
    for sym in pending:
        bars = load_bars(sym, end=date)  # the worker loaded them without error a moment ago
        # one group a (model family, refit date): close-only symbols are served by the panel models
        by_refit.setdefault((orch.family_of(bars), refit_for(bars)), []).append((sym, bars))
    ready: set[str] = set()
    for group in by_refit.values():
        try:
            orch.served_models(group[0][1])
        except PaiidError as exc:  # e.g. too little data before this refit date to fit any model
            rows.update((sym, error_row(sym, exc)) for sym, _ in group)
            continue
        ready.update(sym for sym, _ in group)
    return [s for s in pending if s in ready]


def _row_task(task: tuple[str, str | None, bool]) -> dict[str, Any] | None:
    """One row, or None when the models of the symbol's refit date are not in this process's memory
    and `load_models` is False (module level: it runs in worker processes)."""
    sym, date, load_models = task
    try:
        bars = None
        if not load_models:
            bars = load_bars(sym, end=date)
            require_history(bars, orch.MIN_BARS, f"a scan row for {sym}{f' as of {date}' if date else ''}")
            if orch.served_models(bars, train=False) is None:
                return None
        return row(sym, date, bars=bars)
    except PaiidError as exc:
        return error_row(sym, exc)


def row(symbol: str, date: str | None = None, *, bars: pd.DataFrame | None = None) -> dict[str, Any]:
    """The scan row of one symbol: read off its combined answer (not logged, see the module docstring).
    `bars`: its `load_bars(symbol, end=date)` when the caller has them (read once per row, not twice)."""
    a = orch.recommendations(symbol, date, None, log_prediction=False, bars=bars)
    return row_from_answer(a)


def row_from_answer(a: dict[str, Any]) -> dict[str, Any]:
    """A scan row from an `/api/ai/recommendations` answer of the `ml` ranking (anonymous user).

    `recommendation` is the selector's top template even when it says to stand aside (the ranking is
    still given, as in the recommend-strategy answer); `stand_aside` and its reason say whether to act.
    `win_probability` / `trade` price that template on the side its rule holds now (flat: long), as
    `paiid predict-trade SYM --strategy ID --side SIDE` does. `patterns` are the ones confirmed in the
    last `FRESH_BARS` bars; `recent_patterns` counts those of the answer's own window.
    """
    regime = a.get("regime") or {}
    top = a["strategies"][0] if a.get("strategies") else None
    trade = (top or {}).get("trade") or {}
    reco = a.get("recommendation") or {}
    pats = a.get("patterns") or []
    fresh = [{k: p.get(k) for k in _PATTERN_KEYS} for p in pats
             if (p.get("bars_since_confirmation") or 0) < FRESH_BARS]
    return {
        "symbol": a["symbol"],
        "as_of": a["as_of"],
        "timeframe": a.get("timeframe"),
        "last_close": a.get("last_close"),
        "regime": regime.get("current_regime"),
        "confidence": regime.get("confidence"),
        "regime_detail": regime.get("detail"),
        "days_in_regime": regime.get("days_in_regime"),
        "recommendation": None if top is None else {
            k: top.get(k) for k in ("strategy_id", "family", "probability", "expected_return", "risk_score",
                                    "side", "current_position")},
        "stand_aside": bool(reco.get("stand_aside")),
        "stand_aside_reason": reco.get("stand_aside_reason"),
        "win_probability": trade.get("win_probability"),
        "informative": trade.get("informative"),
        "trade": {"strategy_id": top["strategy_id"], **{k: trade.get(k) for k in _TRADE_KEYS}}
        if top is not None and trade else None,
        "patterns": fresh,
        "recent_patterns": len(pats),
        "models": a.get("models"),
        "model_family": a.get("model_family"),
        "error": None,
    }


def error_row(symbol: str, exc: PaiidError) -> dict[str, Any]:
    """The row of a symbol the scan could not answer: the error's message and status, nothing else."""
    return {
        "symbol": symbol, "as_of": None, "timeframe": None, "last_close": None, "regime": None,
        "confidence": None, "regime_detail": None, "days_in_regime": None, "recommendation": None,
        "stand_aside": None, "stand_aside_reason": None, "win_probability": None, "informative": None,
        "trade": None, "patterns": [], "recent_patterns": 0, "models": None, "model_family": None,
        "error": exc.message, "error_type": type(exc).__name__, "status_code": exc.status_code,
    }


def _sort_value(r: dict[str, Any], key: str) -> Any:
    if key in ("probability", "expected_return"):
        return (r.get("recommendation") or {}).get(key)
    if key == "patterns":
        return len(r.get("patterns") or []) if not r.get("error") else None
    return r.get(key)


def sort_rows(rows: list[dict[str, Any]], by: str | None) -> list[dict[str, Any]]:
    """Rows ordered by a column of `SORT_KEYS` (numbers and dates largest first, names A→Z); rows
    without a value (error rows) last, ties by symbol. `by` None: the rows as given."""
    if by is None:
        return list(rows)
    key = by.strip().lower().replace("-", "_")
    if key not in SORT_KEYS:
        raise BadInput(f"cannot sort a scan by {by!r}; valid columns: {', '.join(SORT_KEYS)}")
    desc = SORT_KEYS[key]
    have = [r for r in rows if _sort_value(r, key) is not None]
    missing = [r for r in rows if _sort_value(r, key) is None]
    have.sort(key=lambda r: r["symbol"])
    have.sort(key=lambda r: _sort_value(r, key), reverse=desc)
    return have + sorted(missing, key=lambda r: r["symbol"])


__all__ = ["FRESH_BARS", "SORT_KEYS", "error_row", "parse_symbols", "resolve_symbols", "row",
           "row_from_answer", "scan", "sort_rows"]
