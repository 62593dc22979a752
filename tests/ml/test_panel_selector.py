"""The panel selector on a small real universe (four bundled close-only series, last 2,000 bars each).

What must hold whatever the scores: a held-out symbol's rows never train the model that predicts it
(checked on the splitter's own indices), no model trains on a row decided at or after its test rows
or whose label reaches them, the features at t (template state and cross-sectional columns included)
do not change when every symbol's bars after t change, every edge and baseline in the report carries
its 95% CI, and the per-symbol table adds up to the pooled rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from report_walk import estimates

from paiid.data import load_bars, real_columns
from paiid.features import CLOSE_ONLY_FEATURES, SCALE_FREE, build_features
from paiid.ml.panel import PANEL_FEATURES, close_view, universe_bars
from paiid.ml.panel.selector import (
    MODELS,
    build_panel_dataset,
    evaluate,
    panel_predictions,
    score,
)

SYMBOLS = ("AAPL", "KO", "XOM", "SP500")
BARS = 2000
TREES = 15


@pytest.fixture(scope="module")
def universe() -> dict[str, pd.DataFrame]:
    return {s: b.iloc[-BARS:] for s, b in universe_bars(SYMBOLS).items()}


@pytest.fixture(scope="module")
def dataset(universe):
    return build_panel_dataset(universe)


@pytest.fixture(scope="module")
def preds(dataset) -> dict[str, Any]:
    return panel_predictions(dataset, n_estimators=TREES)


def test_panel_features_are_the_scale_free_ones_closes_define() -> None:
    assert PANEL_FEATURES and set(PANEL_FEATURES) <= set(SCALE_FREE) & set(CLOSE_ONLY_FEATURES)
    assert "atr_pct" not in PANEL_FEATURES and "ret_60" in PANEL_FEATURES
    spx = load_bars("SPX")
    view = close_view(spx, "SPX")
    assert real_columns(view) == ["close"] and view.attrs["symbol"] == "SPX"
    assert view[["open", "high", "low", "volume"]].isna().all().all()
    assert real_columns(spx) != ["close"]  # the original is untouched
    full, closes = build_features(spx)[PANEL_FEATURES], build_features(view)[PANEL_FEATURES]
    pd.testing.assert_frame_equal(full, closes)  # the same numbers from the closes alone


def test_held_out_symbols_never_train_the_model_that_predicts_them(dataset, preds) -> None:
    sym, date, end = dataset.symbol, dataset.t_date, dataset.end_date
    held = preds["held_out_symbols"]["fits"]
    assert len(held) >= 2 * len(preds["windows"])  # several group folds per window
    seen_test: set[str] = set()
    for tr, te in held:
        assert not set(sym[te]) & set(sym[tr])
        assert date[tr].max() < date[te].min() and end[tr].max() < date[te].min()
        seen_test |= set(sym[te])
    assert seen_test == set(SYMBOLS)  # every symbol is held out somewhere
    for tr, te in preds["per_symbol"]["fits"]:
        assert len(set(sym[te])) == 1 and set(sym[tr]) == set(sym[te])
        assert end[tr].max() < date[te].min()
    for tr, te in preds["pooled"]["fits"]:
        assert end[tr].max() < date[te].min()
    # each window's test rows are covered by the group folds (4 symbols, 4 folds: one symbol each)
    for _, te in preds["windows"]:
        covered = np.concatenate([t for _, t in held if dataset.t_date[t[0]] >= dataset.t_date[te[0]]
                                  and t[-1] <= te[-1]])
        assert set(te) == set(covered)


def test_features_at_t_do_not_change_when_later_bars_change(universe, dataset) -> None:
    cut = universe["SP500"].index[len(universe["SP500"]) // 2]
    rng = np.random.default_rng(7)
    changed = {}
    for s, b in universe.items():
        c = b.copy()
        c.attrs = dict(b.attrs)
        later = c.index > cut
        c.loc[later, "close"] *= np.exp(np.cumsum(rng.normal(0, 0.02, later.sum())))
        changed[s] = c
    other = build_panel_dataset(changed)
    key = lambda ds: pd.MultiIndex.from_arrays([ds.symbol.astype(str), ds.t_pos])  # noqa: E731
    a, b = key(dataset), key(other)
    before = dataset.t_date <= np.datetime64(cut)
    both = a[before].intersection(b)
    assert len(both) > 0.9 * before.sum()
    ia, ib = a.get_indexer(both), b.get_indexer(both)
    np.testing.assert_allclose(dataset.X[ia], other.X[ib], rtol=1e-12, atol=1e-12)
    # and the perturbation is real: rows decided after the cut do change
    after = np.flatnonzero(dataset.t_date > np.datetime64(cut) + np.timedelta64(200, "D"))
    ja = b.get_indexer(a[after])
    assert not np.allclose(dataset.X[after[ja >= 0]], other.X[ja[ja >= 0]])


def test_report_has_intervals_beside_every_edge_and_adds_up(dataset, preds) -> None:
    report = score(dataset, preds)
    for m in MODELS:
        s = report["models"][m]
        assert {"buy_and_hold", "best_fixed_before"} <= set(s["sharpe_margins"])
        assert s["accuracy_lift"]["baseline"] is not None
    found = list(estimates(report))
    assert len(found) >= 3 * 3 + 4 + len(SYMBOLS) * 3 * 2
    for path, iv in found:
        assert iv["ci95"] is not None and iv["p_value"] is not None, path
        lo, hi = iv["ci95"]
        assert lo <= hi
        assert isinstance(iv["significant"], bool)
    table = report["per_symbol"]
    assert sum(r["n_test"] for r in table) == report["rows"]
    assert {r["symbol"] for r in table} == set(SYMBOLS)
    for m in MODELS:
        assert report["models"][m]["effective_decisions"]["rows"] == report["rows"]
        assert sum(r[m]["accuracy_lift"]["n"] for r in table) == report["rows"]


def test_evaluate_is_json_friendly_and_answers_the_questions(universe) -> None:
    import json

    from paiid.jsonutil import to_jsonable

    report = evaluate(universe, seed=1, n_estimators=TREES)
    json.dumps(to_jsonable(report))
    text = " ".join(report["summary"])
    assert "does pooling beat per-symbol models?" in text and "skill on held-out symbols" in text
    assert report["hyperparameters"]["tuned_on_test_folds"] is False
    assert report["runtime_s"]["total"] > 0


def test_context_columns_default_unchanged_and_panel_columns_line_up(universe) -> None:
    from paiid.ml.context import REGIME_FEATURES, build_context, feature_matrix, feature_names

    assert feature_names()[: len(SCALE_FREE) + len(REGIME_FEATURES)] == list(SCALE_FREE) + REGIME_FEATURES
    ctx = build_context("KO", universe["KO"])
    assert feature_matrix(ctx).shape[1] == len(feature_names())
    names = feature_names(features=PANEL_FEATURES, regime=False)
    X = feature_matrix(ctx, features=PANEL_FEATURES, regime=False)
    assert X.shape[1] == len(names) and not set(REGIME_FEATURES) & set(names)
    np.testing.assert_array_equal(X[:, : len(PANEL_FEATURES)], ctx.features[PANEL_FEATURES].to_numpy())
    n_state = X.shape[1] - len(PANEL_FEATURES)  # the template state closes both matrices
    np.testing.assert_array_equal(X[:, -n_state:], feature_matrix(ctx)[:, -n_state:])
