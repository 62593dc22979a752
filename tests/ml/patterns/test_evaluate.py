"""The patterns part of `paiid evaluate`: every promised key, each number beside its baseline."""

from __future__ import annotations

import pytest

from paiid.ml.patterns.chart import CHART_TYPES
from paiid.ml.patterns.evaluate import evaluate
from paiid.ml.patterns.rates import MIN_RESOLVED_CASES

pytestmark = pytest.mark.slow


def test_evaluate_reports_synthetic_historical_and_scorer_parts() -> None:
    r = evaluate(seed=0)
    assert set(r["synthetic"]) == set(CHART_TYPES)
    for kind, v in r["synthetic"].items():
        assert 0 <= v["precision"] <= 1 and 0 <= v["recall"] <= 1, kind
        assert v["planted"] == r["synthetic_setup"]["series_per_type"]
    for sym in ("SPX", "GOOG"):
        hist = r["historical"][sym]
        assert set(CHART_TYPES) <= set(hist)
        n_chart = sum(hist[t]["detections"] for t in CHART_TYPES)
        assert n_chart == hist["_all_chart_patterns"]["detections"] > 0
        for t, v in hist.items():
            if t.startswith("_") or not v["detections"]:
                continue
            assert 0 <= v["success_rate"] <= 1 and 0 <= v["random_entry_success_rate"] <= 1, (sym, t)
            assert v["resolved"] == v["detections"] and v["shown"] == (v["resolved"] >= MIN_RESOLVED_CASES)
            lo, hi = v["success_rate_ci95"]
            assert lo <= v["success_rate"] <= hi, (sym, t)
            blo, bhi = v["matched_random_rate_ci95"]
            assert blo <= v["matched_random_rate"] <= bhi, (sym, t)
            if v["shown"]:
                assert v["edge"] == pytest.approx(v["success_rate"] - v["matched_random_rate"])
                assert v["intervals_separate"] == (lo > bhi or hi < blo)
            else:
                assert v["edge"] is None and "too few" in v["note"]
        assert hist["candle_engulfing"]["detections"] > 100
        # the summary names every type below the minimum count
        few = [t for t, v in hist.items() if not t.startswith("_") and v["detections"] and not v["shown"]]
        line = next(s for s in r["summary"] if s.startswith(f"{sym}: {len(few)} pattern types have fewer"))
        assert all(f"{t} ({hist[t]['resolved']})" in line for t in few)
    sc = r["scorer"]["all"]
    assert {"auc", "brier", "base_rate_brier", "rule_brier", "rule_auc"} <= set(sc)
