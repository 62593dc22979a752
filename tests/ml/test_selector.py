"""Strategy selector: calibrated probabilities over the templates, the answer's shape, determinism,
registry round trip, and the trading baselines computed from the templates' real backtests."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from paiid.data import load_bars
from paiid.ml.context import TEMPLATES
from paiid.ml.selector import OutOfSample, StrategySelector, build_dataset, recommend_answer
from paiid.ml.selector.plot import equity_plot
from paiid.ml.selector.validation import (
    asset_returns,
    cross_validate,
    folds,
    selection_returns,
    sharpe,
    summarize,
)


def _make(ds, seed: int = 0, trees: int = 40) -> StrategySelector:
    return StrategySelector(
        n_estimators=trees,
        random_state=seed,
        templates=ds.templates,
        feature_names=ds.feature_names,
        horizon=ds.horizon,
        step=ds.step,
    )


def _oos(ds, cv) -> OutOfSample:
    rows = cv["rows"]
    return OutOfSample(ds.X[rows], ds.fwd_return[rows], ds.fwd_drawdown[rows], ds.regime[rows],
                       scores={"top1_accuracy": 0.4})


@pytest.fixture(scope="module")
def ds():
    return build_dataset({"SPX": load_bars("SPX"), "GOOG": load_bars("GOOG")}, progress=False)


@pytest.fixture(scope="module")
def cv(ds):
    return cross_validate(ds, _make(ds), progress=False)


@pytest.fixture(scope="module")
def fitted(ds, cv) -> StrategySelector:
    return _make(ds).fit(ds.X, ds.y, label_end=ds.label_end_rows, embargo=ds.embargo_rows(), oos=_oos(ds, cv))


def test_probabilities_sum_to_one_and_are_calibrated_not_raw(ds, fitted) -> None:
    p = fitted.predict_proba(ds.X[:200])
    assert p.shape == (200, len(TEMPLATES))
    assert np.allclose(p.sum(axis=1), 1.0) and (p >= 0).all()
    assert type(fitted.model_).__name__ == "CalibratedClassifierCV"
    assert (fitted.predict(ds.X[:200]) == p.argmax(axis=1)).all()


def test_walk_forward_never_trains_on_labels_that_reach_the_test_period(ds, cv) -> None:
    for train, test in folds(ds).split(ds.X):
        assert train.max() < test.min()
        assert ds.end_date[train].max() < ds.t_date[test[0]]
    assert len(cv["rows"]) == len(np.unique(cv["rows"]))
    assert np.allclose(cv["proba"].sum(axis=1), 1.0)


def test_answer_shape_sorted_sum_one_risk_range_and_reason(fitted) -> None:
    bars = load_bars("SPX", end="2008-10-15")
    ans = recommend_answer(fitted, None, bars, "SPX")
    assert ans["symbol"] == "SPX" and ans["as_of"].startswith("2008-10-15")
    recs = ans["recommendations"]
    assert [r["strategy_id"] for r in recs] and {r["strategy_id"] for r in recs} == set(TEMPLATES)
    probs = [r["probability"] for r in recs]
    assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1.0)
    for r in recs:
        assert 0 <= r["risk_score"] <= 100
        assert isinstance(r["expected_return"], float)
        assert r["reason"] and "regime" in r["reason"]
    mc = ans["market_conditions"]
    assert set(mc) >= {"regime", "volatility", "trend"}
    assert mc["volatility"] == "high"  # October 2008
    # deterministic for a fixed model and data
    assert recommend_answer(fitted, None, bars, "SPX") == ans


def test_same_seed_same_model_other_seed_other_model(ds) -> None:
    rows = np.arange(600)
    a = _make(ds, seed=3).fit(ds.X[rows], ds.y[rows]).predict_proba(ds.X[700:750])
    b = _make(ds, seed=3).fit(ds.X[rows], ds.y[rows]).predict_proba(ds.X[700:750])
    c = _make(ds, seed=4).fit(ds.X[rows], ds.y[rows]).predict_proba(ds.X[700:750])
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def _learned_state(model) -> dict:
    """Learned attributes, a nested estimator's (the typicality check) spelled out as its own."""
    out = {}
    for k, v in vars(model).items():
        if not k.endswith("_") or k == "model_":
            continue
        if hasattr(v, "get_params"):
            out.update({f"{k}.{kk}": vv for kk, vv in _learned_state(v).items()})
        else:
            out[k] = v
    return out


