"""Champion/challenger retraining, PSI drift and live-accuracy drops, on real registry/DB/prediction log.

The models here are small real ones defined below (a logistic regression calling the next bar's
direction from the last return), registered through `training.TRAINERS` the way an ML area would,
on imported synthetic symbols whose returns carry a planted momentum (so a model fitted the right
way round is measurably better than one fitted on flipped labels).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from tiny_trainers import TinyModel
from typer.testing import CliRunner

from paiid.cli.main import app
from paiid.data import as_of, load_bars
from paiid.data.importer import import_bars
from paiid.engine import registry, retrain, training
from paiid.engine.tracking import log_prediction, performance_report, resolve
from paiid.ml.base import Trained, data_fingerprint

SYMS = ["MOMA", "MOMB"]


def momentum_bars(n: int, seed: int, *, phi: float = 0.35, vol_shift_at: int | None = None) -> pd.DataFrame:
    """AR(1) returns (next return's sign follows this one's); optionally 3x the volatility from a bar on."""
    rng = np.random.default_rng(seed)
    sig = np.full(n, 0.01)
    if vol_shift_at is not None:
        sig[vol_shift_at:] = 0.03
    r = np.zeros(n)
    for t in range(1, n):
        r[t] = phi * r[t - 1] + sig[t] * rng.standard_normal()
    close = 100 * np.exp(np.cumsum(r))
    open_ = np.r_[100.0, close[:-1]]
    idx = pd.bdate_range("2010-01-04", periods=n, name="date")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.001,
                         "low": np.minimum(open_, close) * 0.999, "close": close,
                         "volume": rng.uniform(1e5, 2e5, n)}, index=idx)


def _xy(bars: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    c = bars["close"].to_numpy()
    r = np.diff(np.log(c))
    return r[:-1, None] * 100, (r[1:] > 0).astype(int)


def train_direction(symbols: list[str], *, seed: int = 0, deps: dict | None = None) -> Trained:
    """seed 0 fits the planted momentum; seed 1 fits flipped labels (a deliberately worse model)."""
    xs, ys, data = [], [], []
    for s in symbols:
        bars = load_bars(s)  # goes through the data layer, so `as_of` applies
        x, y = _xy(bars)
        xs.append(x)
        ys.append(y if seed == 0 else 1 - y)
        data.append(data_fingerprint(s, bars))
    model = TinyModel().fit(np.vstack(xs), np.concatenate(ys))
    return Trained(model, {"features": ["ret_1"], "params": {"seed": seed}, "scores": {}, "data": data})


def holdout_direction(model, bars: dict, start: pd.Timestamp, *, deps: dict) -> dict:
    hits, n = 0, 0
    for b in bars.values():
        x, y = _xy(b)
        decided = b.index[1:-1]  # row i decides at bar i+1's close about bar i+2
        keep = decided >= start
        hits += int((model.predict(x[keep]) == y[keep]).sum())
        n += int(keep.sum())
    return {"metric": "accuracy", "value": hits / n, "higher_is_better": True, "n": n, "baseline": 0.5}


@pytest.fixture
def direction(monkeypatch):
    monkeypatch.setattr(training, "TRAINERS", {"direction": train_direction})
    monkeypatch.setitem(registry.MODEL_CLASSES, "direction", TinyModel)
    monkeypatch.setattr(retrain, "HOLDOUT_SCORERS", {"direction": holdout_direction})
    for i, s in enumerate(SYMS):
        import_bars(momentum_bars(1500, i), s, source="test")
    return "direction"


def test_psi_known_values():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(20000)
    assert retrain.psi(a, rng.standard_normal(20000)) < 0.01
    # A one-standard-deviation shift of a normal: J-divergence is 1; deciles capture most of it.
    assert 0.6 < retrain.psi(a, rng.standard_normal(20000) + 1.0) < 1.1
    # By hand, two bins split at the median 1.5: expected (.5, .5), actual (.75, .25).
    expect = 0.25 * math.log(1.5) + 0.25 * math.log(2.0)
    assert retrain.psi([0, 1, 2, 3], [0, 0, 0, 3], bins=2) == pytest.approx(expect)
    assert math.isnan(retrain.psi([1.0, 2.0], [1.0]))


def test_first_retrain_promotes_then_only_a_better_challenger_wins(direction):
    out = retrain.retrain(SYMS, seed=1, holdout_bars=300)  # nothing serving: trained and promoted
    [r] = out["models"]
    assert r["status"] == "promoted" and r["candidate_version"] == 1 and r["serving_version"] is None

    out = retrain.retrain(SYMS, seed=0, holdout_bars=300)  # the right-way-round model beats v1
    [r] = out["models"]
    h = r["holdout"]
    assert h["challenger"]["value"] > 0.55 > h["champion"]["value"]
    assert pd.Timestamp(h["challenger_trained_to"]) < pd.Timestamp(out["holdout"]["start"])
    assert h["champion_saw_holdout"] is True  # v1 was trained on everything: reported
    assert r["status"] == "promoted" and registry.promoted_version("direction") == 2

    out = retrain.retrain(SYMS, seed=1, holdout_bars=300)  # a worse challenger: registered, not served
    [r] = out["models"]
    assert r["holdout"]["challenger"]["value"] < r["holdout"]["champion"]["value"]
    assert r["status"] == "kept" and r["candidate_version"] == 3
    assert registry.promoted_version("direction") == 2
    assert [v["version"] for v in registry.list_models()[0]["versions"]] == [1, 2, 3]


def test_bars_new_since_the_serving_version_are_the_holdout_when_there_are_enough(direction):
    syms = ["NEWA", "NEWB"]
    for i, s in enumerate(syms):
        import_bars(momentum_bars(1200, 10 + i), s, source="test")
    retrain.retrain(syms, seed=1, holdout_bars=300)  # v1, fitted the wrong way round, on 1200 bars
    for i, s in enumerate(syms):
        import_bars(momentum_bars(1500, 10 + i), s, source="test")  # 300 new bars arrive
    out = retrain.retrain(syms, seed=0, holdout_bars=100, min_new_bars=60)
    [r] = out["models"]
    h = r["holdout"]
    assert pd.Timestamp(h["start"]) == load_bars("NEWA").index[1200]  # not the fixed 100-bar holdout
    assert h["kind"].startswith("new since") and h["champion_saw_holdout"] is False
    assert pd.Timestamp(h["challenger_trained_to"]) < pd.Timestamp(h["start"])
    assert h["challenger"]["n"] == h["champion"]["n"] > 500
    assert r["status"] == "promoted"


def test_as_of_hides_later_bars_from_trainers_and_restores_them():
    full = load_bars("SPX")
    cut = full.index[1000]
    with as_of(cut):
        assert load_bars("SPX").index[-1] == cut
    assert len(load_bars("SPX")) == len(full)


def test_if_drift_does_nothing_when_nothing_moved_and_retrains_on_drift(direction):
    retrain.retrain(SYMS, seed=0, holdout_bars=300)
    quiet = retrain.retrain(SYMS, seed=0, if_drift=True, psi_threshold=50.0)
    assert quiet["retrained"] is False and quiet["models"] == []
    assert registry.versions("direction") == [1]
    # The volatility of one symbol triples in its last 100 bars: ret_1's PSI flags it.
    import_bars(momentum_bars(1600, 0, vol_shift_at=1500), "MOMA", source="test")
    checks = retrain.check(recent_bars=100)
    m = checks["drift"]["models"]["direction"]
    assert "ret_1" in m["drifted"] and m["psi"]["ret_1"] > 0.25
    out = retrain.retrain(SYMS, seed=0, if_drift=True, recent_bars=100, holdout_bars=300)
    assert out["retrained"] is True and any("feature drift" in t for t in out["triggered_by"])
    assert registry.versions("direction") == [1, 2]


def test_live_accuracy_drop_is_flagged_from_the_prediction_log(direction):
    retrain.retrain(SYMS, seed=0, holdout_bars=300)
    bars = load_bars("MOMA")
    close = bars["close"].to_numpy()
    for i in range(200, 260):  # 60 calls, each the opposite of what happened next bar: accuracy 0
        nxt = close[i + 1] / close[i] - 1
        log_prediction("trade", "MOMA", {"as_of": bars.index[i].isoformat()}, model_name="direction",
                       model_version=1, horizon_bars=1, direction=-1 if nxt > 0 else 1)
    resolve()
    drops = retrain.accuracy_drops(performance_report())
    [row] = drops["models"]
    assert row["resolved"] == 60 and row["accuracy"] == 0.0 and row["drop"] is True
    assert retrain.check()["triggered"]
    # Too few resolved calls are never flagged.
    assert retrain.accuracy_drops(performance_report(), min_resolved=100)["any_drop"] is False


def test_cli_check_and_if_drift(direction):
    runner = CliRunner()
    res = runner.invoke(app, ["retrain", "--check", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["checks"]["missing"] == ["direction"]
    res = runner.invoke(app, ["retrain", "--if-drift", "-s", "MOMA", "-s", "MOMB", "--holdout-bars", "300",
                              "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["promoted"] == ["direction"] and out["triggered_by"] == ["no registered direction model"]
    res = runner.invoke(app, ["retrain", "--only", "nope"])
    assert res.exit_code == 2 and "unknown model" in res.stderr
    res = runner.invoke(app, ["retrain", "-s", "MOMA", "--holdout-bars", "5000"])
    assert res.exit_code == 2 and "holdout" in res.stderr


@pytest.mark.slow
def test_real_pattern_scorer_goes_through_champion_challenger():
    first = retrain.retrain(["GOOG"], only=["pattern_scorer"], holdout_bars=400)
    assert first["models"][0]["status"] == "promoted"
    out = retrain.retrain(["GOOG"], only=["pattern_scorer"], holdout_bars=400)
    [r] = out["models"]
    h = r["holdout"]
    assert h["challenger"]["metric"] == h["champion"]["metric"] == "brier"
    assert h["challenger"]["n"] == h["champion"]["n"] > 50
    assert 0 < h["challenger"]["value"] < 0.5 and 0 < h["champion"]["baseline"] < 0.5
    assert pd.Timestamp(h["challenger_trained_to"]) < pd.Timestamp(h["start"])
    assert r["candidate_version"] == 2 and r["status"] in ("promoted", "kept")
    assert registry.promoted_version("pattern_scorer") == (2 if r["promoted"] else 1)


@pytest.mark.slow
def test_real_regime_model_goes_through_champion_challenger():
    first = retrain.retrain(["SPX"], only=["regime"], holdout_bars=500)
    assert first["models"][0]["status"] == "promoted"  # nothing served yet
    out = retrain.retrain(["SPX"], only=["regime"], holdout_bars=500)
    [r] = out["models"]
    h = r["holdout"]
    assert h["challenger"]["metric"] == h["champion"]["metric"] == "holdout_sharpe_following_regime_family"
    assert h["challenger"]["n"] == h["champion"]["n"] == 499
    assert pd.Timestamp(h["challenger_trained_to"]) < pd.Timestamp(h["start"])
    assert r["status"] in ("promoted", "kept") and r["candidate_version"] == 2
