"""The model registry: versioned skops files with JSON sidecars under `PAIID_HOME/models/<name>/`.

Layout per model name::

    models/<name>/v<N>.skops       the fitted model (skops, never pickle)
    models/<name>/v<N>.json        metadata sidecar (written last: a version exists once its sidecar does)
    models/<name>/promoted.json    {"version": N, ...}: the version serving uses
    models/<name>/highwater        the highest version ever allocated (so numbers never repeat)
    models/<name>/.lock            fcntl lock serialising writers of this name across processes

Why this shape: every write is a temp file + `os.replace`, so a crash mid-save leaves either the old
state or the new one, never a half file under a real name. Loading verifies the sha256 recorded in the
sidecar and refuses any type outside `TRUSTED_PREFIXES` before skops instantiates anything, so a
tampered or swapped file is refused (`ModelError`) instead of executing code. Serving then falls back
to the newest older version that still verifies (`load_serving`), and nothing is ever deleted.

Stale files: a model saved by older code loads fine with skops but may lack a fitted attribute
(`name_`) that the current class sets, which would only blow up at predict time as an AttributeError.
`load` compares each paiid object in the model with what its current class assigns (`fitted_attributes`)
and refuses a file missing any of them (`ModelError` naming the model, its version and the paiid that
saved it, and saying to run `paiid train`); serving then falls back like for a corrupt file. Attributes
a class sets only sometimes are recorded at save time (`unset_attributes` in the sidecar), so a file
the current code wrote is never refused for lacking them.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import functools
import hashlib
import inspect
import io
import json
import logging
import os
import re
import subprocess
import tempfile
import textwrap
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import skops.io as sio

from paiid import __version__, config
from paiid.errors import BadInput, ModelError
from paiid.jsonutil import to_jsonable

log = logging.getLogger("paiid.registry")

#: Module prefixes whose types a model file may contain. Anything else is refused before loading.
TRUSTED_PREFIXES: tuple[str, ...] = ("paiid.", "sklearn.", "numpy.", "scipy.", "hmmlearn.", "builtins.")
#: Individual harmless stdlib containers used inside trusted libraries (hmmlearn's ConvergenceMonitor
#: keeps its history in a deque).
TRUSTED_EXACT: frozenset[str] = frozenset({"collections.deque", "collections.OrderedDict"})
#: Callables under a trusted prefix that could still read files or run code if a model called them.
DENIED: frozenset[str] = frozenset({
    "builtins.eval", "builtins.exec", "builtins.compile", "builtins.open", "builtins.__import__",
    "builtins.getattr", "builtins.setattr", "builtins.delattr", "builtins.globals", "builtins.locals",
    "builtins.vars", "builtins.input", "builtins.breakpoint", "builtins.exit", "builtins.quit",
    "numpy.load", "numpy.loadtxt", "numpy.genfromtxt", "numpy.fromfile", "numpy.memmap", "numpy.save",
    "numpy.savez", "numpy.savetxt", "numpy.lib.npyio.load",
})

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


def _pointer_path(name: str) -> Path:
    return model_dir(name) / "promoted.json"


def pointer_path(name: str) -> Path:
    """Where the promoted pointer of `name` lives (serving stats it to notice promotions cheaply)."""
    return _pointer_path(name)


# ------------------------------------------------------------------------------------- atomic writes


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers see the old file or the whole new one, never a partial one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a server running as another user must read models
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


@contextlib.contextmanager
def _name_lock(name: str) -> Iterator[None]:
    """Exclusive cross-process lock for writers of one model name (version allocation, pointer moves)."""
    lock_path = model_dir(name, create=True) / ".lock"
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


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


def _schema_types(data: bytes) -> set[str]:
    """Every `module.Class` (or function) named anywhere in a skops file's schema."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            schema = json.loads(zf.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ValueError(f"not a skops archive ({type(exc).__name__}: {exc})") from None
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            mod, cls = node.get("__module__"), node.get("__class__")
            if isinstance(mod, str) and isinstance(cls, str):
                found.add(f"{mod}.{cls}")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    return found


def is_trusted_type(qualname: str) -> bool:
    """True if `qualname` (module.Class) may be instantiated from a model file."""
    if qualname in DENIED:
        return False
    return qualname in TRUSTED_EXACT or qualname.startswith(TRUSTED_PREFIXES)


def untrusted_types(data: bytes) -> tuple[list[str], list[str]]:
    """(refused, extra_trusted): types outside the allowlist, and the ones skops must be told to trust.

    skops' own `get_untrusted_types` lists what its defaults would not load; we also walk the whole
    schema so that nothing outside our prefixes passes just because skops' defaults allow it.
    """
    skops_untrusted = sio.get_untrusted_types(data=data)
    every = _schema_types(data) | set(skops_untrusted)
    refused = sorted(t for t in every if not is_trusted_type(t))
    extra = sorted(t for t in skops_untrusted if is_trusted_type(t))
    return refused, extra


