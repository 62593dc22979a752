"""Where the registry keeps its files, and how it writes them.

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
local user can read or swap a model.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from filelock import FileLock

from paiid import config
from paiid.errors import BadInput
from paiid.jsonutil import to_jsonable

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


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