def test_clone_is_an_unfitted_copy_that_fits_to_the_same_model(ds, cv, fitted) -> None:
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)
    copy.fit(ds.X, ds.y, label_end=ds.label_end_rows, embargo=ds.embargo_rows(), oos=_oos(ds, cv))
    assert np.array_equal(copy.predict_proba(ds.X[:50]), fitted.predict_proba(ds.X[:50]))
    assert copy.validation_ == fitted.validation_ and np.array_equal(copy.hist_X_, fitted.hist_X_)


def test_refitting_forgets_everything_learned_before(ds, cv) -> None:
    """A refit on other rows without a history equals a fresh fit: nothing (history, validation scores,
    quantiles) survives from the first fit."""
    a, b = np.arange(500), np.arange(500, 1000)
    refit = _make(ds).fit(ds.X[a], ds.y[a], oos=_oos(ds, cv)).fit(ds.X[b], ds.y[b])
    fresh = _make(ds).fit(ds.X[b], ds.y[b])
    assert refit.validation_ == {} and len(refit.hist_return_) == 0
    got, want = _learned_state(refit), _learned_state(fresh)
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert np.array_equal(np.asarray(got[key]), np.asarray(value)), key
    assert np.array_equal(refit.predict_proba(ds.X[-50:]), fresh.predict_proba(ds.X[-50:]))


def test_an_unfitted_selector_refuses_to_predict_or_answer(ds) -> None:
    model = _make(ds)
    for call in (lambda: model.predict_proba(ds.X[:2]), lambda: model.predict(ds.X[:2]),
                 lambda: model.expectations(ds.X[0], "ranging"), lambda: model.drivers(ds.X[0]),
                 lambda: recommend_answer(model, None, load_bars("SPX"), "SPX")):
        with pytest.raises(NotFittedError):
            call()


def test_registry_round_trip_keeps_answers(fitted) -> None:
    from paiid.engine import registry

    registry.save("selector", fitted, {"features": fitted.feature_names_})
    loaded, _ = registry.load("selector")
    bars = load_bars("GOOG")
    assert recommend_answer(loaded, None, bars, "GOOG") == recommend_answer(fitted, None, bars, "GOOG")


def test_too_little_history_is_a_clear_error(fitted) -> None:
    from paiid.errors import NotEnoughHistory

    with pytest.raises(NotEnoughHistory, match="needs at least"):
        recommend_answer(fitted, None, load_bars("SPX").iloc[:150], "SPX")


def test_selection_returns_follow_the_chosen_templates_backtest(ds) -> None:
    rows = np.flatnonzero(ds.symbol == "GOOG")[-40:]
    ctx = ds.contexts["GOOG"]
    t0, t_last = ds.t_pos[rows[0]], ds.t_pos[rows[-1]]
    fixed = selection_returns(ds, rows, np.full(rows.size, 2), cost_bps=0.0)["GOOG"]
    want = ctx.returns[TEMPLATES[2]][t0 + 1 : t_last + ds.step + 1]
    assert np.allclose(fixed, want)
    bh = asset_returns(ds, rows)["GOOG"]
    assert bh.size == fixed.size and np.allclose(bh, ctx.asset_returns[t0 + 1 : t_last + ds.step + 1])
    # alternating choices: each bar earns the template chosen at the latest decision before it, and a
    # switch pays the cost of the position change
    choice = np.arange(rows.size) % 2
    alt = selection_returns(ds, rows, choice, cost_bps=0.0)["GOOG"]
    seg = ds.step
    assert np.allclose(alt[:seg], ctx.returns[TEMPLATES[0]][t0 + 1 : t0 + 1 + seg])
    assert np.allclose(alt[seg : 2 * seg], ctx.returns[TEMPLATES[1]][t0 + 1 + seg : t0 + 1 + 2 * seg])
    costly = selection_returns(ds, rows, choice, cost_bps=10.0)["GOOG"]
    assert (costly <= alt + 1e-15).all()
    t1 = ds.t_pos[rows[1]]
    s = ctx.signals
    assert alt[seg] - costly[seg] == pytest.approx(1e-3 * abs(s[TEMPLATES[1]][t1] - s[TEMPLATES[0]][t1]))


