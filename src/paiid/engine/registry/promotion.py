"""Moving the promoted pointers: a whole set at once, one name, or back to an older good version.

Every move first loads the version it points at, so serving never switches to a file it would refuse.
"""

from __future__ import annotations

from paiid.engine.registry.store import load
from paiid.engine.registry.versions import (
    ModelInfo,
    _write_pointers,
    describe,
    promoted_version,
    versions,
)
from paiid.errors import BadInput, ModelError


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
