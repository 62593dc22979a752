"""Versions of a model name, their sidecars, and the one pointer file naming the promoted set.

A version exists once its sidecar does; `highwater` keeps numbers from ever repeating. All promoted
versions live in `models/promoted.json`, so a reader sees either the whole previous promoted set or the
whole new one, never regime of one run with the selector of another.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from filelock import FileLock

from paiid import config
from paiid.engine.registry.files import (
    _NAME_RE,
    _check_name,
    _model_path,
    _pointers_path,
    _sidecar_path,
    atomic_write_json,
    file_lock,
    model_dir,
)
from paiid.errors import ModelError
from paiid.jsonutil import to_jsonable

log = logging.getLogger("paiid.registry")

_VERSION_RE = re.compile(r"^v(\d+)\.(skops|json)$")


@dataclass
class ModelInfo:
    """What the registry knows about one saved version (the sidecar, plus where it is)."""

    name: str
    version: int
    created_at: str
    sha256: str
    path: str
    metadata: dict[str, Any] = field(default_factory=dict)
    promoted: bool = False
    #: Set by `load_serving` when the promoted version was refused and an older one serves instead.
    fallback_from: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def scores(self) -> dict[str, Any]:
        return self.metadata.get("scores", {})

    def to_dict(self, full: bool = True) -> dict[str, Any]:
        """JSON-ready view; `full=False` drops the bulky metadata but keeps scores."""
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "created_at": self.created_at,
            "sha256": self.sha256,
            "path": self.path,
            "promoted": self.promoted,
        }
        if full:
            out["metadata"] = self.metadata
        else:
            out["scores"] = self.scores
            out["data"] = self.metadata.get("data")
        if self.fallback_from is not None:
            out["fallback_from"] = self.fallback_from
        if self.problems:
            out["problems"] = list(self.problems)
        return to_jsonable(out)



# ------------------------------------------------------------------------------------------ versions


def versions(name: str) -> list[int]:
    """Registered versions of `name` (those with a sidecar), ascending."""
    d = model_dir(name)
    if not d.is_dir():
        return []
    out = []
    for p in d.iterdir():
        m = _VERSION_RE.match(p.name)
        if m and m.group(2) == "json":
            out.append(int(m.group(1)))
    return sorted(out)


def _highwater(name: str) -> int:
    d = model_dir(name)
    hw = 0
    with contextlib.suppress(FileNotFoundError, ValueError):
        hw = int((d / "highwater").read_text().strip() or 0)
    if d.is_dir():
        for p in d.iterdir():
            m = _VERSION_RE.match(p.name)
            if m:
                hw = max(hw, int(m.group(1)))
    return hw


def _legacy_pointer(name: str) -> int | None:
    """The per-name pointer `models/<name>/promoted.json` older paiid wrote (until the shared one exists)."""
    try:
        return int(json.loads((model_dir(name) / "promoted.json").read_text())["version"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("promoted pointer of %r is unreadable (%s); serving the newest good version", name, exc)
        return None


def promoted_versions() -> dict[str, int]:
    """name -> promoted version, read from the one pointer file (so always one consistent set)."""
    try:
        doc = json.loads(_pointers_path().read_text())
        return {str(k): int(v) for k, v in doc["versions"].items() if _NAME_RE.match(str(k))}
    except FileNotFoundError:
        return {n: v for n in model_names() if (v := _legacy_pointer(n)) is not None}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("promoted pointers %s are unreadable (%s); serving the newest good versions",
                    _pointers_path(), exc)
        return {}


def promoted_version(name: str) -> int | None:
    """The version serving uses: the promoted pointer, else the newest registered version."""
    v = promoted_versions().get(_check_name(name))
    if v is not None:
        return v
    vs = versions(name)
    return vs[-1] if vs else None


def _pointers_lock() -> FileLock:
    """Exclusive cross-process lock for writers of the pointer file (read-modify-write of the set)."""
    root = config.models_dir()
    root.mkdir(parents=True, exist_ok=True)
    return file_lock(root / ".promote.lock")


def _write_pointers(changes: dict[str, int], reason: str) -> None:
    """Point every name in `changes` at its version in one atomic write (the others keep theirs)."""
    with _pointers_lock():
        current = promoted_versions()
        atomic_write_json(_pointers_path(), {
            "versions": {**current, **changes},
            "changed": changes,
            "reason": reason,
            "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        })


def _read_sidecar(name: str, version: int) -> dict[str, Any]:
    path = _sidecar_path(name, version)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(
            f"model {name!r} has no version {version}; see `paiid models list`"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"metadata of model {name!r} v{version} ({path}) is corrupt: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("sha256"), str):
        raise ModelError(f"metadata of model {name!r} v{version} ({path}) is corrupt: no sha256")
    return doc


def _info(name: str, version: int, doc: dict[str, Any], promoted: int | None) -> ModelInfo:
    return ModelInfo(
        name=name,
        version=version,
        created_at=str(doc.get("created_at", "")),
        sha256=doc["sha256"],
        path=str(_model_path(name, version)),
        metadata=doc,
        promoted=version == promoted,
    )



def has_model(name: str) -> bool:
    """True if at least one version of `name` is registered (the files may still fail to verify)."""
    return bool(versions(name))


def model_names() -> list[str]:
    root = config.models_dir()
    return sorted(
        p.name for p in root.iterdir() if p.is_dir() and _NAME_RE.match(p.name) and versions(p.name)
    )


def describe(name: str, version: int) -> ModelInfo:
    """Info of one version without loading the model (sidecar only)."""
    return _info(name, version, _read_sidecar(name, version), promoted_version(name))

