"""The `pattern_scorer` trainer: tables, walk-forward scores with baselines, and a skops-safe model."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io as sio

from paiid.data import load_bars
from paiid.ml.base import Trained
from paiid.ml.patterns.scan import FEATURES, scan_with_features
from paiid.ml.patterns.scorer import PatternScorer, train


@pytest.fixture(scope="module")
def trained() -> Trained:
    return train(["SPX", "GOOG"], seed=0)


def _walk(obj, path="model"):
    """Every attribute value reachable from the fitted model (to prove no pandas object hides in it)."""
    yield path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{path}[{k!r}]")
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{path}[{i}]")
    elif hasattr(obj, "__dict__"):
        for k, v in vars(obj).items():
            yield from _walk(v, f"{path}.{k}")


def test_trained_model_holds_only_numpy_and_python_state(trained: Trained) -> None:
    model = trained.model
    assert isinstance(model, PatternScorer)
    for where, value in _walk(model):
        assert "pandas" not in type(value).__module__, where
    blob = sio.dumps(model)
    untrusted = sio.get_untrusted_types(data=blob)
    assert all(t.startswith("paiid.") for t in untrusted), untrusted
    again = sio.loads(blob, trusted=untrusted)
    X = np.random.default_rng(0).normal(size=(4, len(FEATURES)))
    types = ["double_top", "candle_hammer", "head_and_shoulders", "nope"]
    kinds = ["chart", "candle", "chart", "chart"]
    assert np.allclose(again.predict_proba(X, types, kinds), model.predict_proba(X, types, kinds))


def test_metadata_has_walk_forward_scores_next_to_baselines(trained: Trained) -> None:
    md = trained.metadata
    assert md["features"] == list(FEATURES) + ["prior_logit"]
    assert set(md["data"]) == {"SPX", "GOOG"} and md["data"]["SPX"]["bars"] == 5031
    s = md["scores"]
    assert "walk-forward" in s["cv"]
    for block in ("all", "candle"):
        b = s[block]
        assert b["n_test"] > 1000
        for key in ("auc", "rule_auc", "brier", "rule_brier", "base_rate_brier", "success_rate"):
            assert 0 <= b[key] <= 1, (block, key)
    # The scorer must at least not be worse than predicting the base rate for everything.
    assert s["all"]["brier"] <= s["all"]["base_rate_brier"] + 1e-3


def test_success_rate_tables_count_what_history_shows(trained: Trained) -> None:
    model = trained.model
    total = sum(row[0] for row in model.type_table_.values())
    assert total == trained.metadata["detections"]
    per_symbol = sum(row[0] for tab in model.symbol_tables_.values() for row in tab.values())
    assert per_symbol == total
    rate = model.success_rate("candle_engulfing", "candle", "SPX")
    n, s, rnd, rnd_n, mat, mat_n = model.symbol_tables_["SPX"]["candle_engulfing"]
    assert rate["scope"] == "SPX" and rate["cases"] == rate["resolved"] == n
    assert rate["rate"] == pytest.approx(s / n) and rate["baseline_rate"] == pytest.approx(mat / mat_n)
    assert rate["random_entry_rate"] == pytest.approx(rnd / rnd_n) and 0 < mat_n <= n
    lo, hi = rate["success_rate_ci95"]
    assert lo < rate["rate"] < hi
    # an unseen symbol falls back to all training symbols; an unseen type has no rate to state
    other = model.success_rate("candle_engulfing", "candle", "XYZ")
    assert other["scope"] == "all training symbols"
    none = model.success_rate("never_seen", "chart", "SPX")
    assert none["cases"] == 0 and none["rate"] is None and none["note"].startswith("only 0 resolved cases")
    assert model.resolved_through_ <= "2018-12-31"
    assert trained.metadata["resolved_through"] == model.resolved_through_
    assert model.typicality_.n_training_rows_ > 1000


def test_confidences_are_probabilities_and_vary_with_the_inputs(trained: Trained) -> None:
    res, X = scan_with_features(load_bars("SPX").iloc[:1500])
    dets = res.detections
    assert np.isnan(X[:50]).any()  # warm-up NaNs in the first rows are imputed, not propagated
    p = trained.model.predict_proba(X, [d.type for d in dets], [d.kind for d in dets])
    assert np.all((p > 0) & (p < 1)) and p.std() > 0.01
    wild = trained.model.predict_proba(np.full((1, len(FEATURES)), 1e6), ["double_top"], ["chart"])
    assert 0 < wild[0] < 1
