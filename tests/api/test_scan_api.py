"""`GET /api/ml/scan` on a real `paiid serve` on 127.0.0.1: the rows, their agreement with the per-symbol
endpoints and with `paiid.engine.scan`, and the 404 / 422 answers."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paiid.api.routers.scan import MAX_SYMBOLS, ScanAnswer
from paiid.bench.api import Server, child_env, linked_home, paiid_command, serve
from paiid.data import load_bars

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    h = linked_home(trained, tmp_path_factory.mktemp("scan-api"))
    short = tmp_path_factory.mktemp("short") / "short.csv"
    load_bars("SPX").iloc[-80:].reset_index().to_csv(short, index=False)
    out = subprocess.run(paiid_command("data", "import", str(short), "--symbol", "SHORTY"), env=child_env(h),
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return h


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[Server]:
    with serve(home) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=180.0) as c:
        yield c


def test_scan_rows_agree_with_the_per_symbol_endpoints(client: httpx.Client, home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    r = client.get("/api/ml/scan", params={"symbols": "SHORTY, spx", "sort": "probability"})
    assert r.status_code == 200, r.text
    body = r.json()
    ScanAnswer.model_validate(body)  # the documented schema (/openapi.json) matches what is served
    assert body["as_of"] == "2018-12-31T00:00:00"
    spx, shorty = body["rows"]  # sorted: the error row last
    assert spx["symbol"] == "SPX" and shorty["symbol"] == "SHORTY"
    assert "needs at least" in shorty["error"]

    regime = client.get("/api/ml/market-regime", params={"symbol": "SPX"}).json()
    assert spx["regime"] == regime["current_regime"]
    assert spx["confidence"] == pytest.approx(regime["confidence"], abs=1e-9)
    reco = client.get("/api/ml/recommend-strategy", params={"symbol": "SPX"}).json()
    assert spx["recommendation"]["strategy_id"] == reco["recommendations"][0]["strategy_id"]
    assert spx["stand_aside"] is bool(reco.get("stand_aside"))
    trade = client.post("/api/ml/predict-trade", json={
        "symbol": "SPX", "strategy_id": spx["recommendation"]["strategy_id"],
        "side": spx["recommendation"]["side"]}).json()
    assert spx["win_probability"] == pytest.approx(trade["win_probability"], abs=1e-9)

    # the same JSON as `paiid scan` on this home (where it ran aside)
    from paiid.engine.scan import scan, sort_rows

    monkeypatch.setenv("PAIID_HOME", str(home))
    local = scan("SHORTY,SPX", workers=1)
    assert sort_rows(local["rows"], "probability") == body["rows"]


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"symbols": "SPX,NOPE"}, 404, "unknown symbol 'NOPE'"),
        ({"symbols": "SPX", "date": "not-a-date"}, 422, "invalid date"),
        ({"symbols": "SPX", "date": "9999-12-31"}, 422, "out of range"),
        ({"symbols": " , "}, 422, "symbols is empty"),
        ({}, 422, "symbols"),
        ({"symbols": "SPX", "sort": "colour"}, 422, "valid columns"),
        ({"symbols": "../x"}, 422, "symbol"),
        ({"symbols": ",".join(f"S{i}" for i in range(MAX_SYMBOLS + 1))}, 422,
         f"at most {MAX_SYMBOLS} symbols"),
    ],
)
def test_bad_requests_say_what_to_do(client: httpx.Client, params: dict, status: int, needle: str) -> None:
    r = client.get("/api/ml/scan", params=params)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


def test_openapi_documents_the_scan(client: httpx.Client) -> None:
    op = client.get("/openapi.json").json()["paths"]["/api/ml/scan"]["get"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ScanAnswer")
    assert {p["name"] for p in op["parameters"]} >= {"symbols", "date", "sort"}
