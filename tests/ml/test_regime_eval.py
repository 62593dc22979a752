"""The regime part of `paiid evaluate`: ground-truth accuracy beside the naive rule, and SPX episodes."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

from paiid.data import load_bars
from paiid.features import build_features
from paiid.ml.regime import REGIMES
from paiid.ml.regime.evaluate import (
    EPISODES,
    FRESH_SEEDS,
    REAL_DATA_KEYS,
    evaluate,
    synthetic_benchmark,
)
from paiid.ml.regime.synthetic import REALISTIC_SPECS


def test_synthetic_benchmark_scores_held_out_series_against_truth() -> None:
    r = synthetic_benchmark(seed=0, n_train=3, n_test=2, n_bars=2000)
    assert 0.7 < r["accuracy"] <= 1.0  # well above the 0.25 of guessing
    assert 0.25 < r["naive_baseline_accuracy"] < 1.0
    assert r["naive_with_ranging_band_accuracy"] >= r["naive_baseline_accuracy"] - 0.02
    counts = r["confusion"]["counts"]
    assert sum(map(sum, counts)) == r["bars_scored"]
    assert sum(counts[i][i] for i in range(4)) / r["bars_scored"] == pytest.approx(r["accuracy"])
    assert set(r["recall"]) == set(REGIMES)
    # confidence is a probability that means something: on held-out truth it is off by < 0.13 on
    # average (the untempered filter, temperature=1, is off by ~0.17 here)
    assert r["calibration_error"] < 0.13
    assert r["accuracy"] > r["naive_baseline_accuracy"]  # the naive rule, threshold tuned on labels


@pytest.fixture(scope="module")
def light_report() -> dict[str, Any]:
    """`evaluate` put together at a documented lighter size: small synthetic series, two fresh seeds and
    no real-data parts (those are tested in test_regime_market.py and test_regime_close_only.py). The
    report's numbers at full size are checked by the tests below, piece by piece."""
    return evaluate(seed=0, fresh_seeds=FRESH_SEEDS[:2], real_data=False, n_train=3, n_test=2, n_bars=2000)


def test_spx_episodes_are_sensible(light_report: dict[str, Any]) -> None:
    """Each claim has a reason outside the model: what SPX did in that period."""
    # the report's `episodes` are `episodes()` (SPX's rows of `episode_shares`), computed once here
    eps = {e["name"]: e for e in light_report["episodes"]}
    assert list(eps) == [name for name, *_ in EPISODES]
    for e in eps.values():
        assert sum(e["regime_shares"].values()) == pytest.approx(1.0)
        assert e["dominant"] == max(e["regime_shares"], key=e["regime_shares"].get)
    # Lehman: realised volatility above 60 % and a 30 % fall
    assert eps["autumn 2008"]["dominant"] in {"high_volatility", "trending_bearish"}
    # +30 % on 11 % volatility
    assert eps["2013"]["dominant"] == "trending_bullish"
    # -49 % over 2.5 years in alternating falls and rallies: turbulent or choppy days, and bullish days
    # only in the rallies, so no more of them than days on which SPX's own 20- and 60-day returns were
    # both positive
    decline = eps["2000-2002 decline"]["regime_shares"]
    assert decline["trending_bearish"] + decline["high_volatility"] > 0.2
    assert decline["trending_bullish"] < 0.2
    spx = build_features(load_bars("SPX")).loc["2000-03-24":"2002-10-09"]
    rallying = float(np.mean((spx["ret_20"] > 0) & (spx["ret_60"] > 0)))
    assert decline["trending_bullish"] <= rallying
    assert decline["trending_bullish"] < decline["trending_bearish"] + decline["high_volatility"]
    # a calm doubling: neither turbulent nor falling
    bull = eps["2003-2007 bull market"]
    assert bull["dominant"] in {"trending_bullish", "ranging"}
    assert bull["regime_shares"]["high_volatility"] < 0.05


def test_evaluate_report_keys(light_report: dict[str, Any]) -> None:
    r = light_report
    assert {"synthetic_accuracy", "synthetic_accuracy_served", "naive_baseline_accuracy",
            "naive_with_ranging_band_accuracy", "synthetic", "synthetic_fresh_seeds", "synthetic_hmm",
            "synthetic_realistic_strength", "episodes", "episodes_goog", "summary"} <= set(r)
    assert not set(REAL_DATA_KEYS) & set(r)  # left out on request...
    params = inspect.signature(evaluate).parameters  # ...and only on request: `paiid evaluate` has them
    assert params["real_data"].default is True and tuple(params["fresh_seeds"].default) == FRESH_SEEDS
    assert (params["n_train"].default, params["n_test"].default, params["n_bars"].default) == (6, 6, 2500)
    assert r["synthetic"]["series"] == {"train": 3, "held_out": 2, "bars_each": 2000}
    assert r["synthetic_accuracy"] == r["synthetic"]["accuracy"] > r["naive_baseline_accuracy"]
    assert 0.25 < r["synthetic_accuracy_served"] < 1.0  # the served label, after the market layer
    fresh = r["synthetic_fresh_seeds"]
    assert fresh["seeds"] == list(FRESH_SEEDS[:2]) and len(fresh["accuracy"]) == 2
    assert fresh["min_accuracy"] == min(fresh["accuracy"])
    assert fresh["mean_accuracy"] == pytest.approx(np.mean(fresh["accuracy"]))
    assert set(r["synthetic_hmm"]) == set(r["synthetic_realistic_strength"]) >= {"accuracy", "recall"}
    for e in r["episodes"] + r["episodes_goog"]:
        assert {"name", "start", "end", "regime_shares", "dominant"} <= set(e)
    assert r["summary"] and all(isinstance(line, str) for line in r["summary"])


def test_headline_synthetic_accuracy_at_full_size() -> None:
    """The issue's target on the reported seed, at `evaluate`'s default size: >= 90 %, well clear of the
    label-tuned naive rules, and above the harder index-like strengths (the headline cannot hide how
    the generator was chosen)."""
    main = synthetic_benchmark(seed=0)
    assert main["series"] == {"train": 6, "held_out": 6, "bars_each": 2500}
    assert main["accuracy"] >= 0.9
    assert main["accuracy"] > main["naive_with_ranging_band_accuracy"] + 0.02
    assert main["accuracy"] > synthetic_benchmark(seed=0, specs=REALISTIC_SPECS)["accuracy"]


@pytest.mark.parametrize("seed", FRESH_SEEDS)
def test_fresh_seeds_reach_the_target(seed: int) -> None:
    """Seeds never used to choose any setting, at full size: >= 90 % on each (what
    `synthetic_fresh_seeds.min_accuracy` of the full report promises)."""
    assert synthetic_benchmark(seed)["accuracy"] >= 0.9, seed
