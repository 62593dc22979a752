"""The FastAPI application: routers, error mapping, request guards, security headers, dashboard files.

Every request passes three guards, kept as ASGI middleware so they hold for every route (and for
routes added later): the Host must be trusted (the loopback names, the server's own IP and
`PAIID_TRUSTED_HOSTS`, against DNS rebinding), the body must fit `PAIID_MAX_BODY_BYTES`, and every
response carries the security headers.

Routing is Starlette's own: the dashboard's files are mounted at `/static` and `GET /` is its page, so a
request no route takes is Starlette's 404 (or 405 with `Allow` for a known path), which one handler
turns into the contract's `{"detail"}` pointing at `/openapi.json`.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paiid import __version__, config
from paiid.api.routers import ai, backtest, models, patterns, regime, scan, selector, system
from paiid.api.routers import journal as journal_routes
from paiid.engine.training import ensure_models
from paiid.errors import PaiidError

log = logging.getLogger("paiid.api")

ROUTERS = (system.router, backtest.router, regime.router, selector.router, patterns.router, models.router,
           ai.router, scan.router, journal_routes.router)
STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"


def prepare_serving() -> None:
    """Check the server's settings and make sure models exist before it takes requests (trains the
    defaults if needed): a bad `PAIID_*` variable is a one-line error, not a traceback per worker."""
    config.settings()
    ensure_models()


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own refusals in the contract's shape, saying what to call instead.

    They are a 404 for a path no route takes and a 405 for a known path asked with another method;
    Starlette's words ("Not Found", "Method Not Allowed") point nowhere, so both name `/openapi.json`,
    and the 405 the methods that are allowed (header `Allow` too, sorted: Starlette joins a set).
    """
    method, path = request.method, request.url.path
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        detail = (f"no endpoint {method} {path}; the endpoints are listed at /openapi.json "
                  "(interactive docs at /docs, the dashboard at /)")
    elif exc.status_code == 405:
        # StaticFiles, the one source that sends no Allow, serves GET and HEAD
        allowed = ", ".join(sorted(m.strip() for m in headers.get("Allow", "GET, HEAD").split(",")))
        headers["Allow"] = allowed
        detail = f"method {method} is not allowed on {path}; use {allowed} (see /openapi.json)"
    else:
        detail = str(exc.detail)
    return JSONResponse(status_code=exc.status_code, content={"detail": detail}, headers=headers)


# ------------------------------------------------------------------------------------------- guards


def _host_name(header: str) -> str:
    """The host part of a Host header, lower-case: `[::1]:8000` -> `[::1]`, `Example:80` -> `example`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _is_own_address(host: str, scope: Scope) -> bool:
    """True if `host` is the IP address this connection arrived on (never a DNS name, so no rebinding)."""
    server = scope.get("server")
    if not server:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")) == ipaddress.ip_address(server[0])
    except ValueError:
        return False


class _TrustedHosts:
    """Refuses (400) a request whose Host header names no trusted host.

    Starlette's TrustedHostMiddleware would do the matching, but answers in plain text and knows
    nothing of the connection's own address; the contract wants `{"detail"}` saying what to do.
    """

    def __init__(self, app: ASGIApp, hosts: list[str]):
        self.app = app
        self.any = "*" in hosts
        self.names = {h for h in hosts if not h.startswith("*.")}
        self.suffixes = tuple(h[1:] for h in hosts if h.startswith("*."))

    def trusts(self, host: str, scope: Scope) -> bool:
        return self.any or host in self.names or host.endswith(self.suffixes) or _is_own_address(host, scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _host_name(Headers(scope=scope).get("host", ""))
        if self.trusts(host, scope):
            await self.app(scope, receive, send)
            return
        shown = ", ".join(sorted(self.names | {f"*{s}" for s in self.suffixes}))
        response = JSONResponse(status_code=400, content={"detail": (
            f"untrusted Host header {host!r}: this server answers to {shown} and its own IP address; "
            "to reach it under another name, add the name to PAIID_TRUSTED_HOSTS (comma-separated)")})
        await response(scope, receive, send)


class _BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes the limit; FastAPI re-raises HTTPExceptions met while
    reading a body, so the app's handler answers it with `{"detail"}` and nothing more is read."""


class _BodyLimit:
    """413 for a request body over `max_bytes`, declared (Content-Length) or streamed (chunked).

    A declared size is refused before anything is read; a chunked body is counted as it arrives and
    refused at the first chunk past the limit, so memory stays bounded whatever the client sends.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes
        self.detail = (f"request body too large: the limit is {max_bytes} bytes (PAIID_MAX_BODY_BYTES); "
                       "every endpoint takes a small JSON document")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse(status_code=413, content={"detail": self.detail})(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _BodyTooLarge(413, self.detail)
            return message

        async def watch_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watch_send)
        except _BodyTooLarge:  # read outside a route (the app's handler answers those inside one)
            if started:
                raise
            await JSONResponse(status_code=413, content={"detail": self.detail})(scope, receive, send)


#: The dashboard loads its own script, styles and plotly.js from this server, sets inline styles and
#: draws images from data:/blob: URLs; nothing else is allowed, and no page may frame it.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class _SecurityHeaders:
    """Adds SECURITY_HEADERS to every response, and the CSP to all but FastAPI's own docs pages
    (`exempt`: Swagger UI and ReDoc run inline scripts from a CDN, which the dashboard's CSP forbids)."""

    def __init__(self, app: ASGIApp, exempt: set[str]):
        self.app = app
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = scope["path"] not in self.exempt

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if csp:
                    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app() -> FastAPI:
    app = FastAPI(
        title="paiid",
        version=__version__,
        description="PaiiD ML strategy engine: market regimes, strategy recommendation, "
        "trade win-probability, chart patterns and backtests. "
        "Endpoints that write or train need the `X-API-Key` header.",
    )

    @app.exception_handler(PaiidError)
    async def _paiid_error(_: Request, exc: PaiidError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.message})

    app.add_exception_handler(HTTPException, _http_error)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query"))
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return JSONResponse(status_code=422, content={"detail": "; ".join(parts) or "invalid request"})

    @app.exception_handler(Exception)
    async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return JSONResponse(status_code=500, content={"detail": f"internal error: {type(exc).__name__}"})

    for router in ROUTERS:
        app.include_router(router)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def dashboard() -> FileResponse:
        """The dashboard's page; its script and styles come from `/static` (HEAD as the file server had)."""
        return FileResponse(STATIC_DIR / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # added last = runs first: headers on every answer, then the host check, then the body limit
    settings = config.settings()
    app.add_middleware(_BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(_TrustedHosts, hosts=[*config.LOOPBACK_HOSTS, *settings.trusted_hosts])
    docs = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url} - {None}
    app.add_middleware(_SecurityHeaders, exempt=docs)
    return app
