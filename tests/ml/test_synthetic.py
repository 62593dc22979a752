"""The synthetic generator must be reproducible, look like real bars, and make its regimes differ."""

from __future__ import annotations

import numpy as np

from paiid.data import validate_bars
from paiid.ml.regime import REGIMES
from paiid.ml.regime.synthetic import generate, generate_many, regime_path


def test_same_seed_same_series_and_different_seed_differs() -> None:
    a, b, c = generate(600, seed=3), generate(600, seed=3), generate(600, seed=4)
    assert a.bars.equals(b.bars) and list(a.regimes) == list(b.regimes)
    assert not a.bars["close"].equals(c.bars["close"])


def test_bars_are_valid_ohlcv() -> None:
    s = generate(1500, seed=1)
    bars = s.bars
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert bars.index.name == "date" and bars.index.is_monotonic_increasing and bars.index.is_unique
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars["volume"] > 0).all()
    assert (bars["high"] > bars["low"]).mean() > 0.99  # real intrabar ranges, not zero-width bars
    validate_bars(bars.reset_index())  # the data layer's own validator accepts it


def test_regimes_have_minimum_duration_and_all_occur() -> None:
    rng = np.random.default_rng(0)
    path = regime_path(20000, rng, min_duration=30, mean_extra=50)
    change = np.flatnonzero(np.diff(path) != 0) + 1
    runs = np.diff(np.concatenate([[0], change, [len(path)]]))
    assert runs[:-1].min() >= 30  # the last run is cut by the end of the series
    assert set(np.unique(path)) == {0, 1, 2, 3}


def test_regimes_differ_the_way_their_names_say() -> None:
    """Pooled series: bull drifts up, bear down, high volatility is the most volatile, ranging the calmest."""
    drift: dict[str, list[float]] = {r: [] for r in REGIMES}
    for s in generate_many(4, 3000, seed=7):
        r = np.diff(np.log(s.bars["close"].to_numpy()))
        lab = s.regimes[1:]
        for name in REGIMES:
            drift[name].extend(r[lab == name])
    mean = {k: float(np.mean(v)) for k, v in drift.items()}
    vol = {k: float(np.std(v)) for k, v in drift.items()}
    assert mean["trending_bullish"] > 0.001 > -0.001 > mean["trending_bearish"]
    assert vol["high_volatility"] > 2 * max(vol["trending_bullish"], vol["trending_bearish"], vol["ranging"])
    assert vol["ranging"] == min(vol.values())
    assert set(drift) == set(REGIMES) and all(drift.values())  # every model regime is generated
