"""The panel selector on a small real universe (four bundled close-only series, last 2,000 bars each).

What must hold whatever the scores: a held-out symbol's rows never train the model that predicts it
(checked on the splitter's own indices), no model trains on a row decided at or after its test rows
or whose label reaches them, the features at t (template state and cross-sectional columns included)
do not change when every symbol's bars after t change, every edge and baseline in the report carries
its 95% CI, and the per-symbol table adds up to the pooled rows. The rotation null gives no margin to
choices that are their own rotation and a clear one to an oracle; the stand-aside rule stands aside
everywhere when every template lost money in the history it reads, nowhere when every one gained,
and standing aside on every row leaves a flat portfolio.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from report_walk import estimates

from paiid.data import load_bars, real_columns
from paiid.features import CLOSE_ONLY_FEATURES, SCALE_FREE, build_features
from paiid.metrics import block_indices, sharpe
from paiid.ml.panel import PANEL_FEATURES, close_view, universe_bars
from paiid.ml.panel.report import _portfolio, _stand_aside
from paiid.ml.panel.selector import (
    MODELS,
    _fit_predict,
    _history,
    build_panel_dataset,
    evaluate,
    panel_model,
    panel_predictions,
    score,
    sentences,
)
from paiid.ml.selector.significance import rotation_interval, rotation_null
from paiid.ml.selector.validation import bars_per_year_of

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


@pytest.fixture(scope="module")
def report(dataset, preds) -> dict[str, Any]:
    return score(dataset, preds)


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


def test_report_has_intervals_beside_every_edge_and_adds_up(report) -> None:
    for m in MODELS:
        s = report["models"][m]
        assert {"buy_and_hold", "best_fixed_before", "rotation"} <= set(s["sharpe_margins"])
        assert s["accuracy_lift"]["baseline"] is not None
        assert s["sharpe_margins"]["rotation"]["interval"] is not None
        assert {"sharpe_difference", "max_drawdown_difference"} <= set(s["stand_aside"])
    found = list(estimates(report))
    # per model: accuracy, 2 Sharpe margins, the rotation's interval, 2 stand-aside differences
    assert len(found) >= 3 * 6 + 4 + len(SYMBOLS) * 3 * 2
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


# ------------------------------------------------------------------- rotation null and stand-aside


def _common_rows(preds) -> np.ndarray:
    return np.flatnonzero(np.logical_and.reduce([preds[m]["pred"] >= 0 for m in MODELS]))


def test_rotation_null_is_zero_for_choices_equal_to_their_rotation_and_clear_for_an_oracle(
        dataset, preds) -> None:
    rows = _common_rows(preds)
    bpy = bars_per_year_of(dataset)
    series = lambda c: _portfolio(dataset, rows, c)  # noqa: E731 - the panel's daily portfolio
    # one template per symbol, always: every rotation is the same choice sequence
    per_symbol = {s: j % len(dataset.templates) for j, s in enumerate(SYMBOLS)}
    fixed = np.array([per_symbol[s] for s in dataset.symbol[rows]])
    same = rotation_null(dataset, rows, fixed, bpy, shifts=20, series=series, block=dataset.horizon)
    assert same["shifts"] > 5
    assert same["null_mean"] == pytest.approx(same["ml"], abs=1e-12)
    assert same["margin"] == pytest.approx(0, abs=1e-12)
    assert same["p_value"] == 1.0 and not same["significant"]
    iv = same["interval"]
    assert iv["estimate"] == pytest.approx(0, abs=1e-9) and not iv["significant"]
    assert iv["ci95"][0] == pytest.approx(0, abs=1e-9) and iv["ci95"][1] == pytest.approx(0, abs=1e-9)
    # the best template of every row, known in hindsight: its timing is everything
    oracle = rotation_null(dataset, rows, dataset.y[rows], bpy, shifts=20, series=series,
                           block=dataset.horizon)
    assert oracle["ml"] == pytest.approx(sharpe(series(dataset.y[rows]), bpy, axis=0))
    assert oracle["p_value"] == pytest.approx(1 / (1 + oracle["shifts"])) and oracle["significant"]
    assert oracle["interval"]["significant"] and oracle["interval"]["ci95"][0] > 0
    assert oracle["interval"]["estimate"] == pytest.approx(oracle["margin"], abs=1e-9)


def test_rotation_interval_matches_resampling_every_series_on_the_same_blocks() -> None:
    rng = np.random.default_rng(3)
    n, shifts, bpy, block = 300, 7, 252.0, 10
    market = rng.normal(0, 0.01, n)
    ml = market + rng.normal(0.001, 0.005, n)
    null = market[:, None] + rng.normal(0, 0.005, (n, shifts))
    iv = rotation_interval(ml, null, bpy, block, seed=5)
    # the same resamples drawn directly: every series gathered on the same block indices
    idx = block_indices(n, block, seed=5)
    direct = np.array([sharpe(ml[i], bpy) - np.mean([sharpe(null[i, s], bpy) for s in range(shifts)])
                       for i in idx.T])
    lo, hi = np.quantile(direct, [0.025, 0.975])
    assert iv["estimate"] == pytest.approx(sharpe(ml, bpy) - np.mean([sharpe(c, bpy) for c in null.T]))
    assert iv["ci95"] == pytest.approx([lo, hi], abs=1e-9)
    # paired: a null that moves with the market is tighter than an unpaired one
    unpaired = rotation_interval(ml, rng.permutation(null), bpy, block, seed=5)
    assert iv["ci95"][1] - iv["ci95"][0] < unpaired["ci95"][1] - unpaired["ci95"][0]


def test_stand_aside_reads_the_fold_history_every_template_negative_stands_aside_everywhere(
        dataset, preds) -> None:
    tr, te = preds["windows"][-1]
    est = panel_model(dataset, n_estimators=TREES)
    hist = _history(dataset, tr)
    assert hist.fwd_return.shape == (tr.size, len(dataset.templates))
    assert dataset.end_date[tr].max() < dataset.t_date[te].min()  # every outcome it reads ended before
    args = (est, dataset.X[tr], dataset.y[tr], None, dataset.embargo_rows(), dataset.X[te])
    losing = hist.__class__(hist.X, -np.abs(hist.fwd_return) - 0.01, hist.fwd_drawdown, hist.regime)
    winning = hist.__class__(hist.X, np.full_like(hist.fwd_return, 0.02), hist.fwd_drawdown, hist.regime)
    pred, aside = _fit_predict(*args, losing, dataset.regime[te])
    assert aside.dtype == bool and aside.shape == te.shape and aside.all()
    np.testing.assert_array_equal(_fit_predict(*args, winning, dataset.regime[te])[1], False)
    np.testing.assert_array_equal(pred, _fit_predict(*args, hist, dataset.regime[te])[0])  # choices unchanged
    for m in MODELS:  # the study's verdicts: only on predicted rows
        sa = preds[m]["stand_aside"]
        assert sa.dtype == bool and not sa[preds[m]["pred"] < 0].any()


def test_stand_aside_report_shares_and_a_flat_portfolio_when_always_aside(dataset, preds, report) -> None:
    for m in MODELS:
        sa = report["models"][m]["stand_aside"]
        assert 0.0 <= sa["stood_aside_share"] <= 1.0
        assert sa["sharpe"]["always_follow"] == pytest.approx(report["models"][m]["sharpe"]["ml"])
        assert sa["max_drawdown"]["with_stand_aside"] <= 0 and sa["max_drawdown"]["always_follow"] <= 0
        for w in report["models"][m]["windows"]:
            assert 0.0 <= w["stood_aside_share"] <= 1.0
    text = " ".join(sentences(report))
    assert text.count("rotation null, ") == 3 and text.count("stand-aside out of sample, ") == 3
    rows = _common_rows(preds)
    pred = preds["pooled"]["pred"][rows]
    bpy = bars_per_year_of(dataset)
    ml = _portfolio(dataset, rows, pred)
    flat = _stand_aside(dataset, rows, pred, np.ones(rows.size, bool), ml, bpy, seed=0)
    assert flat["stood_aside_share"] == 1.0
    assert flat["sharpe"]["with_stand_aside"] == 0.0 and flat["max_drawdown"]["with_stand_aside"] == 0.0
    assert flat["net_return"]["with_stand_aside"] == 0.0
    assert flat["sharpe"]["always_follow"] == pytest.approx(report["models"]["pooled"]["sharpe"]["ml"])
    assert flat["sharpe_difference"]["estimate"] == pytest.approx(-flat["sharpe"]["always_follow"])
    dd = flat["max_drawdown"]["always_follow"]
    assert dd < 0 and flat["max_drawdown_difference"]["estimate"] == pytest.approx(-dd)
    never = _stand_aside(dataset, rows, pred, np.zeros(rows.size, bool), ml, bpy, seed=0)
    assert never["sharpe_difference"]["estimate"] == 0.0
    assert never["max_drawdown_difference"]["ci95"] == [0, 0]
