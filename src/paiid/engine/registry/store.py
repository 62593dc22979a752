"""Saving, checking and loading model versions, and the listing `paiid models list` shows.

`save` refuses at training time what `load` would refuse later; `audit` is everything `load` checks
short of instantiating; `load_serving` falls back to the newest older version that passes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import skops.io as sio

from paiid import __version__
from paiid.engine.registry.files import (
    _check_name,
    _model_path,
    _name_lock,
    _sidecar_path,
    atomic_write,
    atomic_write_json,
    model_dir,
)
from paiid.engine.registry.trust import (
    SchemaAudit,
    _check_state,
    _loads_audited,
    _saved_by,
    audit_schema,
    class_names,
    expected_class,
    state_stamp,
    type_name,
)
from paiid.engine.registry.versions import (
    ModelInfo,
    _highwater,
    _info,
    _read_sidecar,
    _write_pointers,
    model_names,
    promoted_version,
    promoted_versions,
    versions,
)
from paiid.errors import ModelError
from paiid.jsonutil import to_jsonable

log = logging.getLogger("paiid.registry")

@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The git commit of the source tree paiid runs from, if it is a checkout (None otherwise)."""
    src = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()



def save(name: str, model: Any, metadata: dict[str, Any] | None = None, *, promote: bool = True) -> ModelInfo:
    """Store `model` as the next version of `name`; promote it unless `promote=False`.

    The model must be of `name`'s class and round-trip through skops with trusted types only: a model
    holding e.g. a pandas object, or a type a library upgrade introduced, is refused here, at training
    time, rather than later when serving it.
    """
    cls = expected_class(name)
    if not isinstance(model, cls):
        raise ModelError(f"model {name!r} must be a {type_name(cls)}, not a {type_name(type(model))}")
    try:
        data = sio.dumps(model)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"model {name!r} cannot be saved with skops: {type(exc).__name__}: {exc}") from None
    audit = audit_schema(data)
    refused = audit.untrusted()
    if refused:
        raise ModelError(
            f"model {name!r} holds types outside the registry's allowlist ({', '.join(refused)}); keep "
            "fitted state as numpy arrays, python scalars/lists/dicts or the scikit-learn estimators listed "
            "in paiid.engine.registry.LIBRARY_TYPES (add a new one there only after checking that loading "
            "it runs no code)"
        )
    digest = _sha256(data)
    meta = dict(metadata or {})
    with _name_lock(name):
        version = _highwater(name) + 1
        d = model_dir(name, create=True)
        atomic_write(d / "highwater", f"{version}\n".encode())
        doc = {
            **meta,
            "name": name,
            "version": version,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "code_version": {"paiid": __version__, "git_commit": git_commit()},
            "state": state_stamp(cls),
            "sha256": digest,
            "size_bytes": len(data),
            "format": "skops",
        }
        atomic_write(_model_path(name, version), data)
        atomic_write_json(_sidecar_path(name, version), doc)  # sidecar last: now the version exists
        if promote:
            _write_pointers({name: version}, reason="saved")
    log.info("registered model %s v%d", name, version)
    stored = json.loads(json.dumps(to_jsonable(doc)))
    return _info(name, version, stored, version if promote else promoted_version(name))


def verify(name: str, version: int) -> tuple[dict[str, Any], bytes]:
    """Sidecar and bytes of a version after checking its sha256; `ModelError` says what is wrong.

    The hash only catches accidents and copies gone wrong: whoever can rewrite the file can rewrite the
    sidecar too, which is why `audit` and `load` check what the file contains as well.
    """
    doc = _read_sidecar(name, version)
    path = _model_path(name, version)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"model file of {name!r} v{version} is missing ({path})") from None
    actual = _sha256(data)
    if actual != doc["sha256"]:
        raise ModelError(
            f"model file of {name!r} v{version} ({path}) is corrupt or was tampered with: "
            f"sha256 {actual[:12]}... does not match the registered {doc['sha256'][:12]}...; "
            f"roll back with `paiid models rollback {name}` or retrain with `paiid train`"
        )
    return doc, data


def audit(name: str, version: int) -> tuple[dict[str, Any], bytes, SchemaAudit]:
    """Everything `load` checks short of instantiating: hash, exact types and loaders, the model's class
    and its state version. Cheap (no object is built), so `list_models` runs it on every version."""
    doc, data = verify(name, version)
    where = f"model file of {name!r} v{version} ({_model_path(name, version)})"
    fix = (f"(saved by {_saved_by(doc)}; this is paiid {__version__}); retrain with `paiid train` or roll "
           f"back with `paiid models rollback {name}`")
    try:
        found = audit_schema(data)
    except ValueError as exc:  # any parse failure means the file is not what we wrote
        raise ModelError(f"{where} is corrupt: {exc} {fix}") from None
    refused = found.untrusted()
    if refused:
        raise ModelError(f"{where} contains untrusted types {', '.join(refused)}; refusing to load it {fix}")
    cls = expected_class(name)
    if found.root not in class_names(cls):
        raise ModelError(f"{where} holds a {found.root}, not a {type_name(cls)}; refusing to load it {fix}")
    _check_state(name, version, cls, doc)
    return doc, data, found


