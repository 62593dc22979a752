"""`/api/ai/recommendations`, `/api/data/bars` and the dashboard files, over HTTP from a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paiid.api.routers.ai import AIRecommendations, Chart
from paiid.bench.api import Server, linked_home, serve
from paiid.engine.orchestrator import ab_group

pytestmark = pytest.mark.slow

REGIMES = {"trending_bullish", "trending_bearish", "ranging", "high_volatility"}


@pytest.fixture(scope="module")
def server(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(linked_home(trained, tmp_path_factory.mktemp("ai-api-home"))) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=120.0) as c:
        yield c


def test_recommendations_combine_regime_strategies_and_patterns(client: httpx.Client) -> None:
    r = client.get("/api/ai/recommendations", params={"symbol": "SPX"})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["symbol"] == "SPX"
    assert {"regime", "strategies", "patterns", "confidence", "model_versions", "market_conditions"} <= set(a)
    assert a["regime"]["current_regime"] in REGIMES
    assert len(a["strategies"]) >= 4 and isinstance(a["prediction_id"], int)
    AIRecommendations.model_validate(a)  # the documented schema (/openapi.json) matches what is served
    assert client.get("/api/ai/recommendations", params={"symbol": "SPX"}).json()["cached"] is True


def test_user_from_header_or_parameter_sets_the_ab_group(client: httpx.Client) -> None:
    by_header = client.get("/api/ai/recommendations", params={"symbol": "SPX"}, headers={"X-User-Id": "dana"})
    assert by_header.json()["user"] == "dana"
    assert by_header.json()["ab_group"] == ab_group("dana")
    by_param = client.get("/api/ai/recommendations", params={"symbol": "SPX", "user": "erik"},
                          headers={"X-User-Id": "dana"})
    assert by_param.json()["user"] == "erik"  # the explicit parameter wins over the header
    assert by_param.json()["ab_group"] == ab_group("erik")
    # both groups occur among a handful of users
    assert {ab_group(f"user-{i}") for i in range(16)} == {"manual", "ml"}


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"symbol": "NOPE"}, 404, "paiid data import"),
        ({"symbol": "SPX", "date": "2018-13-45"}, 422, "YYYY-MM-DD"),
        ({"symbol": "SPX", "date": "1999-02-01"}, 422, "history"),
        ({"symbol": "SPX", "user": "x" * 300}, 422, "user id"),
        ({}, 422, "symbol"),
    ],
)
def test_recommendation_errors_say_what_to_do(client: httpx.Client, params: dict, status: int, words: str
                                              ) -> None:
    r = client.get("/api/ai/recommendations", params=params)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]


def test_bars_endpoint_returns_columns_for_the_chart(client: httpx.Client) -> None:
    r = client.get("/api/data/bars", params={"symbol": "SPX", "tail": 5, "date": "2018-06-29"})
    assert r.status_code == 200
    b = r.json()
    assert b["timeframe"] == "daily" and len(b["date"]) == 5 == len(b["close"])
    assert b["date"][-1].startswith("2018-06-29")
    assert all(lo <= hi for lo, hi in zip(b["low"], b["high"], strict=True))
    assert client.get("/api/data/bars", params={"symbol": "SPX", "tail": 0}).status_code == 422
    assert client.get("/api/data/bars", params={"symbol": "NOPE"}).status_code == 404
    assert client.get("/api/data/bars", params={"symbol": "SPX", "date": "1990-01-01"}).status_code == 422


def test_chart_has_the_window_bars_and_the_patterns_found_in_it(client: httpx.Client) -> None:
    r = client.get("/api/ai/chart", params={"symbol": "SPX", "tail": 250, "date": "2018-06-29"})
    assert r.status_code == 200, r.text
    c = r.json()
    Chart.model_validate(c)
    assert len(c["date"]) == 250 and c["date"][-1].startswith("2018-06-29")
    assert c["patterns"], "the detector finds no pattern in a year of SPX: the chart would be empty"
    for p in c["patterns"]:
        assert p["end_date"] >= c["date"][0] and p["end_date"] <= c["date"][-1]
        assert p["signal"] in ("bullish", "bearish") and isinstance(p["active"], bool)
    # the active ones are exactly what the recommendation reports as of that date
    active = sorted(p["type"] for p in c["patterns"] if p["active"])
    reco = client.get("/api/ai/recommendations", params={"symbol": "SPX", "date": "2018-06-29"}).json()
    assert active == sorted(p["type"] for p in reco["patterns"])
    assert client.get("/api/ai/chart", params={"symbol": "SPX", "date": "1999-02-01"}).status_code == 422


def test_dashboard_and_plotly_are_served_offline(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for asset in ("/vendor/plotly.min.js", "/static/app.js", "/static/style.css"):
        assert asset in page.text
        r = client.get(asset)
        assert r.status_code == 200, asset
    js = client.get("/vendor/plotly.min.js")
    assert "plotly.js" in js.text[:500] and len(js.content) > 1_000_000
    assert "cdn" not in page.text.lower()


def test_openapi_documents_the_recommendation_endpoint(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/ai/recommendations"]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert {"symbol", "date", "user", "x-user-id"} <= names
    assert "AIRecommendations" in str(op["responses"]["200"])
