"""Trade win-probability: triple-barrier labels by hand, meta-labeling events, the model and its answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paiid.data import load_bars
from paiid.errors import BadInput
from paiid.ml.context import TEMPLATES, SymbolContext, build_context
from paiid.ml.tradeprob import (
    TradeProbModel,
    build_trade_dataset,
    cross_validate,
    entry_events,
    summarize,
    trade_answer,
    train,
    triple_barrier,
)


def _ctx(o, h, lo, c, atr=1.0) -> SymbolContext:
    n = len(c)
    idx = pd.date_range("2020-01-01", periods=n, freq="D", name="date")
    bars = pd.DataFrame(
        {"open": o, "high": h, "low": lo, "close": c, "volume": np.ones(n)}, index=idx, dtype=float
    )
    feats = pd.DataFrame({"atr_14": np.full(n, atr)}, index=idx)
    return SymbolContext("T", bars, feats, {}, {}, np.full(n, "ranging", dtype=object), np.ones(n), "rules")


def test_triple_barrier_by_hand() -> None:
    # entry at bar 1's open = 100, ATR 1: long profit at 102, stop at 98, 3-bar time barrier
    o = [100, 100, 100.5, 101, 101, 101]
    h = [100, 101, 101.0, 102.5, 101, 101]
    lo = [100, 99.5, 99.0, 100.5, 101, 101]
    c = [100, 100.5, 100.8, 102, 101, 101]
    ctx = _ctx(o, h, lo, c)
    out = triple_barrier(ctx, np.array([0]), np.array([1.0]), horizon=3, profit_atr=2, stop_atr=2)
    assert out["label"][0] == 1 and out["t1"][0] == 3 and out["ret"][0] == pytest.approx(0.02)
    assert out["outcome"][0] == "profit"
    # the same path short: profit at 98 never reached, stop at 102 touched on bar 3
    short = triple_barrier(ctx, np.array([0]), np.array([-1.0]), horizon=3, profit_atr=2, stop_atr=2)
    assert short["label"][0] == 0 and short["t1"][0] == 3 and short["ret"][0] == pytest.approx(-0.02)
    # tighter barriers (0.5 ATR): bar 1 touches both 100.5 and 99.5 -> the stop counts (conservative)
    both = triple_barrier(ctx, np.array([0]), np.array([1.0]), horizon=3, profit_atr=0.5, stop_atr=0.5)
    assert both["label"][0] == 0 and both["t1"][0] == 1 and both["outcome"][0] == "stop"
    # wide barriers: the time barrier closes at bar t+H's close and is not a win
    wide = triple_barrier(ctx, np.array([0]), np.array([1.0]), horizon=3, profit_atr=10, stop_atr=10)
    assert wide["label"][0] == 0 and wide["t1"][0] == 3 and wide["ret"][0] == pytest.approx(0.02)
    assert wide["outcome"][0] == "time"


def test_gap_through_the_stop_fills_at_the_open() -> None:
    o = [100, 100, 95, 95]
    h = [100, 100.5, 96, 96]
    lo = [100, 99.5, 94, 94]
    c = [100, 100, 95, 95]
    out = triple_barrier(
        _ctx(o, h, lo, c), np.array([0]), np.array([1.0]), horizon=3, profit_atr=2, stop_atr=2
    )
    assert out["label"][0] == 0 and out["t1"][0] == 2 and out["ret"][0] == pytest.approx(-0.05)


def test_events_are_the_templates_new_entries() -> None:
    bars = load_bars("GOOG")
    ctx = build_context("GOOG", bars)
    t, side, tpl = entry_events(ctx, TEMPLATES, 20)
    for j, tid in enumerate(TEMPLATES):
        sig = ctx.signals[tid]
        mine = t[tpl == j]
        assert mine.size > 5
        assert (sig[mine] != 0).all() and (np.sign(sig[mine]) != np.sign(sig[mine - 1])).all()
        assert (side[tpl == j] == np.sign(sig[mine])).all()
        entries = np.flatnonzero((sig != 0) & (np.sign(sig) != np.sign(np.r_[0, sig[:-1]])))
        assert set(mine) == {x for x in entries if 200 <= x < ctx.n - 20}


@pytest.fixture(scope="module")
def ds():
    return build_trade_dataset({"SPX": load_bars("SPX"), "GOOG": load_bars("GOOG")})


@pytest.fixture(scope="module")
def model(ds) -> TradeProbModel:
    return TradeProbModel(n_estimators=40, templates=ds.templates, feature_names=ds.feature_names).fit(
        ds.X, ds.y, label_end=ds.label_end_rows, embargo=ds.embargo_rows(), ret_atr=ds.ret_atr
    )


def test_dataset_rows_and_purge_windows(ds) -> None:
    assert len(ds) > 500 and np.isfinite(ds.X).all() and set(np.unique(ds.y)) == {0, 1}
    assert (ds.t1_pos > ds.t_pos).all() and (ds.t1_pos <= ds.t_pos + ds.horizon).all()
    assert (np.diff(ds.t_date.astype(np.int64)) >= 0).all()
    assert (ds.t_date[ds.label_end_rows] <= ds.t1_date).all()


def test_answer_fields_determinism_and_bad_input(model) -> None:
    bars = load_bars("SPX", end="2015-06-30")
    ans = trade_answer(model, bars, "SPX", "momentum-macd", "long")
    assert 0 < ans["win_probability"] < 1 and 0 < ans["base_rate"] < 1
    assert ans["horizon_bars"] == 20 and isinstance(ans["expected_return"], float)
    b = ans["barriers"]
    assert b["profit_take"] > b["reference_price"] > b["stop_loss"]
    short = trade_answer(model, bars, "SPX", "momentum-macd", "SHORT")
    assert (
        short["barriers"]["profit_take"]
        < short["barriers"]["reference_price"]
        < short["barriers"]["stop_loss"]
    )
    # the forest tells long from short; the served probability is its blend with the base rate
    assert short["model_probability"] != ans["model_probability"]
    w = model.blend_weight_
    assert 0 <= w <= 1 and ans["blend_weight"] == w
    assert ans["win_probability"] == pytest.approx(w * ans["model_probability"] + (1 - w) * ans["base_rate"])
    assert trade_answer(model, bars, "SPX", "momentum-macd", "long") == ans
    with pytest.raises(BadInput, match="valid strategies: trend-following-ma-cross"):
        trade_answer(model, bars, "SPX", "nope", "long")
    with pytest.raises(BadInput, match="valid sides: long, short"):
        trade_answer(model, bars, "SPX", "momentum-macd", "sideways")


def test_registry_round_trip(model) -> None:
    from paiid.engine import registry

    registry.save("tradeprob", model, {"features": model.feature_names_})
    loaded, _ = registry.load("tradeprob")
    bars = load_bars("GOOG")
    assert trade_answer(loaded, bars, "GOOG", "momentum-breakout", "long") == trade_answer(
        model, bars, "GOOG", "momentum-breakout", "long"
    )


@pytest.mark.slow
def test_walk_forward_scores_sit_beside_the_base_rate_baseline(ds) -> None:
    def make() -> TradeProbModel:
        return TradeProbModel(n_estimators=30, templates=ds.templates, feature_names=ds.feature_names)

    cv = cross_validate(ds, make, progress=False)
    rep = summarize(ds, cv)
    y = ds.y[cv["rows"]]
    assert rep["base_rate"] == pytest.approx(y.mean())
    assert rep["baseline_brier"] == pytest.approx(np.mean((cv["base"] - y) ** 2))
    assert rep["brier"] == pytest.approx(np.mean((cv["proba"] - y) ** 2))
    assert 0 <= rep["auc"] <= 1 and rep["cv"] == "purged walk-forward"
    assert (cv["proba"] > 0).all() and (cv["proba"] < 1).all()
    # shrinkage toward the base rate: never meaningfully worse than it out of sample
    assert rep["brier"] <= rep["baseline_brier"] + 0.002
    assert rep["brier_skill"] == pytest.approx(1 - rep["brier"] / rep["baseline_brier"])
    assert 0 <= rep["blend_weight"] <= 1 and all(0 <= f["blend_weight"] <= 1 for f in rep["folds"])
    lo, hi = rep["auc_model_ci95"]
    assert lo <= rep["auc_model"] <= hi
    lo, hi = rep["brier_skill_ci95"]
    assert lo <= rep["brier_skill"] + 1e-12 and rep["brier_skill"] - 1e-12 <= hi


def test_side_defaults_to_the_templates_position(model) -> None:
    bars = load_bars("SPX", end="2015-06-30")
    sig = {t: build_context("SPX", bars).signals[t][-1] for t in TEMPLATES}
    held = next(t for t, v in sig.items() if v != 0)
    ans = trade_answer(model, bars, "SPX", held)
    assert ans["side"] == ("long" if sig[held] > 0 else "short") and ans["side_from"] == "template signal"
    assert ans["win_probability"] == trade_answer(model, bars, "SPX", held, ans["side"])["win_probability"]
    flat = [t for t, v in sig.items() if v == 0]
    if flat:
        with pytest.raises(BadInput, match="give a side"):
            trade_answer(model, bars, "SPX", flat[0])


@pytest.mark.slow
def test_trainer_reports_oos_scores_and_round_trips() -> None:
    from paiid.engine import registry

    out = train(["SPX"], seed=0, n_estimators=30)
    sc = out.metadata["scores"]
    for k in ("brier", "baseline_brier", "auc_model", "base_rate", "blend_weight"):
        assert 0 <= sc[k] <= 1
    # no AUC of forecasts that are constant in every fold (blend weight 0 everywhere)
    assert (sc["auc"] is None) == (sc["constant_folds"] == len(sc["folds"]))
    assert sc["auc"] is None or 0 <= sc["auc"] <= 1
    registry.save("tradeprob", out.model, out.metadata)
    loaded, _ = registry.load("tradeprob")
    ans = trade_answer(loaded, load_bars("GOOG"), "GOOG", "momentum-macd", "long")
    assert ans["validation"]["auc"] == sc["auc"] and ans["barriers"]["time_bars"] == 20
