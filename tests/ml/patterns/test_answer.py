"""`patterns_answer`: the contract shape, as of the last bar given, and its input errors."""

from __future__ import annotations

import pytest

from paiid.data import load_bars
from paiid.errors import BadInput, NotEnoughHistory
from paiid.ml.patterns import patterns_answer, train
from paiid.ml.patterns.answer import MIN_BARS, RECENT_BARS
from paiid.ml.patterns.rates import MIN_RESOLVED_CASES
from paiid.ml.patterns.scan import scan

CONTRACT = {"type", "confidence", "signal", "target_price", "stop_loss", "historical_success_rate",
            "timeframe", "start_date", "end_date"}


@pytest.fixture(scope="module")
def model():
    return train(["GOOG"], seed=0).model


def test_answer_has_the_contract_shape(model) -> None:
    bars = load_bars("SPX", end="2008-10-15")
    ans = patterns_answer(model, bars, "SPX")
    assert ans["symbol"] == "SPX" and ans["as_of"].startswith("2008-10-15")
    assert ans["patterns"], "a crash day with several candlesticks"
    assert {"percentile", "unusual", "confidence_factor", "note"} <= set(ans["typicality"])
    assert ans["success_rates"]["min_resolved_cases"] == MIN_RESOLVED_CASES
    for p in ans["patterns"]:
        assert CONTRACT <= set(p)
        assert p["signal"] in {"bullish", "bearish", "neutral"}
        assert 0 < p["confidence"] < 1
        rate, (lo, hi) = p["historical_success_rate"], p["success_rate_ci95"]
        if p["resolved_cases"] >= MIN_RESOLVED_CASES:
            assert 0 <= lo <= rate <= hi <= 1 and p["success_rate_note"] is None
        else:
            assert rate is None and "too few to state a rate" in p["success_rate_note"]
        assert p["timeframe"] == "daily"
        assert p["start_date"] <= p["end_date"] <= ans["as_of"]
        if p["signal"] == "bullish":
            assert p["stop_loss"] < p["entry_price"] < p["target_price"]
        else:
            assert p["target_price"] < p["entry_price"] < p["stop_loss"]


def test_answer_lists_exactly_the_recent_chart_patterns_of_the_full_scan(model) -> None:
    """As of D: chart patterns confirmed in the RECENT_BARS bars up to D, as the full history has them."""
    full_bars = load_bars("SPX")
    full = [d for d in scan(full_bars).detections if d.kind == "chart"]
    assert full
    for d in full[:: max(1, len(full) // 5)]:
        date = full_bars.index[d.confirm + 3]
        ans = patterns_answer(model, load_bars("SPX", end=date), "SPX")
        got = sorted((p["type"], p["confirmation_date"]) for p in ans["patterns"] if p["kind"] == "chart")
        n = d.confirm + 4
        want = sorted((x.type, full_bars.index[x.confirm].isoformat()) for x in full
                      if n - RECENT_BARS <= x.confirm < n)
        assert got == want and (d.type, full_bars.index[d.confirm].isoformat()) in got


def test_weekly_timeframe_aggregates_daily_bars(model) -> None:
    ans = patterns_answer(model, load_bars("SPX"), "SPX", "weekly")
    assert ans["timeframe"] == "weekly"
    assert all(p["timeframe"] == "weekly" for p in ans["patterns"])


def test_bad_timeframe_and_short_history_are_input_errors(model) -> None:
    bars = load_bars("SPX")
    with pytest.raises(BadInput, match="finer"):
        patterns_answer(model, bars, "SPX", "hourly")
    with pytest.raises(BadInput, match="unknown timeframe"):
        patterns_answer(model, bars, "SPX", "fortnightly")
    with pytest.raises(NotEnoughHistory) as err:
        patterns_answer(model, bars.iloc[: MIN_BARS - 1], "SPX")
    assert err.value.status_code == 422 and err.value.exit_code == 2
