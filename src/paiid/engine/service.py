"""Serving access to fitted models: `get_model(name)` for every command and endpoint that predicts.

Why a cache: loading a skops file (sha256 + type check + instantiation) costs milliseconds to
seconds, and an API worker answers many requests with the same model. The cache is keyed on the
promoted pointer file's (mtime, size, inode) so that a `paiid models promote`, a rollback or a new
training run from another process is picked up at the next call with a single `stat`; the file holds
every model's pointer, so when it changed but still names the version already loaded, that model is
kept as is.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from paiid import config
from paiid.engine import registry
from paiid.engine.registry import ModelInfo
from paiid.errors import ModelError

log = logging.getLogger("paiid.engine")


@dataclass
class _Entry:
    stamp: tuple[int, int, int] | None  # pointer (mtime_ns, size, inode) when loaded; None = no pointer
    versions_stamp: int  # mtime of the model dir (new versions) when there is no pointer
    model: Any
    info: ModelInfo


#: (models dir, name) -> what serves now; the dir is part of the key so a changed PAIID_HOME never
#: serves another home's model.
_cache: dict[tuple[str, str], _Entry] = {}
_loaded: dict[tuple[str, str, int], tuple[Any, ModelInfo]] = {}
#: (models dir, name) -> {version: why}: versions that failed at predict time in this process (stale
#: state the load-time checks could not see); serving passes over them like over a corrupt file.
_failed: dict[tuple[str, str], dict[int, str]] = {}
_lock = threading.RLock()

#: Exception types that, raised from inside a served model's own code or on it, mean the model's
#: learned state does not fit the code using it (a file saved by an older paiid).
_STALE_ERRORS = (AttributeError, KeyError, TypeError, IndexError)


def _stamp(name: str) -> tuple[tuple[int, int, int] | None, int]:
    try:
        st = registry.pointer_path(name).stat()
        pointer = (st.st_mtime_ns, st.st_size, st.st_ino)
    except FileNotFoundError:
        pointer = None
    try:
        dir_mtime = registry.model_dir(name).stat().st_mtime_ns
    except FileNotFoundError:
        dir_mtime = 0
    return pointer, dir_mtime


def get_served(name: str, *, ensure: bool = True) -> tuple[Any, ModelInfo]:
    """The serving model of `name` and its info (which version, and whether it is a fallback).

    Trains the default models first if none is registered (`ensure_models`), so a newcomer's first
    command just works.
    """
    if ensure:
        from paiid.engine.training import TRAINERS, ensure_models, resolve_trainer

        ensure_models([name])
        if name in TRAINERS and not registry.has_model(name) and resolve_trainer(name) is None:
            raise ModelError(
                f"model {name!r} is not available yet: its trainer {TRAINERS[name]} is not part of this "
                "installation"
            )
    pointer, dir_mtime = _stamp(name)
    home = str(config.models_dir())
    with _lock:
        entry = _cache.get((home, name))
        fresh = entry is not None and entry.stamp == pointer
        if entry is not None and fresh and (pointer is not None or entry.versions_stamp == dir_mtime):
            return entry.model, entry.info
        if (entry is not None and pointer is not None and entry.stamp is not None
                and entry.info.fallback_from is None
                and registry.promoted_version(name) == entry.info.version):
            # one pointer file holds every name: a promotion of another model does not reload this one
            entry.stamp = pointer
            return entry.model, entry.info
        model, info = registry.load_serving(name, skip=_failed.get((home, name)))
        key = (home, name, info.version)
        if key in _loaded and _loaded[key][1].sha256 == info.sha256:
            model = _loaded[key][0]  # same version as before (e.g. pointer rewritten): reuse the instance
        _loaded[key] = (model, info)
        _cache[(home, name)] = _Entry(pointer, dir_mtime, model, info)
        return model, info


def get_model(name: str) -> Any:
    """The promoted (or newest good older) fitted model of `name`, cached per version."""
    return get_served(name)[0]


def current_info(name: str) -> ModelInfo | None:
    """Info of the version this process currently serves for `name` (None if not loaded yet)."""
    with _lock:
        entry = _cache.get((str(config.models_dir()), name))
        return entry.info if entry is not None else None


def clear_cache() -> None:
    """Forget every loaded model (tests; or to free memory)."""
    with _lock:
        _cache.clear()
        _loaded.clear()
        _failed.clear()


def _objects_of(model: Any) -> set[int]:
    """ids of the model and of the paiid objects and containers it holds (where its code runs)."""
    ids: set[int] = set()

    def walk(obj: Any, depth: int) -> None:
        if depth > 6 or id(obj) in ids:
            return
        if type(obj).__module__.startswith("paiid.") and hasattr(obj, "__dict__"):
            ids.add(id(obj))
            for value in vars(obj).values():
                walk(value, depth + 1)
        elif isinstance(obj, list | tuple | dict) and obj:  # not (), {}: they can be shared singletons
            ids.add(id(obj))
            for value in list(obj.values() if isinstance(obj, dict) else obj)[:1000]:
                walk(value, depth + 1)

    walk(model, 0)
    ids.add(id(model))
    return ids


def explain_failure(exc: BaseException) -> ModelError | None:
    """`stale_model_error` for the front ends' last-resort handlers: explaining an error never raises."""
    try:
        return stale_model_error(exc)
    except Exception:  # noqa: BLE001 - see docstring
        log.exception("could not explain %s", type(exc).__name__)
        return None


def stale_model_error(exc: BaseException) -> ModelError | None:
    """A `ModelError` if `exc` was raised by (or on) a model this process serves, else None.

    Why: a model saved by older code can pass every load-time check and still lack something the
    current code reads (a key in a dict of learned state, an array of another shape). The error then
    surfaces at predict time as an AttributeError/KeyError/TypeError inside the model; unexplained it
    would be an internal error. This names the model and version and says to run `paiid train`.

    An AttributeError on the model's own state does not depend on the request, so that version is
    also marked unusable in this process: the next request falls back to the newest older version that
    works (as the registry does for a corrupt file) instead of failing again. Other errors may depend
    on the bars asked about, so one request does not take the version out of service for everyone.
    """
    from paiid import __version__

    if not isinstance(exc, _STALE_ERRORS):
        return None
    suspects = [getattr(exc, "obj", None)] if isinstance(exc, AttributeError) else []
    tb = exc.__traceback__
    while tb is not None:
        suspects.append(tb.tb_frame.f_locals.get("self"))
        tb = tb.tb_next
    suspect_ids = {id(s) for s in suspects if s is not None}
    if not suspect_ids:
        return None
    with _lock:
        hit = next(((home, name, version, info) for (home, name, version), (model, info) in _loaded.items()
                    if suspect_ids & _objects_of(model)), None)
        if hit is None:
            return None
        home, name, version, info = hit
        code = info.metadata.get("code_version") or {}
        saved = f"paiid {code.get('paiid', 'unknown version')}"
        if code.get("git_commit"):
            saved += f", commit {str(code['git_commit'])[:10]}"
        message = (
            f"model {name!r} v{version} (saved {info.created_at or 'at an unknown date'} by {saved}) does "
            f"not work with this paiid {__version__}: {type(exc).__name__}: {exc}. Its file was probably "
            f"written by older code; retrain with `paiid train` (or `paiid models rollback {name}`)"
        )
        if isinstance(exc, AttributeError):
            _failed.setdefault((home, name), {})[version] = message
            _cache.pop((home, name), None)
            _loaded.pop((home, name, version), None)
    return ModelError(message)
