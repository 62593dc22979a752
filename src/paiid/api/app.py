"""The FastAPI application: routers, error mapping, dashboard static files."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import BaseRoute, Match, Mount, get_route_path
from starlette.types import ASGIApp, Receive, Scope, Send

from paiid import __version__
from paiid.errors import PaiidError

log = logging.getLogger("paiid.api")

ROUTER_MODULES = ["system", "backtest", "regime", "selector", "patterns", "models", "ai"]
STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"


def prepare_serving() -> None:
    """Make sure models exist before the server takes requests (trains the defaults if needed)."""
    try:
        from paiid.engine.training import ensure_models
    except ImportError:  # models arrive with the ML issues
        return
    ensure_models()


#: Methods tried when a known path is asked with another one (to name the allowed ones in a 405).
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _route_matches(routes: list[BaseRoute], scope: Scope, method: str, path: str) -> bool:
    """True if a real route (not the catch-all mount) takes `method path`.

    Asks each route's own `matches`, so FastAPI's included routers, prefixes and path parameters are
    handled by the same code that routes requests.
    """
    probe = {**scope, "method": method, "path": path, "root_path": scope.get("root_path", "")}
    probe.pop("path_params", None)
    return any(
        not isinstance(route, Mount) and route.matches(dict(probe))[0] == Match.FULL for route in routes
    )


def _allowed_methods(routes: list[BaseRoute], scope: Scope) -> list[str]:
    """Methods a route accepts on the request's path (empty if no route has this path)."""
    path = scope["path"]
    return [m for m in _METHODS if m != scope["method"] and _route_matches(routes, scope, m, path)]


def _is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class _Fallback:
    """What answers a request that no route took: the contract's JSON errors, else the dashboard files.

    Why not leave it to the static mount at `/`: the mount takes every path, so a typo in an API path
    (or a wrong method on a real endpoint) would be answered by the file server as if it were a missing
    file or a non-GET request to one (405 "GET, HEAD" even for a POST-only endpoint), and clients get
    no hint of what to call instead. Here: a known path with another method is a 405 naming the allowed
    methods (header `Allow` too); an unknown `/api/...` path is a 404 pointing at `/openapi.json`; any
    other path goes to the dashboard's static files.
    """

    def __init__(self, routes: list[BaseRoute], static: ASGIApp | None):
        self.routes = routes
        self.static = static

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if self.static is not None:
                await self.static(scope, receive, send)
            return
        path = get_route_path(scope)
        method = scope["method"]
        allowed = _allowed_methods(self.routes, scope)
        if allowed:
            response = JSONResponse(
                status_code=405,
                content={"detail": f"method {method} is not allowed on {path}; use {', '.join(allowed)} "
                                   "(see /openapi.json)"},
                headers={"Allow": ", ".join(allowed)},
            )
        elif _is_api_path(path) or self.static is None:
            detail = _not_found(self.routes, scope, path, method)
            response = JSONResponse(status_code=404, content={"detail": detail})
        else:
            await self.static(scope, receive, send)
            return
        await response(scope, receive, send)


def _not_found(routes: list[BaseRoute], scope: Scope, path: str, method: str) -> str:
    """A 404 message that says what to call instead."""
    hint = ""
    stripped = path.rstrip("/")
    if stripped and stripped != path and any(
            _route_matches(routes, scope, m, scope["path"].rstrip("/")) for m in _METHODS):
        hint = f"; did you mean {stripped} (no trailing slash)?"
    return (f"no API endpoint {method} {path}{hint}; the endpoints are listed at /openapi.json "
            "(interactive docs at /docs)")


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

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query"))
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return JSONResponse(status_code=422, content={"detail": "; ".join(parts) or "invalid request"})

    @app.exception_handler(Exception)
    async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
        from paiid.engine.service import explain_failure

        stale = explain_failure(exc)
        if stale is not None:  # a served model saved by older code: 503, and the next request falls back
            log.warning("%s", stale.message)
            return JSONResponse(status_code=stale.status_code, content={"detail": stale.message})
        log.exception("internal error")
        return JSONResponse(status_code=500, content={"detail": f"internal error: {type(exc).__name__}"})

    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(f"paiid.api.routers.{name}").router)
    static = StaticFiles(directory=STATIC_DIR, html=True) if STATIC_DIR.is_dir() else None
    # last, so that every real route matches first; it sees the final route list (a live reference)
    app.mount("/", _Fallback(app.router.routes, static), name="dashboard")
    return app
