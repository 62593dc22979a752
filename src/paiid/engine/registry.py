"""The model registry: versioned skops files with JSON sidecars under `PAIID_HOME/models/<name>/`.

Layout::

    models/promoted.json           {"versions": {"regime": N, ...}}: the versions serving uses, all names in
                                   one file, so a training run's new set is promoted by one atomic write
    models/<name>/v<N>.skops       the fitted model (skops, never pickle)
    models/<name>/v<N>.json        metadata sidecar (written last: a version exists once its sidecar does)
    models/<name>/highwater        the highest version ever allocated (so numbers never repeat)
    models/<name>/.lock            file lock (filelock) serialising writers of this name across processes
    models/.promote.lock           file lock serialising writers of `promoted.json`

Why this shape: every write is a temp file + `os.replace` with owner-only permissions (0600), so a crash
mid-save leaves either the old state or the new one, never a half file under a real name, and no other
local user can read or swap a model. A reader sees either the whole previous promoted set or the whole
new one, never regime of one run with the selector of another.

Why loading is safe: the sha256 in the sidecar only catches accidents (whoever can rewrite the file can
rewrite the sidecar). What keeps a hostile file from running code is the schema audit done before skops
instantiates anything: every type the file names must be one of `trusted_types()` — the exact classes,
numpy and scikit-learn types the models paiid saves are made of, never a module prefix — and every node
must use one of `TRUSTED_LOADERS`, the skops loaders that only rebuild data (none that call a named
function with arguments from the file). Then the loaded object must be an instance of `MODEL_CLASSES[name]`.
Anything else is refused with `ModelError`, and serving falls back to the newest older version that
passes (`load_serving`); nothing is ever deleted. `paiid models list` runs the same audit on every version.

Stale files: a model saved by older code loads fine with skops but its learned state may have another
shape than the current class reads, which would only blow up at predict time. So every model class
carries `STATE_VERSION`, bumped whenever its learned state changes shape, and `save` writes the class
and that number into the sidecar (`state`). `audit` (hence `load`, serving and `paiid models list`)
refuses a file whose stamp names another class or state version than the current code's, or that has
no stamp (saved before stamps existed): `ModelError` naming the model, its version and the paiid that
saved it, and saying to run `paiid train`; serving falls back to the previous good version.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import skops.io as sio
from filelock import FileLock

from paiid import __version__, config
from paiid.engine.catalog import MODELS
from paiid.errors import BadInput, ModelError
from paiid.jsonutil import to_jsonable

log = logging.getLogger("paiid.registry")

#: model name -> the class every version of it must be an instance of. A file holding anything else
#: (another model, a bare estimator) is refused, and the previous good version serves. Each class has a
#: `STATE_VERSION` (see the module docstring).
MODEL_CLASSES: dict[str, type] = {name: kind.cls for name, kind in MODELS.items()}

#: Every third-party type the models paiid saves are made of, by exact name (enumerated from the schemas
#: of freshly trained models; `tests/engine/test_model_files.py` checks that a fresh training run needs
#: nothing else). A library upgrade that adds a type makes `save` refuse the model, loudly, at training time.
LIBRARY_TYPES: frozenset[str] = frozenset({
    "builtins.dict", "builtins.list", "builtins.str", "builtins.tuple",
    "numpy.ndarray", "numpy.float64", "numpy.int64",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
    # the splitter a CalibratedClassifierCV keeps as its `cv`: ints, a float, an array (no __setstate__)
    "paiid.data.splits.PurgedWalkForward",
})

#: skops loaders that only rebuild data: containers, JSON scalars, numpy arrays (`allow_pickle=False`),
#: objects of an audited class (`__new__` + state), a tree from its arrays, a type object, a back-reference
#: to an earlier node. Loaders that call a named function with arguments from the file
#: (`ConstructorFromReduceNode`, `FunctionNode`, `PartialNode`, `MethodNode`, `OperatorFuncNode`) or
#: hide a type name inside their state (`RandomGeneratorNode`) are never needed by our models.
TRUSTED_LOADERS: frozenset[str] = frozenset({
    "CachedNode", "DictNode", "JsonNode", "ListNode", "NdArrayNode", "ObjectNode", "TreeNode", "TupleNode",
    "TypeNode",
})


def type_name(cls: type) -> str:
    """`module.Class` as skops names it in a file's schema."""
    return f"{cls.__module__}.{cls.__qualname__}"