def load(name: str, version: int | None = None) -> tuple[Any, ModelInfo]:
    """The fitted model and its info; `version=None` means the promoted one. Never unpickles.

    Raises `ModelError` when the version does not exist, its file does not match its sha256, names a
    type or loader outside the allowlists, does not hold an instance of `name`'s class, or was saved for
    another state version of that class.
    """
    _check_name(name)
    if version is None:
        version = promoted_version(name)
        if version is None:
            raise ModelError(f"no model {name!r} is registered; train it with `paiid train`")
    doc, data, found = audit(name, version)
    try:
        model = _loads_audited(data, found)
    except Exception as exc:  # noqa: BLE001 - skops refusing or failing: the file is not what we wrote
        raise ModelError(
            f"model file of {name!r} v{version} ({_model_path(name, version)}) could not be loaded: "
            f"{type(exc).__name__}: {exc} (saved by {_saved_by(doc)}); retrain with `paiid train` or roll "
            f"back with `paiid models rollback {name}`"
        ) from None
    cls = expected_class(name)
    if not isinstance(model, cls):
        raise ModelError(
            f"model file of {name!r} v{version} loaded as a {type_name(type(model))}, not a "
            f"{type_name(cls)}; refusing it; retrain with `paiid train`"
        )
    return model, _info(name, version, doc, promoted_version(name))


def load_serving(name: str) -> tuple[Any, ModelInfo]:
    """The newest version ≤ the promoted one that verifies and loads (warning about each refused one).

    `info.version` says which version serves; `info.fallback_from` and `info.problems` say why it is not
    the promoted one when a fallback happened.
    """
    _check_name(name)
    top = promoted_version(name)
    if top is None:
        raise ModelError(f"no model {name!r} is registered; train it with `paiid train`")
    problems: list[str] = []
    for v in sorted((x for x in versions(name) if x <= top), reverse=True):
        if v != top and _read_sidecar_quiet(name, v).get("vintage"):
            continue  # a point-in-time refit on older data is never a fallback for the live model
        try:
            model, info = load(name, v)
        except ModelError as exc:
            log.warning("refusing %s v%d: %s", name, v, exc.message)
            problems.append(exc.message)
            continue
        if v != top:
            log.warning("model %s: promoted v%d is unusable, serving v%d instead", name, top, v)
            info.fallback_from = top
        info.problems = problems
        return model, info
    if top not in versions(name):
        problems.insert(0, f"promoted version {top} of {name!r} has no metadata")
    raise ModelError(
        f"no usable version of model {name!r} (≤ v{top}): " + " | ".join(problems)
        + f"; retrain with `paiid train` or promote another version with `paiid models promote {name} N`"
    )



def _read_sidecar_quiet(name: str, version: int) -> dict[str, Any]:
    try:
        return _read_sidecar(name, version)
    except ModelError:
        return {}


def list_models(*, check: bool = True) -> list[dict[str, Any]]:
    """Every model name with its versions, the promoted one and (with `check`) whether each passes `audit`.

    `status` is "ok", "refused" (the audit found something `load` would refuse: corrupt, tampered,
    untrusted types, another class, another state version; `problem` says what) or "corrupt" (no readable
    metadata).
    """
    out = []
    pointers = promoted_versions()
    for name in model_names():
        top = pointers.get(name)
        if top is None:
            vs = versions(name)
            top = vs[-1] if vs else None
        rows = []
        for v in versions(name):
            row: dict[str, Any] = {"version": v, "promoted": v == top}
            try:
                doc = _read_sidecar(name, v)
            except ModelError as exc:
                row.update(status="corrupt", problem=exc.message)
                rows.append(row)
                continue
            row.update(created_at=doc.get("created_at"), scores=doc.get("scores", {}), data=doc.get("data"),
                       refit_date=doc.get("refit_date"), vintage=bool(doc.get("vintage")),
                       sha256=doc.get("sha256"), status="ok")
            if check:
                try:
                    audit(name, v)
                except ModelError as exc:
                    row.update(status="refused", problem=exc.message)
            rows.append(row)
        out.append({"name": name, "promoted": top, "latest": rows[-1]["version"] if rows else None,
                    "versions": rows})
    return to_jsonable(out)

