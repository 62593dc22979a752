"""The selector's honesty checks: the stand-aside rule, the typicality flag, the rotation null, and the
uncertainty keys of its `paiid evaluate` report (intervals that contain their estimates, sentences that
say what the intervals say, a stand-aside verdict that reads nothing from the test period)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from paiid.data import load_bars
from paiid.ml.selector import OutOfSample, StrategySelector, build_dataset, recommend_answer
from paiid.ml.selector.edge import verdict
from paiid.ml.selector.significance import by_date, rotation_null, significance
from paiid.ml.selector.summary import rotation_verdict, sentences
from paiid.ml.selector.validation import bars_per_year_of, cross_validate, selection_returns, summarize

AS_OF = "2016-06-30"


def _make(ds, trees: int = 40) -> StrategySelector:
    return StrategySelector(n_estimators=trees, random_state=0, templates=ds.templates,
                            feature_names=ds.feature_names, horizon=ds.horizon, step=ds.step)


@pytest.fixture(scope="module")
def ds():
    return build_dataset({"SPX": load_bars("SPX"), "GOOG": load_bars("GOOG")}, progress=False)


@pytest.fixture(scope="module")
def cv(ds):
    return cross_validate(ds, _make(ds, trees=20), progress=False)


def _fit_with_history(ds, fwd_return: np.ndarray) -> StrategySelector:
    """A selector whose stored out-of-sample history has the given forward returns."""
    rows = np.arange(len(ds) // 2, len(ds))
    oos = OutOfSample(ds.X[rows], fwd_return, ds.fwd_drawdown[rows], ds.regime[rows])
    return _make(ds).fit(ds.X, ds.y, oos=oos)


def test_rule_is_one_standard_error_of_the_effective_neighbour_count() -> None:
    tpl = ["a", "b"]
    # 50 neighbours of 20-bar windows every 5 bars are worth 12.5 outcomes: se = 0.05 / sqrt(12.5) = 0.01414
    weak = {"expected_return": np.array([0.01, -0.02]), "return_sd": np.array([0.05, 0.05]), "neighbours": 50}
    aside, reason, lower = verdict(weak, tpl, 20, 5)
    assert aside and reason.startswith("no template has an edge now: ")
    assert lower[0] == pytest.approx(0.01 - 0.05 / np.sqrt(12.5))
    strong = {**weak, "expected_return": np.array([0.02, -0.02])}  # 0.02 - 0.01414 > 0
    assert verdict(strong, tpl, 20, 5)[:2] == (False, None)
    losing = {**weak, "expected_return": np.array([-0.001, -0.02])}
    assert "every template lost money" in verdict(losing, tpl, 20, 5)[1]
    empty = {"expected_return": np.full(2, np.nan), "return_sd": np.full(2, np.nan), "neighbours": 0}
    assert verdict(empty, tpl, 20, 5)[:2] == (False, None)  # no history: nothing to stand aside on


def test_stand_aside_when_every_stored_expectation_is_negative_not_when_one_is_clearly_positive(ds) -> None:
    rng = np.random.default_rng(0)
    n, k = len(ds) - len(ds) // 2, len(ds.templates)
    bars = load_bars("SPX", end=AS_OF)
    losing = _fit_with_history(ds, -0.02 + 0.01 * rng.standard_normal((n, k)))
    ans = recommend_answer(losing, None, bars, "SPX")
    assert ans["stand_aside"] is True
    assert ans["stand_aside_reason"].startswith("no template has an edge now")
    assert len(ans["recommendations"]) == k  # the ranking is still given
    assert sum(r["probability"] for r in ans["recommendations"]) == pytest.approx(1.0)

    good = -0.02 + 0.01 * rng.standard_normal((n, k))
    good[:, 2] = 0.03 + 0.01 * rng.standard_normal(n)
    winning = _fit_with_history(ds, good)
    ans = recommend_answer(winning, None, bars, "SPX")
    assert ans["stand_aside"] is False and ans["stand_aside_reason"] is None
    by_id = {r["strategy_id"]: r for r in ans["recommendations"]}
    assert by_id[ds.templates[2]]["expected_return_lower"] > 0


def _shock(bars: pd.DataFrame, days: int = 12) -> pd.DataFrame:
    """`bars` followed by a 40% gap down and days of +-9% swings on five times the volume."""
    last = bars.iloc[-1]
    idx = pd.bdate_range(bars.index[-1] + pd.Timedelta(days=1), periods=days, name="date")
    close = float(last["close"]) * 0.6 * np.cumprod(np.where(np.arange(days) % 2, 1.09, 0.92))
    opens = np.concatenate([[float(last["close"]) * 0.6], close[:-1]])
    new = pd.DataFrame({"open": opens, "high": np.maximum(opens, close) * 1.03,
                        "low": np.minimum(opens, close) * 0.97, "close": close,
                        "volume": float(bars["volume"].iloc[-250:].mean()) * 5}, index=idx)
    return pd.concat([bars, new.astype(np.float64)])


def test_typicality_flags_a_crash_and_lowers_confidence_but_not_ordinary_bars(ds) -> None:
    rows = np.arange(len(ds) // 2, len(ds))
    model = _make(ds).fit(ds.X, ds.y, oos=OutOfSample(ds.X[rows], ds.fwd_return[rows],
                                                      ds.fwd_drawdown[rows], ds.regime[rows]))
    bars = load_bars("SPX", end=AS_OF)
    calm = recommend_answer(model, None, bars, "SPX")
    assert calm["typicality"]["unusual"] is False and calm["typicality"]["confidence_factor"] == 1.0
    assert not any("unusual" in r["reason"] for r in calm["recommendations"])

    crash = recommend_answer(model, None, _shock(bars), "SPX")
    typ = crash["typicality"]
    assert typ["unusual"] is True and typ["percentile"] > 99 and typ["confidence_factor"] < 1
    probs = [r["probability"] for r in crash["recommendations"]]
    assert sum(probs) == pytest.approx(1.0) and probs == sorted(probs, reverse=True)
    f, k = typ["confidence_factor"], len(probs)
    assert min(probs) >= (1 - f) / k - 1e-12  # shrunk toward uniform: no template below (1 - f) / k
    assert all("unusual" in r["reason"] for r in crash["recommendations"])


def test_rotation_null_random_choices_are_not_significant_an_oracle_is(ds) -> None:
    rows = np.arange(len(ds) - 900, len(ds))
    bpy = bars_per_year_of(ds)
    ps = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        persistent = np.repeat(rng.integers(0, len(ds.templates), size=rows.size // 4 + 1), 4)[: rows.size]
        ps.append(rotation_null(ds, rows, persistent, bpy, shifts=60)["p_value"])
    assert np.median(ps) > 0.1 and max(ps) > 0.2, ps
    oracle = rotation_null(ds, rows, ds.y[rows], bpy, shifts=60)
    assert oracle["p_value"] < 0.05 and oracle["ml"] > oracle["null_p95"]


def _intervals(node):
    if isinstance(node, dict):
        if "ci95" in node and "estimate" in node:
            yield node
        for v in node.values():
            yield from _intervals(v)


def test_report_keys_intervals_and_sentences(ds, cv) -> None:
    rep = summarize(ds, cv, seed=0)
    rep.update(significance(ds, cv, seed=0))
    series = rep.pop("_fold_series")
    assert {"folds", "effective_decisions", "accuracy_lift", "sharpe_margins", "stand_aside"} <= set(rep)
    assert set(rep["oos_sharpe"]) == {"ml", "random", "best_fixed", "buy_and_hold"}
    n = len(cv["rows"])
    assert rep["effective_decisions"]["by_overlap"] == pytest.approx(n * 5 / 20)
    assert rep["effective_decisions"]["value"] <= rep["effective_decisions"]["by_overlap"]
    assert rep["accuracy_lift"]["estimate"] == pytest.approx(rep["top1_accuracy"] - rep["majority_baseline"])
    # the date-ordered pool holds the same returns as the per-symbol one
    ml = by_date(ds, cv["rows"], selection_returns(ds, cv["rows"], cv["pred"]))
    assert rep["sharpe_margins"]["rotation"]["ml"] == pytest.approx(rep["oos_sharpe"]["ml"])
    rot = rep["sharpe_margins"]["rotation"]  # judged like the panel's: an interval beside the p-value
    assert rot["interval"]["estimate"] == pytest.approx(rot["margin"])
    assert ml.size == sum(len(v) for v in selection_returns(ds, cv["rows"], cv["pred"]).values())
    ivs = list(_intervals(rep))
    assert len(ivs) >= 5
    for iv in ivs:
        lo, hi = iv["ci95"]
        assert lo <= iv["estimate"] <= hi, iv
        assert iv["significant"] == (iv["p_value"] < 0.05)
    for f in rep["folds"]:
        assert {"test_start", "test_end", "test_rows", "top1_accuracy", "majority_baseline", "ml_sharpe",
                "buy_and_hold_sharpe", "best_fixed_before_sharpe"} <= set(f)
    sa = rep["stand_aside"]
    assert 0 <= sa["stood_aside_share"] <= 1
    assert sa["stood_aside_share"] == pytest.approx(np.mean(cv["stand_aside"]))
    text = sentences(rep, series)
    bh = rep["sharpe_margins"]["buy_and_hold"]
    line = next(s for s in text if s.startswith("Sharpe margin over buy-and-hold"))
    assert line.endswith("not significant") != bh["significant"]
    assert f"{bh['estimate']:+.2f}" in line
    assert any(s.startswith("top-1 accuracy") for s in text) and any("stand-aside" in s for s in text)
    timing = next(s for s in text if "shifted in time" in s)
    assert "95% CI" in timing and timing.endswith(rotation_verdict(rot)[0])


def test_stand_aside_verdicts_read_nothing_from_the_test_period(ds, cv) -> None:
    """Make every outcome of the last test period a huge gain: if the last fold's rule read its own test
    period, it would stop standing aside there. No verdict may change."""
    last = cv["folds"][-1]["test_rows"]
    first = int(cv["rows"][-last])
    fwd = ds.fwd_return.copy()
    fwd[first:] = 0.5
    future = dataclasses.replace(ds, fwd_return=fwd)
    again = cross_validate(future, _make(ds, trees=20), progress=False)
    assert cv["stand_aside"][-last:].any()
    assert np.array_equal(again["stand_aside"], cv["stand_aside"])
