"""`GET /api/ml/market-regime` on a real `paiid serve` on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from paiid.bench.api import Server, linked_home, serve
from paiid.ml.regime import REGIMES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = linked_home(trained, tmp_path_factory.mktemp("regime-api"))
    with serve(home) as srv:
        yield srv


def _get(server: Server, **params: Any) -> httpx.Response:
    return httpx.get(f"{server.url}/api/ml/market-regime", params=params, timeout=120)


def test_contract_shape_and_as_of_date(server: Server) -> None:
    r = _get(server, symbol="spx", date="2013-06-28")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["symbol"] == "SPX" and body["as_of"].startswith("2013-06-28")
    assert body["current_regime"] in REGIMES and 0 <= body["confidence"] <= 1
    assert body["features"]["volume_trend"] in {"increasing", "decreasing", "flat"}
    assert isinstance(body["features"]["volatility"], float)
    assert isinstance(body["features"]["trend_strength"], float)
    assert isinstance(body["recommended_strategies"], list)
    latest = _get(server, symbol="SPX").json()
    assert latest["as_of"].startswith("2018-12-31")


def test_date_answer_does_not_depend_on_later_data(server: Server) -> None:
    """The same request twice, and the day before: each answer is the one computed at its own close."""
    a = _get(server, symbol="SPX", date="2008-10-10").json()
    b = _get(server, symbol="SPX", date="2008-10-10").json()
    assert b.pop("prediction_id") > a.pop("prediction_id")  # each answer is logged anew
    assert a == b
    prev = _get(server, symbol="SPX", date="2008-10-09").json()
    assert prev["as_of"].startswith("2008-10-09")


@pytest.mark.parametrize(("params", "status", "needle"), [
    ({"symbol": "NOPE"}, 404, "unknown symbol"),
    ({"symbol": "SPX", "date": "1999-06-01"}, 422, "needs at least"),
    ({"symbol": "SPX", "date": "not-a-date"}, 422, "date"),
    ({}, 422, "symbol"),
])
def test_errors(server: Server, params: dict, status: int, needle: str) -> None:
    r = _get(server, **params)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


def test_openapi_lists_the_endpoint(server: Server) -> None:
    spec = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    assert "/api/ml/market-regime" in spec["paths"]
