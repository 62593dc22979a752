"""The selector's training set: labels look only forward, features only backward, rows carry t and t+H."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paiid.data import load_bars
from paiid.ml.context import HORIZON, TEMPLATES, build_context, feature_matrix, rule_regime
from paiid.ml.leakage import LeakageError, check_causal
from paiid.ml.selector.dataset import build_dataset, decision_positions, forward_scores


@pytest.fixture(scope="module")
def goog() -> pd.DataFrame:
    return load_bars("GOOG")


@pytest.fixture(scope="module")
def ds(goog):
    return build_dataset({"GOOG": goog, "SPX": load_bars("SPX")}, progress=False)


def test_rows_carry_their_label_window_and_are_sorted_by_date(ds) -> None:
    assert len(ds) > 1000 and ds.X.shape == (len(ds), len(ds.feature_names))
    assert np.isfinite(ds.X).all()
    assert (ds.end_pos == ds.t_pos + HORIZON).all()
    assert (ds.end_date > ds.t_date).all()
    assert (np.diff(ds.t_date.astype(np.int64)) >= 0).all()
    for sym in ("GOOG", "SPX"):
        t = ds.t_pos[ds.symbol == sym]
        assert (np.diff(t) % ds.step == 0).all() and (np.diff(t) > 0).all()
        idx = ds.contexts[sym].bars.index
        sel = ds.symbol == sym
        assert (ds.end_date[sel] == idx.values[ds.end_pos[sel]]).all()
    # label = the template with the best forward risk-adjusted score; every class occurs
    assert (ds.y == np.argmax(ds.scores, axis=1)).all()
    assert set(np.unique(ds.y)) == set(range(len(TEMPLATES)))
    # label_end_rows: the last row decided inside each row's label window (at least the row itself)
    le = ds.label_end_rows
    assert (le >= np.arange(len(ds))).all()
    assert (ds.t_date[le] <= ds.end_date).all()
    nxt = np.minimum(le + 1, len(ds) - 1)
    assert ((ds.t_date[nxt] > ds.end_date) | (le == len(ds) - 1)).all()


def test_label_uses_exactly_bars_t_plus_1_to_t_plus_h(goog) -> None:
    ctx = build_context("GOOG", goog)
    score, total, _, _ = forward_scores(ctx, HORIZON)
    t = 1000
    tid = TEMPLATES[1]
    r = ctx.returns[tid]
    assert total[t, 1] == pytest.approx(np.prod(1 + r[t + 1 : t + 1 + HORIZON]) - 1)
    # changing the return of bar t (known at t) or of bar t+H+1 leaves row t's label alone ...
    for bar in (t, t + HORIZON + 1):
        ctx.returns[tid] = r.copy()
        ctx.returns[tid][bar] += 0.05
        s2 = forward_scores(ctx, HORIZON)[0]
        assert s2[t, 1] == score[t, 1]
    # ... while changing bar t+1 or t+H moves it
    for bar in (t + 1, t + HORIZON):
        ctx.returns[tid] = r.copy()
        ctx.returns[tid][bar] += 0.05
        assert forward_scores(ctx, HORIZON)[0][t, 1] > score[t, 1]
    ctx.returns[tid] = r


def test_decision_dates_leave_room_for_the_label() -> None:
    t = decision_positions(300, 20, 5)
    assert t[0] == 200 and t[-1] <= 300 - 1 - 20 and (np.diff(t) == 5).all()
    assert decision_positions(210, 20, 5).size == 0


def test_features_are_causal_and_a_future_return_feature_is_caught(goog) -> None:
    assert check_causal(goog, symbol="GOOG")["causal"]

    def future_return(ctx):
        c = ctx.bars["close"].to_numpy()
        out = np.full(c.size, np.nan)
        out[:-HORIZON] = c[HORIZON:] / c[:-HORIZON] - 1
        return out

    with pytest.raises(LeakageError, match="future_return"):
        check_causal(goog, symbol="GOOG", extra={"future_return": future_return})


def test_feature_row_at_t_ignores_later_bars(goog) -> None:
    t = 900
    full = feature_matrix(build_context("GOOG", goog))[t]
    changed = goog.copy()
    changed.iloc[t + 1 :, :4] *= 3.0  # a wild future
    assert np.allclose(feature_matrix(build_context("GOOG", changed))[t], full, equal_nan=True)


def test_rule_regime_labels_and_confidence(goog) -> None:
    ctx = build_context("GOOG", goog)
    labels, conf = rule_regime(ctx.features)
    assert set(labels[300:]) <= {"trending_bullish", "trending_bearish", "ranging", "high_volatility"}
    assert len(set(labels[300:])) == 4
    assert ((conf[300:] >= 0.5) & (conf[300:] <= 1)).all()


@pytest.mark.slow
def test_regime_model_features_are_causal_too(goog) -> None:
    from paiid.ml.regime import RegimeDetector

    det = RegimeDetector(random_state=0).fit([goog])
    ctx = build_context("GOOG", goog, det)
    assert ctx.regime_source == "model"
    assert check_causal(goog, symbol="GOOG", regime_model=det)["causal"]
