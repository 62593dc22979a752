"""Trade win-probability report (`paiid evaluate`'s part): no AUC of constant forecasts, the Brier skill
score's block-bootstrap interval and p-value, effective event counts, the per-fold table and the
summary sentences, on synthetic events where the truth is known (noise vs a predictive feature)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from test_tradeprob_skill import _synthetic  # same directory (pytest prepends it to sys.path)

from paiid.metrics import block_indices
from paiid.ml.tradeprob import TradeProbModel, bootstrap_ci, cross_validate, summarize
from paiid.ml.tradeprob.significance import non_overlapping_events


def _report(signal: float, **kw) -> dict:
    ds = _synthetic(900, signal=signal)
    cv = cross_validate(ds, lambda: TradeProbModel(n_estimators=30, **kw), progress=False)
    return summarize(ds, cv, seed=0) | {"_ds": ds, "_cv": cv}


@pytest.fixture(scope="module")
def noise() -> dict:
    """Noise labels and a strict shrinkage rule (3 standard errors): every fold serves its base rate."""
    return _report(0.0, shrink_se=3.0)


@pytest.fixture(scope="module")
def skill() -> dict:
    return _report(1.5)


def test_constant_forecasts_have_no_auc(noise) -> None:
    assert all(f["blend_weight"] == 0 for f in noise["folds"])  # pure noise: every fold serves its base rate
    assert noise["auc"] is None and noise["auc_ci95"] is None and "constant" in noise["auc_note"]
    assert noise["constant_folds"] == len(noise["folds"]) and all(f["auc"] is None for f in noise["folds"])
    # the forest before shrinkage is still scored, with an interval that includes chance
    lo, hi = noise["auc_model_ci95"]
    assert lo < 0.5 < hi and noise["auc_model_p_value"] > 0.05
    # the served probabilities are the base rate: skill exactly 0, nothing significant
    assert noise["brier_skill"] == 0.0 and noise["brier_skill_ci95"] == [0.0, 0.0]
    assert noise["brier_skill_p_value"] == 1.0 and noise["skill_significant"] is False
    assert noise["summary"][0].startswith(
        "Brier skill +0.000, 95% CI [+0.000, +0.000], p = 1.00: not significant")
    assert "the model serves the base rate" in noise["summary"][0]
    assert any("not distinguishable from chance" in s for s in noise["summary"])


def test_folds_serving_a_constant_are_left_out_of_the_auc() -> None:
    rep = _report(0.0)  # noise, the default rule: some folds keep a small weight, some fall back
    flat = [f["fold"] for f in rep["folds"] if f["blend_weight"] == 0]
    assert 0 < len(flat) < len(rep["folds"]) and rep["constant_folds"] == len(flat)
    cv, y = rep["_cv"], rep["_ds"].y
    keep = np.repeat([f["blend_weight"] > 0 for f in rep["folds"]], [f["test_events"] for f in rep["folds"]])
    assert rep["auc"] == pytest.approx(roc_auc_score(y[cv["rows"]][keep], cv["proba"][keep]))
    assert all(str(f) in rep["auc_note"] for f in flat) and not rep["skill_significant"]
    assert "not significant" in rep["summary"][0]


def test_real_skill_is_significant(skill) -> None:
    assert skill["auc"] is not None and skill["auc_note"] is None and skill["constant_folds"] == 0
    cv = skill["_cv"]
    assert skill["auc"] == pytest.approx(roc_auc_score(skill["_ds"].y[cv["rows"]], cv["proba"]))
    assert skill["skill_significant"] and skill["brier_skill_p_value"] < 0.05
    assert skill["brier_skill_ci95"][0] > 0
    assert "significant: the probabilities beat the base rate" in skill["summary"][0]
    assert any("better than chance" in s for s in skill["summary"])


def test_per_fold_table(skill) -> None:
    ds, cv = skill["_ds"], skill["_cv"]
    assert len(skill["folds"]) == 5
    at = 0
    for f in skill["folds"]:
        rows = cv["rows"][at: at + f["test_events"]]
        at += f["test_events"]
        y = ds.y[rows]
        assert f["test_start"] == str(ds.t_date[rows[0]])[:10]
        assert f["test_end"] == str(ds.t_date[rows[-1]])[:10]
        assert f["base_rate"] == pytest.approx(y.mean())
        assert f["baseline_brier"] == pytest.approx(np.mean((f["train_base_rate"] - y) ** 2))
        assert f["brier"] == pytest.approx(np.mean((cv["proba"][at - len(rows): at] - y) ** 2))
        assert 0 <= f["blend_weight"] <= 1


def test_effective_events(noise) -> None:
    eff = noise["effective_events"]
    n = noise["n_test"]
    # windows of 4 bars (t .. t+3) one bar apart: a quarter of the events do not overlap
    assert eff["events"] == n and eff["non_overlapping_windows"] == pytest.approx(n / 4, abs=1)
    assert 0 < eff["autocorrelation_adjusted"] <= n
    assert non_overlapping_events(np.array(["a", "a", "a", "b"]), np.array([0, 2, 5, 0]),
                                  np.array([3, 4, 6, 9])) == 3  # [0,3] and [5,6] on a, [0,9] on b


def test_bootstrap_intervals_are_quantiles_of_block_resamples() -> None:
    """bootstrap_ci resamples with paiid.metrics.block_indices: recompute the intervals from those
    resamples with scikit-learn's scorers."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.5 + 0.15 * (y - 0.5) + 0.2 * rng.standard_normal(300), 0.01, 0.99)
    base = np.full(300, 0.45)
    got = bootstrap_ci(y, p, base, block=7, n_boot=200, seed=11)
    idx = block_indices(300, 7, 200, 11)
    aucs = [roc_auc_score(y[i], p[i]) for i in idx.T]
    bss = [1 - np.mean((p[i] - y[i]) ** 2) / np.mean((base[i] - y[i]) ** 2) for i in idx.T]
    np.testing.assert_allclose(got["auc_ci95"], np.quantile(aucs, [0.025, 0.975]), rtol=1e-12)
    np.testing.assert_allclose(got["brier_skill_ci95"], np.quantile(bss, [0.025, 0.975]), rtol=1e-12)
    share_below = np.mean(np.array(bss) <= 0)
    share_above = np.mean(np.array(bss) >= 0)
    assert got["brier_skill_p_value"] == pytest.approx(min(1.0, 2 * min(share_below, share_above)))
