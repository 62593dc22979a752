"""The panel trade model on a small universe of close views: held-out symbols stay out of training,
close-only labels agree with a hand-written barrier walk, baselines come from training rows only, and
the report puts an interval beside every edge."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from report_walk import estimates

from paiid.ml.panel import universe_bars
from paiid.ml.panel.trade import (
    SCHEMES,
    evaluate,
    oos_forecasts,
    panel_dataset,
    panel_splits,
    series_groups,
)
from paiid.ml.tradeprob.labels import HORIZON, PROFIT_ATR, STOP_ATR

#: Four stocks plus the index twice (skfolio's SP500 and the SPX bundle are one series since 1999).
SYMBOLS = ["AAPL", "KO", "XOM", "SP500", "SPX"]
TREES = 10


@pytest.fixture(scope="module")
def bars() -> dict[str, pd.DataFrame]:
    return {s: b.loc["2002-01-01":"2013-12-31"] for s, b in universe_bars(SYMBOLS).items()}


@pytest.fixture(scope="module")
def ds(bars):
    return panel_dataset(bars)


@pytest.fixture(scope="module")
def fits(bars, ds):
    return panel_splits(ds, series_groups(bars), seed=0)


@pytest.fixture(scope="module")
def report(bars):
    return evaluate(bars, seed=0, n_estimators=TREES, n_jobs=1)


def test_held_out_symbols_never_in_training(bars, ds, fits) -> None:
    groups = series_groups(bars)
    assert groups["SPX"] == groups["SP500"]  # the same closes: held out together
    assert len({groups[s] for s in SYMBOLS}) == 4
    sym = ds.symbol.astype(str)
    held = fits["held_out_symbols"]
    assert len(held) >= 5
    for tr, te, _ in held:
        assert len(tr) and len(te)
        assert not set(sym[tr]) & set(sym[te])
        assert not {groups[s] for s in sym[tr]} & {groups[s] for s in sym[te]}
        # and only the past: every training label resolved before the test window opens
        assert ds.t1_date[tr].max() < ds.t_date[te].min()
    for tr, te, _ in fits["per_symbol"]:
        assert set(sym[te]) == set(sym[tr]) or not len(tr)
        assert len(set(sym[te])) == 1
    # every recipe forecasts the same windows: the pooled test rows
    pooled = np.sort(np.concatenate([te for _, te, _ in fits["pooled"]]))
    for k in ("held_out_symbols", "per_symbol"):
        assert np.array_equal(np.sort(np.concatenate([te for _, te, _ in fits[k]])), pooled)


def _wilder_atr(c: np.ndarray, n: int = 14) -> np.ndarray:
    """ATR of flat bars by hand: Wilder's average of |close change|, seeded by the mean of the first n."""
    tr = np.abs(np.diff(c))
    out = np.full(c.size, np.nan)
    out[n] = tr[:n].mean()
    for i in range(n + 1, c.size):
        out[i] = (out[i - 1] * (n - 1) + tr[i - 1]) / n
    return out


def test_close_only_labels_match_a_walk_over_the_closes(bars, ds) -> None:
    rng = np.random.default_rng(1)
    picks = rng.choice(len(ds), size=40, replace=False)
    outcomes = []
    for i in picks:
        c = bars[str(ds.symbol[i])]["close"].to_numpy(float)
        a = _wilder_atr(c)
        t, s = int(ds.t_pos[i]), float(ds.side[i])
        entry = c[t + 1]  # filled at the next close
        label, t1, exit_px = 0, t + HORIZON, c[t + HORIZON]
        for j in range(t + 1, t + HORIZON + 1):
            move = s * (c[j] - entry)
            if move <= -STOP_ATR * a[t]:
                t1, exit_px = j, c[j]
                break
            if move >= PROFIT_ATR * a[t]:
                label, t1, exit_px = 1, j, c[j]
                break
        outcomes.append(label)
        assert ds.y[i] == label, (ds.symbol[i], t)
        assert ds.t1_pos[i] == t1
        assert ds.ret_atr[i] == pytest.approx(s * (exit_px - entry) / a[t], rel=1e-6)
    assert 0 < sum(outcomes) < len(outcomes)  # both outcomes were checked


def test_base_rates_come_from_training_rows_only(ds, fits) -> None:
    res = oos_forecasts(ds, fits, seed=0, n_estimators=TREES, n_jobs=1)
    everything = ds.y.mean()
    differs = 0
    for k in SCHEMES:
        for tr, te, _ in fits[k]:
            if not len(tr):
                assert np.isnan(res[k]["p"][te]).all()  # no past of its own: no forecast
                continue
            assert np.allclose(res[k]["base"][te], ds.y[tr].mean())
            assert ds.t_date[tr].max() <= ds.t_date[te].min()
            differs += not np.isclose(ds.y[tr].mean(), everything)
    assert differs > 0


def test_report_has_intervals_beside_every_edge(report) -> None:
    json.dumps(report, allow_nan=False)  # JSON-friendly
    found = list(estimates(report))
    assert len(found) > 3 * len(SYMBOLS)
    for path, iv in found:
        assert iv["ci95"] is not None and len(iv["ci95"]) == 2, path
        assert iv["ci95"][0] <= iv["ci95"][1], path
        assert iv["p_value"] is not None and 0 <= iv["p_value"] <= 1, path
    sc = report["scores"]
    for k in SCHEMES:
        assert sc[k]["brier_skill"]["ci95"] is not None
        if sc[k]["models_with_zero_weight"] == sc[k]["models"] and sc[k]["auc_events"] == 0:
            assert sc[k]["auc"] is None  # constant forecasts rank nothing
    for r in report["per_symbol"].values():
        for k in SCHEMES:
            assert r[k]["brier_skill"]["ci95"] is not None
            assert r[k]["auc"] is None or r[k]["auc"]["ci95"] is not None
        assert r["per_symbol_minus_pooled"]["ci95"] is not None
    assert sum(r["events"] for r in report["per_symbol"].values()) == report["test_events"]
    for k in ("per_symbol_minus_pooled", "held_out_minus_per_symbol", "held_out_minus_pooled"):
        assert report["comparisons"][k]["ci95"] is not None
    text = " ".join(report["summary"])
    assert "pooling" in text and "held-out symbols" in text.lower()
    assert text.count("significant") >= 5


def test_events_resolved_by_a_date_do_not_change_when_later_bars_are_removed(bars, ds) -> None:
    cut = pd.Timestamp("2008-06-30")
    early = panel_dataset({s: b.loc[:cut] for s, b in bars.items()})
    assert len(early) and (early.t1_date <= np.datetime64(cut)).all()  # only labels resolved by then
    key = lambda d, i: (str(d.symbol[i]), int(d.t_pos[i]), int(d.template[i]))  # noqa: E731
    full = {key(ds, i): i for i in range(len(ds))}
    for i in range(len(early)):
        j = full[key(early, i)]
        assert early.y[i] == ds.y[j] and early.t1_pos[i] == ds.t1_pos[j]
        np.testing.assert_allclose(early.X[i], ds.X[j], rtol=1e-9, atol=1e-12)
