"""Training orchestration: run each area's trainer in dependency order and register the results.

Default symbols: every available symbol whose bars are **daily** (`paiid.data.describe_symbols()`;
bundled: SPX and GOOG, plus any daily symbol the user imported). EURUSD is hourly and is left out of
the default training set on purpose: the models' labels are horizons counted in bars, and mixing
20-hour with 20-day outcomes in one training set would blur what a label means. The models use
scale-free features only, so they are still *applied* to any stored symbol, hourly ones included, and
`paiid train --symbols EURUSD ...` trains on it explicitly.

Screening: a stored symbol the models cannot learn from (too few bars, or bars so extreme that the
features come out infinite or undefined) is left out of the default set and reported in
`TrainResult.skipped_symbols`; one bad import never makes training fail for everything. A symbol asked
for explicitly is refused up front (422 / exit 2 naming it and what it lacks) instead.

All or nothing: every model of one run is trained and registered unpromoted, each is loaded back from
its file (so the registry's checks pass on what will serve), and only then are all of them promoted in
one write of the pointer file (`registry.promote_set`). A run that fails anywhere promotes nothing; the
versions it registered stay on disk, unpromoted, for inspection. (`ensure_models`, which trains only what
is missing, promotes the models that trained and reports the others: there was no earlier set to keep.)

Two runs never train at once (a file lock on `models/.train.lock`, re-entrant within one thread): a
second `paiid train`, or a server thread or worker that needs models while another is training them,
waits and then sees the new versions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock

from paiid import config
from paiid.data import (
    BEYOND_CLOSE,
    as_of,
    available_symbols,
    current_as_of,
    describe_symbols,
    load_bars,
    missing_columns,
    normalise_symbol,
)
from paiid.engine import registry
from paiid.engine.catalog import MODELS
from paiid.engine.registry import ModelInfo
from paiid.engine.schedule import cap, knowledge_time, refit_date
from paiid.errors import BadInput, DataValidationError, NotEnoughHistory, PaiidError, UnknownSymbol
from paiid.features import SCALE_FREE, WARMUP, build_features
from paiid.ml.base import Trained, data_fingerprint
from paiid.ml.panel import PANEL_FEATURES, close_view
from paiid.ml.selector import HORIZON, MIN_BARS
from paiid.progress import note, track

log = logging.getLogger("paiid.training")

#: model name -> trainer, in dependency order (each trainer gets the models before it as `deps`).
TRAINERS: dict[str, Callable[..., Trained]] = {name: kind.train for name, kind in MODELS.items()}

#: Timeframe of the symbols trained on by default (see the module docstring for why not hourly).
DEFAULT_TIMEFRAME = "daily"


class TrainResult(list):
    """`list[ModelInfo]` of what was registered and promoted, plus `skipped`: [{"name", "reason"}] for the
    models left out and `skipped_symbols`: [{"symbol", "reason"}] for the stored symbols left out."""

    def __init__(self, infos: list[ModelInfo] | None = None, skipped: list[dict[str, str]] | None = None):
        super().__init__(infos or [])
        self.skipped: list[dict[str, str]] = skipped or []
        self.skipped_symbols: list[dict[str, str]] = []
        self.symbols: list[str] = []
        self.seed: int = 0
        self.refit_date: pd.Timestamp | None = None
        #: "ohlcv" / "close_only" -> {"symbols", "refit_date", "models", "skipped_symbols"} of each kind.
        self.groups: dict[str, dict[str, Any]] = {}


# ------------------------------------------------------------------------------------------ locking


def training_lock() -> FileLock:
    """Exclusive across processes and threads; re-entrant within one thread (`registry.file_lock`)."""
    return registry.file_lock(config.models_dir() / ".train.lock")


# ------------------------------------------------------------------------------------------ trainers


def model_names(only: list[str] | None = None) -> list[str]:
    """The models a run trains, in dependency order: all, or `only` those (`BadInput` naming any unknown)."""
    if not only:
        return list(TRAINERS)
    unknown = [n for n in only if n not in TRAINERS]
    if unknown:
        raise BadInput(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(TRAINERS)}")
    return [n for n in TRAINERS if n in only]


def default_symbols() -> list[str]:
    """Every available symbol with daily bars (bundled SPX, GOOG and daily imports), before screening."""
    return [s["symbol"] for s in describe_symbols() if s.get("timeframe") == DEFAULT_TIMEFRAME]


def min_train_bars() -> int:
    """Fewest bars a symbol needs to be trained on: the selector's (the most demanding model's) warm-up
    and trailing windows, plus one label horizon, so the symbol gives at least one labelled date."""
    return MIN_BARS + HORIZON


def unsuitable(symbol: str, *, close_only: bool = False) -> PaiidError | None:
    """Why the models cannot be trained on `symbol`'s bars (the error naming it), or None if they can.

    Too few bars (`NotEnoughHistory`); prices that are not positive, or features that come out infinite,
    or undefined on complete bars after the warm-up (what prices near the float limits produce)
    (`DataValidationError`). Any of these would otherwise fail a trainer for every symbol at once.
    `close_only=True` screens for the close-only models (`catalog.ModelKind.close_only`): they read the
    symbol's close view, so only the closes and the features closes define (`PANEL_FEATURES`) count.
    """
    if not close_only:
        lacking = missing_columns(symbol, BEYOND_CLOSE, "training")
        if lacking is not None:  # close-only series: the templates fill at the next open, stops use high/low
            return BadInput(lacking.reason)
    bars = load_bars(symbol)
    need = min_train_bars()
    if len(bars) < need:
        return NotEnoughHistory(f"training on {symbol}", need, len(bars))
    if close_only:
        bars = close_view(bars, symbol)
    columns = ["close"] if close_only else ["open", "high", "low", "close"]
    names = PANEL_FEATURES if close_only else SCALE_FREE
    prices = bars[columns].to_numpy(dtype=np.float64)
    known = np.isfinite(prices)
    if (prices[known] <= 0).any():
        return DataValidationError(["has prices that are zero or negative"], source=f"symbol {symbol}")
    with np.errstate(all="ignore"):
        feats = build_features(bars)[names].iloc[WARMUP:]
    values = feats.to_numpy(dtype=np.float64)
    complete = known.all(axis=1)
    if not close_only:
        complete &= np.isfinite(bars["volume"].to_numpy(dtype=np.float64))
    bad = np.isinf(values) | (np.isnan(values) & complete[WARMUP:][:, None])
    if not bad.any():
        return None
    rows, cols = np.nonzero(bad)
    names = sorted({names[c] for c in cols})
    return DataValidationError([
        f"features {', '.join(names[:4])}{' ...' if len(names) > 4 else ''} are infinite or undefined on "
        f"{len(set(rows.tolist()))} bars from {feats.index[rows.min()].date()} (prices too extreme to "
        "compute with); fix the data and import it again"
    ], source=f"symbol {symbol}")


def usable_symbols(symbols: list[str] | None = None, *, close_only: bool = False
                   ) -> tuple[list[str], list[dict[str, str]]]:
    """(usable, skipped): `symbols` (default: every daily symbol) split by `unsuitable`.

    The one screening of stored symbols for anything that trains or evaluates on the default set;
    `skipped` is [{"symbol", "reason"}]. `close_only`: the screening of the close-only models.
    """
    usable: list[str] = []
    skipped: list[dict[str, str]] = []
    for sym in default_symbols() if symbols is None else symbols:
        problem = unsuitable(sym, close_only=close_only)
        if problem is None:
            usable.append(sym)
        else:
            log.warning("not training on %s: %s", sym, problem.message)
            skipped.append({"symbol": sym, "reason": problem.message})
    return usable, skipped


def _given(symbols: list[str]) -> list[str]:
    """Symbols named by the user, canonical, known, deduplicated (`UnknownSymbol` / `BadInput`)."""
    known = available_symbols()
    out: list[str] = []
    for raw in symbols:
        for part in str(raw).split(","):
            if not part.strip():
                continue
            sym = normalise_symbol(part)
            if sym not in known:
                raise UnknownSymbol(sym, known)
            if sym not in out:
                out.append(sym)
    if not out:
        raise BadInput("the list of symbols is empty: omit it (no `symbols` field, no --symbols) to train on "
                       "every symbol with daily bars, or name at least one symbol")
    return out


def select_symbols(symbols: list[str] | None, *, close_only: bool = False
                   ) -> tuple[list[str], list[dict[str, str]]]:
    """The symbols a run trains on and the stored ones it skipped (`usable_symbols`).

    `None`: every daily symbol that is usable (`BadInput` if none is). Given symbols: each must exist
    and be usable, else `UnknownSymbol` / `NotEnoughHistory` / `DataValidationError` naming it; an
    empty list is `BadInput` rather than "all", so a client bug never retrains everything.
    `close_only`: screened for the close-only models.
    """
    if symbols is None:
        syms, skipped = usable_symbols(None, close_only=close_only)
        if not syms:
            why = "; ".join(f"{s['symbol']}: {s['reason']}" for s in skipped)
            raise BadInput("no daily symbols usable for training" + (f" ({why})" if why else "")
                           + "; import some with `paiid data import`")
        return syms, skipped
    out = _given(symbols)
    for sym in out:
        problem = unsuitable(sym, close_only=close_only)
        if problem is not None:
            raise problem
    return out, []


def is_close_only(name: str) -> bool:
    """Whether model `name` is one of the close-only (panel) kinds, trained on close views."""
    kind = MODELS.get(name)
    return bool(kind is not None and kind.close_only)


def select_groups(symbols: list[str] | None, names: list[str]
                  ) -> dict[bool, tuple[list[str], list[dict[str, str]]]]:
    """Per kind of model among `names` (False: the OHLCV models, True: the close-only ones), the symbols
    it trains on and the stored ones it skipped.

    Default: every usable daily symbol of each kind (the close-only kinds use the close views of the
    OHLCV symbols too). Given symbols: each kind takes those it can use; a symbol that no kind can use
    is refused up front, naming why (the close-only screening's reason when it has one).
    """
    kinds = sorted({is_close_only(n) for n in names})
    if symbols is None:
        out = {k: usable_symbols(None, close_only=k) for k in kinds}
        if not any(syms for syms, _ in out.values()):
            why = "; ".join(dict.fromkeys(f"{s['symbol']}: {s['reason']}"
                                          for _, skipped in out.values() for s in skipped))
            raise BadInput("no daily symbols usable for training" + (f" ({why})" if why else "")
                           + "; import some with `paiid data import`")
        return out
    given = _given(symbols)
    problems = {k: {s: unsuitable(s, close_only=k) for s in given} for k in kinds}
    for sym in given:
        if all(problems[k][sym] is not None for k in kinds):
            raise problems[kinds[-1]][sym]
    return {k: ([s for s in given if problems[k][s] is None],
                [{"symbol": s, "reason": p.message} for s, p in problems[k].items() if p is not None])
            for k in kinds}


def check_symbols(symbols: list[str] | None) -> list[str]:
    """The symbols a run trains on (`select_symbols` without the skipped list)."""
    return select_symbols(symbols)[0]


def _feature_importances(model: Any, features: list[str] | None) -> dict[str, float] | None:
    """Importances from the fitted model itself, when the trainer did not report them."""
    if not features:
        return None
    for attr in ("feature_importances_", "coef_"):
        values = getattr(model, attr, None)
        if values is None:
            continue
        arr = np.abs(np.asarray(values, dtype=float))
        if arr.ndim == 2:
            arr = arr.mean(axis=0)
        if arr.ndim == 1 and len(arr) == len(features) and np.isfinite(arr).all():
            total = float(arr.sum()) or 1.0
            return {f: float(v) / total for f, v in zip(features, arr, strict=True)}
    return None


def _data_fingerprints(symbols: list[str]) -> list[dict[str, Any]]:
    return [data_fingerprint(s, load_bars(s)) for s in symbols]


def trained_through(data: Any) -> str | None:
    """The last bar any of a model's training data had (its fingerprints, a list or a symbol mapping)."""
    prints = list(data.values()) if isinstance(data, dict) else list(data or [])
    lasts = [p["last"] for p in prints if isinstance(p, dict) and p.get("last")]
    return max(lasts) if lasts else None


def refit_of(symbols: list[str]) -> pd.Timestamp:
    """The refit date a run on `symbols` fits up to: the last scheduled one of their newest bar."""
    newest = max(knowledge_time(b) for b in (load_bars(s) for s in symbols) if len(b))
    return refit_date(newest)


def screen_at(symbols: list[str], refit: pd.Timestamp, *, close_only: bool = False
              ) -> tuple[list[str], list[dict[str, str]]]:
    """`symbols` split into those usable with data up to `refit` and the others (with the reason)."""
    with as_of(cap(refit)):
        usable, skipped = usable_symbols(list(symbols), close_only=close_only)
    for s in skipped:
        s["reason"] = f"up to the refit date {refit.date()}: {s['reason']}"
    return usable, skipped


def run_trainer(name: str, symbols: list[str], *, seed: int, deps: dict[str, Any]) -> Trained:
    """Fit model `name` on `symbols` (nothing registered): its trainer, given the fitted models it
    builds on as `deps`. Training and retraining's challenger both come through here."""
    result = TRAINERS[name](list(symbols), seed=seed, deps=dict(deps))
    if not isinstance(result, Trained):
        raise TypeError(f"trainer of {name!r} returned {type(result).__name__}, not paiid.ml.base.Trained")
    return result


def train_one(
    name: str,
    symbols: list[str],
    *,
    seed: int = 0,
    deps: dict[str, tuple[Any, ModelInfo]] | None = None,
    promote: bool = True,
) -> ModelInfo:
    """Train and register one model."""
    return fit_and_register(name, symbols, seed=seed, deps=deps, promote=promote)[1]


def fit_and_register(
    name: str,
    symbols: list[str],
    *,
    seed: int,
    deps: dict[str, tuple[Any, ModelInfo]] | None,
    promote: bool,
    extra: dict[str, Any] | None = None,
) -> tuple[Any, ModelInfo]:
    deps = deps or {}
    started = time.perf_counter()
    result = run_trainer(name, symbols, seed=seed, deps={k: m for k, (m, _) in deps.items()})
    meta = dict(result.metadata or {})
    meta.setdefault("features", [])
    meta.setdefault("params", {})
    meta.setdefault("scores", {})
    if not meta.get("data"):
        meta["data"] = _data_fingerprints(symbols)
    limit = current_as_of()
    meta["refit_date"] = limit.normalize().date().isoformat() if limit is not None else None
    meta["trained_through"] = trained_through(meta["data"])
    meta.update(extra or {})
    if "feature_importances" not in meta:
        fi = _feature_importances(result.model, meta.get("features"))
        if fi is not None:
            meta["feature_importances"] = fi
    meta["training"] = {
        "trainer": f"{TRAINERS[name].__module__}.{TRAINERS[name].__qualname__}",
        "symbols": list(symbols),
        "seed": seed,
        "deps": {k: info.version for k, (_, info) in deps.items()},
        "seconds": round(time.perf_counter() - started, 3),
    }
    return result.model, registry.save(name, result.model, meta, promote=promote)


def _registered_dep(name: str) -> tuple[Any, ModelInfo] | None:
    if not registry.has_model(name):
        return None
    try:
        return registry.load_serving(name)
    except PaiidError as exc:
        log.warning("dependency %s is unusable: %s", name, exc.message)
        return None


def _run(
    names: list[str],
    groups: dict[bool, tuple[list[str], list[dict[str, str]]]],
    seed: int,
    required: set[str],
    description: str,
    strict: set[str] | None = None,
) -> TrainResult:
    """Train `names` in dependency order, registering each unpromoted; then promote them all at once.

    Each kind of model (OHLCV, close-only: `select_groups`) trains on its own symbols up to its own
    refit date (the last scheduled one of its symbols' newest bar), so adding the close-only universe,
    whose data end later, never moves the OHLCV models' refit date. A kind with no usable symbol is
    skipped with the reason (refused when a model of it is in `strict`). A failure of a model in
    `required` (or of the final check) promotes nothing and re-raises; the versions registered so far
    stay on disk, unpromoted. Other failures are reported in `skipped`.
    """
    out = TrainResult()
    out.seed = seed
    plans = []
    for kind, (syms, skipped) in sorted(groups.items()):
        group_names = [n for n in names if is_close_only(n) == kind]
        if not group_names:
            continue
        refit = refit_of(syms) if syms else None
        usable, late = screen_at(syms, refit, close_only=kind) if syms else ([], [])
        label = "close_only" if kind else "ohlcv"
        out.groups[label] = {"symbols": usable, "refit_date": refit, "models": group_names,
                             "skipped_symbols": list(skipped) + late}
        if not usable:
            why = "; ".join(f"{s['symbol']}: {s['reason']}" for s in list(skipped) + late) or "none given"
            if group_names and (strict or set()) & set(group_names):
                raise NotEnoughHistory(f"training {', '.join(group_names)} (no usable symbol: {why})",
                                       min_train_bars(), 0)
            out.skipped.extend({"name": n, "reason": f"no symbol it can be trained on ({why})"}
                               for n in group_names)
            continue
        plans.append((group_names, usable, refit))
        if not out.symbols:
            out.symbols, out.refit_date = usable, refit
            out.skipped_symbols = list(skipped) + late
    if not plans:
        raise NotEnoughHistory("training on data up to the refit date", min_train_bars(), 0)
    deps: dict[str, tuple[Any, ModelInfo]] = {}
    trained: dict[str, int] = {}
    try:
        for group_names, usable, refit in plans:
            with as_of(cap(refit)):  # everything the group reads stops at its refit date (engine/schedule.py)
                _run_capped(out, group_names, usable, seed, required, description, deps, trained)
        if trained:
            note(f"checking and promoting {', '.join(f'{n} v{v}' for n, v in trained.items())}")
            reason = f"trained on {', '.join(out.symbols)} (seed {seed})"
            out.extend(registry.promote_set(trained, reason=reason))
    except BaseException:
        if trained:
            log.warning("training failed, nothing promoted; registered but not promoted: %s",
                        ", ".join(f"{n} v{v}" for n, v in trained.items()))
        raise
    return out


def _run_capped(out: TrainResult, names: list[str], symbols: list[str], seed: int, required: set[str],
                description: str, deps: dict[str, tuple[Any, ModelInfo]], trained: dict[str, int]) -> None:
    """Train `names` (one kind) on `symbols`; each gets the earlier models of its kind as `deps`."""
    order = list(TRAINERS)
    for name in track(names, description):
        for earlier in order[: order.index(name)]:
            if earlier not in deps and is_close_only(earlier) == is_close_only(name):
                dep = _registered_dep(earlier)
                if dep is not None:
                    deps[earlier] = dep
        note(f"training {name} on {', '.join(symbols)}")
        mine = {k: v for k, v in deps.items() if is_close_only(k) == is_close_only(name)
                and order.index(k) < order.index(name)}
        try:
            done = fit_and_register(name, symbols, seed=seed, deps=mine, promote=False)
        except Exception as exc:
            if name in required:
                raise
            log.warning("training %s failed: %s", name, exc)
            _failed.add((str(config.models_dir()), name))
            out.skipped.append({"name": name, "reason": f"training failed: {type(exc).__name__}: {exc}"})
            continue
        deps[name] = done  # later trainers of this run build on the new model, not the served one
        trained[name] = done[1].version


def train_all(
    symbols: list[str] | None = None, *, seed: int = 0, only: list[str] | None = None
) -> TrainResult:
    """Train every model (or `only` those) on `symbols` and promote the new versions together.

    `symbols=None` trains on every usable daily symbol (the others are in `result.skipped_symbols`).
    Models not retrained in this run but needed as `deps` come from the registry. Any failure promotes
    nothing and raises.
    """
    names = model_names(only)
    groups = select_groups(symbols, names)
    with training_lock():
        return _run(names, groups, seed, set(names), "training models", set(only or []))


#: (models dir, name) whose training failed in this process while not required; not retried implicitly.
_failed: set[tuple[str, str]] = set()


def missing_models() -> list[str]:
    """Names in TRAINERS with no registered version."""
    return [n for n in TRAINERS if not registry.has_model(n)]


def ensure_models(names: list[str] | None = None) -> TrainResult:
    """Train the default models that are not registered yet (cheap when they all are).

    Every command that needs models calls this first, so a newcomer's first command trains the
    defaults instead of failing. A failure while training a model in `names` (default: all) raises
    and promotes nothing; a failure of another model is logged and not retried by this process, and
    the models that did train are promoted together.
    """
    required = set(names) if names else set(TRAINERS)
    kinds = {is_close_only(n) for n in required}  # asking for an OHLCV model trains the OHLCV defaults only
    home = str(config.models_dir())

    def todo() -> list[str]:
        return [n for n in missing_models() if is_close_only(n) in kinds
                and (n in required or (home, n) not in _failed)]

    if not todo():
        return TrainResult()
    with training_lock():
        pending = todo()  # another process may have trained them while we waited for the lock
        if not pending:
            return TrainResult()
        note(f"no trained {', '.join(pending)} model(s) under {config.models_dir()}: training the defaults")
        return _run(pending, select_groups(None, pending), 0, required, "training default models",
                    set(names or []))
