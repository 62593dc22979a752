"""The patterns part of `paiid evaluate`: synthetic precision/recall, real success rates, scorer walk-forward.

- `synthetic`: the seeded planted-pattern benchmark (`paiid.ml.patterns.synthetic`), per chart type.
- `historical`: on SPX and GOOG, per type, how many detections, how often the target came before the
  stop within the horizon, and how often a random entry with the same direction, relative target/stop
  distances and horizon did (the baseline a pattern has to beat).
- `scorer`: walk-forward AUC / Brier of the confidence model next to the base rate and the rule alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from paiid.data import load_bars
from paiid.ml.patterns.chart import CHART_TYPES
from paiid.ml.patterns.outcomes import HORIZON
from paiid.ml.patterns.scorer import DEFAULT_SYMBOLS, pooled_dataset, symbol_dataset, walk_forward_scores
from paiid.ml.patterns.synthetic import benchmark

#: Benchmark size: enough planted series that one miss moves recall by 1 point, not 2.5.
SYNTHETIC_PER_TYPE = 100
SYNTHETIC_NOISE = 200


def historical_rates(ds: Any) -> dict[str, Any]:
    """Per type: detections (resolved), success rate and the random-entry rate with the same distances."""
    out: dict[str, Any] = {}
    types = np.array(ds.types)
    names = list(CHART_TYPES) + sorted({t for t in ds.types if t not in CHART_TYPES})
    for t in names:
        m = types == t
        n = int(m.sum())
        out[t] = {
            "detections": n,
            "success_rate": float(ds.y[m].mean()) if n else None,
            "random_entry_success_rate": float(np.nanmean(ds.random_rate[m])) if n else None,
            "horizon_bars": HORIZON["chart" if t in CHART_TYPES else "candle"],
        }
    chart = np.array([k == "chart" for k in ds.kinds], dtype=bool)
    out["_all_chart_patterns"] = {
        "detections": int(chart.sum()),
        "success_rate": float(ds.y[chart].mean()) if chart.any() else None,
        "random_entry_success_rate": float(np.nanmean(ds.random_rate[chart])) if chart.any() else None,
    }
    return out


def evaluate(seed: int = 0) -> dict[str, Any]:
    """The report (see module docstring); out-of-sample or descriptive, each number with its baseline."""
    synth = benchmark(SYNTHETIC_PER_TYPE, SYNTHETIC_NOISE, seed=seed)
    setup = synth.pop("_setup")
    sets = {sym: symbol_dataset(sym, load_bars(sym), seed=seed, draws=20) for sym in DEFAULT_SYMBOLS}
    return {
        "synthetic": synth,
        "synthetic_setup": setup,
        "targets": {"precision": 0.8, "recall": 0.6},
        "historical": {sym: historical_rates(ds) for sym, ds in sets.items()},
        "historical_rule": "target before stop within horizon_bars after the confirmation bar; a bar "
                           "touching both counts as a stop; random entries: 20 per detection, same direction "
                           "and relative target/stop distances, uniformly over the symbol's history",
        "scorer": walk_forward_scores(pooled_dataset(list(sets.values()))),
    }
