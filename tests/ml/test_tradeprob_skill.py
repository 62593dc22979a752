"""Trade win-probability: the shrinkage toward the base rate, the bootstrap intervals and the optional
entry features, on synthetic data where the truth is known (a feature that predicts the label vs pure
noise) and on real bars cut at t (no lookahead)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from paiid.data import load_bars
from paiid.ml.context import build_context
from paiid.ml.tradeprob import (
    ENTRY_FEATURES,
    TradeDataset,
    TradeProbModel,
    blend_weight,
    bootstrap_ci,
    build_trade_dataset,
    cross_validate,
    entry_events,
    event_features,
    feature_names,
    summarize,
    trade_answer,
)


def _synthetic(n: int, signal: float, seed: int = 0) -> TradeDataset:
    """n events a day apart whose labels end 3 days later; label = 1{signal * x0 + logistic noise > 0}."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    y = (signal * X[:, 0] + rng.logistic(size=n) > 0).astype(np.int64)
    days = np.datetime64("2000-01-03", "ns") + np.arange(n) * np.timedelta64(1, "D")
    ret_atr = np.where(y == 1, 2.0, -2.0)
    return TradeDataset(
        X,
        y,
        [f"x{i}" for i in range(X.shape[1])],
        ["a"],
        ret_atr / 100,
        ret_atr,
        np.full(n, "S", dtype=object),
        np.zeros(n, np.int64),
        np.ones(n),
        np.arange(n),
        np.arange(n) + 3,
        days,
        days + np.timedelta64(3, "D"),
        20,
        {"S": SimpleNamespace(n=n)},  # one symbol, one event per bar -> embargo of 20 rows
    )


def _report(ds: TradeDataset) -> dict:
    def make() -> TradeProbModel:
        return TradeProbModel(n_estimators=60, random_state=0)

    return summarize(ds, cross_validate(ds, make, progress=False), seed=0)


def test_blend_weight_by_hand() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    base = np.full(400, 0.5)
    # predictions that move with the outcome are trusted fully (least-squares slope >= 1, clipped)
    assert blend_weight(np.where(y == 1, 0.8, 0.2), base, y) == 1.0
    # a model that never departs from the base rate, or is anti-correlated, gets weight 0
    assert blend_weight(base, base, y) == 0.0
    assert blend_weight(np.where(y == 1, 0.3, 0.7), base, y) == 0.0
    # independent noise: the one-standard-error rule removes a chance positive slope
    noise = 0.5 + 0.2 * rng.standard_normal(400)
    assert blend_weight(noise, base, y, z=1.0, block=5) <= max(0.0, blend_weight(noise, base, y))
    assert blend_weight(noise, base, y, z=1.0, block=5) < 0.1
    assert blend_weight(np.zeros(0), np.zeros(0), np.zeros(0)) == 0.0


def test_a_predictive_feature_gives_skill_and_keeps_its_weight() -> None:
    rep = _report(_synthetic(1200, signal=1.5))
    assert rep["auc"] > 0.75 and rep["auc_model"] > 0.75
    assert rep["auc_ci95"][0] > 0.65  # the interval excludes no-skill
    assert rep["blend_weight"] > 0.6
    assert rep["brier"] < rep["baseline_brier"] - 0.02
    assert rep["brier_skill"] > 0.1 and rep["brier_skill_ci95"][0] > 0.0


def test_pure_noise_labels_fall_back_to_the_base_rate() -> None:
    rep = _report(_synthetic(1200, signal=0.0))
    assert rep["blend_weight"] < 0.1
    assert rep["brier"] <= rep["baseline_brier"] + 0.001
    assert abs(rep["brier_skill"]) < 0.005
    lo, hi = rep["auc_model_ci95"]
    assert lo < 0.5 < hi


def test_shrinkage_beats_the_unshrunk_sigmoid_forest_on_noise() -> None:
    """What the blend is for: on these noise labels the earlier sigmoid-calibrated forest (no
    shrinkage) is worse than the base rate out of sample; the blended model is not."""
    ds = _synthetic(1200, signal=0.0)

    def make() -> TradeProbModel:
        return TradeProbModel(n_estimators=60, calibration="sigmoid", calib_splits=3)

    sig = summarize(ds, cross_validate(ds, make, progress=False))
    blend = _report(ds)
    assert sig["brier"] > sig["baseline_brier"] + 0.002
    assert blend["brier"] < sig["brier"] and blend["brier"] <= blend["baseline_brier"] + 0.001


def test_bootstrap_is_deterministic_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.clip(0.5 + 0.2 * (y - 0.5) + 0.2 * rng.standard_normal(500), 0.01, 0.99)
    base = np.full(500, y.mean())
    a = bootstrap_ci(y, p, base, block=10, n_boot=300, seed=7)
    assert a == bootstrap_ci(y, p, base, block=10, n_boot=300, seed=7)
    auc = roc_auc_score(y, p)
    bss = 1 - np.mean((p - y) ** 2) / np.mean((base - y) ** 2)
    assert a["auc_ci95"][0] < auc < a["auc_ci95"][1]
    assert a["brier_skill_ci95"][0] < bss < a["brier_skill_ci95"][1]
    assert a["block"] == 10 and a["resamples"] == 300


