"""The HTTP answers of a close-only symbol (AAPL) come from the panel models (issue 15), on the real
server: market regime, strategy recommendation, trade odds and the combined AI answer and scan row.

The panel models are trained once for this file (few trees, universe AAPL + SP500) and served to each
test's own home through `linked_home`.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from paiid.bench.api import linked_home
from paiid.engine import orchestrator, service, training, vintages
from paiid.ml.panel import serve

PANEL = ["panel_regime", "panel_selector", "panel_trade"]
FAMILY = "panel (close-only features)"


def _fresh() -> None:
    service.clear_cache()
    vintages.clear_cache()
    orchestrator.cache().clear()


@pytest.fixture(scope="module")
def panel_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("panel-api")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAIID_HOME", str(home))
        mp.setenv("PAIID_QUIET", "1")
        mp.setattr(serve, "SELECTOR_TREES", 10)
        mp.setattr(serve, "TRADE_TREES", 10)
        _fresh()
        training.train_all(["AAPL", "SP500"], only=PANEL)
    return home


@pytest.fixture
def server_env(panel_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIID_HOME", str(linked_home(panel_models, tmp_path / "home")))
    _fresh()


def test_regime_recommend_and_trade_answers_of_aapl(server: str) -> None:
    with httpx.Client(base_url=server, timeout=120) as client:
        reg = client.get("/api/ml/market-regime", params={"symbol": "AAPL"})
        assert reg.status_code == 200, reg.text
        assert reg.json()["model_family"] == FAMILY and reg.json()["model"]["name"] == "panel_regime"
        assert reg.json()["features"]["trend_strength"] is None

        reco = client.get("/api/ml/recommend-strategy", params={"symbol": "AAPL"})
        assert reco.status_code == 200, reco.text
        body = reco.json()
        assert body["model_family"] == FAMILY and "stand_aside" in body and body["typicality"]
        assert body["market_conditions"]["trend"] is None

        trade = client.post("/api/ml/predict-trade", json={"symbol": "AAPL", "strategy_id": "momentum-macd",
                                                           "side": "long"})
        assert trade.status_code == 200, trade.text
        assert trade.json()["model_family"] == FAMILY and trade.json()["model"]["name"] == "panel_trade"


def test_ai_answer_and_scan_row_of_aapl_agree(server: str) -> None:
    with httpx.Client(base_url=server, timeout=120) as client:
        ai = client.get("/api/ai/recommendations", params={"symbol": "AAPL"})
        assert ai.status_code == 200, ai.text
        assert ai.json()["model_family"] == FAMILY
        assert set(ai.json()["model_versions"]) == set(PANEL)
        got = client.get("/api/ml/scan", params={"symbols": "AAPL"})
        assert got.status_code == 200, got.text
        (row,) = got.json()["rows"]
        assert row["error"] is None and row["model_family"] == FAMILY
        top = ai.json()["strategies"][0]
        assert row["recommendation"]["strategy_id"] == top["strategy_id"]
        assert row["win_probability"] == pytest.approx(top["trade"]["win_probability"])
        assert row["regime"] == ai.json()["regime"]["current_regime"]
