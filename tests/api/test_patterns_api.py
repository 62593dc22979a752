"""`GET /api/ml/detect-patterns` on a real `paiid serve` on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from paiid.bench.api import linked_home, serve
from paiid.data import load_bars
from paiid.ml.patterns.scan import scan

pytestmark = pytest.mark.slow

CONTRACT = {"type", "confidence", "signal", "target_price", "stop_loss", "historical_success_rate",
            "timeframe", "start_date", "end_date"}


@pytest.fixture(scope="module")
def server(trained: Path, tmp_path_factory: pytest.TempPathFactory):
    home = linked_home(trained, tmp_path_factory.mktemp("patterns-api"))
    with serve(home) as srv:
        yield srv


def test_detect_patterns_contract_shape_and_as_of_date(server) -> None:
    bars = load_bars("SPX")
    chart = [d for d in scan(bars).detections if d.kind == "chart"]
    d = chart[-3]
    date = str(bars.index[d.confirm].date())
    r = httpx.get(f"{server.url}/api/ml/detect-patterns", params={"symbol": "spx", "date": date}, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["symbol"] == "SPX" and body["as_of"][:10] == date
    assert body["patterns"]
    for p in body["patterns"]:
        assert CONTRACT <= set(p)
        assert p["signal"] in {"bullish", "bearish", "neutral"} and 0 < p["confidence"] < 1
        assert p["timeframe"] == "daily"
    seen = {(p["type"], p["confirmation_date"]) for p in body["patterns"]}
    assert (d.type, bars.index[d.confirm].isoformat()) in seen
    weekly = httpx.get(f"{server.url}/api/ml/detect-patterns",
                       params={"symbol": "SPX", "timeframe": "weekly"}, timeout=120)
    assert weekly.status_code == 200 and weekly.json()["timeframe"] == "weekly"


@pytest.mark.parametrize(("params", "status", "needle"), [
    ({"symbol": "NOPE"}, 404, "unknown symbol"),
    ({"symbol": "SPX", "date": "1999-02-15"}, 422, "needs at least"),
    ({"symbol": "SPX", "timeframe": "hourly"}, 422, "finer"),
    ({"symbol": "SPX", "date": "not-a-date"}, 422, "date"),
    ({}, 422, "symbol"),
])
def test_detect_patterns_errors(server, params: dict, status: int, needle: str) -> None:
    r = httpx.get(f"{server.url}/api/ml/detect-patterns", params=params, timeout=60)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


def test_openapi_lists_the_endpoint(server) -> None:
    spec = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    assert "/api/ml/detect-patterns" in spec["paths"]
    params = {p["name"] for p in spec["paths"]["/api/ml/detect-patterns"]["get"]["parameters"]}
    assert {"symbol", "timeframe", "date"} <= params
