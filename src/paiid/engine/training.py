"""Training orchestration: run each area's trainer in dependency order and register the results.

Default symbols: every available symbol whose bars are **daily** (`paiid.data.describe_symbols()`;
bundled: SPX and GOOG, plus any daily symbol the user imported). EURUSD is hourly and is left out of
the default training set on purpose: the models' labels are horizons counted in bars, and mixing
20-hour with 20-day outcomes in one training set would blur what a label means. The models use
scale-free features only, so they are still *applied* to any stored symbol, hourly ones included, and
`paiid train --symbols EURUSD ...` trains on it explicitly.

Two processes never train at once (an fcntl lock on `models/.train.lock`): a second `paiid train`, or a
server worker that needs models while another is training them, waits and then sees the new versions.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from paiid import config
from paiid.engine import registry
from paiid.engine.registry import ModelInfo
from paiid.errors import BadInput, PaiidError, UnknownSymbol
from paiid.progress import note, track

log = logging.getLogger("paiid.training")

#: model name -> "module:function", in dependency order (each trainer gets the models before it as `deps`).
TRAINERS: dict[str, str] = {
    "regime": "paiid.ml.regime:train",
    "pattern_scorer": "paiid.ml.patterns:train",
    "selector": "paiid.ml.selector:train",
    "tradeprob": "paiid.ml.tradeprob:train",
}

#: Timeframe of the symbols trained on by default (see the module docstring for why not hourly).
DEFAULT_TIMEFRAME = "daily"


class TrainResult(list):
    """`list[ModelInfo]` of what was registered, plus `skipped`: [{"name", "reason"}] for the rest."""

    def __init__(self, infos: list[ModelInfo] | None = None, skipped: list[dict[str, str]] | None = None):
        super().__init__(infos or [])
        self.skipped: list[dict[str, str]] = skipped or []
        self.symbols: list[str] = []
        self.seed: int = 0


# ------------------------------------------------------------------------------------------ locking

_thread_lock = threading.RLock()
_depth = 0
_lock_file: Any = None


@contextlib.contextmanager
def training_lock() -> Iterator[None]:
    """Exclusive across processes (fcntl) and threads; re-entrant within one thread."""
    global _depth, _lock_file
    with _thread_lock:
        if _depth == 0:
            fh = open(config.models_dir() / ".train.lock", "a+")  # noqa: SIM115 - held across the block
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            _lock_file = fh
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
            if _depth == 0:
                fh, _lock_file = _lock_file, None
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
                fh.close()


# ------------------------------------------------------------------------------------------ trainers


def resolve_trainer(name: str) -> Callable[..., Any] | None:
    """The trainer function of `name`, or None while its module (or function) does not exist yet."""
    try:
        spec = TRAINERS[name]
    except KeyError:
        raise BadInput(f"unknown model {name!r}; known: {', '.join(TRAINERS)}") from None
    module, _, func = spec.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # only "this module is not written yet" is skipped; a missing dependency inside it is a real error
        missing = exc.name or ""
        if missing.startswith("paiid") and (module == missing or module.startswith(missing + ".")):
            return None
        raise
    return getattr(mod, func or "train", None)


def default_symbols() -> list[str]:
    """Every available symbol with daily bars (bundled SPX, GOOG and daily imports)."""
    from paiid.data import describe_symbols

    return [s["symbol"] for s in describe_symbols() if s.get("timeframe") == DEFAULT_TIMEFRAME]


def check_symbols(symbols: list[str] | None) -> list[str]:
    from paiid.data import available_symbols, normalise_symbol

    if not symbols:
        syms = default_symbols()
        if not syms:
            raise BadInput("no daily symbols available to train on; import some with `paiid data import`")
        return syms
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
        raise BadInput("no symbols given")
    return out


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
    from paiid.data import load_bars
    from paiid.ml.base import data_fingerprint

    return [data_fingerprint(s, load_bars(s)) for s in symbols]


def _call_trainer(fn: Callable[..., Any], symbols: list[str], seed: int, deps: dict[str, Any]) -> Any:
    params = inspect.signature(fn).parameters
    takes_deps = "deps" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    return fn(list(symbols), seed=seed, deps=dict(deps)) if takes_deps else fn(list(symbols), seed=seed)


def train_one(
    name: str,
    symbols: list[str],
    *,
    seed: int = 0,
    deps: dict[str, tuple[Any, ModelInfo]] | None = None,
    promote: bool = True,
) -> ModelInfo | None:
    """Train and register one model; None if its trainer does not exist yet."""
    done = _train_and_save(name, symbols, seed=seed, deps=deps, promote=promote)
    return None if done is None else done[1]


def _train_and_save(
    name: str,
    symbols: list[str],
    *,
    seed: int,
    deps: dict[str, tuple[Any, ModelInfo]] | None,
    promote: bool,
) -> tuple[Any, ModelInfo] | None:
    from paiid.ml.base import Trained

    fn = resolve_trainer(name)
    if fn is None:
        return None
    deps = deps or {}
    started = time.perf_counter()
    result = _call_trainer(fn, symbols, seed, {k: m for k, (m, _) in deps.items()})
    if not isinstance(result, Trained):
        raise TypeError(
            f"trainer of {name!r} returned {type(result).__name__}, expected paiid.ml.base.Trained"
        )
    meta = dict(result.metadata or {})
    meta.setdefault("features", [])
    meta.setdefault("params", {})
    meta.setdefault("scores", {})
    if not meta.get("data"):
        meta["data"] = _data_fingerprints(symbols)
    if "feature_importances" not in meta:
        fi = _feature_importances(result.model, meta.get("features"))
        if fi is not None:
            meta["feature_importances"] = fi
    meta["training"] = {
        "trainer": TRAINERS[name],
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
    names: list[str], symbols: list[str], seed: int, required: set[str], description: str
) -> TrainResult:
    out = TrainResult()
    out.symbols, out.seed = symbols, seed
    deps: dict[str, tuple[Any, ModelInfo]] = {}
    order = list(TRAINERS)
    for name in track(names, description):
        for earlier in order[: order.index(name)]:
            if earlier not in deps:
                dep = _registered_dep(earlier)
                if dep is not None:
                    deps[earlier] = dep
        if resolve_trainer(name) is None:
            reason = f"trainer {TRAINERS[name]} is not available yet"
            note(f"skipping {name}: {reason}")
            out.skipped.append({"name": name, "reason": reason})
            continue
        note(f"training {name} on {', '.join(symbols)}")
        try:
            done = _train_and_save(name, symbols, seed=seed, deps=deps, promote=True)
        except Exception as exc:
            if name in required:
                raise
            log.warning("training %s failed: %s", name, exc)
            _failed.add((str(config.models_dir()), name))
            out.skipped.append({"name": name, "reason": f"training failed: {type(exc).__name__}: {exc}"})
            continue
        if done is not None:
            deps[name] = done
            out.append(done[1])
    return out


def train_all(
    symbols: list[str] | None = None, *, seed: int = 0, only: list[str] | None = None
) -> TrainResult:
    """Train every model (or `only` those) on `symbols` and register new, promoted versions.

    Models not retrained in this run but needed as `deps` come from the registry. A trainer whose
    module does not exist yet is skipped and listed in `result.skipped`.
    """
    names = list(TRAINERS)
    if only:
        unknown = [n for n in only if n not in TRAINERS]
        if unknown:
            raise BadInput(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(TRAINERS)}")
        names = [n for n in TRAINERS if n in only]
    syms = check_symbols(symbols)
    with training_lock():
        return _run(names, syms, seed, set(names), "training models")


#: (models dir, name) whose training failed in this process while not required; not retried implicitly.
_failed: set[tuple[str, str]] = set()


def missing_models() -> list[str]:
    """Names in TRAINERS with no registered version whose trainer exists."""
    return [n for n in TRAINERS if not registry.has_model(n) and resolve_trainer(n) is not None]


def ensure_models(names: list[str] | None = None) -> TrainResult:
    """Train the default models that are not registered yet (cheap when they all are).

    Every command that needs models calls this first, so a newcomer's first command trains the
    defaults instead of failing. A failure while training a model in `names` (default: all) raises;
    a failure of another model is logged and not retried by this process.
    """
    required = set(names) if names else set(TRAINERS)
    home = str(config.models_dir())

    def todo() -> list[str]:
        return [n for n in missing_models() if n in required or (home, n) not in _failed]

    if not todo():
        return TrainResult()
    with training_lock():
        pending = todo()  # another process may have trained them while we waited for the lock
        if not pending:
            return TrainResult()
        note(f"no trained {', '.join(pending)} model(s) under {config.models_dir()}: training the defaults")
        return _run(pending, check_symbols(None), 0, required, "training default models")
