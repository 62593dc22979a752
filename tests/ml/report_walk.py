"""Shared by the panel tests: every estimate a JSON report states, so a test can check its interval."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def estimates(node: Any, path: str = "report") -> Iterator[tuple[str, dict]]:
    """Every (path, dict) in the report that states an `estimate`."""
    if isinstance(node, dict):
        if "estimate" in node:
            yield path, node
        for k, v in node.items():
            yield from estimates(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from estimates(v, f"{path}[{i}]")
