"""The app's answers to requests no endpoint takes, on the real app served by uvicorn on 127.0.0.1.

Every `/api/...` path a client gets wrong is answered in the contract's error shape, `{"detail": ...}`
saying what to do: 404 for an unknown path (any method), 405 naming the allowed methods (and the
`Allow` header) for a known path asked with another method. Other paths still reach the dashboard.
"""

from __future__ import annotations

import httpx
import pytest


def _detail(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/json"), (r.headers, r.text)
    body = r.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str) and body["detail"], body
    return body["detail"]


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/does-not-exist"),
    ("GET", "/api/ml/no-such-model"),
    ("GET", "/api"),
    ("GET", "/api/"),
    ("HEAD", "/api/nope"),
    ("POST", "/api/nope/deeper/still"),
    ("PUT", "/api/x"),
    ("DELETE", "/api/ml/models/regime/v1"),
])
def test_unknown_api_path_is_a_json_404(server: str, method: str, path: str) -> None:
    r = httpx.request(method, server + path, timeout=30)
    assert r.status_code == 404, r.text
    if method != "HEAD":
        detail = _detail(r)
        assert path in detail and "/openapi.json" in detail


def test_trailing_slash_points_at_the_real_endpoint(server: str) -> None:
    r = httpx.get(server + "/api/ml/market-regime/", params={"symbol": "SPX"}, timeout=30)
    assert r.status_code == 404
    assert "did you mean /api/ml/market-regime" in _detail(r)


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("POST", "/api/ml/market-regime", "GET"),
    ("DELETE", "/api/strategies", "GET"),
    ("GET", "/api/backtest", "POST"),       # a POST-only endpoint: the file server used to say "GET, HEAD"
    ("PUT", "/api/ml/predict-trade", "POST"),
    ("PATCH", "/api/data/symbols", "GET"),
    ("POST", "/health", "GET, HEAD"),     # HEAD too: uptime monitors send it
])
def test_wrong_method_on_a_known_path_is_a_json_405(
        server: str, method: str, path: str, allowed: str) -> None:
    r = httpx.request(method, server + path, timeout=30)
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == allowed
    detail = _detail(r)
    assert method in detail and path in detail and f"use {allowed}" in detail


def test_known_routes_and_the_dashboard_still_answer(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/api/strategies").json()["strategies"]
        assert client.get("/openapi.json").status_code == 200
        page = client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert client.get("/app.js").status_code == 200
        # a non-API path that is no file stays the file server's 404 (still JSON, never a traceback)
        missing = client.get("/no-such-file.txt")
        assert missing.status_code == 404 and _detail(missing)
        # the fallback takes no path away from the OpenAPI document
        assert not any(p == "/" or p.startswith("/{") for p in client.get("/openapi.json").json()["paths"])
