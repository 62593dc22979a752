"""The prediction log against a real database and real SPX bars: logging, resolution, reports.

Logging, resolution and concurrent writers run on SQLite and on PostgreSQL (the `database` fixture).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from tiny_trainers import TinyModel

from paiid.data import load_bars
from paiid.engine import registry, tracking
from paiid.errors import BadInput


@pytest.fixture(scope="module")
def spx():
    return load_bars("SPX")


def _regime(as_of: str, regime: str = "trending_bullish", conf: float = 0.7) -> dict:
    return {"symbol": "SPX", "as_of": as_of, "current_regime": regime, "confidence": conf,
            "features": {}, "recommended_strategies": []}


def test_log_and_resolve_against_bars(spx, database):
    pid = tracking.log_prediction("regime", "SPX", _regime("2018-06-01"), model_name="regime",
                                  model_version=3, user_id="alice", horizon_bars=5)
    late = tracking.log_prediction("trade", "spx", {"as_of": "2018-12-24", "side": "short",
                                                    "win_probability": 0.6, "horizon_bars": 20})
    # replaying history: at 2018-06-05 the 5-bar horizon has not passed yet
    assert tracking.resolve(now="2018-06-05") == {"resolved": 0, "pending": 2}
    out = tracking.resolve()
    assert out == {"resolved": 1, "pending": 1}  # the late one lacks 20 bars after 2018-12-24
    pos = spx.index.get_loc(spx.loc[:"2018-06-01"].index[-1])
    expected = spx["close"].iloc[pos + 5] / spx["close"].iloc[pos] - 1
    df = tracking._frame().set_index("id")
    row = df.loc[pid]
    assert row["realized_return"] == pytest.approx(expected, rel=1e-12)
    assert bool(row["correct"]) == (expected > 0)
    assert row["direction"] == 1 and row["probability"] == 0.7 and row["model_version"] == 3
    assert row["ab_group"] == tracking.ab_group("alice")
    late_row = df.loc[late]
    assert late_row["direction"] == -1 and late_row["horizon_bars"] == 20 and late_row["symbol"] == "SPX"
    assert late_row["resolved_at"] is None or np.isnan(late_row["realized_return"])
    assert tracking.resolve() == {"resolved": 0, "pending": 1}  # idempotent


def test_inference_of_direction_and_probability():
    assert tracking._infer("regime", _regime("2018-01-02", "ranging"))[:2] == (0, None)
    assert tracking._infer("regime", _regime("2018-01-02", "trending_bearish", 0.6))[:2] == (-1, 0.6)
    pats = {"as_of": "2018-01-02", "patterns": [
        {"type": "a", "signal": "bullish", "confidence": 0.4},
        {"type": "b", "signal": "bearish", "confidence": 0.8},
        {"type": "c", "signal": "neutral", "confidence": 0.99}]}
    assert tracking._infer("pattern", pats)[:2] == (-1, 0.8)
    assert tracking._infer("trade", {"side": "long", "win_probability": 1.7})[:2] == (1, None)
    assert tracking._infer("recommendation", {"recommendations": []})[:2] == (None, None)


def test_bad_inputs_and_log_served_never_raises(caplog):
    with pytest.raises(BadInput, match="kind"):
        tracking.log_prediction("horoscope", "SPX", {"as_of": "2018-01-02"})
    with pytest.raises(BadInput, match="as_of"):
        tracking.log_prediction("regime", "SPX", {"current_regime": "ranging"})
    with pytest.raises(BadInput, match="as_of"):
        tracking.log_prediction("regime", "SPX", {"as_of": "not a date"})
    with caplog.at_level("WARNING", logger="paiid.tracking"):
        assert tracking.log_served("horoscope", "SPX", {"as_of": "2018-01-02"}) is None
    assert "could not log" in caplog.text
    assert tracking.log_served("regime", "SPX", _regime("2018-01-02"), model_name="regime") is not None


def test_unknown_symbol_is_reported_not_fatal():
    tracking.log_prediction("regime", "NOSUCH", _regime("2018-01-02"))
    out = tracking.resolve()
    assert out["pending"] == 1 and "NOSUCH" in out["problems"]


def test_ab_groups_are_deterministic_and_balanced():
    ids = [f"user-{i}" for i in range(2000)]
    groups = [tracking.ab_group(u) for u in ids]
    assert set(groups) == {"manual", "ml"}
    share = groups.count("ml") / len(groups)
    assert 0.45 < share < 0.55
    assert tracking.ab_group(None) is None
    code = ("from paiid.engine.tracking import ab_group; "
            "print(','.join(ab_group(f'user-{i}') for i in range(50)))")
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert other.stdout.strip().split(",") == groups[:50]


def test_performance_report_ab_calibration_and_importances(spx, monkeypatch):
    """ML users get an oracle call (sign of the realised move), manual users a coin flip: the report
    must find ML significantly better, calibrate the 0.95 bin near 1 and list per-version returns."""
    rng = np.random.default_rng(0)
    close = spx["close"].to_numpy()
    ml_users = [u for u in (f"u{i}" for i in range(200)) if tracking.ab_group(u) == "ml"][:20]
    manual_users = [u for u in (f"u{i}" for i in range(200)) if tracking.ab_group(u) == "manual"][:20]
    positions = rng.choice(np.arange(300, len(spx) - 30), size=60, replace=False)
    for k, pos in enumerate(positions):
        future = close[pos + 10] / close[pos] - 1
        as_of = spx.index[pos].isoformat()
        oracle = "trending_bullish" if future > 0 else "trending_bearish"
        tracking.log_prediction("regime", "SPX", _regime(as_of, oracle, 0.95), model_name="regime",
                                model_version=2, user_id=ml_users[k % 20], horizon_bars=10)
        coin = "trending_bullish" if rng.random() < 0.5 else "trending_bearish"
        tracking.log_prediction("regime", "SPX", _regime(as_of, coin, 0.55), model_name="regime",
                                model_version=1, user_id=manual_users[k % 20], horizon_bars=10)
    X = np.random.default_rng(1).normal(size=(30, 2))
    monkeypatch.setitem(registry.MODEL_CLASSES, "selector", TinyModel)
    registry.save("selector", TinyModel().fit(X, (X[:, 0] > 0).astype(int)),
                  {"features": ["x0", "x1"], "feature_importances": {"x0": 0.9, "x1": 0.1}})
    assert tracking.resolve()["resolved"] == 120
    rep = tracking.performance_report()
    json.dumps(rep, allow_nan=False)
    assert rep["predictions"] == {"total": 120, "resolved": 120, "pending": 0}
    ab = rep["ab_test"]
    assert ab["groups"]["ml"]["accuracy"] == 1.0
    assert 0.2 < ab["groups"]["manual"]["accuracy"] < 0.8
    assert ab["groups"]["ml"]["users"] == 20 and ab["groups"]["manual"]["resolved"] == 60
    assert ab["accuracy_test"]["significant"] and ab["accuracy_test"]["p_value"] < 1e-4
    assert ab["return_test"]["significant"] and ab["return_test"]["difference_ml_minus_manual"] > 0
    top_bin = [b for b in rep["calibration"]["bins"] if b["lo"] >= 0.9][0]
    assert top_bin["n"] == 60 and top_bin["realized_frequency"] == 1.0
    assert rep["calibration"]["brier"] is not None
    versions = {(m["model"], m["version"]): m for m in rep["by_model"]}
    assert versions[("regime", 2)]["accuracy"] == 1.0 and versions[("regime", 2)]["mean_signed_return"] > 0
    assert versions[("regime", 1)]["resolved"] == 60
    assert rep["feature_importance"]["selector"]["importances"] == {"x0": 0.9, "x1": 0.1}
    assert rep["accuracy"]["by_kind"]["regime"]["n"] == 120


def test_report_on_empty_log():
    rep = tracking.performance_report()
    assert rep["predictions"]["total"] == 0 and rep["accuracy"]["overall"]["accuracy"] is None
    assert rep["ab_test"]["accuracy_test"]["p_value"] is None


def test_concurrent_writers_lose_nothing(database):
    code = (
        "import sys; from paiid.engine import tracking\n"
        "w = sys.argv[1]\n"
        "for i in range(25):\n"
        "    tracking.log_prediction('trade', 'SPX', {'as_of': '2018-01-02', 'side': 'long', "
        "'win_probability': 0.5}, user_id=f'{w}-{i}')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(w)], env=os.environ.copy()) for w in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    df = tracking._frame()
    assert len(df) == 100 and df["id"].is_unique
    assert sorted(df["user_id"]) == sorted(f"{w}-{i}" for w in range(4) for i in range(25))
    assert database.rows("SELECT count(DISTINCT id) FROM predictions") == [(100,)]  # read by the driver
