"""`paiid serve`: the API and dashboard."""

from __future__ import annotations

import typer

from paiid.cli.common import command


@command
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; loopback by default."),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(1, "--workers", min=1, help="uvicorn worker processes."),
) -> None:
    """Serve the HTTP API and the dashboard (trains the default models first if none are registered)."""
    import uvicorn

    from paiid.api.app import prepare_serving

    prepare_serving()
    # A worker answering a cold request (loading or fitting a point-in-time model) holds the GIL for
    # seconds at a time; uvicorn's default 5 s health check would kill it mid-request on a busy machine.
    uvicorn.run("paiid.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", timeout_worker_healthcheck=60)


def register(root: typer.Typer) -> None:
    root.command("serve")(serve)