def class_names(cls: type) -> frozenset[str]:
    """Every `module.Class` naming `cls` itself: where it is defined, and each enclosing package that
    re-exports that very class (`paiid.ml.regime.RegimeDetector` for `paiid.ml.regime.model`'s).

    Built from the class object, so moving a class moves its trusted name with it, and files saved
    before a module became a package (naming the public path) still load.
    """
    names = {type_name(cls)}
    parts = cls.__module__.split(".")
    for i in range(len(parts) - 1, 0, -1):
        package = ".".join(parts[:i])
        if getattr(sys.modules.get(package), cls.__qualname__, None) is cls:
            names.add(f"{package}.{cls.__qualname__}")
    return frozenset(names)


def trusted_types() -> frozenset[str]:
    """Exact names of every type a model file may contain: `LIBRARY_TYPES` plus the model classes'."""
    return LIBRARY_TYPES.union(*(class_names(cls) for cls in MODEL_CLASSES.values()))


_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
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


# ---------------------------------------------------------------------------------------------- paths


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise BadInput(f"invalid model name {name!r}: use lower-case letters, digits and _ (e.g. 'regime')")
    return name


def model_dir(name: str, *, create: bool = False) -> Path:
    path = config.models_dir() / _check_name(name)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def _model_path(name: str, version: int) -> Path:
    return model_dir(name) / f"v{version}.skops"


def _sidecar_path(name: str, version: int) -> Path:
    return model_dir(name) / f"v{version}.json"


def _pointers_path() -> Path:
    return config.models_dir() / "promoted.json"


def pointer_path(name: str) -> Path:  # noqa: ARG001 - one file holds the pointers of every name
    """The file holding the promoted version of `name` (serving stats it to notice promotions cheaply)."""
    return _pointers_path()