def test_entry_features_use_bars_up_to_t_only() -> None:
    """Recompute the optional entry columns (trigger sizes, volatility rank, track record of resolved
    events) on bars cut just after t: they must not change."""
    bars = load_bars("GOOG")
    full = build_context("GOOG", bars)
    t, side, tpl = entry_events(full)
    names = feature_names(entry=True)
    at = np.linspace(len(t) // 3, len(t) - 1, 3).astype(int)
    rows = event_features(full, t[at], side[at], tpl[at], entry=True)
    assert rows.shape[1] == len(names) and np.isfinite(rows).all()
    for k, i in enumerate(at):
        cut = build_context("GOOG", bars.iloc[: t[i] + 1])
        row = event_features(cut, t[i : i + 1], side[i : i + 1], tpl[i : i + 1], entry=True)[0]
        np.testing.assert_allclose(row, rows[k], rtol=1e-9, atol=1e-12, err_msg=f"event at bar {t[i]}")
    # the track-record columns are shrunk win rates, strictly inside (0, 1)
    tr = rows[:, [names.index("tpl_winrate"), names.index("sym_winrate")]]
    assert ((tr > 0) & (tr < 1)).all()


def test_entry_features_are_opt_in_and_served_consistently() -> None:
    bars = {"GOOG": load_bars("GOOG")}
    plain = build_trade_dataset(bars)
    rich = build_trade_dataset(bars, entry_features=True)
    assert plain.feature_names == feature_names()
    assert rich.feature_names == feature_names() + ENTRY_FEATURES
    np.testing.assert_array_equal(rich.X[:, : plain.X.shape[1]], plain.X)
    model = TradeProbModel(n_estimators=20, feature_names=rich.feature_names).fit(rich.X, rich.y)
    ans = trade_answer(model, bars["GOOG"], "GOOG", "momentum-macd", "long")
    assert 0 < ans["win_probability"] < 1


@pytest.mark.parametrize("calibration", ["blend", "sigmoid"])
def test_model_is_deterministic_and_skops_saveable(calibration: str) -> None:
    from paiid.engine import registry

    ds = _synthetic(500, signal=1.0)
    m1 = TradeProbModel(n_estimators=20, calibration=calibration).fit(ds.X, ds.y, ds.label_end_rows, 20)
    m2 = TradeProbModel(n_estimators=20, calibration=calibration).fit(ds.X, ds.y, ds.label_end_rows, 20)
    np.testing.assert_array_equal(m1.predict_proba(ds.X), m2.predict_proba(ds.X))
    registry.save("tradeprob", m1, {"features": m1.feature_names_})
    loaded, _ = registry.load("tradeprob")
    np.testing.assert_array_equal(loaded.predict_proba(ds.X), m1.predict_proba(ds.X))
    assert loaded.blend_weight_ == m1.blend_weight_


def test_fit_scores_itself_on_the_folds_cross_validate_uses() -> None:
    """`validation_splits`: the out-of-sample results the trainer reports come from inside `fit`, on
    the same purged walk-forward folds as `cross_validate` (so what is reported is what is served)."""
    ds = _synthetic(600, signal=1.0)
    cv = cross_validate(ds, lambda: TradeProbModel(n_estimators=20), progress=False)
    m = TradeProbModel(n_estimators=20, validation_splits=5)
    m.fit(ds.X, ds.y, ds.label_end_rows, ds.embargo_rows(), ds.ret_atr)
    for key in ("rows", "proba", "raw", "base"):
        np.testing.assert_array_equal(m.cv_results_[key], cv[key])
    rep = summarize(ds, m.cv_results_)
    headline = ("brier", "baseline_brier", "brier_skill", "brier_skill_ci95", "brier_skill_p_value",
                "skill_significant", "auc", "auc_note", "auc_model", "base_rate", "n_test")
    assert m.validation_ == {**{k: rep[k] for k in headline}, "blend_weight": m.blend_weight_}


def test_refit_depends_on_nothing_earlier() -> None:
    """A model refitted on other events (and without validation folds) equals one fitted only on them."""
    first, other = _synthetic(600, signal=1.0), _synthetic(500, signal=0.0, seed=3)
    m = TradeProbModel(n_estimators=20, validation_splits=3).fit(first.X, first.y, first.label_end_rows, 20)
    m.set_params(validation_splits=0).fit(other.X[:, :4], other.y, other.label_end_rows, 20)
    fresh = TradeProbModel(n_estimators=20).fit(other.X[:, :4], other.y, other.label_end_rows, 20)
    learned = sorted(k for k in vars(fresh) if k.endswith("_"))
    assert sorted(k for k in vars(m) if k.endswith("_")) == learned
    assert m.validation_ is None and m.cv_results_ is None and m.n_features_in_ == 4
    for k in ("base_rate_", "blend_weight_", "blend_events_", "win_ret_atr_", "loss_ret_atr_"):
        assert getattr(m, k) == getattr(fresh, k), k
    np.testing.assert_array_equal(m.feature_importances_, fresh.feature_importances_)
    np.testing.assert_array_equal(m.predict_proba(other.X[:, :4]), fresh.predict_proba(other.X[:, :4]))


def test_clone_is_unfitted_and_unfitted_models_say_so() -> None:
    ds = _synthetic(400, signal=1.0)
    m = TradeProbModel(n_estimators=10, shrink_se=0.5).fit(ds.X, ds.y, ds.label_end_rows, 20)
    c = clone(m)
    assert c.get_params() == m.get_params()
    bars = load_bars("SPX")
    for call in (c.predict_proba, c.predict, c.forest_proba):
        with pytest.raises(NotFittedError):
            call(ds.X)
    with pytest.raises(NotFittedError):
        trade_answer(c, bars, "SPX", "momentum-macd", "long")
    c.fit(ds.X, ds.y, ds.label_end_rows, 20)
    np.testing.assert_array_equal(c.predict_proba(ds.X), m.predict_proba(ds.X))
