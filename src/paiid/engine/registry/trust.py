"""What a model file may contain, checked before skops instantiates anything.

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

import io
import json
import sys
import threading
import zipfile
from dataclasses import dataclass
from typing import Any

import skops.io as sio

from paiid import __version__
from paiid.engine.catalog import MODELS
from paiid.engine.registry.files import _check_name
from paiid.errors import ModelError

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
    # each model's out-of-distribution check (arrays and floats only)
    "paiid.ml.typicality.Typicality",
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


#: One skops instantiation at a time per process. Why: numpy reads every array's header with
#: `ast.literal_eval`, and CPython 3.11 keeps the AST constructor's recursion-depth counter per
#: interpreter, not per thread; two threads loading at once (an API worker's thread pool answering a
#: burst of past-date requests, each loading the same point-in-time refit) can then fail one of them
#: with `SystemError: AST constructor recursion depth mismatch`, which `load` reports as a corrupt file
#: (HTTP 503). Measured in tests/engine/test_registry_concurrency_threads.py. Loading is CPU-bound under
#: the GIL anyway, so serialising it costs concurrent loads almost nothing.
_INSTANTIATE = threading.Lock()


def _loads_audited(data: bytes, audit: SchemaAudit) -> Any:
    """Instantiate a skops archive whose schema passed the audit, trusting exactly the types it names.

    skops still refuses anything its own audit finds beyond those (fail closed).
    """
    with _INSTANTIATE:
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



def expected_class(name: str) -> type:
    """The class every version of model `name` must be (`MODEL_CLASSES`); `ModelError` for an unknown name."""
    try:
        return MODEL_CLASSES[_check_name(name)]
    except KeyError:
        raise ModelError(
            f"no model class is known for the name {name!r} (known: {', '.join(MODEL_CLASSES)}); "
            "the registry stores only those"
        ) from None

