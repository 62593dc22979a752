"""HTTP API (FastAPI): thin routers over the engine."""
