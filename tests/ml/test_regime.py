"""The regime detector: no lookahead, real probabilities, no flicker, stable names, skops-safe, the answer."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from paiid.backtest import FAMILIES, STRATEGIES, run_backtest
from paiid.backtest.metrics import bars_per_year
from paiid.data import load_bars
from paiid.errors import BadInput, NotEnoughHistory
from paiid.ml.base import Trained
from paiid.ml.context import AnswerContext
from paiid.ml.regime import (
    MIN_BARS,
    REGIMES,
    RegimeDetector,
    holdout_score,
    regime_answer,
    train,
)
from paiid.ml.regime.naming import map_clusters
from paiid.ml.regime.smoothing import smooth_labels
from paiid.ml.regime.synthetic import generate_many


@pytest.fixture(scope="module")
def spx() -> pd.DataFrame:
    return load_bars("SPX")


@pytest.fixture(scope="module")
def trained() -> Trained:
    return train(["SPX"])


@pytest.fixture(scope="module")
def model(trained: Trained) -> RegimeDetector:
    return trained.model


def test_labels_as_of_a_date_equal_labels_on_data_cut_at_that_date(
        model: RegimeDetector, spx: pd.DataFrame) -> None:
    """Cutting the data at D changes nothing at or before D: features, filter and min-duration are causal."""
    full = model.history(spx)
    for date in ("2001-09-21", "2008-10-10", "2013-06-28", "2016-02-11"):
        cut = spx.loc[:date]
        part = model.history(cut)
        n = len(cut)
        assert list(part["regime"]) == list(full["regime"][:n])
        np.testing.assert_allclose(part["proba"][MIN_BARS:], full["proba"][MIN_BARS:n], rtol=1e-9, atol=1e-12)
        ans = regime_answer(model, cut, "SPX")
        assert ans["current_regime"] == full["regime"][n - 1]
        factor = ans["typicality"]["confidence_factor"]
        assert ans["confidence"] == pytest.approx(full["confidence"][n - 1] * factor)


def test_changing_future_bars_does_not_change_past_probabilities(
        model: RegimeDetector, spx: pd.DataFrame) -> None:
    """A forward-backward (smoothed) posterior would fail this: it revises the past with later bars."""
    altered = spx.copy()
    altered.iloc[3000:, :4] *= np.linspace(1.0, 0.3, len(spx) - 3000)[:, None]  # a crash after bar 3000
    a, b = model.history(spx), model.history(altered)
    np.testing.assert_array_equal(a["proba"][:3000], b["proba"][:3000])
    assert not np.allclose(a["proba"][3100:], b["proba"][3100:])


def test_probabilities_are_distributions_and_confidence_is_that_of_the_regime(
        model: RegimeDetector, spx: pd.DataFrame) -> None:
    h = model.history(spx)
    p = h["proba"][MIN_BARS:]
    assert np.all(p >= 0) and np.all(p <= 1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    idx = np.array([REGIMES.index(r) for r in h["regime"][MIN_BARS:]])
    np.testing.assert_allclose(h["confidence"][MIN_BARS:], p[np.arange(len(p)), idx])
    assert all(r is None for r in h["regime"][: MIN_BARS - 1])


def test_min_duration_rule_ignores_blips_and_dates_a_real_change() -> None:
    arg = np.array([0] * 10 + [1] * 3 + [0] * 10 + [2] * 6 + [2] * 4)
    cur, days = smooth_labels(arg, 5)
    assert list(cur[:23]) == [0] * 23  # the 3-bar blip of regime 1 is not reported
    assert cur[23 + 3] == 0 and cur[23 + 4] == 2  # reported on the 5th bar of regime 2 ...
    assert days[23 + 4] == 5  # ... and dated to its first bar
    assert list(smooth_labels(arg, 1)[0]) == list(arg)


def test_reported_regimes_do_not_flicker_on_spx(model: RegimeDetector, spx: pd.DataFrame) -> None:
    h = model.history(spx)
    lab = h["regime"][MIN_BARS:]
    change = np.flatnonzero(lab[1:] != lab[:-1]) + 1
    runs = np.diff(change)
    assert len(change) > 5 and runs.min() >= model.min_duration
    raw = h["raw"][MIN_BARS:]
    assert (raw[1:] != raw[:-1]).sum() > len(change)  # the rule removed switches


def test_cluster_mapping_rule_is_documented_and_order_free() -> None:
    # raw centres, columns: log volatility vs usual, 20-bar return SNR, 60-bar return SNR
    centres = np.array([
        [1.0, -1.0, -1.0],  # volatile
        [-0.3, 1.5, 2.0],  # calm and rising on both horizons
        [0.1, -1.2, -1.5],  # falling on both horizons
        [-0.8, 0.1, -0.1],  # calm and flat
    ])
    names = map_clusters(centres)
    assert names == ["high_volatility", "trending_bullish", "trending_bearish", "ranging"]
    perm = [2, 0, 3, 1]
    assert map_clusters(centres[perm]) == [names[i] for i in perm]
    extra = np.vstack([
        centres,
        [0.5, 0.0, 0.0],  # 1.6x the usual volatility: volatile too, though not the most volatile
        [0.1, 0.8, -0.2],  # a 20-bar rally inside a falling 60-bar market: not a bull trend
        [-0.2, 0.2, 0.2],  # rising, but by less than a quarter sigma: ranging
        [-0.2, -0.3, -0.4],  # falling on both horizons by ~0.35 sigma: bearish
    ])
    assert map_clusters(extra)[4:] == ["high_volatility", "ranging", "ranging", "trending_bearish"]


def test_names_are_stable_across_retrains(spx: pd.DataFrame) -> None:
    """Different K-Means seeds give clusters in another order; the rule must still name the bars alike."""
    a = RegimeDetector(random_state=1).fit(spx).predict(spx)
    b = RegimeDetector(random_state=2).fit(spx).predict(spx)
    ok = np.array([x is not None for x in a])
    assert np.mean(a[ok] == b[ok]) > 0.9


def test_detects_synthetic_regimes_on_held_out_series() -> None:
    """Fitted without labels on some series, scored on others against the regimes that made them. The
    fitted state is scored: the served label also reads drawdowns (`market`), which the generator's
    driftless high-volatility regime does not know about."""
    train_s, test_s = generate_many(3, 2500, seed=11), generate_many(2, 2500, seed=12)
    det = RegimeDetector().fit([s.bars for s in train_s])
    hit = tot = 0
    for s in test_s:
        pred = det.history(s.bars)["state"]
        ok = np.array([p is not None for p in pred])
        hit += int(np.sum(pred[ok] == s.regimes[ok]))
        tot += int(ok.sum())
    assert hit / tot > 0.75  # chance is about 0.25; the full benchmark is in regime.evaluate


def test_hmm_method_fits_and_predicts() -> None:
    train_s, test_s = generate_many(2, 2000, seed=21), generate_many(1, 2000, seed=22)
    det = RegimeDetector(method="hmm", n_iter=30).fit([s.bars for s in train_s])
    assert det.transmat_.shape == (det.n_clusters, det.n_clusters)
    assert np.allclose(det.transmat_.sum(axis=1), 1)
    pred = det.predict(test_s[0].bars)
    ok = np.array([p is not None for p in pred])
    assert np.mean(pred[ok] == test_s[0].regimes[ok]) > 0.5


def test_bad_parameters_are_refused(spx: pd.DataFrame) -> None:
    with pytest.raises(BadInput):
        RegimeDetector(method="gmm").fit(spx)
    with pytest.raises(BadInput):
        RegimeDetector(n_clusters=3).fit(spx)


def test_fitted_state_round_trips_through_skops(model: RegimeDetector, spx: pd.DataFrame) -> None:
    for name, value in vars(model).items():
        if name.endswith("_"):
            assert not isinstance(value, pd.DataFrame | pd.Series | pd.Index), name
    data = sio.dumps(model)
    untrusted = sio.get_untrusted_types(data=data)
    assert all(t.startswith(("paiid.", "numpy.", "builtins.")) for t in untrusted), untrusted
    loaded = sio.loads(data, trusted=untrusted)
    assert list(loaded.predict(spx)) == list(model.predict(spx))


def test_registry_saves_and_loads_it(trained: Trained, spx: pd.DataFrame) -> None:
    from paiid.engine import registry

    info = registry.save("regime", trained.model, trained.metadata)
    loaded, info2 = registry.load("regime")
    assert info2.version == info.version
    assert regime_answer(loaded, spx, "SPX") == regime_answer(trained.model, spx, "SPX")


def test_answer_has_the_contract_shape(model: RegimeDetector, spx: pd.DataFrame) -> None:
    ans = regime_answer(model, spx.loc[:"2008-10-10"], "SPX")
    contract = {"symbol", "as_of", "current_regime", "confidence", "features", "recommended_strategies"}
    assert contract <= set(ans)
    assert ans["as_of"].startswith("2008-10-10")
    assert ans["current_regime"] in REGIMES and 0 <= ans["confidence"] <= 1
    assert set(ans["features"]) >= {"volatility", "trend_strength", "volume_trend"}
    assert ans["features"]["volume_trend"] in {"increasing", "decreasing", "flat"}
    assert ans["features"]["volatility"] > 0.4  # SPX realised volatility in October 2008 was far above 40 %
    assert set(ans["recommended_strategies"]) <= set(FAMILIES)
    assert sum(ans["probabilities"].values()) == pytest.approx(1.0)
    assert ans["days_in_regime"] >= 1


def test_too_little_history_is_refused(model: RegimeDetector, spx: pd.DataFrame) -> None:
    with pytest.raises(NotEnoughHistory):
        regime_answer(model, spx.iloc[: MIN_BARS - 1], "SPX")
    regime_answer(model, spx.iloc[:MIN_BARS], "SPX")


def test_regime_history_feeds_other_areas(model: RegimeDetector, spx: pd.DataFrame) -> None:
    labels, conf, source = AnswerContext("SPX", spx).regime_columns(model)
    assert source == "model" and labels.shape == conf.shape == (len(spx),)
    assert list(labels) == list(model.predict(spx))


def test_trainer_learns_family_ranking_from_out_of_sample_backtests(trained: Trained) -> None:
    meta = trained.metadata
    assert {"features", "params", "scores", "data"} <= set(meta)
    assert meta["data"][0]["symbol"] == "SPX" and meta["data"][0]["bars"] == 5031
    sharpe = meta["scores"]["oos_sharpe_by_regime"]
    for regime in REGIMES:
        ranking = trained.model.strategy_ranking_[regime]
        expected = [f for f, v in sorted(sharpe[regime].items(), key=lambda kv: -kv[1]) if v > 0]
        assert ranking == expected  # the ranking is the measured one, not a hard-coded table
        assert set(sharpe[regime]) <= set(FAMILIES)
    assert meta["scores"]["switches_per_year"] < meta["scores"]["switches_per_year_without_min_duration"]


def test_holdout_score_is_the_sharpe_of_following_the_recommended_family(
        trained: Trained, spx: pd.DataFrame) -> None:
    """`paiid retrain`'s test for the regime model, checked against backtests run here independently."""
    start = spx.index[-500]
    model = copy.deepcopy(trained.model)
    # every regime recommends mean reversion: the score must be that template's holdout Sharpe
    model.strategy_ranking_ = {r: ["mean_reversion", "momentum"] for r in REGIMES}
    out = holdout_score(model, {"SPX": spx}, start)
    ret = run_backtest(spx, "mean-reversion-bb-rsi").returns[-499:]
    expected = ret.mean() / ret.std(ddof=1) * np.sqrt(bars_per_year(spx.index))
    assert out["value"] == pytest.approx(expected, rel=1e-9)
    assert out["n"] == 499 and out["higher_is_better"] is True
    every = np.mean([run_backtest(spx, sid).returns[-499:] for sid in STRATEGIES], axis=0)
    ann = np.sqrt(bars_per_year(spx.index))
    assert out["baseline"] == pytest.approx(every.mean() / every.std(ddof=1) * ann)
    # no recommendation anywhere: flat, Sharpe 0
    model.strategy_ranking_ = {r: [] for r in REGIMES}
    assert holdout_score(model, {"SPX": spx}, start)["value"] == 0.0


