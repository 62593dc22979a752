"""Walk-forward validation of the detector on real prices, where no per-bar truth exists.

`walk_forward_folds` is the one cross-validation loop of this area: per split, a copy of the detector
is fitted on the bars before the test window of every symbol (`paiid.data.PurgedWalkForward`, per symbol)
and labels that window causally. Both the strategy ranking (`ranking`) and the scores below are
computed on those test windows only.

`label_scores` judges the labels by what they should mean: how often the reported regime switches
(with and without the minimum-duration rule), and whether ``high_volatility`` is followed by higher
realised volatility over the next 20 bars than the other regimes, beside the naive rule's answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from paiid.data import PurgedWalkForward
from paiid.ml.regime.inputs import MIN_BARS
from paiid.ml.regime.naive import naive_regime
from paiid.progress import track

#: Bars a series needs to be fitted on and tested on at least once.
MIN_VALIDATION_BARS = MIN_BARS + 250


@dataclass(frozen=True)
class Fold:
    """One test window of one series: its positions and the history of a detector fitted before it."""

    series: int
    test: np.ndarray
    history: dict[str, np.ndarray]


def walk_forward_folds(detector: Any, series: Sequence[pd.DataFrame], features: Sequence[pd.DataFrame],
                       n_splits: int) -> Iterator[Fold]:
    """Per split, `clone(detector)` fitted on every series' bars before its test window, and the
    history it gives each series; series shorter than `MIN_VALIDATION_BARS` take no part."""
    def test_windows(b: pd.DataFrame) -> list[np.ndarray]:
        if len(b) < MIN_VALIDATION_BARS:
            return []
        cv = PurgedWalkForward(n_splits, min_train=max(MIN_VALIDATION_BARS, len(b) // 3))
        return [te for _, te in cv.split(b)]

    tests = [test_windows(b) for b in series]
    for k in track(range(n_splits), "regime: walk-forward"):
        used = [i for i in range(len(series)) if k < len(tests[i])]
        if not used:
            continue
        starts = [int(tests[i][k][0]) for i in used]
        det = clone(detector).fit([series[i].iloc[:s] for i, s in zip(used, starts, strict=True)],
                                  features=[features[i].iloc[:s] for i, s in zip(used, starts, strict=True)])
        for i in used:
            yield Fold(series=i, test=tests[i][k], history=det.history(series[i], features[i]))


def label_scores(folds: Sequence[Fold], series: Sequence[pd.DataFrame],
                 features: Sequence[pd.DataFrame]) -> dict[str, float | None]:
    """Switches per year (with and without the minimum-duration rule) and the next-20-bar volatility
    after ``high_volatility`` relative to after any other regime, for the detector and the naive rule
    (its volatility threshold: the 80th percentile of 20-bar volatility before the test window)."""
    switches = {"smoothed": 0, "raw": 0, "bars": 0}
    fwd: dict[str, list[float]] = {"hv": [], "other": [], "naive_hv": [], "naive_other": []}
    for fold in folds:
        b, f, test = series[fold.series], features[fold.series], fold.test
        labels = fold.history["regime"]
        lab = labels[test]
        raw = fold.history["raw"][test]
        switches["smoothed"] += int(np.sum(lab[1:] != lab[:-1]))
        switches["raw"] += int(np.sum(raw[1:] != raw[:-1]))
        switches["bars"] += len(test)
        r1 = np.log(b["close"].to_numpy()[1:] / b["close"].to_numpy()[:-1])
        fut = pd.Series(np.append(r1, np.nan)).iloc[::-1].rolling(20).std().iloc[::-1].to_numpy()
        ok = test[np.isfinite(fut[test])]
        fwd["hv"] += list(fut[ok][labels[ok] == "high_volatility"])
        fwd["other"] += list(fut[ok][labels[ok] != "high_volatility"])
        thr = float(np.nanquantile(f["rvol_20"].to_numpy()[: test[0]], 0.8))
        nv = naive_regime(b, thr, features=f)
        fwd["naive_hv"] += list(fut[ok][nv[ok] == "high_volatility"])
        fwd["naive_other"] += list(fut[ok][nv[ok] != "high_volatility"])

    years = switches["bars"] / 252.0 if switches["bars"] else float("nan")

    def ratio(a: list[float], b: list[float]) -> float | None:
        return float(np.mean(a) / np.mean(b)) if a and b else None

    return {
        "switches_per_year": switches["smoothed"] / years if years else None,
        "switches_per_year_without_min_duration": switches["raw"] / years if years else None,
        "next_20_bar_vol_ratio_high_vs_other": ratio(fwd["hv"], fwd["other"]),
        "naive_next_20_bar_vol_ratio_high_vs_other": ratio(fwd["naive_hv"], fwd["naive_other"]),
    }
