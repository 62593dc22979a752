"""Every answer a user is served — CLI or HTTP — is in the prediction log with its model version and
as-of date, and `paiid track` scores it once its horizon has passed.

Real installed command, real `paiid serve` on 127.0.0.1, rows counted in the real SQLite file with the
sqlite3 module (not through our own code).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd

from paiid.bench.api import linked_home, serve
from paiid.engine.tracking import ab_group

PAIID = str(Path(sys.executable).with_name("paiid"))
DATE = "2018-06-01"


def paiid(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1"}
    env.pop("PAIID_DATABASE_URL", None)
    return subprocess.run([PAIID, *args], capture_output=True, text=True, env=env, timeout=900)


def rows(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "paiid.db") as db:
        return db.execute(
            "SELECT kind, symbol, as_of, model_name, model_version, user_id, ab_group"
            " FROM predictions ORDER BY id"
        ).fetchall()


def served_versions(home: Path) -> dict[str, int]:
    out = json.loads(paiid(home, "models", "list", "--json").stdout)
    return {m["name"]: m["promoted"] for m in out["models"]}


def test_cli_answers_are_logged_and_then_scored(trained: Path, tmp_path: Path) -> None:
    home = linked_home(trained, tmp_path / "home")
    commands = [
        ("regime", "SPX", "--date", DATE),
        ("recommend", "SPX", "--date", DATE),
        ("predict-trade", "SPX", "--strategy", "momentum-macd", "--side", "long", "--date", DATE),
        ("patterns", "SPX", "--date", DATE),
    ]
    served = []
    for cmd in commands:
        out = paiid(home, *cmd, "--json")
        assert out.returncode == 0, out.stderr
        served.append(json.loads(out.stdout)["model"])
    logged = rows(home)
    assert [r[0] for r in logged] == ["regime", "recommendation", "trade", "pattern"]
    model_of = {"regime": "regime", "recommendation": "selector", "trade": "tradeprob",
                "pattern": "pattern_scorer"}
    for (kind, symbol, as_of, model, version, user, group), answer_model in zip(logged, served, strict=True):
        assert symbol == "SPX" and as_of.startswith(DATE)
        # the version logged is the one that answered: fitted on data up to the last quarter end before DATE
        assert model == model_of[kind] == answer_model["name"] and version == answer_model["version"]
        assert answer_model["refit_date"] == "2018-03-31" and answer_model["vintage"] is True
        assert user is None and group is None  # the CLI has no user: outside the A/B split
    # a bad request is not an answer: nothing more is logged
    assert paiid(home, "regime", "NOPE", "--json").returncode == 2
    assert len(rows(home)) == 4
    # the bars after 2018-06-01 are stored, so every horizon has passed and `paiid track` resolves them
    report = json.loads(paiid(home, "track", "--json").stdout)
    assert report["predictions"]["total"] == 4 and report["predictions"]["resolved"] == 4


def test_api_answers_are_logged_with_the_users_group(trained: Path, tmp_path: Path) -> None:
    home = linked_home(trained, tmp_path / "home")
    with serve(home) as srv, httpx.Client(base_url=srv.url, timeout=300) as client:
        ok = [
            client.get("/api/ml/market-regime", params={"symbol": "SPX"}, headers={"X-User-Id": "alice"}),
            client.get("/api/ml/recommend-strategy", params={"symbol": "SPX", "date": DATE},
                       headers={"X-User-Id": "bob"}),
            client.post("/api/ml/predict-trade", json={"symbol": "SPX", "strategy_id": "momentum-macd",
                                                       "side": "short"}),
            client.get("/api/ml/detect-patterns", params={"symbol": "SPX"}, headers={"X-User-Id": "carol"}),
        ]
        assert [r.status_code for r in ok] == [200] * 4
        bad = client.get("/api/ml/market-regime", params={"symbol": "NOPE"})
        assert bad.status_code == 404
    logged = rows(home)
    assert [(r[0], r[5], r[6]) for r in logged] == [
        ("regime", "alice", ab_group("alice")),
        ("recommendation", "bob", ab_group("bob")),
        ("trade", None, None),
        ("pattern", "carol", ab_group("carol")),
    ]
    assert logged[0][2].startswith(ok[0].json()["as_of"][:10]) and logged[1][2].startswith(DATE)


def test_flat_history_is_a_422_naming_the_undefined_features(trained: Path, tmp_path: Path) -> None:
    """400 imported bars of a price that never moves: every model answer is a 422 that names the
    features without a value at the last bar (not "needs at least 261 bars, but only 400 are
    available"), and nothing is logged as served."""
    home = linked_home(trained, tmp_path / "home")
    dates = pd.bdate_range("2020-01-01", periods=400, name="date")
    pd.DataFrame({"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 1000},
                 index=dates).to_csv(tmp_path / "flat.csv")
    assert paiid(home, "data", "import", str(tmp_path / "flat.csv"), "--symbol", "FLAT").returncode == 0
    with serve(home) as srv, httpx.Client(base_url=srv.url, timeout=300) as client:
        flat = {"symbol": "FLAT"}
        answers = [
            ("regime detection", client.get("/api/ml/market-regime", params=flat)),
            ("a strategy recommendation", client.get("/api/ml/recommend-strategy", params=flat)),
            ("a trade prediction", client.post("/api/ml/predict-trade", json={
                **flat, "strategy_id": "momentum-macd", "side": "long"})),
            # the combined answer reports the first model that cannot answer: the regime
            ("regime detection", client.get("/api/ai/recommendations", params=flat)),
        ]
    for what, r in answers:
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert detail.startswith(f"{what} for FLAT: FLAT has 400 bars, but "), detail
        assert f"undefined at the last bar ({dates[-1].date()})" in detail and "needs at least" not in detail
    assert rows(home) == []
