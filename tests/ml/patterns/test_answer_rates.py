"""The answer's success rates: Wilson intervals, withheld below the minimum count, matched baseline, and
confidence lowered when the market is unlike the scorer's training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from paiid.data import load_bars
from paiid.ml.patterns.answer import patterns_answer
from paiid.ml.patterns.dataset import symbol_dataset
from paiid.ml.patterns.rates import MIN_RESOLVED_CASES
from paiid.ml.patterns.scorer import PatternScorer

DAY = "2008-10-15"  # several candlesticks on the last bar


@pytest.fixture(scope="module")
def ds():
    return symbol_dataset("SPX", load_bars("SPX"))


def _fit(ds, rows: np.ndarray) -> PatternScorer:
    s = ds.subset(rows)
    return PatternScorer().fit(s.X, s.types, s.kinds, s.symbols, s.y, s.random_rate, s.matched_rate,
                               s.resolved_time)


def test_a_rate_on_too_few_cases_is_withheld_with_a_note_and_the_others_carry_wilson_intervals(ds) -> None:
    bars = load_bars("SPX", end=DAY)
    types = [p["type"] for p in patterns_answer(_fit(ds, np.arange(len(ds))), bars, "SPX")["patterns"]]
    assert len(types) >= 2
    few, many = types[0], types[1]
    t = np.array(ds.types)
    keep = np.concatenate([np.flatnonzero(t != few), np.flatnonzero(t == few)[:12]])
    model = _fit(ds, np.sort(keep))
    rows = {p["type"]: p for p in patterns_answer(model, bars, "SPX")["patterns"]}
    through = pd.Timestamp(ds.resolved_time[np.sort(keep)].max()).date().isoformat()

    r = rows[few]
    assert r["historical_success_rate"] is None and r["edge"] is None and r["resolved_cases"] == 12
    assert r["success_rate_note"] == f"only 12 resolved cases up to {through}: too few to state a rate"
    k = int(ds.y[t == few][:12].sum())
    assert r["success_rate_ci95"] == pytest.approx(list(proportion_confint(k, 12, method="wilson")), abs=1e-6)

    r = rows[many]
    m = t == many
    n = int(m.sum())
    assert n >= MIN_RESOLVED_CASES and r["resolved_cases"] == n and r["success_rate_note"] is None
    assert r["historical_success_rate"] == pytest.approx(ds.y[m].mean())
    assert r["success_rate_ci95"] == pytest.approx(
        list(proportion_confint(int(ds.y[m].sum()), n, method="wilson")), abs=1e-6)
    base = ds.matched_rate[m][np.isfinite(ds.matched_rate[m])]
    assert r["baseline_rate"] == pytest.approx(base.mean())
    lo, hi = r["baseline_rate_ci95"]
    assert lo < r["baseline_rate"] < hi
    assert r["edge"] == pytest.approx(r["historical_success_rate"] - r["baseline_rate"])
    assert r["edge_intervals_separate"] == (r["success_rate_ci95"][0] > hi or r["success_rate_ci95"][1] < lo)
    assert r["success_rate_scope"] == "SPX"


def _crash(bars: pd.DataFrame, days: int = 6, drop: float = 0.15) -> pd.DataFrame:
    """`bars` with `days` sessions appended, each opening at its high and closing at its low `drop` lower
    on five times the volume: a crash deeper than any in the history."""
    idx = pd.bdate_range(bars.index[-1] + pd.Timedelta(days=1), periods=days, name="date")
    c, vol, rows = float(bars["close"].iloc[-1]), float(bars["volume"].iloc[-20:].mean()), []
    for _ in range(days):
        o, c = c, c * (1 - drop)
        rows.append({"open": o, "high": o, "low": c, "close": c, "volume": 5 * vol})
    return pd.concat([bars, pd.DataFrame(rows, index=idx)])


def test_typicality_flags_a_crash_beyond_history_and_not_ordinary_days(ds) -> None:
    model = _fit(ds, np.arange(len(ds)))
    assert model.typicality_ is not None
    for day in ("2005-05-02", "2012-03-15", "2017-06-30"):
        ans = patterns_answer(model, load_bars("SPX", end=day), "SPX")
        assert ans["typicality"]["unusual"] is False, day
        assert all(p["confidence"] == p["model_confidence"] for p in ans["patterns"]), day
    ans = patterns_answer(model, _crash(load_bars("SPX", end="2017-06-30")), "SPX")
    typ = ans["typicality"]
    assert typ["unusual"] is True and typ["percentile"] > 99 and typ["of"] == "latest bar"
    assert ans["patterns"], "a bearish marubozu on the last crash day"
    for p in ans["patterns"]:
        assert p["confidence"] == pytest.approx(p["model_confidence"] * typ["confidence_factor"])
        assert p["confidence"] < p["model_confidence"]
