"""What every trainer returns, so the registry can store any model the same way."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Trained:
    """A fitted model plus the metadata the registry keeps beside it.

    `metadata` keys: `features` (list of input names), `params` (hyper-parameters), `scores`
    (out-of-sample, each with its baseline), `data` (per symbol: first, last, bars, sha256).
    """

    model: Any
    metadata: dict[str, Any] = field(default_factory=dict)


def data_fingerprint(symbol: str, bars: pd.DataFrame) -> dict[str, Any]:
    """First/last bar, count and a hash of the bars a model was trained on (for reproducibility)."""
    digest = hashlib.sha256(bars.index.asi8.tobytes() + bars.to_numpy().tobytes()).hexdigest()
    return {
        "symbol": symbol,
        "first": bars.index[0].isoformat(),
        "last": bars.index[-1].isoformat(),
        "bars": len(bars),
        "sha256": digest,
    }
