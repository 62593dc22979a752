"""The guards every request passes, over HTTP against the real app (uvicorn on 127.0.0.1).

A body over the limit is a 413 (declared or streamed in chunks), a Host the server does not answer to is a
400 (DNS rebinding: a page on evil.example re-pointed at 127.0.0.1 still sends `Host: evil.example`), every
answer carries the security headers and the dashboard a CSP, and `HEAD /health` works for uptime monitors.
Errors are the contract's `{"detail": "..."}` saying what to do. The CSP is checked to still let the
dashboard run in tests/web/test_dashboard.py (a real browser).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

LIMIT = 1024 * 1024  # the documented default of PAIID_MAX_BODY_BYTES
#: A body that passes the limit: the one field that matters first is wrong, so the answer is quick.
SMALL_REQUEST = b'{"symbol": "NOPE", "strategy_id": "momentum-macd"}'


def _detail(r: httpx.Response, status: int, *needles: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"detail"}, body
    for needle in needles:
        assert needle in body["detail"], (needle, body["detail"])
    return body["detail"]


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body sent with Transfer-Encoding: chunked (httpx sends no Content-Length for a generator)."""
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


@pytest.mark.parametrize("path", ["/api/backtest", "/api/ml/predict-trade", "/api/ml/train"])
def test_a_10_mb_body_is_413(server: str, path: str) -> None:
    r = httpx.post(server + path, content=b" " * 10_000_000, headers={"Content-Type": "application/json"},
                   timeout=60)
    _detail(r, 413, "too large", str(LIMIT), "PAIID_MAX_BODY_BYTES")


def test_a_chunked_body_without_content_length_is_counted(server: str) -> None:
    req = httpx.Request("POST", server + "/api/backtest", content=_chunks(10_000_000),
                        headers={"Content-Type": "application/json"})
    assert "content-length" not in req.headers and req.headers["transfer-encoding"] == "chunked"
    with httpx.Client(timeout=60) as client:
        r = client.send(req)
    _detail(r, 413, "too large", str(LIMIT))


def test_a_body_under_the_limit_is_read_and_answered(server: str) -> None:
    padded = SMALL_REQUEST + b" " * (LIMIT - len(SMALL_REQUEST) - 1)
    for content in (padded, iter([padded])):  # declared, then chunked
        r = httpx.post(server + "/api/backtest", content=content,
                       headers={"Content-Type": "application/json"}, timeout=60)
        _detail(r, 404, "unknown symbol 'NOPE'")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "localhost.evil.example", "127.0.0.2"])
def test_an_untrusted_host_is_400(server: str, host: str) -> None:
    r = httpx.get(server + "/api/data/symbols", headers={"Host": host}, timeout=30)
    detail = _detail(r, 400, "untrusted Host header", "PAIID_TRUSTED_HOSTS", "localhost")
    assert repr(host.split(":")[0]) in detail
    assert "x-content-type-options" in r.headers  # refused answers carry the headers too


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:{port}", "127.0.0.1:{port}", "[::1]:{port}"])
def test_loopback_names_are_trusted(server: str, host: str) -> None:
    port = urlsplit(server).port
    r = httpx.get(server + "/health", headers={"Host": host.format(port=port)}, timeout=30)
    assert r.status_code == 200, r.text


def test_head_health_is_200(server: str) -> None:
    r = httpx.head(server + "/health", timeout=30)
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"), ("GET", "/static/app.js"), ("GET", "/health"), ("HEAD", "/health"),
    ("GET", "/api/strategies"), ("GET", "/api/no-such-endpoint"), ("GET", "/api/data/bars?symbol=..")])
def test_security_headers_on_every_answer(server: str, method: str, path: str) -> None:
    r = httpx.request(method, server + path, timeout=60)
    assert r.status_code < 500
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    csp = {d.split()[0]: d.split()[1:] for d in r.headers["content-security-policy"].split("; ")}
    assert csp["default-src"] == ["'self'"] and csp["script-src"] == ["'self'"]  # no inline or remote script
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]


def test_interactive_docs_keep_working(server: str) -> None:
    """Swagger UI runs an inline script from a CDN: the dashboard's CSP is not sent on /docs."""
    r = httpx.get(server + "/docs", timeout=30)
    assert r.status_code == 200 and "swagger" in r.text.lower()
    assert "content-security-policy" not in r.headers
    assert r.headers["x-frame-options"] == "DENY"
