"""The FastAPI application: routers, error mapping, dashboard static files."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

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
        log.exception("internal error")
        return JSONResponse(status_code=500, content={"detail": f"internal error: {type(exc).__name__}"})

    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(f"paiid.api.routers.{name}").router)
    if STATIC_DIR.is_dir():
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="dashboard")
    return app
