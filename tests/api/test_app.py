"""The app's answers to requests no endpoint takes, on the real app served by uvicorn on 127.0.0.1.

Every path a client gets wrong is answered in the contract's error shape, `{"detail": ...}` saying what
to do: 404 for an unknown path (any method), 405 naming the allowed methods (and the `Allow` header) for
a known path asked with another method, a redirect for a trailing slash. The dashboard is its page at `/`
and its files under `/static`.
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


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/ml/market-regime/"), ("POST", "/api/backtest/")])
def test_trailing_slash_redirects_to_the_real_endpoint(server: str, method: str, path: str) -> None:
    r = httpx.request(method, server + path, params={"symbol": "SPX"}, timeout=30)
    assert r.status_code == 307  # 307: a client that follows it repeats the method and the body
    assert r.headers["location"] == f"{server}{path.rstrip('/')}?symbol=SPX"


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("POST", "/api/ml/market-regime", "GET"),
    ("DELETE", "/api/strategies", "GET"),
    ("GET", "/api/backtest", "POST"),       # a POST-only endpoint: the file server used to say "GET, HEAD"
    ("PUT", "/api/ml/predict-trade", "POST"),
    ("PATCH", "/api/data/symbols", "GET"),
    ("POST", "/health", "GET"),           # HEAD /health is a route of its own (uptime monitors send it)
    ("POST", "/static/app.js", "GET, HEAD"),  # the file server's own 405
    ("POST", "/", "GET, HEAD"),
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
        assert client.head("/").status_code == 200
        for asset in ("/static/app.js", "/static/style.css"):
            assert client.get(asset).status_code == 200
            assert asset in page.text  # the page loads its files from where they are served
        # a path that is no route and no file is a JSON 404 too, never a traceback
        for missing in ("/no-such-file.txt", "/app.js", "/static/no-such-file.js"):
            r = client.get(missing)
            assert r.status_code == 404 and missing in _detail(r)
        # the dashboard adds no path to the OpenAPI document
        paths = client.get("/openapi.json").json()["paths"]
        assert not any(p == "/" or p.startswith(("/{", "/static")) for p in paths)