# ------------------------------------------------------------------------------------- atomic writes


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers see the old file or the whole new one, never a partial one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file 0600 (owner only), which is what every registry file must be: a model
        # file is code-adjacent state that no other local user may read or replace
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # persist the rename itself
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write(path, (json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n").encode())


def file_lock(path: Path) -> FileLock:
    """An exclusive lock on `path` across processes and threads, re-entrant within one thread.

    One instance per path (`is_singleton`), holding a count per thread (`thread_local`), so nested
    `with` blocks of one thread pass while every other thread and process waits.
    """
    return FileLock(path, mode=0o600, thread_local=True, is_singleton=True)


def _name_lock(name: str) -> FileLock:
    """Exclusive cross-process lock for writers of one model name (version allocation, pointer moves)."""
    return file_lock(model_dir(name, create=True) / ".lock")


# -------------------------------------------------------------------------------------------- helpers


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


def _schema(data: bytes) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            schema = json.loads(zf.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ValueError(f"not a skops archive ({type(exc).__name__}: {exc})") from None
    if not isinstance(schema, dict):
        raise ValueError("not a skops archive (its schema is not an object)")
    return schema


@dataclass
class SchemaAudit:
    """What a skops file's schema names, read without instantiating anything."""

    #: `module.Class` of the root object (what `sio.loads` would return).
    root: str
    #: every `module.Class` (type or function) named anywhere, and every loader used.
    types: set[str]
    loaders: set[str]

    def untrusted(self) -> list[str]:
        """Types outside `trusted_types()` and loaders outside `TRUSTED_LOADERS`, sorted."""
        allowed = trusted_types()
        return (sorted(t for t in self.types if t not in allowed)
                + sorted(f"loader {x}" for x in self.loaders if x not in TRUSTED_LOADERS))


def _name_of(node: dict[str, Any]) -> str | None:
    mod, cls = node.get("__module__"), node.get("__class__")
    return f"{mod}.{cls}" if isinstance(mod, str) and isinstance(cls, str) else None


def audit_schema(data: bytes) -> SchemaAudit:
    """Walk a skops file's schema: every type and loader it names.

    Raises ValueError when `data` is not a skops archive.
    """
    schema = _schema(data)
    types: set[str] = set()
    loaders: set[str] = set()

    def walk(node: Any) -> None:  # every node, wherever it sits
        if isinstance(node, dict):
            qual = _name_of(node)
            if qual is not None:
                types.add(qual)
            if "__loader__" in node:
                loaders.add(str(node["__loader__"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    return SchemaAudit(root=_name_of(schema) or "?", types=types, loaders=loaders)


def _loads_audited(data: bytes, audit: SchemaAudit) -> Any:
    """Instantiate a skops archive whose schema passed the audit, trusting exactly the types it names.

    skops still refuses anything its own audit finds beyond those (fail closed).
    """
    return sio.loads(data, trusted=sorted(audit.types))


# ------------------------------------------------------------------------------------ state version


def state_stamp(cls: type) -> dict[str, Any]:
    """What `save` writes beside a model of class `cls`: where the class lives and its `STATE_VERSION`."""
    return {"class": type_name(cls), "version": int(cls.STATE_VERSION)}


def _saved_by(doc: dict[str, Any]) -> str:
    code = doc.get("code_version") if isinstance(doc.get("code_version"), dict) else {}
    commit = code.get("git_commit")
    who = f"paiid {code.get('paiid', 'unknown version')}" + (f", commit {commit[:10]}" if commit else "")
    return f"{who}, {doc.get('created_at') or 'unknown date'}"


def _check_state(name: str, version: int, cls: type, doc: dict[str, Any]) -> None:
    """Refuse a file whose learned state was written for another class or state version than the
    current code's (or before stamps existed): it would load, then fail or mislead at predict time."""
    stamp = doc.get("state")
    current = state_stamp(cls)
    if not isinstance(stamp, dict):
        problem = "its metadata has no state version (it predates them)"
    elif stamp.get("class") not in class_names(cls):
        problem = f"its state was written for {stamp.get('class')}, not {current['class']}"
    elif stamp.get("version") != current["version"]:
        problem = (f"its state has version {stamp.get('version')}, the current {cls.__qualname__} reads "
                   f"version {current['version']}")
    else:
        return
    raise ModelError(
        f"model {name!r} v{version} was saved by older code ({_saved_by(doc)}) and does not match this "
        f"paiid {__version__}: {problem}; retrain with `paiid train` or roll back with "
        f"`paiid models rollback {name}`"
    )


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


# ---------------------------------------------------------------------------------------------- API


def expected_class(name: str) -> type:
    """The class every version of model `name` must be (`MODEL_CLASSES`); `ModelError` for an unknown name."""
    try:
        return MODEL_CLASSES[_check_name(name)]
    except KeyError:
        raise ModelError(
            f"no model class is known for the name {name!r} (known: {', '.join(MODEL_CLASSES)}); "
            "the registry stores only those"
        ) from None


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


def promote_set(chosen: dict[str, int], reason: str = "promoted") -> list[ModelInfo]:
    """Serve every `name -> version` in `chosen` together, after checking each loads as its class.

    One write of the pointer file, so readers see all of them or none; if any version does not load,
    nothing is promoted (`ModelError` / `BadInput` say which).
    """
    infos = []
    for name, version in chosen.items():
        version = int(version)
        if version not in versions(name):
            known = ", ".join(map(str, versions(name))) or "none"
            raise BadInput(f"model {name!r} has no version {version} (registered: {known})")
        infos.append(load(name, version)[1])
    _write_pointers({i.name: i.version for i in infos}, reason=reason)
    for info in infos:
        info.promoted = True
    return infos


def promote(name: str, version: int) -> ModelInfo:
    """Point serving at `version` of `name` after checking that it verifies and loads."""
    return promote_set({name: version})[0]


def rollback(name: str) -> ModelInfo:
    """Promote the newest good version older than the currently promoted one."""
    top = promoted_version(name)
    if top is None:
        raise BadInput(f"no model {name!r} is registered; nothing to roll back")
    problems = []
    for v in sorted((x for x in versions(name) if x < top), reverse=True):
        try:
            load(name, v)
        except ModelError as exc:
            problems.append(exc.message)
            continue
        _write_pointers({name: v}, reason=f"rollback from v{top}")
        return describe(name, v)
    raise BadInput(
        f"model {name!r} has no good version older than v{top} to roll back to"
        + (f" ({' | '.join(problems)})" if problems else "")
    )
