"""`GET /api/strategies` and `POST /api/backtest` over the real app (FastAPI's TestClient, no mocks)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from paiid.api.app import create_app
from paiid.backtest import STRATEGIES


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


def test_strategies_lists_the_templates(client: TestClient) -> None:
    r = client.get("/api/strategies")
    assert r.status_code == 200
    body = r.json()
    ids = [s["id"] for s in body["strategies"]]
    assert ids == list(STRATEGIES)
    by_id = {s["id"]: s for s in body["strategies"]}
    assert by_id["momentum-breakout"]["family"] == "breakout"
    assert by_id["trend-following-ma-cross"]["family"] == "trend_following"
    for s in body["strategies"]:
        assert s["description"] and set(s["params"]) == set(s["ranges"])
        for name, rng in s["ranges"].items():
            assert rng["min"] <= s["params"][name] <= rng["max"] and rng["type"] in ("int", "float")


def test_backtest_matches_the_cli_shape(client: TestClient) -> None:
    from typer.testing import CliRunner

    from paiid.cli.main import app

    body = {"symbol": "goog", "strategy_id": "mean-reversion-bb-rsi", "start": "2006-01-01",
            "end": "2012-12-31", "params": {"bb_period": 25, "rsi_low": 35}}
    r = client.post("/api/backtest", json=body)
    assert r.status_code == 200, r.text
    api = r.json()
    assert api["symbol"] == "GOOG" and api["strategy_id"] == "mean-reversion-bb-rsi"
    assert {"total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate", "profit_factor",
            "trades", "exposure"} <= set(api["metrics"])
    assert api["trades"] and {"entry_date", "exit_date", "side", "entry_price", "exit_price", "pnl",
                              "return"} <= set(api["trades"][0])
    import json

    cli = CliRunner().invoke(app, [
        "backtest", "GOOG", "--strategy", "mean-reversion-bb-rsi", "--start", "2006-01-01",
        "--end", "2012-12-31", "--param", "bb_period=25", "--param", "rsi_low=35", "--json",
    ])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout) == api


@pytest.mark.parametrize("body, status, message", [
    ({"symbol": "SPX", "strategy_id": "nope"}, 422, "valid strategies: trend-following-ma-cross"),
    ({"symbol": "SPX", "strategy_id": "momentum-macd", "params": {"slow": 1000}}, 422, "between 5 and 100"),
    ({"symbol": "SPX", "strategy_id": "momentum-macd", "start": "2018-12-01"}, 422, "needs at least"),
    ({"symbol": "SPX", "strategy_id": "momentum-macd", "end": "1990-01-01"}, 422, "widen the date range"),
    ({"symbol": "SPX", "strategy_id": "momentum-macd", "fraction": 2}, 422, "fraction"),
    ({"symbol": "SPX", "strategy_id": "momentum-macd", "stop": "x"}, 422, "bad stop"),
    ({"symbol": "ZZZZ", "strategy_id": "momentum-macd"}, 404, "unknown symbol"),
    ({"strategy_id": "momentum-macd"}, 422, "symbol"),
])
def test_bad_requests(client: TestClient, body: dict, status: int, message: str) -> None:
    r = client.post("/api/backtest", json=body)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]