def test_clone_is_an_unfitted_copy_and_every_answer_checks_fitted_state(
        model: RegimeDetector, spx: pd.DataFrame) -> None:
    """scikit-learn's contract: `clone` copies the parameters only, and nothing answers unfitted."""
    fresh = clone(model)
    assert fresh.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)
    with pytest.raises(NotFittedError):
        fresh.predict(spx)
    with pytest.raises(NotFittedError):
        regime_answer(fresh, spx, "SPX")
    with pytest.raises(NotFittedError):
        holdout_score(fresh, {"SPX": spx}, spx.index[-500])


def test_refitting_forgets_everything_learned_before(model: RegimeDetector, spx: pd.DataFrame) -> None:
    """A refit without the templates' returns (the selector's per-fold refits) learns no ranking, and
    its state equals a fresh fit's: nothing from the earlier, trained fit survives."""
    assert any(model.strategy_ranking_.values())  # the trained model did learn a ranking
    refit = copy.deepcopy(model).set_params(n_init=3).fit(spx)
    fresh = clone(model).set_params(n_init=3).fit(spx)
    assert refit.strategy_ranking_ == {r: [] for r in REGIMES} == fresh.strategy_ranking_
    assert refit.strategy_sharpe_ == fresh.strategy_sharpe_ and refit.walk_forward_scores_ == {}
    assert set(vars(refit)) == set(vars(fresh))
    np.testing.assert_array_equal(refit.means_, fresh.means_)
    assert list(refit.predict(spx)) == list(fresh.predict(spx))
