"""The model registry: versioned skops files with JSON sidecars under `PAIID_HOME/models/<name>/`.

- `files`: the layout, owner-only atomic writes, `file_lock`.
- `trust`: the exact allow-lists (`LIBRARY_TYPES`, `TRUSTED_LOADERS`, `MODEL_CLASSES`), the schema audit
  of a skops file and the state-version stamp.
- `versions`: versions and the high-water mark, sidecars (`ModelInfo`), the `promoted.json` set pointer.
- `store`: `save`, `verify`, `audit`, `load`, `load_serving`, `list_models`.
- `promotion`: `promote_set`, `promote`, `rollback`.

`MODEL_CLASSES` here is the very dict `trust` reads, so patching an entry of it reaches the checks.
"""

from paiid.engine.registry.files import atomic_write, atomic_write_json, file_lock, model_dir, pointer_path
from paiid.engine.registry.promotion import promote, promote_set, rollback
from paiid.engine.registry.store import audit, git_commit, list_models, load, load_serving, save, verify
from paiid.engine.registry.trust import (
    LIBRARY_TYPES,
    MODEL_CLASSES,
    TRUSTED_LOADERS,
    SchemaAudit,
    audit_schema,
    class_names,
    expected_class,
    state_stamp,
    trusted_types,
    type_name,
)
from paiid.engine.registry.versions import (
    ModelInfo,
    describe,
    has_model,
    model_names,
    promoted_version,
    promoted_versions,
    versions,
)

__all__ = [
    "LIBRARY_TYPES",
    "MODEL_CLASSES",
    "TRUSTED_LOADERS",
    "ModelInfo",
    "SchemaAudit",
    "atomic_write",
    "atomic_write_json",
    "audit",
    "audit_schema",
    "class_names",
    "describe",
    "expected_class",
    "file_lock",
    "git_commit",
    "has_model",
    "list_models",
    "load",
    "load_serving",
    "model_dir",
    "model_names",
    "pointer_path",
    "promote",
    "promote_set",
    "promoted_version",
    "promoted_versions",
    "rollback",
    "save",
    "state_stamp",
    "trusted_types",
    "type_name",
    "verify",
    "versions",
]
