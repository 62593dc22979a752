"""The real app served by uvicorn on 127.0.0.1 (a free port, in a thread), spoken to over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from paiid.api.app import create_app


@pytest.fixture
def server(paiid_home: Path) -> Iterator[str]:
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not (srv.started and srv.servers):
        assert thread.is_alive(), "uvicorn did not start"
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def test_health_openapi_symbols_and_404(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        health = client.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok" and health.json()["version"]

        spec = client.get("/openapi.json")
        assert spec.status_code == 200
        paths = spec.json()["paths"]
        assert "/health" in paths and "/api/data/symbols" in paths
        ok = paths["/api/data/symbols"]["get"]["responses"]["200"]
        schema = ok["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/SymbolList")

        listed = client.get("/api/data/symbols")
        assert listed.status_code == 200
        symbols = {s["symbol"]: s for s in listed.json()["symbols"]}
        assert {k: symbols[k]["bars"] for k in ("SPX", "GOOG", "EURUSD")} == {
            "SPX": 5031, "GOOG": 2148, "EURUSD": 5000,
        }
        assert symbols["EURUSD"]["timeframe"] == "hourly"

        assert client.get("/api/no-such-route").status_code == 404
        assert client.post("/health").status_code in (404, 405)
