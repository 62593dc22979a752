"""Proof that the models' feature rows are causal: nothing from after the decision date enters them.

Walk-forward purging stops overlapping labels from leaking between train and test, but it cannot see
inside a feature column. `check_causal` can: it recomputes the rows on bars cut just after t and
compares them with the full-history rows, so a feature that *is* the future return is caught by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from paiid.features import WARMUP
from paiid.ml.context import HORIZON, TEMPLATES, ExtraFeatures, build_context, feature_matrix, feature_names


class LeakageError(AssertionError):
    """A feature at bar t changed when bars after t were removed: it looks into the future."""


def check_causal(
    bars: pd.DataFrame,
    *,
    symbol: str = "CHECK",
    regime_model: Any = None,
    templates: Sequence[str] = TEMPLATES,
    extra: ExtraFeatures | None = None,
    points: int = 4,
    horizon: int = HORIZON,
) -> dict[str, Any]:
    """Recompute the feature rows on bars cut just after t and compare them with the full-history row t,
    at `points` decision dates. Raises `LeakageError` naming every column that differs (i.e. whose
    look-back reaches into the label window t+1..t+H)."""
    names = feature_names(templates) + list(extra or {})
    full = feature_matrix(build_context(symbol, bars, regime_model, templates), templates, extra)
    n = len(bars)
    lo = min(WARMUP + 60, n - 1)
    at = np.unique(np.linspace(lo, max(lo, n - 1 - horizon), points).astype(int))
    bad: dict[str, int] = {}
    for t in at:
        cut = build_context(symbol, bars.iloc[: t + 1], regime_model, templates)
        row = feature_matrix(cut, templates, extra)[t]
        same = np.isclose(row, full[t], rtol=1e-9, atol=1e-12) | (np.isnan(row) & np.isnan(full[t]))
        for j in np.flatnonzero(~same):
            bad.setdefault(names[j], int(t))
    if bad:
        raise LeakageError(
            "features change when later bars are removed (they use data after the decision date, which "
            "overlaps the label window): " + ", ".join(f"{k} (at bar {v})" for k, v in bad.items())
        )
    return {"checked_bars": [int(t) for t in at], "features": len(names), "causal": True}
