"""Model files as older code left them, for the tests of the registry's state stamp."""

from __future__ import annotations

import json
from typing import Any

from paiid.engine import registry


def as_older_code_wrote_it(name: str, version: int, state: dict[str, Any] | None) -> None:
    """Rewrite a sidecar as paiid 0.0.1 wrote them: its own code version and state stamp (None: none)."""
    path = registry.model_dir(name) / f"v{version}.json"
    doc = json.loads(path.read_text())
    doc.pop("state")
    if state is not None:
        doc["state"] = state
    doc["code_version"] = {"paiid": "0.0.1", "git_commit": None}
    path.write_text(json.dumps(doc))