def _loads_trusted(data: bytes, where: str) -> Any:
    """Instantiate a skops archive after refusing every type outside the allowlist."""
    try:
        refused, extra = untrusted_types(data)
    except Exception as exc:  # noqa: BLE001 - any parse failure means the file is not what we wrote
        raise ModelError(f"{where} is corrupt: {exc}") from None
    if refused:
        raise ModelError(f"{where} contains untrusted types {', '.join(refused)}; refusing to load it")
    try:
        return sio.loads(data, trusted=extra)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{where} could not be loaded: {type(exc).__name__}: {exc}") from None


# ------------------------------------------------------------------------------------ fitted state


@functools.lru_cache(maxsize=256)
def fitted_attributes(cls: type) -> frozenset[str]:
    """Learned-state attributes (`self.name_`, scikit-learn's convention) the code of `cls` assigns.

    Read from the source of `cls` and its paiid base classes, so it reflects the code running now,
    not the file being loaded. Empty when the source is unavailable (then nothing is checked).
    """
    names: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("paiid."):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                    and isinstance(node.value, ast.Name) and node.value.id == "self"
                    and node.attr.endswith("_") and not node.attr.startswith("__")):
                names.add(node.attr)
    return frozenset(names)


def missing_fitted_state(model: Any) -> dict[str, list[str]]:
    """`path -> [attribute, ...]` for every paiid object inside `model` lacking one its class assigns.

    Walks the model and the lists, tuples and dicts it holds (not into third-party estimators, whose
    own version checks apply). `path` names where the object sits, e.g. `model` or `model.stages_[0]`.
    """
    out: dict[str, list[str]] = {}
    seen: set[int] = set()

    def walk(obj: Any, path: str, depth: int) -> None:
        if depth > 6 or id(obj) in seen:
            return
        seen.add(id(obj))
        if type(obj).__module__.startswith("paiid.") and hasattr(obj, "__dict__"):
            missing = sorted(fitted_attributes(type(obj)) - set(vars(obj)))
            if missing:
                out[path] = missing
            for key, value in vars(obj).items():
                walk(value, f"{path}.{key}", depth + 1)
        elif isinstance(obj, list | tuple):
            for i, value in enumerate(obj[:1000]):
                walk(value, f"{path}[{i}]", depth + 1)
        elif isinstance(obj, dict):
            for key, value in list(obj.items())[:1000]:
                walk(value, f"{path}[{key!r}]", depth + 1)

    walk(model, "model", 0)
    return out


def _saved_by(doc: dict[str, Any]) -> str:
    code = doc.get("code_version") if isinstance(doc.get("code_version"), dict) else {}
    commit = code.get("git_commit")
    who = f"paiid {code.get('paiid', 'unknown version')}" + (f", commit {commit[:10]}" if commit else "")
    return f"{who}, {doc.get('created_at') or 'unknown date'}"


def _check_fitted_state(name: str, version: int, model: Any, doc: dict[str, Any]) -> None:
    """Refuse a model lacking learned state the current code needs (saved by older code)."""
    allowed = doc.get("unset_attributes") if isinstance(doc.get("unset_attributes"), dict) else {}
    problems = []
    for path, attrs in missing_fitted_state(model).items():
        stale = [a for a in attrs if a not in (allowed.get(path) or [])]
        if stale:
            problems.append(f"{path} ({type_name_at(model, path)}) lacks {', '.join(stale)}")
    if problems:
        raise ModelError(
            f"model {name!r} v{version} was saved by older code ({_saved_by(doc)}) and does not match this "
            f"paiid {__version__}: {'; '.join(problems)}. Retrain it with `paiid train`"
        )


def type_name_at(model: Any, path: str) -> str:
    """Class name of the object at `path` (as written by `missing_fitted_state`); '?' if not found."""
    if path == "model":
        return type(model).__name__
    obj = model
    for part in re.findall(r"\.(\w+)|\[([^\]]+)\]", path):
        attr, key = part
        try:
            if attr:
                obj = getattr(obj, attr)
            else:
                obj = obj[int(key)] if key.isdigit() else obj[ast.literal_eval(key)]
        except (AttributeError, KeyError, IndexError, TypeError, ValueError, SyntaxError):
            return "?"
    return type(obj).__name__


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


