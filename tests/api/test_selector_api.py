"""`GET /api/ml/recommend-strategy` and `POST /api/ml/predict-trade` on a real `paiid serve` on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from paiid.backtest import STRATEGIES
from paiid.bench.api import linked_home, serve

pytestmark = pytest.mark.slow
#: A past as-of date served by the 2018-03-31 point-in-time refits, which the answer, journal, chart and
#: load tests fit into the shared home too: a date of another quarter would fit the models once more.
DATE = "2018-06-01"


@pytest.fixture(scope="module")
def server(trained: Path, tmp_path_factory: pytest.TempPathFactory):
    home = linked_home(trained, tmp_path_factory.mktemp("selector-api"))
    with serve(home) as srv:
        yield srv


def test_recommend_strategy_contract(server) -> None:
    r = httpx.get(
        f"{server.url}/api/ml/recommend-strategy", params={"symbol": "SPX", "date": DATE}, timeout=120
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["symbol"] == "SPX" and body["as_of"].startswith(DATE)
    recs = body["recommendations"]
    assert {x["strategy_id"] for x in recs} == set(STRATEGIES)
    probs = [x["probability"] for x in recs]
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-9
    for x in recs:
        assert {"strategy_id", "probability", "expected_return", "risk_score", "reason"} <= set(x)
        assert 0 <= x["risk_score"] <= 100
    assert {"regime", "volatility", "trend"} <= set(body["market_conditions"])
    again = httpx.get(
        f"{server.url}/api/ml/recommend-strategy", params={"symbol": "SPX", "date": DATE}, timeout=120
    )
    second = again.json()
    assert second.pop("prediction_id") > body.pop("prediction_id")  # each answer is logged anew
    assert second == body


def test_predict_trade_contract(server) -> None:
    r = httpx.post(
        f"{server.url}/api/ml/predict-trade",
        json={"symbol": "GOOG", "strategy_id": "momentum-breakout", "side": "long"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert 0 < body["win_probability"] < 1 and body["horizon_bars"] == 20
    assert {"profit_take", "stop_loss", "time_bars"} <= set(body["barriers"]) and "base_rate" in body
    assert isinstance(body["expected_return"], float)


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (
            {"symbol": "SPX", "strategy_id": "nope", "side": "long"},
            422,
            "valid strategies: trend-following-ma-cross",
        ),
        ({"symbol": "SPX", "strategy_id": "momentum-macd", "side": "flat"}, 422, "valid sides: long, short"),
        ({"symbol": "NOPE", "strategy_id": "momentum-macd", "side": "long"}, 404, "unknown symbol"),
        ({"symbol": "SPX", "side": "long"}, 422, "strategy_id"),
    ],
)
def test_predict_trade_errors(server, body: dict, status: int, needle: str) -> None:
    r = httpx.post(f"{server.url}/api/ml/predict-trade", json=body, timeout=60)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"symbol": "NOPE"}, 404, "unknown symbol"),
        ({"symbol": "SPX", "date": "1999-03-01"}, 422, "needs at least"),
        ({}, 422, "symbol"),
    ],
)
def test_recommend_errors(server, params: dict, status: int, needle: str) -> None:
    r = httpx.get(f"{server.url}/api/ml/recommend-strategy", params=params, timeout=60)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


def test_openapi_lists_both_endpoints(server) -> None:
    paths = httpx.get(f"{server.url}/openapi.json", timeout=30).json()["paths"]
    assert "get" in paths["/api/ml/recommend-strategy"] and "post" in paths["/api/ml/predict-trade"]
