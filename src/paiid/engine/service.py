"""Serving access to fitted models: `get_model(name)` for every command and endpoint that predicts.

Why a cache: loading a skops file (sha256 + type check + instantiation) costs milliseconds to
seconds, and an API worker answers many requests with the same model. The cache is keyed on the
promoted pointer file's (mtime, size, inode) so that a `paiid models promote`, a rollback or a new
training run from another process is picked up at the next call with a single `stat`; the file holds
every model's pointer, so when it changed but still names the version already loaded, that model is
kept as is.

A file saved by older code is refused when it is loaded (its state version does not match the current
class, see `paiid.engine.registry`), so what serves is always state the current code can read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from paiid import config
from paiid.engine import registry
from paiid.engine.registry import ModelInfo
from paiid.engine.training import ensure_models


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
_lock = threading.RLock()


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
        ensure_models([name])
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
        model, info = registry.load_serving(name)
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