def _read_pointer(name: str) -> int | None:
    try:
        doc = json.loads(_pointer_path(name).read_text())
        return int(doc["version"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("promoted pointer of %r is unreadable (%s); serving the newest good version", name, exc)
        return None


def promoted_version(name: str) -> int | None:
    """The version serving uses: the promoted pointer, else the newest registered version."""
    v = _read_pointer(name)
    if v is not None:
        return v
    vs = versions(name)
    return vs[-1] if vs else None


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


def save(name: str, model: Any, metadata: dict[str, Any] | None = None, *, promote: bool = True) -> ModelInfo:
    """Store `model` as the next version of `name`; promote it unless `promote=False`.

    The model must round-trip through skops with trusted types only: a model holding e.g. a pandas
    object is refused here, at training time, rather than later when serving it.
    """
    _check_name(name)
    try:
        data = sio.dumps(model)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"model {name!r} cannot be saved with skops: {type(exc).__name__}: {exc}") from None
    refused, _ = untrusted_types(data)
    if refused:
        raise ModelError(
            f"model {name!r} holds types outside the registry's allowlist ({', '.join(refused)}); keep "
            "fitted state as numpy arrays, python scalars/lists/dicts or scikit-learn estimators"
        )
    digest = _sha256(data)
    meta = dict(metadata or {})
    unset = missing_fitted_state(model)  # attributes the current code sets only sometimes
    if unset:
        meta["unset_attributes"] = unset
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
            "sha256": digest,
            "size_bytes": len(data),
            "format": "skops",
        }
        atomic_write(_model_path(name, version), data)
        atomic_write_json(_sidecar_path(name, version), doc)  # sidecar last: now the version exists
        if promote:
            _write_pointer(name, version, reason="saved")
    log.info("registered model %s v%d", name, version)
    stored = json.loads(json.dumps(to_jsonable(doc)))
    return _info(name, version, stored, version if promote else _read_pointer(name))


def _write_pointer(name: str, version: int, reason: str) -> None:
    atomic_write_json(_pointer_path(name), {
        "name": name,
        "version": version,
        "reason": reason,
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    })


def verify(name: str, version: int) -> tuple[dict[str, Any], bytes]:
    """Sidecar and bytes of a version after checking its sha256; `ModelError` says what is wrong."""
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


def load(name: str, version: int | None = None) -> tuple[Any, ModelInfo]:
    """The fitted model and its info; `version=None` means the promoted one. Never unpickles.

    Raises `ModelError` when the version does not exist, its file does not match its sha256, or it
    names a type outside the allowlist.
    """
    _check_name(name)
    if version is None:
        version = promoted_version(name)
        if version is None:
            raise ModelError(f"no model {name!r} is registered; train it with `paiid train`")
    doc, data = verify(name, version)
    try:
        model = _loads_trusted(data, f"model file of {name!r} v{version} ({_model_path(name, version)})")
    except ModelError as exc:
        raise ModelError(
            f"{exc.message} (saved by {_saved_by(doc)}; this is paiid {__version__}); retrain with "
            f"`paiid train` or roll back with `paiid models rollback {name}`"
        ) from None
    _check_fitted_state(name, version, model, doc)
    return model, _info(name, version, doc, promoted_version(name))


def load_serving(name: str, skip: dict[int, str] | None = None) -> tuple[Any, ModelInfo]:
    """The newest version ≤ the promoted one that verifies and loads (warning about each refused one).

    `info.version` says which version serves; `info.fallback_from` and `info.problems` say why it is not
    the promoted one when a fallback happened. `skip` maps versions already found unusable (e.g. one
    that failed at predict time, see `paiid.engine.service`) to why; they are passed over like corrupt ones.
    """
    _check_name(name)
    top = promoted_version(name)
    if top is None:
        raise ModelError(f"no model {name!r} is registered; train it with `paiid train`")
    problems: list[str] = []
    for v in sorted((x for x in versions(name) if x <= top), reverse=True):
        if skip and v in skip:
            problems.append(skip[v])
            continue
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
    """Every model name with its versions, the promoted one and (with `check`) whether each file verifies."""
    out = []
    for name in model_names():
        top = promoted_version(name)
        rows = []
        for v in versions(name):
            row: dict[str, Any] = {"version": v, "promoted": v == top}
            try:
                doc = verify(name, v)[0] if check else _read_sidecar(name, v)
                row.update(
                    created_at=doc.get("created_at"),
                    scores=doc.get("scores", {}),
                    data=doc.get("data"),
                    sha256=doc.get("sha256"),
                    status="ok",
                )
            except ModelError as exc:
                row.update(status="corrupt", problem=exc.message)
            rows.append(row)
        out.append({"name": name, "promoted": top, "latest": rows[-1]["version"] if rows else None,
                    "versions": rows})
    return to_jsonable(out)


def promote(name: str, version: int) -> ModelInfo:
    """Point serving at `version` of `name` after checking that it verifies and loads."""
    version = int(version)
    if version not in versions(name):
        known = ", ".join(map(str, versions(name))) or "none"
        raise BadInput(f"model {name!r} has no version {version} (registered: {known})")
    _, info = load(name, version)
    with _name_lock(name):
        _write_pointer(name, version, reason="promoted")
    info.promoted = True
    return info


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
        with _name_lock(name):
            _write_pointer(name, v, reason=f"rollback from v{top}")
        return describe(name, v)
    raise BadInput(
        f"model {name!r} has no good version older than v{top} to roll back to"
        + (f" ({' | '.join(problems)})" if problems else "")
    )