def test_sharpe_definition() -> None:
    r = np.array([0.01, -0.005, 0.02, 0.0])
    assert sharpe(r, 252) == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(252))
    assert sharpe(np.zeros(10)) == 0.0


def test_report_has_every_score_beside_its_baseline(ds, cv) -> None:
    rep = summarize(ds, cv, seed=0)
    assert rep["cv"] == "purged walk-forward"
    for key in ("top1_accuracy", "majority_baseline", "random_baseline", "n_samples", "folds"):
        assert key in rep
    assert set(rep["oos_sharpe"]) == {"ml", "random", "best_fixed", "buy_and_hold"}
    assert rep["random_baseline"] == 0.25
    assert rep["best_fixed_template"] in TEMPLATES
    assert rep["oos_sharpe"]["best_fixed"] == max(rep["fixed_sharpe"].values())
    assert rep["leakage_suspected"] is False
    assert summarize(ds, cv, seed=0) == rep  # deterministic for a fixed seed


def test_equity_plot_is_written(ds, cv, tmp_path) -> None:
    rep = summarize(ds, cv, seed=0, with_curves=True)
    path = equity_plot(rep["_curves"], tmp_path / "eq.html")
    text = path.read_text()
    assert "ML choice" in text and "buy-and-hold" in text and "best fixed" in text


def test_gradient_boosting_option(ds) -> None:
    m = StrategySelector(kind="gb", n_estimators=20, templates=ds.templates, feature_names=ds.feature_names)
    p = m.fit(ds.X[:500], ds.y[:500]).predict_proba(ds.X[500:520])
    assert np.allclose(p.sum(axis=1), 1.0)
    from paiid.errors import BadInput

    with pytest.raises(BadInput, match="rf"):
        StrategySelector(kind="svm").fit(ds.X[:100], ds.y[:100])


@pytest.mark.slow
def test_trainer_reports_oos_scores_and_serves_from_the_registry() -> None:
    from paiid.engine import registry
    from paiid.ml.base import Trained
    from paiid.ml.selector import train

    out = train(["GOOG"], seed=0, n_estimators=30)
    assert isinstance(out, Trained)
    sc = out.metadata["scores"]
    assert sc["cv"] == "purged walk-forward" and sc["n_samples"] > 300
    for k in ("top1_accuracy", "majority_baseline", "random_baseline"):
        assert 0 <= sc[k] <= 1
    assert set(sc["oos_sharpe"]) == {"ml", "random", "best_fixed", "buy_and_hold"}
    assert (
        out.metadata["features"] == out.model.feature_names_ and out.metadata["data"][0]["symbol"] == "GOOG"
    )
    assert len(out.model.hist_return_) == sc["n_test"]  # expectations come from the OOS rows only
    assert out.model.regime_source == out.metadata["params"]["regime_source"] == "rules"
    registry.save("selector", out.model, out.metadata)
    loaded, _ = registry.load("selector")
    ans = recommend_answer(loaded, None, load_bars("SPX"), "SPX")  # trained on GOOG, applied to SPX
    assert ans["validation"]["top1_accuracy"] == sc["top1_accuracy"]
