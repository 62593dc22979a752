"""The scorer's data set: every directional detection of a symbol whose outcome resolved in the loaded bars.

A detection whose horizon runs past the last loaded bar without hitting target or stop is *unresolved*
and dropped here (never counted as a failure), so a data set built under `paiid.data.repository.as_of(B)`
holds exactly the detections of the full history whose outcome was known by B: the success-rate tables,
the baselines and the confidence model fitted on it cannot count an outcome from after B.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from paiid.ml.patterns.baseline import matched_random_rate
from paiid.ml.patterns.candidate import ChartParams
from paiid.ml.patterns.detection import Detection
from paiid.ml.patterns.outcomes import detection_outcomes, random_entry_rate
from paiid.ml.patterns.scan import FEATURES, scan_with_features


@dataclass
class DataSet:
    """Resolved directional detections of several symbols, ordered by confirmation time."""

    X: np.ndarray
    y: np.ndarray
    types: list[str]
    kinds: list[str]
    symbols: list[str]
    time: np.ndarray  # confirmation timestamp (ns)
    resolved_time: np.ndarray  # when the outcome became known (ns)
    random_rate: np.ndarray  # old baseline: percentage distances, entries anywhere in the history
    detections: list[Detection]
    matched_rate: np.ndarray | None = None  # `baseline.matched_random_rate` (NaN when none resolved)

    def __post_init__(self) -> None:
        if self.matched_rate is None:
            self.matched_rate = np.full(len(self.y), np.nan)

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray) -> DataSet:
        pick = np.asarray(idx, dtype=np.int64).tolist()
        return DataSet(
            self.X[idx], self.y[idx], [self.types[i] for i in pick], [self.kinds[i] for i in pick],
            [self.symbols[i] for i in pick], self.time[idx], self.resolved_time[idx], self.random_rate[idx],
            [self.detections[i] for i in pick], self.matched_rate[idx],
        )


def symbol_dataset(
    symbol: str, bars: pd.DataFrame, *, params: ChartParams | None = None, seed: int = 0, draws: int = 10,
) -> DataSet:
    """Scan one symbol's history and label every directional detection whose outcome resolved in `bars`."""
    res, X = scan_with_features(bars, params)
    h, lo, c = (bars[k].to_numpy(dtype=np.float64) for k in ("high", "low", "close"))
    y, resolved = detection_outcomes(h, lo, res.detections)
    rnd = random_entry_rate(h, lo, c, res.detections, draws=draws, seed=seed)
    matched = matched_random_rate(h, lo, c, res.atr, res.detections, draws=draws, seed=seed)
    keep = np.flatnonzero(~np.isnan(y))
    idx_ns = bars.index.asi8
    dets = [res.detections[i] for i in keep]
    none = np.zeros(0, dtype=np.int64)
    return DataSet(
        X[keep], y[keep], [d.type for d in dets], [d.kind for d in dets], [symbol] * len(keep),
        idx_ns[[d.confirm for d in dets]] if len(keep) else none,
        idx_ns[resolved[keep]] if len(keep) else none,
        rnd[keep], dets, matched[keep],
    )


def pooled_dataset(sets: list[DataSet]) -> DataSet:
    """Concatenate per-symbol sets and order rows by confirmation time (the walk-forward order)."""
    X = np.vstack([s.X for s in sets]) if sets else np.zeros((0, len(FEATURES)))

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(s, name) for s in sets]) if sets else np.zeros(0)

    def join(name: str) -> list:
        return sum((getattr(s, name) for s in sets), [])

    pooled = DataSet(
        X, cat("y"), join("types"), join("kinds"), join("symbols"), cat("time").astype(np.int64),
        cat("resolved_time").astype(np.int64), cat("random_rate"), join("detections"), cat("matched_rate"),
    )
    return pooled.subset(np.argsort(pooled.time, kind="stable"))
