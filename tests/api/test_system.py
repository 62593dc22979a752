"""The real app served by uvicorn on 127.0.0.1 (a free port, in a thread), spoken to over HTTP."""

from __future__ import annotations

import httpx


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
